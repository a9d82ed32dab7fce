//! Work ownership: which trackers this instance may poll and write.
//!
//! Trackers are spread over a fixed number of shards by a hash of (carrier,
//! number). The embedded default is the sole owner of everything. In fleet mode
//! (PostgreSQL) an instance holds *leases* on shards: each lease has an expiry
//! and an *epoch* that grows on every change of owner. A poll carries the
//! [`Fence`] (shard, epoch) it was started under, and the store writes its result
//! only while that lease is still current, so a paused or partitioned former
//! owner can never write. Locally, a lease counts as held only until its expiry
//! measured from *before* the renewal was sent, so an instance stops polling a
//! shard before any other instance may take it.
//!
//! This module holds the pure part (hashing, the balance rule, the held set);
//! the lease keeper that talks to the store lives in `fleet`.

use crate::store::{StoreError, TrackerRow};
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;
use tokio::time::Instant;
use trackd_carrier_sdk::model::Fnv;

/// The lease a write was produced under; the store rejects it once the lease moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fence {
    pub shard: u32,
    pub epoch: u64,
}

/// The shard of a tracker: stable for the life of the cluster (the shard count is fixed).
pub fn shard_of(carrier: &str, tracking_number: &str, shards: u32) -> u32 {
    let mut h = Fnv::new();
    h.write(carrier.as_bytes());
    h.write(&[0xff]);
    h.write(tracking_number.as_bytes());
    (h.finish() % u64::from(shards.max(1))) as u32
}

/// How many shards each of `live` instances should hold so that all are held
/// and none holds more than one above another.
pub fn fair_share(shards: u32, live: u32) -> u32 {
    shards.div_ceil(live.max(1))
}

/// What one heartbeat left this instance with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// Every lease held after the heartbeat (renewed or newly taken).
    pub held: Vec<Fence>,
    /// Instances whose heartbeat is within one lease period, this one included.
    pub live_instances: u32,
    /// Shards whose lease this heartbeat took from an expired or absent owner.
    pub taken: u32,
    /// Shards held by other live instances that cannot reach Redis and pace
    /// themselves to their share: the instances on Redis leave that part free.
    pub fallback_shards: u32,
}

/// Something another instance asks of the owner of a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerMessage {
    /// Trackers were registered (through any instance); their owners start polling them.
    Registered(Vec<u64>),
    /// A refresh was asked for through an instance that does not own the tracker.
    Refresh(u64),
    /// A tracker was deleted; its owner stops polling it.
    Deleted(u64),
    /// Messages may have been missed (the listening connection was lost): reload owned shards.
    Resync,
}

/// Where leases are kept and owners are told things (PostgreSQL in fleet mode).
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Shards of the cluster (fixed when its database was first used).
    fn shard_count(&self) -> u32;

    /// One heartbeat of `instance`: records it as live, gives back `release`,
    /// renews what it holds, then takes expired or unowned shards up to its
    /// fair share. Runs on the store's clock, never the instance's.
    async fn heartbeat(
        &self,
        instance: &str,
        ttl: Duration,
        release: &[u32],
    ) -> Result<Heartbeat, StoreError>;

    /// Records whether `instance` paces without Redis (its share of every
    /// quota is then its own, and the others' heartbeats learn it).
    async fn set_quota_fallback(&self, instance: &str, on: bool) -> Result<(), StoreError>;

    /// Gives back every lease of `instance` (graceful shutdown: instant takeover).
    async fn release_all(&self, instance: &str) -> Result<(), StoreError>;

    /// Every tracker of the given shards (a shard's new owner loads them).
    async fn trackers_in(&self, shards: &[u32]) -> Result<Vec<TrackerRow>, StoreError>;

    /// The given trackers (those that still exist).
    async fn trackers_by_id(&self, ids: &[u64]) -> Result<Vec<TrackerRow>, StoreError>;

    /// Sends `message` to every instance (the owner acts on it).
    async fn tell_owners(&self, message: OwnerMessage) -> Result<(), StoreError>;

    /// Messages from every instance (this one included), from now on.
    fn owner_messages(&self) -> tokio::sync::broadcast::Receiver<OwnerMessage>;
}

/// Why a tracker may not be polled here now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotOwned;

#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: u64,
    /// The lease counts as ours until then (measured from before its renewal was sent).
    until: Instant,
    /// Marked for release: no new polls; given back at the next heartbeat.
    draining: bool,
    /// When this instance took it (the others learn of it at their next heartbeats).
    since: Instant,
}

/// Shard changes one heartbeat brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Shards newly held (or held again under a new epoch): load their trackers.
    pub acquired: Vec<u32>,
    /// Shards no longer held: drop their trackers.
    pub lost: Vec<u32>,
}

/// The shards this instance holds; read on every poll, written by the lease keeper.
pub struct Ownership {
    shards: u32,
    /// `None`: the sole owner of everything (embedded default).
    leased: Option<RwLock<BTreeMap<u32, Held>>>,
    /// Instances alive at the last heartbeat (this one included).
    live: std::sync::atomic::AtomicU32,
    /// Other instances' shards paced without Redis, at the last heartbeat.
    fallback_shards: std::sync::atomic::AtomicU32,
    /// This instance's carriers paced without Redis now.
    fallback_carriers: std::sync::atomic::AtomicU32,
}

impl Ownership {
    /// The embedded default: one process owns every tracker, no fencing needed.
    pub fn sole() -> Ownership {
        Ownership {
            shards: 1,
            leased: None,
            live: std::sync::atomic::AtomicU32::new(1),
            fallback_shards: std::sync::atomic::AtomicU32::new(0),
            fallback_carriers: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Fleet mode: nothing is held until the first heartbeat.
    pub fn leased(shards: u32) -> Ownership {
        Ownership {
            shards: shards.max(1),
            leased: Some(RwLock::new(BTreeMap::new())),
            live: std::sync::atomic::AtomicU32::new(1),
            fallback_shards: std::sync::atomic::AtomicU32::new(0),
            fallback_carriers: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub fn shard_count(&self) -> u32 {
        self.shards
    }

    pub fn is_fleet(&self) -> bool {
        self.leased.is_some()
    }

    pub fn shard_of(&self, carrier: &str, tracking_number: &str) -> u32 {
        shard_of(carrier, tracking_number, self.shards)
    }

    /// The fence a poll of this tracker must carry: `Ok(None)` for the sole owner,
    /// `Err` when the shard is not (or no longer surely) held here.
    pub fn fence(&self, carrier: &str, tracking_number: &str) -> Result<Option<Fence>, NotOwned> {
        let Some(leased) = &self.leased else {
            return Ok(None);
        };
        let shard = self.shard_of(carrier, tracking_number);
        let held = leased.read().unwrap_or_else(|p| p.into_inner());
        match held.get(&shard) {
            Some(h) if !h.draining && Instant::now() < h.until => Ok(Some(Fence {
                shard,
                epoch: h.epoch,
            })),
            _ => Err(NotOwned),
        }
    }

    /// Whether this instance holds the tracker's shard (draining or not).
    pub fn holds(&self, carrier: &str, tracking_number: &str) -> bool {
        let Some(leased) = &self.leased else {
            return true;
        };
        let shard = self.shard_of(carrier, tracking_number);
        leased
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&shard)
    }

    /// Whether this instance holds `shard` (draining or not).
    pub fn holds_shard(&self, shard: u32) -> bool {
        self.leased.as_ref().is_none_or(|l| {
            l.read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&shard)
        })
    }

    /// Shards held now (draining ones included).
    pub fn held_count(&self) -> usize {
        self.leased.as_ref().map_or(self.shards as usize, |l| {
            l.read().unwrap_or_else(|p| p.into_inner()).len()
        })
    }

    /// Shards held under a lease that has not lapsed (draining ones included:
    /// they are polled until given back). Never overlaps another instance's.
    pub fn live_count(&self) -> usize {
        self.leased.as_ref().map_or(self.shards as usize, |l| {
            let now = Instant::now();
            l.read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .filter(|h| now < h.until)
                .count()
        })
    }

    /// Shards this instance may poll now (held, not draining, lease not lapsed).
    pub fn valid_count(&self) -> usize {
        self.leased.as_ref().map_or(self.shards as usize, |l| {
            let now = Instant::now();
            l.read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .filter(|h| !h.draining && now < h.until)
                .count()
        })
    }

    /// Shards marked for release, to pass to the next heartbeat.
    pub fn draining(&self) -> Vec<u32> {
        self.leased.as_ref().map_or_else(Vec::new, |l| {
            l.read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|(_, h)| h.draining)
                .map(|(s, _)| *s)
                .collect()
        })
    }

    /// Applies a heartbeat sent at `sent_at`: what the store says is held now is
    /// held until `sent_at + ttl`; everything else is lost. Shards held beyond the
    /// fair share are marked draining (released at the next heartbeat, after the
    /// polls in flight on them had a heartbeat's time to finish).
    pub fn apply(&self, beat: &Heartbeat, sent_at: Instant, ttl: Duration) -> Changes {
        let Some(leased) = &self.leased else {
            return Changes::default();
        };
        self.live.store(
            beat.live_instances.max(1),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.fallback_shards
            .store(beat.fallback_shards, std::sync::atomic::Ordering::Relaxed);
        let mut held = leased.write().unwrap_or_else(|p| p.into_inner());
        let mut changes = Changes::default();
        let now_held: BTreeMap<u32, u64> = beat.held.iter().map(|f| (f.shard, f.epoch)).collect();
        held.retain(|shard, h| {
            let keep = now_held.get(shard) == Some(&h.epoch);
            if !keep {
                changes.lost.push(*shard);
            }
            keep
        });
        for (&shard, &epoch) in &now_held {
            match held.get_mut(&shard) {
                Some(h) => h.until = sent_at + ttl,
                None => {
                    held.insert(
                        shard,
                        Held {
                            epoch,
                            until: sent_at + ttl,
                            draining: false,
                            since: Instant::now(),
                        },
                    );
                    changes.acquired.push(shard);
                }
            }
        }
        // A shard lost and re-taken under a new epoch is both: drop, then reload.
        let fair = fair_share(self.shards, beat.live_instances) as usize;
        let active: Vec<u32> = held
            .iter()
            .filter(|(_, h)| !h.draining)
            .map(|(s, _)| *s)
            .collect();
        let draining = held.len() - active.len();
        let extra = held.len().saturating_sub(fair).saturating_sub(draining);
        for shard in active.iter().rev().take(extra) {
            if let Some(h) = held.get_mut(shard) {
                h.draining = true;
            }
        }
        changes
    }

    /// Forgets every lease (the store is unreachable past their expiry, or shutdown).
    pub fn clear(&self) -> Vec<u32> {
        self.leased.as_ref().map_or_else(Vec::new, |l| {
            let mut held = l.write().unwrap_or_else(|p| p.into_inner());
            let lost = held.keys().copied().collect();
            held.clear();
            lost
        })
    }
}

impl Ownership {
    /// Like `live_count`, but only shards held for at least `held_for`.
    fn settled_count(&self, held_for: Duration) -> usize {
        self.leased.as_ref().map_or(self.shards as usize, |l| {
            let now = Instant::now();
            l.read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .filter(|h| now < h.until && h.since + held_for <= now)
                .count()
        })
    }
}

impl crate::quota::pacing::FleetView for Ownership {
    fn settled_share(&self, held_for: Duration) -> f64 {
        self.settled_count(held_for) as f64 / f64::from(self.shards)
    }

    fn share(&self) -> f64 {
        self.live_count() as f64 / f64::from(self.shards)
    }

    fn live_instances(&self) -> u32 {
        self.live.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn redis_part(&self) -> f64 {
        let others = self
            .fallback_shards
            .load(std::sync::atomic::Ordering::Relaxed);
        1.0 - f64::from(others.min(self.shards)) / f64::from(self.shards)
    }

    fn set_fallback(&self, on: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if on {
            self.fallback_carriers.fetch_add(1, Relaxed);
        } else {
            let _ = self
                .fallback_carriers
                .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        }
    }
}

impl Ownership {
    /// Whether any carrier of this instance paces without Redis now.
    pub fn quota_fallback(&self) -> bool {
        self.fallback_carriers
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn beat(held: &[(u32, u64)], live: u32) -> Heartbeat {
        Heartbeat {
            held: held
                .iter()
                .map(|&(shard, epoch)| Fence { shard, epoch })
                .collect(),
            live_instances: live,
            taken: 0,
            fallback_shards: 0,
        }
    }

    #[tokio::test]
    async fn the_sole_owner_owns_everything_without_a_fence() {
        let o = Ownership::sole();
        assert_eq!(o.fence("ups", "1Z"), Ok(None));
        assert!(o.holds("ups", "1Z"));
    }

    #[tokio::test]
    async fn a_fleet_instance_polls_only_shards_it_holds_and_only_until_expiry() {
        let o = Ownership::leased(4);
        let s = o.shard_of("ups", "1Z999");
        assert_eq!(o.fence("ups", "1Z999"), Err(NotOwned));
        let now = Instant::now();
        let c = o.apply(&beat(&[(s, 7)], 1), now, Duration::from_secs(10));
        assert_eq!(c.acquired, vec![s]);
        assert_eq!(
            o.fence("ups", "1Z999"),
            Ok(Some(Fence { shard: s, epoch: 7 }))
        );
        // Renewal sent long ago: the lease is no longer surely ours.
        o.apply(
            &beat(&[(s, 7)], 1),
            now - Duration::from_secs(11),
            Duration::from_secs(10),
        );
        assert_eq!(o.fence("ups", "1Z999"), Err(NotOwned));
        // Taken by someone else in between (new epoch seen): lost, then re-acquired.
        let c = o.apply(&beat(&[(s, 9)], 1), now, Duration::from_secs(10));
        assert_eq!(c.lost, vec![s]);
        assert_eq!(c.acquired, vec![s]);
        let c = o.apply(&beat(&[], 1), now, Duration::from_secs(10));
        assert_eq!(c.lost, vec![s]);
        assert!(!o.holds("ups", "1Z999"));
    }

    #[tokio::test]
    async fn extras_beyond_the_fair_share_drain_before_release() {
        let o = Ownership::leased(4);
        let now = Instant::now();
        let all: Vec<(u32, u64)> = (0..4).map(|s| (s, 1)).collect();
        o.apply(&beat(&all, 1), now, Duration::from_secs(10));
        assert!(o.draining().is_empty());
        // A second instance appears: two shards drain (the highest), two stay.
        o.apply(&beat(&all, 2), now, Duration::from_secs(10));
        assert_eq!(o.draining(), vec![2, 3]);
        assert_eq!(o.held_count(), 4);
        // Draining shards are not polled any more.
        let polled = (0..200)
            .map(|n| format!("N{n}"))
            .filter(|n| o.fence("dhl", n).is_ok())
            .all(|n| o.shard_of("dhl", &n) < 2);
        assert!(polled);
        // Released at the next heartbeat: the store no longer lists them.
        let c = o.apply(&beat(&all[..2], 2), now, Duration::from_secs(10));
        assert_eq!(c.lost, vec![2, 3]);
        assert!(o.draining().is_empty());
    }

    proptest! {
        #[test]
        fn shards_are_stable_and_in_range(carrier in "[a-z]{2,12}", number in "[A-Z0-9]{1,30}", shards in 1u32..1024) {
            let s = shard_of(&carrier, &number, shards);
            prop_assert!(s < shards);
            prop_assert_eq!(s, shard_of(&carrier, &number, shards));
        }

        #[test]
        fn fair_shares_cover_every_shard(shards in 1u32..4096, live in 1u32..64) {
            let f = fair_share(shards, live);
            prop_assert!(f * live >= shards);
            prop_assert!((f - 1) * live < shards);
        }
    }
}
