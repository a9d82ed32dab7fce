//! Targets 1 and 3: one poll end to end, against the raw HTTP + JSON floor.
//!
//! `cargo bench --bench pipeline`
//!
//! A local axum server on 127.0.0.1:0 (its own runtime, threads named
//! `bench-server`) serves a simulator-rendered ~2.4 KB UPS Track API answer
//! (7 scans, in transit). One `reqwest::Client` built like the daemon's.
//!
//! - `floor`: GET + `resp.bytes()` + `serde_json::from_slice::<Value>`.
//! - `trackd_changed`: what `poller::poll_batch` + `ingest` do for one tracker
//!   whose stored state has 6 scans, so the answer adds one: GET (status,
//!   headers and body copied into an `HttpResponse` as `carrier_client` does),
//!   FNV body hash, `Ups::parse_track`, the by-number map, snapshot cache lookup
//!   (moka), `diff::apply` (1 `checkpoint.added`), `Store::commit` awaited (a real
//!   SQLite store in a tempdir; its sink counts events), cache insert and
//!   registry updates. Every poll hits a fresh tracker registered (with its
//!   6-scan snapshot already stored) outside the timed region.
//! - `trackd_unchanged_bytes`: byte-identical answer: GET + FNV hash + compare,
//!   then skip (no parse, no diff, no write).
//! - `trackd_unchanged_parsed`: same facts but a different body hash (e.g. after
//!   a restart, where hashes are not persisted): GET + parse + diff, no write.
//! - `part_store_commit_only`: no HTTP, no parse: only the `Store::commit` of the
//!   unit a changed poll builds (snapshot + one event), to attribute the cost.
//!
//! Criterion reports wall time per poll with concurrency 1 and with 32 polls in
//! flight (`c32/*`). Because wall time on a shared 2-core box mixes in the local
//! server and other processes, a second report (`cpu:` lines on stderr) gives
//! the CPU time each path costs this process per poll, excluding the
//! `bench-server` threads (per-thread `/proc/self/task/*/schedstat`), i.e.
//! client + parse + diff + store writer: 1 s / that = polls per second per core.
//!
//! Not included: OAuth token refresh, the quota governor, retries, metrics
//! counters and rescheduling (all O(1) per poll).

#[path = "common/mod.rs"]
mod common;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use trackd::diff::{self, DiffPolicy};
use trackd::events::Subject;
use trackd::store::{CommitUnit, NewTracker, Store};
use trackd::trackers::{Entry, Registry, TrackerState};
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::{Carrier, CarrierError, HttpResponse, Snapshot, Status};
use trackd_carrier_ups::Ups;

const POLICY: DiffPolicy = DiffPolicy {
    eta_slip_tolerance_secs: 7200,
};
const CONCURRENCY: usize = 32;

struct Ctx {
    client_rt: Runtime,
    _server_rt: Runtime,
    http: reqwest::Client,
    url: String,
    /// The number inside the served answer.
    number: String,
    body_hash: u64,
    store: Store,
    _dir: tempfile::TempDir,
    sink: Arc<common::CountingSink>,
    snapshots: moka::sync::Cache<u64, Arc<Snapshot>>,
    registry: Registry,
    /// The stored state of a fresh tracker: the 6-scan answer, applied.
    prev_older: Arc<Snapshot>,
    /// What `diff::apply` makes of the served answer for a fresh tracker.
    applied: diff::Applied,
    /// A tracker whose cached state already equals the served answer.
    same: Subject,
    /// Trackers with 6 scans stored, not polled yet.
    fresh: Mutex<Vec<Subject>>,
    serial: Mutex<u64>,
}

enum Outcome {
    Skipped,
    NoWrite,
    Written(usize),
}

fn parsed(parcel: &trackd_carrier_sdk::SimParcel) -> Snapshot {
    let resp = common::ups_answer(parcel);
    Ups.parse_track(&[parcel.tracking_number.as_str()], &resp)
        .expect("parses")
        .remove(0)
        .outcome
        .expect("a snapshot")
}

impl Ctx {
    fn new() -> Ctx {
        let parcel = common::ups_parcel(common::SIM_EVENTS_2_4KB, 0);
        let answer = common::ups_answer(&parcel);
        let body = Bytes::from(answer.body.clone());
        eprintln!("pipeline: served answer is {} bytes", body.len());

        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-server")
            .enable_all()
            .build()
            .expect("server runtime");
        let addr = server_rt.block_on(async {
            let app = Router::new().route(
                "/api/track/v1/details/{number}",
                get(move || {
                    let body = body.clone();
                    async move {
                        (
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            body,
                        )
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, app).await });
            addr
        });

        let client_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-client")
            .enable_all()
            .build()
            .expect("client runtime");
        // Built like `Daemon::start` builds it.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .user_agent("trackd-bench")
            .build()
            .expect("client");
        let url = format!(
            "http://{addr}{}{}?{}",
            trackd_carrier_ups::TRACK_PREFIX,
            parcel.tracking_number,
            trackd_carrier_ups::TRACK_QUERY
        );

        let sink = Arc::new(common::CountingSink::default());
        let (store, dir) = client_rt.block_on(async { common::temp_store(sink.clone()) });
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let prev_older = diff::apply(
            &Snapshot::pending(),
            parsed(&common::ups_parcel(common::SIM_EVENTS_2_4KB - 1, 0)),
            t0,
            &POLICY,
        )
        .snapshot;
        let prev_same = diff::apply(&Snapshot::pending(), parsed(&parcel), t0, &POLICY).snapshot;
        let applied = diff::apply(&prev_older, parsed(&parcel), Utc::now(), &POLICY);
        assert_eq!(applied.events.len(), 1, "the served answer adds one scan");
        let ctx = Ctx {
            client_rt,
            _server_rt: server_rt,
            http,
            url,
            number: parcel.tracking_number.clone(),
            body_hash: Fnv::hash(&answer.body),
            store,
            _dir: dir,
            sink,
            snapshots: moka::sync::Cache::new(10_000_000),
            registry: Registry::new(),
            prev_older: Arc::new(prev_older),
            applied,
            same: Subject {
                tracker_id: 0,
                carrier: "ups".into(),
                tracking_number: "".into(),
                reference: None,
            },
            fresh: Mutex::new(Vec::new()),
            serial: Mutex::new(0),
        };
        let mut ctx = ctx;
        ctx.same = ctx.register(1).remove(0);
        ctx.snapshots
            .insert(ctx.same.tracker_id, Arc::new(prev_same));
        ctx
    }

    /// Registers `n` trackers with the 6-scan state stored and cached.
    fn register(&self, n: usize) -> Vec<Subject> {
        let first = {
            let mut s = self.serial.lock().unwrap();
            *s += n as u64;
            *s - n as u64
        };
        let trackers: Vec<NewTracker> = (first..first + n as u64)
            .map(|i| NewTracker {
                carrier: "ups".into(),
                tracking_number: format!("1ZBENCH{i:011}"),
                reference: None,
                labels: Vec::new(),
                promised_by: None,
                direction: Default::default(),
                return_for: None,
            })
            .collect();
        let now = Utc::now();
        self.client_rt.block_on(async {
            let rows = self.store.register(trackers, now).await.expect("register");
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let entry = trackd::daemon::Core::entry_for(&r.row);
                let subject = entry.subject.clone();
                self.registry.insert(entry);
                self.store
                    .commit_detached(CommitUnit {
                        subject: subject.clone(),
                        snapshot: Some(self.prev_older.clone()),
                        status: self.prev_older.status,
                        state: TrackerState::Active,
                        error_kind: None,
                        eta_deadline: None,
                        last_change_at: now.timestamp(),
                        events: Vec::new(),
                        emitted_at: now,
                        fence: None,
                    })
                    .expect("queue");
                self.snapshots
                    .insert(subject.tracker_id, self.prev_older.clone());
                out.push(subject);
            }
            self.store.flush().await.expect("flush");
            out
        })
    }

    /// Makes sure `n` never-polled trackers are ready (registered, 6 scans stored).
    fn ensure_fresh(&self, n: usize) {
        let have = self.fresh.lock().unwrap().len();
        if have < n {
            let more = self.register((n - have).max(4096));
            self.fresh.lock().unwrap().extend(more);
        }
    }

    /// `n` trackers never polled (registering more outside any timed region).
    fn take_fresh(&self, n: usize) -> Vec<Subject> {
        self.ensure_fresh(n);
        let mut fresh = self.fresh.lock().unwrap();
        let at = fresh.len() - n;
        fresh.split_off(at)
    }

    async fn floor_poll(&self) {
        let resp = self.http.get(&self.url).send().await.expect("GET");
        let body = resp.bytes().await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        black_box(v);
    }

    /// `carrier_client::send`: status, headers and body into an `HttpResponse`.
    async fn fetch(&self) -> HttpResponse {
        let resp = self.http.get(&self.url).send().await.expect("GET");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = resp.bytes().await.expect("body").to_vec();
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// Only the store part of a changed poll: commit the unit `ingest` builds.
    async fn commit_only(&self, subject: &Subject) -> usize {
        let snap = Arc::new(self.applied.snapshot.clone());
        let now = Utc::now();
        let unit = CommitUnit {
            subject: subject.clone(),
            snapshot: Some(snap.clone()),
            status: snap.status,
            state: TrackerState::Active,
            error_kind: None,
            eta_deadline: snap
                .estimated_delivery
                .map(|e| e.end().latest_instant().timestamp()),
            last_change_at: now.timestamp(),
            events: self.applied.events.clone(),
            emitted_at: now,
            fence: None,
        };
        self.store.commit(unit).await.expect("commit").len()
    }

    /// One tracker's poll as `poll_batch` + `ingest` + `commit_and_update` do it.
    async fn trackd_poll(&self, subject: &Subject, stored_hash: u64) -> Outcome {
        let id = subject.tracker_id;
        let entry = self
            .registry
            .update(id, |e| {
                e.in_flight = true;
                e.clone()
            })
            .expect("registered");
        let outcome = self.ingest(subject, stored_hash, &entry).await;
        self.registry.update(id, |e| e.in_flight = false);
        outcome
    }

    async fn ingest(&self, subject: &Subject, stored_hash: u64, entry: &Entry) -> Outcome {
        let numbers = [self.number.as_str()];
        let resp = self.fetch().await;
        let now = Utc::now();
        let body_hash = Fnv::hash(&resp.body);
        if resp.status == 200 && stored_hash == body_hash && body_hash != 0 {
            return Outcome::Skipped;
        }
        let results = Ups.parse_track(&numbers, &resp).expect("parses");
        let mut by_number: HashMap<String, Result<Snapshot, CarrierError>> = results
            .into_iter()
            .map(|r| {
                (
                    trackd::carriers::normalize_number(&r.tracking_number),
                    r.outcome,
                )
            })
            .collect();
        let next = by_number
            .remove(numbers[0])
            .expect("answered")
            .expect("a snapshot");
        let prev = self
            .snapshots
            .get(&subject.tracker_id)
            .unwrap_or_else(|| Arc::new(Snapshot::pending()));
        let applied = diff::apply(&prev, next, now, &POLICY);
        let snap = Arc::new(applied.snapshot);
        let state = if snap.status.is_terminal() {
            TrackerState::Completed
        } else {
            TrackerState::Active
        };
        let eta_deadline = snap
            .estimated_delivery
            .filter(|_| state == TrackerState::Active)
            .map(|e| e.end().latest_instant().timestamp());
        if applied.events.is_empty() && !applied.changed && state == entry.state {
            self.registry
                .update(subject.tracker_id, |e| e.body_hash = body_hash);
            return Outcome::NoWrite;
        }
        let status: Status = snap.status;
        let unit = CommitUnit {
            subject: subject.clone(),
            snapshot: applied.changed.then(|| snap.clone()),
            status,
            state,
            error_kind: None,
            eta_deadline,
            last_change_at: now.timestamp(),
            events: applied.events,
            emitted_at: Utc::now(),
            fence: None,
        };
        let ids = self.store.commit(unit).await.expect("commit");
        self.snapshots.insert(subject.tracker_id, snap);
        self.registry.update(subject.tracker_id, |e| {
            e.status = status;
            e.state = state;
            e.eta_deadline = eta_deadline;
            e.last_change_at = now.timestamp();
            e.body_hash = body_hash;
        });
        Outcome::Written(ids.len())
    }
}

/// Which work a poll does.
#[derive(Clone, Copy, Debug)]
enum Path {
    Floor,
    Changed,
    UnchangedBytes,
    UnchangedParsed,
    StoreCommitOnly,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Floor => "floor_reqwest_serde_value",
            Path::Changed => "trackd_changed",
            Path::UnchangedBytes => "trackd_unchanged_bytes",
            Path::UnchangedParsed => "trackd_unchanged_parsed",
            Path::StoreCommitOnly => "part_store_commit_only",
        }
    }
}

/// Runs `polls` polls of `path` with `concurrency` in flight; returns wall time.
fn run(ctx: &Arc<Ctx>, path: Path, polls: usize, concurrency: usize) -> Duration {
    let subjects = match path {
        Path::Changed | Path::StoreCommitOnly => ctx.take_fresh(polls),
        _ => vec![ctx.same.clone(); polls],
    };
    let hash = match path {
        Path::UnchangedBytes => ctx.body_hash,
        _ => 0,
    };
    let events_before = ctx.sink.events.load(std::sync::atomic::Ordering::Relaxed);
    let start = Instant::now();
    // Polls run as tasks on the runtime's workers, as the daemon's do.
    let chunk = polls.div_ceil(concurrency.max(1)).max(1);
    let parts: Vec<Vec<Subject>> = subjects.chunks(chunk).map(<[Subject]>::to_vec).collect();
    let written = ctx.client_rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for part in parts {
            let ctx = ctx.clone();
            tasks.spawn(async move { poll_all(&ctx, path, &part, hash).await });
        }
        let mut written = 0;
        while let Some(n) = tasks.join_next().await {
            written += n.expect("task");
        }
        written
    });
    let elapsed = start.elapsed();
    if let Path::Changed | Path::StoreCommitOnly = path {
        // Each poll stored exactly its one new checkpoint (then the sink saw it).
        assert_eq!(written, polls, "one event per changed poll");
        ctx.client_rt.block_on(ctx.store.flush()).expect("flush");
        let published = ctx.sink.events.load(std::sync::atomic::Ordering::Relaxed) - events_before;
        assert_eq!(published as usize, polls);
    }
    elapsed
}

async fn poll_all(ctx: &Ctx, path: Path, subjects: &[Subject], hash: u64) -> usize {
    let mut written = 0;
    for s in subjects {
        match path {
            Path::Floor => ctx.floor_poll().await,
            Path::StoreCommitOnly => written += ctx.commit_only(s).await,
            _ => match ctx.trackd_poll(s, hash).await {
                Outcome::Skipped => assert!(matches!(path, Path::UnchangedBytes)),
                Outcome::NoWrite => assert!(matches!(path, Path::UnchangedParsed)),
                Outcome::Written(n) => {
                    assert!(matches!(path, Path::Changed));
                    written += n;
                }
            },
        }
    }
    written
}

const PATHS: [Path; 5] = [
    Path::Floor,
    Path::Changed,
    Path::UnchangedBytes,
    Path::UnchangedParsed,
    Path::StoreCommitOnly,
];
const PATHS_CONCURRENT: [Path; 3] = [Path::Floor, Path::Changed, Path::StoreCommitOnly];

fn ctx() -> Arc<Ctx> {
    static CTX: std::sync::OnceLock<Arc<Ctx>> = std::sync::OnceLock::new();
    CTX.get_or_init(|| Arc::new(Ctx::new())).clone()
}

fn wall(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("pipeline/c1");
    g.throughput(Throughput::Elements(1));
    for path in PATHS {
        g.bench_function(path.name(), |b| {
            b.iter_custom(|iters| run(&ctx, path, iters as usize, 1))
        });
    }
    g.finish();
    let mut g = c.benchmark_group(format!("pipeline/c{CONCURRENCY}"));
    g.throughput(Throughput::Elements(1));
    for path in PATHS_CONCURRENT {
        g.bench_function(path.name(), |b| {
            b.iter_custom(|iters| run(&ctx, path, iters as usize, CONCURRENCY))
        });
    }
    g.finish();
}

/// Prints CPU µs per poll (client side, server threads excluded) for each path.
fn cpu(c: &mut Criterion) {
    let _ = c;
    if std::env::var_os("BENCH_SKIP_CPU_REPORT").is_some() {
        return; // e.g. while profiling one benchmark with --profile-time
    }
    let ctx = ctx();
    if common::cpu_ns("bench-server").0 == 0 {
        eprintln!("cpu: /proc/self/task/*/schedstat unavailable; skipped");
        return;
    }
    let mut floor = [0.0f64; 2];
    for (slot, concurrency) in [1usize, CONCURRENCY].into_iter().enumerate() {
        for path in PATHS {
            if concurrency > 1 && !PATHS_CONCURRENT.iter().any(|p| p.name() == path.name()) {
                continue;
            }
            // Size the run to ~2 s from a short calibration.
            let probe = run(&ctx, path, 500, concurrency);
            let polls = ((2.0 / probe.as_secs_f64()) * 500.0).clamp(2_000.0, 200_000.0) as usize;
            if let Path::Changed | Path::StoreCommitOnly = path {
                ctx.ensure_fresh(polls); // registration stays out of the measurement
            }
            let (all0, srv0) = common::cpu_ns("bench-server");
            let wall = run(&ctx, path, polls, concurrency);
            let (all1, srv1) = common::cpu_ns("bench-server");
            let client_us = (all1 - all0 - (srv1 - srv0)) as f64 / 1e3 / polls as f64;
            let server_us = (srv1 - srv0) as f64 / 1e3 / polls as f64;
            if let Path::Floor = path {
                floor[slot] = client_us;
            }
            eprintln!(
                "cpu: c{concurrency:<2} {:<28} {polls:>6} polls  wall {:>8.0} polls/s  client CPU {:>6.1} µs/poll = {:>7.0} polls/s per core  (server {:>5.1} µs/poll)  ratio to floor {:.2}",
                path.name(),
                polls as f64 / wall.as_secs_f64(),
                client_us,
                1e6 / client_us,
                server_us,
                client_us / floor[slot],
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = wall, cpu
}
criterion_main!(benches);
