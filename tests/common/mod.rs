//! Shared harness for end-to-end tests: a simulator and a daemon on OS-chosen
//! loopback ports, a real SSE consumer, and condition waits with generous deadlines.
#![allow(dead_code)]

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use trackd::config::{Config, Secret};
use trackd::daemon::Daemon;
use trackd::demo::{config_for_simulator, fast_polling, start_simulator};
use trackd_carrier_sdk::{Credentials, JourneyStep, Quota, Timestamp};
use trackd_simulator::{RunningSim, Simulator};

pub mod receiver;

pub const SCALE: f64 = 20_000.0;

pub struct Options {
    pub time_scale: f64,
    pub poll_every: Duration,
    pub per_second: u32,
    pub write_tokens: Vec<&'static str>,
    pub read_tokens: Vec<&'static str>,
    pub seed: u64,
    /// Run the daemon on this PostgreSQL database instead of the embedded SQLite file.
    pub postgres_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            time_scale: SCALE,
            poll_every: Duration::from_millis(300),
            per_second: 200,
            write_tokens: vec![],
            read_tokens: vec![],
            seed: 11,
            postgres_url: None,
        }
    }
}

pub struct Harness {
    pub sim: Simulator,
    pub running: Option<RunningSim>,
    pub daemon: Option<Daemon>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub creds: Credentials,
}

/// Creds the simulated carriers accept in tests.
pub fn creds() -> Credentials {
    Credentials::new("test-client", "test-secret")
}

/// Starts a simulator with every built-in carrier at `per_second`.
pub async fn start_sim(opts: &Options) -> (Simulator, RunningSim) {
    let plugins = trackd::carriers::builtin();
    // Tests raise quotas so a few hundred parcels are polled often; the daemon is
    // configured with the same numbers and must never exceed them.
    let quota = Quota {
        per_second: opts.per_second,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    start_simulator(
        &plugins,
        opts.seed,
        opts.time_scale,
        &creds(),
        None,
        None,
        Some(quota),
    )
    .await
    .expect("simulator starts")
}

/// The daemon config tests use: fast polling, pointing at the simulator.
pub fn test_config(running: &RunningSim, dir: &std::path::Path, opts: &Options) -> Config {
    let base = Config::load(None, Vec::<(String, String)>::new()).expect("embedded defaults load");
    let mut cfg = config_for_simulator(base, running, &creds());
    fast_polling(&mut cfg, opts.poll_every);
    for c in cfg.carriers.values_mut() {
        c.per_second = Some(opts.per_second);
        // The simulated carriers enforce no daily cap in tests (see start_sim).
        c.per_minute = Some(u32::MAX);
        c.per_hour = Some(u32::MAX);
        c.per_day = Some(u32::MAX);
    }
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.storage.data_dir = dir.to_path_buf();
    if let Some(url) = &opts.postgres_url {
        cfg.storage.backend = trackd::config::StorageBackend::Postgres {
            url: Secret::new(url.clone()),
        };
    }
    cfg.poll.request_timeout = Duration::from_secs(10);
    cfg.poll.retry_base_delay = Duration::from_millis(50);
    cfg.poll.retry_max_delay = Duration::from_millis(500);
    cfg.api.write_tokens = opts.write_tokens.iter().map(|t| Secret::new(*t)).collect();
    cfg.api.read_tokens = opts.read_tokens.iter().map(|t| Secret::new(*t)).collect();
    cfg.api.stream_heartbeat = Duration::from_secs(1);
    cfg
}

impl Harness {
    pub async fn start(opts: Options) -> Harness {
        Harness::start_with(opts, |_| {}).await
    }

    /// Like [`Harness::start`], with `tweak` applied to the daemon's config first.
    pub async fn start_with(opts: Options, tweak: impl FnOnce(&mut Config)) -> Harness {
        let (sim, running) = start_sim(&opts).await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config(&running, dir.path(), &opts);
        tweak(&mut cfg);
        let daemon = Daemon::start(cfg, Arc::new(sim.clock()))
            .await
            .expect("daemon starts");
        let url = daemon.url();
        Harness {
            sim,
            running: Some(running),
            daemon: Some(daemon),
            url,
            dir,
            http: reqwest::Client::new(),
            creds: creds(),
        }
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("daemon running")
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET `path` and return the body as text (NDJSON pages, metrics).
    pub async fn text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until `consumer` has received everything committed so far.
    pub async fn wait_consumer_caught_up(&self, consumer: &Consumer) {
        let core = self.daemon().core().clone();
        core.store.flush().await.unwrap();
        let last_id = core.hub.last_id();
        wait_until(Duration::from_secs(60), "consumer caught up", || {
            let got = consumer.snapshot().last().and_then(|e| e.id);
            async move { got == Some(last_id) }
        })
        .await;
    }

    pub async fn stop(mut self) {
        if let Some(d) = self.daemon.take() {
            d.shutdown().await.unwrap();
        }
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Starts `trackd run` as a child process (so tests can SIGKILL it) and returns
/// the child and its API URL (read from stdout).
pub async fn spawn_daemon(
    config: &std::path::Path,
    data: &std::path::Path,
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("TEST_CARRIER_SECRET", "test-secret")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("trackd binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("daemon prints its address within a minute")
        .unwrap()
        .expect("a line");
    let url = line
        .strip_prefix("trackd listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// Polls `cond` until true or the deadline passes (then panics with `what`).
pub async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_until_explained(deadline, what, || {
        let fut = cond();
        async move {
            if fut.await {
                Ok(())
            } else {
                Err(String::new())
            }
        }
    })
    .await;
}

/// Like [`wait_until`], where `cond` says what is still missing: the progress
/// reports and the timeout panic show it, so a stall names its culprits.
pub async fn wait_until_explained<F, Fut>(deadline: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let start = tokio::time::Instant::now();
    let end = start + deadline;
    let mut next_report = start + Duration::from_secs(15);
    loop {
        let missing = match cond().await {
            Ok(()) => {
                eprintln!("[{:>6.1}s] {what}", start.elapsed().as_secs_f64());
                return;
            }
            Err(missing) => missing,
        };
        if tokio::time::Instant::now() > next_report {
            eprintln!(
                "[{:>6.1}s] still waiting for: {what} {missing}",
                start.elapsed().as_secs_f64()
            );
            next_report += Duration::from_secs(15);
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for: {what} {missing}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One received SSE message.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// A real SSE consumer collecting everything into a shared vector.
pub struct Consumer {
    pub events: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    /// Connects to `url` + `/v1/events/stream` with an optional `Last-Event-ID`.
    pub async fn connect(url: &str, last_event_id: Option<u64>, query: &str) -> Consumer {
        let mut req = reqwest::Client::new().get(format!("{url}/v1/events/stream{query}"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.expect("stream connects");
        assert_eq!(resp.status(), 200, "stream status");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let task = tokio::spawn(async move {
            let mut stream = resp.bytes_stream().eventsource();
            while let Some(Ok(ev)) = stream.next().await {
                let data = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
                sink.lock().unwrap().push(Received {
                    id: ev.id.parse().ok(),
                    event: ev.event,
                    data,
                });
            }
        });
        Consumer { events, task }
    }

    pub fn snapshot(&self) -> Vec<Received> {
        self.events.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Drops the connection abruptly.
    pub fn abort(self) -> Vec<Received> {
        self.task.abort();
        self.snapshot()
    }
}

/// A fresh PostgreSQL database for one test, on the local server
/// (`TRACKD_TEST_POSTGRES`, default postgres://postgres@127.0.0.1:5432).
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    /// Creates the database; `None` (the caller skips) when no server runs,
    /// except under CI, where a missing server fails the test.
    pub async fn create() -> Option<TestDatabase> {
        let base = std::env::var("TRACKD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string());
        let admin = format!("{base}/postgres");
        let (client, conn) = match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required under CI ({admin}): {e}");
                }
                eprintln!("skipping a PostgreSQL test: cannot connect to {admin}: {e}");
                return None;
            }
        };
        tokio::spawn(conn);
        let name = format!(
            "trackd_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }

    /// Drops the database (connections still open are terminated).
    pub async fn drop_now(self) {
        if let Ok((client, conn)) =
            tokio_postgres::connect(&self.admin, tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
}

/// One known parcel's events (in stream order) against its simulated journey:
/// created first; checkpoints exactly the journey's, in order, each once; a
/// continuous status chain to the final status; completed once, last; no error.
pub fn assert_journey(sim: &Simulator, n: &str, evs: &[&Received]) {
    let journey = sim.journey(n).unwrap();
    assert_eq!(
        evs.first().unwrap().event,
        "tracker.created",
        "{n}: created first"
    );
    assert_eq!(
        checkpoints(evs),
        journey_checkpoints(&journey),
        "{n} ({:?}): checkpoint events must equal the journey",
        journey.scenario
    );
    let cur = final_status(evs, n);
    let last_step = journey.events.last().unwrap().event.step;
    assert_eq!(cur, last_step.status().as_str(), "{n}: final status");
    let completed = evs
        .iter()
        .filter(|e| e.event == "tracker.completed")
        .count();
    assert_eq!(completed, 1, "{n}: completed exactly once");
    assert_eq!(
        evs.last().unwrap().event,
        "tracker.completed",
        "{n}: completion is the last event"
    );
    assert!(
        evs.iter().all(|e| e.event != "carrier.error"),
        "{n}: no carrier errors for a known parcel"
    );
    let mut facts = std::collections::HashSet::new();
    for e in evs.iter().filter(|e| e.event == "checkpoint.added") {
        assert!(
            facts.insert(e.data["data"]["checkpoint"].to_string()),
            "{n}: checkpoint repeated"
        );
    }
    assert!(
        journey
            .events
            .iter()
            .any(|p| p.event.step == JourneyStep::LabelCreated)
    );
}

/// The (time, status) of every `checkpoint.added` event, in stream order.
pub fn checkpoints(evs: &[&Received]) -> Vec<(chrono::NaiveDateTime, String)> {
    evs.iter()
        .filter(|e| e.event == "checkpoint.added")
        .map(|e| {
            let cp = &e.data["data"]["checkpoint"];
            let at = Timestamp::from_wire(cp["occurred_at"]["at"].as_str().unwrap()).unwrap();
            (at.local(), cp["status"].as_str().unwrap().to_string())
        })
        .collect()
}

/// What a simulated journey's events must announce, in order.
pub fn journey_checkpoints(
    journey: &trackd_simulator::Journey,
) -> Vec<(chrono::NaiveDateTime, String)> {
    journey
        .events
        .iter()
        .map(|p| {
            (
                p.event.at.naive_local(),
                p.event.step.status().as_str().to_string(),
            )
        })
        .collect()
}

/// Follows the status events from `pending` (each continues from the previous
/// one's `to`) and returns the last status.
pub fn final_status(evs: &[&Received], n: &str) -> String {
    let mut cur = "pending".to_string();
    for e in evs
        .iter()
        .filter(|e| e.event == "status.changed" || e.event == "status.corrected")
    {
        assert_eq!(
            e.data["data"]["from"],
            cur.as_str(),
            "{n}: status chain in {:?}",
            evs.iter()
                .map(|e| format!(
                    "{:?} {} {} {}",
                    e.id, e.event, e.data["data"]["from"], e.data["data"]["to"]
                ))
                .collect::<Vec<_>>()
        );
        cur = e.data["data"]["to"].as_str().unwrap().to_string();
    }
    cur
}

/// The simulator saw no quota violation, and every carrier was polled.
pub fn assert_no_quota_violation(sim: &Simulator) {
    for (slug, s) in &sim.stats().carriers {
        assert_eq!(
            s.quota_violations_per_second, 0,
            "{slug}: per-second quota violated"
        );
        assert_eq!(
            s.quota_violations_per_window, 0,
            "{slug}: minute/hour quota violated"
        );
        assert_eq!(
            s.quota_violations_per_day, 0,
            "{slug}: per-day quota violated"
        );
        assert!(s.track_requests > 0, "{slug}: never polled");
    }
}

/// The `[poll]` table tests' daemons run with: every status polled every `every`.
pub fn fast_poll_toml(every: &str) -> String {
    let mut toml = String::from(
        "[poll]\nmax_in_flight = 8\nretry_base_delay = \"50ms\"\nretry_max_delay = \"500ms\"\n\n[poll.intervals]\n",
    );
    for k in trackd::config::PollIntervals::KEYS {
        toml.push_str(&format!("{k} = \"{every}\"\n"));
    }
    toml
}

/// One `[carriers.<slug>]` table per simulated carrier, at `per_second`, no window caps.
pub fn simulated_carriers_toml(running: &RunningSim, per_second: u32) -> String {
    let mut toml = String::new();
    for (slug, url) in &running.base_urls {
        toml.push_str(&format!(
            "\n[carriers.{slug}]\nenabled = true\nbase_url = \"{url}\"\nclient_id = \"test-client\"\nclient_secret = \"env:TEST_CARRIER_SECRET\"\naccount = \"1234567890\"\nper_second = {per_second}\nper_minute = 4294967295\nper_hour = 4294967295\nper_day = 4294967295\n"
        ));
    }
    toml
}

/// Sums the samples of metric `name` whose labels include all of `labels`.
pub fn metric_sum(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
                && labels.iter().all(|want| l.contains(want))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Whether a Redis server answers at `url` (`redis://host:port`); under CI a
/// missing server fails the test instead of skipping the Redis part.
pub fn redis_available(url: &str) -> bool {
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_string();
    let up = std::net::TcpStream::connect_timeout(
        &addr.parse().expect("a host:port Redis address"),
        Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "Redis is required under CI ({url})"
        );
        eprintln!("skipping a Redis check: nothing listens at {url}");
    }
    up
}

/// The Prometheus exposition of the daemon at `url` (a `trackd run` child).
pub async fn metrics(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The whole event log of a daemon at `url`, as the batch API serves it (up to 10,000 events).
pub async fn event_log(url: &str) -> Vec<Value> {
    reqwest::get(format!("{url}/v1/events?after=0&limit=10000"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until the sum of metric `name` over the samples with `label` equals `value`.
pub async fn wait_metric(url: &str, name: &str, label: &str, value: f64, what: &str) {
    wait_until(Duration::from_secs(60), what, || async {
        metric_sum(&metrics(url).await, name, &[label]) == value
    })
    .await;
}
