//! Target 5: change → event p99 < 50 ms.
//!
//! `cargo bench --bench latency` (add `-- 60` to measure for 60 s instead of 30)
//!
//! The daemon and the carrier simulator run in-process on loopback, as in
//! `trackd demo`. Eleven carriers carry 50 parcels each, in a compressed world
//! where one day passes in 30 s, polled every 500 ms. One SSE client reads
//! `/v1/events/stream`. For every event it receives, the benchmark takes the
//! client's receive time minus the event's `emitted_at`. `emitted_at` is
//! stamped when ingestion has diffed a changed carrier answer, just before the
//! store commit. So the figure covers the durable commit (group commit, WAL),
//! hub fan-out, SSE framing, the socket and the client's parse. That is the
//! time from "trackd knows of the change" to "the consumer has the event".
//! How stale a carrier's own answer was is set by the poll interval, not here.

use chrono::{DateTime, Utc};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trackd::config::Config;
use trackd::daemon::Daemon;
use trackd::demo::{config_for_simulator, fast_polling, start_simulator};
use trackd_carrier_sdk::{Credentials, Quota};

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(Duration::from_secs(secs)));
}

async fn run(measure: Duration) {
    let plugins = trackd::carriers::builtin();
    let creds = Credentials::new("bench-client", "bench-secret");
    let quota = Quota {
        per_second: 200,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    let (sim, running) = start_simulator(&plugins, 11, 2880.0, &creds, None, None, Some(quota))
        .await
        .expect("simulator starts");
    let base = Config::load(None, Vec::<(String, String)>::new()).expect("defaults");
    let mut cfg = config_for_simulator(base, &running, &creds);
    for c in cfg.carriers.values_mut() {
        c.per_second = Some(200);
        c.per_minute = Some(u32::MAX);
        c.per_hour = Some(u32::MAX);
        c.per_day = Some(u32::MAX);
    }
    fast_polling(&mut cfg, Duration::from_millis(500));
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    cfg.storage.data_dir = dir.path().to_path_buf();
    let daemon = Daemon::start(cfg, Arc::new(sim.clock()))
        .await
        .expect("daemon starts");
    let url = daemon.url();

    let http = reqwest::Client::new();
    let stream = http
        .get(format!("{url}/v1/events/stream"))
        .send()
        .await
        .expect("stream");
    let mut events = stream.bytes_stream().eventsource();

    let mut body = Vec::new();
    for p in &plugins {
        let slug = p.descriptor().slug;
        for n in sim.create_parcels(slug, 50).expect("parcels") {
            body.push(serde_json::json!({ "tracking_number": n, "carrier": slug }));
        }
    }
    let resp = http
        .post(format!("{url}/v1/trackers"))
        .json(&serde_json::json!({ "trackers": body }))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 201);

    let mut lat_ms: Vec<f64> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < measure {
        let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_secs(5), events.next()).await
        else {
            break;
        };
        let now = Utc::now();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&ev.data) else {
            continue;
        };
        if let Some(at) = v["emitted_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            let ms = (now - at.with_timezone(&Utc))
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            lat_ms.push(ms);
        }
    }
    lat_ms.sort_by(f64::total_cmp);
    let q = |p: f64| lat_ms[((lat_ms.len() as f64 - 1.0) * p).round() as usize];
    if lat_ms.is_empty() {
        println!("latency: no events received");
    } else {
        println!(
            "latency/change_to_event: {} events in {:.0} s ({:.0}/s): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < 50 ms)",
            lat_ms.len(),
            start.elapsed().as_secs_f64(),
            lat_ms.len() as f64 / start.elapsed().as_secs_f64(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0)
        );
    }
    drop(events);
    let _ = daemon.shutdown().await;
    running.shutdown().await;
}
