//! The PostgreSQL side of the webhook seam: endpoints, their cursors ("lanes") and
//! the delivery log in the shared database, so any instance of a fleet resumes
//! another's deliveries. Writes run on reader-pool connections (not the event
//! writer): they are small, and never wait behind a group commit.
//!
//! Several instances may write at once, so changes that the embedded store gets
//! serialized for free take the endpoint's row lock here: `add_lane` numbers lanes
//! under it, and `record` holds a key-share lock so a concurrent delete cannot
//! leave attempts behind.

use super::{Ctx, PostgresStore};
use crate::store::StoreError;
use crate::webhooks::store::{AttemptColumns, EndpointColumns, LaneColumns, Resume};
use crate::webhooks::{AttemptRecord, AttemptRow, Endpoint, Lane, WebhookStore};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

const ENDPOINT_COLUMNS: &str = "id, config, enabled, disabled_reason, failing_since, failing_reported, created_at, updated_at, version";

const ATTEMPT_COLUMNS: &str =
    "id, lane, event_id, attempt, at, outcome, settled, status, latency_ms, error, excerpt";

/// One column of a row; a type mismatch is an error, not a panic.
fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize, context: &'static str) -> Result<T, StoreError> {
    r.try_get(i).ctx(context)
}

fn endpoint_row(r: &Row) -> Result<EndpointColumns, StoreError> {
    const C: &str = "reading a webhook endpoint";
    Ok(EndpointColumns {
        id: col(r, 0, C)?,
        config: col(r, 1, C)?,
        enabled: col(r, 2, C)?,
        disabled_reason: col(r, 3, C)?,
        failing_since_ms: col(r, 4, C)?,
        failing_reported: col(r, 5, C)?,
        created_at_ms: col(r, 6, C)?,
        updated_at_ms: col(r, 7, C)?,
        version: col(r, 8, C)?,
    })
}

fn lane_row(r: &Row) -> Result<Lane, StoreError> {
    const C: &str = "reading a webhook cursor";
    Ok(LaneColumns {
        lane: col(r, 0, C)?,
        position: col(r, 1, C)?,
        until: col(r, 2, C)?,
        event_ids: col(r, 3, C)?,
        since_ms: col(r, 4, C)?,
        before_ms: col(r, 5, C)?,
    }
    .into())
}

fn attempt_row(r: &Row) -> Result<AttemptRow, StoreError> {
    const C: &str = "reading the delivery log";
    Ok(AttemptColumns {
        id: col(r, 0, C)?,
        lane: col(r, 1, C)?,
        event_id: col(r, 2, C)?,
        attempt: col(r, 3, C)?,
        at_ms: col(r, 4, C)?,
        outcome: col(r, 5, C)?,
        settled: col(r, 6, C)?,
        status: col(r, 7, C)?,
        latency_ms: col(r, 8, C)?,
        error: col(r, 9, C)?,
        excerpt: col(r, 10, C)?,
    }
    .into())
}

#[async_trait::async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_endpoint(&self, e: &Endpoint, live_position: u64) -> Result<(), StoreError> {
        let c = EndpointColumns::of(e)?;
        let mut conn = self.reader().await?;
        let tx = conn
            .transaction()
            .await
            .ctx("starting an endpoint insert")?;
        tx.execute(
            &format!(
                "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            &[
                &c.id,
                &c.config,
                &c.enabled,
                &c.disabled_reason,
                &c.failing_since_ms,
                &c.failing_reported,
                &c.created_at_ms,
                &c.updated_at_ms,
                &c.version,
            ],
        )
        .await
        .ctx("inserting a webhook endpoint")?;
        tx.execute(
            "INSERT INTO webhook_lanes (endpoint_id, lane, position) VALUES ($1, 0, $2)",
            &[&c.id, &(live_position as i64)],
        )
        .await
        .ctx("inserting a webhook cursor")?;
        tx.commit().await.ctx("committing an endpoint insert")
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY seq"),
                &[],
            )
            .await
            .ctx("listing webhook endpoints")?;
        rows.iter()
            .map(|r| endpoint_row(r)?.into_endpoint())
            .collect()
    }

    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let conn = self.reader().await?;
        let row = conn
            .query_opt(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"),
                &[&id],
            )
            .await
            .ctx("reading a webhook endpoint")?;
        row.map(|r| endpoint_row(&r)?.into_endpoint()).transpose()
    }

    async fn update_endpoint(&self, e: &Endpoint) -> Result<bool, StoreError> {
        let c = EndpointColumns::of(e)?;
        let conn = self.reader().await?;
        let n = conn
            .execute(
                "UPDATE webhook_endpoints SET config = $2, enabled = $3, disabled_reason = $4, updated_at = $5, version = version + 1 WHERE id = $1",
                &[&c.id, &c.config, &c.enabled, &c.disabled_reason, &c.updated_at_ms],
            )
            .await
            .ctx("updating a webhook endpoint")?;
        Ok(n == 1)
    }

    async fn set_health(
        &self,
        id: &str,
        failing_since: Option<DateTime<Utc>>,
        reported: bool,
    ) -> Result<(), StoreError> {
        let conn = self.reader().await?;
        conn.execute(
            "UPDATE webhook_endpoints SET failing_since = $2, failing_reported = $3 WHERE id = $1",
            &[&id, &failing_since.map(|t| t.timestamp_millis()), &reported],
        )
        .await
        .ctx("saving a webhook endpoint's health")?;
        Ok(())
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.reader().await?;
        let tx = conn
            .transaction()
            .await
            .ctx("starting an endpoint delete")?;
        // Deleting the row first takes its lock: a concurrent `record` or
        // `add_lane` finishes before the lanes and the log are deleted.
        let n = tx
            .execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&id])
            .await
            .ctx("deleting a webhook endpoint")?;
        tx.execute("DELETE FROM webhook_lanes WHERE endpoint_id = $1", &[&id])
            .await
            .ctx("deleting webhook cursors")?;
        tx.execute(
            "DELETE FROM webhook_attempts WHERE endpoint_id = $1",
            &[&id],
        )
        .await
        .ctx("deleting a delivery log")?;
        tx.commit().await.ctx("committing an endpoint delete")?;
        Ok(n == 1)
    }

    async fn lanes(&self, id: &str) -> Result<Vec<Lane>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT lane, position, until, event_ids, since, before FROM webhook_lanes WHERE endpoint_id = $1 ORDER BY lane",
                &[&id],
            )
            .await
            .ctx("listing webhook cursors")?;
        rows.iter().map(lane_row).collect()
    }

    async fn add_lane(&self, id: &str, lane: &Lane) -> Result<u64, StoreError> {
        let mut conn = self.reader().await?;
        let tx = conn.transaction().await.ctx("starting a replay insert")?;
        // Numbered by a counter on the endpoint row (whose update also orders two
        // replays started at once), never reused: a finished replay's attempts stay
        // in the log under its id.
        let row = tx
            .query_opt(
                "UPDATE webhook_endpoints SET replays_made = replays_made + 1 WHERE id = $1 RETURNING replays_made",
                &[&id],
            )
            .await
            .ctx("numbering a replay")?
            .ok_or_else(|| StoreError::NoSuchWebhook(id.to_string()))?;
        let next: i64 = col(&row, 0, "numbering a replay")?;
        tx.execute(
            "INSERT INTO webhook_lanes (endpoint_id, lane, position, until, event_ids, since, before) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &next,
                &(lane.position as i64),
                &lane.until.map(|u| u as i64),
                &lane.event_ids_json(),
                &lane.emitted_between.map(|b| b.0),
                &lane.emitted_between.map(|b| b.1),
            ],
        )
        .await
        .ctx("inserting a replay")?;
        tx.commit().await.ctx("committing a replay insert")?;
        Ok(next as u64)
    }

    async fn record(
        &self,
        id: &str,
        attempts: &[AttemptRecord],
        positions: &[(u64, u64)],
    ) -> Result<(), StoreError> {
        let mut conn = self.reader().await?;
        let tx = conn
            .transaction()
            .await
            .ctx("starting a delivery log write")?;
        // Held to the commit: an endpoint delete waits for this log write, then
        // deletes it with the rest (it would not see it uncommitted).
        tx.execute(
            "SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR KEY SHARE",
            &[&id],
        )
        .await
        .ctx("locking a webhook endpoint")?;
        if !attempts.is_empty() {
            let insert = tx
                .prepare_cached(
                    "INSERT INTO webhook_attempts (endpoint_id, lane, event_id, attempt, at, outcome, settled, status, latency_ms, error, excerpt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .await
                .ctx("preparing a delivery log write")?;
            for a in attempts {
                tx.execute(
                    &insert,
                    &[
                        &id,
                        &(a.lane as i64),
                        &(a.event_id as i64),
                        &i64::from(a.attempt),
                        &a.at.timestamp_millis(),
                        &a.outcome.as_str(),
                        &a.settled,
                        &a.status.map(i64::from),
                        &a.latency_ms.map(i64::from),
                        &a.error,
                        &a.response_excerpt,
                    ],
                )
                .await
                .ctx("writing the delivery log")?;
            }
        }
        if !positions.is_empty() {
            let advance = tx
                .prepare_cached(
                    "UPDATE webhook_lanes SET position = GREATEST(position, $3) WHERE endpoint_id = $1 AND lane = $2",
                )
                .await
                .ctx("preparing a cursor write")?;
            for (lane, position) in positions {
                tx.execute(&advance, &[&id, &(*lane as i64), &(*position as i64)])
                    .await
                    .ctx("moving a webhook cursor")?;
            }
        }
        tx.execute(
            "DELETE FROM webhook_lanes WHERE endpoint_id = $1 AND lane > 0 AND position >= until",
            &[&id],
        )
        .await
        .ctx("removing finished replays")?;
        tx.commit().await.ctx("committing the delivery log")
    }

    async fn resume_after(
        &self,
        id: &str,
        lane: u64,
        position: u64,
    ) -> Result<Vec<Resume>, StoreError> {
        const C: &str = "reading delivery progress";
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT event_id, COUNT(*), MAX(at), bool_or(settled IS NOT NULL) FROM webhook_attempts WHERE endpoint_id = $1 AND lane = $2 AND event_id > $3 AND attempt > 0 GROUP BY event_id ORDER BY event_id",
                &[&id, &(lane as i64), &(position as i64)],
            )
            .await
            .ctx(C)?;
        rows.iter()
            .map(|r| {
                Ok(Resume {
                    event_id: col::<i64>(r, 0, C)? as u64,
                    attempts: u32::try_from(col::<i64>(r, 1, C)?).unwrap_or(u32::MAX),
                    last_at: DateTime::from_timestamp_millis(col(r, 2, C)?).unwrap_or_default(),
                    settled: col(r, 3, C)?,
                })
            })
            .collect()
    }

    async fn attempts(
        &self,
        id: &str,
        before: Option<u64>,
        limit: usize,
        event_id: Option<u64>,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE endpoint_id = $1 AND id < $2 AND ($3::BIGINT IS NULL OR event_id = $3::BIGINT) ORDER BY id DESC LIMIT $4"
                ),
                &[
                    &id,
                    &before.map_or(i64::MAX, |b| b as i64),
                    &event_id.map(|e| e as i64),
                    &(limit.min(i64::MAX as usize) as i64),
                ],
            )
            .await
            .ctx("reading the delivery log")?;
        rows.iter().map(attempt_row).collect()
    }

    async fn prune_attempts(&self, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        let conn = self.reader().await?;
        conn.execute(
            "DELETE FROM webhook_attempts WHERE at < $1",
            &[&older_than.timestamp_millis()],
        )
        .await
        .ctx("pruning the delivery log")
    }

    async fn event_ids_between(
        &self,
        since_ms: i64,
        before_ms: i64,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        const C: &str = "finding events by time";
        let conn = self.reader().await?;
        let row = conn
            .query_one(
                "SELECT MIN(id), MAX(id) FROM events WHERE emitted_at >= $1 AND emitted_at < $2",
                &[&since_ms, &before_ms],
            )
            .await
            .ctx(C)?;
        let first: Option<i64> = col(&row, 0, C)?;
        let last: Option<i64> = col(&row, 1, C)?;
        Ok(first.zip(last).map(|(a, b)| (a as u64, b as u64)))
    }

    async fn tracker_events_before(
        &self,
        tracker_id: u64,
        before: u64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        const C: &str = "reading a tracker's events";
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT id, type FROM events WHERE tracker_id = $1 AND id < $2 ORDER BY id",
                &[&(tracker_id as i64), &(before as i64)],
            )
            .await
            .ctx(C)?;
        rows.iter()
            .map(|r| Ok((col::<i64>(r, 0, C)? as u64, col(r, 1, C)?)))
            .collect()
    }
}
