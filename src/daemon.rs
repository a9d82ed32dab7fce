//! Wiring: builds every component from the config, starts workers and the HTTP
//! server, and shuts down gracefully (in-flight polls finish, events flush,
//! streams close with a final cursor).

use crate::carrier_client::{CarrierClient, EffectiveQuota, QuotaSetup, RetryPolicy};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::diff::DiffPolicy;
use crate::events::Subject;
use crate::metrics::Metrics;
use crate::ownership::{LeaseStore, Ownership};
use crate::quota::Caps;
use crate::quota::gate::{FleetGate, LocalGate, QuotaGate};
use crate::quota::pacing::{LocalPacer, PaceWindow, Pacer, SplitPacer};
use crate::quota::redis_pacer::RedisPacer;
use crate::scheduler::DueQueue;
use crate::store::{Store, StoreError};
use crate::stream::Hub;
use crate::trackers::{Entry, Registry, TrackerState};
use anyhow::Context;
use rand::Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use trackd_carrier_sdk::{Carrier, Credentials, Snapshot, Status};

/// One enabled carrier: its client (quotas, auth) and its due queue.
pub struct CarrierRuntime {
    pub slug: &'static str,
    pub client: CarrierClient,
    pub queue: DueQueue,
    pub batch_size: usize,
    /// When each polled tracker last got a successful answer (staleness metric).
    pub last_ok: std::sync::Mutex<std::collections::HashMap<u64, Instant>>,
}

/// Shared state of a running daemon.
pub struct Core {
    pub config: Config,
    pub clock: SharedClock,
    pub store: Store,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub registry: Registry,
    /// Enabled carriers by slug.
    pub carriers: BTreeMap<&'static str, Arc<CarrierRuntime>>,
    /// Every known plugin (enabled or not), for detection and `normalize`.
    pub plugins: Vec<Arc<dyn Carrier>>,
    /// Latest snapshot per tracker (bounded; the store has them all).
    pub snapshots: moka::sync::Cache<u64, Arc<Snapshot>>,
    /// Trackers answered recently: refresh requests inside this window reuse the answer.
    pub recently_refreshed: moka::sync::Cache<u64, ()>,
    pub policy: DiffPolicy,
    /// How long each carrier usually stays silent per status, learnt from what this instance saw.
    pub thresholds: crate::risk::Thresholds,
    pub shutdown: watch::Sender<bool>,
    /// Which trackers this instance polls: all of them, or its leased shards.
    pub ownership: Arc<Ownership>,
    /// The lease table in fleet mode (`None`: the sole owner).
    pub leases: Option<Arc<dyn LeaseStore>>,
    /// This process's name in the lease table.
    pub instance: String,
}

impl Core {
    /// Makes the in-memory entry for a stored tracker row.
    pub fn entry_for(row: &crate::store::TrackerRow) -> Entry {
        Entry {
            subject: Subject {
                tracker_id: row.id,
                carrier: row.carrier.as_str().into(),
                tracking_number: row.tracking_number.as_str().into(),
                reference: row.reference.as_deref().map(Into::into),
            },
            state: row.state,
            status: row.status,
            error_kind: row.error_kind.as_deref().and_then(error_kind_static),
            body_hash: 0,
            eta_deadline: row.eta_deadline,
            last_change_at: row.last_change_at,
            registered_at: row.created_at.timestamp(),
            in_flight: false,
            promised_by: row.promised_by.map(Box::new),
            direction: row.direction,
            risk: None,
            risk_due: i64::MIN,
        }
    }

    /// Starts polling a tracker soon (spread over `spread` to avoid a thundering herd).
    pub fn schedule_soon(&self, carrier: &str, id: u64, spread: Duration) {
        if let Some(rt) = self.carriers.get(carrier) {
            let offset = if spread.is_zero() {
                Duration::ZERO
            } else {
                spread.mul_f64(rand::rng().random_range(0.0..1.0))
            };
            rt.queue.schedule(id, Instant::now() + offset);
        }
    }

    /// Drops one tracker's local polling state (queue slot, staleness clock,
    /// cached snapshot): it was deleted, or another instance polls it now.
    pub fn forget(&self, id: u64, carrier: &str) {
        if let Some(rt) = self.carriers.get(carrier) {
            rt.queue.remove(id);
            rt.last_ok
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
        self.snapshots.invalidate(&id);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

fn error_kind_static(s: &str) -> Option<&'static str> {
    [
        "not_found",
        "auth",
        "rate_limited",
        "unavailable",
        "malformed",
        "rejected",
        "config",
    ]
    .into_iter()
    .find(|k| *k == s)
}

/// A running daemon.
pub struct Daemon {
    core: Arc<Core>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

fn credentials(c: &crate::config::CarrierConfig) -> Credentials {
    Credentials {
        id: c.client_id.as_ref().map(|s| s.expose().to_string()),
        secret: c.client_secret.as_ref().map(|s| s.expose().to_string()),
        extra: c
            .account
            .iter()
            .map(|a| ("account".to_string(), a.expose().to_string()))
            .collect(),
    }
}

/// How one carrier's requests are paced and capped: alone (governor and the
/// durable local ledger), or in a fleet (Redis or this instance's share for
/// pacing, the shared PostgreSQL row for the hour and day caps).
#[allow(clippy::too_many_arguments)]
fn quota_for(
    slug: &'static str,
    quota: EffectiveQuota,
    ownership: &Arc<Ownership>,
    redis: Option<&redis::aio::ConnectionManager>,
    redis_prefix: &str,
    heartbeat: Duration,
    shared_ledger: Option<Arc<dyn crate::quota::gate::SharedLedgerStore>>,
    local_store: impl FnOnce() -> Arc<dyn crate::quota::LedgerStore>,
    restored: Option<crate::quota::SavedLedger>,
    metrics: &Arc<Metrics>,
) -> (Arc<dyn Pacer>, Arc<dyn QuotaGate>) {
    let caps = Caps {
        per_minute: quota.per_minute,
        per_hour: quota.per_hour,
        per_day: quota.per_day,
        per_second: quota.per_second,
    };
    let fleet: crate::quota::pacing::ShareSource = ownership.clone();
    let pacer: Arc<dyn Pacer> = match (ownership.is_fleet(), redis) {
        (false, _) => {
            metrics.set_quota_backend(slug, "local");
            metrics.quota_share.with_label_values(&[slug]).set(1.0);
            let windows = PaceWindow::for_quota(&quota, 1.0).unwrap_or_default();
            Arc::new(LocalPacer::new(slug, &windows, metrics.clone()))
        }
        (true, None) => {
            metrics.set_quota_backend(slug, "split");
            Arc::new(SplitPacer::new(slug, quota, fleet, metrics.clone()))
        }
        (true, Some(conn)) => Arc::new(RedisPacer::new(
            slug,
            quota,
            conn.clone(),
            redis_prefix,
            fleet,
            // Others learn of a fallback at their next heartbeat after ours;
            // a heartbeat period stretches under load (sleep + the beat itself),
            // so wait four of them.
            heartbeat * 4 + Duration::from_secs(1),
            metrics.clone(),
        )),
    };
    let gate: Arc<dyn QuotaGate> = match shared_ledger {
        Some(shared) => Arc::new(FleetGate::new(slug, caps, shared, metrics.clone())),
        None => Arc::new(LocalGate::new(
            slug,
            caps,
            local_store(),
            restored.as_ref(),
            metrics.clone(),
        )),
    };
    (pacer, gate)
}

impl Daemon {
    /// Builds and starts everything; returns once the HTTP listener is bound.
    pub async fn start(config: Config, clock: SharedClock) -> anyhow::Result<Daemon> {
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(65_536);
        hub.set_observer(metrics.clone());
        let store = Store::open(&config.storage, config.fleet.shards, hub.clone())
            .await
            .with_context(|| match &config.storage.backend {
                crate::config::StorageBackend::Sqlite => {
                    format!("opening storage in {}", config.storage.data_dir.display())
                }
                crate::config::StorageBackend::Postgres { .. } => {
                    "opening the PostgreSQL store (storage.postgres_url)".to_string()
                }
            })?;
        let leases = store.leases();
        let instance = crate::fleet::instance_id();
        tracing::info!(engine = store.engine(), fleet = leases.is_some(), %instance, "storage opened");
        let (last_id, _) = store.cursors().await?;
        hub.init_last_id(last_id);

        let plugins = crate::carriers::builtin();
        let http = reqwest::Client::builder()
            .connect_timeout(config.poll.connect_timeout)
            .timeout(config.poll.request_timeout)
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .user_agent(concat!("trackd/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let retry = RetryPolicy {
            max_retries: config.poll.max_retries,
            base_delay: config.poll.retry_base_delay,
            max_delay: config.poll.retry_max_delay,
        };
        let ownership = Arc::new(match &leases {
            Some(l) => Ownership::leased(l.shard_count()),
            None => Ownership::sole(),
        });
        let shared_ledger = store.shared_ledger();
        // What earlier processes spent of each carrier's minute/hour/day caps
        // (a fleet reads its shared row at every reservation instead).
        let mut saved_ledgers: std::collections::HashMap<String, crate::quota::SavedLedger> =
            if shared_ledger.is_none() {
                store.quota_ledgers().await?.into_iter().collect()
            } else {
                Default::default()
            };
        let redis = match (&leases, &config.fleet.redis_url) {
            (Some(_), Some(url)) => Some(
                crate::quota::redis_pacer::connect(url.expose())
                    .context("fleet.redis_url: not a usable Redis URL")?,
            ),
            _ => None,
        };
        let mut carriers = BTreeMap::new();
        for (slug, cc) in &config.carriers {
            let plugin = plugins
                .iter()
                .find(|p| p.descriptor().slug == slug)
                .with_context(|| format!("carriers.{slug}: no such carrier plugin"))?;
            if !cc.enabled {
                continue;
            }
            let d = plugin.descriptor();
            let quota = EffectiveQuota {
                per_second: cc.per_second.unwrap_or(d.quota.per_second),
                per_minute: cc.per_minute.or(d.quota.per_minute),
                per_hour: cc.per_hour.or(d.quota.per_hour),
                per_day: cc.per_day.or(d.quota.per_day),
            };
            let (pacer, gate) = quota_for(
                d.slug,
                quota,
                &ownership,
                redis.as_ref(),
                &config.fleet.redis_prefix,
                config.fleet.heartbeat,
                shared_ledger.clone(),
                || -> Arc<dyn crate::quota::LedgerStore> { Arc::new(store.clone()) },
                saved_ledgers.remove(slug.as_str()),
                &metrics,
            );
            let base_url = cc
                .base_url
                .clone()
                .unwrap_or_else(|| d.default_base_url.to_string());
            let client = CarrierClient::new(
                plugin.clone(),
                base_url,
                credentials(cc),
                http.clone(),
                QuotaSetup {
                    limits: quota,
                    pacer,
                    gate,
                },
                retry,
                metrics.clone(),
            )
            .with_max_response_bytes(config.poll.max_response_bytes);
            carriers.insert(
                d.slug,
                Arc::new(CarrierRuntime {
                    slug: d.slug,
                    client,
                    queue: DueQueue::new(),
                    batch_size: cc.batch_size.unwrap_or(d.batch_size).clamp(1, d.batch_size),
                    last_ok: Default::default(),
                }),
            );
        }

        let (shutdown, _) = watch::channel(false);
        let core = Arc::new(Core {
            policy: DiffPolicy {
                eta_slip_tolerance_secs: config.poll.eta_slip_tolerance.as_secs() as i64,
            },
            thresholds: crate::risk::Thresholds::new(&config.risk),
            snapshots: moka::sync::Cache::new(config.cache.snapshot_capacity),
            recently_refreshed: moka::sync::Cache::builder()
                .time_to_live(config.cache.answer_ttl)
                .build(),
            config,
            clock,
            store,
            hub,
            metrics,
            registry: Registry::new(),
            carriers,
            plugins,
            shutdown,
            ownership,
            leases,
            instance,
        });
        core.metrics
            .fleet_shards
            .with_label_values(&["total"])
            .set(i64::from(core.ownership.shard_count()));

        match &core.leases {
            None => {
                let rows = core.store.all_trackers().await?;
                let spread = Duration::from_secs(2).min(core.config.poll.intervals.pending);
                for row in &rows {
                    core.registry.insert(Core::entry_for(row));
                    if row.state == TrackerState::Active {
                        core.schedule_soon(&row.carrier, row.id, spread);
                    }
                }
                core.metrics
                    .fleet_shards
                    .with_label_values(&["owned"])
                    .set(1);
                core.metrics.fleet_instances_live.set(1);
            }
            Some(leases) => crate::fleet::join(&core, leases)
                .await
                .context("joining the fleet (shard leases)")?,
        }
        tracing::info!(trackers = core.registry.len(), last_event_id = last_id, carriers = ?core.carriers.keys().collect::<Vec<_>>(), "state loaded");

        let mut tasks = Vec::new();
        for rt in core.carriers.values() {
            tasks.push(tokio::spawn(crate::poller::run_worker(
                core.clone(),
                rt.clone(),
            )));
        }
        tasks.push(tokio::spawn(retention_loop(core.clone())));
        if core.config.mirror.nats_url.is_some() {
            tasks.push(tokio::spawn(crate::mirror::run(core.clone())));
        }
        tasks.push(tokio::spawn(gauge_loop(core.clone())));
        tasks.push(tokio::spawn(crate::webhooks::deliverer::run(core.clone())));

        let listener = tokio::net::TcpListener::bind(core.config.server.listen)
            .await
            .with_context(|| format!("binding server.listen {}", core.config.server.listen))?;
        let addr = listener.local_addr()?;
        let app = crate::api::router(core.clone());
        let mut stop = core.shutdown.subscribe();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped(&mut stop).await })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        tracing::info!(%addr, "trackd listening");
        Ok(Daemon {
            core,
            addr,
            server,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the HTTP API, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Graceful stop: workers finish in-flight polls, events are flushed, streams
    /// end with a final cursor, then the server closes.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let grace = self.core.config.server.shutdown_grace;
        let _ = self.core.shutdown.send(true);
        let workers = futures::future::join_all(self.tasks);
        if tokio::time::timeout(grace, workers).await.is_err() {
            tracing::warn!("in-flight polls did not finish within the shutdown grace period");
        }
        self.core.store.flush().await?;
        if let Some(leases) = &self.core.leases {
            crate::fleet::leave(&self.core, leases).await;
        }
        if tokio::time::timeout(grace, self.server).await.is_err() {
            tracing::warn!("HTTP connections did not close within the shutdown grace period");
        }
        tracing::info!(last_event_id = self.core.hub.last_id(), "trackd stopped");
        Ok(())
    }
}

async fn retention_loop(core: Arc<Core>) {
    let mut stop = core.shutdown.subscribe();
    loop {
        let retention = chrono::Duration::from_std(core.config.storage.event_retention)
            .unwrap_or(chrono::Duration::days(30));
        let cutoff = chrono::Utc::now() - retention;
        match core.store.apply_retention(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "event retention applied"),
            Err(e) => tracing::error!(error = %e, "event retention failed"),
        }
        // The delivery log is kept as long as the events it is about.
        match core.store.webhooks().prune_attempts(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "webhook delivery log retention applied"),
            Err(e) => tracing::error!(error = %e, "webhook delivery log retention failed"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(core.config.storage.retention_sweep_interval) => {}
        }
    }
}

async fn gauge_loop(core: Arc<Core>) {
    let mut stop = core.shutdown.subscribe();
    loop {
        // Every (state, status) pair is set, zeros included: no reset, so a
        // scrape never sees a half-filled gauge and an empty daemon still
        // exports the series dashboards and alerts read.
        let counts = core.registry.counts();
        for state in TrackerState::ALL {
            for status in Status::ALL {
                let n = counts.get(&(state, status)).copied().unwrap_or(0);
                core.metrics
                    .trackers
                    .with_label_values(&[state.as_str(), status.as_str()])
                    .set(n as i64);
            }
        }
        core.metrics
            .stream_subscribers
            .set(core.hub.subscriber_count() as i64);
        core.metrics
            .stream_consumer_lag
            .set(core.hub.max_consumer_lag() as i64);
        let now = Instant::now();
        for rt in core.carriers.values() {
            let m = &core.metrics;
            let used = rt.client.quota_used();
            let q = rt.client.quota;
            m.set_quota(
                rt.slug,
                "second",
                Some(u64::from(q.per_second)),
                used.second,
            );
            m.set_quota(rt.slug, "minute", q.per_minute.map(u64::from), used.minute);
            m.set_quota(rt.slug, "hour", q.per_hour.map(u64::from), used.hour);
            m.set_quota(rt.slug, "day", q.per_day.map(u64::from), used.day);
            m.set_paused(rt.slug, rt.client.paused_for());
            m.poll_queue
                .with_label_values(&[rt.slug])
                .set(rt.queue.len() as i64);
            m.poll_overdue
                .with_label_values(&[rt.slug])
                .set(rt.queue.lag(now).as_secs_f64());
        }
        for (name, n) in [
            ("snapshot", core.snapshots.entry_count()),
            ("refreshed", core.recently_refreshed.entry_count()),
        ] {
            core.metrics
                .cache_entries
                .with_label_values(&[name])
                .set(n as i64);
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Resolves once shutdown has been requested (or the daemon is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
