//! Pacing: the per-second rate, and an even spread of every capped window, so
//! requests flow steadily instead of spending a window in its first seconds.
//!
//! Each window is a GCRA (generic cell rate algorithm): an interval between
//! requests and a burst. One process paces with `governor` ([`LocalPacer`]); a
//! fleet instance without shared limiting paces at its share of the quota
//! ([`SplitPacer`]); with Redis the whole fleet shares one GCRA per window
//! (`super::redis`). The hard minute/hour/day caps sit behind pacing (`super::gate`).

use crate::metrics::Metrics;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota as GovQuota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use super::Refused;

/// A carrier account's quota after config overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveQuota {
    pub per_second: u32,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

/// Headroom kept under a carrier's quota so network jitter never pushes two
/// requests into one of the carrier's windows.
pub const QUOTA_HEADROOM: f64 = 1.05;

/// Longest pacing wait taken inside a poll; longer ones reschedule the poll.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(2);

/// One GCRA: at most `burst` requests at once, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceWindow {
    /// `second`, `minute`, `hour` or `day` (metrics labels, refusals).
    pub name: &'static str,
    pub interval: Duration,
    pub burst: u32,
}

impl PaceWindow {
    /// The windows that pace `quota` at `share` of every cap (1.0: all of it):
    /// the narrowest cap first, the per-second rate last (see [`LocalPacer`]).
    /// `None` when a share is too small for even one request of some window:
    /// that instance must not send to the carrier at all (fail closed).
    ///
    /// A rolling window of `n` per `secs` gets a burst of `n / divisor` and the
    /// rest spread evenly with headroom: a GCRA allows burst + window / interval
    /// in any window, and that sum is at most `n`.
    pub fn for_quota(quota: &EffectiveQuota, share: f64) -> Option<Vec<PaceWindow>> {
        let part = |n: u32| (f64::from(n) * share.clamp(0.0, 1.0)).floor() as u32;
        let mut out = Vec::new();
        for (name, cap, secs, divisor) in [
            // A tenth of the minute and hour as burst: steady polling matters
            // more than a burst at start-up; an hour's worth for the day.
            ("minute", quota.per_minute, 60u32, 10u32),
            ("hour", quota.per_hour, 3_600, 10),
            ("day", quota.per_day, 86_400, 24),
        ] {
            let Some(cap) = cap else { continue };
            let n = part(cap);
            if n == 0 {
                return None;
            }
            let burst = (n / divisor).max(1);
            let spread = n.saturating_sub(burst).max(1);
            out.push(PaceWindow {
                name,
                interval: Duration::from_secs_f64(
                    f64::from(secs) * QUOTA_HEADROOM / f64::from(spread),
                ),
                burst,
            });
        }
        let per_second = part(quota.per_second.max(1));
        if per_second == 0 {
            return None;
        }
        out.push(PaceWindow {
            name: "second",
            interval: Duration::from_secs_f64(QUOTA_HEADROOM / f64::from(per_second)),
            burst: (per_second / 2).max(1),
        });
        Some(out)
    }

    /// GCRA tolerance: how far ahead of now the schedule may run (`burst - 1` intervals).
    pub fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.saturating_sub(1))
    }

    fn limiter(&self) -> DefaultDirectRateLimiter {
        RateLimiter::direct(self.gov_quota())
    }

    fn gov_quota(&self) -> GovQuota {
        GovQuota::with_period(self.interval)
            .unwrap_or(GovQuota::per_hour(nz(1)))
            .allow_burst(nz(self.burst))
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

/// Where a carrier client waits for its turn; one implementation per way of
/// pacing (this process alone, its share of a fleet, the fleet through Redis).
#[async_trait::async_trait]
pub trait Pacer: Send + Sync {
    /// Waits (briefly, at most [`MAX_INLINE_WAIT`]) until every window has a
    /// slot and takes it; a longer wait is returned so the poll is rescheduled.
    async fn acquire(&self) -> Result<(), Refused>;

    /// The carrier answered 429: nobody sends to it for `wait` (this process
    /// pauses itself too; a shared pacer tells the rest of the fleet).
    fn pause(&self, _wait: Duration) {}
}

/// Paces one process with `governor`, every window in memory.
pub struct LocalPacer {
    slug: &'static str,
    windows: Vec<(&'static str, DefaultDirectRateLimiter)>,
    /// No request before this (a switch from a shared limiter).
    not_before: Option<Instant>,
    metrics: Arc<Metrics>,
}

impl LocalPacer {
    /// Limiters for `windows` of one process. The per-second burst starts
    /// spent: a process restarted within the same second as its predecessor
    /// must not add a second burst to its (the longer windows' hard caps are
    /// restored from the store by the gate).
    pub fn new(slug: &'static str, windows: &[PaceWindow], metrics: Arc<Metrics>) -> LocalPacer {
        LocalPacer::build(slug, windows, |w| w.name == "second", metrics)
    }

    /// Limiters with every window's burst spent: a pacer rebuilt for a new
    /// share must not add a burst to what the instance just sent.
    pub fn spent(slug: &'static str, windows: &[PaceWindow], metrics: Arc<Metrics>) -> LocalPacer {
        LocalPacer::build(slug, windows, |_| true, metrics)
    }

    fn build(
        slug: &'static str,
        windows: &[PaceWindow],
        spend: impl Fn(&PaceWindow) -> bool,
        metrics: Arc<Metrics>,
    ) -> LocalPacer {
        LocalPacer {
            slug,
            windows: windows
                .iter()
                .map(|w| {
                    let limiter = w.limiter();
                    if spend(w) {
                        let _ = limiter.check_n(nz(w.burst));
                    }
                    (w.name, limiter)
                })
                .collect(),
            not_before: None,
            metrics,
        }
    }

    /// Like [`new`](Self::new), and no request before `not_before`: an
    /// instance taking over from a fleet-wide limiter waits one interval of
    /// its own first, so the switch adds no request to any window.
    pub fn starting_at(
        slug: &'static str,
        windows: &[PaceWindow],
        not_before: Instant,
        metrics: Arc<Metrics>,
    ) -> LocalPacer {
        LocalPacer {
            not_before: Some(not_before),
            ..LocalPacer::spent(slug, windows, metrics)
        }
    }

    /// A fresh limiter's burst is available at once (tests of the GCRA bound).
    #[cfg(test)]
    fn gov_quota_for_test(w: &PaceWindow) -> GovQuota {
        w.gov_quota()
    }
}

#[async_trait::async_trait]
impl Pacer for LocalPacer {
    /// A slot taken from one limiter is not given back when a later one
    /// refuses, so the narrowest (cheapest) caps are asked first: a poll sent
    /// back by the day never spends more than a minute slot, and the day's
    /// budget is never spent on a poll that a minute cap sends back. The
    /// per-second rate comes last, since its wait is always short.
    async fn acquire(&self) -> Result<(), Refused> {
        let started = Instant::now();
        let mut waited = false;
        if let Some(t) = self.not_before.filter(|t| *t > started) {
            if t - started > MAX_INLINE_WAIT {
                return Err(Refused {
                    window: "switch",
                    wait: t - started,
                });
            }
            waited = true;
            tokio::time::sleep_until(t).await;
        }
        for (window, limiter) in &self.windows {
            if let Err(not_until) = limiter.check() {
                self.metrics
                    .rate_limit_waits
                    .with_label_values(&[self.slug, window])
                    .inc();
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                if wait > MAX_INLINE_WAIT {
                    // Minutes or hours of pacing: reschedule rather than hold a
                    // poll slot (and a graceful shutdown) that long.
                    return Err(Refused { window, wait });
                }
                waited = true;
                limiter.until_ready().await;
            }
        }
        if waited {
            self.metrics
                .rate_limit_wait_seconds
                .with_label_values(&[self.slug])
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(())
    }
}

/// What pacing needs to know about the fleet.
pub trait FleetView: Send + Sync {
    /// This instance's part of every carrier quota when the fleet cannot share
    /// one limiter: the shards it holds (lease not lapsed) over all shards.
    /// Held shards never overlap, so the parts of all instances add up to at
    /// most the whole quota.
    fn share(&self) -> f64;
    /// The share counting only shards held for at least `held_for`: what an
    /// instance pacing beside a shared limiter may use, since the others leave
    /// a shard's part free only once they heard of it at a heartbeat.
    fn settled_share(&self, _held_for: Duration) -> f64 {
        self.share()
    }
    /// Instances with a live heartbeat (this one included).
    fn live_instances(&self) -> u32;
    /// The part of every quota left to the instances pacing through Redis:
    /// all of it, less the shares of instances that cannot reach Redis.
    fn redis_part(&self) -> f64 {
        1.0
    }
    /// One of this instance's carriers stopped (`true`) or resumed (`false`)
    /// pacing through Redis; the fleet learns it at the next heartbeat.
    fn set_fallback(&self, _on: bool) {}
}

/// The embedded default: one instance, the whole quota.
pub struct Alone;

impl FleetView for Alone {
    fn share(&self) -> f64 {
        1.0
    }
    fn live_instances(&self) -> u32 {
        1
    }
}

/// Shared handle to the fleet view.
pub type ShareSource = Arc<dyn FleetView>;

/// A fleet view whose share is [`FleetView::settled_share`]: for an instance
/// that paces on its own while the rest of the fleet paces through Redis.
pub struct SettledShare {
    pub fleet: ShareSource,
    pub held_for: Duration,
}

impl FleetView for SettledShare {
    fn share(&self) -> f64 {
        self.fleet.settled_share(self.held_for)
    }
    fn live_instances(&self) -> u32 {
        self.fleet.live_instances()
    }
    fn redis_part(&self) -> f64 {
        self.fleet.redis_part()
    }
    fn set_fallback(&self, on: bool) {
        self.fleet.set_fallback(on)
    }
}

/// Paces at this instance's share of the quota, rebuilt (burst spent) whenever
/// the share changes.
pub struct SplitPacer {
    slug: &'static str,
    quota: EffectiveQuota,
    share: ShareSource,
    current: Mutex<(f64, Option<Arc<LocalPacer>>)>,
    /// Set by [`reset`](Self::reset): the next pacer waits one interval (at least this) first.
    switching: Mutex<Option<Duration>>,
    metrics: Arc<Metrics>,
}

impl SplitPacer {
    pub fn new(
        slug: &'static str,
        quota: EffectiveQuota,
        share: ShareSource,
        metrics: Arc<Metrics>,
    ) -> SplitPacer {
        metrics
            .quota_share
            .with_label_values(&[slug])
            .set(share.share());
        SplitPacer {
            slug,
            quota,
            share,
            current: Mutex::new((f64::NAN, None)),
            switching: Mutex::new(None),
            metrics,
        }
    }

    /// Forgets the limiters: the next request starts from a spent burst, one
    /// interval of this instance's second and minute windows from now, and not
    /// before `at_least` from now (taking over from a shared limiter that may
    /// have just granted its last slot, and that the others keep using until
    /// they learn this instance left it).
    pub fn reset(&self, at_least: Duration) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = (f64::NAN, None);
        *self.switching.lock().unwrap_or_else(|p| p.into_inner()) = Some(at_least);
    }

    /// The pacer for the share now, or `None` when the share fits no request.
    fn pacer(&self) -> (f64, Option<Arc<LocalPacer>>) {
        let share = self.share.share();
        let mut g = self.current.lock().unwrap_or_else(|p| p.into_inner());
        // Compared by bits: NaN (reset) never equals, so it rebuilds.
        if g.0.to_bits() != share.to_bits() {
            let switching = self
                .switching
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let pacer = PaceWindow::for_quota(&self.quota, share).map(|w| {
                let metrics = self.metrics.clone();
                Arc::new(if let Some(at_least) = switching {
                    // Hour and day caps are hard in the shared ledger: only the
                    // short windows need the wait.
                    let wait = w
                        .iter()
                        .filter(|w| matches!(w.name, "second" | "minute"))
                        .map(|w| w.interval)
                        .max()
                        .unwrap_or_default()
                        .max(at_least);
                    LocalPacer::starting_at(self.slug, &w, Instant::now() + wait, metrics)
                } else {
                    LocalPacer::spent(self.slug, &w, metrics)
                })
            });
            *g = (share, pacer);
            self.metrics
                .quota_share
                .with_label_values(&[self.slug])
                .set(share);
        }
        g.clone()
    }
}

#[async_trait::async_trait]
impl Pacer for SplitPacer {
    async fn acquire(&self) -> Result<(), Refused> {
        match self.pacer() {
            (_, Some(p)) => p.acquire().await,
            // Too small a share for even one request: fail closed, look again soon.
            (_, None) => Err(Refused {
                window: "share",
                wait: Duration::from_secs(1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn quota(ps: u32, m: Option<u32>, h: Option<u32>, d: Option<u32>) -> EffectiveQuota {
        EffectiveQuota {
            per_second: ps,
            per_minute: m,
            per_hour: h,
            per_day: d,
        }
    }

    /// A client taking every slot the limiter grants never puts more than `n`
    /// requests into any rolling window, and still gets most of the budget.
    #[test]
    fn rolling_windows_never_exceed_their_budget() {
        for (n, secs, pick) in [
            (20, 60, quota(100, Some(20), None, None)),
            (10, 60, quota(100, Some(10), None, None)),
            (60, 3_600, quota(100, None, Some(60), None)),
            (1, 60, quota(100, Some(1), None, None)),
            (250, 86_400, quota(100, None, None, Some(250))),
        ] {
            let windows = PaceWindow::for_quota(&pick, 1.0).unwrap();
            let w = windows[0];
            let clock = FakeRelativeClock::default();
            let limiter =
                RateLimiter::direct_with_clock(LocalPacer::gov_quota_for_test(&w), clock.clone());
            let step = Duration::from_millis(secs * 1000 / 600);
            let mut granted: Vec<Duration> = Vec::new();
            let mut t = Duration::ZERO;
            while t < Duration::from_secs(secs * 6) {
                while limiter.check().is_ok() {
                    granted.push(t);
                }
                clock.advance(step);
                t += step;
            }
            let window = Duration::from_secs(secs);
            for (i, start) in granted.iter().enumerate() {
                let inside = granted[i..]
                    .iter()
                    .take_while(|g| **g < *start + window)
                    .count();
                assert!(
                    inside <= n as usize,
                    "{n}/{secs}s: {inside} requests in one window"
                );
            }
            // Over six windows the client still got at least 75% of the budget
            // (the burst is spent once; the steady rate keeps 5% headroom).
            assert!(
                granted.len() as f64 >= f64::from(n) * 6.0 * 0.75,
                "{n}/{secs}s: only {}",
                granted.len()
            );
        }
    }

    #[test]
    fn shares_never_add_up_to_more_than_the_quota() {
        let q = quota(10, Some(100), None, Some(250));
        // Three instances holding 85, 85 and 86 of 256 shards.
        let parts: Vec<Vec<PaceWindow>> = [85.0, 85.0, 86.0]
            .iter()
            .map(|s| PaceWindow::for_quota(&q, s / 256.0).unwrap())
            .collect();
        for name in ["second", "minute", "day"] {
            // Requests per window each part allows at most: burst + window / interval.
            let secs = match name {
                "second" => 1.0,
                "minute" => 60.0,
                _ => 86_400.0,
            };
            let total: f64 = parts
                .iter()
                .map(|p| {
                    let w = p.iter().find(|w| w.name == name).unwrap();
                    f64::from(w.burst) + secs / w.interval.as_secs_f64()
                })
                .sum();
            let cap = match name {
                // The carrier's per-second bucket holds per_second tokens on top of its rate.
                "second" => 2.0 * 10.0,
                "minute" => 100.0,
                _ => 250.0,
            };
            assert!(total <= cap, "{name}: {total} > {cap}");
        }
    }

    #[test]
    fn a_share_too_small_for_one_request_sends_nothing() {
        let q = quota(10, None, None, Some(2));
        assert!(PaceWindow::for_quota(&q, 0.4).is_none());
        assert!(PaceWindow::for_quota(&q, 0.5).is_some());
        assert!(PaceWindow::for_quota(&q, 0.0).is_none());
    }

    #[test]
    fn the_whole_quota_keeps_the_documented_rates() {
        let w = PaceWindow::for_quota(&quota(10, None, None, None), 1.0).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].name, "second");
        assert_eq!(w[0].burst, 5);
        assert!((w[0].interval.as_secs_f64() - 0.105).abs() < 1e-9);
        assert_eq!(w[0].tolerance(), w[0].interval * 4);
    }
}
