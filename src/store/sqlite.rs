//! Embedded storage (SQLite, WAL), the default backend: one file, no service.
//! One writer thread group-commits many small units per transaction; an event is
//! durable in the log before anyone can stream it.

use super::{
    CommitUnit, EventColumns, EventFilter, EventSink, NewTracker, Registered, StoreBackend,
    StoreError, TrackerColumns, TrackerFilter, TrackerRow, created_event, milestone_of, subject_of,
};
use crate::events::{EventDraft, StoredEvent, Subject};
use crate::quota::SavedLedger;
use crate::returns::{Milestone, MilestoneOutcome};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use trackd_carrier_sdk::Snapshot;

pub(super) trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { context, source })
    }
}

/// SQLite's `synchronous` mode for the writer: when a commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The WAL is fsync'd at every group commit, before its events are published:
    /// a streamed event survives an OS crash or power loss.
    Full,
    /// fsync at checkpoints only: cheaper commits, but the last ones can roll back
    /// after an OS crash or power loss (a process crash alone loses nothing).
    Normal,
}

impl Synchronous {
    /// The config spelling (`full`, `normal`).
    pub fn parse(s: &str) -> Option<Synchronous> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Some(Synchronous::Full),
            "normal" => Some(Synchronous::Normal),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
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
    /// Reads the writer connection's `PRAGMA synchronous` (0 off, 1 normal, 2 full).
    Durability {
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
    Milestone {
        tracker_id: u64,
        milestone: Milestone,
        follow: Vec<EventDraft>,
        reply: oneshot::Sender<Result<MilestoneOutcome, StoreError>>,
    },
}

/// Handle to the embedded store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<WriteOp>,
    reader: Arc<Mutex<Connection>>,
    path: PathBuf,
    webhooks: Arc<super::sqlite_webhooks::SqliteWebhooks>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS trackers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    reference TEXT,
    labels TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    error_kind TEXT,
    eta_deadline INTEGER,
    last_change_at INTEGER NOT NULL,
    promised_by TEXT,
    direction TEXT NOT NULL DEFAULT 'outbound',
    return_for TEXT,
    UNIQUE (carrier, tracking_number)
);
CREATE TABLE IF NOT EXISTS return_milestones (
    tracker_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    note TEXT,
    PRIMARY KEY (tracker_id, kind)
);
CREATE INDEX IF NOT EXISTS trackers_reference ON trackers(reference);
CREATE TABLE IF NOT EXISTS snapshots (
    tracker_id INTEGER PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    tracker_id INTEGER NOT NULL,
    fact INTEGER NOT NULL,
    type TEXT NOT NULL,
    carrier TEXT NOT NULL,
    reference TEXT,
    emitted_at INTEGER NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (tracker_id, fact)
);
CREATE INDEX IF NOT EXISTS events_emitted ON events(emitted_at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quota_ledger (
    carrier TEXT PRIMARY KEY,
    saved_at INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    failing_since INTEGER,
    failing_reported INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    replays_made INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS webhook_lanes (
    endpoint_id TEXT NOT NULL,
    lane INTEGER NOT NULL,
    position INTEGER NOT NULL,
    until INTEGER,
    event_ids TEXT,
    since INTEGER,
    before INTEGER,
    PRIMARY KEY (endpoint_id, lane)
);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL,
    lane INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    settled TEXT,
    status INTEGER,
    latency_ms INTEGER,
    error TEXT,
    excerpt TEXT
);
CREATE INDEX IF NOT EXISTS webhook_attempts_event ON webhook_attempts(endpoint_id, lane, event_id);
CREATE INDEX IF NOT EXISTS webhook_attempts_log ON webhook_attempts(endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_attempts_at ON webhook_attempts(at);
";

/// Columns added after a table was first created: files made by an older trackd get them here.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "trackers",
        "promised_by",
        "ALTER TABLE trackers ADD COLUMN promised_by TEXT",
    ),
    (
        "trackers",
        "direction",
        "ALTER TABLE trackers ADD COLUMN direction TEXT NOT NULL DEFAULT 'outbound'",
    ),
    (
        "trackers",
        "return_for",
        "ALTER TABLE trackers ADD COLUMN return_for TEXT",
    ),
];

fn add_missing_columns(conn: &Connection) -> Result<(), StoreError> {
    for (table, column, ddl) in ADDED_COLUMNS {
        let present: bool = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))
            .ctx("reading the schema")?
            .exists(params![column])
            .ctx("reading the schema")?;
        if !present {
            conn.execute_batch(ddl)
                .ctx("adding a column to the schema")?;
        }
    }
    Ok(())
}

fn open(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).ctx("opening the database")?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF;",
        synchronous.pragma()
    ))
    .ctx("setting pragmas")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/trackd.sqlite` and starts the writer,
    /// whose commits are durable as `synchronous` says.
    pub fn open(
        data_dir: &Path,
        synchronous: Synchronous,
        sink: Arc<dyn EventSink>,
    ) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join("trackd.sqlite");
        let wconn = open(&path, synchronous)?;
        wconn.execute_batch(SCHEMA).ctx("creating the schema")?;
        add_missing_columns(&wconn)?;
        // The reader never writes; its durability mode does not matter.
        let rconn = open(&path, Synchronous::Normal)?;
        let webhooks = Arc::new(super::sqlite_webhooks::SqliteWebhooks::open(&path)?);
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer::new(wconn, sink)?;
        std::thread::Builder::new()
            .name("trackd-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| StoreError::DataDir {
                path: path.clone(),
                source,
            })?;
        Ok(SqliteStore {
            writer: tx,
            reader: Arc::new(Mutex::new(rconn)),
            path,
            webhooks,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// The writer's `PRAGMA synchronous` as SQLite reports it (2 = full), for tests and `/readyz`-style checks.
    pub async fn durability(&self) -> Result<i64, StoreError> {
        self.ask(|reply| WriteOp::Durability { reply }).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }

    /// Reads synchronously (startup, tools).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }
}

#[async_trait::async_trait]
impl StoreBackend for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn webhooks(&self) -> Arc<dyn crate::webhooks::WebhookStore> {
        self.webhooks.clone()
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
        rx.await.map_err(|_| StoreError::WriterGone)
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
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT carrier, json FROM quota_ledger")
                .ctx("loading quota ledgers")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .ctx("loading quota ledgers")?;
            let mut out = Vec::new();
            for row in rows {
                let (carrier, json) = row.ctx("loading quota ledgers")?;
                match serde_json::from_str(&json) {
                    Ok(saved) => out.push((carrier, saved)),
                    // Unreadable usage must not start a fresh window: refuse to start.
                    Err(e) => return Err(StoreError::CorruptLedger(carrier, e.to_string())),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn snapshot(&self, id: u64) -> Result<Option<Snapshot>, StoreError> {
        self.read(move |c| load_snapshot(c, id)).await
    }

    async fn tracker(&self, id: u64) -> Result<Option<TrackerRow>, StoreError> {
        self.read(move |c| {
            c.query_row(
                &format!("{TRACKER_SELECT} WHERE id = ?1"),
                [id as i64],
                tracker_row,
            )
            .optional()
            .ctx("reading a tracker")
        })
        .await
    }

    async fn list_trackers(
        &self,
        filter: TrackerFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<TrackerRow>, StoreError> {
        self.read(move |c| {
            let mut sql = format!("{TRACKER_SELECT} WHERE id > ?1");
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(after as i64)];
            if let Some(v) = filter.carrier {
                args.push(Box::new(v));
                sql.push_str(&format!(" AND carrier = ?{}", args.len()));
            }
            if let Some(v) = filter.status {
                args.push(Box::new(v.as_str()));
                sql.push_str(&format!(" AND status = ?{}", args.len()));
            }
            if let Some(v) = filter.reference {
                args.push(Box::new(v));
                sql.push_str(&format!(" AND reference = ?{}", args.len()));
            }
            if let Some(v) = filter.direction {
                args.push(Box::new(v.as_str()));
                sql.push_str(&format!(" AND direction = ?{}", args.len()));
            }
            args.push(Box::new(limit as i64));
            sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len()));
            let mut stmt = c.prepare_cached(&sql).ctx("listing trackers")?;
            let rows = stmt
                .query_map(
                    rusqlite::params_from_iter(args.iter().map(|b| b.as_ref())),
                    tracker_row,
                )
                .ctx("listing trackers")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("listing trackers")
        })
        .await
    }

    async fn events_after(
        &self,
        after: u64,
        limit: usize,
        filter: EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |c| read_events(c, after, limit, &filter))
            .await
    }

    async fn cursors(&self) -> Result<(u64, u64), StoreError> {
        self.read(cursors).await
    }

    async fn all_trackers(&self) -> Result<Vec<TrackerRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(TRACKER_SELECT).ctx("loading trackers")?;
            let rows = stmt.query_map([], tracker_row).ctx("loading trackers")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("loading trackers")
        })
        .await
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
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT kind, at, note FROM return_milestones WHERE tracker_id = ?1",
                )
                .ctx("listing milestones")?;
            let rows = stmt
                .query_map([tracker_id as i64], |r| {
                    Ok(milestone_of(&r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
                })
                .ctx("listing milestones")?;
            let mut out: Vec<Milestone> = rows
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing milestones")?
                .into_iter()
                .flatten()
                .collect();
            out.sort_by_key(|m| m.kind);
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .ctx("pinging the store")
        })
        .await
    }
}

const TRACKER_SELECT: &str = "SELECT id, carrier, tracking_number, reference, labels, created_at, state, status, error_kind, eta_deadline, last_change_at, promised_by, direction, return_for FROM trackers";

fn tracker_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrackerRow> {
    Ok(TrackerColumns {
        id: r.get(0)?,
        carrier: r.get(1)?,
        tracking_number: r.get(2)?,
        reference: r.get(3)?,
        labels_json: r.get(4)?,
        created_at_ms: r.get(5)?,
        state: r.get(6)?,
        status: r.get(7)?,
        error_kind: r.get(8)?,
        eta_deadline: r.get(9)?,
        last_change_at: r.get(10)?,
        promised_by_json: r.get(11)?,
        direction: r.get(12)?,
        return_for: r.get(13)?,
    }
    .into())
}

fn load_snapshot(c: &Connection, id: u64) -> Result<Option<Snapshot>, StoreError> {
    let json: Option<String> = c
        .query_row(
            "SELECT json FROM snapshots WHERE tracker_id = ?1",
            [id as i64],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading a snapshot")?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(id, e.to_string())))
        .transpose()
}

fn read_events(
    c: &Connection,
    after: u64,
    limit: usize,
    f: &EventFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT id, type, tracker_id, carrier, reference, json FROM events WHERE id > ?1",
    );
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(after as i64)];
    if let Some(v) = &f.carrier {
        args.push(Box::new(v.clone()));
        sql.push_str(&format!(" AND carrier = ?{}", args.len()));
    }
    if let Some(v) = f.tracker_id {
        args.push(Box::new(v as i64));
        sql.push_str(&format!(" AND tracker_id = ?{}", args.len()));
    }
    if let Some(v) = &f.reference {
        args.push(Box::new(v.clone()));
        sql.push_str(&format!(" AND reference = ?{}", args.len()));
    }
    if !f.types.is_empty() {
        let mut marks = Vec::new();
        for t in &f.types {
            args.push(Box::new(t.as_str()));
            marks.push(format!("?{}", args.len()));
        }
        sql.push_str(&format!(" AND type IN ({})", marks.join(",")));
    }
    args.push(Box::new(limit as i64));
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len()));
    let mut stmt = c.prepare_cached(&sql).ctx("reading events")?;
    let rows = stmt
        .query_map(
            rusqlite::params_from_iter(args.iter().map(|b| b.as_ref())),
            |r| {
                Ok(StoredEvent::from(EventColumns {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    tracker_id: r.get(2)?,
                    carrier: r.get(3)?,
                    reference: r.get(4)?,
                    json: r.get(5)?,
                }))
            },
        )
        .ctx("reading events")?;
    rows.collect::<Result<Vec<_>, _>>().ctx("reading events")
}

fn meta(c: &Connection, key: &str) -> Result<u64, StoreError> {
    let v: Option<i64> = c
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .ctx("reading meta")?;
    Ok(v.unwrap_or(0) as u64)
}

fn cursors(c: &Connection) -> Result<(u64, u64), StoreError> {
    let max_event: i64 = c
        .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
        .ctx("reading the event cursor")?;
    let last = meta(c, "last_event_id")?.max(max_event as u64);
    Ok((last, meta(c, "retention_floor")?))
}

/// Answers one queued operation once its group commit is known to have succeeded or failed.
type Reply = Box<dyn FnOnce(Option<&StoreError>)>;

struct Writer {
    conn: Connection,
    sink: Arc<dyn EventSink>,
    last_event_id: u64,
}

/// Most operations one transaction groups; bounds commit latency under load.
const GROUP_MAX: usize = 1024;

impl Writer {
    fn new(conn: Connection, sink: Arc<dyn EventSink>) -> Result<Writer, StoreError> {
        let (last, _) = cursors(&conn)?;
        Ok(Writer {
            conn,
            sink,
            last_event_id: last,
        })
    }

    fn run(&mut self, rx: mpsc::Receiver<WriteOp>) {
        while let Ok(first) = rx.recv() {
            let mut ops = vec![first];
            while ops.len() < GROUP_MAX {
                match rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            self.apply_group(ops);
        }
    }

    fn apply_group(&mut self, ops: Vec<WriteOp>) {
        let started = Instant::now();
        let units = ops.len();
        let last_before = self.last_event_id;
        let mut published: Vec<StoredEvent> = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        let result = (|| -> Result<(), StoreError> {
            let tx = self.conn.transaction().ctx("starting a transaction")?;
            for op in ops {
                match op {
                    WriteOp::Register {
                        trackers,
                        now,
                        reply,
                    } => {
                        let sp = Savepoint::new(&tx)?;
                        match register_in(
                            &tx,
                            &trackers,
                            now,
                            &mut self.last_event_id,
                            &mut published,
                        ) {
                            Ok(out) => {
                                sp.release(&tx)?;
                                replies.push(Box::new(move |err| {
                                    let _ = reply.send(match err {
                                        None => Ok(out),
                                        Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                                    });
                                }));
                            }
                            Err(e) => {
                                if let Err(gone) = sp.rollback(&tx) {
                                    // SQLite rolls the whole transaction back by
                                    // itself on some errors (disk full, I/O), taking
                                    // the savepoint with it: the group fails, and the
                                    // cause is what the log must say.
                                    tracing::error!(error = %e, rollback_error = %gone, "registration failed and took its transaction with it");
                                    let _ = reply.send(Err(e));
                                    return Err(gone);
                                }
                                let _ = reply.send(Err(e));
                            }
                        }
                    }
                    WriteOp::Commit { unit, reply } => {
                        let ids = commit_in(&tx, &unit, &mut self.last_event_id, &mut published)?;
                        if let Some(reply) = reply {
                            replies.push(Box::new(move |err| {
                                let _ = reply.send(match err {
                                    None => Ok(ids),
                                    Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                                });
                            }));
                        }
                    }
                    WriteOp::Delete { id, reply } => {
                        let n = tx
                            .execute("DELETE FROM trackers WHERE id = ?1", [id as i64])
                            .ctx("deleting a tracker")?;
                        tx.execute("DELETE FROM snapshots WHERE tracker_id = ?1", [id as i64])
                            .ctx("deleting a snapshot")?;
                        tx.execute(
                            "DELETE FROM return_milestones WHERE tracker_id = ?1",
                            [id as i64],
                        )
                        .ctx("deleting a tracker's milestones")?;
                        replies.push(Box::new(move |err| {
                            let _ = reply.send(match err {
                                None => Ok(n > 0),
                                Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                            });
                        }));
                    }
                    WriteOp::Retention { older_than, reply } => {
                        let cutoff = older_than.timestamp_millis();
                        let floor: Option<i64> = tx
                            .query_row(
                                "SELECT MAX(id) FROM events WHERE emitted_at < ?1",
                                [cutoff],
                                |r| r.get(0),
                            )
                            .ctx("finding the retention floor")?;
                        let n = match floor {
                            Some(floor) => {
                                tx.execute(
                                    "INSERT INTO meta(key, value) VALUES('retention_floor', ?1)
                                     ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                                    [floor],
                                )
                                .ctx("raising the retention floor")?;
                                tx.execute("DELETE FROM events WHERE id <= ?1", [floor])
                                    .ctx("deleting old events")?
                                    as u64
                            }
                            None => 0,
                        };
                        replies.push(Box::new(move |err| {
                            let _ = reply.send(match err {
                                None => Ok(n),
                                Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                            });
                        }));
                    }
                    WriteOp::Flush { reply } => {
                        replies.push(Box::new(move |_| {
                            let _ = reply.send(());
                        }));
                    }
                    WriteOp::SaveLedger {
                        carrier,
                        saved,
                        reply,
                    } => {
                        let json = serde_json::to_string(&saved).map_err(|e| {
                            StoreError::CorruptLedger(carrier.into(), e.to_string())
                        })?;
                        tx.prepare_cached(
                            "INSERT INTO quota_ledger (carrier, saved_at, json) VALUES (?1, ?2, ?3)
                             ON CONFLICT(carrier) DO UPDATE SET saved_at = excluded.saved_at, json = excluded.json",
                        )
                        .ctx("preparing the quota ledger upsert")?
                        .execute(params![carrier, saved.saved_at as i64, json])
                        .ctx("saving a quota ledger")?;
                        replies.push(Box::new(move |err| {
                            let _ = reply.send(match err {
                                None => Ok(()),
                                Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                            });
                        }));
                    }
                    WriteOp::Durability { reply } => {
                        let mode = tx
                            .query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                            .ctx("reading the synchronous mode");
                        let _ = reply.send(mode);
                    }
                    WriteOp::Milestone {
                        tracker_id,
                        milestone,
                        follow,
                        reply,
                    } => {
                        let outcome = match milestone_in(
                            &tx,
                            tracker_id,
                            milestone,
                            &follow,
                            &mut self.last_event_id,
                            &mut published,
                        ) {
                            Ok(outcome) => outcome,
                            Err(e) => {
                                let _ = reply.send(Err(StoreError::GroupFailed(e.to_string())));
                                return Err(e);
                            }
                        };
                        replies.push(Box::new(move |err| {
                            let _ = reply.send(match err {
                                None => Ok(outcome),
                                Some(e) => Err(StoreError::GroupFailed(e.to_string())),
                            });
                        }));
                    }
                }
            }
            if self.last_event_id != last_before {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES('last_event_id', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [self.last_event_id as i64],
                )
                .ctx("saving the event cursor")?;
            }
            tx.commit().ctx("committing")?;
            Ok(())
        })();
        match &result {
            Ok(()) => {
                if !published.is_empty() {
                    self.sink.publish(published);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store group commit failed; events of this group were not stored");
                self.last_event_id = last_before;
            }
        }
        self.sink
            .observe_commit(started.elapsed().as_secs_f64(), units);
        let err = result.err();
        for reply in replies {
            reply(err.as_ref());
        }
    }
}

/// A named savepoint so one bad registration batch rolls back alone.
struct Savepoint;

impl Savepoint {
    fn new(tx: &Connection) -> Result<Savepoint, StoreError> {
        tx.execute_batch("SAVEPOINT reg")
            .ctx("opening a savepoint")?;
        Ok(Savepoint)
    }
    fn release(self, tx: &Connection) -> Result<(), StoreError> {
        tx.execute_batch("RELEASE reg").ctx("releasing a savepoint")
    }
    fn rollback(self, tx: &Connection) -> Result<(), StoreError> {
        tx.execute_batch("ROLLBACK TO reg; RELEASE reg")
            .ctx("rolling back a savepoint")
    }
}

fn insert_event(
    tx: &Connection,
    subject: &Subject,
    draft: &EventDraft,
    emitted_at: DateTime<Utc>,
    last_id: &mut u64,
    out: &mut Vec<StoredEvent>,
) -> Result<Option<u64>, StoreError> {
    let id = *last_id + 1;
    let ev = StoredEvent::build(id, subject, draft, emitted_at);
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO events (id, tracker_id, fact, type, carrier, reference, emitted_at, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .ctx("preparing the event insert")?
        .execute(params![
            id as i64,
            subject.tracker_id as i64,
            draft.fact as i64,
            draft.kind.as_str(),
            &*subject.carrier,
            subject.reference.as_deref(),
            emitted_at.timestamp_millis(),
            &*ev.json,
        ])
        .ctx("inserting an event")?;
    if n == 0 {
        return Ok(None); // the same carrier fact was already announced
    }
    *last_id = id;
    out.push(ev);
    Ok(Some(id))
}

fn register_in(
    tx: &Connection,
    trackers: &[NewTracker],
    now: DateTime<Utc>,
    last_id: &mut u64,
    out: &mut Vec<StoredEvent>,
) -> Result<Vec<Registered>, StoreError> {
    let mut result = Vec::with_capacity(trackers.len());
    let now_ms = now.timestamp_millis();
    for t in trackers {
        let labels = t.labels_json();
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO trackers (carrier, tracking_number, reference, labels, created_at, state, status, last_change_at, promised_by, direction, return_for)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'active', 'pending', ?6, ?7, ?8, ?9)",
            )
            .ctx("preparing the tracker insert")?
            .execute(params![t.carrier, t.tracking_number, t.reference, labels, now_ms, now.timestamp(), t.promised_by_json(), t.direction.as_str(), t.return_for_string()])
            .ctx("inserting a tracker")?;
        let row = tx
            .prepare_cached(&format!(
                "{TRACKER_SELECT} WHERE carrier = ?1 AND tracking_number = ?2"
            ))
            .ctx("preparing the tracker lookup")?
            .query_row(params![t.carrier, t.tracking_number], tracker_row)
            .ctx("reading back a tracker")?;
        if inserted > 0 {
            let (subject, draft) = created_event(&row, now);
            // Emission is trackd's own wall-clock time, like every other event's.
            insert_event(tx, &subject, &draft, Utc::now(), last_id, out)?;
        }
        result.push(Registered {
            row,
            created: inserted > 0,
        });
    }
    Ok(result)
}

/// Stores a milestone unless its kind is already there, with its event.
fn milestone_in(
    tx: &Connection,
    tracker_id: u64,
    m: Milestone,
    follow: &[EventDraft],
    last_id: &mut u64,
    out: &mut Vec<StoredEvent>,
) -> Result<MilestoneOutcome, StoreError> {
    let id = tracker_id as i64;
    // Kept at millisecond precision, so a repeat compares equal to what is stored.
    let m = Milestone::new(m.kind, m.at, m.note);
    let existing = tx
        .prepare_cached(
            "SELECT kind, at, note FROM return_milestones WHERE tracker_id = ?1 AND kind = ?2",
        )
        .ctx("preparing the milestone lookup")?
        .query_row(params![id, m.kind.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()
        .ctx("reading a milestone")?;
    if let Some((kind, at, note)) = existing {
        let stored = milestone_of(&kind, at, note)
            .ok_or_else(|| StoreError::Corrupt(tracker_id, format!("milestone {kind:?}")))?;
        return Ok(if stored == m {
            MilestoneOutcome::Unchanged(stored)
        } else {
            MilestoneOutcome::Conflict(stored)
        });
    }
    let Some(row) = tx
        .prepare_cached(&format!("{TRACKER_SELECT} WHERE id = ?1"))
        .ctx("preparing the tracker lookup")?
        .query_row([id], tracker_row)
        .optional()
        .ctx("reading a tracker")?
    else {
        return Ok(MilestoneOutcome::NoTracker);
    };
    tx.prepare_cached(
        "INSERT INTO return_milestones (tracker_id, kind, at, note) VALUES (?1, ?2, ?3, ?4)",
    )
    .ctx("preparing the milestone insert")?
    .execute(params![
        id,
        m.kind.as_str(),
        m.at.timestamp_millis(),
        m.note
    ])
    .ctx("inserting a milestone")?;
    let (subject, now) = (subject_of(&row), Utc::now());
    insert_event(tx, &subject, &m.event(), now, last_id, out)?;
    for draft in follow {
        insert_event(tx, &subject, draft, now, last_id, out)?;
    }
    Ok(MilestoneOutcome::Added(m))
}

fn commit_in(
    tx: &Connection,
    u: &CommitUnit,
    last_id: &mut u64,
    out: &mut Vec<StoredEvent>,
) -> Result<Vec<u64>, StoreError> {
    let id = u.subject.tracker_id as i64;
    let updated = tx
        .prepare_cached(
            "UPDATE trackers SET state = ?2, status = ?3, error_kind = ?4, eta_deadline = ?5, last_change_at = ?6 WHERE id = ?1",
        )
        .ctx("preparing the tracker update")?
        .execute(params![id, u.state.as_str(), u.status.as_str(), u.error_kind, u.eta_deadline, u.last_change_at])
        .ctx("updating a tracker")?;
    if updated == 0 {
        return Ok(Vec::new()); // deleted while the poll was in flight
    }
    if let Some(snap) = &u.snapshot {
        let json = serde_json::to_string(&**snap)
            .map_err(|e| StoreError::Corrupt(u.subject.tracker_id, e.to_string()))?;
        tx.prepare_cached("INSERT INTO snapshots (tracker_id, json) VALUES (?1, ?2) ON CONFLICT(tracker_id) DO UPDATE SET json = excluded.json")
            .ctx("preparing the snapshot upsert")?
            .execute(params![id, json])
            .ctx("writing a snapshot")?;
    }
    let mut ids = Vec::new();
    for draft in &u.events {
        if let Some(eid) = insert_event(tx, &u.subject, draft, u.emitted_at, last_id, out)? {
            ids.push(eid);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::SavedWindow;

    struct NoSink;
    impl EventSink for NoSink {
        fn publish(&self, _events: Vec<StoredEvent>) {}
    }

    fn open_in(dir: &Path, mode: Synchronous) -> SqliteStore {
        SqliteStore::open(dir, mode, Arc::new(NoSink)).unwrap()
    }

    #[tokio::test]
    async fn a_file_from_an_older_trackd_gains_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = Connection::open(dir.path().join("trackd.sqlite")).unwrap();
            old.execute_batch(
                "CREATE TABLE trackers (id INTEGER PRIMARY KEY AUTOINCREMENT, carrier TEXT NOT NULL, tracking_number TEXT NOT NULL, reference TEXT, labels TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, state TEXT NOT NULL, status TEXT NOT NULL, error_kind TEXT, eta_deadline INTEGER, last_change_at INTEGER NOT NULL, UNIQUE (carrier, tracking_number));
                 INSERT INTO trackers (carrier, tracking_number, created_at, state, status, last_change_at) VALUES ('ups', '1Z1', 0, 'active', 'pending', 0);",
            )
            .unwrap();
        }
        let store = open_in(dir.path(), Synchronous::Normal);
        let rows = store.all_trackers().await.unwrap();
        assert_eq!((rows.len(), rows[0].promised_by), (1, None));
        assert_eq!(
            (rows[0].direction, rows[0].return_for.clone()),
            (crate::returns::Direction::Outbound, None)
        );
        drop(store);
        // Opening again finds the column there and leaves it.
        let store = open_in(dir.path(), Synchronous::Normal);
        assert_eq!(store.all_trackers().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_default_configuration_fsyncs_every_commit() {
        let cfg = crate::config::Config::load(None, Vec::<(String, String)>::new()).unwrap();
        assert_eq!(cfg.storage.synchronous, Synchronous::Full);
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path(), cfg.storage.synchronous);
        assert_eq!(
            store.durability().await.unwrap(),
            2,
            "PRAGMA synchronous=FULL"
        );
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path(), Synchronous::Normal);
        assert_eq!(
            store.durability().await.unwrap(),
            1,
            "PRAGMA synchronous=NORMAL"
        );
    }

    #[tokio::test]
    async fn quota_ledgers_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let saved = SavedLedger {
            saved_at: 1_700_000_000,
            reserved: 3,
            windows: vec![SavedWindow {
                secs: 3_600,
                bucket_secs: 30,
                buckets: vec![(56_666_666, 2), (56_666_667, 1)],
            }],
        };
        {
            let store = open_in(dir.path(), Synchronous::Full);
            store.save_ledger("dhl", saved.clone()).await.unwrap();
            let mut newer = saved.clone();
            newer.reserved = 4;
            store.save_ledger("dhl", newer).await.unwrap();
            store.save_ledger("ups", saved.clone()).await.unwrap();
        }
        let store = open_in(dir.path(), Synchronous::Full);
        let mut all = store.quota_ledgers().await.unwrap();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, "dhl");
        assert_eq!(all[0].1.reserved, 4, "the last write wins");
        assert_eq!(all[1], ("ups".to_string(), saved));
    }

    #[tokio::test]
    async fn an_unreadable_ledger_is_an_error_not_a_fresh_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(dir.path(), Synchronous::Full);
        store
            .read_blocking(|c| {
                c.execute(
                    "INSERT INTO quota_ledger (carrier, saved_at, json) VALUES ('dhl', 0, '{not json')",
                    [],
                )
                .ctx("corrupting")
            })
            .unwrap();
        let err = store.quota_ledgers().await.unwrap_err();
        assert!(
            matches!(err, StoreError::CorruptLedger(ref c, _) if c == "dhl"),
            "{err}"
        );
    }
}
