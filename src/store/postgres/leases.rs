//! The lease side of fleet mode on PostgreSQL: the cluster's shards, heartbeats
//! that renew, take and release shard leases, the fence check of every write
//! group, and the owner messages (NOTIFY) between instances.

use super::{
    Ctx, MIGRATION_LOCK, OWNERS_CHANNEL, PostgresStore, TRACKER_COLUMNS, WriteOp, owner_payloads,
    tracker_row,
};
use crate::ownership::{Fence, Heartbeat, LeaseStore, OwnerMessage, fair_share, shard_of};
use crate::store::{StoreError, TrackerRow};
use std::collections::HashMap;
use std::time::Duration;

/// Records the shard count on first use (later it must match), creates one lease
/// row per shard, and fills in the shard of trackers stored before fleet mode.
pub(super) async fn init_cluster(
    client: &mut deadpool_postgres::Object,
    shards: u32,
) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .ctx("starting the cluster set-up")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .ctx("taking the set-up lock")?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('shard_count', $1) ON CONFLICT (key) DO NOTHING",
        &[&i64::from(shards)],
    )
    .await
    .ctx("recording the shard count")?;
    let stored: i64 = tx
        .query_one("SELECT value FROM meta WHERE key = 'shard_count'", &[])
        .await
        .ctx("reading the shard count")?
        .get(0);
    if stored != i64::from(shards) {
        return Err(StoreError::ShardCountMismatch {
            stored: stored as u32,
            configured: shards,
        });
    }
    tx.execute(
        "INSERT INTO shard_leases (shard) SELECT generate_series(0, $1 - 1) ON CONFLICT (shard) DO NOTHING",
        &[&(shards as i32)],
    )
    .await
    .ctx("creating shard leases")?;
    let unsharded = tx
        .query(
            "SELECT id, carrier, tracking_number FROM trackers WHERE shard IS NULL",
            &[],
        )
        .await
        .ctx("finding trackers without a shard")?;
    if !unsharded.is_empty() {
        let ids: Vec<i64> = unsharded.iter().map(|r| r.get(0)).collect();
        let of: Vec<i32> = unsharded
            .iter()
            .map(|r| shard_of(r.get(1), r.get(2), shards) as i32)
            .collect();
        tx.execute(
            "UPDATE trackers SET shard = u.shard FROM unnest($1::int8[], $2::int4[]) AS u(id, shard)
             WHERE trackers.id = u.id",
            &[&ids, &of],
        )
        .await
        .ctx("assigning shards to trackers")?;
        tracing::info!(
            trackers = ids.len(),
            "assigned shards to trackers stored before fleet mode"
        );
    }
    tx.commit().await.ctx("committing the cluster set-up")
}

/// Splits a group's operations into those that may run and poll results whose
/// lease moved on (answered [`StoreError::Fenced`] at once, never applied).
///
/// The lease rows are locked `FOR KEY SHARE` until the group commits: renewals
/// and releases (plain updates) pass, but a takeover (which locks `FOR UPDATE`)
/// waits for this commit or skips the shard, so no write can slip in after
/// another instance took the shard.
pub(super) async fn fence_check(
    tx: &deadpool_postgres::Transaction<'_>,
    ops: Vec<WriteOp>,
) -> Result<Vec<WriteOp>, (StoreError, Vec<WriteOp>)> {
    let mut shards: Vec<i32> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Commit { unit, .. } => unit.fence.map(|f| f.shard as i32),
            _ => None,
        })
        .collect();
    if shards.is_empty() {
        return Ok(ops);
    }
    shards.sort_unstable();
    shards.dedup();
    let rows = match tx
        .query(
            "SELECT shard, epoch FROM shard_leases WHERE shard = ANY($1) ORDER BY shard FOR KEY SHARE",
            &[&shards],
        )
        .await
        .ctx("checking shard leases")
    {
        Ok(rows) => rows,
        Err(e) => return Err((e, ops)),
    };
    let current: HashMap<u32, u64> = rows
        .iter()
        .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i64>(1) as u64))
        .collect();
    let mut kept = Vec::with_capacity(ops.len());
    for op in ops {
        let stale = match &op {
            WriteOp::Commit { unit, .. } => unit
                .fence
                .filter(|f| current.get(&f.shard) != Some(&f.epoch)),
            _ => None,
        };
        match (stale, op) {
            (Some(Fence { shard, epoch }), WriteOp::Commit { unit, reply }) => {
                tracing::warn!(carrier = %unit.subject.carrier, tracking_number = %unit.subject.tracking_number, shard, epoch, current = ?current.get(&shard), "rejected a write under a lease that moved on");
                if let Some(reply) = reply {
                    let _ = reply.send(Err(StoreError::Fenced { shard, epoch }));
                }
            }
            (_, op) => kept.push(op),
        }
    }
    Ok(kept)
}

fn fences(rows: &[tokio_postgres::Row]) -> Vec<Fence> {
    rows.iter()
        .map(|r| Fence {
            shard: r.get::<_, i32>(0) as u32,
            epoch: r.get::<_, i64>(1) as u64,
        })
        .collect()
}

#[async_trait::async_trait]
impl LeaseStore for PostgresStore {
    fn shard_count(&self) -> u32 {
        self.shards
    }

    async fn heartbeat(
        &self,
        instance: &str,
        ttl: Duration,
        release: &[u32],
    ) -> Result<Heartbeat, StoreError> {
        let ttl_s = ttl.as_secs_f64();
        let mut c = self.reader().await?;
        let tx = c.transaction().await.ctx("starting a heartbeat")?;
        tx.execute(
            "INSERT INTO fleet_instances (instance, heartbeat_at) VALUES ($1, now())
             ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now()",
            &[&instance],
        )
        .await
        .ctx("recording a heartbeat")?;
        if !release.is_empty() {
            let release: Vec<i32> = release.iter().map(|s| *s as i32).collect();
            tx.execute(
                "UPDATE shard_leases SET owner = NULL, expires_at = '-infinity'
                 WHERE owner = $1 AND shard = ANY($2)",
                &[&instance, &release],
            )
            .await
            .ctx("releasing shard leases")?;
        }
        let renewed = tx
            .query(
                "UPDATE shard_leases SET expires_at = now() + make_interval(secs => $2)
                 WHERE owner = $1 RETURNING shard, epoch",
                &[&instance, &ttl_s],
            )
            .await
            .ctx("renewing shard leases")?;
        let live: i64 = tx
            .query_one(
                "SELECT count(*) FROM fleet_instances WHERE heartbeat_at > now() - make_interval(secs => $1)",
                &[&ttl_s],
            )
            .await
            .ctx("counting live instances")?
            .get(0);
        let live = (live.max(1)) as u32;
        let want = fair_share(self.shards, live).saturating_sub(renewed.len() as u32);
        let taken = if want > 0 {
            tx.query(
                "UPDATE shard_leases l
                 SET owner = $1, epoch = l.epoch + 1, expires_at = now() + make_interval(secs => $2)
                 FROM (SELECT shard FROM shard_leases
                       WHERE owner IS NULL OR expires_at <= now()
                       ORDER BY shard LIMIT $3 FOR UPDATE SKIP LOCKED) free
                 WHERE l.shard = free.shard
                 RETURNING l.shard, l.epoch",
                &[&instance, &ttl_s, &i64::from(want)],
            )
            .await
            .ctx("taking shard leases")?
        } else {
            Vec::new()
        };
        let fallback_shards: i64 = tx
            .query_one(
                "SELECT count(*) FROM shard_leases l JOIN fleet_instances i ON i.instance = l.owner
                 WHERE i.quota_fallback AND l.owner <> $1 AND l.expires_at > now()
                   AND i.heartbeat_at > now() - make_interval(secs => $2)",
                &[&instance, &ttl_s],
            )
            .await
            .ctx("counting shards paced without Redis")?
            .get(0);
        tx.execute(
            "DELETE FROM fleet_instances WHERE heartbeat_at < now() - interval '1 day'",
            &[],
        )
        .await
        .ctx("forgetting long-gone instances")?;
        tx.commit().await.ctx("committing a heartbeat")?;
        let mut held = fences(&renewed);
        held.extend(fences(&taken));
        held.sort_unstable();
        Ok(Heartbeat {
            held,
            live_instances: live,
            taken: taken.len() as u32,
            fallback_shards: fallback_shards as u32,
        })
    }

    async fn set_quota_fallback(&self, instance: &str, on: bool) -> Result<(), StoreError> {
        let c = self.reader().await?;
        c.execute(
            "UPDATE fleet_instances SET quota_fallback = $2 WHERE instance = $1",
            &[&instance, &on],
        )
        .await
        .ctx("recording quota pacing without Redis")?;
        Ok(())
    }

    async fn release_all(&self, instance: &str) -> Result<(), StoreError> {
        let c = self.reader().await?;
        c.execute(
            "UPDATE shard_leases SET owner = NULL, expires_at = '-infinity' WHERE owner = $1",
            &[&instance],
        )
        .await
        .ctx("releasing every lease")?;
        c.execute(
            "DELETE FROM fleet_instances WHERE instance = $1",
            &[&instance],
        )
        .await
        .ctx("leaving the fleet")?;
        Ok(())
    }

    async fn trackers_in(&self, shards: &[u32]) -> Result<Vec<TrackerRow>, StoreError> {
        let shards: Vec<i32> = shards.iter().map(|s| *s as i32).collect();
        let c = self.reader().await?;
        let rows = c
            .query(
                &format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE shard = ANY($1)"),
                &[&shards],
            )
            .await
            .ctx("loading the trackers of taken shards")?;
        Ok(rows.iter().map(tracker_row).collect())
    }

    async fn trackers_by_id(&self, ids: &[u64]) -> Result<Vec<TrackerRow>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        let c = self.reader().await?;
        let rows = c
            .query(
                &format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE id = ANY($1)"),
                &[&ids],
            )
            .await
            .ctx("loading registered trackers")?;
        Ok(rows.iter().map(tracker_row).collect())
    }

    async fn tell_owners(&self, message: OwnerMessage) -> Result<(), StoreError> {
        let c = self.reader().await?;
        for payload in owner_payloads(&message) {
            c.execute("SELECT pg_notify($1, $2)", &[&OWNERS_CHANNEL, &payload])
                .await
                .ctx("notifying owners")?;
        }
        Ok(())
    }

    fn owner_messages(&self) -> tokio::sync::broadcast::Receiver<OwnerMessage> {
        self.owners.subscribe()
    }
}
