-- What the retailer promised the customer (JSON of an ETA), given at registration.
ALTER TABLE trackers ADD COLUMN promised_by TEXT;
