//! Recycled tracking numbers: one number, several shipments in one answer.
//!
//! Carriers reuse numbers. FedEx answers several `trackResults` (each with its
//! own `trackingNumberUniqueId` and ship date), USPS several items (each with
//! its `mailingDate`), UPS several packages and DHL several `shipments[]` under
//! the same number. Taking the first one can show a customer last year's
//! parcel. This module is the one rule every plugin and the daemon share:
//!
//! - A plugin builds one candidate [`Snapshot`] per shipment, each tagged with
//!   its [`ShipmentRef`], and calls [`current`]: the most recent shipment wins
//!   (by its ship/tender/mailing/label date, then its newest scan, then the
//!   carrier's order). The others travel along inside the chosen snapshot
//!   ([`Shipment::alternatives`], never stored) so the daemon can choose again.
//! - The daemon, which knows the tracker, calls [`reselect`] with a [`Hint`]
//!   (the stored snapshot and the registration time): it stays on the shipment
//!   it already follows, prefers the most recent shipment that began no later
//!   than registration + [`REGISTRATION_LEAD_SECS`], and never goes back to an
//!   older shipment than the one it follows (that answer is stale).
//!
//! A candidate is always one shipment wholesale: scans of two shipments are
//! never mixed.

use crate::model::Snapshot;
use crate::time::Timestamp;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashSet;

/// How long after a tracker's registration its shipment may still begin:
/// shops register the number at order time, and labels are often printed or
/// tendered days later (pre-orders, back-orders, weekends). Fourteen days is
/// far shorter than any carrier's reuse cycle (months to years), so a
/// shipment that began later than that is a later reuse of the number, not
/// the registered parcel.
pub const REGISTRATION_LEAD_SECS: i64 = 14 * 86_400;

/// One shipment's identity under a (possibly recycled) tracking number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ShipmentRef {
    /// The carrier's own unique shipment id (FedEx `trackingNumberUniqueId`),
    /// when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the shipment began: the ship, tender, mailing or label date the
    /// carrier gives, else its oldest scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

impl ShipmentRef {
    /// A deterministic text key (for event fact identities): the carrier id,
    /// else the start time, else empty.
    pub fn key(&self) -> String {
        match (&self.id, &self.since) {
            (Some(id), _) => format!("id:{id}"),
            (None, Some(t)) => format!("since:{}", t.to_wire()),
            (None, None) => String::new(),
        }
    }

    /// True when the ref says nothing (no id, no date).
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.since.is_none()
    }
}

/// The shipment a snapshot shows, when the carrier identifies shipments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Shipment {
    /// The shipment this snapshot shows.
    pub current: ShipmentRef,
    /// The other shipments the carrier listed under the same number, in the
    /// carrier's order; shown so an operator can see a number was recycled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<ShipmentRef>,
    /// The other shipments' full views, so the daemon can choose again with
    /// what it knows about the tracker; transient, never stored or compared.
    #[serde(skip)]
    pub alternatives: Vec<Snapshot>,
}

impl PartialEq for Shipment {
    fn eq(&self, other: &Shipment) -> bool {
        // Alternatives are a transport detail between plugin and daemon.
        self.current == other.current && self.others == other.others
    }
}

impl Eq for Shipment {}

impl Shipment {
    /// A shipment tag for one candidate (no others yet).
    pub fn of(current: ShipmentRef) -> Shipment {
        Shipment {
            current,
            others: Vec::new(),
            alternatives: Vec::new(),
        }
    }
}

/// What the daemon knows about a tracker when it chooses among shipments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hint<'a> {
    /// The tracker's stored snapshot (the shipment it follows), if any.
    pub previous: Option<&'a Snapshot>,
    /// When the tracker was registered, in carrier-world time.
    pub registered_at: Option<DateTime<Utc>>,
}

/// The outcome of choosing with a [`Hint`].
// Returned by value once per poll and consumed at once, never stored: boxing
// the snapshot would only add an allocation to every poll.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// The snapshot to diff against the stored one (alternatives dropped).
    Chosen(Snapshot),
    /// The answer only offers a shipment older than the one the tracker
    /// follows (a lagging replica): keep the stored snapshot.
    Stale,
}

/// The identity of the shipment a snapshot shows: the plugin's tag, else one
/// derived from its oldest scan.
pub fn ref_of(s: &Snapshot) -> ShipmentRef {
    match &s.shipment {
        Some(sh) if !sh.current.is_empty() => sh.current.clone(),
        _ => ShipmentRef {
            id: None,
            since: s.checkpoints.first().map(|c| c.occurred_at),
        },
    }
}

fn since(s: &Snapshot) -> Option<Timestamp> {
    s.shipment
        .as_ref()
        .and_then(|sh| sh.current.since)
        .or_else(|| s.checkpoints.first().map(|c| c.occurred_at))
}

fn newest_scan(s: &Snapshot) -> Option<Timestamp> {
    s.checkpoints.last().map(|c| c.occurred_at).or(s.updated_at)
}

fn cmp_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.chrono_cmp(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// Recency order: start date first, then the newest scan.
fn recency(a: &Snapshot, b: &Snapshot) -> Ordering {
    cmp_opt(since(a), since(b)).then_with(|| cmp_opt(newest_scan(a), newest_scan(b)))
}

/// Whether `prev` and `next` show the same shipment: `None` when it cannot be
/// told (the plugin reports no shipments, or the tracker follows none yet).
/// Carrier ids decide when both have one; otherwise a shared scan proves it
/// (a carrier's history only grows), and then equal start dates.
pub fn same_shipment(prev: &Snapshot, next: &Snapshot) -> Option<bool> {
    same_shipment_given(prev, next, || {
        let ids: HashSet<u64> = prev.checkpoints.iter().map(|c| c.identity()).collect();
        next.checkpoints.iter().any(|c| ids.contains(&c.identity()))
    })
}

/// [`same_shipment`] for a caller that already holds both checkpoint
/// identity sets (the diff engine): `share_a_scan` answers whether the two
/// snapshots have a checkpoint in common, and is only asked when needed.
pub fn same_shipment_given(
    prev: &Snapshot,
    next: &Snapshot,
    share_a_scan: impl FnOnce() -> bool,
) -> Option<bool> {
    let next_sh = next.shipment.as_ref()?;
    if prev.shipment.is_none() && prev.checkpoints.is_empty() {
        return None;
    }
    if let (Some(a), Some(b)) = (
        prev.shipment.as_ref().and_then(|s| s.current.id.as_deref()),
        next_sh.current.id.as_deref(),
    ) {
        return Some(a == b);
    }
    if !prev.checkpoints.is_empty() && !next.checkpoints.is_empty() && share_a_scan() {
        return Some(true);
    }
    match (since(prev), since(next)) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    }
}

/// Whether a shipment can be the one registered at `registered_at`.
fn eligible(s: &Snapshot, registered_at: Option<DateTime<Utc>>) -> bool {
    match (since(s), registered_at) {
        (Some(t), Some(r)) => t.earliest_instant() <= r + Duration::seconds(REGISTRATION_LEAD_SECS),
        _ => true,
    }
}

/// The index of the shipment to follow among `cands` (non-empty).
fn choose(cands: &[Snapshot], hint: &Hint<'_>) -> Option<usize> {
    // No allocation: this runs on every poll of a carrier that names shipments.
    let ok = |i: usize| eligible(&cands[i], hint.registered_at);
    let any_ok = (0..cands.len()).any(ok);
    // The most recent eligible one (the first on ties, the carrier's order);
    // when none is eligible (registered long before any label), the earliest.
    let mut best: Option<usize> = None;
    for (i, c) in cands.iter().enumerate() {
        if any_ok && !ok(i) {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                let ord = recency(c, &cands[b]);
                let better = if any_ok { ord.is_gt() } else { ord.is_lt() };
                Some(if better { i } else { b })
            }
        };
    }
    let best = best?;
    let Some(prev) = hint.previous else {
        return Some(best);
    };
    match cands
        .iter()
        .position(|c| same_shipment(prev, c) == Some(true))
    {
        // Still listed: stay on it (no flapping) unless a strictly more recent
        // eligible shipment has appeared under the number.
        Some(p) if !any_ok || ok(p) => {
            if recency(&cands[best], &cands[p]).is_gt() && any_ok {
                Some(best)
            } else {
                Some(p)
            }
        }
        Some(_) => Some(best),
        None => {
            let (Some(followed), Some(offered)) = (since(prev), since(&cands[best])) else {
                return Some(best);
            };
            // Only an older shipment is offered: a stale answer, never a switch back.
            let known = prev.shipment.is_some() || !prev.checkpoints.is_empty();
            if known && offered.chrono_cmp(&followed).is_lt() {
                None
            } else {
                Some(best)
            }
        }
    }
}

/// Packs `cands` with `best` as the snapshot to show and the rest as its
/// alternatives.
fn pack(mut cands: Vec<Snapshot>, best: usize) -> Option<Snapshot> {
    if best >= cands.len() {
        return None;
    }
    let mut chosen = cands.remove(best);
    for c in &mut cands {
        if let Some(sh) = &mut c.shipment {
            sh.others.clear();
            sh.alternatives.clear();
        }
    }
    let current = ref_of(&chosen);
    let others = cands.iter().map(ref_of).collect();
    chosen.shipment = Some(Shipment {
        current,
        others,
        alternatives: cands,
    });
    Some(chosen)
}

/// The plugin's choice among one number's shipments (one candidate per
/// shipment, each tagged with [`Shipment::of`]): the most recent, by start
/// date, then newest scan, then the carrier's order. `None` when `cands` is
/// empty.
pub fn current(cands: Vec<Snapshot>) -> Option<Snapshot> {
    let best = choose(&cands, &Hint::default())?;
    pack(cands, best)
}

/// The daemon's choice: the plugin's snapshot and its alternatives, chosen
/// again with what the daemon knows about the tracker (see the module docs).
/// The result carries no alternatives, so it is ready to diff and store.
pub fn reselect(mut next: Snapshot, hint: &Hint<'_>) -> Selection {
    let alternatives = next
        .shipment
        .as_mut()
        .map(|s| std::mem::take(&mut s.alternatives))
        .unwrap_or_default();
    if next.shipment.is_none() {
        // The plugin does not report shipments: nothing to choose.
        return Selection::Chosen(next);
    }
    if alternatives.is_empty() {
        // One shipment: nothing to choose, but never back to an older one.
        // Only an older start needs the (costlier) same-shipment test.
        let older = match (hint.previous, since(&next)) {
            (Some(prev), Some(offered))
                if prev.shipment.is_some() || !prev.checkpoints.is_empty() =>
            {
                since(prev).is_some_and(|followed| offered.chrono_cmp(&followed).is_lt())
            }
            _ => false,
        };
        if !older {
            return Selection::Chosen(next);
        }
        return match choose(std::slice::from_ref(&next), hint) {
            Some(_) => Selection::Chosen(next),
            None => Selection::Stale,
        };
    }
    let mut cands = Vec::with_capacity(alternatives.len() + 1);
    cands.push(next);
    cands.extend(alternatives);
    // Keep the carrier's order for ties: the plugin's choice first is only a
    // tie-break among equals, as in `current`.
    match choose(&cands, hint) {
        Some(best) => match pack(cands, best) {
            Some(mut s) => {
                if let Some(sh) = &mut s.shipment {
                    sh.alternatives.clear();
                }
                Selection::Chosen(s)
            }
            None => Selection::Stale,
        },
        None => Selection::Stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Checkpoint;
    use crate::status::Status;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn at(day: u32, hour: u32) -> Timestamp {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(i64::from(day));
        Timestamp::Zoned(
            Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
                .fixed_offset(),
        )
    }

    /// A shipment that began on `start` with `scans` daily scans; codes are
    /// prefixed by `tag` so two shipments never share a scan.
    fn ship(tag: &str, id: Option<&str>, start: u32, scans: u32) -> Snapshot {
        let mut s = Snapshot::pending();
        s.checkpoints = (0..scans)
            .map(|i| Checkpoint {
                occurred_at: at(start + i, 9),
                status: Status::InTransit,
                status_detail: None,
                code: format!("{tag}{i}"),
                description: String::new(),
                location: None,
            })
            .collect();
        s.status = if scans > 0 {
            Status::InTransit
        } else {
            Status::InfoReceived
        };
        s.shipment = Some(Shipment::of(ShipmentRef {
            id: id.map(str::to_string),
            since: Some(at(start, 0)),
        }));
        s.finish()
    }

    fn ids(s: &Snapshot) -> Option<String> {
        s.shipment.as_ref().and_then(|sh| sh.current.id.clone())
    }

    fn chosen(sel: Selection) -> Snapshot {
        match sel {
            Selection::Chosen(s) => s,
            Selection::Stale => panic!("unexpected stale"),
        }
    }

    #[test]
    fn the_plugin_picks_the_most_recent_and_lists_the_others() {
        let old = ship("A", Some("a"), 0, 5);
        let new = ship("B", Some("b"), 200, 2);
        let s = current(vec![old, new]).unwrap();
        assert_eq!(ids(&s).as_deref(), Some("b"));
        let sh = s.shipment.as_ref().unwrap();
        assert_eq!(sh.others.len(), 1);
        assert_eq!(sh.others[0].id.as_deref(), Some("a"));
        assert_eq!(sh.alternatives.len(), 1);
        assert!(s.checkpoints.iter().all(|c| c.code.starts_with('B')));
    }

    #[test]
    fn ties_go_to_the_newest_scan_then_the_carrier_order() {
        let a = ship("A", Some("a"), 10, 2);
        let b = ship("B", Some("b"), 10, 3);
        assert_eq!(
            ids(&current(vec![a.clone(), b.clone()]).unwrap()).as_deref(),
            Some("b")
        );
        let c = ship("C", Some("c"), 10, 2);
        assert_eq!(
            ids(&current(vec![a.clone(), c.clone()]).unwrap()).as_deref(),
            Some("a")
        );
        assert_eq!(ids(&current(vec![c, a]).unwrap()).as_deref(), Some("c"));
    }

    #[test]
    fn registration_time_excludes_a_later_reuse() {
        // Registered on day 100: the day-98 shipment is the parcel, the
        // day-300 one is a later reuse of the number.
        let reg = at(100, 0).instant().unwrap();
        let hint = Hint {
            previous: None,
            registered_at: Some(reg),
        };
        let mine = ship("M", Some("m"), 98, 3);
        let later = ship("L", Some("l"), 300, 1);
        let old = ship("O", Some("o"), 0, 4);
        let s = current(vec![old, mine, later]).unwrap();
        assert_eq!(ids(&s).as_deref(), Some("l"), "plugin alone: most recent");
        let s = chosen(reselect(s, &hint));
        assert_eq!(ids(&s).as_deref(), Some("m"));
        assert!(s.shipment.as_ref().unwrap().alternatives.is_empty());
        assert_eq!(s.shipment.as_ref().unwrap().others.len(), 2);
        // A label printed ten days after registration is still the parcel.
        let late_label = ship("K", Some("k"), 110, 1);
        let s = current(vec![ship("O", Some("o"), 0, 4), late_label]).unwrap();
        assert_eq!(ids(&chosen(reselect(s, &hint))).as_deref(), Some("k"));
    }

    #[test]
    fn the_followed_shipment_is_kept_and_older_offers_are_stale() {
        let a = ship("A", Some("a"), 0, 4);
        let b = ship("B", Some("b"), 200, 2);
        let followed = chosen(reselect(
            current(vec![a.clone(), b.clone()]).unwrap(),
            &Hint::default(),
        ));
        let hint = Hint {
            previous: Some(&followed),
            registered_at: None,
        };
        // Re-polled: same choice.
        let again = chosen(reselect(
            current(vec![b.clone(), a.clone()]).unwrap(),
            &hint,
        ));
        assert_eq!(ids(&again).as_deref(), Some("b"));
        // A lagging replica only lists the old shipment: stale, not a switch back.
        assert_eq!(
            reselect(current(vec![a.clone()]).unwrap(), &hint),
            Selection::Stale
        );
        // A newer shipment appears: that is a switch forward.
        let c = ship("C", Some("c"), 400, 1);
        let next = chosen(reselect(current(vec![a, b, c]).unwrap(), &hint));
        assert_eq!(ids(&next).as_deref(), Some("c"));
    }

    #[test]
    fn shipments_without_ids_are_told_apart_by_their_scans() {
        let a = ship("A", None, 0, 4);
        let mut a_later = ship("A", None, 0, 6);
        assert_eq!(same_shipment(&a, &a_later), Some(true));
        // The same shipment whose start date became known later still matches.
        a_later.shipment = Some(Shipment::of(ShipmentRef {
            id: None,
            since: Some(at(1, 0)),
        }));
        assert_eq!(same_shipment(&a, &a_later), Some(true));
        let b = ship("B", None, 200, 1);
        assert_eq!(same_shipment(&a, &b), Some(false));
        assert_eq!(same_shipment(&Snapshot::pending(), &b), None);
        let mut untagged = b.clone();
        untagged.shipment = None;
        assert_eq!(same_shipment(&a, &untagged), None);
    }

    #[test]
    fn an_earlier_start_of_the_followed_shipment_is_not_stale() {
        let followed = ship("A", None, 5, 3);
        let hint = Hint {
            previous: Some(&followed),
            registered_at: None,
        };
        // The carrier now dates the same shipment a day earlier: same scans.
        let mut again = ship("A", None, 5, 4);
        again.shipment = Some(Shipment::of(ShipmentRef {
            id: None,
            since: Some(at(4, 0)),
        }));
        assert!(matches!(reselect(again, &hint), Selection::Chosen(_)));
        // Another, older shipment alone is stale.
        assert_eq!(reselect(ship("Z", None, 1, 2), &hint), Selection::Stale);
        // A newer one alone is a switch to diff.
        assert!(matches!(
            reselect(ship("N", None, 9, 1), &hint),
            Selection::Chosen(_)
        ));
    }

    #[test]
    fn keys_are_deterministic() {
        let r = ShipmentRef {
            id: Some("245822~123456789012~FDEG".into()),
            since: Some(at(0, 0)),
        };
        assert_eq!(r.key(), "id:245822~123456789012~FDEG");
        let r = ShipmentRef {
            id: None,
            since: Some(at(0, 0)),
        };
        assert_eq!(r.key(), "since:2026-03-01T00:00:00Z");
        assert_eq!(ShipmentRef::default().key(), "");
    }

    #[test]
    fn stored_form_has_no_alternatives() {
        let s = current(vec![ship("A", Some("a"), 0, 1), ship("B", Some("b"), 9, 1)]).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["shipment"]["current"]["id"], "b");
        assert_eq!(json["shipment"]["others"][0]["id"], "a");
        let back: Snapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, s, "alternatives are transient");
        assert!(back.shipment.unwrap().alternatives.is_empty());
        // A snapshot stored before shipments existed still loads.
        let old: Snapshot =
            serde_json::from_str(r#"{"status":"in_transit","status_rule":"x","checkpoints":[]}"#)
                .unwrap();
        assert!(old.shipment.is_none());
    }

    /// (start day, scans, has id) per shipment; start days are distinct, as
    /// two shipments never begin at the same instant.
    fn arb_shipments() -> impl Strategy<Value = Vec<(u32, u32, bool)>> {
        (
            prop::collection::btree_set(0u32..400, 1..5),
            prop::collection::vec((0u32..6, any::<bool>()), 5),
        )
            .prop_map(|(starts, rest)| {
                starts
                    .into_iter()
                    .zip(rest)
                    .map(|(d, (n, id))| (d, n, id))
                    .collect()
            })
    }

    fn build(spec: &[(u32, u32, bool)]) -> Vec<Snapshot> {
        spec.iter()
            .enumerate()
            .map(|(i, (start, scans, has_id))| {
                let id = format!("u{i}");
                ship(
                    &format!("S{i}-"),
                    has_id.then_some(id.as_str()),
                    *start,
                    *scans,
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn never_mixes_two_shipments(spec in arb_shipments(), reg_day in prop::option::of(0u32..420)) {
            let cands = build(&spec);
            let hint = Hint { previous: None, registered_at: reg_day.map(|d| at(d, 0).instant().unwrap()) };
            let s = chosen(reselect(current(cands.clone()).unwrap(), &hint));
            let matches = cands.iter().filter(|c| c.checkpoints == s.checkpoints && c.status == s.status).count();
            prop_assert!(matches >= 1, "the chosen snapshot is not one candidate wholesale");
            let sh = s.shipment.as_ref().unwrap();
            prop_assert_eq!(sh.others.len(), cands.len() - 1);
        }

        #[test]
        fn re_polls_keep_the_choice(spec in arb_shipments(), reg_day in prop::option::of(0u32..420), rot in 0usize..5) {
            let cands = build(&spec);
            let reg = reg_day.map(|d| at(d, 0).instant().unwrap());
            let first = chosen(reselect(current(cands.clone()).unwrap(), &Hint { previous: None, registered_at: reg }));
            // The same shipments again, in any carrier order: the same shipment.
            let mut again = cands.clone();
            let k = rot % again.len();
            again.rotate_left(k);
            let hint = Hint { previous: Some(&first), registered_at: reg };
            let second = chosen(reselect(current(again).unwrap(), &hint));
            prop_assert_eq!(same_shipment(&first, &second), Some(true));
            prop_assert_eq!(&second.checkpoints, &first.checkpoints);
        }
    }
}
