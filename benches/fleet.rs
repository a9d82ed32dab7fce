//! Fleet mode against the embedded default, in one run: throughput and CPU per
//! poll of one `trackd run` on SQLite, one on PostgreSQL and three sharing one
//! PostgreSQL; change → event latency on the stream of the first instance; and
//! failover time (SIGKILL of one of three instances until the first poll of a
//! taken-over shard, and until the survivors hold every shard again). In fleet
//! mode the instances pace through Redis (127.0.0.1:6379), as a fleet would.
//!
//! `cargo bench --bench fleet` (add `-- 40` to measure 40 s per mode instead of 20;
//! needs PostgreSQL at `TRACKD_BENCH_POSTGRES`, default postgres://postgres@127.0.0.1:5432)
//!
//! The simulator runs in this process with a quota high enough that the CPU,
//! not the carriers, limits throughput. Each instance is a child process, so
//! its CPU (user + system, from /proc) is its own; PostgreSQL's server CPU is
//! summed over its processes and reported apart.

use chrono::{DateTime, Utc};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use trackd::demo::start_simulator;
use trackd_carrier_sdk::{Credentials, Quota};
use trackd_simulator::{RunningSim, Simulator};

const PARCELS_PER_CARRIER: usize = 300;
const SHARDS: u32 = 64;
const PER_SECOND: u32 = 3_000;

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(Duration::from_secs(secs)));
}

/// Parcels per carrier and the poll interval of every status.
#[derive(Clone, Copy)]
struct Load {
    parcels: usize,
    every: &'static str,
}

#[derive(Clone, Copy)]
enum Mode {
    Sqlite,
    Postgres(usize),
}

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::Sqlite => "sqlite x1".into(),
            Mode::Postgres(n) => format!("postgres x{n}"),
        }
    }
    fn instances(self) -> usize {
        match self {
            Mode::Sqlite => 1,
            Mode::Postgres(n) => n,
        }
    }
}

async fn run(measure: Duration) {
    let plugins = trackd::carriers::builtin();
    let creds = Credentials::new("bench-client", "bench-secret");
    let quota = Quota {
        per_second: PER_SECOND,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    let (sim, running) = start_simulator(&plugins, 11, 2880.0, &creds, None, None, Some(quota))
        .await
        .expect("simulator starts");
    println!(
        "fleet: {} carriers x {PARCELS_PER_CARRIER} parcels per mode, polls every 200 ms, {} s measured per mode after 5 s warm-up",
        running.base_urls.len(),
        measure.as_secs()
    );
    let saturated = Load {
        parcels: PARCELS_PER_CARRIER,
        every: "200ms",
    };
    let mut floor = None;
    for mode in [Mode::Sqlite, Mode::Postgres(1), Mode::Postgres(3)] {
        let per_poll = run_mode(mode, saturated, &sim, &running, measure).await;
        let base = *floor.get_or_insert(per_poll);
        println!(
            "  -> {}: trackd CPU per poll {:.2}x the sqlite x1 figure of this run",
            mode.name(),
            per_poll / base
        );
    }
    // Change -> event latency at the load of `benches/latency.rs` (not CPU-bound):
    // 50 parcels per carrier polled every 500 ms.
    println!("light load (50 parcels per carrier, polls every 500 ms): change -> event latency");
    let light = Load {
        parcels: 50,
        every: "500ms",
    };
    for mode in [Mode::Sqlite, Mode::Postgres(3)] {
        run_mode(mode, light, &sim, &running, measure).await;
    }
    running.shutdown().await;
}

/// One mode: returns trackd CPU µs per poll.
async fn run_mode(
    mode: Mode,
    load: Load,
    sim: &Simulator,
    running: &RunningSim,
    measure: Duration,
) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = match mode {
        Mode::Sqlite => None,
        Mode::Postgres(_) => Some(Database::create().await),
    };
    let config = dir.path().join("trackd.toml");
    write_config(
        &config,
        running,
        db.as_ref().map(|d| d.url.as_str()),
        mode,
        load.every,
    );
    let mut children = Vec::new();
    for i in 0..mode.instances() {
        children.push(spawn(&config, &dir.path().join(format!("data{i}"))).await);
    }
    let urls: Vec<String> = children.iter().map(|(_, u)| u.clone()).collect();
    let http = reqwest::Client::new();

    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let recording = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (latencies, recording) = (latencies.clone(), recording.clone());
        let resp = http
            .get(format!("{}/v1/events/stream", urls[0]))
            .send()
            .await
            .expect("stream");
        tokio::spawn(async move {
            let mut events = resp.bytes_stream().eventsource();
            while let Some(Ok(ev)) = events.next().await {
                let now = Utc::now();
                if !recording.load(std::sync::atomic::Ordering::Relaxed) {
                    continue;
                }
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
                    latencies.lock().expect("latencies").push(ms);
                }
            }
        })
    };

    let mut body = Vec::new();
    for slug in running.base_urls.keys() {
        for n in sim.create_parcels(slug, load.parcels).expect("parcels") {
            body.push(serde_json::json!({ "tracking_number": n, "carrier": slug }));
        }
    }
    let resp = http
        .post(format!("{}/v1/trackers", urls[0]))
        .json(&serde_json::json!({ "trackers": body }))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 201);

    tokio::time::sleep(Duration::from_secs(5)).await;
    let pids: Vec<u32> = children.iter().filter_map(|(c, _)| c.id()).collect();
    let (polls0, cpu0, pg0) = (
        polls(&urls).await,
        cpu_seconds(&pids),
        postgres_cpu_seconds(),
    );
    recording.store(true, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(measure).await;
    let elapsed = started.elapsed().as_secs_f64();
    recording.store(false, std::sync::atomic::Ordering::Relaxed);
    let (polls1, cpu1, pg1) = (
        polls(&urls).await,
        cpu_seconds(&pids),
        postgres_cpu_seconds(),
    );
    let n = (polls1 - polls0).max(1.0);
    let per_poll = (cpu1 - cpu0) / n * 1e6;
    let mut lat = latencies.lock().expect("latencies").clone();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let pg = match mode {
        Mode::Sqlite => String::new(),
        Mode::Postgres(_) => format!(
            ", PostgreSQL server CPU {:.1} µs per poll",
            (pg1 - pg0) / n * 1e6
        ),
    };
    println!(
        "{}: {:.0} polls/s, trackd CPU {:.1} µs per poll (all instances){pg}; change -> event on instance 0: {} events, p50 {:.2} ms, p99 {:.2} ms",
        mode.name(),
        n / elapsed,
        per_poll,
        lat.len(),
        q(0.5),
        q(0.99)
    );
    consumer.abort();

    if let Mode::Postgres(count) = mode
        && count > 1
        && load.parcels == PARCELS_PER_CARRIER
    {
        let (mut victim, _) = children.remove(1);
        let survivors: Vec<String> = urls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, u)| u.clone())
            .collect();
        // Every parcel is asked for every 200 ms while its owner lives; the
        // victim's go quiet until a survivor takes their shard over.
        let before: HashMap<(String, String), Instant> = flatten(sim.last_asked());
        let killed = Instant::now();
        victim.start_kill().expect("kill");
        let _ = victim.wait().await;
        let mut all_held = None;
        let mut first_taken_over = None;
        while (all_held.is_none() || first_taken_over.is_none())
            && killed.elapsed() < Duration::from_secs(120)
        {
            if all_held.is_none() {
                let mut owned = 0.0;
                for url in &survivors {
                    owned += metric(&metrics(url).await, "trackd_fleet_shards", "owned");
                }
                if owned >= f64::from(SHARDS) {
                    all_held = Some(killed.elapsed());
                }
            }
            if first_taken_over.is_none() {
                // A parcel asked for again after a silence of more than a second.
                first_taken_over = flatten(sim.last_asked())
                    .into_iter()
                    .filter(|(n, t)| {
                        // A takeover cannot come before the lease lapses (at
                        // least lease_ttl - heartbeat = 2 s): earlier ones are
                        // survivors' parcels polled late under the load.
                        *t > killed + Duration::from_secs(1)
                            && before
                                .get(n)
                                .is_some_and(|b| t.duration_since(*b) > Duration::from_secs(1))
                    })
                    .map(|(_, t)| t.duration_since(killed))
                    .min();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
        println!(
            "{}: failover (SIGKILL of one instance, lease_ttl 3 s, heartbeat 1 s): first poll of a taken-over shard after {:.2} s, every shard held after {:.2} s",
            mode.name(),
            secs(first_taken_over),
            secs(all_held)
        );
    }
    for (mut child, _) in children {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    if let Some(db) = db {
        db.drop_now().await;
    }
    per_poll
}

fn write_config(
    path: &Path,
    running: &RunningSim,
    postgres: Option<&str>,
    mode: Mode,
    every: &str,
) {
    let mut toml = String::new();
    if let Some(url) = postgres {
        toml.push_str(&format!(
            "[storage]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\n\n[fleet]\nshards = {SHARDS}\nlease_ttl = \"3s\"\nheartbeat = \"1s\"\nredis_url = \"redis://127.0.0.1:6379\"\nredis_prefix = \"trackd-bench-{}-{}\"\n\n",
            std::process::id(),
            mode.instances()
        ));
    }
    toml.push_str("[poll]\nmax_in_flight = 16\n\n[poll.intervals]\n");
    for k in trackd::config::PollIntervals::KEYS {
        toml.push_str(&format!("{k} = \"{every}\"\n"));
    }
    for (slug, url) in &running.base_urls {
        toml.push_str(&format!(
            "\n[carriers.{slug}]\nenabled = true\nbase_url = \"{url}\"\nclient_id = \"bench-client\"\nclient_secret = \"bench-secret\"\naccount = \"1234567890\"\nper_second = {PER_SECOND}\nper_minute = 4294967295\nper_hour = 4294967295\nper_day = 4294967295\n"
        ));
    }
    std::fs::write(path, toml).expect("config written");
}

async fn spawn(config: &Path, data: &Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("trackd binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = lines
        .next_line()
        .await
        .expect("first line")
        .expect("a line");
    let url = line
        .strip_prefix("trackd listening on ")
        .expect("listening line")
        .to_string();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

async fn metrics(url: &str) -> String {
    match reqwest::get(format!("{url}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Sum of a metric's samples whose line contains `label`.
fn metric(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn polls(urls: &[String]) -> f64 {
    let mut total = 0.0;
    for url in urls {
        total += metric(&metrics(url).await, "trackd_polls_total", "carrier=");
    }
    total
}

/// utime + stime of a process, in seconds.
fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter().map(|p| process_cpu(*p)).sum()
}

fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(process_cpu)
        .sum()
}

/// A fresh database on the local server, dropped at the end.
struct Database {
    url: String,
    admin: String,
    name: String,
}

impl Database {
    async fn create() -> Database {
        let base = std::env::var("TRACKD_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string());
        let admin = format!("{base}/postgres");
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL reachable (TRACKD_BENCH_POSTGRES)");
        tokio::spawn(conn);
        let name = format!(
            "trackd_bench_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        Database {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    async fn drop_now(self) {
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

/// (carrier, number) -> when it was last asked for.
fn flatten(
    by_carrier: std::collections::BTreeMap<String, HashMap<String, Instant>>,
) -> HashMap<(String, String), Instant> {
    by_carrier
        .into_iter()
        .flat_map(|(slug, numbers)| {
            numbers
                .into_iter()
                .map(move |(n, t)| ((slug.clone(), n), t))
        })
        .collect()
}
