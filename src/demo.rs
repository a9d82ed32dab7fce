//! `trackd demo` (daemon + in-process simulator, events flowing within a minute)
//! and `trackd sim` (the simulator alone).

use crate::config::{Config, Secret};
use crate::daemon::Daemon;
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use trackd_carrier_sdk::{Carrier, Credentials, Quota};
use trackd_simulator::{CarrierSetup, RunningSim, SimConfig, Simulator};

/// Options of `trackd demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Where the daemon's API listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data directory (default: a fresh temporary directory, since the simulated
    /// parcels live only as long as the demo).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Parcels to register, spread over all carriers.
    #[arg(long, default_value_t = 300)]
    pub parcels: usize,
    /// Simulated seconds per real second (2880: one day of journeys every 30 s).
    #[arg(long, default_value_t = 2880.0)]
    pub time_scale: f64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Per-second quota of each simulated carrier (and of the daemon towards it).
    #[arg(long, default_value_t = 100)]
    pub per_second: u32,
    /// Poll interval for every non-terminal status, in real time.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll_every: Duration,
}

/// Options of `trackd sim`.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Control API (`/_sim/parcels`, `/_sim/stats`, `/_sim/faults/{carrier}`).
    #[arg(long, default_value = "127.0.0.1:9900")]
    pub control: SocketAddr,
    /// First carrier port; carriers listen on consecutive ports in registry order.
    #[arg(long, default_value_t = 9901)]
    pub first_port: u16,
    #[arg(long, default_value_t = 1440.0)]
    pub time_scale: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Credentials every simulated carrier accepts.
    #[arg(long, default_value = "sim-client")]
    pub client_id: String,
    #[arg(long, default_value = "sim-secret")]
    pub client_secret: String,
}

/// Credentials the demo's simulated carriers accept.
const DEMO_ID: &str = "demo-client";
const DEMO_SECRET: &str = "demo-secret";

/// Accepts a simulated number only if the daemon's detection names its carrier
/// and no other (the demo and tests register half of them without a carrier).
pub fn unambiguous_numbers() -> trackd_simulator::NumberFilter {
    let carriers = crate::carriers::builtin();
    trackd_simulator::NumberFilter(Arc::new(move |slug, number| {
        crate::carriers::detect_one(&carriers, number).is_ok_and(|s| s == slug)
    }))
}

/// Starts a simulator with every built-in carrier on OS-chosen loopback ports.
pub async fn start_simulator(
    plugins: &[Arc<dyn Carrier>],
    seed: u64,
    time_scale: f64,
    creds: &Credentials,
    control: Option<SocketAddr>,
    first_port: Option<u16>,
    quota: Option<Quota>,
) -> anyhow::Result<(Simulator, RunningSim)> {
    let setups = plugins
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut s = CarrierSetup::new(p.clone(), creds.clone());
            if let Some(q) = quota {
                s.quota = q;
            }
            if let Some(port) = first_port {
                s.listen = SocketAddr::from(([127, 0, 0, 1], port + i as u16));
            }
            s
        })
        .collect();
    let sim = Simulator::new(
        SimConfig {
            seed,
            time_scale,
            start: chrono::Utc::now(),
            token_ttl: Duration::from_secs(3600),
            control_listen: control,
            // Simulated numbers must detect as their own carrier and no other,
            // since the demo and tests register half of them without a carrier.
            number_filter: Some(unambiguous_numbers()),
        },
        setups,
    );
    let running = sim
        .start()
        .await
        .context("starting the carrier simulator")?;
    Ok((sim, running))
}

/// A config that points every carrier at the simulator.
pub fn config_for_simulator(mut cfg: Config, running: &RunningSim, creds: &Credentials) -> Config {
    for (slug, url) in &running.base_urls {
        let entry = cfg.carriers.entry(slug.clone()).or_default();
        entry.enabled = true;
        entry.base_url = Some(url.clone());
        entry.client_id = creds.id.clone().map(Secret::new);
        entry.client_secret = creds.secret.clone().map(Secret::new);
        // Carriers that need an account number beside the key (Australia Post);
        // the simulator does not check it.
        entry.account = Some(Secret::new("1234567890"));
    }
    cfg
}

/// Sets every poll interval to `every` (the demo's and tests' compressed world).
pub fn fast_polling(cfg: &mut Config, every: Duration) {
    let i = &mut cfg.poll.intervals;
    for d in [
        &mut i.pending,
        &mut i.info_received,
        &mut i.in_transit,
        &mut i.out_for_delivery,
        &mut i.available_for_pickup,
        &mut i.attempt_failed,
        &mut i.exception,
        &mut i.returning,
        &mut i.unknown,
        &mut i.invalid,
    ] {
        *d = every;
    }
}

/// Unknown numbers per carrier in the demo, so `carrier.error` events show too.
const TYPOS_PER_CARRIER: usize = 3;

/// Registers trackers through `POST /v1/trackers` in requests of at most
/// `batch` items (the daemon's `api.max_batch`), printing progress, so a demo of
/// any size fits the API's batch and body limits.
pub struct Registrar {
    http: reqwest::Client,
    endpoint: String,
    token: Option<Secret>,
    batch: usize,
    total: usize,
    pending: Vec<serde_json::Value>,
    sent: usize,
}

impl Registrar {
    /// `total` is only for the progress lines; `token` is a write token when the API wants one.
    pub fn new(base_url: &str, token: Option<Secret>, batch: usize, total: usize) -> Registrar {
        let batch = batch.max(1);
        Registrar {
            http: reqwest::Client::new(),
            endpoint: format!("{base_url}/v1/trackers"),
            token,
            batch,
            total,
            pending: Vec::with_capacity(batch.min(total)),
            sent: 0,
        }
    }

    /// Queues one tracker; sends a request once a batch is full.
    pub async fn push(&mut self, tracker: serde_json::Value) -> anyhow::Result<()> {
        self.pending.push(tracker);
        if self.pending.len() >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what is queued; returns how many trackers were registered in all.
    pub async fn finish(mut self) -> anyhow::Result<usize> {
        self.flush().await?;
        Ok(self.sent)
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.pending);
        let n = items.len();
        let mut req = self
            .http
            .post(&self.endpoint)
            .json(&serde_json::json!({ "trackers": items }));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.with_context(|| {
            format!("registering demo parcels {}..{}", self.sent, self.sent + n)
        })?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            anyhow::bail!(
                "registering demo parcels {}..{} failed with {status}: {body}",
                self.sent,
                self.sent + n
            );
        }
        self.sent += n;
        println!("registered {}/{}", self.sent, self.total.max(self.sent));
        Ok(())
    }
}

/// Runs the demo until Ctrl-C.
pub async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    let plugins = crate::carriers::builtin();
    let creds = Credentials::new(DEMO_ID, DEMO_SECRET);
    // Journeys run thousands of times faster than real ones, so the simulated
    // carriers grant a quota to match (the daemon is configured identically and
    // the simulator still counts any violation).
    let quota = Quota {
        per_second: args.per_second,
        per_minute: None,
        per_hour: None,
        per_day: None,
    };
    let (sim, running) = start_simulator(
        &plugins,
        args.seed,
        args.time_scale,
        &creds,
        Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        None,
        Some(quota),
    )
    .await?;
    let base = Config::load(None, std::env::vars())
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    let mut cfg = config_for_simulator(base, &running, &creds);
    // The compressed world's carriers grant `per_second` and no minute, hour or
    // day caps (those would stretch with the time scale).
    for c in cfg.carriers.values_mut() {
        c.per_second = Some(args.per_second);
        c.per_minute = Some(u32::MAX);
        c.per_hour = Some(u32::MAX);
        c.per_day = Some(u32::MAX);
    }
    fast_polling(&mut cfg, args.poll_every);
    cfg.server.listen = args.listen;
    // The demo's own webhook receiver listens on loopback: allow exactly that.
    cfg.webhooks.allow_http = true;
    let loopback: ipnet::IpNet = ipnet::Ipv4Net::new(std::net::Ipv4Addr::LOCALHOST, 8)
        .context("the loopback network")?
        .into();
    if !cfg.webhooks.allow_networks.contains(&loopback) {
        cfg.webhooks.allow_networks.push(loopback);
    }
    let (data_dir, _guard) = match args.data_dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("trackd-demo-")
                .tempdir()
                .context("creating a temporary data dir")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    cfg.storage.data_dir = data_dir.clone();
    let daemon = Daemon::start(cfg, Arc::new(sim.clock()))
        .await
        .with_context(|| {
            format!(
                "starting the daemon on {} (try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let url = daemon.url();
    // Registered first, so the receiver gets every event from the first tracker.created on.
    let receiver =
        DemoReceiver::start(&url, daemon.core().config.api.write_tokens.first().cloned()).await?;

    // Register parcels through the public API, like a retailer's backend would:
    // one carrier's parcels at a time, sent in requests of at most `api.max_batch`.
    let per_carrier = (args.parcels / plugins.len().max(1)).max(1);
    let total = plugins.len() * (per_carrier + TYPOS_PER_CARRIER);
    let mut registrar = Registrar::new(
        &url,
        daemon.core().config.api.write_tokens.first().cloned(),
        daemon.core().config.api.max_batch,
        total,
    );
    for p in &plugins {
        let slug = p.descriptor().slug;
        for (i, number) in sim
            .create_parcels(slug, per_carrier)?
            .into_iter()
            .enumerate()
        {
            // Half with an explicit carrier, half detected from the number.
            let carrier = (i % 2 == 0).then_some(slug);
            registrar
                .push(serde_json::json!({ "tracking_number": number, "carrier": carrier, "reference": format!("order-{slug}-{i}") }))
                .await?;
        }
        for k in 0..TYPOS_PER_CARRIER {
            registrar
                .push(serde_json::json!({ "tracking_number": p.sim_mint_number(900_000 + k as u64), "carrier": slug, "reference": format!("typo-{slug}-{k}") }))
                .await?;
        }
    }
    let registered = registrar.finish().await?;

    println!(
        "trackd demo: {} parcels over {} simulated carriers (time x{})",
        registered,
        plugins.len(),
        args.time_scale
    );
    println!("  data dir:      {}", data_dir.display());
    println!("  event stream:  curl -N {url}/v1/events/stream");
    println!("  only slips:    curl -N '{url}/v1/events/stream?type=eta.slipped,eta.missed'");
    println!("  batch page:    curl '{url}/v1/events?after=0&limit=20'");
    println!("  trackers:      curl '{url}/v1/trackers?limit=5'");
    println!("  metrics:       curl {url}/metrics");
    println!(
        "  webhooks:      curl '{url}/v1/webhooks/{}/deliveries?limit=5'  (posting to {}, signatures checked)",
        receiver.endpoint, receiver.url
    );
    if let Some(c) = &running.control_url {
        println!("  simulator:     curl {c}/_sim/stats");
    }
    println!("Press Ctrl-C to stop.");

    let core = daemon.core().clone();
    let received = receiver.received.clone();
    let progress = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let by_type: Vec<String> = crate::events::EventType::ALL
                .iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        t.as_str(),
                        core.metrics.events.with_label_values(&[t.as_str()]).get()
                    )
                })
                .collect();
            println!("  events so far: {}", by_type.join(" "));
            let (ok, bad) = *received.lock().unwrap_or_else(|p| p.into_inner());
            println!(
                "  webhooks received by the demo receiver: {ok} verified, {bad} with a bad signature"
            );
        }
    });
    crate::cli::wait_for_signal().await;
    progress.abort();
    daemon.shutdown().await?;
    running.shutdown().await;
    Ok(())
}

/// The demo's webhook receiver: a loopback HTTP server registered as an endpoint,
/// checking every signature, so the demo shows deliveries as a consumer sees them.
struct DemoReceiver {
    url: String,
    endpoint: String,
    /// (verified, bad signature)
    received: Arc<std::sync::Mutex<(u64, u64)>>,
}

impl DemoReceiver {
    async fn start(api: &str, token: Option<Secret>) -> anyhow::Result<DemoReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the demo webhook receiver")?;
        let url = format!("http://{}/webhook", listener.local_addr()?);
        let mut req = reqwest::Client::new()
            .post(format!("{api}/v1/webhooks"))
            .json(&serde_json::json!({ "url": url, "description": "trackd demo receiver" }));
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        let created: serde_json::Value = req
            .send()
            .await
            .context("registering the demo webhook endpoint")?
            .error_for_status()
            .context("registering the demo webhook endpoint")?
            .json()
            .await?;
        let secret = created["secret"].as_str().unwrap_or_default().to_string();
        let endpoint = created["id"].as_str().unwrap_or_default().to_string();
        let received = Arc::new(std::sync::Mutex::new((0u64, 0u64)));
        let counts = received.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (secret, counts) = (secret.clone(), counts.clone());
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let ts = h(crate::webhooks::signature::HEADER_TIMESTAMP)
                        .parse()
                        .unwrap_or(0);
                    let ok = crate::webhooks::signature::verify(
                        &h(crate::webhooks::signature::HEADER_SIGNATURE),
                        &secret,
                        &h(crate::webhooks::signature::HEADER_ID),
                        ts,
                        &body,
                    );
                    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
                    if ok {
                        c.0 += 1;
                        axum::http::StatusCode::NO_CONTENT
                    } else {
                        c.1 += 1;
                        axum::http::StatusCode::UNAUTHORIZED
                    }
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(DemoReceiver {
            url,
            endpoint,
            received,
        })
    }
}

/// Runs the simulator alone until Ctrl-C.
pub async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let plugins = crate::carriers::builtin();
    let creds = Credentials::new(args.client_id.clone(), args.client_secret.clone());
    let (_sim, running) = start_simulator(
        &plugins,
        args.seed,
        args.time_scale,
        &creds,
        Some(args.control),
        Some(args.first_port),
        None,
    )
    .await?;
    println!(
        "carrier simulator running (time x{}, seed {})",
        args.time_scale, args.seed
    );
    if let Some(c) = &running.control_url {
        println!(
            "  control API: {c}/_sim/stats  (create parcels: curl -XPOST {c}/_sim/parcels -d '{{\"carrier\":\"ups\",\"count\":10}}')"
        );
    }
    println!("Point trackd at it with:");
    for (slug, url) in &running.base_urls {
        let up = slug.to_ascii_uppercase();
        println!(
            "  TRACKD_CARRIERS__{up}__BASE_URL={url} TRACKD_CARRIERS__{up}__CLIENT_ID={} TRACKD_CARRIERS__{up}__CLIENT_SECRET=<secret>",
            args.client_id
        );
    }
    crate::cli::wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}
