//! Per-carrier request counters: lock-free on the request path, snapshotted into
//! plain serializable structs for tests, the control API and benchmarks.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of every carrier, by slug.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Carrier slug -> its counters.
    pub carriers: BTreeMap<String, CarrierStats>,
}

/// What one simulated carrier saw and answered; tests assert quota compliance
/// (`quota_violations_*` stay 0) and fault handling from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CarrierStats {
    /// Every HTTP request received, whatever its fate.
    pub requests: u64,
    /// OAuth token calls (not counted against the tracking quota).
    pub token_requests: u64,
    /// Track calls classified by the plugin, whatever their outcome.
    pub track_requests: u64,
    /// Tracking numbers asked for across all track requests.
    pub numbers_asked: u64,
    /// Token or track calls refused for bad or missing credentials.
    pub auth_failures: u64,
    /// HTTP status sent -> count.
    pub responses_by_status: BTreeMap<u16, u64>,
    /// Track calls refused because the per-second bucket was empty.
    pub quota_violations_per_second: u64,
    /// Track calls refused because a rolling minute or hour budget was spent.
    pub quota_violations_per_window: u64,
    /// Track calls refused because the rolling 24 h budget was spent.
    pub quota_violations_per_day: u64,
    /// Faults the simulator chose to inject (including injected 429s).
    pub faults_injected: u64,
    /// Requests the carrier could not understand (rendered as its bad-request fault).
    pub bad_requests: u64,
    /// Track calls asking for a number another track call was still being answered
    /// for: two pollers on one parcel at once (a fleet's ownership must prevent it).
    pub overlapping_requests: u64,
}

const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

/// Atomic counters behind [`CarrierStats`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub track_requests: AtomicU64,
    pub numbers_asked: AtomicU64,
    pub auth_failures: AtomicU64,
    pub quota_violations_per_second: AtomicU64,
    pub quota_violations_per_window: AtomicU64,
    pub quota_violations_per_day: AtomicU64,
    pub faults_injected: AtomicU64,
    pub bad_requests: AtomicU64,
    pub overlapping_requests: AtomicU64,
    by_status: Box<[AtomicU64]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            track_requests: AtomicU64::new(0),
            numbers_asked: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            quota_violations_per_second: AtomicU64::new(0),
            quota_violations_per_window: AtomicU64::new(0),
            quota_violations_per_day: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
            overlapping_requests: AtomicU64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Counts a response by its status code (out-of-range codes are folded into 599).
    pub fn record_status(&self, status: u16) {
        let idx = usize::from(
            status.clamp(STATUS_MIN, STATUS_MIN + STATUS_SLOTS as u16 - 1) - STATUS_MIN,
        );
        if let Some(c) = self.by_status.get(idx) {
            bump(c);
        }
    }

    /// A consistent-enough copy (each counter read once, relaxed).
    pub fn snapshot(&self) -> CarrierStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let responses_by_status = self
            .by_status
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = get(c);
                (n > 0).then(|| (STATUS_MIN + i as u16, n))
            })
            .collect();
        CarrierStats {
            requests: get(&self.requests),
            token_requests: get(&self.token_requests),
            track_requests: get(&self.track_requests),
            numbers_asked: get(&self.numbers_asked),
            auth_failures: get(&self.auth_failures),
            responses_by_status,
            quota_violations_per_second: get(&self.quota_violations_per_second),
            quota_violations_per_window: get(&self.quota_violations_per_window),
            quota_violations_per_day: get(&self.quota_violations_per_day),
            faults_injected: get(&self.faults_injected),
            bad_requests: get(&self.bad_requests),
            overlapping_requests: get(&self.overlapping_requests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_counted_by_code() {
        let c = Counters::default();
        c.record_status(200);
        c.record_status(200);
        c.record_status(429);
        c.record_status(42);
        let s = c.snapshot();
        assert_eq!(s.responses_by_status.get(&200), Some(&2));
        assert_eq!(s.responses_by_status.get(&429), Some(&1));
        assert_eq!(s.responses_by_status.get(&100), Some(&1));
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["responses_by_status"]["200"], 2);
    }
}
