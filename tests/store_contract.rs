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
use trackd::returns::{Direction, Milestone, MilestoneKind, MilestoneOutcome, ReturnFor};
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

/// Shards of the test clusters (small, so takeovers are easy to provoke).
const SHARDS: u32 = 8;

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
            Place::Postgres(db) => Ok(Store::new(
                PostgresStore::open(&db.url, sink, SHARDS).await?,
            )),
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
        promised_by: Some(trackd_carrier_sdk::Eta::Date {
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(),
        }),
        direction: Direction::Outbound,
        return_for: None,
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
        fence: None,
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
    assert_eq!(
        first[0].row.promised_by,
        parcel("x", None).promised_by,
        "the promise is kept"
    );
    let read = store.tracker(first[0].row.id).await.unwrap().unwrap();
    assert_eq!(
        read.promised_by,
        parcel("x", None).promised_by,
        "and read back"
    );
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
    store.flush().await.unwrap();
    assert_eq!(*sink.0.lock().unwrap(), vec![8]);
    drop(store);
    place.drop_database().await;
}

/// Returns: direction and return_for kept and filtered on; milestones stored once
/// per kind with one `return.milestone` event each, in the dense id order.
async fn returns_contract(place: Place) {
    let sink = Arc::new(Recorder::default());
    let store = place.open(sink.clone()).await.expect("store opens");
    let outbound = store
        .register(vec![parcel("1Z1", Some("order-9"))], t(0))
        .await
        .unwrap();
    let out_id = outbound[0].row.id;
    assert_eq!(outbound[0].row.direction, Direction::Outbound);
    assert_eq!(outbound[0].row.return_for, None);
    let returns = store
        .register(
            vec![
                NewTracker {
                    direction: Direction::Return,
                    return_for: Some(ReturnFor::Tracker(out_id)),
                    ..parcel("1ZR1", Some("order-9"))
                },
                NewTracker {
                    direction: Direction::Return,
                    return_for: Some(ReturnFor::Order("order-9".into())),
                    ..parcel("1ZR2", None)
                },
            ],
            t(1),
        )
        .await
        .unwrap();
    let (r1, r2) = (returns[0].row.id, returns[1].row.id);
    let read = store.tracker(r1).await.unwrap().unwrap();
    assert_eq!(read.direction, Direction::Return);
    assert_eq!(read.return_for, Some(ReturnFor::Tracker(out_id)));
    let read = store.tracker(r2).await.unwrap().unwrap();
    assert_eq!(read.return_for, Some(ReturnFor::Order("order-9".into())));
    let listed = store
        .list_trackers(
            TrackerFilter {
                direction: Some(Direction::Return),
                ..TrackerFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r1, r2]
    );
    let listed = store
        .list_trackers(
            TrackerFilter {
                direction: Some(Direction::Outbound),
                ..TrackerFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![out_id]
    );

    // Milestones: added once per kind, a repeat is unchanged, other content conflicts.
    // What a milestone causes (its summary.changed) is stored with it, after it,
    // and only when the milestone itself is.
    let follow = |n: &str| EventDraft {
        kind: EventType::SummaryChanged,
        occurred_at: Timestamp::Zoned(t(100).fixed_offset()),
        fact: fact(&["summary.changed", n]),
        data: serde_json::json!({ "headline": n }),
    };
    let received = Milestone::new(MilestoneKind::Received, t(100), Some("dock 3".into()));
    assert_eq!(
        store
            .add_milestone(r1, received.clone(), vec![follow("received")])
            .await
            .unwrap(),
        MilestoneOutcome::Added(received.clone())
    );
    assert_eq!(
        store
            .add_milestone(r1, received.clone(), vec![follow("again")])
            .await
            .unwrap(),
        MilestoneOutcome::Unchanged(received.clone())
    );
    let other = Milestone::new(MilestoneKind::Received, t(101), None);
    assert_eq!(
        store
            .add_milestone(r1, other, vec![follow("other")])
            .await
            .unwrap(),
        MilestoneOutcome::Conflict(received.clone())
    );
    let refunded = Milestone::new(MilestoneKind::Refunded, t(300), None);
    let inspected = Milestone::new(MilestoneKind::Inspected, t(200), None);
    for m in [&refunded, &inspected] {
        assert_eq!(
            store.add_milestone(r1, m.clone(), vec![]).await.unwrap(),
            MilestoneOutcome::Added(m.clone())
        );
    }
    assert_eq!(
        store
            .add_milestone(999_999, received.clone(), vec![follow("nobody")])
            .await
            .unwrap(),
        MilestoneOutcome::NoTracker
    );
    assert_eq!(
        store.milestones(r1).await.unwrap(),
        vec![received.clone(), inspected.clone(), refunded.clone()],
        "in kind order"
    );
    assert!(store.milestones(r2).await.unwrap().is_empty());
    store.flush().await.unwrap();
    // Three creations, the first milestone and what it caused, then the other
    // two milestones: dense ids, published in order.
    assert_eq!(*sink.0.lock().unwrap(), (1..=7).collect::<Vec<u64>>());
    let caused = store
        .events_after(
            0,
            100,
            EventFilter {
                types: vec![EventType::SummaryChanged],
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(caused.iter().map(|e| e.id).collect::<Vec<_>>(), vec![5]);
    let caused: serde_json::Value = serde_json::from_str(&caused[0].json).unwrap();
    assert_eq!(caused["data"]["headline"], "received");
    assert_eq!(caused["tracker_id"], trackd::events::tracker_id_string(r1));
    let events = store
        .events_after(
            0,
            100,
            EventFilter {
                types: vec![EventType::ReturnMilestone],
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![4, 6, 7]
    );
    let first: serde_json::Value = serde_json::from_str(&events[0].json).unwrap();
    assert_eq!(first["type"], "return.milestone");
    assert_eq!(first["tracker_id"], trackd::events::tracker_id_string(r1));
    assert_eq!(first["reference"], "order-9");
    assert_eq!(first["data"]["kind"], "received");
    assert_eq!(first["data"]["note"], "dock 3");
    // A time finer than the stored milliseconds still repeats as the same milestone.
    let precise = Milestone {
        kind: MilestoneKind::Received,
        at: t(5) + chrono::Duration::nanoseconds(1_500_000),
        note: None,
    };
    let stored = Milestone::new(MilestoneKind::Received, precise.at, None);
    assert_eq!(stored.at, t(5) + chrono::Duration::milliseconds(1));
    assert_eq!(
        store
            .add_milestone(r2, precise.clone(), vec![])
            .await
            .unwrap(),
        MilestoneOutcome::Added(stored.clone())
    );
    assert_eq!(
        store.add_milestone(r2, precise, vec![]).await.unwrap(),
        MilestoneOutcome::Unchanged(stored)
    );
    drop(store);

    // Durable across a restart; a deleted tracker takes its milestones with it.
    let store = reopen(&place, Arc::new(Recorder::default())).await;
    assert_eq!(store.milestones(r1).await.unwrap().len(), 3);
    assert_eq!(
        store.tracker(r1).await.unwrap().unwrap().direction,
        Direction::Return
    );
    assert!(store.delete_tracker(r1).await.unwrap());
    assert!(store.milestones(r1).await.unwrap().is_empty());
    assert_eq!(
        store.add_milestone(r1, received, vec![]).await.unwrap(),
        MilestoneOutcome::NoTracker
    );
    drop(store);
    place.drop_database().await;
}

#[tokio::test]
async fn sqlite_keeps_the_returns_contract() {
    returns_contract(Place::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn postgres_keeps_the_returns_contract() {
    if let Some(place) = postgres_place().await {
        returns_contract(place).await;
    }
}

/// Reopens a store (a restart).
async fn reopen(place: &Place, sink: Arc<Recorder>) -> Store {
    place.open(sink).await.expect("reopen")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_share_one_dense_commit_ordered_log() {
    let Some(place) = postgres_place().await else {
        return;
    };
    let (sink_a, sink_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = place.open(sink_a.clone()).await.expect("instance a opens");
    let b = place.open(sink_b.clone()).await.expect("instance b opens");
    let trackers: Vec<u64> = a
        .register(
            (0..20).map(|n| parcel(&format!("1Z{n}"), None)).collect(),
            t(0),
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.row.id)
        .collect();
    // Both instances commit at once, many small groups each.
    let write = |store: Store, offset: usize| {
        let trackers = trackers.clone();
        tokio::spawn(async move {
            for round in 0..30 {
                let id = trackers[(round + offset) % trackers.len()];
                let fact = format!("w{offset}-{round}");
                store
                    .commit(unit(id, "1Z", &[fact.as_str()], t(10 + round as i64)))
                    .await
                    .unwrap();
            }
        })
    };
    let (wa, wb) = (write(a.clone(), 0), write(b.clone(), 7));
    wa.await.unwrap();
    wb.await.unwrap();
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let total = 20 + 60;
    assert_eq!(a.cursors().await.unwrap().0, total);
    // Each instance's tail saw every instance's events, in id order, without a gap.
    for (name, sink, store) in [("a", &sink_a, &a), ("b", &sink_b, &b)] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while sink.0.lock().unwrap().len() < total as usize {
            assert!(
                std::time::Instant::now() < deadline,
                "instance {name} saw only {} events",
                sink.0.lock().unwrap().len()
            );
            store.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            *sink.0.lock().unwrap(),
            (1..=total).collect::<Vec<u64>>(),
            "instance {name}"
        );
    }
    drop((a, b));
    place.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fences_the_writes_of_a_former_lease_owner() {
    let Some(place) = postgres_place().await else {
        return;
    };
    let a = place
        .open(Arc::new(Recorder::default()))
        .await
        .expect("a opens");
    let b = place
        .open(Arc::new(Recorder::default()))
        .await
        .expect("b opens");
    let (la, lb) = (a.leases().expect("fleet"), b.leases().expect("fleet"));
    assert_eq!(la.shard_count(), SHARDS);
    let short = std::time::Duration::from_millis(300);
    let long = std::time::Duration::from_secs(60);

    // Alone, a takes every shard.
    let beat = la.heartbeat("a", short, &[]).await.unwrap();
    assert_eq!(beat.held.len(), SHARDS as usize);
    assert_eq!(beat.taken, SHARDS);
    // A parcel of a low shard: a taker takes the lowest free shards first.
    let number = (0..)
        .map(|n| format!("1ZF{n}"))
        .find(|n| trackd::ownership::shard_of("ups", n, SHARDS) < SHARDS / 2)
        .unwrap();
    let number = number.as_str();
    let id = a.register(vec![parcel(number, None)], t(0)).await.unwrap()[0]
        .row
        .id;
    let shard = trackd::ownership::shard_of("ups", number, SHARDS);
    let old = *beat.held.iter().find(|f| f.shard == shard).unwrap();
    let mut fenced = unit(id, number, &["before"], t(1));
    fenced.fence = Some(old);
    assert_eq!(a.commit(fenced).await.unwrap().len(), 1);

    // b joins: both are live, so b's fair share is half.
    let beat = lb.heartbeat("b", long, &[]).await.unwrap();
    assert_eq!(beat.live_instances, 2);
    assert!(beat.held.len() <= (SHARDS / 2) as usize);

    // a stops renewing (paused past its lease): b takes every expired shard up to its share.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let taken = loop {
        let beat = lb.heartbeat("b", long, &[]).await.unwrap();
        if let Some(f) = beat.held.iter().find(|f| f.shard == shard) {
            break *f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b never took shard {shard}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(taken.epoch > old.epoch, "a takeover raises the epoch");

    // a resumes: its in-flight result under the old epoch is rejected, b's is stored.
    let mut stale = unit(id, number, &["stale"], t(2));
    stale.fence = Some(old);
    match a.commit(stale).await {
        Err(StoreError::Fenced { shard: s, epoch }) => {
            assert_eq!((s, epoch), (shard, old.epoch));
        }
        other => panic!("expected a fenced write, got {other:?}"),
    }
    let mut current = unit(id, number, &["current"], t(3));
    current.fence = Some(taken);
    assert_eq!(b.commit(current).await.unwrap().len(), 1);
    // Nothing of the stale write reached the log.
    let facts: Vec<String> = a
        .events_after(0, 100, EventFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
            v["data"]["fact"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert!(!facts.contains(&"stale".to_string()), "{facts:?}");

    // a's renewal no longer lists the taken shard; a released shard is free at
    // once, and whoever takes it next (here a again, under its share) gets a new epoch.
    let beat = la.heartbeat("a", long, &[]).await.unwrap();
    assert!(beat.held.iter().all(|f| f.shard != shard));
    assert_eq!(beat.held.len(), (SHARDS / 2) as usize, "{beat:?}");
    let give = beat.held[0];
    let beat = la.heartbeat("a", long, &[give.shard]).await.unwrap();
    let again = beat.held.iter().find(|f| f.shard == give.shard).copied();
    assert_eq!(
        again.map(|f| f.epoch),
        Some(give.epoch + 1),
        "a released shard is taken under the next epoch: {beat:?}"
    );
    la.release_all("a").await.unwrap();
    drop((a, b));
    place.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tells_owners_about_trackers_registered_elsewhere() {
    let Some(place) = postgres_place().await else {
        return;
    };
    let a = place.open(Arc::new(Recorder::default())).await.unwrap();
    let b = place.open(Arc::new(Recorder::default())).await.unwrap();
    let mut told = b.leases().unwrap().owner_messages();
    let registered = a
        .register(vec![parcel("1ZN1", None), parcel("1ZN2", None)], t(0))
        .await
        .unwrap();
    let ids: Vec<u64> = registered.iter().map(|r| r.row.id).collect();
    let message = tokio::time::timeout(std::time::Duration::from_secs(60), told.recv())
        .await
        .expect("b hears of the registration")
        .unwrap();
    assert_eq!(
        message,
        trackd::ownership::OwnerMessage::Registered(ids.clone())
    );
    let rows = b.leases().unwrap().trackers_by_id(&ids).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(a.delete_tracker(ids[0]).await.unwrap());
    let message = tokio::time::timeout(std::time::Duration::from_secs(60), told.recv())
        .await
        .expect("b hears of the deletion")
        .unwrap();
    assert_eq!(message, trackd::ownership::OwnerMessage::Deleted(ids[0]));
    drop((a, b));
    place.drop_database().await;
}
