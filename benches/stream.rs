//! Target 4: event fan-out through `trackd::stream::Hub` to many subscribers.
//!
//! `cargo bench --bench stream`
//!
//! Each round publishes `EVENTS` pre-built `StoredEvent`s (a realistic
//! `checkpoint.added`, ~0.5 KB of JSON, built by `StoredEvent::build`) through
//! `EventSink::publish` in batches of `BATCH` (one store group commit each), from
//! the bench thread as the store writer thread would. 1, 10 or 100 subscribers
//! (`Hub::subscribe`, cursor at the live edge, no filter; the hub needs a store
//! for the cursor check, so a tempdir store is used) consume concurrently on a
//! 2-worker tokio runtime until each has seen the last id. Time runs from the
//! first publish to the last delivery; throughput = events delivered summed over
//! subscribers.
//!
//! `floor_broadcast` is the same fan-out over a bare `tokio::sync::broadcast` of
//! `Arc<[StoredEvent]>` (receivers clone each event out, as the hub's stream
//! does), i.e. the channel the hub is built on, without cursors, window or
//! `async_stream`.
//!
//! A `cpu:` report on stderr divides deliveries by the CPU time of all threads
//! (publisher + runtime workers), giving events per second per core.
//! Not included: SSE framing and socket writes (the HTTP side of `/v1/events`).

#[path = "common/mod.rs"]
mod common;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use trackd::events::{EventDraft, EventType, StoredEvent, Subject, fact};
use trackd::store::{EventFilter, EventSink, Store};
use trackd::stream::Hub;
use trackd_carrier_sdk::{Carrier, Snapshot};
use trackd_carrier_ups::Ups;

const EVENTS: usize = 10_000;
const BATCH: usize = 100;
const SUBSCRIBERS: [usize; 3] = [1, 10, 100];

struct Ctx {
    rt: Runtime,
    hub: Arc<Hub>,
    store: Store,
    _dir: tempfile::TempDir,
    template: StoredEvent,
    next_id: std::sync::atomic::AtomicU64,
}

fn template() -> StoredEvent {
    let parcel = common::ups_parcel(10, 0);
    let resp = common::ups_answer(&parcel);
    let snap: Snapshot = Ups
        .parse_track(&[parcel.tracking_number.as_str()], &resp)
        .expect("parses")
        .remove(0)
        .outcome
        .expect("a snapshot");
    let cp = snap.checkpoints.last().expect("a checkpoint").clone();
    let id = cp.identity();
    let draft = EventDraft {
        kind: EventType::CheckpointAdded,
        occurred_at: cp.occurred_at,
        fact: fact(&["checkpoint", &id.to_string()]),
        data: serde_json::json!({ "checkpoint": cp }),
    };
    let subject = Subject {
        tracker_id: 42,
        carrier: "ups".into(),
        tracking_number: parcel.tracking_number.as_str().into(),
        reference: Some("order-12345".into()),
    };
    StoredEvent::build(
        1,
        &subject,
        &draft,
        Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap(),
    )
}

impl Ctx {
    fn new() -> Ctx {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-stream")
            .enable_all()
            .build()
            .expect("runtime");
        let hub = Hub::new(65_536); // as `Daemon::start` builds it
        let (store, dir) = common::temp_store(Arc::new(common::CountingSink::default()));
        let template = template();
        eprintln!(
            "stream: each event is {} bytes of JSON",
            template.json.len()
        );
        Ctx {
            rt,
            hub,
            store,
            _dir: dir,
            template,
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// `EVENTS` events with fresh ids, in publish-sized batches.
    fn batches(&self) -> Vec<Vec<StoredEvent>> {
        let first = self
            .next_id
            .fetch_add(EVENTS as u64, std::sync::atomic::Ordering::SeqCst);
        (0..EVENTS as u64)
            .map(|i| StoredEvent {
                id: first + i,
                ..self.template.clone()
            })
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(<[StoredEvent]>::to_vec)
            .collect()
    }

    /// One round through the hub; returns (wall time, deliveries).
    fn hub_round(&self, subscribers: usize) -> (Duration, usize) {
        let batches = self.batches();
        let after = self.hub.last_id();
        let last = batches.last().and_then(|b| b.last()).expect("events").id;
        let streams: Vec<_> = self.rt.block_on(async {
            let mut v = Vec::with_capacity(subscribers);
            for _ in 0..subscribers {
                v.push(
                    self.hub
                        .subscribe(self.store.clone(), after, EventFilter::default())
                        .await
                        .expect("subscribes"),
                );
            }
            v
        });
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| {
                self.rt.spawn(async move {
                    let mut s = std::pin::pin!(s);
                    let mut n = 0usize;
                    while let Some(e) = s.next().await {
                        n += 1;
                        if e.id >= last {
                            break;
                        }
                    }
                    n
                })
            })
            .collect();
        // Let every consumer reach the live loop before the clock starts.
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        for b in batches {
            self.hub.publish(b);
        }
        let delivered: usize = self.rt.block_on(async {
            let mut total = 0;
            for t in tasks {
                total += t.await.expect("consumer");
            }
            total
        });
        (start.elapsed(), delivered)
    }

    /// One round through a bare broadcast channel.
    fn floor_round(&self, subscribers: usize) -> (Duration, usize) {
        let batches = self.batches();
        let last = batches.last().and_then(|b| b.last()).expect("events").id;
        let (tx, _) = broadcast::channel::<Arc<[StoredEvent]>>(4096);
        let tasks: Vec<_> = (0..subscribers)
            .map(|_| {
                let mut rx = tx.subscribe();
                self.rt.spawn(async move {
                    let mut n = 0usize;
                    while let Ok(batch) = rx.recv().await {
                        for e in batch.iter() {
                            let e = std::hint::black_box(e.clone());
                            n += 1;
                            if e.id >= last {
                                return n;
                            }
                        }
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        for b in batches {
            let _ = tx.send(b.into());
        }
        let delivered: usize = self.rt.block_on(async {
            let mut total = 0;
            for t in tasks {
                total += t.await.expect("consumer");
            }
            total
        });
        (start.elapsed(), delivered)
    }
}

fn ctx() -> Arc<Ctx> {
    static CTX: std::sync::OnceLock<Arc<Ctx>> = std::sync::OnceLock::new();
    CTX.get_or_init(|| Arc::new(Ctx::new())).clone()
}

fn rounds(ctx: &Ctx, floor: bool, subscribers: usize, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (t, delivered) = if floor {
            ctx.floor_round(subscribers)
        } else {
            ctx.hub_round(subscribers)
        };
        assert_eq!(
            delivered,
            EVENTS * subscribers,
            "every subscriber got every event"
        );
        total += t;
    }
    total
}

fn fanout(c: &mut Criterion) {
    let ctx = ctx();
    for subs in SUBSCRIBERS {
        let mut g = c.benchmark_group(format!("stream/{subs}_subscribers"));
        g.throughput(Throughput::Elements((EVENTS * subs) as u64));
        g.bench_function("hub", |b| {
            b.iter_custom(|iters| rounds(&ctx, false, subs, iters))
        });
        g.bench_function("floor_broadcast", |b| {
            b.iter_custom(|iters| rounds(&ctx, true, subs, iters))
        });
        g.finish();
    }
}

/// Deliveries per CPU-second (all threads of the process).
fn cpu(c: &mut Criterion) {
    let _ = c;
    if std::env::var_os("BENCH_SKIP_CPU_REPORT").is_some() {
        return; // e.g. while profiling one benchmark with --profile-time
    }
    let ctx = ctx();
    if common::cpu_ns("").0 == 0 {
        eprintln!("cpu: /proc/self/task/*/schedstat unavailable; skipped");
        return;
    }
    for subs in SUBSCRIBERS {
        for floor in [true, false] {
            let n_rounds = (200 / subs).clamp(5, 100) as u64;
            let (cpu0, _) = common::cpu_ns("");
            let mut wall = Duration::ZERO;
            for _ in 0..n_rounds {
                let (t, d) = if floor {
                    ctx.floor_round(subs)
                } else {
                    ctx.hub_round(subs)
                };
                assert_eq!(d, EVENTS * subs);
                wall += t;
            }
            let (cpu1, _) = common::cpu_ns("");
            let delivered = (EVENTS * subs) as f64 * n_rounds as f64;
            let cpu_s = (cpu1 - cpu0) as f64 / 1e9;
            eprintln!(
                "cpu: {subs:>3} subscribers {:<16} {:>10.0} deliveries/s wall (publish→last delivery)  {:>10.0} deliveries per CPU-second (incl. subscribe + 20 ms idle per round)",
                if floor { "floor_broadcast" } else { "hub" },
                delivered / wall.as_secs_f64(),
                delivered / cpu_s,
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = fanout, cpu
}
criterion_main!(benches);
