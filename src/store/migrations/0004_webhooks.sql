-- trackd schema for the PostgreSQL backend, version 4: webhooks.
-- The same tables as the embedded SQLite schema: endpoints (config as one JSON
-- document, seq for listing in creation order), one cursor ("lane") per endpoint
-- and replay, and the delivery log. Times are epoch milliseconds.

CREATE TABLE webhook_endpoints (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since BIGINT,
    failing_reported BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- Replays ever made, so a replay id is never reused (its attempts stay in the log).
    replays_made BIGINT NOT NULL DEFAULT 0
);

-- Lane 0 follows the live log; lanes 1, 2, … are replays ending at `until`.
CREATE TABLE webhook_lanes (
    endpoint_id TEXT NOT NULL,
    lane BIGINT NOT NULL,
    position BIGINT NOT NULL,
    until BIGINT,
    event_ids TEXT,
    since BIGINT,
    before BIGINT,
    PRIMARY KEY (endpoint_id, lane)
);

CREATE TABLE webhook_attempts (
    id BIGSERIAL PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    lane BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    settled TEXT,
    status BIGINT,
    latency_ms BIGINT,
    error TEXT,
    excerpt TEXT
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (endpoint_id, lane, event_id);
CREATE INDEX webhook_attempts_log ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
