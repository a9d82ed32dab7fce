//! Fleet mode, the daemon side: the lease keeper (heartbeats; loading the
//! trackers of shards taken, dropping those of shards lost) and the listener of
//! owner messages (a tracker registered, refreshed or deleted through another
//! instance). The rules themselves are in `ownership`; the lease table is the
//! store's (`store::postgres`).

use crate::daemon::{Core, stopped};
use crate::ownership::{Changes, LeaseStore, OwnerMessage};
use crate::trackers::TrackerState;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// A name for this process in the lease table: unique per start, so a restarted
/// instance never mistakes its predecessor's leases (and their epochs) for its own.
pub fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "trackd".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Joins the fleet: the first heartbeat takes this instance's share of free
/// shards and loads their trackers, so a lone instance polls everything at once.
pub async fn join(core: &Arc<Core>, leases: &Arc<dyn LeaseStore>) -> anyhow::Result<()> {
    let mut keeper = Keeper::new(core.clone(), leases.clone());
    keeper.beat().await?;
    tokio::spawn(keeper.run());
    tokio::spawn(run_owner_messages(core.clone(), leases.clone()));
    Ok(())
}

/// Leaves the fleet on graceful shutdown: every lease is given back, so the
/// other instances take over at their next heartbeat instead of after expiry.
pub async fn leave(core: &Core, leases: &Arc<dyn LeaseStore>) {
    core.ownership.clear();
    match leases.release_all(&core.instance).await {
        Ok(()) => tracing::info!(instance = %core.instance, "left the fleet; leases released"),
        Err(e) => {
            tracing::warn!(instance = %core.instance, error = %e, "could not release leases; they expire on their own")
        }
    }
}

struct Keeper {
    core: Arc<Core>,
    leases: Arc<dyn LeaseStore>,
    /// Shards taken whose trackers could not be loaded yet (retried every beat).
    to_load: Vec<u32>,
    /// What the store last recorded of this instance pacing without Redis.
    said_fallback: bool,
}

impl Keeper {
    fn new(core: Arc<Core>, leases: Arc<dyn LeaseStore>) -> Keeper {
        core.metrics
            .fleet_shards
            .with_label_values(&["total"])
            .set(i64::from(leases.shard_count()));
        Keeper {
            core,
            leases,
            to_load: Vec::new(),
            said_fallback: false,
        }
    }

    async fn run(mut self) {
        let mut stop = self.core.shutdown.subscribe();
        let every = self.core.config.fleet.heartbeat;
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.beat().await {
                self.core.metrics.fleet_heartbeat_failures.inc();
                // Lapsed leases stop counting as owned, so "shards unowned" shows it.
                self.core
                    .metrics
                    .fleet_shards
                    .with_label_values(&["owned"])
                    .set(self.core.ownership.valid_count() as i64);
                tracing::warn!(instance = %self.core.instance, error = %e, "lease heartbeat failed; polling stops on each shard when its lease can no longer be trusted");
            }
        }
    }

    async fn beat(&mut self) -> anyhow::Result<()> {
        let core = &self.core;
        let ttl = core.config.fleet.lease_ttl;
        // Draining shards are given back only once their last poll has finished,
        // so a new owner never polls a parcel this instance is still asking about.
        let draining = core.ownership.draining();
        let busy: HashSet<u32> = if draining.is_empty() {
            HashSet::new()
        } else {
            core.registry.in_flight(|e| {
                core.ownership
                    .shard_of(&e.subject.carrier, &e.subject.tracking_number)
            })
        };
        let release: Vec<u32> = draining
            .into_iter()
            .filter(|shard| !busy.contains(shard))
            .collect();
        // Pacing without Redis: the others leave this instance's share free.
        let fallback = core.ownership.quota_fallback();
        if fallback != self.said_fallback {
            self.leases
                .set_quota_fallback(&core.instance, fallback)
                .await?;
            self.said_fallback = fallback;
        }
        let sent = Instant::now();
        let beat = self.leases.heartbeat(&core.instance, ttl, &release).await?;
        let Changes { acquired, lost } = core.ownership.apply(&beat, sent, ttl);
        let released: HashSet<u32> = release.iter().copied().collect();
        let m = &core.metrics;
        m.fleet_instances_live.set(i64::from(beat.live_instances));
        m.fleet_shards
            .with_label_values(&["owned"])
            .set(core.ownership.held_count() as i64);
        m.fleet_lease_changes
            .with_label_values(&["acquired"])
            .inc_by(acquired.len() as u64);
        m.fleet_lease_changes
            .with_label_values(&["released"])
            .inc_by(lost.iter().filter(|s| released.contains(s)).count() as u64);
        m.fleet_lease_changes
            .with_label_values(&["lost"])
            .inc_by(lost.iter().filter(|s| !released.contains(s)).count() as u64);
        if !lost.is_empty() {
            let unexpected = lost.iter().filter(|s| !released.contains(s)).count();
            if unexpected > 0 {
                tracing::warn!(instance = %core.instance, shards = unexpected, "lost shard leases (expired or taken by another instance)");
            }
            drop_shards(core, &lost);
        }
        if !acquired.is_empty() {
            tracing::info!(instance = %core.instance, shards = acquired.len(), taken_over = beat.taken, live_instances = beat.live_instances, "acquired shard leases");
            self.to_load.extend(&acquired);
        }
        self.to_load
            .retain(|s| !lost.contains(s) || acquired.contains(s));
        if !self.to_load.is_empty() {
            let shards = std::mem::take(&mut self.to_load);
            if let Err(e) = load_shards(core, &self.leases, &shards).await {
                self.to_load = shards;
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// Loads the trackers of `shards` into the registry and schedules the active ones.
async fn load_shards(
    core: &Arc<Core>,
    leases: &Arc<dyn LeaseStore>,
    shards: &[u32],
) -> Result<(), crate::store::StoreError> {
    let rows = leases.trackers_in(shards).await?;
    let spread = Duration::from_secs(2).min(core.config.poll.intervals.pending);
    let mut scheduled = 0usize;
    for row in &rows {
        if core.registry.get(row.id).is_some() {
            continue;
        }
        // Another instance may have moved it on since this one last held the
        // shard: diff against the stored snapshot, never a cached one.
        core.snapshots.invalidate(&row.id);
        core.registry.insert(Core::entry_for(row));
        if row.state == TrackerState::Active {
            core.schedule_soon(&row.carrier, row.id, spread);
            scheduled += 1;
        }
    }
    tracing::info!(
        shards = shards.len(),
        trackers = rows.len(),
        scheduled,
        "loaded the trackers of taken shards"
    );
    Ok(())
}

/// Forgets the trackers of shards no longer held (another instance polls them now).
fn drop_shards(core: &Core, shards: &[u32]) {
    let shards: HashSet<u32> = shards.iter().copied().collect();
    let dropped = core.registry.remove_where(|e| {
        shards.contains(
            &core
                .ownership
                .shard_of(&e.subject.carrier, &e.subject.tracking_number),
        )
    });
    for e in &dropped {
        core.forget(e.subject.tracker_id, &e.subject.carrier);
    }
    tracing::info!(
        shards = shards.len(),
        trackers = dropped.len(),
        "handed over the trackers of shards no longer held"
    );
}

async fn run_owner_messages(core: Arc<Core>, leases: Arc<dyn LeaseStore>) {
    let mut messages = leases.owner_messages();
    let mut stop = core.shutdown.subscribe();
    loop {
        let message = tokio::select! {
            _ = stopped(&mut stop) => return,
            m = messages.recv() => m,
        };
        let message = match message {
            Ok(m) => m,
            Err(RecvError::Lagged(_)) => OwnerMessage::Resync,
            Err(RecvError::Closed) => return,
        };
        if let Err(e) = handle(&core, &leases, message).await {
            tracing::warn!(error = %e, "could not act on an owner message; resynchronising at the next one");
        }
    }
}

async fn handle(
    core: &Arc<Core>,
    leases: &Arc<dyn LeaseStore>,
    message: OwnerMessage,
) -> Result<(), crate::store::StoreError> {
    match message {
        OwnerMessage::Registered(ids) => {
            let fresh: Vec<u64> = ids
                .into_iter()
                .filter(|id| core.registry.get(*id).is_none())
                .collect();
            if fresh.is_empty() {
                return Ok(());
            }
            for row in leases.trackers_by_id(&fresh).await? {
                if core.ownership.holds(&row.carrier, &row.tracking_number)
                    && core.registry.get(row.id).is_none()
                {
                    core.registry.insert(Core::entry_for(&row));
                    if row.state == TrackerState::Active {
                        core.schedule_soon(&row.carrier, row.id, Duration::ZERO);
                    }
                }
            }
        }
        OwnerMessage::Refresh(id) => {
            if let Some(e) = core.registry.get(id)
                && e.state.is_polled()
                && !core.recently_refreshed.contains_key(&id)
            {
                core.recently_refreshed.insert(id, ());
                core.schedule_soon(&e.subject.carrier, id, Duration::ZERO);
            }
        }
        OwnerMessage::Deleted(id) => {
            if let Some(e) = core.registry.remove(id) {
                core.forget(id, &e.subject.carrier);
            }
        }
        OwnerMessage::Resync => {
            // Messages were lost: make the registry match the store for held shards.
            let held: Vec<u32> = (0..core.ownership.shard_count())
                .filter(|s| core.ownership.holds_shard(*s))
                .collect();
            let rows = leases.trackers_in(&held).await?;
            let present: HashSet<u64> = rows.iter().map(|r| r.id).collect();
            let gone = core.registry.remove_where(|e| {
                !present.contains(&e.subject.tracker_id)
                    && core
                        .ownership
                        .holds(&e.subject.carrier, &e.subject.tracking_number)
            });
            for e in &gone {
                core.forget(e.subject.tracker_id, &e.subject.carrier);
            }
            for row in &rows {
                if core.registry.get(row.id).is_none() {
                    core.registry.insert(Core::entry_for(row));
                    if row.state == TrackerState::Active {
                        core.schedule_soon(&row.carrier, row.id, Duration::ZERO);
                    }
                }
            }
            tracing::info!(
                trackers = rows.len(),
                removed = gone.len(),
                "resynchronised held shards with the store"
            );
        }
    }
    Ok(())
}
