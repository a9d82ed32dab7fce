//! Returns (issue 11, part 4): which way a parcel travels, what a return is for,
//! the retailer's own milestones on it, and the pure rule that spots an outbound
//! parcel coming back to the sender. No I/O: the store keeps these values, the
//! API validates them, summaries and the poller read them.

use crate::events::{EventDraft, EventType, fact, parse_tracker_id, tracker_id_string};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trackd_carrier_sdk::{Snapshot, Status, Timestamp};

/// Which way a parcel travels, so a return is worded and judged as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// To the customer (the default).
    #[default]
    Outbound,
    /// Back to the retailer.
    Return,
}

impl Direction {
    /// Stored and wire name, shared by the API, the stores and the filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Return => "return",
        }
    }

    /// Reads a stored or requested name back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "outbound" => Some(Direction::Outbound),
            "return" => Some(Direction::Return),
            _ => None,
        }
    }
}

/// What a return belongs to, so the retailer can match it with the sale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReturnFor {
    /// The outbound tracker the goods first went out under.
    Tracker(u64),
    /// The retailer's order reference.
    Order(String),
}

impl ReturnFor {
    /// One string for storage and the API: `trk_…` names a tracker, anything else an order.
    pub fn as_string(&self) -> String {
        match self {
            ReturnFor::Tracker(id) => tracker_id_string(*id),
            ReturnFor::Order(r) => r.clone(),
        }
    }

    /// Reads the stored string back (the API refuses a `trk_…` order reference, so this is unambiguous).
    pub fn parse(s: &str) -> ReturnFor {
        match parse_tracker_id(s) {
            Some(id) if s.starts_with("trk_") => ReturnFor::Tracker(id),
            _ => ReturnFor::Order(s.to_string()),
        }
    }
}

/// A step the retailer reports on a return once the carrier's part is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MilestoneKind {
    /// The parcel reached the retailer's warehouse.
    Received,
    /// The goods were checked.
    Inspected,
    /// The customer was refunded.
    Refunded,
}

impl MilestoneKind {
    /// Every kind, in the order a return goes through them (summaries take the furthest).
    pub const ALL: [MilestoneKind; 3] = [
        MilestoneKind::Received,
        MilestoneKind::Inspected,
        MilestoneKind::Refunded,
    ];

    /// Wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MilestoneKind::Received => "received",
            MilestoneKind::Inspected => "inspected",
            MilestoneKind::Refunded => "refunded",
        }
    }

    /// Reads a wire or stored name back; `None` for anything else.
    pub fn parse(s: &str) -> Option<MilestoneKind> {
        MilestoneKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One retailer milestone as stored: at most one per kind and tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub kind: MilestoneKind,
    /// When it happened, as the retailer said (default: when it was posted).
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Milestone {
    /// Millisecond precision, as both stores keep times: a repeat compares equal to what was stored.
    pub fn new(kind: MilestoneKind, at: DateTime<Utc>, note: Option<String>) -> Milestone {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        Milestone { kind, at, note }
    }

    /// The `return.milestone` event this milestone appends to the log (same fact on every backend).
    pub fn event(&self) -> EventDraft {
        EventDraft {
            kind: EventType::ReturnMilestone,
            occurred_at: Timestamp::Zoned(self.at.fixed_offset()),
            fact: fact(&["return.milestone", self.kind.as_str()]),
            data: serde_json::json!({
                "kind": self.kind,
                "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "note": self.note,
            }),
        }
    }
}

/// What a store answers when a milestone is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MilestoneOutcome {
    /// Stored now, its event appended to the log.
    Added(Milestone),
    /// The same milestone was already stored: nothing changed.
    Unchanged(Milestone),
    /// This kind was already stored with other content: nothing changed.
    Conflict(Milestone),
    /// The tracker does not exist (any more).
    NoTracker,
}

/// The return side of a tracker, as summaries need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReturnContext {
    pub direction: Direction,
    pub return_for: Option<ReturnFor>,
    /// Oldest kind first (received, inspected, refunded).
    pub milestones: Vec<Milestone>,
}

impl ReturnContext {
    /// The furthest milestone reached: it overrides the carrier's status in a summary.
    pub fn latest(&self) -> Option<&Milestone> {
        self.milestones.iter().max_by_key(|m| m.kind)
    }
}

/// Whether a status means the parcel is on its way back to, or back at, the sender.
fn going_back(status: Status) -> bool {
    matches!(status, Status::Returning | Status::Returned)
}

/// The `return.detected` event of an outbound parcel that turned back to the
/// sender between `prev` and `current`, so the retailer hears of it once;
/// `None` for a return tracker or any other move. `tracker_id` is the outbound
/// tracker's own id, named as what the return is for.
pub fn detect(
    tracker_id: u64,
    prev: &Snapshot,
    current: &Snapshot,
    direction: Direction,
) -> Option<EventDraft> {
    if direction != Direction::Outbound || going_back(prev.status) || !going_back(current.status) {
        return None;
    }
    // The carrier's own words and time for the turn, from its latest such checkpoint.
    let turn = current
        .checkpoints
        .iter()
        .rev()
        .find(|c| going_back(c.status));
    let reason = turn
        .map(|c| c.description.clone())
        .or_else(|| current.status_detail.clone())
        .or_else(|| current.carrier_status_text.clone());
    let occurred_at = turn
        .map(|c| c.occurred_at)
        .or(current.updated_at)
        .or_else(|| {
            current
                .fetched_at
                .map(|t| Timestamp::Zoned(t.fixed_offset()))
        })
        .unwrap_or_else(|| Timestamp::Zoned(DateTime::<Utc>::UNIX_EPOCH.fixed_offset()));
    Some(EventDraft {
        kind: EventType::ReturnDetected,
        occurred_at,
        fact: fact(&["return.detected"]),
        data: serde_json::json!({
            "from_status": prev.status,
            "status": current.status,
            "reason": reason,
            "return_for": tracker_id_string(tracker_id),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use trackd_carrier_sdk::Checkpoint;

    fn snap(status: Status, cps: &[(Status, &str)]) -> Snapshot {
        let mut s: Snapshot = serde_json::from_value(serde_json::json!({
            "status": status, "status_rule": "test", "checkpoints": []
        }))
        .expect("a minimal snapshot");
        s.checkpoints = cps
            .iter()
            .enumerate()
            .map(|(i, (st, text))| Checkpoint {
                occurred_at: Timestamp::Zoned(
                    DateTime::from_timestamp(1_800_000_000 + i as i64 * 3600, 0)
                        .expect("a time")
                        .fixed_offset(),
                ),
                status: *st,
                status_detail: None,
                code: format!("C{i}"),
                description: text.to_string(),
                location: None,
            })
            .collect();
        s
    }

    const STATUSES: [Status; 14] = Status::ALL;

    #[test]
    fn an_outbound_parcel_turning_back_is_detected_with_the_carriers_reason() {
        let prev = snap(
            Status::AttemptFailed,
            &[(Status::AttemptFailed, "No one home")],
        );
        let cur = snap(
            Status::Returning,
            &[
                (Status::AttemptFailed, "No one home"),
                (
                    Status::Returning,
                    "Refused by recipient, returning to sender",
                ),
            ],
        );
        let e = detect(42, &prev, &cur, Direction::Outbound).expect("a return.detected");
        assert_eq!(e.kind, EventType::ReturnDetected);
        assert_eq!(e.fact, fact(&["return.detected"]));
        assert_eq!(e.occurred_at, cur.checkpoints[1].occurred_at);
        assert_eq!(
            e.data,
            serde_json::json!({
                "from_status": "attempt_failed", "status": "returning",
                "reason": "Refused by recipient, returning to sender",
                "return_for": "trk_00000000002a",
            })
        );
    }

    #[test]
    fn a_return_tracker_or_a_parcel_already_going_back_yields_nothing() {
        let transit = snap(Status::InTransit, &[]);
        let returning = snap(Status::Returning, &[(Status::Returning, "back")]);
        let returned = snap(Status::Returned, &[(Status::Returned, "back home")]);
        assert_eq!(detect(1, &transit, &returning, Direction::Return), None);
        assert_eq!(detect(1, &returning, &returned, Direction::Outbound), None);
        assert_eq!(detect(1, &transit, &transit, Direction::Outbound), None);
        // Straight to returned counts as the turn too, with the status detail as reason when no checkpoint says it.
        let mut direct = snap(Status::Returned, &[]);
        direct.status_detail = Some("Undeliverable".into());
        let e = detect(1, &transit, &direct, Direction::Outbound).expect("detected");
        assert_eq!(e.data["reason"], "Undeliverable");
        assert_eq!(e.data["from_status"], "in_transit");
    }

    #[test]
    fn milestone_kinds_and_directions_round_trip_and_the_event_has_one_fact_per_kind() {
        for k in MilestoneKind::ALL {
            assert_eq!(MilestoneKind::parse(k.as_str()), Some(k));
        }
        for d in [Direction::Outbound, Direction::Return] {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
        assert_eq!(MilestoneKind::parse("lost"), None);
        let at = DateTime::from_timestamp(1_800_000_000, 123_456_789).expect("a time");
        let m = Milestone::new(MilestoneKind::Inspected, at, Some("ok".into()));
        assert_eq!(m.at.timestamp_subsec_millis(), 123);
        assert_eq!(m.at.timestamp_subsec_nanos(), 123_000_000);
        let e = m.event();
        assert_eq!(e.fact, fact(&["return.milestone", "inspected"]));
        assert_ne!(
            e.fact,
            Milestone::new(MilestoneKind::Refunded, at, None)
                .event()
                .fact
        );
        assert_eq!(e.data["kind"], "inspected");
        assert_eq!(e.data["note"], "ok");
        assert_eq!(ReturnFor::parse("trk_00000000002a"), ReturnFor::Tracker(42));
        assert_eq!(
            ReturnFor::parse("order-7"),
            ReturnFor::Order("order-7".into())
        );
        assert_eq!(ReturnFor::Tracker(42).as_string(), "trk_00000000002a");
        let ctx = ReturnContext {
            direction: Direction::Return,
            return_for: None,
            milestones: vec![
                Milestone::new(MilestoneKind::Refunded, at, None),
                Milestone::new(MilestoneKind::Received, at, None),
            ],
        };
        assert_eq!(ctx.latest().map(|m| m.kind), Some(MilestoneKind::Refunded));
    }

    proptest! {
        /// Exactly the outbound moves from a non-return status into Returning or
        /// Returned yield one event, whose data names both statuses and the tracker.
        #[test]
        fn detection_fires_exactly_on_the_turn(
            a in 0..STATUSES.len(),
            b in 0..STATUSES.len(),
            outbound in any::<bool>(),
            id in 1u64..1 << 40,
        ) {
            let (from, to) = (STATUSES[a], STATUSES[b]);
            let direction = if outbound { Direction::Outbound } else { Direction::Return };
            let got = detect(id, &snap(from, &[]), &snap(to, &[(to, "x")]), direction);
            let expected = outbound && !going_back(from) && going_back(to);
            prop_assert_eq!(got.is_some(), expected);
            if let Some(e) = got {
                prop_assert_eq!(e.fact, fact(&["return.detected"]));
                prop_assert_eq!(&e.data["from_status"], &serde_json::json!(from));
                prop_assert_eq!(&e.data["status"], &serde_json::json!(to));
                prop_assert_eq!(&e.data["return_for"], &serde_json::json!(tracker_id_string(id)));
            }
        }
    }
}
