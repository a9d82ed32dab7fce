//! The SQLite side of the webhook seam: its own connection to the same file,
//! synchronous=FULL, so a recorded attempt or cursor survives power loss like events do.

use super::StoreError;
use super::sqlite::Ctx;
use crate::webhooks::store::{AttemptColumns, EndpointColumns, LaneColumns, Resume};
use crate::webhooks::{AttemptRecord, AttemptRow, Endpoint, Lane, WebhookStore};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Webhook tables in the embedded database.
pub struct SqliteWebhooks {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteWebhooks {
    /// Opens a connection to the database file the store created (schema included).
    pub fn open(path: &Path) -> Result<SqliteWebhooks, StoreError> {
        let conn = Connection::open(path).ctx("opening the database for webhooks")?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;",
        )
        .ctx("setting webhook connection pragmas")?;
        Ok(SqliteWebhooks {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

const ENDPOINT_COLUMNS: &str = "id, config, enabled, disabled_reason, failing_since, failing_reported, created_at, updated_at, version";

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointColumns> {
    Ok(EndpointColumns {
        id: r.get(0)?,
        config: r.get(1)?,
        enabled: r.get(2)?,
        disabled_reason: r.get(3)?,
        failing_since_ms: r.get(4)?,
        failing_reported: r.get(5)?,
        created_at_ms: r.get(6)?,
        updated_at_ms: r.get(7)?,
        version: r.get(8)?,
    })
}

#[async_trait::async_trait]
impl WebhookStore for SqliteWebhooks {
    async fn insert_endpoint(&self, e: &Endpoint, live_position: u64) -> Result<(), StoreError> {
        let c = EndpointColumns::of(e)?;
        self.with(move |conn| {
            let tx = conn.transaction().ctx("starting an endpoint insert")?;
            tx.execute(
                &format!("INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![c.id, c.config, c.enabled, c.disabled_reason, c.failing_since_ms, c.failing_reported, c.created_at_ms, c.updated_at_ms, c.version],
            )
            .ctx("inserting a webhook endpoint")?;
            tx.execute(
                "INSERT INTO webhook_lanes (endpoint_id, lane, position) VALUES (?1, 0, ?2)",
                params![c.id, live_position as i64],
            )
            .ctx("inserting a webhook cursor")?;
            tx.commit().ctx("committing an endpoint insert")
        })
        .await
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let rows = self
            .with(|conn| {
                let mut st = conn
                    .prepare_cached(&format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY seq"
                    ))
                    .ctx("listing webhook endpoints")?;
                let rows = st
                    .query_map([], endpoint_row)
                    .ctx("listing webhook endpoints")?
                    .collect::<Result<Vec<_>, _>>()
                    .ctx("reading webhook endpoints")?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(EndpointColumns::into_endpoint)
            .collect()
    }

    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let id = id.to_string();
        let row = self
            .with(move |conn| {
                conn.query_row(
                    &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
                    params![id],
                    endpoint_row,
                )
                .optional()
                .ctx("reading a webhook endpoint")
            })
            .await?;
        row.map(EndpointColumns::into_endpoint).transpose()
    }

    async fn update_endpoint(&self, e: &Endpoint) -> Result<bool, StoreError> {
        let c = EndpointColumns::of(e)?;
        self.with(move |conn| {
            let n = conn
                .execute(
                    "UPDATE webhook_endpoints SET config = ?2, enabled = ?3, disabled_reason = ?4, updated_at = ?5, version = version + 1 WHERE id = ?1",
                    params![c.id, c.config, c.enabled, c.disabled_reason, c.updated_at_ms],
                )
                .ctx("updating a webhook endpoint")?;
            Ok(n == 1)
        })
        .await
    }

    async fn set_health(
        &self,
        id: &str,
        failing_since: Option<DateTime<Utc>>,
        reported: bool,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            conn.execute(
                "UPDATE webhook_endpoints SET failing_since = ?2, failing_reported = ?3 WHERE id = ?1",
                params![id, failing_since.map(|t| t.timestamp_millis()), reported],
            )
            .ctx("saving a webhook endpoint's health")?;
            Ok(())
        })
        .await
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let tx = conn.transaction().ctx("starting an endpoint delete")?;
            let n = tx
                .execute("DELETE FROM webhook_endpoints WHERE id = ?1", params![id])
                .ctx("deleting a webhook endpoint")?;
            tx.execute(
                "DELETE FROM webhook_lanes WHERE endpoint_id = ?1",
                params![id],
            )
            .ctx("deleting webhook cursors")?;
            tx.execute(
                "DELETE FROM webhook_attempts WHERE endpoint_id = ?1",
                params![id],
            )
            .ctx("deleting a delivery log")?;
            tx.commit().ctx("committing an endpoint delete")?;
            Ok(n == 1)
        })
        .await
    }

    async fn lanes(&self, id: &str) -> Result<Vec<Lane>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT lane, position, until, event_ids, since, before FROM webhook_lanes WHERE endpoint_id = ?1 ORDER BY lane",
                )
                .ctx("listing webhook cursors")?;
            let rows = st
                .query_map(params![id], |r| {
                    Ok(LaneColumns {
                        lane: r.get(0)?,
                        position: r.get(1)?,
                        until: r.get(2)?,
                        event_ids: r.get(3)?,
                        since_ms: r.get(4)?,
                        before_ms: r.get(5)?,
                    })
                })
                .ctx("listing webhook cursors")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading webhook cursors")?;
            Ok(rows.into_iter().map(Lane::from).collect())
        })
        .await
    }

    async fn add_lane(&self, id: &str, lane: &Lane) -> Result<u64, StoreError> {
        let (id, lane) = (id.to_string(), lane.clone());
        self.with(move |conn| {
            let tx = conn.transaction().ctx("starting a replay insert")?;
            // Numbered by a counter on the endpoint, never reused: the attempts of a
            // finished replay stay in the log under its id.
            let next: i64 = tx
                .query_row(
                    "UPDATE webhook_endpoints SET replays_made = replays_made + 1 WHERE id = ?1 RETURNING replays_made",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .ctx("numbering a replay")?
                .ok_or_else(|| StoreError::NoSuchWebhook(id.clone()))?;
            tx.execute(
                "INSERT INTO webhook_lanes (endpoint_id, lane, position, until, event_ids, since, before) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    next,
                    lane.position as i64,
                    lane.until.map(|u| u as i64),
                    lane.event_ids_json(),
                    lane.emitted_between.map(|b| b.0),
                    lane.emitted_between.map(|b| b.1),
                ],
            )
            .ctx("inserting a replay")?;
            tx.commit().ctx("committing a replay insert")?;
            Ok(next as u64)
        })
        .await
    }

    async fn record(
        &self,
        id: &str,
        attempts: &[AttemptRecord],
        positions: &[(u64, u64)],
    ) -> Result<(), StoreError> {
        let (id, attempts, positions) = (id.to_string(), attempts.to_vec(), positions.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction().ctx("starting a delivery log write")?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO webhook_attempts (endpoint_id, lane, event_id, attempt, at, outcome, settled, status, latency_ms, error, excerpt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )
                    .ctx("preparing a delivery log write")?;
                for a in &attempts {
                    insert
                        .execute(params![
                            id,
                            a.lane as i64,
                            a.event_id as i64,
                            a.attempt,
                            a.at.timestamp_millis(),
                            a.outcome.as_str(),
                            a.settled,
                            a.status,
                            a.latency_ms,
                            a.error,
                            a.response_excerpt,
                        ])
                        .ctx("writing the delivery log")?;
                }
                let mut advance = tx
                    .prepare_cached(
                        "UPDATE webhook_lanes SET position = MAX(position, ?3) WHERE endpoint_id = ?1 AND lane = ?2",
                    )
                    .ctx("preparing a cursor write")?;
                for (lane, position) in &positions {
                    advance
                        .execute(params![id, *lane as i64, *position as i64])
                        .ctx("moving a webhook cursor")?;
                }
            }
            tx.execute(
                "DELETE FROM webhook_lanes WHERE endpoint_id = ?1 AND lane > 0 AND position >= until",
                params![id],
            )
            .ctx("removing finished replays")?;
            tx.commit().ctx("committing the delivery log")
        })
        .await
    }

    async fn resume_after(
        &self,
        id: &str,
        lane: u64,
        position: u64,
    ) -> Result<Vec<Resume>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT event_id, COUNT(*), MAX(at), MAX(settled IS NOT NULL) FROM webhook_attempts WHERE endpoint_id = ?1 AND lane = ?2 AND event_id > ?3 AND attempt > 0 GROUP BY event_id ORDER BY event_id",
                )
                .ctx("reading delivery progress")?;
            let rows = st
                .query_map(params![id, lane as i64, position as i64], |r| {
                    Ok(Resume {
                        event_id: r.get::<_, i64>(0)? as u64,
                        attempts: r.get::<_, i64>(1)? as u32,
                        last_at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                        settled: r.get(3)?,
                    })
                })
                .ctx("reading delivery progress")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading delivery progress")?;
            Ok(rows)
        })
        .await
    }

    async fn attempts(
        &self,
        id: &str,
        before: Option<u64>,
        limit: usize,
        event_id: Option<u64>,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, lane, event_id, attempt, at, outcome, settled, status, latency_ms, error, excerpt FROM webhook_attempts WHERE endpoint_id = ?1 AND id < ?2 AND (?3 IS NULL OR event_id = ?3) ORDER BY id DESC LIMIT ?4",
                )
                .ctx("reading the delivery log")?;
            let rows = st
                .query_map(
                    params![
                        id,
                        before.map_or(i64::MAX, |b| b as i64),
                        event_id.map(|e| e as i64),
                        limit as i64
                    ],
                    |r| {
                        Ok(AttemptColumns {
                            id: r.get(0)?,
                            lane: r.get(1)?,
                            event_id: r.get(2)?,
                            attempt: r.get(3)?,
                            at_ms: r.get(4)?,
                            outcome: r.get(5)?,
                            settled: r.get(6)?,
                            status: r.get(7)?,
                            latency_ms: r.get(8)?,
                            error: r.get(9)?,
                            excerpt: r.get(10)?,
                        })
                    },
                )
                .ctx("reading the delivery log")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading the delivery log")?;
            Ok(rows.into_iter().map(AttemptRow::from).collect())
        })
        .await
    }

    async fn prune_attempts(&self, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM webhook_attempts WHERE at < ?1",
                    params![older_than.timestamp_millis()],
                )
                .ctx("pruning the delivery log")?;
            Ok(n as u64)
        })
        .await
    }

    async fn event_ids_between(
        &self,
        since_ms: i64,
        before_ms: i64,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        self.with(move |conn| {
            let (first, last): (Option<i64>, Option<i64>) = conn
                .query_row(
                    "SELECT MIN(id), MAX(id) FROM events WHERE emitted_at >= ?1 AND emitted_at < ?2",
                    params![since_ms, before_ms],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx("finding events by time")?;
            Ok(first.zip(last).map(|(a, b)| (a as u64, b as u64)))
        })
        .await
    }

    async fn tracker_events_before(
        &self,
        tracker_id: u64,
        before: u64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        self.with(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, type FROM events WHERE tracker_id = ?1 AND id < ?2 ORDER BY id",
                )
                .ctx("reading a tracker's events")?;
            let rows = st
                .query_map(params![tracker_id as i64, before as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                })
                .ctx("reading a tracker's events")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading a tracker's events")?;
            Ok(rows)
        })
        .await
    }
}
