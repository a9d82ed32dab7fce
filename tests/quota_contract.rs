//! The quota seams against the real engines: pacing shared through Redis (the
//! GCRA script, 429 pauses, lost Redis data, Redis unreachable) and the hard
//! hour caps on both stores (one SQLite process across restarts, several fleet
//! instances sharing one PostgreSQL row). Every grant is replayed through the
//! simulator's own quota model, the one the carriers' side enforces.

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackd::events::StoredEvent;
use trackd::metrics::Metrics;
use trackd::quota::gate::{FleetGate, LocalGate, QuotaGate};
use trackd::quota::pacing::{EffectiveQuota, FleetView, Pacer};
use trackd::quota::redis_pacer::{RedisPacer, connect};
use trackd::quota::{Caps, LedgerStore};
use trackd::store::{EventSink, PostgresStore, SqliteStore, Store, Synchronous};
use trackd_carrier_sdk::Quota;
use trackd_simulator::QuotaState;

const REDIS: &str = "redis://127.0.0.1:6379";

/// A fleet of a fixed size where this instance holds a fixed share.
struct Fixed(f64, u32);

impl FleetView for Fixed {
    fn share(&self) -> f64 {
        self.0
    }
    fn live_instances(&self) -> u32 {
        self.1
    }
}

fn per_second(n: u32) -> EffectiveQuota {
    EffectiveQuota {
        per_second: n,
        per_minute: None,
        per_hour: None,
        per_day: None,
    }
}

fn prefix() -> String {
    format!(
        "trackd-test-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn pacer(
    url: &str,
    prefix: &str,
    quota: EffectiveQuota,
    fleet: Fixed,
) -> (RedisPacer, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let conn = connect(url).expect("a Redis URL");
    (
        RedisPacer::new(
            "ups",
            quota,
            conn,
            prefix,
            Arc::new(fleet),
            Duration::from_millis(200),
            metrics.clone(),
        ),
        metrics,
    )
}

/// Requests the carrier would have refused, replaying `grants` (in order)
/// through the simulator's token bucket of `per_second`.
fn carrier_refusals(mut grants: Vec<Instant>, per_second: u32) -> usize {
    grants.sort();
    let Some(first) = grants.first().copied() else {
        return 0;
    };
    let mut bucket = QuotaState::new(
        Quota {
            per_second,
            per_minute: None,
            per_hour: None,
            per_day: None,
        },
        first,
    );
    grants
        .into_iter()
        .filter(|t| bucket.try_acquire(*t).is_err())
        .count()
}

/// Takes every slot `pacer` grants for `span`, returning when each was granted.
async fn hammer(pacer: &RedisPacer, span: Duration) -> Vec<Instant> {
    let end = Instant::now() + span;
    let mut grants = Vec::new();
    while Instant::now() < end {
        if pacer.acquire().await.is_ok() {
            grants.push(Instant::now());
        }
    }
    grants
}

async fn redis_conn() -> redis::aio::ConnectionManager {
    connect(REDIS).expect("a Redis URL").clone()
}

/// Microseconds from Redis `TIME` to the schedule stored for window `second`.
async fn schedule_ahead_us(prefix: &str) -> i64 {
    let mut c = redis_conn().await;
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut c).await.unwrap();
    let tat: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}:{{ups}}:second"))
        .query_async(&mut c)
        .await
        .unwrap();
    tat.map_or(i64::MIN, |t| {
        t.parse::<i64>().unwrap() - (secs * 1_000_000 + micros)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_budget_for_the_fleet_whoever_spends_it() {
    if !redis_available(REDIS) {
        return;
    }
    let p = prefix();
    let rate = 40;
    let fleet: Vec<(RedisPacer, Arc<Metrics>)> = (0..3)
        .map(|_| pacer(REDIS, &p, per_second(rate), Fixed(1.0 / 3.0, 3)))
        .collect();
    // One busy instance of three gets more than its third: the budget is shared.
    let alone = hammer(&fleet[0].0, Duration::from_secs(2)).await;
    let third = (f64::from(rate) / 3.0 * 2.0) as usize + 2;
    assert!(
        alone.len() > third,
        "{} grants in 2 s alone: no more than a third of the quota ({third})",
        alone.len()
    );
    // All three at once never get more than the carrier allows together.
    let (a, b, c) = tokio::join!(
        hammer(&fleet[0].0, Duration::from_secs(2)),
        hammer(&fleet[1].0, Duration::from_secs(2)),
        hammer(&fleet[2].0, Duration::from_secs(2)),
    );
    let together: Vec<Instant> = a.into_iter().chain(b).chain(c).collect();
    assert!(
        together.len() > third,
        "the fleet was starved: {}",
        together.len()
    );
    assert_eq!(
        carrier_refusals(alone, rate),
        0,
        "one instance over the quota"
    );
    assert_eq!(
        carrier_refusals(together, rate),
        0,
        "the fleet over the quota"
    );
    for (_, m) in &fleet {
        let backend = m.quota_backend.with_label_values(&["ups", "redis"]).get();
        assert_eq!(backend, 1, "paced through Redis");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_instance_pauses_the_whole_fleet() {
    if !redis_available(REDIS) {
        return;
    }
    let p = prefix();
    let (a, _) = pacer(REDIS, &p, per_second(100), Fixed(0.5, 2));
    let (b, _) = pacer(REDIS, &p, per_second(100), Fixed(0.5, 2));
    b.acquire().await.expect("a first slot");
    let paused_at = Instant::now();
    a.pause(Duration::from_millis(1_500));
    let mut c = redis_conn().await;
    let key = format!("{p}:{{ups}}:pause");
    wait_until(Duration::from_secs(30), "the pause stored in Redis", || {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(&key)
                .query_async::<i64>(&mut c)
                .await
                .unwrap()
                == 1
        }
    })
    .await;
    b.acquire().await.expect("a slot after the pause");
    assert!(
        paused_at.elapsed() >= Duration::from_millis(1_400),
        "the other instance sent {:?} into a 1.5 s pause",
        paused_at.elapsed()
    );
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_redis_data_never_hands_out_a_fresh_burst() {
    if !redis_available(REDIS) {
        return;
    }
    let p = prefix();
    let (a, _) = pacer(REDIS, &p, per_second(40), Fixed(1.0, 1));
    // Nothing known (as after a Redis restart): the burst counts as just spent,
    // so the schedule runs a whole tolerance (19 intervals of 26 ms) ahead.
    a.acquire().await.unwrap();
    let ahead = schedule_ahead_us(&p).await;
    assert!(
        ahead > 250_000,
        "fresh state scheduled only {ahead} µs ahead"
    );
    // Known and idle: a burst is fine, one request moves the schedule one interval.
    wait_until(Duration::from_secs(30), "the schedule caught up", || {
        let p = p.clone();
        async move { schedule_ahead_us(&p).await < 0 }
    })
    .await;
    a.acquire().await.unwrap();
    let ahead = schedule_ahead_us(&p).await;
    assert!(
        (0..250_000).contains(&ahead),
        "an idle known carrier scheduled {ahead} µs ahead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_fails_closed_to_the_share() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let rate = 20;
    let (a, metrics) = pacer(&url, &prefix(), per_second(rate), Fixed(0.5, 2));
    let grants = hammer(&a, Duration::from_secs(3)).await;
    assert!(
        grants.len() >= 10,
        "polling stopped: {} grants",
        grants.len()
    );
    assert_eq!(
        carrier_refusals(grants, rate / 2),
        0,
        "over this instance's half of the quota"
    );
    assert_eq!(
        metrics
            .quota_backend
            .with_label_values(&["ups", "redis_fallback"])
            .get(),
        1
    );
    assert!(
        metrics
            .quota_redis_failures
            .with_label_values(&["ups"])
            .get()
            >= 1
    );
}

struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _events: Vec<StoredEvent>) {}
}

fn hour_caps(per_hour: u32) -> Caps {
    Caps {
        per_minute: None,
        per_hour: Some(per_hour),
        per_day: None,
        per_second: 100,
    }
}

/// Admits until the gate refuses; how many it let through.
async fn drain(gate: &dyn QuotaGate) -> u32 {
    let mut n = 0;
    while gate.admit().await.is_ok() {
        n += 1;
        assert!(n <= 10_000, "the gate never refused");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_never_spends_an_hour_twice_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::new(SqliteStore::open(dir.path(), Synchronous::Full, Arc::new(NoEvents)).unwrap())
    };
    let mut spent = 0;
    for _ in 0..3 {
        let store = open();
        let saved = store.quota_ledgers().await.unwrap();
        let restored = saved.iter().find(|(c, _)| c == "ups").map(|(_, s)| s);
        let gate = LocalGate::new(
            "ups",
            hour_caps(40),
            Arc::new(store.clone()) as Arc<dyn LedgerStore>,
            restored,
            Arc::new(Metrics::new()),
        );
        spent += drain(&gate).await;
        store.flush().await.unwrap();
    }
    assert_eq!(spent, 40, "the hour's budget once, across three processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_instances_share_one_hour_and_restarts_never_refill_it() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let gates = |store: &PostgresStore| -> Vec<FleetGate> {
        (0..3)
            .map(|_| {
                FleetGate::new(
                    "ups",
                    hour_caps(40),
                    Arc::new(store.clone()),
                    Arc::new(Metrics::new()),
                )
            })
            .collect()
    };
    let store = PostgresStore::open(&db.url, Arc::new(NoEvents), 8)
        .await
        .unwrap();
    let fleet = gates(&store);
    let (a, b, c) = tokio::join!(drain(&fleet[0]), drain(&fleet[1]), drain(&fleet[2]));
    let spent = a + b + c;
    // Each instance holds at most one unspent chunk (40 / 20 = 2) at the end.
    assert!(
        (34..=40).contains(&spent),
        "{spent} of the fleet's 40 per hour ({a} + {b} + {c})"
    );
    drop(fleet);
    // Restarted instances (another process, the same row): nothing left this hour.
    let store = PostgresStore::open(&db.url, Arc::new(NoEvents), 8)
        .await
        .unwrap();
    let again = gates(&store);
    assert_eq!(drain(&again[0]).await, 0, "a restart refilled the hour");
    assert_eq!(
        again[0].used("hour"),
        40,
        "the fleet's hour as the row counts it"
    );
    db.drop_now().await;
}
