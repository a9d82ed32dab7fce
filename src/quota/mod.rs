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
//! In fleet mode the hour and day windows are shared by every instance through
//! one store row per carrier ([`reserve_shared`]): an instance takes a chunk of
//! the fleet's budget at a time, counted at the latest moment it may be sent.
//!
//! Pure: the caller passes the time (Unix seconds), so it is tested on a fake clock.
//! Pacing (`pacing`, `redis`) and the gates that make caps durable (`gate`)
//! are the parts with I/O.

pub mod gate;
pub mod pacing;
pub mod redis_pacer;

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

    /// Takes up to `want` requests at `now` for a reservation that may be spent
    /// until `until`, counted there (the latest moment any of them is sent).
    /// Returns how many fit every capped window, or why none does.
    fn take(&mut self, now: u64, until: u64, want: u32) -> Result<u32, Refused> {
        for w in &mut self.windows {
            w.prune(now);
        }
        let room = self
            .windows
            .iter()
            .filter_map(|w| {
                let cap = u64::from(w.cap?);
                Some(cap.saturating_sub(w.used(now)))
            })
            .min()
            .unwrap_or(u64::from(want));
        let granted = room.min(u64::from(want)) as u32;
        if granted == 0 {
            let (window, wait) = self
                .windows
                .iter()
                .filter_map(|w| w.wait(now).map(|wait| (w.name, wait)))
                .max_by_key(|(_, wait)| *wait)
                .unwrap_or(("ledger", Duration::from_secs(1)));
            return Err(Refused { window, wait });
        }
        for w in &mut self.windows {
            w.add(until, granted);
        }
        Ok(granted)
    }

    /// Uncounts `n` reserved requests, counted at `at`, that were never sent.
    /// They are taken from the first buckets at or after `at`: the reservation
    /// was counted in one of those (a later one when buckets merged), and an
    /// earlier bucket stops counting sooner, so what stays counted is never less
    /// than what was sent. A grant that stopped counting at `now` gives nothing back.
    fn give_back(&mut self, at: u64, n: u32, now: u64) {
        for w in &mut self.windows {
            let from = at / w.bucket_secs;
            // A grant whose bucket no longer counts is out of the window already:
            // giving it back would take from newer grants, which still count.
            if !w.counts(from, now) {
                continue;
            }
            let mut left = n;
            for (idx, count) in w.buckets.iter_mut() {
                if left == 0 {
                    break;
                }
                if *idx >= from {
                    let take = left.min(*count);
                    *count -= take;
                    left -= take;
                }
            }
        }
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

/// How long a fleet instance may spend a reservation of the shared windows.
/// It is counted at its end, so the shared windows are this much longer than
/// the carrier's; two minutes is under 4% of an hour.
pub const SHARED_HOLD_SECS: u64 = 120;

/// One instance's request for a chunk of the fleet's hour and day budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveRequest {
    /// The fleet's caps (minute and per-second are paced, not reserved).
    pub caps: Caps,
    pub want: u32,
    /// The unspent rest of this instance's previous reservation: (counted at, requests).
    pub give_back: Option<(u64, u32)>,
}

/// What the fleet granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Requests this instance may send until `until` (0: none, see `refused`).
    pub granted: u32,
    /// Unix seconds (store clock) the grant is counted at and expires.
    pub until: u64,
    pub refused: Option<Refused>,
    /// The fleet's use of each window after this reservation (gauges).
    pub used_hour: u64,
    pub used_day: u64,
}

/// The shared-row step of fleet quotas: given the row `state` (every
/// instance's reservations), at `now` on the store's clock, returns the new row
/// and the reservation. Pure; the store runs it under the row's lock.
pub fn reserve_shared(
    state: Option<&SavedLedger>,
    req: &ReserveRequest,
    now: u64,
) -> (SavedLedger, Reservation) {
    let caps = Caps {
        per_minute: None,
        ..req.caps
    };
    let mut l = Ledger::new(caps);
    if let Some(s) = state {
        // A row written by a single instance holds an unspent reserve: counted here.
        l.restore(s, now);
    }
    if let Some((at, n)) = req.give_back {
        l.give_back(at, n, now);
    }
    let until = now + SHARED_HOLD_SECS;
    let (granted, refused) = match l.take(now, until, req.want.max(1)) {
        Ok(n) => (n, None),
        Err(r) => (0, Some(r)),
    };
    let reservation = Reservation {
        granted,
        until,
        refused,
        used_hour: l.used("hour", now),
        used_day: l.used("day", now),
    };
    (l.saved(now, 0), reservation)
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

    /// One fleet instance in the shared-windows model: its grant, if any.
    #[derive(Clone, Copy, Default)]
    struct Instance {
        left: u32,
        until: u64,
    }

    proptest! {
        /// However instances interleave, crash (losing their grant) and give
        /// back what they did not spend, no rolling hour or day ever holds more
        /// than its cap, and the fleet is not starved.
        #[test]
        fn fleet_reservations_never_exceed_a_cap(
            cap_hour in 1u32..120, cap_day in 1u32..400,
            steps in proptest::collection::vec((0u64..400, 0usize..3, 0u32..8, 0u8..10), 1..200),
        ) {
            let caps = Caps { per_minute: None, per_hour: Some(cap_hour), per_day: Some(cap_day), per_second: 5 };
            let mut row: Option<SavedLedger> = None;
            let mut fleet = [Instance::default(); 3];
            let mut now = 5_000_000u64;
            let mut sent: Vec<u64> = Vec::new();
            for (advance, who, tries, fate) in steps {
                now += advance;
                let me = &mut fleet[who];
                for _ in 0..tries {
                    if me.left > 0 && now < me.until {
                        me.left -= 1;
                        sent.push(now);
                        continue;
                    }
                    let give_back = (me.left > 0).then_some((me.until, me.left));
                    let req = ReserveRequest { caps, want: caps.chunk(), give_back };
                    let (next, r) = reserve_shared(row.as_ref(), &req, now);
                    row = Some(next);
                    *me = Instance { left: r.granted, until: r.until };
                    if r.granted == 0 {
                        break;
                    }
                }
                if fate == 0 {
                    // Crash: the grant is gone, never given back.
                    *me = Instance::default();
                }
            }
            for (cap, secs) in [(cap_hour, 3_600u64), (cap_day, 86_400)] {
                for (i, start) in sent.iter().enumerate() {
                    let inside = sent[i..].iter().take_while(|t| **t < start + secs).count();
                    prop_assert!(inside <= cap as usize, "{} in {}s (cap {})", inside, secs, cap);
                }
            }
        }
    }

    #[test]
    fn given_back_requests_are_granted_again() {
        let caps = Caps {
            per_minute: None,
            per_hour: Some(10),
            per_day: None,
            per_second: 50,
        };
        let req = |give_back| ReserveRequest {
            caps,
            want: 10,
            give_back,
        };
        let (row, a) = reserve_shared(None, &req(None), 1_000);
        assert_eq!(a.granted, 10);
        let (row, b) = reserve_shared(Some(&row), &req(None), 1_001);
        assert_eq!(b.granted, 0, "the hour is reserved");
        assert_eq!(b.refused.map(|r| r.window), Some("hour"));
        // The first holder sent 3 and gives the other 7 back.
        let (_, c) = reserve_shared(Some(&row), &req(Some((a.until, 7))), 1_300);
        assert_eq!(c.granted, 7);
        assert_eq!(c.used_hour, 10);
    }

    #[test]
    fn a_single_instance_row_is_read_with_its_reserve_spent() {
        let caps = Caps {
            per_minute: None,
            per_hour: Some(10),
            per_day: None,
            per_second: 50,
        };
        let mut l = Ledger::new(caps);
        let Admission::Reserve(saved) = l.admit(9_000) else {
            panic!("reserve first")
        };
        let req = ReserveRequest {
            caps,
            want: 10,
            give_back: None,
        };
        let (_, r) = reserve_shared(Some(&saved), &req, 9_010);
        assert_eq!(r.granted, 10 - saved.reserved);
    }
}
