//! The daemon's notion of "now" for carrier-world decisions (ETA missed, expiry),
//! injectable so the demo and tests can run a compressed, simulated world.

use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Source of carrier-world time; real time in production, the simulator's scaled
/// clock in the demo and end-to-end tests.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Real time to wait for `d` of this clock's time to pass.
    fn real_duration(&self, d: chrono::Duration) -> std::time::Duration;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn real_duration(&self, d: chrono::Duration) -> std::time::Duration {
        d.to_std().unwrap_or_default()
    }
}

/// The simulator's compressed clock, shared so daemon and simulated carriers agree.
impl Clock for trackd_simulator::SimClock {
    fn now(&self) -> DateTime<Utc> {
        trackd_simulator::SimClock::now(self)
    }
    fn real_duration(&self, d: chrono::Duration) -> std::time::Duration {
        trackd_simulator::SimClock::real_duration(self, d)
    }
}

/// Shared handle.
pub type SharedClock = Arc<dyn Clock>;
