//! The tracker registry: every registered parcel, kept compact in memory for the
//! hot path (scheduling, polling), with the full record in the store.

use crate::events::Subject;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use trackd_carrier_sdk::Status;

/// Lifecycle of a tracker (design §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerState {
    Active,
    Paused,
    Completed,
    Expired,
    Failed,
}

impl TrackerState {
    pub const ALL: [TrackerState; 5] = [
        TrackerState::Active,
        TrackerState::Paused,
        TrackerState::Completed,
        TrackerState::Expired,
        TrackerState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackerState::Active => "active",
            TrackerState::Paused => "paused",
            TrackerState::Completed => "completed",
            TrackerState::Expired => "expired",
            TrackerState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<TrackerState> {
        TrackerState::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// Whether the scheduler should keep polling.
    pub fn is_polled(self) -> bool {
        self == TrackerState::Active
    }
}

/// Hot per-tracker state: what polling needs without touching the store.
#[derive(Debug, Clone)]
pub struct Entry {
    pub subject: Subject,
    pub state: TrackerState,
    pub status: Status,
    /// Error kind of the last failed fetch (one `carrier.error` per change).
    pub error_kind: Option<&'static str>,
    /// Hash of the last single-number answer body: an identical body skips parsing.
    pub body_hash: u64,
    /// Latest instant the current ETA can mean (unix seconds), for ETA-aware polling.
    pub eta_deadline: Option<i64>,
    /// Carrier-world time of the last carrier change (unix seconds), for expiry.
    pub last_change_at: i64,
    /// Carrier-world registration time (unix seconds): which of a recycled
    /// number's shipments is this tracker's (`trackd_carrier_sdk::shipment`).
    pub registered_at: i64,
    /// A poll is running: a second one (e.g. a refresh) must wait, so one
    /// tracker's events are always derived in order.
    pub in_flight: bool,
    /// The client's promise, which the risk watch and summaries judge against.
    pub promised_by: Option<Box<trackd_carrier_sdk::Eta>>,
    /// Outbound or a return: a return reads as one and is never "detected" as one.
    pub direction: crate::returns::Direction,
    /// What the risk watch last announced; `None` until read back from the log
    /// (after a restart or a takeover), so a clear is never forgotten.
    pub risk: Option<crate::risk::RiskState>,
    /// Carrier-world instant (unix seconds) at which the risk watch must look
    /// again with no new answer; `i64::MAX` when only an answer can change it.
    pub risk_due: i64,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<u64, Entry>,
    by_number: HashMap<(Arc<str>, Arc<str>), u64>,
}

/// All trackers, indexed by id and by (carrier, number) for idempotent registration.
#[derive(Default)]
pub struct Registry {
    inner: RwLock<Inner>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, entry: Entry) {
        let mut g = self.write();
        let key = (
            entry.subject.carrier.clone(),
            entry.subject.tracking_number.clone(),
        );
        g.by_number.insert(key, entry.subject.tracker_id);
        g.by_id.insert(entry.subject.tracker_id, entry);
    }

    pub fn remove(&self, id: u64) -> Option<Entry> {
        let mut g = self.write();
        let e = g.by_id.remove(&id)?;
        g.by_number
            .remove(&(e.subject.carrier.clone(), e.subject.tracking_number.clone()));
        Some(e)
    }

    /// Removes every entry `drop` says to (a fleet instance giving up shards).
    pub fn remove_where(&self, mut drop: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut g = self.write();
        let ids: Vec<u64> = g
            .by_id
            .values()
            .filter(|e| drop(e))
            .map(|e| e.subject.tracker_id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = g.by_id.remove(&id) {
                g.by_number
                    .remove(&(e.subject.carrier.clone(), e.subject.tracking_number.clone()));
                out.push(e);
            }
        }
        out
    }

    /// `key` of every entry with a poll in flight, in one pass.
    pub fn in_flight<K: std::hash::Hash + Eq>(
        &self,
        mut key: impl FnMut(&Entry) -> K,
    ) -> std::collections::HashSet<K> {
        self.read()
            .by_id
            .values()
            .filter(|e| e.in_flight)
            .map(&mut key)
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Entry> {
        self.read().by_id.get(&id).cloned()
    }

    pub fn find(&self, carrier: &str, number: &str) -> Option<u64> {
        let key: (Arc<str>, Arc<str>) = (carrier.into(), number.into());
        self.read().by_number.get(&key).copied()
    }

    /// Mutates one entry in place; returns what the closure returned.
    pub fn update<R>(&self, id: u64, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.write().by_id.get_mut(&id).map(f)
    }

    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts by (state, status) for the trackers gauge.
    pub fn counts(&self) -> HashMap<(TrackerState, Status), u64> {
        let mut m = HashMap::new();
        for e in self.read().by_id.values() {
            *m.entry((e.state, e.status)).or_insert(0) += 1;
        }
        m
    }

    /// Ids of trackers in `state` for one carrier (startup scheduling).
    pub fn ids_for(&self, carrier: &str, state: TrackerState) -> Vec<u64> {
        self.read()
            .by_id
            .values()
            .filter(|e| &*e.subject.carrier == carrier && e.state == state)
            .map(|e| e.subject.tracker_id)
            .collect()
    }
}
