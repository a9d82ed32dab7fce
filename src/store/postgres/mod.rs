//! PostgreSQL backend: the system of record for users who outgrow one embedded
//! file, shared by every instance of a fleet. Same contract as the SQLite
//! backend: each instance's writer task group-commits many units per
//! transaction, event ids come from a one-row counter taken last in that
//! transaction (commit order = id order across all instances, dense,
//! rollback-safe), and events reach the sink only after their commit.
//!
//! Events reach the sink through the [`tail`]: it reads the log in id order,
//! woken by this instance's commits and by LISTEN/NOTIFY for the others', so
//! every instance streams every instance's events. Poll results carry the
//! lease [`Fence`] they ran under and are rejected once the lease moved on
//! ([`leases`] holds the lease side of fleet mode).

mod leases;
mod quota;
mod tail;
mod webhooks;

use super::{
    CommitUnit, EventColumns, EventFilter, EventSink, NewTracker, Registered, StoreBackend,
    StoreError, TrackerColumns, TrackerFilter, TrackerRow, created_event, milestone_of, subject_of,
};
use crate::events::{EventDraft, StoredEvent, Subject};
use crate::ownership::OwnerMessage;
use crate::quota::SavedLedger;
use crate::returns::{Milestone, MilestoneOutcome};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use trackd_carrier_sdk::Snapshot;

trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Postgres { context, source })
    }
}

/// Versioned schema migrations, applied in order at start, each once.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial schema",
        include_str!("../migrations/0001_initial.sql"),
    ),
    (
        2,
        "fleet: shard leases",
        include_str!("../migrations/0002_fleet.sql"),
    ),
    (
        3,
        "shared quotas: instances pacing without Redis",
        include_str!("../migrations/0003_quota_fallback.sql"),
    ),
    (
        4,
        "webhooks: endpoints, cursors, delivery log",
        include_str!("../migrations/0004_webhooks.sql"),
    ),
    (
        5,
        "trackers: the retailer's promised delivery",
        include_str!("../migrations/0005_promised_by.sql"),
    ),
    (
        6,
        "returns: direction, what a return is for, retailer milestones",
        include_str!("../migrations/0006_returns.sql"),
    ),
];

/// Advisory lock key serializing concurrent migrations of several starting instances.
const MIGRATION_LOCK: i64 = 0x7472_6163_6b64_0001;
/// Channel notified with the last event id after each commit that stored events.
pub const EVENTS_CHANNEL: &str = "trackd_events";
/// Channel carrying [`OwnerMessage`]s between instances.
pub const OWNERS_CHANNEL: &str = "trackd_owners";
/// Largest NOTIFY payload trackd sends (PostgreSQL's limit is 8000 bytes).
const NOTIFY_MAX: usize = 7_000;

/// Most operations one transaction groups; bounds commit latency under load.
const GROUP_MAX: usize = 1024;
/// Connections for readers (API, stream catch-up).
const READ_POOL_SIZE: usize = 8;
/// Longest a trackd session may sit idle inside a transaction (a stalled process).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);
/// How long a connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a free pooled connection before the operation fails (and is retried).
const POOL_WAIT: Duration = Duration::from_secs(30);

const TRACKER_COLUMNS: &str = "id, carrier, tracking_number, reference, labels, created_at, state, status, error_kind, eta_deadline, last_change_at, promised_by, direction, return_for";

/// Handle to the PostgreSQL store; cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    writer: mpsc::UnboundedSender<WriteOp>,
    readers: Pool,
    shards: u32,
    /// Highest event id this instance's writer committed.
    committed: watch::Receiver<u64>,
    /// Highest event id the tail handed to the sink.
    published: watch::Receiver<u64>,
    owners: broadcast::Sender<OwnerMessage>,
}

enum WriteOp {
    Register {
        trackers: Vec<NewTracker>,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<Vec<Registered>, StoreError>>,
    },
    Commit {
        unit: CommitUnit,
        reply: Option<oneshot::Sender<Result<Vec<u64>, StoreError>>>,
    },
    Delete {
        id: u64,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Retention {
        older_than: DateTime<Utc>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    Flush {
        reply: oneshot::Sender<()>,
    },
    SaveLedger {
        carrier: &'static str,
        saved: SavedLedger,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Milestone {
        tracker_id: u64,
        milestone: Milestone,
        follow: Vec<EventDraft>,
        reply: oneshot::Sender<Result<MilestoneOutcome, StoreError>>,
    },
}

fn pool(config: &tokio_postgres::Config, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Bounded waits: a connection that cannot be had is an error the caller
    // retries and logs, never a task parked forever.
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Pool {
            context: "building the connection pool",
            message: e.to_string(),
        })
}

async fn connection(
    pool: &Pool,
    context: &'static str,
) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get().await.map_err(|e| StoreError::Pool {
        context,
        message: e.to_string(),
    })
}

impl PostgresStore {
    /// Connects, runs pending migrations, sets up the cluster's `shards` (on first
    /// use; later it must match), and starts the writer and the tail.
    pub async fn open(
        url: &str,
        sink: Arc<dyn EventSink>,
        shards: u32,
    ) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|source| StoreError::Postgres {
                context: "parsing postgres_url",
                source,
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("trackd");
        }
        // A paused or partitioned instance must not hold row locks (a lease row
        // locked by its stalled transaction could never be taken over): the server
        // ends any session that idles inside a transaction for this long.
        let idle = format!(
            "-c idle_in_transaction_session_timeout={}",
            IDLE_IN_TRANSACTION.as_millis()
        );
        let options = match config.get_options() {
            Some(user) if !user.is_empty() => format!("{user} {idle}"),
            _ => idle,
        };
        config.options(&options);
        let readers = pool(&config, READ_POOL_SIZE)?;
        let last_id = {
            let mut client = connection(&readers, "connecting to PostgreSQL").await?;
            migrate(&mut client).await?;
            leases::init_cluster(&mut client, shards).await?;
            cursors(&**client).await?.0
        };
        let (committed_tx, committed) = watch::channel(last_id);
        let (published_tx, published) = watch::channel(last_id);
        let (owners, _) = broadcast::channel(4096);
        let mut writer = Writer {
            pool: pool(&config, 1)?,
            client: None,
            sink: sink.clone(),
            committed: committed_tx,
            shards,
        };
        // Fail at start, not at the first poll, when the database refuses writes.
        writer.connected().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer.run(rx));
        tokio::spawn(tail::run(tail::Tail {
            config,
            sink,
            published: published_tx,
            committed: committed.clone(),
            owners: owners.clone(),
        }));
        Ok(PostgresStore {
            writer: tx,
            readers,
            shards,
            committed,
            published,
            owners,
        })
    }

    /// Queues `op` and waits for the writer's answer.
    async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(op(reply))?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    fn send(&self, op: WriteOp) -> Result<(), StoreError> {
        self.writer.send(op).map_err(|_| StoreError::WriterGone)
    }

    async fn reader(&self) -> Result<deadpool_postgres::Object, StoreError> {
        connection(&self.readers, "taking a reader connection").await
    }
}

async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .ctx("starting the migration transaction")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .ctx("taking the migration lock")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS trackd_schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await
    .ctx("creating the migrations table")?;
    let applied: HashSet<i64> = tx
        .query("SELECT version FROM trackd_schema_migrations", &[])
        .await
        .ctx("reading applied migrations")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let newest_known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = applied.iter().copied().find(|v| *v > newest_known) {
        return Err(StoreError::Corrupt(
            0,
            format!(
                "the database has schema version {newer}, newer than this trackd knows ({newest_known}): upgrade trackd"
            ),
        ));
    }
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .map_err(|source| StoreError::Migration {
                version,
                name,
                source,
            })?;
        tx.execute(
            "INSERT INTO trackd_schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await
        .ctx("recording a migration")?;
        tracing::info!(version, name, "applied PostgreSQL schema migration");
    }
    tx.commit().await.ctx("committing migrations")
}

fn tracker_row(r: &Row) -> TrackerRow {
    TrackerColumns {
        id: r.get(0),
        carrier: r.get(1),
        tracking_number: r.get(2),
        reference: r.get(3),
        labels_json: r.get(4),
        created_at_ms: r.get(5),
        state: r.get(6),
        status: r.get(7),
        error_kind: r.get(8),
        eta_deadline: r.get(9),
        last_change_at: r.get(10),
        promised_by_json: r.get(11),
        direction: r.get(12),
        return_for: r.get(13),
    }
    .into()
}

fn event_row(r: &Row) -> StoredEvent {
    EventColumns {
        id: r.get(0),
        kind: r.get(1),
        tracker_id: r.get(2),
        carrier: r.get(3),
        reference: r.get(4),
        json: r.get(5),
    }
    .into()
}

async fn cursors(c: &impl GenericClient) -> Result<(u64, u64), StoreError> {
    let row = c
        .query_one(
            "SELECT (SELECT last_id FROM event_counter),
                    COALESCE((SELECT value FROM meta WHERE key = 'retention_floor'), 0)",
            &[],
        )
        .await
        .ctx("reading the event cursor")?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

async fn read_events(
    c: &impl GenericClient,
    after: u64,
    limit: usize,
    f: &EventFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT id, type, tracker_id, carrier, reference, json FROM events WHERE id > $1",
    );
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(after as i64)];
    if let Some(v) = &f.carrier {
        args.push(Box::new(v.clone()));
        sql.push_str(&format!(" AND carrier = ${}", args.len()));
    }
    if let Some(v) = f.tracker_id {
        args.push(Box::new(v as i64));
        sql.push_str(&format!(" AND tracker_id = ${}", args.len()));
    }
    if let Some(v) = &f.reference {
        args.push(Box::new(v.clone()));
        sql.push_str(&format!(" AND reference = ${}", args.len()));
    }
    if !f.types.is_empty() {
        let types: Vec<&'static str> = f.types.iter().map(|t| t.as_str()).collect();
        args.push(Box::new(types));
        sql.push_str(&format!(" AND type = ANY(${})", args.len()));
    }
    args.push(Box::new(limit as i64));
    sql.push_str(&format!(" ORDER BY id LIMIT ${}", args.len()));
    let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| &**b as _).collect();
    let rows = c.query(&sql, &refs).await.ctx("reading events")?;
    Ok(rows.iter().map(event_row).collect())
}

#[async_trait::async_trait]
impl StoreBackend for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn register(
        &self,
        trackers: Vec<NewTracker>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Registered>, StoreError> {
        self.ask(|reply| WriteOp::Register {
            trackers,
            now,
            reply,
        })
        .await
    }

    async fn commit(&self, unit: CommitUnit) -> Result<Vec<u64>, StoreError> {
        self.ask(|reply| WriteOp::Commit {
            unit,
            reply: Some(reply),
        })
        .await
    }

    fn commit_detached(&self, unit: CommitUnit) -> Result<(), StoreError> {
        self.send(WriteOp::Commit { unit, reply: None })
    }

    async fn delete_tracker(&self, id: u64) -> Result<bool, StoreError> {
        self.ask(|reply| WriteOp::Delete { id, reply }).await
    }

    async fn apply_retention(&self, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        self.ask(|reply| WriteOp::Retention { older_than, reply })
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(WriteOp::Flush { reply })?;
        rx.await.map_err(|_| StoreError::WriterGone)?;
        // Committed is not enough: flushed means the sink has seen it too.
        let committed = *self.committed.borrow();
        let mut published = self.published.clone();
        published
            .wait_for(|p| *p >= committed)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::WriterGone)
    }

    async fn save_ledger(
        &self,
        carrier: &'static str,
        saved: SavedLedger,
    ) -> Result<(), StoreError> {
        self.ask(|reply| WriteOp::SaveLedger {
            carrier,
            saved,
            reply,
        })
        .await
    }

    async fn quota_ledgers(&self) -> Result<Vec<(String, SavedLedger)>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query("SELECT carrier, json FROM quota_ledger", &[])
            .await
            .ctx("loading quota ledgers")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let carrier: String = row.get(0);
            let json: String = row.get(1);
            match serde_json::from_str(&json) {
                Ok(saved) => out.push((carrier, saved)),
                // Unreadable usage must not start a fresh window: refuse to start.
                Err(e) => return Err(StoreError::CorruptLedger(carrier, e.to_string())),
            }
        }
        Ok(out)
    }

    async fn snapshot(&self, id: u64) -> Result<Option<Snapshot>, StoreError> {
        let c = self.reader().await?;
        let row = c
            .query_opt(
                "SELECT json FROM snapshots WHERE tracker_id = $1",
                &[&(id as i64)],
            )
            .await
            .ctx("reading a snapshot")?;
        row.map(|r| {
            let json: String = r.get(0);
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(id, e.to_string()))
        })
        .transpose()
    }

    async fn tracker(&self, id: u64) -> Result<Option<TrackerRow>, StoreError> {
        let c = self.reader().await?;
        let row = c
            .query_opt(
                &format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE id = $1"),
                &[&(id as i64)],
            )
            .await
            .ctx("reading a tracker")?;
        Ok(row.as_ref().map(tracker_row))
    }

    async fn list_trackers(
        &self,
        filter: TrackerFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<TrackerRow>, StoreError> {
        let mut sql = format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE id > $1");
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(after as i64)];
        if let Some(v) = filter.carrier {
            args.push(Box::new(v));
            sql.push_str(&format!(" AND carrier = ${}", args.len()));
        }
        if let Some(v) = filter.status {
            args.push(Box::new(v.as_str()));
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        if let Some(v) = filter.reference {
            args.push(Box::new(v));
            sql.push_str(&format!(" AND reference = ${}", args.len()));
        }
        if let Some(v) = filter.direction {
            args.push(Box::new(v.as_str()));
            sql.push_str(&format!(" AND direction = ${}", args.len()));
        }
        args.push(Box::new(limit as i64));
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", args.len()));
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| &**b as _).collect();
        let c = self.reader().await?;
        let rows = c.query(&sql, &refs).await.ctx("listing trackers")?;
        Ok(rows.iter().map(tracker_row).collect())
    }

    async fn events_after(
        &self,
        after: u64,
        limit: usize,
        filter: EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.reader().await?;
        read_events(&**c, after, limit, &filter).await
    }

    async fn cursors(&self) -> Result<(u64, u64), StoreError> {
        let c = self.reader().await?;
        cursors(&**c).await
    }

    async fn all_trackers(&self) -> Result<Vec<TrackerRow>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(&format!("SELECT {TRACKER_COLUMNS} FROM trackers"), &[])
            .await
            .ctx("loading trackers")?;
        Ok(rows.iter().map(tracker_row).collect())
    }

    async fn add_milestone(
        &self,
        tracker_id: u64,
        milestone: Milestone,
        follow: Vec<EventDraft>,
    ) -> Result<MilestoneOutcome, StoreError> {
        self.ask(|reply| WriteOp::Milestone {
            tracker_id,
            milestone,
            follow,
            reply,
        })
        .await
    }

    async fn milestones(&self, tracker_id: u64) -> Result<Vec<Milestone>, StoreError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT kind, at, note FROM return_milestones WHERE tracker_id = $1",
                &[&(tracker_id as i64)],
            )
            .await
            .ctx("listing milestones")?;
        let mut out: Vec<Milestone> = rows
            .iter()
            .filter_map(|r| milestone_of(r.get::<_, &str>(0), r.get(1), r.get(2)))
            .collect();
        out.sort_by_key(|m| m.kind);
        Ok(out)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let c = self.reader().await?;
        c.query_one("SELECT 1", &[])
            .await
            .ctx("pinging the store")
            .map(|_| ())
    }

    fn leases(&self) -> Option<Arc<dyn crate::ownership::LeaseStore>> {
        Some(Arc::new(self.clone()))
    }

    fn shared_ledger(&self) -> Option<Arc<dyn crate::quota::gate::SharedLedgerStore>> {
        Some(Arc::new(self.clone()))
    }

    fn webhooks(&self) -> Arc<dyn crate::webhooks::WebhookStore> {
        Arc::new(self.clone())
    }
}

/// An event a unit of the group wants stored; its id is known only at the end.
struct Candidate {
    subject: Subject,
    draft: EventDraft,
    emitted_at: DateTime<Utc>,
}

/// Answers one queued operation with the ids assigned to the group's candidates
/// (`None`: a duplicate fact), or with the group's failure.
type Reply = Box<dyn FnOnce(Result<&[Option<u64>], &StoreError>) + Send>;

struct Writer {
    pool: Pool,
    /// The writer's connection; `None` until (re)connected.
    client: Option<deadpool_postgres::Object>,
    /// Told how long each group commit took (the tail publishes the events).
    sink: Arc<dyn EventSink>,
    /// Highest event id committed by this writer; wakes the tail at once.
    committed: watch::Sender<u64>,
    shards: u32,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriteOp>) {
        while let Some(first) = rx.recv().await {
            let mut ops = vec![first];
            while ops.len() < GROUP_MAX {
                match rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            self.apply_group(ops).await;
        }
    }

    /// The writer's connection, reconnecting after a loss.
    async fn connected(&mut self) -> Result<&mut deadpool_postgres::Object, StoreError> {
        if self.client.as_ref().is_some_and(|c| c.is_closed())
            && let Some(lost) = self.client.take()
        {
            // A closed connection must not go back to the pool.
            drop(deadpool_postgres::Object::take(lost));
        }
        if self.client.is_none() {
            let client = connection(&self.pool, "connecting the writer").await?;
            client
                .batch_execute("SET synchronous_commit = on")
                .await
                .ctx("requiring durable commits")?;
            self.client = Some(client);
        }
        self.client.as_mut().ok_or(StoreError::WriterGone)
    }

    async fn apply_group(&mut self, ops: Vec<WriteOp>) {
        let started = Instant::now();
        let units = ops.len();
        let mut replies: Vec<Reply> = Vec::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        let result = self.transact(ops, &mut replies, &mut candidates).await;
        let outcome: Result<Vec<Option<u64>>, StoreError> = match result {
            Ok((ids, last)) => {
                if let Some(last) = last {
                    self.committed.send_if_modified(|c| {
                        let newer = last > *c;
                        *c = (*c).max(last);
                        newer
                    });
                }
                Ok(ids)
            }
            Err(e) => {
                tracing::error!(error = %e, "store group commit failed; events of this group were not stored");
                if self.client.as_ref().is_some_and(|c| c.is_closed()) {
                    self.client = None;
                }
                Err(e)
            }
        };
        self.sink
            .observe_commit(started.elapsed().as_secs_f64(), units);
        for reply in replies {
            match &outcome {
                Ok(ids) => reply(Ok(ids)),
                Err(e) => reply(Err(e)),
            }
        }
    }

    /// One group in one transaction; returns each candidate's id and the group's
    /// last event id.
    async fn transact(
        &mut self,
        ops: Vec<WriteOp>,
        replies: &mut Vec<Reply>,
        candidates: &mut Vec<Candidate>,
    ) -> Result<(Vec<Option<u64>>, Option<u64>), StoreError> {
        let shards = self.shards;
        // Operations that cannot run still need their answer.
        let client = match self.connected().await {
            Ok(c) => c,
            Err(e) => {
                for op in ops {
                    answer_unrun(op, replies);
                }
                return Err(e);
            }
        };
        let mut tx = match client.transaction().await.ctx("starting a transaction") {
            Ok(tx) => tx,
            Err(e) => {
                for op in ops {
                    answer_unrun(op, replies);
                }
                return Err(e);
            }
        };
        // Poll results whose lease moved on are answered `Fenced` and not applied.
        let ops = match leases::fence_check(&tx, ops).await {
            Ok(ops) => ops,
            Err((e, ops)) => {
                for op in ops {
                    answer_unrun(op, replies);
                }
                return Err(e);
            }
        };
        // Quota ledger rows are shared by every instance: each group locks them
        // last but for the counter, in carrier order, so two instances' groups
        // never deadlock on them (the group is one transaction: order inside it
        // changes nothing else).
        let (mut ledgers, others): (Vec<WriteOp>, Vec<WriteOp>) = ops
            .into_iter()
            .partition(|op| matches!(op, WriteOp::SaveLedger { .. }));
        ledgers.sort_by_key(|op| match op {
            WriteOp::SaveLedger { carrier, .. } => *carrier,
            _ => "",
        });
        let mut ops = others.into_iter().chain(ledgers);
        while let Some(op) = ops.next() {
            if let Err(e) = apply_op(&mut tx, op, replies, candidates, shards).await {
                for op in ops {
                    answer_unrun(op, replies);
                }
                return Err(e);
            }
        }
        let (ids, last) = assign_ids(&tx, candidates).await?;
        tx.commit().await.ctx("committing")?;
        Ok((ids, last))
    }
}

/// Queues the failure answer of an operation the group never ran.
fn answer_unrun(op: WriteOp, replies: &mut Vec<Reply>) {
    let failed = |e: &StoreError| StoreError::GroupFailed(e.to_string());
    match op {
        WriteOp::Register { reply, .. } => replies.push(Box::new(move |r| {
            let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
        })),
        WriteOp::Commit { reply, .. } => {
            if let Some(reply) = reply {
                replies.push(Box::new(move |r| {
                    let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
                }));
            }
        }
        WriteOp::Delete { reply, .. } => replies.push(Box::new(move |r| {
            let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
        })),
        WriteOp::Retention { reply, .. } => replies.push(Box::new(move |r| {
            let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
        })),
        WriteOp::SaveLedger { reply, .. } => replies.push(Box::new(move |r| {
            let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
        })),
        WriteOp::Flush { reply } => replies.push(Box::new(move |_| {
            let _ = reply.send(());
        })),
        WriteOp::Milestone { reply, .. } => replies.push(Box::new(move |r| {
            let _ = reply.send(Err(r.err().map_or(StoreError::WriterGone, failed)));
        })),
    }
}

/// Queues `reply`'s answer once the group's fate is known; a failed operation is
/// answered at once and fails the group.
fn settle<T: Send + 'static, U: Send + 'static>(
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<U, StoreError>>,
    replies: &mut Vec<Reply>,
    ok: impl FnOnce(T, &[Option<u64>]) -> U + Send + 'static,
) -> Result<(), StoreError> {
    match result {
        Ok(value) => {
            replies.push(Box::new(move |r| {
                let _ = reply.send(match r {
                    Ok(ids) => Ok(ok(value, ids)),
                    Err(e) => Err(StoreError::GroupFailed(e.to_string())),
                });
            }));
            Ok(())
        }
        Err(e) => {
            let _ = reply.send(Err(StoreError::GroupFailed(e.to_string())));
            Err(e)
        }
    }
}

async fn apply_op(
    tx: &mut deadpool_postgres::Transaction<'_>,
    op: WriteOp,
    replies: &mut Vec<Reply>,
    candidates: &mut Vec<Candidate>,
    shards: u32,
) -> Result<(), StoreError> {
    match op {
        WriteOp::Register {
            trackers,
            now,
            reply,
        } => {
            // One bad batch rolls back alone, as on SQLite.
            let sp = tx.savepoint("reg").await.ctx("opening a savepoint")?;
            let first = candidates.len();
            match register_in(&sp, &trackers, now, candidates, shards).await {
                Ok(out) => {
                    let released = sp.commit().await.ctx("releasing a savepoint");
                    settle(released, reply, replies, move |(), _| out)?;
                }
                Err(e) => {
                    candidates.truncate(first);
                    let _ = reply.send(Err(e));
                    sp.rollback().await.ctx("rolling back a savepoint")?;
                }
            }
        }
        WriteOp::Commit { unit, reply } => {
            let first = candidates.len();
            let result = commit_in(tx, unit, candidates).await;
            let last = candidates.len();
            match reply {
                Some(reply) => settle(result, reply, replies, move |(), ids| {
                    ids[first..last].iter().flatten().copied().collect()
                })?,
                None => result?,
            }
        }
        WriteOp::Delete { id, reply } => {
            let result = delete_in(tx, id).await;
            settle(result, reply, replies, |deleted, _| deleted)?;
        }
        WriteOp::Retention { older_than, reply } => {
            let result = retention_in(tx, older_than).await;
            settle(result, reply, replies, |n, _| n)?;
        }
        WriteOp::Flush { reply } => replies.push(Box::new(move |_| {
            let _ = reply.send(());
        })),
        WriteOp::SaveLedger {
            carrier,
            saved,
            reply,
        } => {
            let result = save_ledger_in(tx, carrier, &saved).await;
            settle(result, reply, replies, |(), _| ())?;
        }
        WriteOp::Milestone {
            tracker_id,
            milestone,
            follow,
            reply,
        } => {
            let result = milestone_in(tx, tracker_id, milestone, follow, candidates).await;
            settle(result, reply, replies, |outcome, _| outcome)?;
        }
    }
    Ok(())
}

/// Stores a milestone unless its kind is already there, with its event as a
/// candidate for the group's ids (taken last from the counter, like every event).
async fn milestone_in(
    tx: &deadpool_postgres::Transaction<'_>,
    tracker_id: u64,
    m: Milestone,
    follow: Vec<EventDraft>,
    candidates: &mut Vec<Candidate>,
) -> Result<MilestoneOutcome, StoreError> {
    let id = tracker_id as i64;
    // Kept at millisecond precision, so a repeat compares equal to what is stored.
    let m = Milestone::new(m.kind, m.at, m.note);
    let Some(row) = tx
        .query_opt(
            &format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE id = $1"),
            &[&id],
        )
        .await
        .ctx("reading a tracker")?
    else {
        return Ok(MilestoneOutcome::NoTracker);
    };
    // Another instance posting the same kind at once waits on the key, then finds it.
    let inserted = tx
        .execute(
            "INSERT INTO return_milestones (tracker_id, kind, at, note) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tracker_id, kind) DO NOTHING",
            &[&id, &m.kind.as_str(), &m.at.timestamp_millis(), &m.note],
        )
        .await
        .ctx("inserting a milestone")?;
    if inserted == 0 {
        let r = tx
            .query_one(
                "SELECT kind, at, note FROM return_milestones WHERE tracker_id = $1 AND kind = $2",
                &[&id, &m.kind.as_str()],
            )
            .await
            .ctx("reading a milestone")?;
        let kind: String = r.get(0);
        let stored = milestone_of(&kind, r.get(1), r.get(2))
            .ok_or_else(|| StoreError::Corrupt(tracker_id, format!("milestone {kind:?}")))?;
        return Ok(if stored == m {
            MilestoneOutcome::Unchanged(stored)
        } else {
            MilestoneOutcome::Conflict(stored)
        });
    }
    let (subject, emitted_at) = (subject_of(&tracker_row(&row)), Utc::now());
    for draft in std::iter::once(m.event()).chain(follow) {
        candidates.push(Candidate {
            subject: subject.clone(),
            draft,
            emitted_at,
        });
    }
    Ok(MilestoneOutcome::Added(m))
}

async fn delete_in(tx: &deadpool_postgres::Transaction<'_>, id: u64) -> Result<bool, StoreError> {
    let n = tx
        .execute("DELETE FROM trackers WHERE id = $1", &[&(id as i64)])
        .await
        .ctx("deleting a tracker")?;
    tx.execute(
        "DELETE FROM snapshots WHERE tracker_id = $1",
        &[&(id as i64)],
    )
    .await
    .ctx("deleting a snapshot")?;
    tx.execute(
        "DELETE FROM return_milestones WHERE tracker_id = $1",
        &[&(id as i64)],
    )
    .await
    .ctx("deleting a tracker's milestones")?;
    if n > 0 {
        // Delivered at commit: the owner stops polling it.
        for payload in owner_payloads(&OwnerMessage::Deleted(id)) {
            tx.execute("SELECT pg_notify($1, $2)", &[&OWNERS_CHANNEL, &payload])
                .await
                .ctx("notifying the owner of a deleted tracker")?;
        }
    }
    Ok(n > 0)
}

async fn retention_in(
    tx: &deadpool_postgres::Transaction<'_>,
    older_than: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let cutoff = older_than.timestamp_millis();
    let floor: Option<i64> = tx
        .query_one(
            "SELECT MAX(id) FROM events WHERE emitted_at < $1",
            &[&cutoff],
        )
        .await
        .ctx("finding the retention floor")?
        .get(0);
    let Some(floor) = floor else {
        return Ok(0);
    };
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('retention_floor', $1)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)",
        &[&floor],
    )
    .await
    .ctx("raising the retention floor")?;
    tx.execute("DELETE FROM events WHERE id <= $1", &[&floor])
        .await
        .ctx("deleting old events")
}

async fn save_ledger_in(
    tx: &deadpool_postgres::Transaction<'_>,
    carrier: &'static str,
    saved: &SavedLedger,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(saved)
        .map_err(|e| StoreError::CorruptLedger(carrier.into(), e.to_string()))?;
    tx.execute(
        "INSERT INTO quota_ledger (carrier, saved_at, json) VALUES ($1, $2, $3)
         ON CONFLICT (carrier) DO UPDATE SET saved_at = excluded.saved_at, json = excluded.json",
        &[&carrier, &(saved.saved_at as i64), &json],
    )
    .await
    .ctx("saving a quota ledger")?;
    Ok(())
}

async fn register_in(
    tx: &deadpool_postgres::Transaction<'_>,
    trackers: &[NewTracker],
    now: DateTime<Utc>,
    candidates: &mut Vec<Candidate>,
    shards: u32,
) -> Result<Vec<Registered>, StoreError> {
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO trackers (carrier, tracking_number, reference, labels, created_at, state, status, last_change_at, shard, promised_by, direction, return_for)
             VALUES ($1, $2, $3, $4, $5, 'active', 'pending', $6, $7, $8, $9, $10)
             ON CONFLICT (carrier, tracking_number) DO NOTHING
             RETURNING {TRACKER_COLUMNS}"
        ))
        .await
        .ctx("preparing the tracker insert")?;
    let lookup = tx
        .prepare_cached(&format!(
            "SELECT {TRACKER_COLUMNS} FROM trackers WHERE carrier = $1 AND tracking_number = $2"
        ))
        .await
        .ctx("preparing the tracker lookup")?;
    let mut result = Vec::with_capacity(trackers.len());
    for t in trackers {
        let inserted = tx
            .query_opt(
                &insert,
                &[
                    &t.carrier,
                    &t.tracking_number,
                    &t.reference,
                    &t.labels_json(),
                    &now.timestamp_millis(),
                    &now.timestamp(),
                    &(crate::ownership::shard_of(&t.carrier, &t.tracking_number, shards) as i32),
                    &t.promised_by_json(),
                    &t.direction.as_str(),
                    &t.return_for_string(),
                ],
            )
            .await
            .ctx("inserting a tracker")?;
        let (row, created) = match inserted {
            Some(r) => (tracker_row(&r), true),
            None => {
                let r = tx
                    .query_one(&lookup, &[&t.carrier, &t.tracking_number])
                    .await
                    .ctx("reading back a tracker")?;
                (tracker_row(&r), false)
            }
        };
        if created {
            let (subject, draft) = created_event(&row, now);
            candidates.push(Candidate {
                subject,
                draft,
                // Emission is trackd's own wall-clock time, like every other event's.
                emitted_at: Utc::now(),
            });
        }
        result.push(Registered { row, created });
    }
    // Delivered at commit: the owners of these trackers' shards start polling them.
    let created: Vec<u64> = result
        .iter()
        .filter(|r| r.created)
        .map(|r| r.row.id)
        .collect();
    for payload in owner_payloads(&OwnerMessage::Registered(created)) {
        tx.execute("SELECT pg_notify($1, $2)", &[&OWNERS_CHANNEL, &payload])
            .await
            .ctx("notifying the owners of new trackers")?;
    }
    Ok(result)
}

/// An owner message as NOTIFY payloads, each under PostgreSQL's size limit.
fn owner_payloads(message: &OwnerMessage) -> Vec<String> {
    match message {
        OwnerMessage::Registered(ids) => {
            let mut out = Vec::new();
            let mut current = String::from("registered");
            for id in ids {
                if current.len() > NOTIFY_MAX {
                    out.push(std::mem::replace(&mut current, String::from("registered")));
                }
                current.push(' ');
                current.push_str(&id.to_string());
            }
            if current.len() > "registered".len() {
                out.push(current);
            }
            out
        }
        OwnerMessage::Refresh(id) => vec![format!("refresh {id}")],
        OwnerMessage::Deleted(id) => vec![format!("deleted {id}")],
        OwnerMessage::Resync => vec!["resync".to_string()],
    }
}

/// Reads one NOTIFY payload back (unknown ones are ignored: a newer instance may send more).
fn parse_owner_payload(payload: &str) -> Option<OwnerMessage> {
    let mut words = payload.split(' ');
    let kind = words.next()?;
    let mut ids = words.map(|w| w.parse::<u64>());
    match kind {
        "registered" => ids
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .map(OwnerMessage::Registered),
        "refresh" => ids.next()?.ok().map(OwnerMessage::Refresh),
        "deleted" => ids.next()?.ok().map(OwnerMessage::Deleted),
        "resync" => Some(OwnerMessage::Resync),
        _ => None,
    }
}

async fn commit_in(
    tx: &deadpool_postgres::Transaction<'_>,
    u: CommitUnit,
    candidates: &mut Vec<Candidate>,
) -> Result<(), StoreError> {
    let id = u.subject.tracker_id as i64;
    let update = tx
        .prepare_cached(
            "UPDATE trackers SET state = $2, status = $3, error_kind = $4, eta_deadline = $5, last_change_at = $6 WHERE id = $1",
        )
        .await
        .ctx("preparing the tracker update")?;
    let updated = tx
        .execute(
            &update,
            &[
                &id,
                &u.state.as_str(),
                &u.status.as_str(),
                &u.error_kind,
                &u.eta_deadline,
                &u.last_change_at,
            ],
        )
        .await
        .ctx("updating a tracker")?;
    if updated == 0 {
        return Ok(()); // deleted while the poll was in flight
    }
    if let Some(snap) = &u.snapshot {
        let json = serde_json::to_string(&**snap)
            .map_err(|e| StoreError::Corrupt(u.subject.tracker_id, e.to_string()))?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO snapshots (tracker_id, json) VALUES ($1, $2)
                 ON CONFLICT (tracker_id) DO UPDATE SET json = excluded.json",
            )
            .await
            .ctx("preparing the snapshot upsert")?;
        tx.execute(&upsert, &[&id, &json])
            .await
            .ctx("writing a snapshot")?;
    }
    for draft in u.events {
        candidates.push(Candidate {
            subject: u.subject.clone(),
            draft,
            emitted_at: u.emitted_at,
        });
    }
    Ok(())
}

/// Drops facts already in the log (or twice in the group), then takes ids from
/// the counter (last, so its row lock orders commits) and inserts the events.
async fn assign_ids(
    tx: &deadpool_postgres::Transaction<'_>,
    candidates: &[Candidate],
) -> Result<(Vec<Option<u64>>, Option<u64>), StoreError> {
    let mut ids = vec![None; candidates.len()];
    if candidates.is_empty() {
        return Ok((ids, None));
    }
    let tracker_ids: Vec<i64> = candidates
        .iter()
        .map(|c| c.subject.tracker_id as i64)
        .collect();
    let facts: Vec<i64> = candidates.iter().map(|c| c.draft.fact as i64).collect();
    let mut seen: HashSet<(i64, i64)> = tx
        .query(
            "SELECT e.tracker_id, e.fact FROM events e
             JOIN unnest($1::int8[], $2::int8[]) AS c(tracker_id, fact)
               ON e.tracker_id = c.tracker_id AND e.fact = c.fact",
            &[&tracker_ids, &facts],
        )
        .await
        .ctx("finding facts already stored")?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let fresh: Vec<usize> = (0..candidates.len())
        .filter(|&i| seen.insert((tracker_ids[i], facts[i])))
        .collect();
    if fresh.is_empty() {
        return Ok((ids, None));
    }
    let last: i64 = tx
        .query_one(
            "UPDATE event_counter SET last_id = last_id + $1 RETURNING last_id",
            &[&(fresh.len() as i64)],
        )
        .await
        .ctx("taking event ids")?
        .get(0);
    let first = last as u64 - fresh.len() as u64 + 1;
    let mut stored = Vec::with_capacity(fresh.len());
    for (n, &i) in fresh.iter().enumerate() {
        let c = &candidates[i];
        let id = first + n as u64;
        ids[i] = Some(id);
        stored.push(StoredEvent::build(id, &c.subject, &c.draft, c.emitted_at));
    }
    let col_ids: Vec<i64> = stored.iter().map(|e| e.id as i64).collect();
    let col_trackers: Vec<i64> = fresh.iter().map(|&i| tracker_ids[i]).collect();
    let col_facts: Vec<i64> = fresh.iter().map(|&i| facts[i]).collect();
    let col_types: Vec<&str> = stored.iter().map(|e| e.kind.as_str()).collect();
    let col_carriers: Vec<&str> = stored.iter().map(|e| &*e.carrier).collect();
    let col_refs: Vec<Option<&str>> = stored.iter().map(|e| e.reference.as_deref()).collect();
    let col_emitted: Vec<i64> = fresh
        .iter()
        .map(|&i| candidates[i].emitted_at.timestamp_millis())
        .collect();
    let col_json: Vec<&str> = stored.iter().map(|e| &*e.json).collect();
    tx.execute(
        "INSERT INTO events (id, tracker_id, fact, type, carrier, reference, emitted_at, json)
         SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[])",
        &[
            &col_ids,
            &col_trackers,
            &col_facts,
            &col_types,
            &col_carriers,
            &col_refs,
            &col_emitted,
            &col_json,
        ],
    )
    .await
    .ctx("inserting events")?;
    // Delivered at commit, for instances that serve the stream from the table.
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&EVENTS_CHANNEL, &last.to_string()],
    )
    .await
    .ctx("notifying new events")?;
    Ok((ids, Some(last as u64)))
}
