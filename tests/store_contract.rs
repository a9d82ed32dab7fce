//! The storage contract, run against every backend: SQLite (embedded, always)
//! and PostgreSQL (the local server; under CI a missing server fails the test,
//! elsewhere it is skipped with a message). Each PostgreSQL case gets a fresh
//! database, dropped at the end.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::TestDatabase;
use std::sync::{Arc, Mutex};
use trackd::events::{EventDraft, EventType, StoredEvent, Subject, fact};
use trackd::quota::{SavedLedger, SavedWindow};
use trackd::store::{
    CommitUnit, EventFilter, EventSink, NewTracker, PostgresStore, SqliteStore, Store, StoreError,
    Synchronous, TrackerFilter,
};
use trackd::trackers::TrackerState;
use trackd_carrier_sdk::{Status, Timestamp};

/// Records what the store publishes, to check "published only after commit, in id order".
#[derive(Default)]
struct Recorder(Mutex<Vec<u64>>);

impl EventSink for Recorder {
    fn publish(&self, events: Vec<StoredEvent>) {
        self.0.lock().unwrap().extend(events.iter().map(|e| e.id));
    }
}

/// Where a backend under test keeps its data, so a case can reopen it.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Place {
    async fn open(&self, sink: Arc<Recorder>) -> Result<Store, StoreError> {
        match self {
            Place::Sqlite(dir) => Ok(Store::new(SqliteStore::open(
                dir.path(),
                Synchronous::Full,
                sink,
            )?)),
            Place::Postgres(db) => Ok(Store::new(PostgresStore::open(&db.url, sink).await?)),
        }
    }

    async fn drop_database(self) {
        if let Place::Postgres(db) = self {
            db.drop_now().await;
        }
    }
}

/// A fresh PostgreSQL database, or `None` (skip) when no server runs outside CI.
async fn postgres_place() -> Option<Place> {
    TestDatabase::create().await.map(Place::Postgres)
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).single().unwrap()
}

fn parcel(number: &str, reference: Option<&str>) -> NewTracker {
    NewTracker {
        carrier: "ups".into(),
        tracking_number: number.into(),
        reference: reference.map(Into::into),
        labels: vec!["vip".into()],
    }
}

fn unit(id: u64, number: &str, facts: &[&str], at: DateTime<Utc>) -> CommitUnit {
    CommitUnit {
        subject: Subject {
            tracker_id: id,
            carrier: "ups".into(),
            tracking_number: number.into(),
            reference: None,
        },
        snapshot: None,
        status: Status::InTransit,
        state: TrackerState::Active,
        error_kind: None,
        eta_deadline: Some(42),
        last_change_at: at.timestamp(),
        events: facts
            .iter()
            .map(|f| EventDraft {
                kind: EventType::CheckpointAdded,
                occurred_at: Timestamp::Zoned(at.fixed_offset()),
                fact: fact(&[f]),
                data: serde_json::json!({ "fact": f }),
            })
            .collect(),
        emitted_at: at,
    }
}

/// Every contract case, in one run per backend (one database each).
async fn contract(place: Place) {
    let sink = Arc::new(Recorder::default());
    let store = place.open(sink.clone()).await.expect("store opens");

    // Registration is idempotent on (carrier, number) and announces each parcel once.
    let first = store
        .register(
            vec![parcel("1Z1", Some("order-1")), parcel("1Z2", None)],
            t(0),
        )
        .await
        .unwrap();
    assert!(first.iter().all(|r| r.created));
    let again = store
        .register(
            vec![parcel("1Z1", Some("other")), parcel("1Z3", None)],
            t(1),
        )
        .await
        .unwrap();
    assert!(!again[0].created && again[1].created);
    assert_eq!(again[0].row.id, first[0].row.id);
    assert_eq!(again[0].row.reference.as_deref(), Some("order-1"));
    assert_eq!(first[0].row.labels, vec!["vip".to_string()]);
    assert_eq!(first[0].row.state, TrackerState::Active);
    let (a, b) = (first[0].row.id, first[1].row.id);

    // A poll's events get dense ids in commit order; a fact is stored once.
    let ids = store
        .commit(unit(a, "1Z1", &["p1", "p2"], t(10)))
        .await
        .unwrap();
    assert_eq!(ids, vec![4, 5]);
    let ids = store
        .commit(unit(a, "1Z1", &["p2", "p3", "p3"], t(11)))
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![6],
        "p2 was stored before and p3 twice in one unit"
    );
    store
        .commit_detached(unit(b, "1Z2", &["q1"], t(12)))
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.cursors().await.unwrap(), (7, 0));
    assert_eq!(*sink.0.lock().unwrap(), (1..=7).collect::<Vec<u64>>());
    let row = store.tracker(a).await.unwrap().expect("tracker a");
    assert_eq!(row.status, Status::InTransit);
    assert_eq!(row.eta_deadline, Some(42));

    // Reads: filters and pagination by cursor.
    let all = store
        .events_after(0, 100, EventFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<u64>>()
    );
    let created = store
        .events_after(
            0,
            100,
            EventFilter {
                types: vec![EventType::TrackerCreated],
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 3);
    let of_b = store
        .events_after(
            3,
            1,
            EventFilter {
                tracker_id: Some(b),
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0].id, 7);
    let json: serde_json::Value = serde_json::from_str(&of_b[0].json).unwrap();
    assert_eq!(json["id"], 7);
    assert_eq!(json["type"], "checkpoint.added");
    let by_ref = store
        .list_trackers(
            TrackerFilter {
                reference: Some("order-1".into()),
                ..TrackerFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_ref.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
    let page = store
        .list_trackers(TrackerFilter::default(), a, 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert!(page[0].id > a);

    // A deleted tracker's late poll stores nothing; its past events stay readable.
    assert!(store.delete_tracker(b).await.unwrap());
    assert!(!store.delete_tracker(b).await.unwrap());
    assert!(
        store
            .commit(unit(b, "1Z2", &["q2"], t(13)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.tracker(b).await.unwrap().is_none());
    assert_eq!(store.all_trackers().await.unwrap().len(), 2);

    // Quota ledgers: the last save wins, unreadable ones are refused elsewhere.
    let ledger = SavedLedger {
        saved_at: 1_760_000_100,
        reserved: 2,
        windows: vec![SavedWindow {
            secs: 86_400,
            bucket_secs: 600,
            buckets: vec![(2_933_333, 5)],
        }],
    };
    store.save_ledger("ups", ledger.clone()).await.unwrap();
    let mut newer = ledger.clone();
    newer.reserved = 3;
    store.save_ledger("ups", newer.clone()).await.unwrap();

    // Retention raises the floor; ids are never reused after it.
    let deleted = store.apply_retention(t(11)).await.unwrap();
    assert_eq!(
        deleted, 5,
        "the three creations and the first poll's two events, all before t(11)"
    );
    assert_eq!(store.cursors().await.unwrap(), (7, 5));
    store.ping().await.unwrap();
    drop(store);

    // Reopened (a restart): everything durable, the cursor continues.
    let sink = Arc::new(Recorder::default());
    let store = reopen(&place, sink.clone()).await;
    assert_eq!(store.cursors().await.unwrap(), (7, 5));
    assert_eq!(
        store.quota_ledgers().await.unwrap(),
        vec![("ups".to_string(), newer)]
    );
    let ids = store
        .commit(unit(a, "1Z1", &["p3", "p4"], t(20)))
        .await
        .unwrap();
    assert_eq!(ids, vec![8], "p3 survived the restart as a stored fact");
    assert_eq!(*sink.0.lock().unwrap(), vec![8]);
    drop(store);
    place.drop_database().await;
}

/// Reopens a store; PostgreSQL's writer lock of the dropped handle is released
/// with its connection, which the dropped writer task closes shortly after.
async fn reopen(place: &Place, sink: Arc<Recorder>) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match place.open(sink.clone()).await {
            Ok(s) => return s,
            Err(StoreError::WriterLockHeld) if std::time::Instant::now() < deadline => {
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
}

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    contract(Place::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn postgres_keeps_the_store_contract() {
    if let Some(place) = postgres_place().await {
        contract(place).await;
    }
}

#[tokio::test]
async fn postgres_lets_one_instance_write_at_a_time() {
    let Some(place) = postgres_place().await else {
        return;
    };
    let sink = Arc::new(Recorder::default());
    let first = place.open(sink.clone()).await.expect("first opens");
    match place.open(sink.clone()).await {
        Err(StoreError::WriterLockHeld) => {}
        Err(e) => panic!("expected the writer lock error, got {e}"),
        Ok(_) => panic!("a second writer opened while the first holds the lock"),
    }
    first.ping().await.unwrap();
    drop(first);
    // Released with the first writer's connection: a successor can take over.
    let second = reopen(&place, sink).await;
    second.ping().await.unwrap();
    drop(second);
    place.drop_database().await;
}
