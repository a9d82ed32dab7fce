//! Rolling quota windows (minute, hour, day) that survive restarts.
//!
//! The `governor` limiters in `carrier_client` pace requests, but they live in
//! memory: a restart (or a crash loop) would hand every carrier a fresh day and
//! a fresh burst. The [`Ledger`] is the hard cap behind them. It counts every
//! admitted request in coarse time buckets, per window, and is made durable by
//! *reservations*: before the process sends requests beyond what the store
//! already knows about, it writes the current buckets plus a small reserve of
//! `chunk` requests. After a crash the reserve is counted as if it had all been
//! spent at restart time, so no sequence of restarts can send more than a
//! window's cap, and at most `chunk` requests of budget are lost per restart.
//!
//! Pure: the caller passes the time (Unix seconds), so it is tested on a fake clock.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// The windows a carrier quota can have beside its per-second rate.
const WINDOWS: [(&str, u64, u64); 3] = [
    // (name, window seconds, bucket seconds)
    ("minute", 60, 1),
    ("hour", 3_600, 30),
    ("day", 86_400, 600),
];

/// Extra time every request stays counted after its window, so a carrier whose
/// clock or second boundaries differ from ours never sees one request too many.
fn margin(window_secs: u64) -> u64 {
    (window_secs / 50).max(2)
}

/// The caps of one carrier account (`None`: that window is not limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    /// The per-second rate; bounds the reserve so a crash wastes little budget.
    pub per_second: u32,
}

impl Caps {
    fn cap(&self, window: &str) -> Option<u32> {
        match window {
            "minute" => self.per_minute,
            "hour" => self.per_hour,
            _ => self.per_day,
        }
    }

    /// Requests reserved per durable write: a twentieth of the smallest cap, at
    /// most two seconds' worth of requests, at least one.
    fn chunk(&self) -> u32 {
        let smallest = [self.per_minute, self.per_hour, self.per_day]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u32::MAX);
        (smallest / 20)
            .min(self.per_second.saturating_mul(2))
            .max(1)
    }
}

/// A window's count of admitted requests, by bucket.
#[derive(Debug, Clone)]
struct Window {
    name: &'static str,
    secs: u64,
    bucket_secs: u64,
    cap: Option<u32>,
    /// (bucket index = unix seconds / bucket_secs, requests), oldest first.
    buckets: VecDeque<(u64, u32)>,
}

impl Window {
    /// Whether bucket `idx` still counts at `now`: until `secs + margin` after its end.
    fn counts(&self, idx: u64, now: u64) -> bool {
        (idx + 1) * self.bucket_secs + self.secs + margin(self.secs) > now
    }

    fn prune(&mut self, now: u64) {
        while let Some(&(idx, _)) = self.buckets.front() {
            if self.counts(idx, now) {
                break;
            }
            self.buckets.pop_front();
        }
    }

    fn used(&self, now: u64) -> u64 {
        self.buckets
            .iter()
            .filter(|(idx, _)| self.counts(*idx, now))
            .map(|(_, n)| u64::from(*n))
            .sum()
    }

    fn add(&mut self, at: u64, n: u32) {
        let idx = at / self.bucket_secs;
        // Buckets stay sorted; a clock that stepped back adds to the newest one.
        match self.buckets.back_mut() {
            Some((last, count)) if *last >= idx => *count = count.saturating_add(n),
            _ => self.buckets.push_back((idx, n)),
        }
    }

    /// How long until one more request fits the cap, or `None` when it fits now.
    fn wait(&self, now: u64) -> Option<Duration> {
        let cap = u64::from(self.cap?);
        let used = self.used(now);
        if used < cap {
            return None;
        }
        let mut to_drop = used + 1 - cap;
        for (idx, n) in &self.buckets {
            to_drop = to_drop.saturating_sub(u64::from(*n));
            if to_drop == 0 {
                let free_at = (idx + 1) * self.bucket_secs + self.secs + margin(self.secs);
                return Some(Duration::from_secs(free_at.saturating_sub(now).max(1)));
            }
        }
        // Unreachable with a consistent count; stay closed for a whole window.
        Some(Duration::from_secs(self.secs))
    }
}

/// Why a request may not be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The window whose cap is reached (`minute`, `hour`, `day`).
    pub window: &'static str,
    /// How long until a request fits.
    pub wait: Duration,
}

/// What [`Ledger::admit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send it: it is counted and covered by a durable reservation.
    Granted,
    /// It fits, but the reserve is spent: make `state` durable, call
    /// [`Ledger::reserved`], then admit again.
    Reserve(SavedLedger),
    Refused(Refused),
}

/// The durable form of a ledger (one row per carrier in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLedger {
    /// Unix seconds when it was written.
    pub saved_at: u64,
    /// Requests the writer was allowed to send after `saved_at` beyond `windows`.
    pub reserved: u32,
    pub windows: Vec<SavedWindow>,
}

/// One window's buckets in a [`SavedLedger`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedWindow {
    pub secs: u64,
    pub bucket_secs: u64,
    /// (bucket index, requests), oldest first.
    pub buckets: Vec<(u64, u32)>,
}

/// Every rolling window of one carrier account, with its durable reserve.
#[derive(Debug, Clone)]
pub struct Ledger {
    windows: Vec<Window>,
    chunk: u32,
    /// Requests still covered by the last durable reservation.
    reserve_left: u32,
    /// False when no window is capped: nothing needs to be durable.
    capped: bool,
}

impl Ledger {
    /// An empty ledger for `caps` (nothing used, nothing reserved yet).
    pub fn new(caps: Caps) -> Ledger {
        let windows: Vec<Window> = WINDOWS
            .iter()
            .map(|&(name, secs, bucket_secs)| Window {
                name,
                secs,
                bucket_secs,
                cap: caps.cap(name),
                buckets: VecDeque::new(),
            })
            .collect();
        Ledger {
            capped: windows.iter().any(|w| w.cap.is_some()),
            windows,
            chunk: caps.chunk(),
            reserve_left: 0,
        }
    }

    /// Takes over what a previous process saved: its buckets, and its whole
    /// reserve counted as spent at `now` (it may have been, just before a crash).
    pub fn restore(&mut self, saved: &SavedLedger, now: u64) {
        for sw in &saved.windows {
            let Some(w) = self.windows.iter_mut().find(|w| w.secs == sw.secs) else {
                continue;
            };
            let mut restored = Window {
                buckets: VecDeque::new(),
                ..w.clone()
            };
            for &(idx, n) in &sw.buckets {
                // Re-bucket by each saved bucket's last second: never earlier than it was.
                let last_second = (idx + 1).saturating_mul(sw.bucket_secs.max(1)) - 1;
                restored.add(last_second, n);
            }
            for &(idx, n) in &w.buckets {
                restored.add(idx * w.bucket_secs, n);
            }
            restored.add(now.max(saved.saved_at), saved.reserved);
            restored.prune(now);
            *w = restored;
        }
        self.reserve_left = 0;
    }

    /// Decides whether one request may be sent at `now`, counting it if so.
    pub fn admit(&mut self, now: u64) -> Admission {
        for w in &mut self.windows {
            w.prune(now);
        }
        if let Some(refused) = self
            .windows
            .iter()
            .filter_map(|w| w.wait(now).map(|wait| (w.name, wait)))
            .max_by_key(|(_, wait)| *wait)
        {
            return Admission::Refused(Refused {
                window: refused.0,
                wait: refused.1,
            });
        }
        if self.capped && self.reserve_left == 0 {
            return Admission::Reserve(self.saved(now, self.chunk));
        }
        self.reserve_left = self.reserve_left.saturating_sub(1);
        for w in &mut self.windows {
            w.add(now, 1);
        }
        Admission::Granted
    }

    /// The reservation returned by [`Admission::Reserve`] is durable.
    pub fn reserved(&mut self, saved: &SavedLedger) {
        self.reserve_left = saved.reserved;
    }

    /// Requests counted in the trailing window `name` at `now` (gauges).
    pub fn used(&self, name: &str, now: u64) -> u64 {
        self.windows
            .iter()
            .find(|w| w.name == name)
            .map_or(0, |w| w.used(now))
    }

    fn saved(&self, now: u64, reserved: u32) -> SavedLedger {
        SavedLedger {
            saved_at: now,
            reserved,
            windows: self
                .windows
                .iter()
                .map(|w| SavedWindow {
                    secs: w.secs,
                    bucket_secs: w.bucket_secs,
                    buckets: w.buckets.iter().copied().collect(),
                })
                .collect(),
        }
    }
}

/// Where ledgers are made durable: the daemon's store (one row per carrier).
pub trait LedgerStore: Send + Sync + 'static {
    /// Durably records `saved` for `carrier`; resolves once it would survive a crash.
    fn save(
        &self,
        carrier: &'static str,
        saved: SavedLedger,
    ) -> futures::future::BoxFuture<'static, Result<(), crate::store::StoreError>>;
}

/// Unix seconds of the wall clock (quotas are counted in real time, never the
/// demo's compressed clock).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn caps(minute: Option<u32>, hour: Option<u32>, day: Option<u32>) -> Caps {
        Caps {
            per_minute: minute,
            per_hour: hour,
            per_day: day,
            per_second: 5,
        }
    }

    /// Admits like the client does: reserving (durably, here: at once) when asked.
    fn admit(l: &mut Ledger, now: u64) -> Result<(), Refused> {
        loop {
            match l.admit(now) {
                Admission::Granted => return Ok(()),
                Admission::Reserve(s) => l.reserved(&s),
                Admission::Refused(r) => return Err(r),
            }
        }
    }

    #[test]
    fn uncapped_ledgers_never_ask_for_a_reservation() {
        let mut l = Ledger::new(caps(None, None, None));
        for t in 0..100 {
            assert_eq!(l.admit(1_000 + t), Admission::Granted);
        }
        // An upper bound: the last 60 s plus the 2 s margin.
        assert_eq!(l.used("minute", 1_099), 63);
    }

    #[test]
    fn a_full_window_refuses_with_the_time_until_it_frees() {
        let mut l = Ledger::new(caps(Some(3), None, None));
        let t0 = 10_000;
        for _ in 0..3 {
            admit(&mut l, t0).unwrap();
        }
        let r = admit(&mut l, t0 + 1).unwrap_err();
        assert_eq!(r.window, "minute");
        // Counted until 60 s + 2 s margin after the end of its 1 s bucket.
        assert_eq!(r.wait, Duration::from_secs(62));
        assert!(admit(&mut l, t0 + 62).is_err(), "not one second early");
        assert!(admit(&mut l, t0 + 1 + 62).is_ok());
    }

    #[test]
    fn restore_counts_the_whole_reserve_as_spent_at_restart() {
        let c = caps(None, Some(100), None);
        let mut l = Ledger::new(c);
        let Admission::Reserve(saved) = l.admit(50_000) else {
            panic!("first request needs a reservation");
        };
        assert_eq!(saved.reserved, 5);
        // The process crashed after the write, having sent any number of the 5.
        let mut next = Ledger::new(c);
        next.restore(&saved, 50_010);
        assert_eq!(next.used("hour", 50_010), 5);
    }

    proptest! {
        /// Whatever the restarts (each crash at any point after any durable
        /// write), no rolling window ever holds more than its cap, and a patient
        /// client still gets most of the budget.
        #[test]
        fn no_sequence_of_restarts_exceeds_a_cap(
            cap_min in 1u32..30, cap_hour in 1u32..80,
            steps in proptest::collection::vec((0u64..40, 0u32..6, any::<bool>()), 1..120),
        ) {
            let c = caps(Some(cap_min), Some(cap_hour), None);
            let mut durable: Option<SavedLedger> = None;
            let mut l = Ledger::new(c);
            let mut now = 1_000_000u64;
            let mut sent: Vec<u64> = Vec::new();
            for (advance, tries, crash) in steps {
                now += advance;
                for _ in 0..tries {
                    loop {
                        match l.admit(now) {
                            Admission::Granted => { sent.push(now); break; }
                            Admission::Reserve(s) => { l.reserved(&s); durable = Some(s); }
                            Admission::Refused(_) => break,
                        }
                    }
                }
                if crash {
                    l = Ledger::new(c);
                    if let Some(s) = &durable {
                        l.restore(s, now);
                    }
                }
            }
            for (cap, secs) in [(cap_min, 60u64), (cap_hour, 3_600)] {
                for (i, start) in sent.iter().enumerate() {
                    let inside = sent[i..].iter().take_while(|t| **t < start + secs).count();
                    prop_assert!(inside <= cap as usize, "{} in {}s (cap {})", inside, secs, cap);
                }
            }
        }
    }

    #[test]
    fn a_crash_loop_still_spends_the_budget() {
        // One request per process, then a crash: like a daemon that is killed
        // right after its first poll, again and again.
        let c = caps(None, Some(10), Some(1_000));
        let mut durable: Option<SavedLedger> = None;
        let mut sent = 0;
        let mut now = 2_000_000;
        for _ in 0..30 {
            let mut l = Ledger::new(c);
            if let Some(s) = &durable {
                l.restore(s, now);
            }
            loop {
                match l.admit(now) {
                    Admission::Granted => {
                        sent += 1;
                        break;
                    }
                    Admission::Reserve(s) => {
                        l.reserved(&s);
                        durable = Some(s);
                    }
                    Admission::Refused(_) => break,
                }
            }
            now += 5;
        }
        assert_eq!(sent, 10, "the hour's whole budget, and not one more");
    }
}
