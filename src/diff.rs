//! The diff engine: turns the previous snapshot and a fresh carrier answer into
//! the merged snapshot and the change events of design §3. Pure (no clock, no I/O),
//! so it is property-tested exhaustively.

use crate::events::{EventDraft, EventType, fact};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashSet;
use trackd_carrier_sdk::shipment::{self, Hint, Selection};
use trackd_carrier_sdk::{Eta, Snapshot, Status, Timestamp};

/// Knobs of change detection that operators tune.
#[derive(Debug, Clone, Copy)]
pub struct DiffPolicy {
    /// How much later than the first promise an ETA may move before `eta.slipped`.
    pub eta_slip_tolerance_secs: i64,
}

/// What applying an answer produced.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The snapshot to keep (the previous one when the answer was stale).
    pub snapshot: Snapshot,
    /// Events in causal order: checkpoints oldest first, then status, ETA, completion.
    pub events: Vec<EventDraft>,
    /// Whether the kept snapshot differs in carrier facts from the previous one
    /// (when false, nothing needs to be written).
    pub changed: bool,
    /// True when the answer regressed the status without carrier confirmation and was ignored.
    pub stale: bool,
}

fn eta_wire(eta: &Option<Eta>) -> String {
    eta.as_ref()
        .and_then(|e| serde_json::to_string(e).ok())
        .unwrap_or_default()
}

/// Applies a plugin's answer for a tracker registered at `registered_at`:
/// first the SDK's shipment rule chooses, among the shipments the carrier
/// listed under the number, the one this tracker follows (see
/// `trackd_carrier_sdk::shipment`), then [`apply`] diffs it. An answer that
/// only offers a shipment older than the followed one is stale.
pub fn apply_answer(
    prev: &Snapshot,
    next: Snapshot,
    registered_at: Option<DateTime<Utc>>,
    fetched_at: DateTime<Utc>,
    policy: &DiffPolicy,
) -> Applied {
    let hint = Hint {
        previous: Some(prev),
        registered_at,
    };
    match shipment::reselect(next, &hint) {
        Selection::Chosen(next) => apply(prev, next, fetched_at, policy),
        Selection::Stale => {
            let mut kept = prev.clone();
            kept.fetched_at = Some(fetched_at);
            Applied {
                snapshot: kept,
                events: Vec::new(),
                changed: false,
                stale: true,
            }
        }
    }
}

/// Applies a freshly parsed answer `next` on top of `prev`.
pub fn apply(
    prev: &Snapshot,
    mut next: Snapshot,
    fetched_at: DateTime<Utc>,
    policy: &DiffPolicy,
) -> Applied {
    next.fetched_at = Some(fetched_at);
    next.original_estimated_delivery = prev
        .original_estimated_delivery
        .or(prev.estimated_delivery)
        .or(next.estimated_delivery);

    // The common case costs one comparison: the same carrier facts as before
    // (checkpoint identities are not even computed). Exactly what the full path
    // below yields for it: no event, nothing to write.
    if next.carrier_facts_eq(prev)
        && next.original_estimated_delivery == prev.original_estimated_delivery
    {
        return Applied {
            snapshot: next,
            events: Vec::new(),
            changed: false,
            stale: false,
        };
    }

    // Carriers never delete history: an answer missing checkpoints we hold and
    // adding none is stale (lagging replica, cache); one that adds some is merged
    // so nothing already announced can come back as "new".
    // Each identity is computed once (it formats the time): the previous
    // snapshot's set serves both the staleness check and the new-checkpoint test.
    let next_ids: Vec<u64> = next.checkpoints.iter().map(|c| c.identity()).collect();
    let next_set: HashSet<u64> = next_ids.iter().copied().collect();
    let prev_ids: Vec<u64> = prev.checkpoints.iter().map(|c| c.identity()).collect();
    // Another shipment under the same (recycled) number: never merged with
    // the one we followed; it replaces it wholesale.
    let shares_scan = || prev_ids.iter().any(|id| next_set.contains(id));
    if shipment::same_shipment_given(prev, &next, shares_scan) == Some(false) {
        return switched(prev, next, &next_ids, fetched_at);
    }
    let missing: Vec<_> = prev
        .checkpoints
        .iter()
        .zip(&prev_ids)
        .filter(|(_, id)| !next_set.contains(id))
        .map(|(c, _)| c.clone())
        .collect();
    let adds_any = next.checkpoints.len() + missing.len() > prev.checkpoints.len();
    let regression = prev.status.is_regression_to(next.status);
    if (!missing.is_empty() && !adds_any) || (regression && !carrier_confirms(prev, &next)) {
        let mut kept = prev.clone();
        kept.fetched_at = Some(fetched_at);
        return Applied {
            snapshot: kept,
            events: Vec::new(),
            changed: false,
            stale: true,
        };
    }
    let mut next_ids = next_ids;
    if !missing.is_empty() {
        // Older facts the carrier stopped listing go first, in the order we had them.
        let mut merged_ids: Vec<u64> = prev_ids
            .iter()
            .copied()
            .filter(|id| !next_set.contains(id))
            .collect();
        merged_ids.append(&mut next_ids);
        next_ids = merged_ids;
        let mut merged = missing;
        merged.append(&mut next.checkpoints);
        next.checkpoints = merged;
    }

    let updated_at = next
        .updated_at
        .unwrap_or(Timestamp::Zoned(fetched_at.fixed_offset()));
    let updated_wire = updated_at.to_wire();
    let mut events = Vec::new();

    let seen: HashSet<u64> = prev_ids.iter().copied().collect();
    for (cp, &id) in next.checkpoints.iter().zip(&next_ids) {
        if !seen.contains(&id) {
            events.push(EventDraft {
                kind: EventType::CheckpointAdded,
                occurred_at: cp.occurred_at,
                fact: fact(&["checkpoint", &id.to_string()]),
                data: json!({ "checkpoint": cp }),
            });
        }
    }

    if next.status != prev.status {
        let kind = if regression {
            EventType::StatusCorrected
        } else {
            EventType::StatusChanged
        };
        events.push(EventDraft {
            kind,
            occurred_at: updated_at,
            fact: fact(&[
                kind.as_str(),
                next.status.as_str(),
                &updated_wire,
                next.carrier_status_code.as_deref().unwrap_or(""),
            ]),
            data: json!({
                "from": prev.status,
                "to": next.status,
                "detail": next.status_detail,
                "carrier_status_code": next.carrier_status_code,
                "carrier_status_text": next.carrier_status_text,
                "status_rule": next.status_rule,
            }),
        });
    }

    if next.estimated_delivery != prev.estimated_delivery
        && let Some(new_eta) = next.estimated_delivery
    {
        let prev_wire = eta_wire(&prev.estimated_delivery);
        let new_wire = eta_wire(&next.estimated_delivery);
        let slip = prev
            .estimated_delivery
            .map(|p| new_eta.slip_seconds_from(&p));
        events.push(EventDraft {
            kind: EventType::EtaChanged,
            occurred_at: updated_at,
            fact: fact(&["eta.changed", &prev_wire, &new_wire, &updated_wire]),
            data: json!({
                "previous": prev.estimated_delivery,
                "new": new_eta,
                "slip_seconds": slip,
            }),
        });
        if let Some(promised) = next.original_estimated_delivery {
            let late_by = new_eta.slip_seconds_from(&promised);
            if slip.unwrap_or(0) > 0 && late_by > policy.eta_slip_tolerance_secs {
                events.push(EventDraft {
                    kind: EventType::EtaSlipped,
                    occurred_at: updated_at,
                    fact: fact(&["eta.slipped", &new_wire, &updated_wire]),
                    data: json!({
                        "promised": promised,
                        "previous": prev.estimated_delivery,
                        "new": new_eta,
                        "slip_seconds": late_by,
                        "reason": next.status_detail,
                    }),
                });
            }
        }
    }

    if next.status.is_terminal() && !prev.status.is_terminal() {
        events.push(completed(&next, updated_at));
    }

    let changed = !next.carrier_facts_eq(prev)
        || next.original_estimated_delivery != prev.original_estimated_delivery;
    Applied {
        snapshot: next,
        events,
        changed,
        stale: false,
    }
}

/// `tracker.completed`. Its fact names the shipment when the carrier
/// identifies shipments, so a recycled number's new shipment completes too
/// after the tracker followed an older one to its end.
fn completed(next: &Snapshot, updated_at: Timestamp) -> EventDraft {
    let key = next
        .shipment
        .as_ref()
        .map(|s| s.current.key())
        .filter(|k| !k.is_empty());
    let fact = match &key {
        Some(k) => fact(&["tracker.completed", next.status.as_str(), k]),
        None => fact(&["tracker.completed", next.status.as_str()]),
    };
    EventDraft {
        kind: EventType::TrackerCompleted,
        occurred_at: next.delivered_at.unwrap_or(updated_at),
        fact,
        data: json!({ "status": next.status, "delivered_at": next.delivered_at, "signed_by": next.signed_by }),
    }
}

/// The carrier's answer now shows another shipment than the one the tracker
/// followed: `shipment.switched` (previous and current shipment), then the
/// new shipment's facts as if first seen (every checkpoint, the status move,
/// its ETA, its completion). The status move is a `status.changed`, never a
/// `status.corrected` (it is another parcel, not a regression), the first
/// promised ETA restarts from the new shipment's, and nothing of the old
/// shipment is kept.
fn switched(
    prev: &Snapshot,
    mut next: Snapshot,
    next_ids: &[u64],
    fetched_at: DateTime<Utc>,
) -> Applied {
    next.original_estimated_delivery = next.estimated_delivery;
    let from = shipment::ref_of(prev);
    let to = shipment::ref_of(&next);
    let updated_at = next
        .updated_at
        .unwrap_or(Timestamp::Zoned(fetched_at.fixed_offset()));
    let updated_wire = updated_at.to_wire();
    let others = next
        .shipment
        .as_ref()
        .map(|s| s.others.clone())
        .unwrap_or_default();
    let mut events = vec![EventDraft {
        kind: EventType::ShipmentSwitched,
        occurred_at: to.since.unwrap_or(updated_at),
        fact: fact(&["shipment.switched", &from.key(), &to.key()]),
        data: json!({
            "previous": from,
            "current": to,
            "previous_status": prev.status,
            "status": next.status,
            "others": others,
        }),
    }];
    for (cp, id) in next.checkpoints.iter().zip(next_ids) {
        events.push(EventDraft {
            kind: EventType::CheckpointAdded,
            occurred_at: cp.occurred_at,
            fact: fact(&["checkpoint", &id.to_string()]),
            data: json!({ "checkpoint": cp }),
        });
    }
    if next.status != prev.status {
        events.push(EventDraft {
            kind: EventType::StatusChanged,
            occurred_at: updated_at,
            fact: fact(&[
                EventType::StatusChanged.as_str(),
                next.status.as_str(),
                &updated_wire,
                next.carrier_status_code.as_deref().unwrap_or(""),
            ]),
            data: json!({
                "from": prev.status,
                "to": next.status,
                "detail": next.status_detail,
                "carrier_status_code": next.carrier_status_code,
                "carrier_status_text": next.carrier_status_text,
                "status_rule": next.status_rule,
            }),
        });
    }
    if next.estimated_delivery != prev.estimated_delivery
        && let Some(new_eta) = next.estimated_delivery
    {
        events.push(EventDraft {
            kind: EventType::EtaChanged,
            occurred_at: updated_at,
            fact: fact(&[
                "eta.changed",
                &eta_wire(&prev.estimated_delivery),
                &eta_wire(&next.estimated_delivery),
                &updated_wire,
            ]),
            // Another shipment's promise: no slip against the old one.
            data: json!({
                "previous": prev.estimated_delivery,
                "new": new_eta,
                "slip_seconds": null,
            }),
        });
    }
    if next.status.is_terminal() && !prev.status.is_terminal() {
        events.push(completed(&next, updated_at));
    }
    Applied {
        snapshot: next,
        events,
        changed: true,
        stale: false,
    }
}

/// A regression is real only when the carrier's own newest checkpoint says so
/// and is not older than what we already had.
fn carrier_confirms(prev: &Snapshot, next: &Snapshot) -> bool {
    let Some(newest) = next.checkpoints.last() else {
        return false;
    };
    if newest.status != next.status {
        return false;
    }
    match prev.updated_at {
        Some(prev_at) => newest.occurred_at.chrono_cmp(&prev_at) != std::cmp::Ordering::Less,
        None => true,
    }
}

/// `eta.missed` from the daemon's own clock: the ETA window has surely ended
/// (whatever the local zone) and the parcel is not delivered.
pub fn eta_missed(snapshot: &Snapshot, now: DateTime<Utc>) -> Option<EventDraft> {
    if snapshot.status.is_terminal() || matches!(snapshot.status, Status::Invalid | Status::Expired)
    {
        return None;
    }
    let eta = snapshot.estimated_delivery?;
    if !eta.has_passed(now) {
        return None;
    }
    Some(EventDraft {
        kind: EventType::EtaMissed,
        occurred_at: eta.end(),
        fact: fact(&["eta.missed", &eta_wire(&Some(eta))]),
        data: json!({
            "eta": eta,
            "promised": snapshot.original_estimated_delivery,
            "status": snapshot.status,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};
    use proptest::prelude::*;
    use trackd_carrier_sdk::{Address, Checkpoint, Shipment, ShipmentRef};

    const POLICY: DiffPolicy = DiffPolicy {
        eta_slip_tolerance_secs: 7200,
    };

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn cp(minute: i64, status: Status, code: &str) -> Checkpoint {
        let at = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
            + Duration::minutes(minute);
        Checkpoint {
            occurred_at: Timestamp::Naive(at),
            status,
            status_detail: None,
            code: code.into(),
            description: format!("{status} {code}"),
            location: Some(Address {
                city: Some("ATLANTA".into()),
                ..Address::default()
            }),
        }
    }

    fn day(d: u32) -> Eta {
        Eta::Date {
            date: NaiveDate::from_ymd_opt(2026, 3, d).unwrap(),
        }
    }

    fn snap(cps: Vec<Checkpoint>, eta: Option<Eta>) -> Snapshot {
        let mut s = Snapshot::pending();
        s.status = cps.last().map_or(Status::Pending, |c| c.status);
        s.carrier_status_code = cps.last().map(|c| c.code.clone());
        s.status_rule = "test".into();
        s.checkpoints = cps;
        s.estimated_delivery = eta;
        s.finish()
    }

    fn kinds(a: &Applied) -> Vec<EventType> {
        a.events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn first_answer_announces_everything_in_causal_order() {
        let next = snap(
            vec![
                cp(0, Status::InfoReceived, "MP"),
                cp(60, Status::InTransit, "AR"),
            ],
            Some(day(4)),
        );
        let a = apply(&Snapshot::pending(), next, t0(), &POLICY);
        assert_eq!(
            kinds(&a),
            vec![
                EventType::CheckpointAdded,
                EventType::CheckpointAdded,
                EventType::StatusChanged,
                EventType::EtaChanged
            ]
        );
        assert_eq!(a.snapshot.original_estimated_delivery, Some(day(4)));
        assert!(a.changed);
    }

    #[test]
    fn unchanged_answer_emits_nothing_and_writes_nothing() {
        let next = snap(vec![cp(0, Status::InTransit, "AR")], Some(day(4)));
        let first = apply(&Snapshot::pending(), next.clone(), t0(), &POLICY);
        let again = apply(&first.snapshot, next, t0() + Duration::hours(1), &POLICY);
        assert!(again.events.is_empty());
        assert!(!again.changed);
    }

    #[test]
    fn eta_slip_beyond_tolerance_is_flagged_with_the_promise() {
        let s1 = apply(
            &Snapshot::pending(),
            snap(vec![cp(0, Status::InTransit, "AR")], Some(day(4))),
            t0(),
            &POLICY,
        );
        let s2 = apply(
            &s1.snapshot,
            snap(vec![cp(0, Status::InTransit, "AR")], Some(day(6))),
            t0(),
            &POLICY,
        );
        assert_eq!(
            kinds(&s2),
            vec![EventType::EtaChanged, EventType::EtaSlipped]
        );
        assert_eq!(s2.events[1].data["slip_seconds"], 2 * 86_400);
        assert_eq!(
            s2.events[1].data["promised"],
            serde_json::to_value(day(4)).unwrap()
        );
        // Moving earlier again is a change but not a slip.
        let s3 = apply(
            &s2.snapshot,
            snap(vec![cp(0, Status::InTransit, "AR")], Some(day(5))),
            t0(),
            &POLICY,
        );
        assert_eq!(kinds(&s3), vec![EventType::EtaChanged]);
        assert_eq!(s3.events[0].data["slip_seconds"], -86_400);
    }

    #[test]
    fn stale_regression_is_ignored_but_confirmed_one_is_corrected() {
        let delivered = snap(
            vec![
                cp(0, Status::InTransit, "AR"),
                cp(60, Status::Delivered, "D"),
            ],
            None,
        );
        let s1 = apply(&Snapshot::pending(), delivered, t0(), &POLICY);
        assert_eq!(s1.snapshot.status, Status::Delivered);
        // Stale answer from a lagging replica: only the old checkpoint.
        let stale = snap(vec![cp(0, Status::InTransit, "AR")], None);
        let s2 = apply(&s1.snapshot, stale, t0(), &POLICY);
        assert!(s2.stale && s2.events.is_empty());
        assert_eq!(s2.snapshot.status, Status::Delivered);
        // The carrier itself scans it again later: a real correction.
        let corrected = snap(
            vec![
                cp(0, Status::InTransit, "AR"),
                cp(60, Status::Delivered, "D"),
                cp(120, Status::InTransit, "AR2"),
            ],
            None,
        );
        let s3 = apply(&s1.snapshot, corrected, t0(), &POLICY);
        assert_eq!(
            kinds(&s3),
            vec![EventType::CheckpointAdded, EventType::StatusCorrected]
        );
        assert_eq!(s3.snapshot.status, Status::InTransit);
    }

    #[test]
    fn eta_missed_uses_the_latest_possible_instant() {
        let s = snap(vec![cp(0, Status::InTransit, "AR")], Some(day(1)));
        // 2026-03-01 23:59:59 local may be as late as 2026-03-02 11:59:59 UTC.
        assert!(eta_missed(&s, Utc.with_ymd_and_hms(2026, 3, 2, 11, 0, 0).unwrap()).is_none());
        let ev = eta_missed(&s, Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()).unwrap();
        assert_eq!(ev.kind, EventType::EtaMissed);
        let mut done = s.clone();
        done.status = Status::Delivered;
        assert!(eta_missed(&done, Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()).is_none());
    }

    // ---- recycled numbers: shipment switches ----

    fn tagged(mut s: Snapshot, id: &str, since: Timestamp) -> Snapshot {
        s.shipment = Some(Shipment::of(ShipmentRef {
            id: Some(id.into()),
            since: Some(since),
        }));
        s
    }

    /// Shipment `tag` with checkpoints starting `start_min` minutes into the day.
    fn shipment_of(tag: &str, start_min: i64, statuses: &[Status], eta: Option<Eta>) -> Snapshot {
        let cps: Vec<Checkpoint> = statuses
            .iter()
            .enumerate()
            .map(|(i, st)| cp(start_min + i as i64 * 30, *st, &format!("{tag}{i}")))
            .collect();
        let since = cps[0].occurred_at;
        tagged(snap(cps, eta), tag, since)
    }

    #[test]
    fn a_switch_replaces_the_shipment_and_is_announced_first() {
        // Followed: an old shipment stuck in transit with an ETA on the 4th.
        let old = shipment_of(
            "A",
            0,
            &[Status::InfoReceived, Status::InTransit],
            Some(day(4)),
        );
        let s1 = apply(&Snapshot::pending(), old, t0(), &POLICY);
        // The carrier now shows the current shipment, already delivered.
        let new = shipment_of(
            "B",
            600,
            &[Status::InTransit, Status::OutForDelivery, Status::Delivered],
            Some(day(9)),
        );
        let s2 = apply(&s1.snapshot, new.clone(), t0(), &POLICY);
        assert_eq!(
            kinds(&s2),
            vec![
                EventType::ShipmentSwitched,
                EventType::CheckpointAdded,
                EventType::CheckpointAdded,
                EventType::CheckpointAdded,
                EventType::StatusChanged,
                EventType::EtaChanged,
                EventType::TrackerCompleted,
            ]
        );
        let sw = &s2.events[0];
        assert_eq!(sw.data["previous"]["id"], "A");
        assert_eq!(sw.data["current"]["id"], "B");
        // Wholesale: nothing of the old shipment is merged in.
        assert_eq!(s2.snapshot.checkpoints, new.checkpoints);
        // The first promise restarts from the new shipment's, no slip against the old.
        assert_eq!(s2.snapshot.original_estimated_delivery, Some(day(9)));
        assert!(!kinds(&s2).contains(&EventType::EtaSlipped));
        assert_eq!(s2.events[5].data["slip_seconds"], serde_json::Value::Null);
        assert!(s2.changed && !s2.stale);
        // Re-polled: nothing new, the switch is announced once.
        let s3 = apply(&s2.snapshot, new, t0(), &POLICY);
        assert!(s3.events.is_empty() && !s3.changed);
    }

    #[test]
    fn switching_away_from_a_delivered_shipment_is_no_correction() {
        let old = shipment_of("A", 0, &[Status::InTransit, Status::Delivered], None);
        let s1 = apply(&Snapshot::pending(), old, t0(), &POLICY);
        let new = shipment_of("B", 600, &[Status::InTransit], None);
        let s2 = apply(&s1.snapshot, new, t0(), &POLICY);
        assert!(!s2.stale);
        assert_eq!(s2.snapshot.status, Status::InTransit);
        let k = kinds(&s2);
        assert!(k.contains(&EventType::StatusChanged));
        assert!(!k.contains(&EventType::StatusCorrected));
        // Completing the new shipment later is its own fact, not the old one's.
        let done = shipment_of("B", 600, &[Status::InTransit, Status::Delivered], None);
        let s3 = apply(&s2.snapshot, done, t0(), &POLICY);
        let old_done = s1
            .events
            .iter()
            .find(|e| e.kind == EventType::TrackerCompleted);
        let new_done = s3
            .events
            .iter()
            .find(|e| e.kind == EventType::TrackerCompleted);
        assert_ne!(old_done.unwrap().fact, new_done.unwrap().fact);
    }

    #[test]
    fn answers_choose_the_registered_shipment_and_never_go_back() {
        let reg = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let old = shipment_of("A", 0, &[Status::InTransit, Status::Delivered], None);
        let mut old_early = old.clone();
        // The old shipment began long before registration; the new one at 10:00.
        if let Some(sh) = &mut old_early.shipment {
            sh.current.since = Some(Timestamp::Zoned(
                Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
                    .unwrap()
                    .fixed_offset(),
            ));
        }
        let new = shipment_of("B", 600, &[Status::InTransit], None);
        let both = shipment::current(vec![old_early.clone(), new.clone()]).unwrap();
        let s1 = apply_answer(&Snapshot::pending(), both.clone(), Some(reg), t0(), &POLICY);
        assert_eq!(s1.snapshot.checkpoints, new.checkpoints);
        assert!(!kinds(&s1).contains(&EventType::ShipmentSwitched));
        // A lagging replica shows only the old shipment: stale, no switch back.
        let s2 = apply_answer(&s1.snapshot, old_early, Some(reg), t0(), &POLICY);
        assert!(s2.stale && s2.events.is_empty());
        assert_eq!(s2.snapshot.checkpoints, new.checkpoints);
        // Both again: same shipment, nothing to say.
        let s3 = apply_answer(&s1.snapshot, both, Some(reg), t0(), &POLICY);
        assert!(s3.events.is_empty() && !s3.changed);
    }

    // ---- properties ----

    fn arb_status() -> impl Strategy<Value = Status> {
        prop::sample::select(&Status::ALL[1..])
    }

    /// A carrier's full history; answers show a growing prefix of it (sometimes stale).
    fn arb_history() -> impl Strategy<Value = Vec<(Status, Option<u32>)>> {
        prop::collection::vec((arb_status(), prop::option::of(1u32..28)), 1..12)
    }

    fn answer(history: &[(Status, Option<u32>)], upto: usize) -> Snapshot {
        let cps = history[..upto]
            .iter()
            .enumerate()
            .map(|(i, (st, _))| cp(i as i64 * 30, *st, &format!("C{i}")))
            .collect();
        let eta = history[..upto].last().and_then(|(_, d)| d.map(day));
        snap(cps, eta)
    }

    proptest! {
        #[test]
        fn same_answer_twice_emits_nothing(history in arb_history(), upto in 1usize..12) {
            let upto = upto.min(history.len());
            let a = answer(&history, upto);
            let first = apply(&Snapshot::pending(), a.clone(), t0(), &POLICY);
            let again = apply(&first.snapshot, a, t0() + Duration::minutes(5), &POLICY);
            prop_assert!(again.events.is_empty(), "events on unchanged answer: {:?}", again.events);
            prop_assert!(!again.changed);
        }

        #[test]
        fn checkpoints_are_announced_exactly_once(
            history in arb_history(),
            order in prop::collection::vec(1usize..12, 1..20),
        ) {
            let mut cur = Snapshot::pending();
            let mut announced: Vec<u64> = Vec::new();
            let mut facts = HashSet::new();
            for upto in order {
                let upto = upto.min(history.len());
                let a = apply(&cur, answer(&history, upto), t0(), &POLICY);
                for e in &a.events {
                    // Within the daemon the store refuses duplicate facts; the engine
                    // itself must never propose a checkpoint twice along one lineage.
                    if e.kind == EventType::CheckpointAdded {
                        prop_assert!(facts.insert(e.fact), "checkpoint announced twice");
                        announced.push(e.fact);
                    }
                }
                cur = a.snapshot;
            }
            // Everything the kept snapshot shows was announced.
            for c in &cur.checkpoints {
                prop_assert!(facts.contains(&fact(&["checkpoint", &c.identity().to_string()])));
            }
        }

        #[test]
        fn status_never_regresses_silently(
            history in arb_history(),
            order in prop::collection::vec(1usize..12, 1..20),
        ) {
            let mut cur = Snapshot::pending();
            for upto in order {
                let upto = upto.min(history.len());
                let a = apply(&cur, answer(&history, upto), t0(), &POLICY);
                if cur.status.is_regression_to(a.snapshot.status) {
                    prop_assert!(
                        a.events.iter().any(|e| e.kind == EventType::StatusCorrected),
                        "silent regression {:?} -> {:?}", cur.status, a.snapshot.status
                    );
                    prop_assert_eq!(a.snapshot.checkpoints.last().map(|c| c.status), Some(a.snapshot.status));
                }
                if a.snapshot.status != cur.status {
                    prop_assert_eq!(
                        a.events.iter().filter(|e| matches!(e.kind, EventType::StatusChanged | EventType::StatusCorrected)).count(),
                        1
                    );
                }
                cur = a.snapshot;
            }
        }

        /// A recycled number: an old shipment A and the current one B, answers
        /// showing growing prefixes of either or both in any order (lagging
        /// replicas included). The kept snapshot is always one shipment
        /// wholesale, the tracker only ever switches forward (A to B, at most
        /// once), and no checkpoint or switch is proposed twice.
        #[test]
        fn recycled_numbers_never_mix_and_switch_once(
            a_hist in arb_history(),
            b_hist in arb_history(),
            polls in prop::collection::vec((0usize..3, 1usize..12, 1usize..12), 1..16),
            registered in any::<bool>(),
        ) {
            let a_all = shipment_of("A", 0, &a_hist.iter().map(|h| h.0).collect::<Vec<_>>(), None);
            let b_all = shipment_of("B", 2000, &b_hist.iter().map(|h| h.0).collect::<Vec<_>>(), None);
            let prefix = |s: &Snapshot, n: usize| {
                let mut p = s.clone();
                p.checkpoints.truncate(n.min(s.checkpoints.len()));
                p.status = p.checkpoints.last().map_or(Status::Pending, |c| c.status);
                p.carrier_status_code = p.checkpoints.last().map(|c| c.code.clone());
                p.updated_at = p.checkpoints.last().map(|c| c.occurred_at);
                p
            };
            let reg = registered.then(t0);
            let mut cur = Snapshot::pending();
            let mut facts = HashSet::new();
            let mut switches = 0;
            for (which, na, nb) in polls {
                let answer = match which {
                    0 => prefix(&a_all, na),
                    1 => prefix(&b_all, nb),
                    _ => shipment::current(vec![prefix(&a_all, na), prefix(&b_all, nb)]).unwrap(),
                };
                let a = apply_answer(&cur, answer, reg, t0(), &POLICY);
                for e in &a.events {
                    // Checkpoints and switches are one-off facts (a completion may
                    // recur after a confirmed correction; the store keeps the first).
                    if matches!(e.kind, EventType::CheckpointAdded | EventType::ShipmentSwitched) {
                        prop_assert!(facts.insert(e.fact), "fact proposed twice: {:?}", e.kind);
                    }
                    if e.kind == EventType::ShipmentSwitched {
                        switches += 1;
                        prop_assert_eq!(&e.data["previous"]["id"], "A");
                        prop_assert_eq!(&e.data["current"]["id"], "B");
                    }
                }
                let tags: HashSet<char> = a.snapshot.checkpoints.iter().filter_map(|c| c.code.chars().next()).collect();
                prop_assert!(tags.len() <= 1, "checkpoints of two shipments mixed: {:?}", tags);
                cur = a.snapshot;
            }
            prop_assert!(switches <= 1, "switched {} times", switches);
        }

        #[test]
        fn slips_are_flagged_only_beyond_tolerance(d1 in 1u32..28, d2 in 1u32..28, tol_h in 0i64..72) {
            let policy = DiffPolicy { eta_slip_tolerance_secs: tol_h * 3600 };
            let c = vec![cp(0, Status::InTransit, "AR")];
            let s1 = apply(&Snapshot::pending(), snap(c.clone(), Some(day(d1))), t0(), &policy);
            let s2 = apply(&s1.snapshot, snap(c, Some(day(d2))), t0(), &policy);
            let slipped = s2.events.iter().any(|e| e.kind == EventType::EtaSlipped);
            let late_by = (i64::from(d2) - i64::from(d1)) * 86_400;
            prop_assert_eq!(slipped, late_by > policy.eta_slip_tolerance_secs);
            prop_assert_eq!(s2.events.iter().any(|e| e.kind == EventType::EtaChanged), d1 != d2);
            prop_assert_eq!(s2.snapshot.original_estimated_delivery, Some(day(d1)));
        }
    }
}
