//! What the carrier does not say: a parcel quiet for longer than usual for its
//! carrier and status (`tracker.stalled`), a label that never got a first scan
//! (`tracker.forgotten`), an expected window the facts make unlikely
//! (`eta.at_risk` / `eta.at_risk_cleared`), and when the customer-facing summary
//! changes (`summary.changed`, so a proactive message goes out once per change).
//!
//! Pure apart from [`Thresholds`], which learns from trackd's own history how
//! long each carrier usually stays silent in each status. The poller calls
//! [`evaluate`] when a snapshot changes and when the [`Outcome::due`] instant
//! passes, so an unchanged answer costs one comparison.
//!
//! Every event's fact is derived from carrier facts (the newest scan, the
//! window), so a re-evaluation after a restart or a failover yields the same
//! identity and the log stores it once.

use crate::config::RiskConfig;
use crate::events::{EventDraft, EventType, fact};
use crate::summary::{self, Lang, NextStepKind, SummaryInput, Verdict};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, FixedOffset, Offset, Utc, Weekday};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use trackd_carrier_sdk::{Eta, Snapshot, Status, Timestamp};

/// Why an expected window is unlikely; a small set so it fits in a byte per tracker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u8);

impl Reasons {
    pub const STALLED: Reasons = Reasons(1);
    pub const EXCEPTION: Reasons = Reasons(2);
    pub const ATTEMPT_FAILED: Reasons = Reasons(4);
    pub const NOT_OUT_FOR_DELIVERY: Reasons = Reasons(8);
    pub const FORGOTTEN: Reasons = Reasons(16);
    const NAMES: [(Reasons, &'static str); 5] = [
        (Reasons::STALLED, "stalled"),
        (Reasons::EXCEPTION, "exception"),
        (Reasons::ATTEMPT_FAILED, "attempt_failed"),
        (Reasons::NOT_OUT_FOR_DELIVERY, "not_out_for_delivery"),
        (Reasons::FORGOTTEN, "forgotten"),
    ];

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, other: Reasons) -> bool {
        self.0 & other.0 == other.0
    }

    fn with(self, other: Reasons, on: bool) -> Reasons {
        if on { Reasons(self.0 | other.0) } else { self }
    }

    fn minus(self, other: Reasons) -> Reasons {
        Reasons(self.0 & !other.0)
    }

    /// Wire names, in a fixed order, as events carry them.
    pub fn names(self) -> Vec<&'static str> {
        Reasons::NAMES
            .iter()
            .filter(|(r, _)| self.contains(*r))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The reasons as a summary takes them (`None`: not at risk).
    pub fn for_summary(self) -> Option<Vec<String>> {
        (!self.is_empty()).then(|| self.names().iter().map(|n| n.to_string()).collect())
    }

    /// Reads wire names back (unknown ones are ignored: a newer daemon may add reasons).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Reasons {
        names.into_iter().fold(Reasons::default(), |acc, n| {
            Reasons::NAMES
                .iter()
                .find(|(_, name)| *name == n)
                .map_or(acc, |(r, _)| acc.with(*r, true))
        })
    }
}

/// What was last announced for one tracker, so each event fires once per real change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskState {
    /// The newest scan (unix seconds) of the quiet spell already announced as stalled.
    pub stalled_scan: Option<i64>,
    pub forgotten: bool,
    /// Reasons of the `eta.at_risk` in force (empty: none).
    pub at_risk: Reasons,
    /// The last announced summary: its verdict and the hash of (verdict, next step, headline).
    pub summary: Option<(Verdict, u64)>,
}

/// One tracker as [`evaluate`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Watched<'a> {
    pub tracker_id: u64,
    pub carrier: &'a str,
    pub snapshot: &'a Snapshot,
    /// The client's promise (`tracker.promised_by`).
    pub promised_by: Option<&'a Eta>,
    /// The return side (direction, `return_for`, the retailer's milestones), so a
    /// return's summary reads as the API answers it; `None` for an outbound parcel.
    pub ret: Option<&'a crate::returns::ReturnContext>,
    /// Carrier-world registration time: the label time when the carrier gives none.
    pub registered_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: RiskState,
    /// In order: stalled, forgotten, at risk (or cleared), summary changed.
    pub events: Vec<EventDraft>,
    /// The next instant (unix seconds) at which the verdict can change with no new
    /// carrier fact; `None` when only a new answer can change it.
    pub due: Option<i64>,
}

/// Statuses in which a parcel is expected to move, so a long silence means something.
fn watched_for_stall(status: Status) -> bool {
    matches!(
        status,
        Status::InTransit
            | Status::OutForDelivery
            | Status::AttemptFailed
            | Status::Exception
            | Status::Returning
    )
}

/// Decides the risk events of one tracker at `w.now`, given what was announced before.
pub fn evaluate(
    cfg: &RiskConfig,
    learnt: &Thresholds,
    prev: RiskState,
    w: &Watched<'_>,
) -> Outcome {
    let snap = w.snapshot;
    let now = w.now;
    let mut events = Vec::new();
    let mut due: Vec<DateTime<Utc>> = Vec::new();
    let mut state = RiskState::default();
    let active =
        !snap.status.is_terminal() && !matches!(snap.status, Status::Invalid | Status::Expired);
    let last_scan = snap
        .checkpoints
        .iter()
        .map(|c| c.occurred_at)
        .max_by_key(|t| t.latest_instant());
    let last_scan_at = last_scan.map(|t| t.latest_instant());
    let scan_key = last_scan_at.map_or(0, |t| t.timestamp());
    let offset = zone_of(last_scan);

    // Forgotten: a label and no first scan within `forgotten_after` business time.
    let scanned = snap.checkpoints.iter().any(|c| {
        !matches!(
            c.status,
            Status::InfoReceived | Status::Pending | Status::Unknown
        )
    });
    if active && snap.status == Status::InfoReceived && !scanned {
        let label_at = snap
            .checkpoints
            .first()
            .map_or(w.registered_at, |c| c.occurred_at.latest_instant());
        let limit = secs(cfg.forgotten_after);
        let idle = business_seconds(label_at, now, offset, &cfg.weekend);
        state.forgotten = prev.forgotten || idle >= limit;
        if state.forgotten && !prev.forgotten {
            events.push(EventDraft {
                kind: EventType::TrackerForgotten,
                occurred_at: Timestamp::Zoned(now.fixed_offset()),
                fact: fact(&["tracker.forgotten"]),
                data: json!({
                    "label_created_at": label_at,
                    "idle_business_seconds": idle,
                    "threshold_seconds": limit,
                }),
            });
        } else if !state.forgotten {
            due.push(add_business(label_at, limit, offset, &cfg.weekend));
        }
    }

    // Stalled: no new scan for longer than usual for this carrier and status.
    // Once announced it holds until the next scan (hysteresis: a threshold that
    // moves meanwhile never makes it flap).
    if active
        && watched_for_stall(snap.status)
        && let Some(scan_at) = last_scan_at
    {
        if prev.stalled_scan == Some(scan_key) {
            state.stalled_scan = Some(scan_key);
        } else {
            let threshold = learnt.threshold(w.carrier, snap.status);
            let limit = threshold.map_or(secs(cfg.stalled_after), |t| t.seconds);
            let idle = business_seconds(scan_at, now, offset, &cfg.weekend);
            if idle >= limit {
                state.stalled_scan = Some(scan_key);
                events.push(EventDraft {
                    kind: EventType::TrackerStalled,
                    occurred_at: Timestamp::Zoned(now.fixed_offset()),
                    fact: fact(&["tracker.stalled", &scan_key.to_string()]),
                    data: json!({
                        "status": snap.status,
                        "last_scan_at": last_scan,
                        "idle_business_seconds": idle,
                        "threshold_seconds": limit,
                        "threshold_source": if threshold.is_some() { "learnt" } else { "configured" },
                        "samples": threshold.map_or(0, |t| t.samples),
                    }),
                });
            } else {
                due.push(add_business(scan_at, limit, offset, &cfg.weekend));
            }
        }
    }

    // At risk: the expected window has not passed but the facts make it unlikely.
    let promise = summary::Promise::select(snap, w.promised_by).map(|p| p.eta);
    let expected = snap.estimated_delivery.or(promise);
    let window_end = expected.map(|e| e.end().latest_instant());
    let open_window = active
        && snap.status != Status::AvailableForPickup
        && window_end.is_some_and(|end| now <= end);
    let mut reasons = Reasons::default();
    if open_window && let Some(end) = window_end {
        let lead = ChronoDuration::from_std(cfg.out_for_delivery_lead).unwrap_or_default();
        let late_in_window = now >= end - lead;
        reasons = reasons
            .with(Reasons::STALLED, state.stalled_scan.is_some())
            .with(Reasons::EXCEPTION, snap.status == Status::Exception)
            .with(
                Reasons::ATTEMPT_FAILED,
                snap.status == Status::AttemptFailed,
            )
            .with(
                Reasons::NOT_OUT_FOR_DELIVERY,
                late_in_window && snap.status != Status::OutForDelivery,
            )
            .with(Reasons::FORGOTTEN, state.forgotten);
        if !late_in_window {
            due.push(end - lead);
        }
        due.push(end + ChronoDuration::seconds(1));
    }
    state.at_risk = reasons;
    let end_key = window_end.map_or(0, |t| t.timestamp()).to_string();
    if !reasons.is_empty() && !prev.at_risk.contains(reasons) {
        let names = reasons.names();
        events.push(EventDraft {
            kind: EventType::EtaAtRisk,
            occurred_at: Timestamp::Zoned(now.fixed_offset()),
            fact: fact(&[
                "eta.at_risk",
                &names.join(","),
                &scan_key.to_string(),
                &end_key,
            ]),
            data: json!({
                "reasons": names,
                "new_reasons": reasons.minus(prev.at_risk).names(),
                "expected": expected,
                "status": snap.status,
                "last_scan_at": last_scan,
            }),
        });
    } else if reasons.is_empty() && !prev.at_risk.is_empty() {
        // Cleared when the parcel recovered inside its window or was delivered
        // in it; a window that passed is `eta.missed`'s to tell, not a recovery.
        let delivered = snap.status == Status::Delivered;
        if open_window || delivered {
            let before = prev.at_risk.names();
            events.push(EventDraft {
                kind: EventType::EtaAtRiskCleared,
                occurred_at: Timestamp::Zoned(now.fixed_offset()),
                fact: fact(&[
                    "eta.at_risk_cleared",
                    &before.join(","),
                    &scan_key.to_string(),
                    &end_key,
                    snap.status.as_str(),
                ]),
                data: json!({
                    "previous_reasons": before,
                    "resolution": if delivered { "delivered" } else { "recovered" },
                    "expected": expected,
                    "status": snap.status,
                }),
            });
        }
    }

    // The summary a customer would be sent, in English and UTC (its key is
    // language-free in effect: every language has one headline per case).
    let input = SummaryInput {
        snapshot: snap,
        promised_by: w.promised_by,
        now,
        lang: Lang::En,
        tz: chrono_tz::UTC,
        risk: reasons.for_summary(),
        ret: w.ret,
    };
    let (announced, change) = summary_change(w.tracker_id, prev.summary, &input);
    state.summary = Some(announced);
    events.extend(change);
    if active
        && let Some(p) = promise.map(|p| p.end().latest_instant())
        && p >= now
    {
        due.push(p + ChronoDuration::seconds(1));
    }
    Outcome {
        state,
        events,
        due: due
            .into_iter()
            .filter(|t| *t > now)
            .min()
            .map(|t| t.timestamp()),
    }
}

/// What a summary announcement would be now: the (verdict, key) to remember and
/// the `summary.changed` to append when the verdict, next step or headline moved
/// since `prev`. The poller and the milestone API both decide through it, so a
/// proactive message goes out once per real change whoever saw the change.
pub fn summary_change(
    tracker_id: u64,
    prev: Option<(Verdict, u64)>,
    input: &SummaryInput<'_>,
) -> ((Verdict, u64), Option<EventDraft>) {
    let (snap, now) = (input.snapshot, input.now);
    let s = summary::summarize(input);
    let next = s.next_step.as_ref().map(|n| n.kind);
    let key = fact(&[s.verdict.as_str(), next.map_or("", next_name), &s.headline]);
    if prev.map(|(_, k)| k) == Some(key) {
        return ((s.verdict, key), None);
    }
    let eta_key = snap
        .estimated_delivery
        .map_or(0, |e| e.end().latest_instant().timestamp())
        .to_string();
    let checkpoints = snap.checkpoints.len().to_string();
    let mut parts = vec![
        "summary.changed",
        s.verdict.as_str(),
        next.map_or("", next_name),
        &s.headline,
        snap.status.as_str(),
        &checkpoints,
        &eta_key,
    ];
    // A retailer milestone changes a return's summary with no carrier fact moving.
    if let Some(m) = input.ret.and_then(|r| r.latest()) {
        parts.push(m.kind.as_str());
    }
    let draft = EventDraft {
        kind: EventType::SummaryChanged,
        occurred_at: Timestamp::Zoned(now.fixed_offset()),
        fact: fact(&parts),
        data: json!({
            "verdict": s.verdict,
            "previous_verdict": prev.map(|(v, _)| v),
            "headline": s.headline,
            "next_step": next,
            "summary": summary_json(tracker_id, &s),
        }),
    };
    ((s.verdict, key), Some(draft))
}

/// The summary as `GET /v1/trackers/{id}/summary` answers it (with its tracker id).
fn summary_json(tracker_id: u64, s: &summary::Summary) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert(
            "tracker_id".into(),
            Value::String(crate::events::tracker_id_string(tracker_id)),
        );
    }
    v
}

fn next_name(k: NextStepKind) -> &'static str {
    match k {
        NextStepKind::PickUp => "pick_up",
        NextStepKind::Reschedule => "reschedule",
        NextStepKind::ContactCarrier => "contact_carrier",
        NextStepKind::Nothing => "nothing",
        NextStepKind::DropOff => "drop_off",
    }
}

/// What was announced, read back from a tracker's own events (oldest first), so a
/// restarted or new owner neither repeats nor forgets a clear.
pub fn seed<'a>(events: impl IntoIterator<Item = &'a Value>) -> RiskState {
    let mut s = RiskState::default();
    for e in events {
        let data = &e["data"];
        match e["type"].as_str().and_then(EventType::parse) {
            Some(EventType::TrackerStalled) => {
                s.stalled_scan = data["last_scan_at"]["at"]
                    .as_str()
                    .and_then(Timestamp::from_wire)
                    .map(|t| t.latest_instant().timestamp());
            }
            Some(EventType::TrackerForgotten) => s.forgotten = true,
            Some(EventType::EtaAtRisk) => {
                s.at_risk = Reasons::parse(
                    data["reasons"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                );
            }
            Some(EventType::EtaAtRiskCleared) => s.at_risk = Reasons::default(),
            Some(EventType::SummaryChanged) => {
                let verdict = data["verdict"].as_str().and_then(parse_verdict);
                if let Some(v) = verdict {
                    let next = data["next_step"].as_str().unwrap_or("");
                    let headline = data["headline"].as_str().unwrap_or("");
                    s.summary = Some((v, fact(&[v.as_str(), next, headline])));
                }
            }
            _ => {}
        }
    }
    s
}

fn parse_verdict(s: &str) -> Option<Verdict> {
    [
        Verdict::Early,
        Verdict::OnTime,
        Verdict::AtRisk,
        Verdict::Late,
        Verdict::Delivered,
        Verdict::Returned,
        Verdict::Exception,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

/// The carrier's own offset where it gave one (weekends are the carrier's), else UTC.
fn zone_of(t: Option<Timestamp>) -> FixedOffset {
    match t {
        Some(Timestamp::Zoned(dt)) => *dt.offset(),
        _ => Utc.fix(),
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Longest span counted day by day; beyond it the rest counts as business time
/// (a parcel idle for ten years is stalled either way).
const MAX_DAYS: i64 = 3660;

/// Seconds between `from` and `to` that fall on business days in `offset`.
pub fn business_seconds(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    offset: FixedOffset,
    weekend: &[Weekday],
) -> i64 {
    if to <= from {
        return 0;
    }
    if weekend.is_empty() {
        return (to - from).num_seconds();
    }
    let shift = ChronoDuration::seconds(i64::from(offset.local_minus_utc()));
    let mut day = from.with_timezone(&offset).date_naive();
    let mut total = 0i64;
    let mut counted_to = from;
    for _ in 0..MAX_DAYS {
        let Some(start) = day.and_hms_opt(0, 0, 0).map(|d| d.and_utc() - shift) else {
            break;
        };
        let end = start + ChronoDuration::days(1);
        let (a, b) = (start.max(from), end.min(to));
        if b > a && !weekend.contains(&day.weekday()) {
            total += (b - a).num_seconds();
        }
        counted_to = end;
        if end >= to {
            return total;
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    total + (to - counted_to).num_seconds().max(0)
}

/// The instant at which `seconds` of business time have passed since `from`.
pub fn add_business(
    from: DateTime<Utc>,
    seconds: i64,
    offset: FixedOffset,
    weekend: &[Weekday],
) -> DateTime<Utc> {
    if weekend.is_empty() || weekend.len() >= 7 {
        return from + ChronoDuration::seconds(seconds);
    }
    let mut left = seconds;
    let mut at = from;
    for _ in 0..MAX_DAYS {
        let local = at.with_timezone(&offset);
        let day = local.date_naive();
        let Some(next) = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)) else {
            break;
        };
        let day_end = next.and_utc() - ChronoDuration::seconds(i64::from(offset.local_minus_utc()));
        if !weekend.contains(&day.weekday()) {
            let room = (day_end - at).num_seconds();
            if left <= room {
                return at + ChronoDuration::seconds(left);
            }
            left -= room;
        }
        at = day_end;
    }
    at + ChronoDuration::seconds(left)
}

/// A learnt stall threshold and how many gaps it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub seconds: i64,
    pub samples: u32,
}

/// Quarter-octave buckets from 1 s to 2^28 s (about 8.5 years).
const BUCKETS: usize = 113;

#[derive(Debug, Clone)]
struct Histogram {
    counts: [u32; BUCKETS],
    total: u32,
}

impl Histogram {
    fn bucket(seconds: i64) -> usize {
        if seconds <= 1 {
            return 0;
        }
        ((seconds as f64).log2() * 4.0)
            .ceil()
            .min((BUCKETS - 1) as f64) as usize
    }

    fn upper(bucket: usize) -> i64 {
        2f64.powf(bucket as f64 / 4.0).round() as i64
    }

    fn record(&mut self, seconds: i64) {
        self.counts[Histogram::bucket(seconds)] += 1;
        self.total = self.total.saturating_add(1);
    }

    /// The bucket bound at or below which at least `q` of the gaps fall.
    fn quantile(&self, q: f64) -> i64 {
        let want = (f64::from(self.total) * q).ceil() as u32;
        let mut seen = 0u32;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return Histogram::upper(b);
            }
        }
        Histogram::upper(BUCKETS - 1)
    }
}

/// How long each carrier usually stays silent in each status, learnt from the
/// gaps between consecutive scans trackd has seen (in business time).
pub struct Thresholds {
    min_samples: u32,
    quantile: f64,
    margin: f64,
    weekend: Vec<Weekday>,
    gaps: Mutex<HashMap<(String, Status), Histogram>>,
}

impl Thresholds {
    pub fn new(cfg: &RiskConfig) -> Thresholds {
        Thresholds {
            min_samples: cfg.learn_min_samples,
            quantile: cfg.learn_quantile,
            margin: cfg.learn_margin,
            weekend: cfg.weekend.clone(),
            gaps: Mutex::new(HashMap::new()),
        }
    }

    /// Learns the gaps leading to the `added` newest checkpoints of `snap`
    /// (keyed by the status the parcel waited in).
    pub fn learn(&self, carrier: &str, snap: &Snapshot, added: usize) {
        let cps = &snap.checkpoints;
        if cps.len() < 2 || added == 0 {
            return;
        }
        let first = cps.len().saturating_sub(added).max(1);
        let mut gaps = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
        for i in first..cps.len() {
            let (a, b) = (&cps[i - 1], &cps[i]);
            if !watched_for_stall(a.status) {
                continue;
            }
            let gap = business_seconds(
                a.occurred_at.latest_instant(),
                b.occurred_at.latest_instant(),
                zone_of(Some(a.occurred_at)),
                &self.weekend,
            );
            gaps.entry((carrier.to_string(), a.status))
                .or_insert_with(|| Histogram {
                    counts: [0; BUCKETS],
                    total: 0,
                })
                .record(gap);
        }
    }

    /// The learnt threshold, once enough gaps were seen; `None`: use the configured fallback.
    pub fn threshold(&self, carrier: &str, status: Status) -> Option<Threshold> {
        let gaps = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
        let h = gaps.get(&(carrier.to_string(), status))?;
        (h.total >= self.min_samples).then(|| Threshold {
            seconds: ((h.quantile(self.quantile) as f64) * self.margin).ceil() as i64,
            samples: h.total,
        })
    }

    /// Every learnt threshold, for the metrics gauge.
    pub fn all(&self) -> Vec<(String, Status, Threshold)> {
        let keys: Vec<(String, Status)> = {
            let gaps = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
            gaps.keys().cloned().collect()
        };
        keys.into_iter()
            .filter_map(|(c, s)| self.threshold(&c, s).map(|t| (c, s, t)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use trackd_carrier_sdk::Checkpoint;

    fn cfg() -> RiskConfig {
        crate::config::Config::load(None, Vec::<(String, String)>::new())
            .expect("embedded defaults load")
            .risk
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cp(t: &str, status: Status) -> Checkpoint {
        Checkpoint {
            occurred_at: Timestamp::from_wire(t).unwrap(),
            status,
            status_detail: None,
            code: format!("{status:?}"),
            description: format!("{status:?}"),
            location: None,
        }
    }

    /// Label Monday 2026-12-07 09:00Z, in transit Monday 18:00Z, window Thursday 12:00–18:00Z.
    fn in_transit() -> Snapshot {
        let window = Eta::Window {
            start: Timestamp::from_wire("2026-12-10T12:00:00Z").unwrap(),
            end: Timestamp::from_wire("2026-12-10T18:00:00Z").unwrap(),
        };
        Snapshot {
            status: Status::InTransit,
            estimated_delivery: Some(window),
            original_estimated_delivery: Some(window),
            checkpoints: vec![
                cp("2026-12-07T09:00:00Z", Status::InfoReceived),
                cp("2026-12-07T18:00:00Z", Status::InTransit),
            ],
            ..Snapshot::pending()
        }
    }

    fn run(prev: RiskState, snap: &Snapshot, now: &str, learnt: &Thresholds) -> Outcome {
        evaluate(
            &cfg(),
            learnt,
            prev,
            &Watched {
                tracker_id: 1,
                carrier: "ups",
                snapshot: snap,
                promised_by: None,
                ret: None,
                registered_at: at("2026-12-07T08:00:00Z"),
                now: at(now),
            },
        )
    }

    fn kinds(o: &Outcome) -> Vec<&'static str> {
        o.events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn weekends_do_not_count_as_business_time() {
        let utc = Utc.fix();
        let weekend = [Weekday::Sat, Weekday::Sun];
        // Friday 12:00 to Monday 12:00 is one business day.
        let (fri, mon) = (at("2026-12-11T12:00:00Z"), at("2026-12-14T12:00:00Z"));
        assert_eq!(business_seconds(fri, mon, utc, &weekend), 86_400);
        assert_eq!(add_business(fri, 86_400, utc, &weekend), mon);
        // The carrier's zone decides where the weekend starts.
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(
            business_seconds(
                at("2026-12-11T14:00:00Z"),
                at("2026-12-11T16:00:00Z"),
                tokyo,
                &weekend
            ),
            3600,
            "23:00 to 01:00 in Tokyo: only Friday's last hour counts"
        );
    }

    proptest! {
        #[test]
        fn add_business_inverts_business_seconds(
            start in 1_700_000_000i64..1_900_000_000,
            secs in 0i64..40 * 86_400,
            offset_h in -12i32..=14,
            weekend_mask in 0u8..127,
        ) {
            let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
            let weekend: Vec<Weekday> = days.iter().enumerate().filter(|(i, _)| weekend_mask & (1 << i) != 0).map(|(_, d)| *d).collect();
            let offset = FixedOffset::east_opt(offset_h * 3600).unwrap();
            let from = Utc.timestamp_opt(start, 0).unwrap();
            let to = add_business(from, secs, offset, &weekend);
            prop_assert!(to >= from + ChronoDuration::seconds(secs) || weekend.is_empty());
            prop_assert_eq!(business_seconds(from, to, offset, &weekend), secs);
        }
    }

    #[test]
    fn a_stall_is_announced_once_per_quiet_spell_and_cleared_by_the_next_scan() {
        let learnt = Thresholds::new(&cfg());
        let snap = in_transit();
        // Tuesday 12:00: 18 h quiet, under the 2-day fallback.
        let quiet = run(RiskState::default(), &snap, "2026-12-08T12:00:00Z", &learnt);
        assert_eq!(kinds(&quiet), ["summary.changed"]);
        assert_eq!(
            quiet.due,
            Some(at("2026-12-09T18:00:00Z").timestamp()),
            "due when two business days have passed"
        );
        // Wednesday 19:00: stalled, and the open window is at risk because of it.
        let stalled = run(quiet.state, &snap, "2026-12-09T19:00:00Z", &learnt);
        assert_eq!(
            kinds(&stalled),
            ["tracker.stalled", "eta.at_risk", "summary.changed"]
        );
        assert_eq!(stalled.events[1].data["reasons"], json!(["stalled"]));
        assert_eq!(stalled.events[2].data["verdict"], "at_risk");
        // Nothing new to say an hour later (hysteresis), even with a laxer threshold.
        let again = run(stalled.state, &snap, "2026-12-09T20:00:00Z", &learnt);
        assert!(again.events.is_empty(), "{:?}", kinds(&again));
        // A new scan clears the stall and the risk.
        let mut moved = snap.clone();
        moved
            .checkpoints
            .push(cp("2026-12-09T21:00:00Z", Status::InTransit));
        let cleared = run(again.state, &moved, "2026-12-09T21:30:00Z", &learnt);
        assert_eq!(kinds(&cleared), ["eta.at_risk_cleared", "summary.changed"]);
        assert_eq!(cleared.events[0].data["resolution"], "recovered");
        assert_eq!(cleared.state.stalled_scan, None);
    }

    #[test]
    fn a_milestone_changes_a_returns_summary_once_and_the_poller_agrees() {
        use crate::returns::{Direction, Milestone, MilestoneKind, ReturnContext};
        let learnt = Thresholds::new(&cfg());
        let mut snap = in_transit();
        snap.status = Status::Delivered;
        snap.checkpoints
            .push(cp("2026-12-09T10:00:00Z", Status::Delivered));
        let mut ret = ReturnContext {
            direction: Direction::Return,
            return_for: None,
            milestones: Vec::new(),
        };
        let look = |prev: RiskState, ret: &ReturnContext| {
            evaluate(
                &cfg(),
                &learnt,
                prev,
                &Watched {
                    tracker_id: 1,
                    carrier: "ups",
                    snapshot: &snap,
                    promised_by: None,
                    ret: Some(ret),
                    registered_at: at("2026-12-07T08:00:00Z"),
                    now: at("2026-12-09T12:00:00Z"),
                },
            )
        };
        let back = look(RiskState::default(), &ret);
        assert_eq!(
            back.events[0].data["headline"],
            "Return delivered to the retailer"
        );
        // The milestone route decides the change the poller would decide.
        ret.milestones.push(Milestone::new(
            MilestoneKind::Received,
            at("2026-12-09T11:00:00Z"),
            None,
        ));
        let input = SummaryInput {
            snapshot: &snap,
            promised_by: None,
            now: at("2026-12-09T12:00:00Z"),
            lang: Lang::En,
            tz: chrono_tz::UTC,
            risk: None,
            ret: Some(&ret),
        };
        let (announced, change) = summary_change(1, back.state.summary, &input);
        let change = change.expect("a milestone moves the headline");
        assert_eq!(change.data["headline"], "Return received");
        assert_eq!(change.data["previous_verdict"], "returned");
        assert_ne!(change.fact, back.events[0].fact, "its own fact");
        assert_eq!(
            summary_change(1, Some(announced), &input).1,
            None,
            "told once"
        );
        // A poll after it, with the announcement read back, says nothing more.
        let seeded = RiskState {
            summary: Some(announced),
            ..back.state
        };
        assert!(look(seeded, &ret).events.is_empty());
    }

    #[test]
    fn learnt_thresholds_replace_the_fallback_once_enough_gaps_were_seen() {
        let mut c = cfg();
        c.learn_min_samples = 20;
        let learnt = Thresholds::new(&c);
        // Twenty parcels whose in-transit scans came every 3 hours.
        for _ in 0..10 {
            let mut s = in_transit();
            s.checkpoints
                .push(cp("2026-12-07T21:00:00Z", Status::InTransit));
            s.checkpoints
                .push(cp("2026-12-08T00:00:00Z", Status::InTransit));
            learnt.learn("ups", &s, 3);
        }
        let t = learnt.threshold("ups", Status::InTransit).expect("learnt");
        assert_eq!(t.samples, 20);
        assert!(
            (3 * 3600..=(3 * 3600 * 3 / 2) + 3600).contains(&t.seconds),
            "{t:?}"
        );
        assert_eq!(
            learnt.threshold("fedex", Status::InTransit),
            None,
            "per carrier"
        );
        let o = run(
            RiskState::default(),
            &in_transit(),
            "2026-12-08T02:00:00Z",
            &learnt,
        );
        assert_eq!(o.events[0].kind, EventType::TrackerStalled);
        assert_eq!(o.events[0].data["threshold_source"], "learnt");
    }

    #[test]
    fn a_label_never_scanned_is_forgotten_once() {
        let learnt = Thresholds::new(&cfg());
        let mut snap = in_transit();
        snap.status = Status::InfoReceived;
        snap.checkpoints.truncate(1);
        snap.estimated_delivery = None;
        snap.original_estimated_delivery = None;
        let early = run(RiskState::default(), &snap, "2026-12-09T09:00:00Z", &learnt);
        assert!(!kinds(&early).contains(&"tracker.forgotten"));
        // Monday 09:00 + 3 business days = Thursday 09:00.
        assert_eq!(early.due, Some(at("2026-12-10T09:00:00Z").timestamp()));
        let late = run(early.state, &snap, "2026-12-10T09:00:01Z", &learnt);
        assert_eq!(kinds(&late), ["tracker.forgotten"]);
        let later = run(late.state, &snap, "2026-12-14T09:00:00Z", &learnt);
        assert!(later.events.is_empty());
        // The first scan clears it.
        let mut scanned = snap.clone();
        scanned.status = Status::InTransit;
        scanned
            .checkpoints
            .push(cp("2026-12-14T10:00:00Z", Status::InTransit));
        let cleared = run(later.state, &scanned, "2026-12-14T10:05:00Z", &learnt);
        assert!(!cleared.state.forgotten);
    }

    #[test]
    fn the_last_hours_of_a_window_without_out_for_delivery_are_at_risk() {
        let learnt = Thresholds::new(&cfg());
        let mut snap = in_transit();
        snap.checkpoints
            .push(cp("2026-12-10T06:00:00Z", Status::InTransit));
        let morning = run(RiskState::default(), &snap, "2026-12-10T08:00:00Z", &learnt);
        assert_eq!(
            morning.due,
            Some(at("2026-12-10T12:00:00Z").timestamp()),
            "due 6 h before the end"
        );
        let noon = run(morning.state, &snap, "2026-12-10T12:00:00Z", &learnt);
        assert_eq!(kinds(&noon)[0], "eta.at_risk");
        assert_eq!(
            noon.events[0].data["reasons"],
            json!(["not_out_for_delivery"])
        );
        // Out for delivery: cleared; delivered inside the window afterwards: nothing more to clear.
        let mut ofd = snap.clone();
        ofd.status = Status::OutForDelivery;
        ofd.checkpoints
            .push(cp("2026-12-10T12:30:00Z", Status::OutForDelivery));
        let out = run(noon.state, &ofd, "2026-12-10T12:31:00Z", &learnt);
        assert_eq!(kinds(&out)[0], "eta.at_risk_cleared");
        // A window that passes while at risk is eta.missed's news, not a recovery.
        let passed = run(noon.state, &snap, "2026-12-10T18:00:01Z", &learnt);
        assert!(
            !kinds(&passed).contains(&"eta.at_risk_cleared"),
            "{:?}",
            kinds(&passed)
        );
        assert!(passed.state.at_risk.is_empty());
    }

    #[test]
    fn exceptions_and_failed_attempts_are_reasons_and_delivery_clears_them() {
        let learnt = Thresholds::new(&cfg());
        let mut snap = in_transit();
        snap.status = Status::AttemptFailed;
        snap.checkpoints
            .push(cp("2026-12-08T10:00:00Z", Status::AttemptFailed));
        let failed = run(RiskState::default(), &snap, "2026-12-08T10:05:00Z", &learnt);
        assert_eq!(failed.events[0].data["reasons"], json!(["attempt_failed"]));
        let mut exc = snap.clone();
        exc.status = Status::Exception;
        exc.checkpoints
            .push(cp("2026-12-08T11:00:00Z", Status::Exception));
        let worse = run(failed.state, &exc, "2026-12-08T11:05:00Z", &learnt);
        assert_eq!(worse.events[0].data["new_reasons"], json!(["exception"]));
        let mut done = exc.clone();
        done.status = Status::Delivered;
        done.delivered_at = Some(Timestamp::from_wire("2026-12-09T10:00:00Z").unwrap());
        done.checkpoints
            .push(cp("2026-12-09T10:00:00Z", Status::Delivered));
        let delivered = run(worse.state, &done, "2026-12-09T10:05:00Z", &learnt);
        assert_eq!(
            kinds(&delivered),
            ["eta.at_risk_cleared", "summary.changed"]
        );
        assert_eq!(delivered.events[0].data["resolution"], "delivered");
        assert_eq!(
            delivered.due, None,
            "a delivered parcel needs no more looks"
        );
    }

    #[test]
    fn seeding_from_the_log_repeats_nothing_and_forgets_no_clear() {
        let learnt = Thresholds::new(&cfg());
        let snap = in_transit();
        let quiet = run(RiskState::default(), &snap, "2026-12-08T12:00:00Z", &learnt);
        let stalled = run(quiet.state, &snap, "2026-12-09T19:00:00Z", &learnt);
        // The events as the log serves them.
        let logged: Vec<Value> = quiet
            .events
            .iter()
            .chain(&stalled.events)
            .map(|e| json!({"type": e.kind.as_str(), "data": e.data}))
            .collect();
        let seeded = seed(&logged);
        assert_eq!(seeded, stalled.state);
        assert!(
            run(seeded, &snap, "2026-12-09T20:00:00Z", &learnt)
                .events
                .is_empty()
        );
    }

    proptest! {
        /// Over any sequence of looks at one parcel, each announcement follows a
        /// change: at most one stall per newest scan, no clear without a risk before.
        #[test]
        fn announcements_follow_changes(steps in proptest::collection::vec((0u8..4, 1i64..40), 1..30)) {
            let learnt = Thresholds::new(&cfg());
            let mut snap = in_transit();
            let mut now = at("2026-12-07T19:00:00Z");
            let mut state = RiskState::default();
            let mut stalls = std::collections::HashSet::new();
            for (what, hours) in steps {
                now += ChronoDuration::hours(hours);
                match what {
                    0 => snap.checkpoints.push(Checkpoint { occurred_at: Timestamp::Zoned(now.fixed_offset()), ..cp("2026-12-07T18:00:00Z", Status::InTransit) }),
                    1 => snap.status = Status::Exception,
                    2 => snap.status = Status::InTransit,
                    _ => {}
                }
                let o = evaluate(&cfg(), &learnt, state, &Watched { tracker_id: 1, carrier: "ups", snapshot: &snap, promised_by: None, ret: None, registered_at: at("2026-12-07T08:00:00Z"), now });
                for e in &o.events {
                    match e.kind {
                        EventType::TrackerStalled => prop_assert!(stalls.insert(e.fact), "stall announced twice"),
                        EventType::EtaAtRiskCleared => prop_assert!(!state.at_risk.is_empty()),
                        EventType::EtaAtRisk => prop_assert!(!o.state.at_risk.is_empty()),
                        _ => {}
                    }
                }
                let again = evaluate(&cfg(), &learnt, o.state, &Watched { tracker_id: 1, carrier: "ups", snapshot: &snap, promised_by: None, ret: None, registered_at: at("2026-12-07T08:00:00Z"), now });
                prop_assert!(again.events.is_empty(), "a second look at the same facts says nothing: {:?}", again.events);
                state = o.state;
            }
        }
    }
}
