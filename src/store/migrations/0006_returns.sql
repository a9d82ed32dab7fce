-- Returns: which way a parcel travels and what a return is for, given at registration,
-- and the retailer's own milestones on a return (at most one per kind).
ALTER TABLE trackers ADD COLUMN direction TEXT NOT NULL DEFAULT 'outbound';
ALTER TABLE trackers ADD COLUMN return_for TEXT;

CREATE TABLE return_milestones (
    tracker_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT,
    PRIMARY KEY (tracker_id, kind)
);
