-- trackd schema for the PostgreSQL backend, version 2: fleet mode.
-- Several instances share the work by leasing shards of trackers. A tracker's shard
-- is a hash of (carrier, tracking number) modulo the shard count, which is fixed
-- when the database is first used (meta 'shard_count') and filled in by trackd.

ALTER TABLE trackers ADD COLUMN shard INT;
CREATE INDEX trackers_shard ON trackers (shard);

-- One row per shard. epoch is the fencing token: it grows on every change of
-- owner, and every write of a poll result checks the epoch it was polled under.
-- Times are the database server's (now()), never an instance's clock.
CREATE TABLE shard_leases (
    shard INT PRIMARY KEY,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);

-- Instances seen recently: the fair share of shards is the count divided by the live ones.
CREATE TABLE fleet_instances (
    instance TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL
);
