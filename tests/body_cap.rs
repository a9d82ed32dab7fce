//! A carrier that answers with a huge body, or one that never ends, cannot
//! exhaust the daemon's memory: the answer is cut off at
//! `poll.max_response_bytes`, the poll fails with a typed `malformed` carrier
//! error (counted as `outcome="too_large"`), the daemon stays up, and once the
//! carrier behaves again the same tracker is polled and its events arrive.
//! The faults are injected through the simulator's HTTP control API.

mod common;

use common::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use trackd::daemon::Daemon;
use trackd::demo::start_simulator;
use trackd_carrier_sdk::Quota;
use trackd_simulator::Scenario;

/// The cap under test: far above one DHL answer, far below what the faults send.
const CAP: usize = 256 * 1024;
const CARRIER: &str = "dhl";

/// The process's peak resident set so far, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// The value of one `trackd_carrier_requests_total` series (0 when absent).
fn too_large_count(metrics: &str) -> u64 {
    let series = format!(
        "trackd_carrier_requests_total{{carrier=\"{CARRIER}\",kind=\"track\",outcome=\"too_large\"}} "
    );
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().expect("counter value"))
}

async fn put_faults(control: &str, body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{control}/_sim/faults/{CARRIER}"))
        .json(&body)
        .send()
        .await
        .expect("control API reachable");
    assert_eq!(
        r.status(),
        204,
        "{body}: {}",
        r.text().await.unwrap_or_default()
    );
}

/// Asks the simulated carrier directly (as the daemon would) and reads at most
/// `limit` bytes: proves the fault really serves more than the cap.
async fn served_bytes(h: &Harness, number: &str, limit: usize) -> (Option<u64>, usize) {
    let plugin = trackd::carriers::builtin()
        .into_iter()
        .find(|p| p.descriptor().slug == CARRIER)
        .unwrap();
    let req = plugin.track_request(&[number], &h.creds, None).unwrap();
    let base = &h.running.as_ref().unwrap().base_urls[CARRIER];
    let method = match req.method {
        trackd_carrier_sdk::Method::Get => reqwest::Method::GET,
        trackd_carrier_sdk::Method::Post => reqwest::Method::POST,
    };
    let mut rb = h
        .http
        .request(method, format!("{base}{}", req.path_and_query))
        .body(req.body.clone())
        .timeout(Duration::from_secs(60));
    for (k, v) in &req.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    let mut resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let declared = resp.content_length();
    let mut read = 0;
    while read < limit {
        match resp.chunk().await.unwrap() {
            Some(c) => read += c.len(),
            None => break,
        }
    }
    (declared, read)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_endless_answers_are_capped_and_lose_nothing() {
    let opts = Options::default();
    let plugins = trackd::carriers::builtin();
    let quota = Quota {
        per_second: opts.per_second,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    let control_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (sim, running) = start_simulator(
        &plugins,
        opts.seed,
        opts.time_scale,
        &creds(),
        Some(control_listen),
        None,
        Some(quota),
    )
    .await
    .expect("simulator starts");
    let control = running.control_url.clone().expect("control API");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(&running, dir.path(), &opts);
    cfg.poll.max_response_bytes = CAP;
    // The compressed clock must not expire the tracker while the faults last.
    cfg.poll.expire_after = Duration::from_secs(10 * 365 * 86_400);
    let daemon = Daemon::start(cfg, Arc::new(sim.clock()))
        .await
        .expect("daemon starts");
    let h = Harness {
        url: daemon.url(),
        sim,
        running: Some(running),
        daemon: Some(daemon),
        dir,
        http: reqwest::Client::new(),
        creds: creds(),
    };
    let number = h
        .sim
        .create_parcels_with_scenario(CARRIER, 1, Scenario::OnTime)
        .unwrap()
        .remove(0);

    // An endless chunked answer: far more than the cap (and than the default) is on offer.
    put_faults(&control, json!({ "huge_body": 1.0 })).await;
    let (declared, read) = served_bytes(&h, &number, 16 << 20).await;
    assert_eq!(
        (declared, read >= 16 << 20),
        (None, true),
        "endless and chunked"
    );
    let peak_before = peak_rss_kib();

    let consumer = Consumer::connect(&h.url, None, "").await;
    let (s, b) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": number, "carrier": CARRIER }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().expect("tracker id").to_owned();

    wait_until(
        Duration::from_secs(120),
        "a typed carrier.error for the oversize answer",
        || {
            let evs = consumer.snapshot();
            let number = number.clone();
            async move {
                evs.iter().any(|e| {
                    e.event == "carrier.error"
                        && e.data["tracking_number"] == number.as_str()
                        && e.data["data"]["kind"] == "malformed"
                        && e.data["data"]["retryable"] == false
                        && e.data["data"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("max_response_bytes"))
                })
            }
        },
    )
    .await;
    // The tracker is not dropped: it is polled again (and cut off again) while the fault lasts.
    wait_until(
        Duration::from_secs(120),
        "the tracker polled again while the fault lasts",
        || {
            let text = h.text("/metrics");
            async move { too_large_count(&text.await) >= 3 }
        },
    )
    .await;
    let (s, t) = h.get(&format!("/v1/trackers/{id}")).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        (t["last_error"].clone(), t["state"].clone()),
        (json!("malformed"), json!("active")),
        "{t}"
    );
    let (s, _) = h.get("/healthz").await;
    assert_eq!(s, 200, "the daemon stays up");
    // Each poll held at most the cap; reading the endless answers whole would
    // have taken gigabytes by now.
    let grown_mib = peak_rss_kib().saturating_sub(peak_before) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB while oversize answers were polled");
    assert!(
        grown_mib < 200,
        "peak RSS grew by {grown_mib} MiB during capped polls"
    );

    // A sized answer that declares its length: refused from the header alone.
    put_faults(
        &control,
        json!({ "huge_body": 1.0, "huge_body_bytes": 8 * CAP }),
    )
    .await;
    let (declared, read) = served_bytes(&h, &number, usize::MAX).await;
    assert_eq!((declared, read), (Some(8 * CAP as u64), 8 * CAP));
    let before = too_large_count(&h.text("/metrics").await);
    wait_until(
        Duration::from_secs(120),
        "sized oversize answers refused too",
        || {
            let text = h.text("/metrics");
            async move { too_large_count(&text.await) >= before + 2 }
        },
    )
    .await;

    // The carrier recovers: the same tracker is polled and every event arrives.
    put_faults(&control, json!({})).await;
    let journey_end = h
        .sim
        .journey(&number)
        .unwrap()
        .events
        .last()
        .unwrap()
        .event
        .at;
    wait_until(
        Duration::from_secs(600),
        "the tracker completed after the fault cleared",
        || {
            let url = format!("{}/v1/trackers/{id}", h.url);
            let http = h.http.clone();
            let sim_now = h.sim.clock().now();
            async move {
                let t: Value = http.get(url).send().await.unwrap().json().await.unwrap();
                sim_now > journey_end && t["state"] == "completed"
            }
        },
    )
    .await;
    h.wait_consumer_caught_up(&consumer).await;
    let events = consumer.snapshot();
    let checkpoints = events
        .iter()
        .filter(|e| e.event == "checkpoint.added" && e.data["tracking_number"] == number.as_str())
        .count();
    assert_eq!(
        checkpoints,
        h.sim.journey(&number).unwrap().events.len(),
        "every checkpoint delivered once after the fault"
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "tracker.completed" && e.data["tracking_number"] == number.as_str())
    );
    h.stop().await;
}
