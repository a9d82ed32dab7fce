-- trackd schema for the PostgreSQL backend, version 1.
-- Times are epoch milliseconds (created_at, emitted_at) or seconds (last_change_at,
-- eta_deadline), as in the embedded SQLite schema, so both backends read alike.

CREATE TABLE trackers (
    id BIGSERIAL PRIMARY KEY,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    reference TEXT,
    labels TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    error_kind TEXT,
    eta_deadline BIGINT,
    last_change_at BIGINT NOT NULL,
    UNIQUE (carrier, tracking_number)
);
CREATE INDEX trackers_reference ON trackers (reference);

CREATE TABLE snapshots (
    tracker_id BIGINT PRIMARY KEY,
    json TEXT NOT NULL
);

-- The event log: id is the public, dense cursor; (tracker_id, fact) is the carrier
-- fact, stored once whatever retries or failovers happen.
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    tracker_id BIGINT NOT NULL,
    fact BIGINT NOT NULL,
    type TEXT NOT NULL,
    carrier TEXT NOT NULL,
    reference TEXT,
    emitted_at BIGINT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (tracker_id, fact)
);
CREATE INDEX events_emitted ON events (emitted_at);

-- One row: the last event id assigned. A writer takes it last in its transaction
-- (UPDATE ... RETURNING), so the row lock orders commits: commit order = id order,
-- no gaps, and a rolled-back transaction gives its ids back.
CREATE TABLE event_counter (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_id BIGINT NOT NULL
);
INSERT INTO event_counter (singleton, last_id) VALUES (TRUE, 0);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE quota_ledger (
    carrier TEXT PRIMARY KEY,
    saved_at BIGINT NOT NULL,
    json TEXT NOT NULL
);
