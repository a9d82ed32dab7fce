//! The judgement: which verdict, which next step and which carrier facts back
//! them, decided from the snapshot and the client's promise only (no wording).

use super::{NextStepKind, Promise, SummaryInput, Verdict};
use crate::returns::{MilestoneKind, ReturnContext};
use chrono::{DateTime, NaiveTime, Utc};
use trackd_carrier_sdk::{Checkpoint, Eta, Snapshot, Status, Timestamp};

/// A parcel still on its way (or not yet known to be), whose verdict comes from
/// comparing the carrier's estimate with the promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Pending,
    InfoReceived,
    InTransit,
    OutForDelivery,
    Expired,
    Unknown,
}

/// What the sentence is about; each shape has its own templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Progress(Stage),
    Pickup,
    /// A failed delivery attempt; `pickup` when a later checkpoint says the
    /// parcel now waits at a pickup point.
    Attempt {
        pickup: bool,
    },
    Delivered,
    Exception,
    Returning,
    Returned,
    Cancelled,
    Invalid,
}

/// The decision a summary is written from.
#[derive(Debug, Clone)]
pub(crate) struct Assessment<'a> {
    pub verdict: Verdict,
    pub shape: Shape,
    pub promise: Option<Promise>,
    /// `None` when no advice can be grounded in the facts (no carrier data, an
    /// unmapped code, tracking stopped, unknown number).
    pub next: Option<NextStepKind>,
    /// Index of the checkpoint of the failed delivery attempt the sentence dates.
    pub attempt: Option<usize>,
    /// Index of the checkpoint whose location is the pickup place.
    pub pickup: Option<usize>,
    /// The reasons that turned an on-time or early parcel into `AtRisk`.
    pub risk: Option<&'a [String]>,
}

/// Decides the verdict, the shape of the sentence and the next step.
///
/// Mapping of statuses without a date comparison:
/// - `Delivered` → `Delivered`, `Returned` → `Returned`;
/// - `Exception` → `Exception` (contact the carrier);
/// - `Returning` → `Exception` too: the parcel will not reach the customer and only
///   the carrier can say why or stop it, so it reads as a problem (headline
///   "Returning to sender", next step contact the carrier), not as `Returned`,
///   which would claim the return is over;
/// - `Cancelled` and `Invalid` → `Exception` (nothing the carrier can do for the
///   customer: next step `nothing` for a cancelled shipment, none for an unknown
///   number);
/// - `AttemptFailed` → `AtRisk` (reschedule, or pick up when a later checkpoint
///   says the parcel waits at a pickup point);
/// - `AvailableForPickup` → `OnTime` (the parcel has arrived; risk reasons about
///   movement no longer apply).
///
/// Every other status compares the estimate with the promise, see [`compare`].
pub(crate) fn assess<'a>(input: &'a SummaryInput<'_>) -> Assessment<'a> {
    let snap = input.snapshot;
    let promise = Promise::select(snap, input.promised_by);
    let fixed = |verdict, shape, next| Assessment {
        verdict,
        shape,
        promise,
        next,
        attempt: None,
        pickup: None,
        risk: None,
    };
    let stage = match snap.status {
        Status::Delivered => {
            return fixed(
                Verdict::Delivered,
                Shape::Delivered,
                Some(NextStepKind::Nothing),
            );
        }
        Status::Returned => {
            return fixed(
                Verdict::Returned,
                Shape::Returned,
                Some(NextStepKind::Nothing),
            );
        }
        Status::Returning => {
            return fixed(
                Verdict::Exception,
                Shape::Returning,
                Some(NextStepKind::ContactCarrier),
            );
        }
        Status::Exception => {
            return fixed(
                Verdict::Exception,
                Shape::Exception,
                Some(NextStepKind::ContactCarrier),
            );
        }
        Status::Cancelled => {
            return fixed(
                Verdict::Exception,
                Shape::Cancelled,
                Some(NextStepKind::Nothing),
            );
        }
        Status::Invalid => return fixed(Verdict::Exception, Shape::Invalid, None),
        Status::AttemptFailed => {
            let (attempt, pickup) = attempt_and_pickup(&snap.checkpoints);
            return Assessment {
                attempt,
                pickup,
                ..fixed(
                    Verdict::AtRisk,
                    Shape::Attempt {
                        pickup: pickup.is_some(),
                    },
                    Some(if pickup.is_some() {
                        NextStepKind::PickUp
                    } else {
                        NextStepKind::Reschedule
                    }),
                )
            };
        }
        Status::AvailableForPickup => {
            return Assessment {
                pickup: pickup_checkpoint(&snap.checkpoints),
                ..fixed(Verdict::OnTime, Shape::Pickup, Some(NextStepKind::PickUp))
            };
        }
        Status::Pending => Stage::Pending,
        Status::InfoReceived => Stage::InfoReceived,
        Status::InTransit => Stage::InTransit,
        Status::OutForDelivery => Stage::OutForDelivery,
        Status::Expired => Stage::Expired,
        Status::Unknown => Stage::Unknown,
    };
    let next = match stage {
        Stage::InfoReceived | Stage::InTransit | Stage::OutForDelivery => {
            Some(NextStepKind::Nothing)
        }
        Stage::Pending | Stage::Expired | Stage::Unknown => None,
    };
    let mut verdict = compare(
        snap.estimated_delivery.as_ref(),
        promise.as_ref().map(|p| &p.eta),
        input.now,
    );
    let reasons = input.risk.as_deref().filter(|r| !r.is_empty());
    let risk = match (verdict, reasons) {
        (Verdict::OnTime | Verdict::Early, Some(r)) => {
            verdict = Verdict::AtRisk;
            Some(r)
        }
        _ => None,
    };
    Assessment {
        risk,
        ..fixed(verdict, Shape::Progress(stage), next)
    }
}

/// Compares the carrier's current estimate with the promise.
///
/// - the promise has surely passed (`Eta::has_passed`) → `Late`;
/// - the estimate surely ends after the promise ends → `Late`;
/// - the estimate surely ends before the promise starts (and has not itself
///   passed, since a stale estimate proves nothing early) → `Early`;
/// - no promise, and the estimate has surely passed → `Late` (the carrier's own
///   estimate is then the only promise there is);
/// - otherwise (including no dates at all) → `OnTime`.
///
/// "Surely" never guesses a zone, see [`surely_before`].
pub(crate) fn compare(
    expected: Option<&Eta>,
    promise: Option<&Eta>,
    now: DateTime<Utc>,
) -> Verdict {
    match (expected, promise) {
        (_, Some(p)) if p.has_passed(now) => Verdict::Late,
        (Some(e), Some(p)) if surely_before(&p.end(), &e.end()) => Verdict::Late,
        (Some(e), Some(p)) if !e.has_passed(now) && surely_before(&e.end(), &start(p)) => {
            Verdict::Early
        }
        (Some(e), None) if e.has_passed(now) => Verdict::Late,
        _ => Verdict::OnTime,
    }
}

/// The first moment an ETA covers (a date starts at midnight, local wall clock).
fn start(eta: &Eta) -> Timestamp {
    match eta {
        Eta::Window { start, .. } => *start,
        Eta::Date { date } => Timestamp::Naive(date.and_time(NaiveTime::MIN)),
    }
}

/// True when `a` is before `b` whatever zone a naive time is in: two zoned times
/// compare as instants, two naive ones (or dates) as the same locality's wall
/// clock, and a mix only when even the widest offsets cannot reverse the order.
pub(crate) fn surely_before(a: &Timestamp, b: &Timestamp) -> bool {
    match (a, b) {
        (Timestamp::Zoned(x), Timestamp::Zoned(y)) => x < y,
        (Timestamp::Naive(x), Timestamp::Naive(y)) => x < y,
        _ => a.latest_instant() < b.earliest_instant(),
    }
}

/// The newest failed attempt, and a pickup checkpoint newer than it (checkpoints
/// are oldest first, in the carrier's order when times are naive).
fn attempt_and_pickup(cps: &[Checkpoint]) -> (Option<usize>, Option<usize>) {
    let newest = |s: Status| cps.iter().rposition(|c| c.status == s);
    let attempt = newest(Status::AttemptFailed);
    let pickup = match (newest(Status::AvailableForPickup), attempt) {
        (Some(p), Some(a)) if p > a => Some(p),
        (Some(p), None) => Some(p),
        _ => None,
    };
    (attempt, pickup)
}

/// The checkpoint that says where to pick up: the newest "available for pickup"
/// one, else the last checkpoint.
fn pickup_checkpoint(cps: &[Checkpoint]) -> Option<usize> {
    cps.iter()
        .rposition(|c| c.status == Status::AvailableForPickup)
        .or_else(|| cps.len().checked_sub(1))
}

/// Where a return stands, so it is worded as travelling back to the retailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReturnStage {
    /// The carrier has the label data but not the parcel: the customer drops it off.
    LabelCreated,
    /// The carrier's first scan: the customer handed it over.
    DroppedOff,
    /// Further scans on the way back.
    OnItsWay,
    /// The carrier delivered it to the retailer.
    DeliveredBack,
    /// The retailer's furthest milestone (index into `ReturnContext::milestones`); overrides the carrier.
    Milestone { kind: MilestoneKind, index: usize },
}

/// The stage of a return, or `None` when the carrier's status has no return
/// wording (an exception, a failed attempt, no data yet...): those read as for
/// any parcel, since what the customer can do is the same.
pub(crate) fn return_stage(snap: &Snapshot, ret: &ReturnContext) -> Option<ReturnStage> {
    if let Some((index, m)) = ret
        .milestones
        .iter()
        .enumerate()
        .max_by_key(|(_, m)| m.kind)
    {
        return Some(ReturnStage::Milestone {
            kind: m.kind,
            index,
        });
    }
    match snap.status {
        Status::InfoReceived => Some(ReturnStage::LabelCreated),
        Status::InTransit | Status::OutForDelivery => {
            let scans = snap
                .checkpoints
                .iter()
                .filter(|c| matches!(c.status, Status::InTransit | Status::OutForDelivery))
                .count();
            Some(if scans <= 1 && snap.status == Status::InTransit {
                ReturnStage::DroppedOff
            } else {
                ReturnStage::OnItsWay
            })
        }
        Status::Delivered => Some(ReturnStage::DeliveredBack),
        _ => None,
    }
}

/// The verdict and next step of a return: on its way it is `on_time` unless the
/// comparison with the promise (or a risk) says otherwise; back with the
/// retailer it is `returned`, and only a label waiting to be used asks for action.
pub(crate) fn return_judgement(stage: ReturnStage, base: Verdict) -> (Verdict, NextStepKind) {
    match stage {
        ReturnStage::LabelCreated => (Verdict::OnTime, NextStepKind::DropOff),
        ReturnStage::DroppedOff | ReturnStage::OnItsWay => (
            match base {
                Verdict::Late | Verdict::AtRisk => base,
                _ => Verdict::OnTime,
            },
            NextStepKind::Nothing,
        ),
        ReturnStage::DeliveredBack | ReturnStage::Milestone { .. } => {
            (Verdict::Returned, NextStepKind::Nothing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn date(y: i32, m: u32, d: u32) -> Eta {
        Eta::Date {
            date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        }
    }

    fn wire(s: &str) -> Timestamp {
        Timestamp::from_wire(s).unwrap()
    }

    fn window(a: &str, b: &str) -> Eta {
        Eta::Window {
            start: wire(a),
            end: wire(b),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 8, 7, 0, 0).unwrap()
    }

    #[test]
    fn no_dates_is_on_time() {
        assert_eq!(compare(None, None, now()), Verdict::OnTime);
    }

    #[test]
    fn dates_compare_by_day() {
        let (d8, d9) = (date(2026, 12, 8), date(2026, 12, 9));
        assert_eq!(compare(Some(&d8), Some(&d9), now()), Verdict::Early);
        assert_eq!(compare(Some(&d9), Some(&d8), now()), Verdict::Late);
        assert_eq!(compare(Some(&d8), Some(&d8), now()), Verdict::OnTime);
    }

    #[test]
    fn passed_promise_is_late_even_without_an_estimate() {
        let d6 = date(2026, 12, 6);
        assert_eq!(compare(None, Some(&d6), now()), Verdict::Late);
        // The same day is not surely over anywhere on Earth yet.
        assert_eq!(
            compare(None, Some(&date(2026, 12, 8)), now()),
            Verdict::OnTime
        );
    }

    #[test]
    fn stale_estimate_without_promise_is_late() {
        assert_eq!(
            compare(Some(&date(2026, 12, 5)), None, now()),
            Verdict::Late
        );
        assert_eq!(
            compare(Some(&date(2026, 12, 8)), None, now()),
            Verdict::OnTime
        );
    }

    #[test]
    fn mixed_naive_and_zoned_only_conclude_when_certain() {
        // 20:00 somewhere vs 18:00 Paris: could be the same instant (UTC+3).
        let exp = window("2026-12-09T19:00:00", "2026-12-09T20:00:00");
        let prom = window("2026-12-09T09:00:00+01:00", "2026-12-09T18:00:00+01:00");
        assert_eq!(compare(Some(&exp), Some(&prom), now()), Verdict::OnTime);
        // A day later is later in every zone.
        let exp = window("2026-12-10T19:00:00", "2026-12-10T20:00:00");
        assert_eq!(compare(Some(&exp), Some(&prom), now()), Verdict::Late);
        // Zoned vs zoned is exact.
        let exp = window("2026-12-09T18:00:00+00:00", "2026-12-09T18:30:00+00:00");
        assert_eq!(compare(Some(&exp), Some(&prom), now()), Verdict::Late);
    }

    #[test]
    fn pickup_must_follow_the_attempt() {
        let cp = |status| Checkpoint {
            occurred_at: wire("2026-12-08T11:20:00"),
            status,
            status_detail: None,
            code: "X".into(),
            description: "x".into(),
            location: None,
        };
        let cps = [cp(Status::AvailableForPickup), cp(Status::AttemptFailed)];
        assert_eq!(attempt_and_pickup(&cps), (Some(1), None));
        let cps = [cp(Status::AttemptFailed), cp(Status::AvailableForPickup)];
        assert_eq!(attempt_and_pickup(&cps), (Some(0), Some(1)));
        assert_eq!(attempt_and_pickup(&[]), (None, None));
        assert_eq!(pickup_checkpoint(&[]), None);
    }
}
