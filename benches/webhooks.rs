//! Webhook deliveries: throughput to 10 and 100 endpoints, CPU per delivery
//! against a bare reqwest POST floor measured in the same run, and latency from
//! commit to receipt.
//!
//! `cargo bench --bench webhooks` (add `-- quick` for a tenth of the events)
//!
//! The daemon runs in-process on the embedded SQLite default with every carrier
//! disabled; events are `tracker.created` events committed by registering
//! trackers through the store in batches of 1000. One loopback HTTP receiver
//! (axum, in the same process) serves every endpoint on its own path and answers
//! 204. CPU is the whole process's (daemon, store writer and receiver), read from
//! /proc/self/stat; the floor pays the same receiver, so the ratio is trackd's
//! cost per delivery (filter, sequence, signing, delivery log, cursor) over a
//! plain pooled POST of the same body with the same concurrency.

use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trackd::config::Config;
use trackd::daemon::Daemon;
use trackd::store::NewTracker;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(quick));
}

fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    count: AtomicU64,
    /// Commit (the body's `timestamp`) to receipt, in ms.
    latencies: Mutex<Vec<f64>>,
}

async fn receiver(seen: Arc<Seen>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let now = chrono::Utc::now();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(at) = v["timestamp"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                let ms = (now - at.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap_or(0) as f64
                    / 1000.0;
                seen.latencies.lock().expect("lock").push(ms);
            }
            seen.count.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn start_daemon() -> (Daemon, tempfile::TempDir) {
    let mut cfg = Config::load(None, Vec::<(String, String)>::new()).expect("defaults");
    for c in cfg.carriers.values_mut() {
        c.enabled = false;
    }
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.webhooks.allow_http = true;
    cfg.webhooks.allow_networks = vec!["127.0.0.0/8".parse().expect("cidr")];
    cfg.webhooks.max_pending = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    cfg.storage.data_dir = dir.path().to_path_buf();
    let daemon = Daemon::start(cfg, Arc::new(trackd::clock::SystemClock))
        .await
        .expect("daemon starts");
    (daemon, dir)
}

async fn commit_events(daemon: &Daemon, from: usize, n: usize) {
    let store = &daemon.core().store;
    for chunk_start in (from..from + n).step_by(1000) {
        let batch: Vec<NewTracker> = (chunk_start..(chunk_start + 1000).min(from + n))
            .map(|i| NewTracker {
                carrier: "ups".into(),
                tracking_number: format!("1ZBENCH{i:011}"),
                reference: Some(format!("order-{i}")),
                labels: vec!["bench".into()],
                promised_by: None,
                direction: Default::default(),
                return_for: None,
            })
            .collect();
        store
            .register(batch, chrono::Utc::now())
            .await
            .expect("register");
    }
}

fn p(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// Floor: the same number of POSTs of a same-sized body, `concurrency` at a time, one pooled client.
async fn floor(target: &str, endpoints: usize, per_endpoint: usize, body: &str) -> (f64, f64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .expect("client");
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let mut lanes = Vec::new();
    for e in 0..endpoints {
        let (client, url, body) = (
            client.clone(),
            format!("{target}/floor/{e}"),
            body.to_string(),
        );
        lanes.push(tokio::spawn(async move {
            futures::stream::iter(0..per_endpoint)
                .map(|_| {
                    let (client, url, body) = (client.clone(), url.clone(), body.clone());
                    async move {
                        client
                            .post(url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .expect("floor post");
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await;
        }));
    }
    for l in lanes {
        l.await.expect("floor lane");
    }
    let total = (endpoints * per_endpoint) as f64;
    (
        total / t0.elapsed().as_secs_f64(),
        (process_cpu() - cpu0) / total * 1e6,
    )
}

async fn run(quick: bool) {
    println!(
        "webhook deliveries, SQLite default, loopback receiver, {} worker threads",
        2
    );
    for (endpoints, events) in [(10usize, 20_000usize), (100, 2_000)] {
        let events = if quick { events / 10 } else { events };
        let seen = Arc::new(Seen::default());
        let target = receiver(seen.clone()).await;
        let (daemon, _dir) = start_daemon().await;
        let http = reqwest::Client::new();
        let mut ids = Vec::new();
        for e in 0..endpoints {
            let v: serde_json::Value = http
                .post(format!("{}/v1/webhooks", daemon.url()))
                .json(&serde_json::json!({ "url": format!("{target}/e/{e}") }))
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("json");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        // Let the deliverer start every endpoint task (it reconciles once a second).
        tokio::time::sleep(Duration::from_secs(2)).await;

        let deliveries = (endpoints * events) as u64;
        let (cpu0, t0) = (process_cpu(), Instant::now());
        commit_events(&daemon, 0, events).await;
        while seen.count.load(Ordering::Relaxed) < deliveries {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu_us = (process_cpu() - cpu0) / deliveries as f64 * 1e6;
        let rate = deliveries as f64 / secs;

        // The same body size as a delivery, for the floor.
        let sample = daemon
            .core()
            .store
            .events_after(0, 1, Default::default())
            .await
            .expect("event");
        let body = trackd::webhooks::deliverer::body(
            "tracker.created",
            "2026-12-07T00:00:00.000Z",
            &ids[0],
            1,
            None,
            &sample[0].json,
        );
        let (floor_rate, floor_us) = floor(&target, endpoints, events, &body).await;

        // Latency at a paced load: 100 events/s for 10 s.
        seen.latencies.lock().expect("lock").clear();
        let base = events;
        let paced = Instant::now();
        for i in 0..100usize {
            commit_events(&daemon, base + i * 10, 10).await;
            let next = paced + Duration::from_millis(100 * (i as u64 + 1));
            tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
        }
        let want = deliveries + (endpoints * 1000) as u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen.count.load(Ordering::Relaxed) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut lat = seen.latencies.lock().expect("lock").clone();
        lat.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{endpoints:>3} endpoints x {events} events: {rate:>8.0} deliveries/s, {cpu_us:>6.1} µs CPU/delivery | floor (bare reqwest POST, 16 in flight per endpoint): {floor_rate:>8.0} POST/s, {floor_us:>6.1} µs CPU/POST | ratio CPU {:.2}x, throughput {:.2}x | paced 100 events/s: commit→receipt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} receipts)",
            cpu_us / floor_us,
            floor_rate / rate,
            p(&lat, 0.5),
            p(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN),
            lat.len()
        );
        daemon.shutdown().await.expect("shutdown");
    }
}
