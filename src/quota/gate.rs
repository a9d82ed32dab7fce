//! The hard caps behind pacing: every request passes a gate that counts it
//! against the minute, hour and day windows in a way that survives restarts.
//! One process keeps its own durable [`Ledger`] ([`LocalGate`]); a fleet
//! instance takes chunks of the fleet's hour and day budget from the shared
//! store row ([`FleetGate`]; the minute is paced fleet-wide instead).

use super::{
    Admission, Caps, Ledger, LedgerStore, Refused, Reservation, ReserveRequest, SHARED_HOLD_SECS,
    SavedLedger, unix_now,
};
use crate::metrics::Metrics;
use crate::store::StoreError;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Counts one request against the carrier's hard caps, or says why not.
#[async_trait::async_trait]
pub trait QuotaGate: Send + Sync {
    /// Admits one request (counted durably), or refuses until a window frees.
    async fn admit(&self) -> Result<(), Refused>;
    /// Requests counted in window `minute`, `hour` or `day` (quota gauges).
    fn used(&self, window: &str) -> u64;
}

/// Where a fleet's shared hour/day windows live (the PostgreSQL store).
#[async_trait::async_trait]
pub trait SharedLedgerStore: Send + Sync {
    /// Runs [`super::reserve_shared`] on `carrier`'s row under its lock, on the store's clock.
    async fn reserve(
        &self,
        carrier: &'static str,
        req: ReserveRequest,
    ) -> Result<Reservation, StoreError>;
}

/// The failure every gate answers when the store cannot record usage: a quota
/// is a contract, so requests are held back (fail closed).
fn store_down(slug: &'static str, metrics: &Metrics, e: &StoreError) -> Refused {
    tracing::error!(carrier = slug, error = %e, "cannot make quota usage durable; holding requests back");
    metrics
        .quota_refusals
        .with_label_values(&[slug, "ledger"])
        .inc();
    Refused {
        window: "ledger",
        wait: Duration::from_secs(1),
    }
}

fn refused(slug: &'static str, metrics: &Metrics, r: Refused) -> Refused {
    metrics
        .quota_refusals
        .with_label_values(&[slug, r.window])
        .inc();
    r
}

/// One process's caps: its own ledger, made durable in reservations.
pub struct LocalGate {
    slug: &'static str,
    ledger: Mutex<Ledger>,
    /// Serializes the durable reservations of `ledger`.
    reserving: tokio::sync::Mutex<()>,
    store: Arc<dyn LedgerStore>,
    metrics: Arc<Metrics>,
}

impl LocalGate {
    /// A gate for `caps`, taking over what a previous process `restored`.
    pub fn new(
        slug: &'static str,
        caps: Caps,
        store: Arc<dyn LedgerStore>,
        restored: Option<&SavedLedger>,
        metrics: Arc<Metrics>,
    ) -> LocalGate {
        let mut ledger = Ledger::new(caps);
        if let Some(saved) = restored {
            ledger.restore(saved, unix_now());
        }
        LocalGate {
            slug,
            ledger: Mutex::new(ledger),
            reserving: tokio::sync::Mutex::new(()),
            store,
            metrics,
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl QuotaGate for LocalGate {
    /// Makes a reservation durable first when the current one is spent (a
    /// write every few requests, never per request).
    async fn admit(&self) -> Result<(), Refused> {
        loop {
            let first = self.ledger().admit(unix_now());
            let saved = match first {
                Admission::Granted => return Ok(()),
                Admission::Refused(r) => return Err(refused(self.slug, &self.metrics, r)),
                Admission::Reserve(_) => {
                    let _one_writer = self.reserving.lock().await;
                    // Another request may have reserved while this one waited.
                    let again = self.ledger().admit(unix_now());
                    match again {
                        Admission::Reserve(saved) => saved,
                        _ => continue,
                    }
                }
            };
            if let Err(e) = self.store.save(self.slug, saved.clone()).await {
                return Err(store_down(self.slug, &self.metrics, &e));
            }
            self.metrics
                .quota_ledger_writes
                .with_label_values(&[self.slug])
                .inc();
            self.ledger().reserved(&saved);
        }
    }

    fn used(&self, window: &str) -> u64 {
        self.ledger().used(window, unix_now())
    }
}

/// What this instance holds of the fleet's hour/day budget.
#[derive(Debug, Clone, Copy)]
struct Grant {
    left: u32,
    /// Store-clock seconds the grant is counted at (for giving back the rest).
    counted_at: u64,
    /// Local deadline to spend it: before `counted_at`, with margin for the round trip.
    spend_by: Instant,
}

/// A fleet instance's caps: chunks of the fleet's hour and day budget taken
/// from the shared store row, spent locally.
pub struct FleetGate {
    slug: &'static str,
    caps: Caps,
    store: Arc<dyn SharedLedgerStore>,
    grant: Mutex<Option<Grant>>,
    reserving: tokio::sync::Mutex<()>,
    /// This instance's own minute (the fleet's is paced, not counted here).
    local: Mutex<Ledger>,
    /// The fleet's hour and day use as of the last reservation.
    fleet_used: Mutex<(u64, u64)>,
    metrics: Arc<Metrics>,
}

/// Margin between the local deadline of a grant and the moment it is counted at.
const SPEND_MARGIN: Duration = Duration::from_secs(10);

impl FleetGate {
    pub fn new(
        slug: &'static str,
        caps: Caps,
        store: Arc<dyn SharedLedgerStore>,
        metrics: Arc<Metrics>,
    ) -> FleetGate {
        FleetGate {
            slug,
            caps,
            store,
            grant: Mutex::new(None),
            reserving: tokio::sync::Mutex::new(()),
            local: Mutex::new(Ledger::new(Caps {
                per_second: caps.per_second,
                ..Caps::default()
            })),
            fleet_used: Mutex::new((0, 0)),
            metrics,
        }
    }

    /// Spends one request of the current grant, if it has one left in time.
    fn spend(&self) -> bool {
        let mut g = self.grant.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(grant) if grant.left > 0 && Instant::now() < grant.spend_by => {
                grant.left -= 1;
                true
            }
            _ => false,
        }
    }

    fn count_locally(&self) {
        let _ = self
            .local
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(unix_now());
    }
}

#[async_trait::async_trait]
impl QuotaGate for FleetGate {
    async fn admit(&self) -> Result<(), Refused> {
        if self.caps.per_hour.is_none() && self.caps.per_day.is_none() {
            self.count_locally();
            return Ok(());
        }
        loop {
            if self.spend() {
                self.count_locally();
                return Ok(());
            }
            let _one_writer = self.reserving.lock().await;
            if self.spend() {
                self.count_locally();
                return Ok(());
            }
            let give_back = self
                .grant
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .filter(|g| g.left > 0)
                .map(|g| (g.counted_at, g.left));
            let req = ReserveRequest {
                caps: self.caps,
                want: self.caps.chunk(),
                give_back,
            };
            let asked = Instant::now();
            let r = match self.store.reserve(self.slug, req).await {
                Ok(r) => r,
                Err(e) => {
                    // Whatever was left is lost (counted), never handed out again.
                    return Err(store_down(self.slug, &self.metrics, &e));
                }
            };
            self.metrics
                .quota_ledger_writes
                .with_label_values(&[self.slug])
                .inc();
            *self.fleet_used.lock().unwrap_or_else(|p| p.into_inner()) = (r.used_hour, r.used_day);
            if r.granted == 0 {
                let why = r.refused.unwrap_or(Refused {
                    window: "ledger",
                    wait: Duration::from_secs(1),
                });
                return Err(refused(self.slug, &self.metrics, why));
            }
            // Measured from when it was asked: the store's clock started earlier, never later.
            let hold = Duration::from_secs(SHARED_HOLD_SECS).saturating_sub(SPEND_MARGIN);
            *self.grant.lock().unwrap_or_else(|p| p.into_inner()) = Some(Grant {
                left: r.granted,
                counted_at: r.until,
                spend_by: asked + hold,
            });
        }
    }

    fn used(&self, window: &str) -> u64 {
        let (hour, day) = *self.fleet_used.lock().unwrap_or_else(|p| p.into_inner());
        match window {
            "hour" => hour,
            "day" => day,
            _ => self
                .local
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .used(window, unix_now()),
        }
    }
}
