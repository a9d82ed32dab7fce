//! Polling: per-carrier workers take due trackers in batches, fetch through the
//! carrier client, and hand each answer to ingestion (parse → diff → store →
//! stream), then reschedule by status and ETA.

use crate::carrier_client::FetchError;
use crate::daemon::{CarrierRuntime, Core};
use crate::diff;
use crate::events::{EventDraft, EventType, fact};
use crate::ownership::{Fence, NotOwned};
use crate::risk;
use crate::store::{CommitUnit, EventFilter, StoreError};
use crate::trackers::{Entry, TrackerState};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::{CarrierError, Snapshot, Status, Timestamp};

/// Runs one carrier's worker until shutdown; in-flight polls finish before it returns.
pub async fn run_worker(core: Arc<Core>, rt: Arc<CarrierRuntime>) {
    let batch = rt.batch_size;
    let slots = Arc::new(Semaphore::new(core.config.poll.max_in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut shutdown = core.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = rt.queue.wait() => {}
        }
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let now = Instant::now();
        let lag = rt.queue.lag(now);
        let ids = rt.queue.pop_due(now, batch);
        if ids.is_empty() {
            continue;
        }
        core.metrics
            .poll_lag
            .with_label_values(&[rt.slug])
            .observe(lag.as_secs_f64());
        let core2 = core.clone();
        let rt2 = rt.clone();
        tasks.spawn(async move {
            poll_batch(&core2, &rt2, ids).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    // Graceful shutdown: let in-flight polls finish and commit.
    while tasks.join_next().await.is_some() {}
}

/// Polls one batch of trackers of one carrier.
pub async fn poll_batch(core: &Arc<Core>, rt: &Arc<CarrierRuntime>, ids: Vec<u64>) {
    let mut entries: Vec<Entry> = Vec::with_capacity(ids.len());
    let mut fences: HashMap<u64, Fence> = HashMap::new();
    for id in ids {
        let claimed = core.registry.update(id, |e| {
            if e.in_flight || !e.state.is_polled() {
                return None;
            }
            // Polled only under a lease held here now; the store checks it again at commit.
            let fence = core
                .ownership
                .fence(&e.subject.carrier, &e.subject.tracking_number);
            match fence {
                Ok(fence) => {
                    e.in_flight = true;
                    Some(Ok((e.clone(), fence)))
                }
                Err(NotOwned) => Some(Err(NotOwned)),
            }
        });
        match claimed {
            Some(Some(Ok((e, fence)))) => {
                if let Some(f) = fence {
                    fences.insert(id, f);
                }
                entries.push(e);
            }
            // The shard is being handed over or its lease awaits renewal: the lease
            // keeper drops it if lost, otherwise polling resumes once renewed.
            Some(Some(Err(NotOwned))) => {
                rt.queue
                    .schedule(id, Instant::now() + Duration::from_secs(1));
            }
            // Already being polled (a refresh raced the schedule): try again shortly.
            Some(None) if core.registry.get(id).is_some_and(|e| e.in_flight) => {
                rt.queue
                    .schedule(id, Instant::now() + Duration::from_millis(200));
            }
            _ => {}
        }
    }
    if entries.is_empty() {
        return;
    }
    let _release = InFlight {
        core,
        ids: entries.iter().map(|e| e.subject.tracker_id).collect(),
    };
    let numbers: Vec<&str> = entries
        .iter()
        .map(|e| &*e.subject.tracking_number)
        .collect();
    // The answer tells how things stood when the request went out (after any wait
    // for quota or backoff), not when it came back: deadlines are judged at that
    // instant, so a slow answer never makes an on-time delivery look missed.
    let asked_at = AtomicI64::new(core.clock.now().timestamp_millis());
    let sending = || {
        asked_at.store(core.clock.now().timestamp_millis(), Ordering::Relaxed);
    };
    let fetched = if fences.is_empty() {
        rt.client
            .fetch_while(&numbers, || {
                sending();
                true
            })
            .await
    } else {
        // Fleet mode: every lease is checked again right before each request.
        rt.client
            .fetch_while(&numbers, || {
                sending();
                entries.iter().all(|e| {
                    core.ownership
                        .fence(&e.subject.carrier, &e.subject.tracking_number)
                        .ok()
                        .flatten()
                        == fences.get(&e.subject.tracker_id).copied()
                })
            })
            .await
    };
    let now = DateTime::from_timestamp_millis(asked_at.load(Ordering::Relaxed))
        .unwrap_or_else(|| core.clock.now());
    let resp = match fetched {
        Ok(resp) => resp,
        Err(FetchError::QuotaSpent(refused)) => {
            let wait = refused.wait;
            // Minute and hour caps are reached in normal pacing; the day (or a
            // store that cannot record usage) is worth an operator's attention.
            // Logged once per spell of refusals, not once per deferred tracker.
            if matches!(refused.window, "day" | "ledger")
                && rt.client.refusal_starts_spell(refused.window)
            {
                tracing::warn!(
                    carrier = rt.slug,
                    window = refused.window,
                    wait_s = wait.as_secs(),
                    "quota spent; deferring polls"
                );
            } else {
                tracing::debug!(
                    carrier = rt.slug,
                    window = refused.window,
                    wait_s = wait.as_secs(),
                    "quota window full; deferring polls"
                );
            }
            for e in &entries {
                rt.queue
                    .schedule(e.subject.tracker_id, Instant::now() + wait);
            }
            return;
        }
        Err(FetchError::NotOwned) => {
            // The lease keeper drops the trackers if the shard is lost; otherwise
            // polling resumes once the lease is renewed.
            for e in &entries {
                rt.queue.schedule(
                    e.subject.tracker_id,
                    Instant::now() + Duration::from_secs(1),
                );
            }
            return;
        }
        Err(FetchError::Carrier(err)) => {
            for e in &entries {
                let fence = fences.get(&e.subject.tracker_id).copied();
                ingest(core, rt, e, fence, Err(err.clone()), None, now).await;
            }
            return;
        }
    };
    let body_hash = Fnv::hash(&resp.body);
    if entries.len() == 1
        && resp.status == 200
        && entries[0].body_hash == body_hash
        && body_hash != 0
    {
        // Byte-identical answer: nothing can have changed; skip parse and diff.
        core.metrics
            .unchanged_answers
            .with_label_values(&[rt.slug])
            .inc();
        core.metrics
            .polls
            .with_label_values(&[rt.slug, "unchanged"])
            .inc();
        observe_staleness(core, rt, entries[0].subject.tracker_id, true);
        let fence = fences.get(&entries[0].subject.tracker_id).copied();
        after_unchanged(core, rt, &entries[0], fence, now).await;
        return;
    }
    match rt.client.plugin.parse_track(&numbers, &resp) {
        Ok(results) => {
            let mut by_number: HashMap<String, Result<Snapshot, CarrierError>> = results
                .into_iter()
                .map(|r| {
                    (
                        crate::carriers::normalize_number(&r.tracking_number),
                        r.outcome,
                    )
                })
                .collect();
            let single = entries.len() == 1;
            for e in &entries {
                let outcome = by_number
                    .remove(&*e.subject.tracking_number)
                    .unwrap_or_else(|| {
                        Err(CarrierError::malformed(
                            "the carrier's answer did not include this tracking number",
                        ))
                    });
                let hash = (single && outcome.is_ok()).then_some(body_hash);
                let fence = fences.get(&e.subject.tracker_id).copied();
                ingest(core, rt, e, fence, outcome, hash, now).await;
            }
        }
        Err(err) => {
            if matches!(err, CarrierError::Malformed { .. }) {
                core.metrics
                    .parse_errors
                    .with_label_values(&[rt.slug])
                    .inc();
                tracing::warn!(carrier = rt.slug, error = %err, body = %resp.body_excerpt(), "malformed carrier answer");
            }
            for e in &entries {
                let fence = fences.get(&e.subject.tracker_id).copied();
                ingest(core, rt, e, fence, Err(err.clone()), None, now).await;
            }
        }
    }
}

/// Clears the in-flight marks however the poll ends.
struct InFlight<'a> {
    core: &'a Core,
    ids: Vec<u64>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            self.core.registry.update(*id, |e| e.in_flight = false);
        }
    }
}

/// Loads the tracker's latest snapshot through the cache. A store that cannot
/// answer is an error, never an empty snapshot: diffing against "pending" would
/// re-announce a whole journey.
pub async fn current_snapshot(core: &Core, id: u64) -> Result<Arc<Snapshot>, StoreError> {
    if let Some(s) = core.snapshots.get(&id) {
        core.metrics
            .cache_requests
            .with_label_values(&["snapshot", "hit"])
            .inc();
        return Ok(s);
    }
    core.metrics
        .cache_requests
        .with_label_values(&["snapshot", "miss"])
        .inc();
    let snap = match core.store.snapshot(id).await? {
        Some(s) => Arc::new(s),
        None => Arc::new(Snapshot::pending()),
    };
    core.snapshots.insert(id, snap.clone());
    Ok(snap)
}

/// The previous snapshot a poll diffs against; on a store error the poll is
/// dropped and the tracker polled again shortly (nothing was written).
async fn previous_snapshot(
    core: &Arc<Core>,
    rt: &CarrierRuntime,
    entry: &Entry,
) -> Option<Arc<Snapshot>> {
    let id = entry.subject.tracker_id;
    match current_snapshot(core, id).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, error = %e, "reading the previous snapshot failed; polling again shortly");
            rt.queue
                .schedule(id, Instant::now() + Duration::from_secs(5));
            None
        }
    }
}

async fn after_unchanged(
    core: &Arc<Core>,
    rt: &Arc<CarrierRuntime>,
    entry: &Entry,
    fence: Option<Fence>,
    now: DateTime<Utc>,
) {
    let mut events = Vec::new();
    let mut state = entry.state;
    let mut missed_now = None;
    if entry.eta_deadline.is_some_and(|d| now.timestamp() > d) {
        let Some(snap) = previous_snapshot(core, rt, entry).await else {
            return;
        };
        missed_now = Some(());
        if let Some(ev) = diff::eta_missed(&snap, now) {
            events.push(ev);
        }
    }
    if let Some(ev) = expiry(core, entry, now) {
        events.push(ev);
        state = TrackerState::Expired;
    }
    // The risk watch looks again only once its due instant passed, so an
    // unchanged answer usually costs this one comparison.
    let mut risk = None;
    if now.timestamp() >= entry.risk_due {
        let Some(snap) = previous_snapshot(core, rt, entry).await else {
            return;
        };
        risk = watch_risk(core, rt, entry, &snap, now).await;
        if let Some(r) = &mut risk {
            insert_before_completion(&mut events, std::mem::take(&mut r.events));
        }
    }
    if events.is_empty() && missed_now.is_none() {
        if let Some(r) = &risk {
            remember_risk(core, entry, r);
        }
        reschedule(core, rt, entry, entry.status);
        return;
    }
    let unit = CommitUnit {
        subject: entry.subject.clone(),
        snapshot: None,
        status: entry.status,
        state,
        error_kind: entry.error_kind,
        eta_deadline: if state == TrackerState::Active && missed_now.is_none() {
            entry.eta_deadline
        } else {
            None
        },
        last_change_at: entry.last_change_at,
        events,
        emitted_at: Utc::now(),
        fence,
    };
    commit_and_update(core, rt, entry, unit, None, None, risk).await;
}

fn expiry(core: &Core, entry: &Entry, now: DateTime<Utc>) -> Option<EventDraft> {
    let idle = now.timestamp() - entry.last_change_at;
    let limit = core.config.poll.expire_after.as_secs() as i64;
    (idle > limit).then(|| EventDraft {
        kind: EventType::TrackerExpired,
        occurred_at: Timestamp::Zoned(now.fixed_offset()),
        fact: fact(&["tracker.expired"]),
        data: json!({ "idle_seconds": idle, "last_status": entry.status }),
    })
}

/// Observes how old the tracker's last successful answer is (when known) and
/// restarts the clock when this poll succeeded.
fn observe_staleness(core: &Core, rt: &CarrierRuntime, id: u64, ok: bool) {
    let now = Instant::now();
    let mut last = rt.last_ok.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = last.get(&id) {
        core.metrics
            .staleness
            .with_label_values(&[rt.slug])
            .observe(now.saturating_duration_since(*t).as_secs_f64());
    }
    if ok {
        last.insert(id, now);
    }
}

/// Applies one tracker's outcome: diff, events, store, cache, schedule.
async fn ingest(
    core: &Arc<Core>,
    rt: &Arc<CarrierRuntime>,
    entry: &Entry,
    fence: Option<Fence>,
    outcome: Result<Snapshot, CarrierError>,
    body_hash: Option<u64>,
    now: DateTime<Utc>,
) {
    let id = entry.subject.tracker_id;
    observe_staleness(core, rt, id, outcome.is_ok());
    let Some(prev) = previous_snapshot(core, rt, entry).await else {
        return;
    };
    let mut events = Vec::new();
    let mut new_snapshot: Option<Arc<Snapshot>> = None;
    let mut error_kind = None;
    let current: Arc<Snapshot>;
    let mut last_change_at = entry.last_change_at;
    match outcome {
        Ok(next) => {
            core.metrics.polls.with_label_values(&[rt.slug, "ok"]).inc();
            let registered_at = DateTime::from_timestamp(entry.registered_at, 0);
            let applied = diff::apply_answer(&prev, next, registered_at, now, &core.policy);
            if let Some(e) = applied
                .events
                .iter()
                .find(|e| e.kind == EventType::ShipmentSwitched)
            {
                tracing::info!(
                    carrier = rt.slug,
                    tracking_number = %entry.subject.tracking_number,
                    previous = %e.data["previous"],
                    current = %e.data["current"],
                    "the carrier's answer switched to another shipment under this number"
                );
            }
            if applied.stale {
                core.metrics
                    .polls
                    .with_label_values(&[rt.slug, "stale"])
                    .inc();
                tracing::info!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, "ignored a stale carrier answer");
            }
            count_unmapped(core, rt, &applied.events, &applied.snapshot, &prev);
            for e in &applied.events {
                if e.kind == EventType::EtaSlipped {
                    core.metrics.eta_slips.with_label_values(&[rt.slug]).inc();
                    if let Some(s) = e.data["slip_seconds"].as_f64() {
                        core.metrics
                            .eta_slip_seconds
                            .with_label_values(&[rt.slug])
                            .observe(s);
                    }
                }
            }
            events = applied.events;
            if let Some(ev) = crate::returns::detect(id, &prev, &applied.snapshot, entry.direction)
            {
                tracing::info!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, "the parcel is going back to its sender");
                insert_before_completion(&mut events, vec![ev]);
            }
            let snap = Arc::new(applied.snapshot);
            if applied.changed {
                new_snapshot = Some(snap.clone());
                last_change_at = now.timestamp();
            }
            current = snap;
        }
        Err(err) => {
            let kind = err.kind();
            core.metrics.polls.with_label_values(&[rt.slug, kind]).inc();
            error_kind = Some(kind);
            if entry.error_kind != Some(kind) {
                tracing::warn!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, error = %err, "tracker cannot be fetched");
                events.push(EventDraft {
                    kind: EventType::CarrierError,
                    occurred_at: Timestamp::Zoned(now.fixed_offset()),
                    fact: fact(&["carrier.error", kind, &now.to_rfc3339()]),
                    data: json!({ "kind": kind, "message": err.to_string(), "retryable": err.is_retryable() }),
                });
            }
            if matches!(err, CarrierError::NotFound { .. }) && prev.status == Status::Pending {
                let mut s = (*prev).clone();
                s.status = Status::Invalid;
                s.status_rule = "trackd:carrier_not_found".into();
                s.fetched_at = Some(now);
                events.push(EventDraft {
                    kind: EventType::StatusChanged,
                    occurred_at: Timestamp::Zoned(now.fixed_offset()),
                    fact: fact(&["status.changed", "invalid", "not_found"]),
                    data: json!({ "from": prev.status, "to": Status::Invalid, "detail": null, "carrier_status_code": null, "carrier_status_text": err.to_string(), "status_rule": s.status_rule }),
                });
                let s = Arc::new(s);
                new_snapshot = Some(s.clone());
                current = s;
            } else {
                current = prev.clone();
            }
        }
    }
    let mut state = if current.status.is_terminal() {
        TrackerState::Completed
    } else {
        TrackerState::Active
    };
    if state == TrackerState::Active
        && new_snapshot.is_none()
        && let Some(ev) = expiry(core, entry, now)
    {
        events.push(ev);
        state = TrackerState::Expired;
    }
    // The ETA deadline we wait on; once it has passed (and eta.missed was raised)
    // it is cleared so the same miss is not raised on every later poll.
    let deadline = current
        .estimated_delivery
        .filter(|_| state == TrackerState::Active)
        .map(|e| e.end().latest_instant().timestamp());
    let passed = deadline.is_some_and(|d| now.timestamp() > d);
    let already_handled = entry.eta_deadline.is_none() && new_snapshot.is_none();
    if passed
        && !already_handled
        && let Some(ev) = diff::eta_missed(&current, now)
    {
        events.push(ev);
    }
    let eta_deadline = if passed { None } else { deadline };
    let added = events
        .iter()
        .filter(|e| e.kind == EventType::CheckpointAdded)
        .count();
    if added > 0 {
        core.thresholds.learn(rt.slug, &current, added);
    }
    let mut risk = None;
    if new_snapshot.is_some() || now.timestamp() >= entry.risk_due {
        risk = watch_risk(core, rt, entry, &current, now).await;
        if let Some(r) = &mut risk {
            insert_before_completion(&mut events, std::mem::take(&mut r.events));
        }
    }
    let nothing_to_write = events.is_empty()
        && new_snapshot.is_none()
        && state == entry.state
        && error_kind == entry.error_kind
        && eta_deadline == entry.eta_deadline;
    if nothing_to_write {
        if let Some(h) = body_hash {
            core.registry.update(id, |e| e.body_hash = h);
        }
        if let Some(r) = &risk {
            remember_risk(core, entry, r);
        }
        reschedule(core, rt, entry, current.status);
        return;
    }
    let unit = CommitUnit {
        subject: entry.subject.clone(),
        snapshot: new_snapshot.clone(),
        status: current.status,
        state,
        error_kind,
        eta_deadline,
        last_change_at,
        events,
        emitted_at: Utc::now(),
        fence,
    };
    commit_and_update(core, rt, entry, unit, new_snapshot, body_hash, risk).await;
}

/// What the risk watch announced for a tracker: the owner's memory, else read
/// back from the tracker's own events (after a restart or a takeover, or on an
/// instance that does not own it), so nothing is repeated and no clear forgotten.
pub async fn announced_risk(core: &Core, id: u64) -> Result<risk::RiskState, StoreError> {
    match core.registry.get(id) {
        Some(Entry { risk: Some(r), .. }) => return Ok(r),
        // Never answered yet: nothing can have been announced but a first summary,
        // whose fact the log would store only once anyway.
        Some(Entry {
            status: Status::Pending,
            ..
        }) => {
            return Ok(risk::RiskState::default());
        }
        _ => {}
    }
    let filter = EventFilter {
        tracker_id: Some(id),
        types: RISK_EVENTS.to_vec(),
        ..EventFilter::default()
    };
    let stored = core.store.events_after(0, 100_000, filter).await?;
    let values: Vec<serde_json::Value> = stored
        .iter()
        .filter_map(|e| serde_json::from_str(&e.json).ok())
        .collect();
    Ok(risk::seed(&values))
}

/// Evaluates the risk watch for one tracker; `None` when what was announced
/// before, or a return's milestones, cannot be read now (tried again at the next poll).
async fn watch_risk(
    core: &Core,
    rt: &CarrierRuntime,
    entry: &Entry,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> Option<risk::Outcome> {
    let id = entry.subject.tracker_id;
    let read = async {
        let prev = match entry.risk {
            Some(prev) => prev,
            None if entry.status == Status::Pending => risk::RiskState::default(),
            None => announced_risk(core, id).await?,
        };
        // A return's summary reads its milestones, as the API's does (returns only).
        let ret = match entry.direction {
            crate::returns::Direction::Outbound => None,
            crate::returns::Direction::Return => match core.store.tracker(id).await? {
                Some(row) => core.store.return_context(&row).await?,
                None => None,
            },
        };
        Ok::<_, StoreError>((prev, ret))
    };
    let (prev, ret) = match read.await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, error = %e, "could not read what the risk watch announced before, or a return's milestones; looking again at the next poll");
            return None;
        }
    };
    let watched = risk::Watched {
        tracker_id: id,
        carrier: rt.slug,
        snapshot,
        promised_by: entry.promised_by.as_deref(),
        ret: ret.as_ref(),
        registered_at: DateTime::from_timestamp(entry.registered_at, 0).unwrap_or(now),
        now,
    };
    Some(risk::evaluate(
        &core.config.risk,
        &core.thresholds,
        prev,
        &watched,
    ))
}

/// The event types the risk watch announces, read back to seed it.
const RISK_EVENTS: [EventType; 5] = [
    EventType::TrackerStalled,
    EventType::TrackerForgotten,
    EventType::EtaAtRisk,
    EventType::EtaAtRiskCleared,
    EventType::SummaryChanged,
];

/// Risk events go before `tracker.completed`, which stays a tracker's last event.
fn insert_before_completion(events: &mut Vec<EventDraft>, risk: Vec<EventDraft>) {
    let at = events
        .iter()
        .position(|e| e.kind == EventType::TrackerCompleted)
        .unwrap_or(events.len());
    events.splice(at..at, risk);
}

/// Keeps what the risk watch decided when there was nothing to write.
fn remember_risk(core: &Core, entry: &Entry, r: &risk::Outcome) {
    core.registry
        .update(entry.subject.tracker_id, |e| keep_risk(e, entry.risk, r));
}

/// Keeps what the risk watch decided, unless what was announced was reset while
/// it looked (a retailer milestone announced a summary meanwhile): the next look
/// then reads it back from the log instead of repeating that summary.
fn keep_risk(e: &mut Entry, looked_with: Option<risk::RiskState>, r: &risk::Outcome) {
    if e.risk.is_none() && looked_with.is_some() {
        return;
    }
    e.risk = Some(r.state);
    e.risk_due = r.due.unwrap_or(i64::MAX);
}

fn count_unmapped(
    core: &Core,
    rt: &CarrierRuntime,
    events: &[EventDraft],
    snap: &Snapshot,
    prev: &Snapshot,
) {
    if snap.status == Status::Unknown && prev.status != Status::Unknown {
        let code = snap.carrier_status_code.as_deref().unwrap_or("");
        core.metrics
            .unmapped_codes
            .with_label_values(&[rt.slug, code])
            .inc();
        tracing::warn!(
            carrier = rt.slug,
            code,
            text = snap.carrier_status_text.as_deref().unwrap_or(""),
            "unmapped carrier status code"
        );
    }
    for e in events
        .iter()
        .filter(|e| e.kind == EventType::CheckpointAdded)
    {
        if e.data["checkpoint"]["status"] == "unknown" {
            let code = e.data["checkpoint"]["code"].as_str().unwrap_or("");
            core.metrics
                .unmapped_codes
                .with_label_values(&[rt.slug, code])
                .inc();
        }
    }
}

async fn commit_and_update(
    core: &Arc<Core>,
    rt: &Arc<CarrierRuntime>,
    entry: &Entry,
    unit: CommitUnit,
    new_snapshot: Option<Arc<Snapshot>>,
    body_hash: Option<u64>,
    risk: Option<risk::Outcome>,
) {
    let id = entry.subject.tracker_id;
    let (status, state, error_kind, eta_deadline, last_change_at) = (
        unit.status,
        unit.state,
        unit.error_kind,
        unit.eta_deadline,
        unit.last_change_at,
    );
    match core.store.commit(unit).await {
        Ok(_) => {
            if let Some(s) = new_snapshot {
                core.snapshots.insert(id, s);
            }
            core.registry.update(id, |e| {
                e.status = status;
                e.state = state;
                e.error_kind = error_kind;
                e.eta_deadline = eta_deadline;
                e.last_change_at = last_change_at;
                if let Some(h) = body_hash {
                    e.body_hash = h;
                }
                if let Some(r) = &risk {
                    keep_risk(e, entry.risk, r);
                }
            });
            if state.is_polled() {
                let mut updated = entry.clone();
                updated.eta_deadline = eta_deadline;
                reschedule(core, rt, &updated, status);
            } else {
                rt.queue.remove(id);
                rt.last_ok
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            }
        }
        Err(StoreError::Fenced { shard, epoch }) => {
            // Another instance owns the shard now: this result is dropped, and the
            // lease keeper hands the tracker over at its next heartbeat.
            core.metrics.fenced_writes.inc();
            tracing::warn!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, shard, epoch, "poll result rejected: the shard's lease moved to another instance");
        }
        Err(e) => {
            // Nothing was applied: the next poll derives the same facts again.
            tracing::error!(carrier = rt.slug, tracking_number = %entry.subject.tracking_number, error = %e, "commit failed; will retry on next poll");
            rt.queue
                .schedule(id, Instant::now() + Duration::from_secs(5));
        }
    }
}

/// Next poll: the status interval with jitter, earlier when the ETA is about to
/// pass (judged on the clock now, not at the answer's instant: the delay starts now).
fn reschedule(core: &Core, rt: &CarrierRuntime, entry: &Entry, status: Status) {
    let now = core.clock.now();
    let base = interval_for(&core.config.poll.intervals, status);
    let jitter = core.config.poll.jitter;
    let factor = if jitter > 0.0 {
        rand::rng().random_range(1.0 - jitter..1.0 + jitter)
    } else {
        1.0
    };
    let mut delay = base.mul_f64(factor);
    if let Some(deadline) = entry.eta_deadline {
        let until = deadline - now.timestamp();
        if until >= 0 {
            let real = core
                .clock
                .real_duration(chrono::Duration::seconds(until + 1));
            if real < delay {
                delay = real;
            }
        }
    }
    rt.queue
        .schedule(entry.subject.tracker_id, Instant::now() + delay);
}

/// The configured poll interval for a status (terminal ones are never polled;
/// they fall back to the slowest sensible interval).
pub fn interval_for(i: &crate::config::PollIntervals, status: Status) -> Duration {
    match status {
        Status::Pending => i.pending,
        Status::InfoReceived => i.info_received,
        Status::InTransit => i.in_transit,
        Status::OutForDelivery => i.out_for_delivery,
        Status::AvailableForPickup => i.available_for_pickup,
        Status::AttemptFailed => i.attempt_failed,
        Status::Exception => i.exception,
        Status::Returning => i.returning,
        Status::Unknown => i.unknown,
        Status::Invalid
        | Status::Expired
        | Status::Delivered
        | Status::Returned
        | Status::Cancelled => i.invalid,
    }
}
