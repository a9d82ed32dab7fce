//! The webhook storage contract (`trackd::webhooks::WebhookStore`), run against
//! every backend: SQLite (embedded, always) and PostgreSQL (the local server;
//! under CI a missing server fails the test, elsewhere it is skipped with a
//! message). Each PostgreSQL case gets a fresh database, dropped at the end.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::TestDatabase;
use std::sync::Arc;
use trackd::events::{EventDraft, EventType, StoredEvent, Subject, fact};
use trackd::store::{
    CommitUnit, EventSink, NewTracker, PostgresStore, SqliteStore, Store, StoreError, Synchronous,
};
use trackd::trackers::TrackerState;
use trackd::webhooks::{
    AttemptOutcome, AttemptRecord, Endpoint, EndpointConfig, EndpointFilter, KeySlot, Lane,
    WebhookStore,
};
use trackd_carrier_sdk::{Status, Timestamp};

/// The tests read events back through the webhook seam, not the sink.
struct Discard;

impl EventSink for Discard {
    fn publish(&self, _events: Vec<StoredEvent>) {}
}

/// Shards of the test cluster (any small number).
const SHARDS: u32 = 8;

/// Where a backend under test keeps its data, so a case can write to it directly.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Place {
    async fn open(&self) -> Store {
        let sink = Arc::new(Discard);
        match self {
            Place::Sqlite(dir) => Store::new(
                SqliteStore::open(dir.path(), Synchronous::Full, sink).expect("sqlite opens"),
            ),
            Place::Postgres(db) => Store::new(
                PostgresStore::open(&db.url, sink, SHARDS)
                    .await
                    .expect("postgres opens"),
            ),
        }
    }

    /// Overwrites an endpoint's stored config with something that is not JSON.
    async fn corrupt_config(&self, id: &str) {
        const GARBAGE: &str = "{not json";
        match self {
            Place::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("trackd.sqlite")).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
                let n = conn
                    .execute(
                        "UPDATE webhook_endpoints SET config = ?2 WHERE id = ?1",
                        rusqlite::params![id, GARBAGE],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
            Place::Postgres(db) => {
                let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let task = tokio::spawn(conn);
                let n = client
                    .execute(
                        "UPDATE webhook_endpoints SET config = $2 WHERE id = $1",
                        &[&id, &GARBAGE],
                    )
                    .await
                    .unwrap();
                assert_eq!(n, 1);
                drop(client);
                let _ = task.await;
            }
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

fn ms(secs: i64) -> i64 {
    t(secs).timestamp_millis()
}

fn endpoint(id: &str, url: &str) -> Endpoint {
    Endpoint {
        id: id.into(),
        config: EndpointConfig {
            url: url.into(),
            description: Some("orders".into()),
            filter: EndpointFilter {
                event_types: vec!["status.*".into()],
                carriers: vec!["ups".into()],
                reference_prefix: Some("order-".into()),
                labels: vec!["vip".into()],
            },
            rate_limit_per_second: Some(5),
            signing: "symmetric".into(),
            keys: vec![KeySlot {
                key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                created_at: t(0),
                expires_at: Some(t(3600)),
            }],
        },
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        failing_reported: false,
        created_at: t(0),
        updated_at: t(0),
        version: 1,
    }
}

/// Endpoint has no `PartialEq` (keys are secret); compare everything that is stored.
fn assert_same(got: &Endpoint, want: &Endpoint) {
    assert_eq!(got.id, want.id);
    assert_eq!(
        serde_json::to_value(&got.config).unwrap(),
        serde_json::to_value(&want.config).unwrap(),
        "config of {}",
        want.id
    );
    assert_eq!(got.enabled, want.enabled);
    assert_eq!(got.disabled_reason, want.disabled_reason);
    assert_eq!(got.failing_since, want.failing_since);
    assert_eq!(got.failing_reported, want.failing_reported);
    assert_eq!(got.created_at, want.created_at);
    assert_eq!(got.updated_at, want.updated_at);
    assert_eq!(got.version, want.version);
}

fn attempt(
    lane: u64,
    event_id: u64,
    attempt: u32,
    at: DateTime<Utc>,
    outcome: AttemptOutcome,
    settled: Option<&'static str>,
) -> AttemptRecord {
    let ok = outcome == AttemptOutcome::Success;
    AttemptRecord {
        lane,
        event_id,
        attempt,
        at,
        outcome,
        settled,
        status: match outcome {
            AttemptOutcome::Success => Some(204),
            AttemptOutcome::HttpError => Some(503),
            _ => None,
        },
        latency_ms: Some(40 + attempt),
        error: (!ok).then(|| format!("{} on try {attempt}", outcome.as_str())),
        response_excerpt: Some(if ok { "ok".into() } else { "busy".into() }),
    }
}

fn parcel(number: &str) -> NewTracker {
    NewTracker {
        carrier: "ups".into(),
        tracking_number: number.into(),
        reference: None,
        labels: vec![],
        promised_by: None,
        direction: Default::default(),
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
        eta_deadline: None,
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
    let store = place.open().await;
    let hooks = store.webhooks();

    endpoints_case(&*hooks).await;
    lanes_case(&*hooks).await;
    concurrent_replays_case(&*hooks).await;
    delivery_log_case(&*hooks).await;
    delete_case(&*hooks).await;
    events_case(&store, &*hooks).await;

    // An unreadable config is an error naming the endpoint, never a default.
    hooks
        .insert_endpoint(&endpoint("whe_corrupt", "https://x.example/"), 0)
        .await
        .unwrap();
    place.corrupt_config("whe_corrupt").await;
    match hooks.endpoint("whe_corrupt").await {
        Err(StoreError::CorruptWebhook(id, _)) => assert_eq!(id, "whe_corrupt"),
        other => panic!("expected CorruptWebhook, got {other:?}"),
    }
    match hooks.endpoints().await {
        Err(StoreError::CorruptWebhook(id, _)) => assert_eq!(id, "whe_corrupt"),
        other => panic!("expected CorruptWebhook, got {other:?}"),
    }
    assert!(hooks.delete_endpoint("whe_corrupt").await.unwrap());
    assert_eq!(hooks.endpoints().await.unwrap().len(), 0);

    drop((hooks, store));
    place.drop_database().await;
}

/// Insert, read, list order, update (bumps the version), health (does not), unknown ids.
async fn endpoints_case(hooks: &dyn WebhookStore) {
    // Ids that do not sort in creation order: listing follows creation.
    let c = endpoint("whe_c", "https://c.example/hook");
    let mut a = endpoint("whe_a", "https://a.example/hook");
    a.config.keys.clear();
    a.config.filter = EndpointFilter::default();
    a.config.description = None;
    a.config.rate_limit_per_second = None;
    let b = endpoint("whe_b", "https://b.example/hook");
    for e in [&c, &a, &b] {
        hooks.insert_endpoint(e, 0).await.unwrap();
    }
    assert_same(&hooks.endpoint("whe_c").await.unwrap().unwrap(), &c);
    assert_same(&hooks.endpoint("whe_a").await.unwrap().unwrap(), &a);
    let listed = hooks.endpoints().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["whe_c", "whe_a", "whe_b"]
    );

    // Update: config, enabled and reason saved, the version bumped by the store
    // (whatever the caller passed); created_at and health untouched.
    let mut changed = c.clone();
    changed.config.url = "https://c.example/v2".into();
    changed.enabled = false;
    changed.disabled_reason = Some("manual".into());
    changed.updated_at = t(60);
    changed.created_at = t(59);
    changed.failing_since = Some(t(1));
    changed.failing_reported = true;
    changed.version = 99;
    assert!(hooks.update_endpoint(&changed).await.unwrap());
    let got = hooks.endpoint("whe_c").await.unwrap().unwrap();
    let mut want = changed.clone();
    want.version = 2;
    want.created_at = c.created_at;
    want.failing_since = None;
    want.failing_reported = false;
    assert_same(&got, &want);
    assert!(hooks.update_endpoint(&changed).await.unwrap());
    assert_eq!(hooks.endpoint("whe_c").await.unwrap().unwrap().version, 3);

    // Health: saved without a version bump (deliverers need not restart).
    hooks.set_health("whe_c", Some(t(120)), true).await.unwrap();
    let got = hooks.endpoint("whe_c").await.unwrap().unwrap();
    assert_eq!(got.failing_since, Some(t(120)));
    assert!(got.failing_reported);
    assert_eq!(got.version, 3);
    hooks.set_health("whe_c", None, false).await.unwrap();
    let got = hooks.endpoint("whe_c").await.unwrap().unwrap();
    assert_eq!(got.failing_since, None);
    assert!(!got.failing_reported);
    assert_eq!(got.version, 3);
    // The order is creation order, not update order.
    let listed = hooks.endpoints().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["whe_c", "whe_a", "whe_b"]
    );

    // Unknown ids.
    assert!(hooks.endpoint("whe_nope").await.unwrap().is_none());
    assert!(
        !hooks
            .update_endpoint(&endpoint("whe_nope", "https://n.example/"))
            .await
            .unwrap()
    );
    hooks
        .set_health("whe_nope", Some(t(1)), true)
        .await
        .unwrap();
    assert!(!hooks.delete_endpoint("whe_nope").await.unwrap());
    assert!(hooks.lanes("whe_nope").await.unwrap().is_empty());
    assert!(
        hooks
            .resume_after("whe_nope", 0, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        hooks
            .attempts("whe_nope", None, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(hooks.endpoint("whe_nope").await.unwrap().is_none());

    for id in ["whe_a", "whe_b", "whe_c"] {
        assert!(hooks.delete_endpoint(id).await.unwrap());
    }
    assert!(hooks.endpoints().await.unwrap().is_empty());
}

/// The live lane, replay numbering, positions only forward, finished replays removed.
async fn lanes_case(hooks: &dyn WebhookStore) {
    let id = "whe_lanes";
    hooks
        .insert_endpoint(&endpoint(id, "https://l.example/"), 5)
        .await
        .unwrap();
    assert_eq!(hooks.lanes(id).await.unwrap(), vec![Lane::live(5)]);

    // Replays are numbered 1, 2 … per endpoint, whatever id the caller passed.
    let by_ids = Lane {
        id: 77,
        position: 2,
        until: Some(10),
        event_ids: Some(vec![3, 7, 10]),
        emitted_between: None,
    };
    let by_time = Lane {
        id: 0,
        position: 0,
        until: Some(20),
        event_ids: None,
        emitted_between: Some((ms(0), ms(100))),
    };
    assert_eq!(hooks.add_lane(id, &by_ids).await.unwrap(), 1);
    assert_eq!(hooks.add_lane(id, &by_time).await.unwrap(), 2);
    let lanes = hooks.lanes(id).await.unwrap();
    assert_eq!(
        lanes,
        vec![
            Lane::live(5),
            Lane {
                id: 1,
                ..by_ids.clone()
            },
            Lane {
                id: 2,
                ..by_time.clone()
            },
        ]
    );
    // Another endpoint numbers its own.
    hooks
        .insert_endpoint(&endpoint("whe_other", "https://o.example/"), 0)
        .await
        .unwrap();
    assert_eq!(hooks.add_lane("whe_other", &by_ids).await.unwrap(), 1);

    // Positions move forward only; a lower one is ignored.
    hooks.record(id, &[], &[(0, 8), (1, 4)]).await.unwrap();
    hooks.record(id, &[], &[(0, 6), (1, 3)]).await.unwrap();
    let lanes = hooks.lanes(id).await.unwrap();
    assert_eq!(
        lanes.iter().map(|l| (l.id, l.position)).collect::<Vec<_>>(),
        [(0, 8), (1, 4), (2, 0)]
    );

    // A replay whose position reaches `until` is gone; the others stay.
    hooks.record(id, &[], &[(1, 10), (0, 9)]).await.unwrap();
    let lanes = hooks.lanes(id).await.unwrap();
    assert_eq!(
        lanes.iter().map(|l| (l.id, l.position)).collect::<Vec<_>>(),
        [(0, 9), (2, 0)]
    );
    // Numbering continues after the highest lane, not the count.
    assert_eq!(hooks.add_lane(id, &by_time).await.unwrap(), 3);
    // Past `until` counts as reached too; the live lane never finishes.
    hooks
        .record(id, &[], &[(2, 25), (0, 1_000_000)])
        .await
        .unwrap();
    let lanes = hooks.lanes(id).await.unwrap();
    assert_eq!(
        lanes.iter().map(|l| (l.id, l.position)).collect::<Vec<_>>(),
        [(0, 1_000_000), (3, 0)]
    );
    // A replay id is never reused, even once every replay has finished (the
    // delivery log keeps their attempts under their ids).
    let until = by_time.until.unwrap();
    hooks.record(id, &[], &[(3, until)]).await.unwrap();
    assert_eq!(hooks.lanes(id).await.unwrap().len(), 1);
    assert_eq!(hooks.add_lane(id, &by_time).await.unwrap(), 4);
    hooks.record(id, &[], &[(4, until)]).await.unwrap();
    assert!(matches!(
        hooks.add_lane("whe_missing", &by_time).await,
        Err(StoreError::NoSuchWebhook(_))
    ));
    // Other endpoints' lanes are untouched.
    assert_eq!(
        hooks.lanes("whe_other").await.unwrap(),
        vec![
            Lane::live(0),
            Lane {
                id: 1,
                ..by_ids.clone()
            }
        ]
    );

    assert!(hooks.delete_endpoint(id).await.unwrap());
    assert!(hooks.delete_endpoint("whe_other").await.unwrap());
}

/// Replays started at once on one endpoint get distinct consecutive numbers.
async fn concurrent_replays_case(hooks: &dyn WebhookStore) {
    let id = "whe_concurrent";
    hooks
        .insert_endpoint(&endpoint(id, "https://c.example/"), 0)
        .await
        .unwrap();
    let replay = Lane {
        id: 0,
        position: 0,
        until: Some(50),
        event_ids: None,
        emitted_between: None,
    };
    let mut got: Vec<u64> = futures::future::join_all((0..6).map(|_| hooks.add_lane(id, &replay)))
        .await
        .into_iter()
        .map(|r| r.expect("concurrent add_lane"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=6).collect::<Vec<u64>>());
    assert_eq!(hooks.lanes(id).await.unwrap().len(), 7);
    assert!(hooks.delete_endpoint(id).await.unwrap());
}

/// The delivery log: appended with the cursor, resumed by event, paged newest first, pruned.
async fn delivery_log_case(hooks: &dyn WebhookStore) {
    let id = "whe_log";
    let other = "whe_log_other";
    hooks
        .insert_endpoint(&endpoint(id, "https://d.example/"), 5)
        .await
        .unwrap();
    hooks
        .insert_endpoint(&endpoint(other, "https://e.example/"), 0)
        .await
        .unwrap();
    let replay = Lane {
        id: 0,
        position: 0,
        until: Some(100),
        event_ids: None,
        emitted_between: None,
    };
    assert_eq!(hooks.add_lane(id, &replay).await.unwrap(), 1);

    let written = [
        // At or below the live position: ignored by resume_after(…, 5).
        attempt(0, 4, 1, t(10), AttemptOutcome::Success, Some("delivered")),
        attempt(0, 6, 1, t(11), AttemptOutcome::HttpError, None),
        attempt(0, 9, 1, t(12), AttemptOutcome::Timeout, None),
        attempt(0, 6, 2, t(13), AttemptOutcome::Success, Some("delivered")),
        // Another lane's attempts at the same event.
        attempt(1, 9, 1, t(14), AttemptOutcome::ConnectError, None),
        attempt(1, 9, 2, t(15), AttemptOutcome::Gone, Some("failed")),
        // A notice about the endpoint (no event).
        attempt(0, 0, 0, t(16), AttemptOutcome::EndpointDisabled, None),
        attempt(0, 11, 1, t(17), AttemptOutcome::RateLimited, None),
    ];
    hooks.record(id, &written[..4], &[(0, 6)]).await.unwrap();
    hooks.record(id, &written[4..], &[(1, 3)]).await.unwrap();
    hooks
        .record(
            other,
            &[attempt(0, 6, 1, t(12), AttemptOutcome::Redirect, None)],
            &[],
        )
        .await
        .unwrap();
    let lanes = hooks.lanes(id).await.unwrap();
    assert_eq!(
        lanes.iter().map(|l| (l.id, l.position)).collect::<Vec<_>>(),
        [(0, 6), (1, 3)]
    );

    // Per event above the position, in this lane only: count, last time, settled.
    let resume = hooks.resume_after(id, 0, 5).await.unwrap();
    let summary: Vec<_> = resume
        .iter()
        .map(|r| (r.event_id, r.attempts, r.last_at, r.settled))
        .collect();
    assert_eq!(
        summary,
        [
            (6, 2, t(13), true),
            (9, 1, t(12), false),
            (11, 1, t(17), false)
        ]
    );
    let resume = hooks.resume_after(id, 0, 6).await.unwrap();
    assert_eq!(
        resume.iter().map(|r| r.event_id).collect::<Vec<_>>(),
        [9, 11]
    );
    let resume = hooks.resume_after(id, 1, 0).await.unwrap();
    let summary: Vec<_> = resume
        .iter()
        .map(|r| (r.event_id, r.attempts, r.last_at, r.settled))
        .collect();
    assert_eq!(summary, [(9, 2, t(15), true)]);
    assert!(hooks.resume_after(id, 2, 0).await.unwrap().is_empty());

    // Newest first, every field as written, ids increasing with writes.
    let log = hooks.attempts(id, None, 100, None).await.unwrap();
    assert_eq!(
        log.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
        written.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert!(log.windows(2).all(|w| w[0].id > w[1].id));
    // Paging with `before`.
    let page = hooks.attempts(id, None, 3, None).await.unwrap();
    assert_eq!(page, log[..3]);
    let page = hooks.attempts(id, Some(page[2].id), 3, None).await.unwrap();
    assert_eq!(page, log[3..6]);
    let page = hooks.attempts(id, Some(page[2].id), 3, None).await.unwrap();
    assert_eq!(page, log[6..]);
    assert!(
        hooks
            .attempts(id, Some(log[7].id), 3, None)
            .await
            .unwrap()
            .is_empty()
    );
    // By event, across lanes, newest first.
    let of_9 = hooks.attempts(id, None, 100, Some(9)).await.unwrap();
    assert_eq!(
        of_9.iter()
            .map(|r| (r.record.lane, r.record.attempt))
            .collect::<Vec<_>>(),
        [(1, 2), (1, 1), (0, 1)]
    );
    let of_9 = hooks
        .attempts(id, Some(of_9[0].id), 1, Some(9))
        .await
        .unwrap();
    assert_eq!(of_9.len(), 1);
    assert_eq!((of_9[0].record.lane, of_9[0].record.attempt), (1, 1));
    assert_eq!(
        hooks.attempts(other, None, 100, None).await.unwrap().len(),
        1
    );

    // Pruning by time, across endpoints: strictly older rows go.
    assert_eq!(hooks.prune_attempts(t(12)).await.unwrap(), 2);
    let log = hooks.attempts(id, None, 100, None).await.unwrap();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|r| r.record.at >= t(12)));
    assert_eq!(
        hooks.attempts(other, None, 100, None).await.unwrap().len(),
        1
    );
    assert_eq!(hooks.prune_attempts(t(13)).await.unwrap(), 2);
    assert_eq!(hooks.prune_attempts(t(13)).await.unwrap(), 0);
    assert!(
        hooks
            .attempts(other, None, 100, None)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(hooks.delete_endpoint(id).await.unwrap());
    assert!(hooks.delete_endpoint(other).await.unwrap());
}

/// Deleting an endpoint deletes its lanes and delivery log, and only its own.
async fn delete_case(hooks: &dyn WebhookStore) {
    let (id, kept) = ("whe_gone", "whe_kept");
    for e in [id, kept] {
        hooks
            .insert_endpoint(&endpoint(e, "https://g.example/"), 3)
            .await
            .unwrap();
        let replay = Lane {
            id: 0,
            position: 0,
            until: Some(9),
            event_ids: Some(vec![1, 9]),
            emitted_between: None,
        };
        hooks.add_lane(e, &replay).await.unwrap();
        hooks
            .record(
                e,
                &[
                    attempt(0, 4, 1, t(1), AttemptOutcome::Success, Some("delivered")),
                    attempt(1, 1, 1, t(2), AttemptOutcome::HttpError, None),
                ],
                &[(0, 4)],
            )
            .await
            .unwrap();
    }
    assert!(hooks.delete_endpoint(id).await.unwrap());
    assert!(hooks.endpoint(id).await.unwrap().is_none());
    assert!(hooks.lanes(id).await.unwrap().is_empty());
    assert!(
        hooks
            .attempts(id, None, 100, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(hooks.resume_after(id, 1, 0).await.unwrap().is_empty());
    assert!(!hooks.delete_endpoint(id).await.unwrap());
    // Re-creating the id starts from nothing.
    hooks
        .insert_endpoint(&endpoint(id, "https://g.example/"), 7)
        .await
        .unwrap();
    assert_eq!(hooks.lanes(id).await.unwrap(), vec![Lane::live(7)]);
    assert!(
        hooks
            .attempts(id, None, 100, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        hooks
            .add_lane(
                id,
                &Lane {
                    id: 0,
                    position: 0,
                    until: Some(1),
                    event_ids: None,
                    emitted_between: None
                }
            )
            .await
            .unwrap(),
        1
    );
    assert!(hooks.delete_endpoint(id).await.unwrap());

    assert_eq!(hooks.lanes(kept).await.unwrap().len(), 2);
    assert_eq!(
        hooks.attempts(kept, None, 100, None).await.unwrap().len(),
        2
    );
    assert!(hooks.delete_endpoint(kept).await.unwrap());
}

/// Event lookups over the log written through the normal store API.
async fn events_case(store: &Store, hooks: &dyn WebhookStore) {
    assert_eq!(hooks.event_ids_between(ms(0), ms(100)).await.unwrap(), None);
    // Three creations (tracker.created is emitted at trackd's wall-clock time,
    // whatever `now` registration is given): ids 1–3; two checkpoints of the
    // first emitted at t(10): 4, 5; one of the second at t(20): 6.
    let wall_before = Utc::now().timestamp_millis();
    let registered = store
        .register(vec![parcel("1Z1"), parcel("1Z2"), parcel("1Z3")], t(0))
        .await
        .unwrap();
    let wall_after = Utc::now().timestamp_millis();
    let (a, b, c) = (
        registered[0].row.id,
        registered[1].row.id,
        registered[2].row.id,
    );
    assert_eq!(
        store
            .commit(unit(a, "1Z1", &["p1", "p2"], t(10)))
            .await
            .unwrap(),
        vec![4, 5]
    );
    assert_eq!(
        store.commit(unit(b, "1Z2", &["q1"], t(20))).await.unwrap(),
        vec![6]
    );
    store.flush().await.unwrap();

    assert_eq!(
        hooks
            .event_ids_between(wall_before, wall_after + 1)
            .await
            .unwrap(),
        Some((1, 3))
    );
    // [since, before): the end is excluded.
    assert_eq!(hooks.event_ids_between(ms(0), ms(10)).await.unwrap(), None);
    assert_eq!(
        hooks.event_ids_between(ms(0), ms(10) + 1).await.unwrap(),
        Some((4, 5))
    );
    assert_eq!(
        hooks.event_ids_between(ms(10), ms(30)).await.unwrap(),
        Some((4, 6))
    );
    assert_eq!(
        hooks
            .event_ids_between(ms(-100), wall_after + 1)
            .await
            .unwrap(),
        Some((1, 6))
    );
    assert_eq!(hooks.event_ids_between(ms(11), ms(20)).await.unwrap(), None);
    assert_eq!(hooks.event_ids_between(ms(21), ms(99)).await.unwrap(), None);

    // A tracker's events below an id, oldest first.
    let created = EventType::TrackerCreated.as_str().to_string();
    let checkpoint = EventType::CheckpointAdded.as_str().to_string();
    assert_eq!(
        hooks.tracker_events_before(a, 5).await.unwrap(),
        vec![(1, created.clone()), (4, checkpoint.clone())]
    );
    assert_eq!(
        hooks.tracker_events_before(a, 100).await.unwrap(),
        vec![
            (1, created.clone()),
            (4, checkpoint.clone()),
            (5, checkpoint.clone())
        ]
    );
    assert_eq!(
        hooks.tracker_events_before(b, 100).await.unwrap(),
        vec![(2, created.clone()), (6, checkpoint)]
    );
    assert_eq!(
        hooks.tracker_events_before(c, 100).await.unwrap(),
        vec![(3, created)]
    );
    assert!(hooks.tracker_events_before(a, 1).await.unwrap().is_empty());
    assert!(
        hooks
            .tracker_events_before(999, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sqlite_keeps_the_webhook_store_contract() {
    contract(Place::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn postgres_keeps_the_webhook_store_contract() {
    if let Some(place) = postgres_place().await {
        contract(place).await;
    }
}

/// Two instances adding replays to one endpoint at once still number them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_number_replays_apart() {
    let Some(place) = postgres_place().await else {
        return;
    };
    let (a, b) = (place.open().await, place.open().await);
    let (ha, hb) = (a.webhooks(), b.webhooks());
    let id = "whe_fleet";
    ha.insert_endpoint(&endpoint(id, "https://f.example/"), 0)
        .await
        .unwrap();
    let replay = Lane {
        id: 0,
        position: 0,
        until: Some(10),
        event_ids: None,
        emitted_between: None,
    };
    let spawn = |hooks: Arc<dyn WebhookStore>| {
        let replay = replay.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..10 {
                ids.push(hooks.add_lane(id, &replay).await.unwrap());
            }
            ids
        })
    };
    let (ja, jb) = (spawn(ha.clone()), spawn(hb.clone()));
    let mut ids = ja.await.unwrap();
    ids.extend(jb.await.unwrap());
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<u64>>());
    assert_eq!(hb.lanes(id).await.unwrap().len(), 21);
    drop((ha, hb, a, b));
    place.drop_database().await;
}
