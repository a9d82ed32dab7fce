//! Storage seam: trackers, latest snapshots, the event log and the quota ledger.
//!
//! The daemon talks to one [`StoreBackend`]; which engine runs behind it is a
//! config choice (`[storage] backend`):
//! - [`sqlite`] (default): one embedded file, one writer thread, no service needed.
//! - [`postgres`]: PostgreSQL as the system of record, for users who outgrow one
//!   instance.
//!
//! Every backend keeps the same contract, tested on both by `tests/store_contract.rs`:
//! registration is idempotent on (carrier, number); a poll's changes commit
//! atomically; event ids are dense, assigned in commit order and never reused;
//! the same carrier fact (tracker, fact) is stored once; an event is durable in the
//! log before the [`EventSink`] sees it.

pub mod postgres;
pub mod sqlite;
mod sqlite_webhooks;

use crate::events::{EventDraft, EventType, StoredEvent, Subject};
use crate::quota::SavedLedger;
use crate::returns::{Direction, Milestone, MilestoneOutcome, ReturnFor};
use crate::trackers::TrackerState;
use chrono::{DateTime, TimeZone, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use trackd_carrier_sdk::{Snapshot, Status};

pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, Synchronous};

/// Storage failures, with the operation that failed.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("PostgreSQL error while {context}: {source}")]
    Postgres {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL connection pool error while {context}: {message}")]
    Pool {
        context: &'static str,
        message: String,
    },
    #[error("PostgreSQL schema migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored snapshot for tracker {0} is corrupt: {1}")]
    Corrupt(u64, String),
    #[error("the store writer has stopped")]
    WriterGone,
    #[error("stored quota ledger of carrier {0} is corrupt: {1}")]
    CorruptLedger(String, String),
    #[error("no webhook endpoint {0}")]
    NoSuchWebhook(String),
    #[error("stored webhook endpoint {0} is corrupt: {1}")]
    CorruptWebhook(String, String),
    #[error("the group commit that held this operation failed: {0}")]
    GroupFailed(String),
    #[error(
        "write fenced: the lease on shard {shard} moved past epoch {epoch} (another instance owns it now)"
    )]
    Fenced { shard: u32, epoch: u64 },
    #[error(
        "the fleet's shard count is {stored} in the database but fleet.shards = {configured}; it is fixed when the database is first used"
    )]
    ShardCountMismatch { stored: u32, configured: u32 },
}

/// A tracker as stored (the full record the API shows).
#[derive(Debug, Clone)]
pub struct TrackerRow {
    pub id: u64,
    pub carrier: String,
    pub tracking_number: String,
    pub reference: Option<String>,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub state: TrackerState,
    pub status: Status,
    pub error_kind: Option<String>,
    pub eta_deadline: Option<i64>,
    pub last_change_at: i64,
    /// What the retailer promised the customer, given at registration (summaries compare against it).
    pub promised_by: Option<trackd_carrier_sdk::Eta>,
    /// Outbound or return, given at registration (summaries word a return as one).
    pub direction: Direction,
    /// What a return belongs to (the outbound tracker or the order reference).
    pub return_for: Option<ReturnFor>,
}

/// The stored columns of a tracker, as every backend reads them back.
pub(crate) struct TrackerColumns {
    pub id: i64,
    pub carrier: String,
    pub tracking_number: String,
    pub reference: Option<String>,
    pub labels_json: String,
    pub created_at_ms: i64,
    pub state: String,
    pub status: String,
    pub error_kind: Option<String>,
    pub eta_deadline: Option<i64>,
    pub last_change_at: i64,
    pub promised_by_json: Option<String>,
    pub direction: Option<String>,
    pub return_for: Option<String>,
}

impl From<TrackerColumns> for TrackerRow {
    fn from(c: TrackerColumns) -> TrackerRow {
        TrackerRow {
            id: c.id as u64,
            carrier: c.carrier,
            tracking_number: c.tracking_number,
            reference: c.reference,
            labels: serde_json::from_str(&c.labels_json).unwrap_or_default(),
            created_at: Utc
                .timestamp_millis_opt(c.created_at_ms)
                .single()
                .unwrap_or_default(),
            state: TrackerState::parse(&c.state).unwrap_or(TrackerState::Active),
            status: Status::parse(&c.status).unwrap_or(Status::Unknown),
            error_kind: c.error_kind,
            eta_deadline: c.eta_deadline,
            last_change_at: c.last_change_at,
            promised_by: c
                .promised_by_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            direction: c
                .direction
                .as_deref()
                .and_then(Direction::parse)
                .unwrap_or_default(),
            return_for: c.return_for.as_deref().map(ReturnFor::parse),
        }
    }
}

/// The stored columns of an event, as every backend reads them back.
pub(crate) struct EventColumns {
    pub id: i64,
    pub kind: String,
    pub tracker_id: i64,
    pub carrier: String,
    pub reference: Option<String>,
    pub json: String,
}

impl From<EventColumns> for StoredEvent {
    fn from(c: EventColumns) -> StoredEvent {
        StoredEvent {
            id: c.id as u64,
            kind: EventType::parse(&c.kind).unwrap_or(EventType::CarrierError),
            tracker_id: c.tracker_id as u64,
            carrier: c.carrier.into(),
            reference: c.reference.map(Into::into),
            json: c.json.into(),
        }
    }
}

/// A registration request for one parcel.
#[derive(Debug, Clone)]
pub struct NewTracker {
    pub carrier: String,
    pub tracking_number: String,
    pub reference: Option<String>,
    pub labels: Vec<String>,
    /// The retailer's own promise to the customer, if any.
    pub promised_by: Option<trackd_carrier_sdk::Eta>,
    /// Outbound (the default) or a return to the retailer.
    pub direction: Direction,
    /// What a return belongs to; only with `direction` = return.
    pub return_for: Option<ReturnFor>,
}

impl NewTracker {
    /// Labels as the stored JSON array.
    pub(crate) fn labels_json(&self) -> String {
        serde_json::to_string(&self.labels).unwrap_or_else(|_| "[]".into())
    }

    /// The promise as stored (JSON of the ETA), if any.
    pub(crate) fn promised_by_json(&self) -> Option<String> {
        self.promised_by
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok())
    }

    /// What the return is for, as stored (`trk_…` or the order reference).
    pub(crate) fn return_for_string(&self) -> Option<String> {
        self.return_for.as_ref().map(ReturnFor::as_string)
    }
}

/// Outcome of registering one parcel: idempotent on (carrier, number).
#[derive(Debug, Clone)]
pub struct Registered {
    pub row: TrackerRow,
    pub created: bool,
}

/// The `tracker.created` event of a freshly inserted tracker (same fact on every backend).
pub(crate) fn created_event(row: &TrackerRow, now: DateTime<Utc>) -> (Subject, EventDraft) {
    let subject = Subject {
        tracker_id: row.id,
        carrier: row.carrier.as_str().into(),
        tracking_number: row.tracking_number.as_str().into(),
        reference: row.reference.as_deref().map(Into::into),
    };
    let draft = EventDraft {
        kind: EventType::TrackerCreated,
        occurred_at: trackd_carrier_sdk::Timestamp::Zoned(now.fixed_offset()),
        fact: crate::events::fact(&["tracker.created"]),
        data: serde_json::json!({ "labels": row.labels, "state": row.state }),
    };
    (subject, draft)
}

/// The subject of a tracker's events, from its stored row.
pub(crate) fn subject_of(row: &TrackerRow) -> Subject {
    Subject {
        tracker_id: row.id,
        carrier: row.carrier.as_str().into(),
        tracking_number: row.tracking_number.as_str().into(),
        reference: row.reference.as_deref().map(Into::into),
    }
}

/// The stored columns of one milestone, read back; unreadable kinds are skipped.
pub(crate) fn milestone_of(kind: &str, at_ms: i64, note: Option<String>) -> Option<Milestone> {
    Some(Milestone {
        kind: crate::returns::MilestoneKind::parse(kind)?,
        at: Utc.timestamp_millis_opt(at_ms).single()?,
        note,
    })
}

/// Everything one poll of one tracker changes, committed atomically.
#[derive(Debug)]
pub struct CommitUnit {
    pub subject: Subject,
    /// The new snapshot, only when carrier facts changed.
    pub snapshot: Option<Arc<Snapshot>>,
    pub status: Status,
    pub state: TrackerState,
    pub error_kind: Option<&'static str>,
    pub eta_deadline: Option<i64>,
    pub last_change_at: i64,
    pub events: Vec<EventDraft>,
    pub emitted_at: DateTime<Utc>,
    /// The lease the poll ran under (fleet mode); the store rejects the unit once
    /// that lease moved on. `None`: the sole owner, nothing to check.
    pub fence: Option<crate::ownership::Fence>,
}

/// Receives committed events in id order (the stream hub), right after commit.
pub trait EventSink: Send + Sync + 'static {
    fn publish(&self, events: Vec<StoredEvent>);
    /// Time spent in one group commit, for metrics.
    fn observe_commit(&self, _seconds: f64, _units: usize) {}
}

/// Filters for tracker listings.
#[derive(Debug, Clone, Default)]
pub struct TrackerFilter {
    pub carrier: Option<String>,
    pub status: Option<Status>,
    pub reference: Option<String>,
    pub direction: Option<Direction>,
}

/// Filters for event reads and streams (all must match).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub carrier: Option<String>,
    pub types: Vec<EventType>,
    pub tracker_id: Option<u64>,
    pub reference: Option<String>,
}

impl EventFilter {
    pub fn matches(&self, e: &StoredEvent) -> bool {
        self.carrier.as_deref().is_none_or(|c| c == &*e.carrier)
            && (self.types.is_empty() || self.types.contains(&e.kind))
            && self.tracker_id.is_none_or(|t| t == e.tracker_id)
            && self
                .reference
                .as_deref()
                .is_none_or(|r| e.reference.as_deref() == Some(r))
    }
}

/// What the daemon needs from a storage engine; one implementation per backend.
#[async_trait::async_trait]
pub trait StoreBackend: Send + Sync + 'static {
    /// The engine's name, for logs and metrics (`sqlite`, `postgres`).
    fn engine(&self) -> &'static str;

    /// Registers parcels in one transaction (all or nothing), emitting `tracker.created`.
    async fn register(
        &self,
        trackers: Vec<NewTracker>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Registered>, StoreError>;

    /// Queues a poll result; resolves with the ids of the events actually stored.
    async fn commit(&self, unit: CommitUnit) -> Result<Vec<u64>, StoreError>;

    /// Queues a poll result without waiting (the writer keeps order).
    fn commit_detached(&self, unit: CommitUnit) -> Result<(), StoreError>;

    /// Deletes a tracker and its snapshot (its events stay in the log until retention).
    async fn delete_tracker(&self, id: u64) -> Result<bool, StoreError>;

    /// Deletes events emitted before `older_than`; returns how many.
    async fn apply_retention(&self, older_than: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Waits until everything queued before it is committed and published.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Saves one carrier's quota ledger in the writer's order (with the commits).
    async fn save_ledger(
        &self,
        carrier: &'static str,
        saved: SavedLedger,
    ) -> Result<(), StoreError>;

    /// Every carrier's saved quota ledger (start-up restores them); unreadable is an error.
    async fn quota_ledgers(&self) -> Result<Vec<(String, SavedLedger)>, StoreError>;

    /// The latest stored snapshot of a tracker.
    async fn snapshot(&self, id: u64) -> Result<Option<Snapshot>, StoreError>;

    /// One tracker's full record.
    async fn tracker(&self, id: u64) -> Result<Option<TrackerRow>, StoreError>;

    /// Lists trackers after cursor `after` (by id), filtered.
    async fn list_trackers(
        &self,
        filter: TrackerFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<TrackerRow>, StoreError>;

    /// Events with id > `after`, oldest first, at most `limit`, filtered.
    async fn events_after(
        &self,
        after: u64,
        limit: usize,
        filter: EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Highest event id ever assigned (0 when none) and the retention floor: ids
    /// at or below the floor may have been deleted.
    async fn cursors(&self) -> Result<(u64, u64), StoreError>;

    /// All trackers (start-up loads the registry from them).
    async fn all_trackers(&self) -> Result<Vec<TrackerRow>, StoreError>;

    /// Stores a retailer milestone of a return with its `return.milestone` event
    /// and the events it causes (`follow`: the `summary.changed` it brings), in one
    /// transaction; a kind already stored is compared, never overwritten, and then
    /// nothing of `follow` is stored either.
    async fn add_milestone(
        &self,
        tracker_id: u64,
        milestone: Milestone,
        follow: Vec<EventDraft>,
    ) -> Result<MilestoneOutcome, StoreError>;

    /// A tracker's milestones, in kind order (received, inspected, refunded), for summaries.
    async fn milestones(&self, tracker_id: u64) -> Result<Vec<Milestone>, StoreError>;

    /// Cheap liveness probe for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Where shard leases live when several instances share this store (fleet
    /// mode); `None`: this instance is the sole owner of every tracker.
    fn leases(&self) -> Option<Arc<dyn crate::ownership::LeaseStore>> {
        None
    }

    /// Where a fleet shares its hour and day quota windows; `None`: this
    /// instance's own durable ledger ([`save_ledger`](Self::save_ledger)) is the cap.
    fn shared_ledger(&self) -> Option<Arc<dyn crate::quota::gate::SharedLedgerStore>> {
        None
    }

    /// Webhook endpoints, their cursors and the delivery log, in this same engine.
    fn webhooks(&self) -> Arc<dyn crate::webhooks::WebhookStore>;
}

/// Handle to the configured store; cheap to clone, derefs to the backend.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn StoreBackend>,
}

impl std::ops::Deref for Store {
    type Target = dyn StoreBackend;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl Store {
    /// Wraps a backend (tests and benchmarks pick one directly).
    pub fn new(backend: impl StoreBackend) -> Store {
        Store {
            backend: Arc::new(backend),
        }
    }

    /// Opens the backend the config names, creating its schema if needed.
    pub async fn open(
        config: &crate::config::StorageConfig,
        shards: u32,
        sink: Arc<dyn EventSink>,
    ) -> Result<Store, StoreError> {
        match &config.backend {
            crate::config::StorageBackend::Sqlite => Ok(Store::new(SqliteStore::open(
                &config.data_dir,
                config.synchronous,
                sink,
            )?)),
            crate::config::StorageBackend::Postgres { url } => Ok(Store::new(
                PostgresStore::open(url.expose(), sink, shards).await?,
            )),
        }
    }

    /// The return side of a tracker, as its summary reads it; an outbound tracker
    /// needs no read.
    pub async fn return_context(
        &self,
        row: &TrackerRow,
    ) -> Result<Option<crate::returns::ReturnContext>, StoreError> {
        if row.direction != Direction::Return {
            return Ok(None);
        }
        Ok(Some(crate::returns::ReturnContext {
            direction: row.direction,
            return_for: row.return_for.clone(),
            milestones: self.milestones(row.id).await?,
        }))
    }
}

impl crate::quota::LedgerStore for Store {
    fn save(
        &self,
        carrier: &'static str,
        saved: SavedLedger,
    ) -> futures::future::BoxFuture<'static, Result<(), StoreError>> {
        let backend = self.backend.clone();
        Box::pin(async move { backend.save_ledger(carrier, saved).await })
    }
}
