//! trackd's carrier simulator: serves each carrier's real wire format (through the
//! carrier plugin's renderer) over HTTP, moves parcels through realistic journeys
//! on a scalable clock, enforces quotas with 429 + `Retry-After`, checks
//! credentials and injects faults.
//!
//! The simulator is carrier-neutral: it owns journeys, clocks, quotas, auth,
//! faults and HTTP; plugins only translate (`sim_route`, `sim_render_*`).
//!
//! ```no_run
//! # async fn demo(ups: std::sync::Arc<dyn trackd_carrier_sdk::Carrier>) -> std::io::Result<()> {
//! use trackd_simulator::*;
//! let sim = Simulator::new(
//!     SimConfig::default(),
//!     vec![CarrierSetup::new(ups, trackd_carrier_sdk::Credentials::new("id", "secret"))],
//! );
//! let running = sim.start().await?;
//! let numbers = sim.create_parcels("ups", 10).expect("ups is configured");
//! println!("{} -> {numbers:?}", running.base_urls["ups"]);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod clock;
mod control;
mod faults;
mod journey;
mod places;
mod quota;
mod server;
mod state;
mod stats;

pub use clock::SimClock;
pub use faults::FaultConfig;
pub use journey::{EtaWindow, Journey, PlannedEvent, Scenario, reasons, step_name};
pub use quota::{Denied, Limit, QuotaState};
pub use stats::{CarrierStats, SimStats};

use chrono::{DateTime, TimeZone, Utc};
use state::CarrierState;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackd_carrier_sdk::{Carrier, Credentials, Quota, SimParcel};

/// One simulated carrier: its plugin, the account it accepts and how it behaves.
#[derive(Clone)]
pub struct CarrierSetup {
    /// The plugin that speaks this carrier's wire format.
    pub carrier: Arc<dyn Carrier>,
    /// Enforced quota (`per_second == 0`: no per-second limit).
    pub quota: Quota,
    /// The only credentials the simulated carrier accepts.
    pub credentials: Credentials,
    /// Where to listen; port 0 lets the OS choose.
    pub listen: SocketAddr,
    /// Faults injected from the start (changeable with `set_faults`).
    pub faults: FaultConfig,
}

impl CarrierSetup {
    /// The carrier's documented quota, on an OS-chosen loopback port, no faults.
    pub fn new(carrier: Arc<dyn Carrier>, credentials: Credentials) -> CarrierSetup {
        let quota = carrier.descriptor().quota;
        CarrierSetup {
            carrier,
            quota,
            credentials,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: FaultConfig::default(),
        }
    }
}

impl std::fmt::Debug for CarrierSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierSetup")
            .field("carrier", &self.carrier.descriptor().slug)
            .field("quota", &self.quota)
            .field("credentials", &self.credentials)
            .field("listen", &self.listen)
            .field("faults", &self.faults)
            .finish()
    }
}

/// Run-wide settings: the seed makes journeys and fault draws reproducible.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds journeys, tracking numbers and fault draws.
    pub seed: u64,
    /// Sim seconds per real second (`0` freezes the clock).
    pub time_scale: f64,
    /// Sim time at start.
    pub start: DateTime<Utc>,
    /// Real-time lifetime of issued OAuth tokens.
    pub token_ttl: Duration,
    /// Where to serve the control API (`/_sim/...`), if anywhere.
    pub control_listen: Option<SocketAddr>,
    /// Which minted numbers may be handed out; `None` accepts every one.
    pub number_filter: Option<NumberFilter>,
}

/// Decides whether a minted number may be handed out for a carrier
/// (`slug`, `number`): the daemon passes its own carrier detection, so numbers
/// registered without a carrier detect as theirs and nothing else.
#[derive(Clone)]
pub struct NumberFilter(pub Arc<AcceptNumber>);

/// `(carrier slug, number) -> accepted`.
pub type AcceptNumber = dyn Fn(&str, &str) -> bool + Send + Sync;

impl std::fmt::Debug for NumberFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NumberFilter(..)")
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            time_scale: 1.0,
            start: Utc
                .with_ymd_and_hms(2025, 3, 3, 14, 0, 0)
                .single()
                .unwrap_or_else(Utc::now),
            token_ttl: Duration::from_secs(3600),
            control_listen: None,
            number_filter: None,
        }
    }
}

/// How an opted-in parcel's number is recycled: the carrier still lists an
/// older shipment under it (see `trackd_carrier_sdk::shipment`). Opt-in per
/// parcel, so ordinary parcels answer exactly as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recycled {
    /// How the older shipment ended.
    pub previous: PreviousShipment,
    /// How long after creation the current shipment's label appears; until
    /// then the carrier shows the older shipment alone.
    pub label_in: chrono::Duration,
}

/// The older shipment under a recycled number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousShipment {
    /// Delivered long ago.
    Delivered,
    /// Its record stopped mid-journey (a lost parcel never closed).
    Stuck,
}

/// How long before the current parcel the older shipment began: beyond any
/// registration lead, as carriers reuse numbers after months or years.
const PREVIOUS_SHIPMENT_AGE_DAYS: i64 = 400;

impl Recycled {
    /// The older shipment as the carrier shows it: its own seeded journey
    /// (another seed stream), planned [`PREVIOUS_SHIPMENT_AGE_DAYS`] ago.
    pub(crate) fn previous_shipment(
        &self,
        seed: u64,
        carrier: &str,
        number: &str,
        now: DateTime<Utc>,
    ) -> Option<SimParcel> {
        let start = now - chrono::Duration::days(PREVIOUS_SHIPMENT_AGE_DAYS);
        let old =
            Journey::plan_scenario(seed ^ 0x5ec0_11ed, carrier, number, start, Scenario::OnTime);
        let n = match self.previous {
            PreviousShipment::Delivered => old.events.len(),
            PreviousShipment::Stuck => (old.events.len() / 2).max(1),
        };
        old.parcel_with(n)
    }
}

/// Why a simulator call could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    /// No carrier with this slug is configured.
    #[error("unknown carrier: {0}")]
    UnknownCarrier(String),
    /// A probability is outside 0..=1 or they sum to more than 1.
    #[error("invalid fault configuration: {0}")]
    InvalidFaults(String),
    /// The plugin's `sim_mint_number` kept returning numbers already in use.
    #[error("could not mint {wanted} unused tracking numbers for {carrier}")]
    NumbersExhausted {
        /// Carrier slug.
        carrier: String,
        /// How many numbers were asked for.
        wanted: usize,
    },
}

/// The simulator; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cfg: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) carriers: Vec<Arc<CarrierState>>,
}

impl Inner {
    pub(crate) fn carrier(&self, slug: &str) -> Option<&Arc<CarrierState>> {
        self.carriers.iter().find(|c| c.slug == slug)
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("seed", &self.inner.cfg.seed)
            .field("carriers", &self.carrier_slugs())
            .finish()
    }
}

impl Simulator {
    /// Builds the simulator (nothing listens until [`Simulator::start`]); invalid
    /// fault configs are logged and replaced by no faults.
    pub fn new(cfg: SimConfig, carriers: Vec<CarrierSetup>) -> Simulator {
        let clock = SimClock::new(cfg.start, cfg.time_scale);
        let carriers = carriers
            .into_iter()
            .map(|setup| Arc::new(CarrierState::new(setup, &cfg)))
            .collect();
        Simulator {
            inner: Arc::new(Inner {
                cfg,
                clock,
                carriers,
            }),
        }
    }

    /// Binds one listener per carrier (and the control API if configured) and
    /// serves them until [`RunningSim::shutdown`] or drop.
    pub async fn start(&self) -> std::io::Result<RunningSim> {
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.inner.carriers {
            if !seen.insert(c.slug.as_str()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("carrier {} is configured twice", c.slug),
                ));
            }
        }
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut base_urls = BTreeMap::new();
        let bound = async {
            for c in &self.inner.carriers {
                let (url, task) =
                    server::serve_carrier(self.inner.clone(), c.clone(), rx.clone()).await?;
                base_urls.insert(c.slug.clone(), url);
                tasks.push(task);
            }
            let control_url = match self.inner.cfg.control_listen {
                Some(addr) => {
                    let (url, task) = control::serve(self.clone(), addr, rx.clone()).await?;
                    tasks.push(task);
                    Some(url)
                }
                None => None,
            };
            Ok::<_, std::io::Error>(control_url)
        }
        .await;
        match bound {
            Ok(control_url) => Ok(RunningSim {
                base_urls,
                control_url,
                shutdown: tx,
                tasks,
            }),
            Err(e) => {
                // Stop whatever did start before failing.
                let _ = tx.send(true);
                for t in tasks {
                    t.abort();
                }
                Err(e)
            }
        }
    }

    /// The simulator's clock (shared: `advance` on a clone moves it for all).
    pub fn clock(&self) -> SimClock {
        self.inner.clock.clone()
    }

    /// Slugs of the configured carriers, in setup order.
    pub fn carrier_slugs(&self) -> Vec<String> {
        self.inner.carriers.iter().map(|c| c.slug.clone()).collect()
    }

    /// Creates `count` parcels whose journeys start now, scenarios drawn from the
    /// mix; numbers come from the plugin's `sim_mint_number`, deterministic per
    /// (seed, carrier, creation order).
    pub fn create_parcels(
        &self,
        carrier_slug: &str,
        count: usize,
    ) -> Result<Vec<String>, SimError> {
        self.create(carrier_slug, count, None)
    }

    /// Like [`Simulator::create_parcels`] with every journey forced to `scenario`,
    /// for tests that need a particular story (e.g. a missed ETA).
    pub fn create_parcels_with_scenario(
        &self,
        carrier_slug: &str,
        count: usize,
        scenario: Scenario,
    ) -> Result<Vec<String>, SimError> {
        self.create(carrier_slug, count, Some(scenario))
    }

    /// Like [`Simulator::create_parcels_with_scenario`] for numbers the
    /// carrier reused: it also lists an older shipment under each (see
    /// [`Recycled`]), rendered by the plugin's `sim_render_track_recycled`.
    pub fn create_recycled_parcels(
        &self,
        carrier_slug: &str,
        count: usize,
        scenario: Scenario,
        recycled: Recycled,
    ) -> Result<Vec<String>, SimError> {
        self.create_with(carrier_slug, count, Some(scenario), Some(&recycled))
    }

    fn create(
        &self,
        slug: &str,
        count: usize,
        scenario: Option<Scenario>,
    ) -> Result<Vec<String>, SimError> {
        self.create_with(slug, count, scenario, None)
    }

    fn create_with(
        &self,
        slug: &str,
        count: usize,
        scenario: Option<Scenario>,
        recycled: Option<&Recycled>,
    ) -> Result<Vec<String>, SimError> {
        let c = self
            .inner
            .carrier(slug)
            .ok_or_else(|| SimError::UnknownCarrier(slug.to_string()))?;
        let now = self.inner.clock.now();
        let numbers = c.create_parcels(
            self.inner.cfg.seed,
            now,
            count,
            scenario,
            self.inner.cfg.number_filter.as_ref(),
            recycled,
        )?;
        tracing::info!(carrier = %slug, count, scenario = ?scenario, "created simulated parcels");
        Ok(numbers)
    }

    /// The full planned journey of a parcel (what tests expect the carrier to say).
    pub fn journey(&self, number: &str) -> Option<Journey> {
        self.inner
            .carriers
            .iter()
            .find_map(|c| c.parcel(number))
            .map(|p| p.journey.clone())
    }

    /// The older shipment a recycled number still lists (see [`Recycled`]);
    /// `None` for ordinary parcels.
    pub fn previous_shipment(&self, number: &str) -> Option<SimParcel> {
        self.inner
            .carriers
            .iter()
            .find_map(|c| c.parcel(number))
            .and_then(|p| p.previous.as_deref().cloned())
    }

    /// What the carrier shows for `number` at sim time `at`; `None` for unknown
    /// numbers and before the parcel was created.
    pub fn parcel_at(&self, number: &str, at: DateTime<Utc>) -> Option<SimParcel> {
        self.inner
            .carriers
            .iter()
            .find_map(|c| c.parcel(number))
            .and_then(|p| p.journey.parcel_at(at))
    }

    /// Counters of every carrier.
    pub fn stats(&self) -> SimStats {
        SimStats {
            carriers: self
                .inner
                .carriers
                .iter()
                .map(|c| (c.slug.clone(), c.counters.snapshot()))
                .collect(),
        }
    }

    /// When a track call last asked for each number, by carrier (numbers as
    /// carriers write them: upper case, no spaces).
    pub fn last_asked(&self) -> BTreeMap<String, HashMap<String, std::time::Instant>> {
        self.inner
            .carriers
            .iter()
            .map(|c| (c.slug.clone(), c.last_asked.lock().clone()))
            .collect()
    }

    /// Replaces a carrier's fault probabilities (takes effect on the next request).
    pub fn set_faults(&self, carrier_slug: &str, faults: FaultConfig) -> Result<(), SimError> {
        let c = self
            .inner
            .carrier(carrier_slug)
            .ok_or_else(|| SimError::UnknownCarrier(carrier_slug.to_string()))?;
        faults.validate().map_err(SimError::InvalidFaults)?;
        *c.faults.write() = faults;
        tracing::info!(carrier = %carrier_slug, ?faults, "fault injection updated");
        Ok(())
    }

    /// A carrier's current fault probabilities.
    pub fn faults(&self, carrier_slug: &str) -> Option<FaultConfig> {
        self.inner.carrier(carrier_slug).map(|c| *c.faults.read())
    }
}

/// Handle on the running servers; shut down gracefully, or just drop it.
pub struct RunningSim {
    /// Carrier slug -> `http://127.0.0.1:PORT`.
    pub base_urls: BTreeMap<String, String>,
    /// `http://127.0.0.1:PORT` of the control API, when configured.
    pub control_url: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("base_urls", &self.base_urls)
            .field("control_url", &self.control_url)
            .finish()
    }
}

/// How long graceful shutdown waits for in-flight requests before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl RunningSim {
    /// Stops accepting connections, lets in-flight requests finish (held timeout
    /// faults are released at once) and waits for the servers to stop.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for mut task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                tracing::warn!("simulator server did not stop in time; aborting it");
                task.abort();
            }
        }
        tracing::info!("simulator stopped");
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        // Servers notice and stop on their own; nothing here can panic.
        let _ = self.shutdown.send(true);
    }
}
