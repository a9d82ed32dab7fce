-- trackd schema for the PostgreSQL backend, version 3: shared quotas.
-- An instance that cannot reach Redis paces itself to its share of every quota
-- and says so here; the instances still on Redis leave that share free, so a
-- partition between one instance and Redis never adds up to more than a quota.
ALTER TABLE fleet_instances ADD COLUMN quota_fallback BOOLEAN NOT NULL DEFAULT false;
