//! Simulated time: a real `Instant` anchor mapped onto a sim `DateTime<Utc>` at a
//! fixed speed, so demos can watch a week-long journey in minutes.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Sim time = `sim_start + (real elapsed × scale) + skew`; cheap to clone and every
/// clone sees the same time (including jumps made with [`SimClock::advance`]).
#[derive(Debug, Clone)]
pub struct SimClock {
    real_anchor: Instant,
    sim_anchor: DateTime<Utc>,
    scale: f64,
    /// Nanoseconds added by `advance`, shared by all clones.
    skew_nanos: Arc<AtomicI64>,
}

impl SimClock {
    /// A clock reading `sim_start` now and running `scale` times faster than real
    /// time; `scale == 0` freezes it (handy in tests), a negative or non-finite
    /// scale is treated as 1.
    pub fn new(sim_start: DateTime<Utc>, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale >= 0.0 {
            scale
        } else {
            tracing::warn!(scale, "invalid simulator time scale; using 1.0");
            1.0
        };
        SimClock {
            real_anchor: Instant::now(),
            sim_anchor: sim_start,
            scale,
            skew_nanos: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Instant::now())
    }

    /// The simulated time at real instant `real` (injectable for tests).
    pub fn at(&self, real: Instant) -> DateTime<Utc> {
        let elapsed = real.saturating_duration_since(self.real_anchor);
        let sim_nanos = (elapsed.as_nanos() as f64 * self.scale).min(i64::MAX as f64 / 2.0);
        let skew = self.skew_nanos.load(Ordering::Relaxed);
        self.sim_anchor + chrono::Duration::nanoseconds((sim_nanos as i64).saturating_add(skew))
    }

    /// How many sim seconds pass per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration that `sim` takes on this clock (for waiting until a sim
    /// moment); saturates at `Duration::MAX` for a frozen clock.
    pub fn real_duration(&self, sim: chrono::Duration) -> Duration {
        let Ok(sim) = sim.to_std() else {
            return Duration::ZERO;
        };
        if sim.is_zero() {
            return Duration::ZERO;
        }
        if self.scale == 0.0 {
            return Duration::MAX;
        }
        Duration::try_from_secs_f64(sim.as_secs_f64() / self.scale).unwrap_or(Duration::MAX)
    }

    /// Jumps sim time forward (or back, if negative) for every clone, so tests and
    /// demos can reach "the ETA has passed" without waiting.
    pub fn advance(&self, by: chrono::Duration) {
        let nanos = by
            .num_nanoseconds()
            .unwrap_or(if by > chrono::Duration::zero() {
                i64::MAX / 4
            } else {
                i64::MIN / 4
            });
        self.skew_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 4, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn scaled_time_moves_faster() {
        let c = SimClock::new(start(), 3600.0);
        let t = c.at(c.real_anchor + Duration::from_secs(2));
        assert_eq!(t, start() + chrono::Duration::hours(2));
    }

    #[test]
    fn frozen_clock_and_advance() {
        let c = SimClock::new(start(), 0.0);
        assert_eq!(c.now(), start());
        let c2 = c.clone();
        c2.advance(chrono::Duration::days(1));
        assert_eq!(c.now(), start() + chrono::Duration::days(1));
        assert_eq!(c.real_duration(chrono::Duration::seconds(1)), Duration::MAX);
    }

    #[test]
    fn real_duration_divides_by_scale() {
        let c = SimClock::new(start(), 60.0);
        assert_eq!(
            c.real_duration(chrono::Duration::minutes(2)),
            Duration::from_secs(2)
        );
        assert_eq!(
            c.real_duration(chrono::Duration::seconds(-5)),
            Duration::ZERO
        );
        assert_eq!(SimClock::new(start(), f64::NAN).scale(), 1.0);
    }
}
