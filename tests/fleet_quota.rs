//! Shared quotas when Redis goes away: two `trackd run` processes on one
//! PostgreSQL pace every carrier through a Redis of their own (a private
//! `redis-server` on an OS-chosen port). Redis is killed mid-run: polling goes on
//! at each instance's share of every quota, with zero violations at the
//! simulated carriers (per second and per rolling minute). Redis comes back
//! empty: shared limiting resumes, still with zero violations. And a partition:
//! one instance cannot reach Redis while the other can; the one on Redis leaves
//! the other's share free, so together they still stay under every quota.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use trackd_carrier_sdk::Quota;

const PER_SECOND: u32 = 10;
// Binding with PER_SECOND: 8.6 requests per second at most, below the 10 per second.
const PER_MINUTE: u32 = 600;
const PER_CARRIER: usize = 30;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis server that keeps nothing on disk; `None` (skip) without the binary, outside CI.
fn start_redis(port: u16) -> Option<tokio::process::Child> {
    match tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is required under CI: {e}"
            );
            eprintln!("skipping: cannot start redis-server: {e}");
            None
        }
    }
}

async fn wait_for_port(port: u16) {
    wait_until(
        Duration::from_secs(60),
        "redis-server listening",
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        },
    )
    .await;
}

fn write_config(
    path: &Path,
    running: &trackd_simulator::RunningSim,
    db: &TestDatabase,
    redis: u16,
) {
    let mut toml = format!(
        "[storage]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n\n[fleet]\nshards = 16\nlease_ttl = \"3s\"\nheartbeat = \"1s\"\nredis_url = \"redis://127.0.0.1:{redis}\"\n\n{}",
        db.url,
        fast_poll_toml("300ms"),
    );
    for (slug, url) in &running.base_urls {
        toml.push_str(&format!(
            "\n[carriers.{slug}]\nenabled = true\nbase_url = \"{url}\"\nclient_id = \"test-client\"\nclient_secret = \"env:TEST_CARRIER_SECRET\"\naccount = \"1234567890\"\nper_second = {PER_SECOND}\nper_minute = {PER_MINUTE}\nper_hour = 4294967295\nper_day = 4294967295\n"
        ));
    }
    std::fs::write(path, toml).unwrap();
}

/// Carriers paced by `backend` on every instance.
async fn on_backend(urls: &[String], backend: &str, carriers: usize) -> bool {
    for url in urls {
        let label = format!("backend=\"{backend}\"");
        let n = metric_sum(&metrics(url).await, "trackd_quota_backend", &[&label]);
        if n < carriers as f64 {
            return false;
        }
    }
    true
}

fn track_requests(sim: &trackd_simulator::Simulator) -> u64 {
    sim.stats()
        .carriers
        .values()
        .map(|c| c.track_requests)
        .sum()
}

async fn polling_goes_on(sim: &trackd_simulator::Simulator, what: &str, requests: u64) {
    let from = track_requests(sim);
    let sim = sim.clone();
    wait_until(Duration::from_secs(300), what, move || {
        let n = track_requests(&sim);
        async move { n >= from + requests }
    })
    .await;
}

async fn start_fleet_sim() -> (trackd_simulator::Simulator, trackd_simulator::RunningSim) {
    let plugins = trackd::carriers::builtin();
    // Slow simulated time: parcels stay on their way (and polled) the whole run.
    trackd::demo::start_simulator(
        &plugins,
        7,
        400.0,
        &creds(),
        None,
        None,
        Some(Quota {
            per_second: PER_SECOND,
            per_minute: Some(PER_MINUTE),
            per_hour: None,
            per_day: None,
        }),
    )
    .await
    .expect("simulator starts")
}

async fn register_parcels(
    sim: &trackd_simulator::Simulator,
    running: &trackd_simulator::RunningSim,
    url: &str,
) {
    let mut body = Vec::new();
    for slug in running.base_urls.keys() {
        for n in sim.create_parcels(slug, PER_CARRIER).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug }));
        }
    }
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/trackers"))
        .json(&json!({ "trackers": body }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

fn assert_no_overlap(sim: &trackd_simulator::Simulator) {
    let overlapping: u64 = sim
        .stats()
        .carriers
        .values()
        .map(|c| c.overlapping_requests)
        .sum();
    assert_eq!(
        overlapping, 0,
        "a parcel was polled by two instances at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_off_from_redis_keeps_the_fleet_under_every_quota() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let port = free_port();
    let Some(mut redis) = start_redis(port) else {
        return;
    };
    wait_for_port(port).await;
    let (sim, running) = start_fleet_sim().await;
    let carriers = running.base_urls.len();
    let dir = tempfile::tempdir().unwrap();
    // Instance 0 reaches Redis; instance 1 is told a port where nothing listens.
    let on_redis = dir.path().join("on-redis.toml");
    let cut_off = dir.path().join("cut-off.toml");
    write_config(&on_redis, &running, &db, port);
    write_config(&cut_off, &running, &db, free_port());
    let mut instances = Vec::new();
    for (i, config) in [&on_redis, &cut_off].into_iter().enumerate() {
        instances.push(spawn_daemon(config, &dir.path().join(format!("data{i}"))).await);
    }
    let urls: Vec<String> = instances.iter().map(|(_, u)| u.clone()).collect();
    register_parcels(&sim, &running, &urls[0]).await;
    wait_until(
        Duration::from_secs(120),
        "one instance on Redis, one at its share",
        || {
            let urls = urls.clone();
            async move {
                on_backend(&urls[..1], "redis", carriers).await
                    && on_backend(&urls[1..], "redis_fallback", carriers).await
            }
        },
    )
    .await;
    // Long enough for an instance over its part to empty the carriers' buckets.
    let started = std::time::Instant::now();
    polling_goes_on(&sim, "polling by both instances", 2_000).await;
    eprintln!(
        "partition: {:.0} track requests/s over {:?}",
        2_000.0 / started.elapsed().as_secs_f64(),
        started.elapsed()
    );
    assert_no_quota_violation(&sim);
    assert_no_overlap(&sim);
    for (mut child, _) in instances {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    let _ = redis.start_kill();
    running.shutdown().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_closed_to_the_split_and_shared_limiting_resumes() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let port = free_port();
    let Some(mut redis) = start_redis(port) else {
        return;
    };
    wait_for_port(port).await;

    let (sim, running) = start_fleet_sim().await;
    let carriers = running.base_urls.len();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trackd.toml");
    write_config(&config, &running, &db, port);
    let mut instances = Vec::new();
    for i in 0..2 {
        instances.push(spawn_daemon(&config, &dir.path().join(format!("data{i}"))).await);
    }
    let urls: Vec<String> = instances.iter().map(|(_, u)| u.clone()).collect();

    register_parcels(&sim, &running, &urls[0]).await;

    wait_until(
        Duration::from_secs(120),
        "every carrier paced through Redis",
        || {
            let urls = urls.clone();
            async move { on_backend(&urls, "redis", carriers).await }
        },
    )
    .await;
    polling_goes_on(&sim, "polling through Redis", 300).await;
    assert_no_quota_violation(&sim);

    // Redis dies: every instance falls back to its share, and keeps polling.
    redis.start_kill().unwrap();
    redis.wait().await.unwrap();
    wait_until(
        Duration::from_secs(120),
        "every carrier paced at the split",
        || {
            let urls = urls.clone();
            async move { on_backend(&urls, "redis_fallback", carriers).await }
        },
    )
    .await;
    polling_goes_on(&sim, "polling at the split while Redis is down", 1_500).await;
    assert_no_quota_violation(&sim);

    // Redis is back, empty: shared limiting resumes.
    let mut redis = start_redis(port).expect("redis-server starts again");
    wait_for_port(port).await;
    wait_until(
        Duration::from_secs(120),
        "every carrier back on Redis",
        || {
            let urls = urls.clone();
            async move { on_backend(&urls, "redis", carriers).await }
        },
    )
    .await;
    polling_goes_on(&sim, "polling through Redis again", 300).await;
    assert_no_quota_violation(&sim);
    assert_no_overlap(&sim);
    for url in &urls {
        let failures = metric_sum(
            &metrics(url).await,
            "trackd_quota_redis_failures_total",
            &[],
        );
        assert!(
            failures >= carriers as f64,
            "{url}: {failures} Redis failures counted"
        );
    }
    // The fleet's schedule lives in the new Redis again.
    let mut conn =
        trackd::quota::redis_pacer::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("trackd:*:born")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), carriers, "{keys:?}");
    let stats = sim.stats();
    eprintln!(
        "fleet quota: {} track requests, violations: {} per second, {} per window",
        track_requests(&sim),
        stats
            .carriers
            .values()
            .map(|c| c.quota_violations_per_second)
            .sum::<u64>(),
        stats
            .carriers
            .values()
            .map(|c| c.quota_violations_per_window)
            .sum::<u64>(),
    );

    for (mut child, _) in instances {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    let _ = redis.start_kill();
    running.shutdown().await;
    db.drop_now().await;
}
