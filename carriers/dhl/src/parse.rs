//! Unified API answers into normalized results: statuses through the one table
//! in `mapping`, times exactly as DHL wrote them, problem+json errors typed.

use crate::mapping::{Mapped, apply_return_flag, map_status, map_status_only};
use crate::wire::{Event, Person, Place, Problem, Shipment, Shipments, WireId};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use trackd_carrier_sdk::json::read_json;
use trackd_carrier_sdk::model::{clean, order_checkpoints};
use trackd_carrier_sdk::shipment::{self, ShipmentRef};
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Snapshot, Status, Timestamp,
};

/// A DHL time: with `Z` or an offset it is zoned; without one it stays naive
/// (DHL Express sends local wall-clock times), because inventing an offset
/// would shift it by hours.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    // `+0200` (no colon) is ISO 8601 too.
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(Timestamp::Zoned(dt));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Timestamp::Naive(n));
        }
    }
    None
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)
}

/// A place's address, or `None` when DHL gave nothing usable.
pub fn address(p: Option<&Place>) -> Option<Address> {
    let a = p?.address.as_ref()?;
    Address {
        city: a.address_locality.as_deref().and_then(clean),
        region: a.address_region.as_deref().and_then(clean),
        postal_code: a.postal_code.as_deref().and_then(clean),
        country: a.country_code.as_deref().and_then(clean),
    }
    .non_empty()
}

fn mapped(ev: &Event) -> Mapped {
    map_status(
        ev.status_code.as_deref(),
        &[ev.description.as_deref(), ev.status.as_deref()],
    )
}

fn event_text(ev: &Event) -> Option<String> {
    ev.description
        .as_deref()
        .and_then(clean)
        .or_else(|| ev.status.as_deref().and_then(clean))
}

fn checkpoint(ev: &Event) -> Result<Checkpoint, CarrierError> {
    let raw = ev.timestamp.as_deref().unwrap_or("");
    let occurred_at = parse_time(raw).ok_or_else(|| {
        CarrierError::malformed(format!("event has a bad or missing timestamp {raw:?}"))
    })?;
    let (status, detail) = map_status_only(
        ev.status_code.as_deref(),
        &[ev.description.as_deref(), ev.status.as_deref()],
    );
    Ok(Checkpoint {
        occurred_at,
        status,
        status_detail: detail.map(str::to_string),
        code: ev
            .status_code
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_string(),
        description: event_text(ev).unwrap_or_default(),
        location: address(ev.location.as_ref()),
    })
}

/// `estimatedDeliveryTimeFrame` (a window) over `estimatedTimeOfDelivery`
/// (a single moment, reported as its date: one instant is not a window).
fn eta(s: &Shipment) -> Result<Option<Eta>, CarrierError> {
    let frame = s.estimated_delivery_time_frame.as_ref();
    let from = frame.and_then(|f| f.estimated_from.as_deref().and_then(clean));
    let through = frame.and_then(|f| f.estimated_through.as_deref().and_then(clean));
    if let (Some(from), Some(through)) = (&from, &through) {
        if let (Some(start), Some(end)) = (parse_time(from), parse_time(through)) {
            return Ok(Some(Eta::Window { start, end }));
        }
        if let (Some(a), Some(b)) = (parse_date(from), parse_date(through)) {
            return Ok(Some(if a == b {
                Eta::Date { date: a }
            } else {
                Eta::Window {
                    start: Timestamp::naive(a, NaiveTime::MIN),
                    end: Timestamp::naive(b, end_of_day()),
                }
            }));
        }
        return Err(CarrierError::malformed(format!(
            "bad estimatedDeliveryTimeFrame {from:?}..{through:?}"
        )));
    }
    let Some(etod) = s.estimated_time_of_delivery.as_deref().and_then(clean) else {
        return Ok(None);
    };
    if let Some(t) = parse_time(&etod) {
        return Ok(Some(Eta::Date {
            date: t.local().date(),
        }));
    }
    parse_date(&etod)
        .map(|date| Some(Eta::Date { date }))
        .ok_or_else(|| CarrierError::malformed(format!("bad estimatedTimeOfDelivery {etod:?}")))
}

/// A readable name for a `PersonEntity` of any `@type`.
pub fn person_name(p: &Person) -> Option<String> {
    if let Some(n) = p.name.as_deref().and_then(clean) {
        return Some(n);
    }
    let parts: Vec<String> = [&p.given_name, &p.family_name]
        .into_iter()
        .filter_map(|x| x.as_deref().and_then(clean))
        .collect();
    if !parts.is_empty() {
        return Some(parts.join(" "));
    }
    p.organization_name.as_deref().and_then(clean)
}

/// `order_checkpoints`, faster on DHL's newest-first lists: a strictly
/// newest-first zoned history reversed is what its stable sort by instant
/// gives, without the insertion sort (quadratic on reversed input); anything
/// else is left to the sort.
fn order(cps: &mut [Checkpoint]) {
    let newest_first =
        cps.windows(2).all(
            |w| match (w[0].occurred_at.instant(), w[1].occurred_at.instant()) {
                (Some(a), Some(b)) => a > b,
                _ => false,
            },
        );
    if newest_first {
        cps.reverse();
    }
    order_checkpoints(cps);
}

/// One shipment into the normalized snapshot.
pub fn snapshot(s: &Shipment) -> Result<Snapshot, CarrierError> {
    let events = s.events.as_deref().unwrap_or(&[]);
    let mut checkpoints = Vec::with_capacity(events.len());
    for ev in events {
        checkpoints.push(checkpoint(ev)?);
    }
    // Every event has its time by now (a bad one failed above), in wire order.
    let times: Vec<Timestamp> = checkpoints.iter().map(|c| c.occurred_at).collect();
    order(&mut checkpoints);

    // DHL's own current status object, else the newest event.
    let newest_event = events
        .iter()
        .zip(&times)
        .max_by(|(_, x), (_, y)| x.chrono_cmp(y))
        .map(|(ev, _)| ev);
    let current = s.status.as_ref().or(newest_event);
    let (mut m, code, text) = match current {
        Some(ev) => (
            mapped(ev),
            ev.status_code.as_deref().and_then(clean),
            event_text(ev),
        ),
        None => (
            Mapped {
                status: Status::Pending,
                detail: None,
                rule: "dhl:no_events".into(),
            },
            None,
            None,
        ),
    };
    if s.return_flag == Some(true) {
        m = apply_return_flag(m);
    }
    let delivered = m.status == Status::Delivered;
    let pod = s
        .details
        .as_ref()
        .and_then(|d| d.proof_of_delivery.as_ref());
    let delivered_at = if delivered {
        checkpoints
            .iter()
            .rev()
            .find(|c| c.status == Status::Delivered)
            .map(|c| c.occurred_at)
            .or_else(|| {
                pod.and_then(|p| p.timestamp.as_deref())
                    .and_then(parse_time)
            })
            .or_else(|| {
                current
                    .and_then(|c| c.timestamp.as_deref())
                    .and_then(parse_time)
            })
    } else {
        None
    };
    let signed_by = pod
        .and_then(|p| p.signed.as_ref())
        .and_then(person_name)
        .filter(|_| delivered);
    let service = s
        .details
        .as_ref()
        .and_then(|d| d.product.as_ref())
        .and_then(|p| p.product_name.as_deref())
        .and_then(clean)
        .or_else(|| s.service.as_deref().and_then(clean));
    let updated_at = if checkpoints.is_empty() {
        current
            .and_then(|c| c.timestamp.as_deref())
            .and_then(parse_time)
    } else {
        None // `finish` takes the newest checkpoint
    };
    let snap = Snapshot {
        status: m.status,
        status_detail: m.detail.map(str::to_string),
        status_rule: m.rule,
        carrier_status_code: code,
        carrier_status_text: text,
        estimated_delivery: eta(s)?,
        original_estimated_delivery: None,
        delivered_at,
        signed_by,
        service,
        origin: address(s.origin.as_ref()),
        destination: address(s.destination.as_ref()),
        checkpoints,
        updated_at,
        fetched_at: None,
        shipment: None,
    };
    let mut snap = snap.finish();
    // The Unified API gives no ship date and its `id` is the tracking number
    // itself: a shipment began with its oldest event.
    let since = snap
        .checkpoints
        .iter()
        .map(|c| c.occurred_at)
        .min_by(|a, b| a.chrono_cmp(b));
    snap.shipment = Some(shipment::Shipment::of(ShipmentRef { id: None, since }));
    Ok(snap)
}

fn problem(resp: &HttpResponse) -> Option<Problem> {
    serde_json::from_slice::<Problem>(&resp.body)
        .ok()
        .filter(|p| p.title.is_some() || p.detail.is_some())
}

/// `title: detail` of a problem body, or a body excerpt.
fn problem_text(resp: &HttpResponse) -> String {
    match problem(resp) {
        Some(p) => match (p.title.as_deref(), p.detail.as_deref()) {
            // DHL's details often repeat the title ("Invalid input: ...").
            (Some(t), Some(d)) if d.starts_with(t) => d.to_string(),
            (Some(t), Some(d)) => format!("{t}: {d}"),
            (Some(t), None) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => resp.body_excerpt(),
        },
        None => resp.body_excerpt(),
    }
}

fn not_found(number: &str, message: String) -> CarrierError {
    CarrierError::NotFound {
        code: Some("404".into()),
        message: if message.is_empty() {
            format!("DHL has no shipment {number}")
        } else {
            message
        },
    }
}

fn error_status(numbers: &[&str], resp: &HttpResponse) -> Result<Vec<NumberResult>, CarrierError> {
    let text = problem_text(resp);
    match resp.status {
        // The documented "no result" answer: the number is unknown to DHL.
        404 => {
            if numbers.is_empty() {
                return Err(not_found("", text));
            }
            Ok(numbers
                .iter()
                .map(|n| NumberResult {
                    tracking_number: n.to_string(),
                    outcome: Err(not_found(n, text.clone())),
                })
                .collect())
        }
        401 | 403 => Err(CarrierError::Auth {
            message: format!("HTTP {}: {text}", resp.status),
        }),
        429 => Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        }),
        500..=599 => Err(CarrierError::Unavailable {
            status: resp.status,
            message: text,
        }),
        s => Err(CarrierError::Rejected {
            code: format!("HTTP {s}"),
            message: text,
        }),
    }
}

/// The outcome for one number's shipments. The Unified API lists several
/// `shipments[]` under one number (paginated, `limit=5`) when DHL services or
/// reuses share it: each readable one is a candidate and the SDK's shipment
/// rule picks the current one; a shipment that cannot be read only counts
/// when none can.
fn outcome(found: &[&Shipment]) -> Result<Snapshot, CarrierError> {
    match found {
        [one] => snapshot(one),
        several => {
            let mut first_err = None;
            let cands: Vec<Snapshot> = several
                .iter()
                .filter_map(|s| {
                    snapshot(s)
                        .map_err(|e| first_err.get_or_insert(e).clone())
                        .ok()
                })
                .collect();
            shipment::current(cands).ok_or_else(|| {
                first_err.unwrap_or_else(|| CarrierError::malformed("no candidate shipment"))
            })
        }
    }
}

/// Whether two ids are equal once whitespace is dropped and ASCII letters are
/// upper-cased: what comparing normalized copies says, without the copies.
fn same_id(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
    }
    norm(a).eq(norm(b))
}

/// Whether a shipment's id (a missing one reads as empty) is `number`.
fn id_matches(s: &Shipment, number: &str) -> bool {
    match &s.id {
        Some(WireId::Text(id)) => same_id(id, number),
        Some(WireId::Number(id)) => same_id(&id.to_string(), number),
        None => same_id("", number),
    }
}

/// Parses a track answer (see the crate docs for the error mapping).
pub fn parse_answer(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    if !(200..300).contains(&resp.status) {
        return error_status(numbers, resp);
    }
    let answer: Shipments = read_json(&resp.body).map_err(|e| {
        CarrierError::malformed(format!(
            "not the documented Unified API JSON ({e}): {}",
            resp.body_excerpt()
        ))
    })?;
    let id_of = |s: &Shipment| s.id.as_ref().map(|i| i.text()).unwrap_or_default();
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase()
    };
    if numbers.is_empty() {
        // Every id once: the shipments DHL lists under one number are one result.
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for s in &answer.shipments {
            let id = norm(&id_of(s));
            if seen.contains(&id) {
                continue;
            }
            let same: Vec<&Shipment> = answer
                .shipments
                .iter()
                .filter(|t| norm(&id_of(t)) == id)
                .collect();
            seen.push(id);
            out.push(NumberResult {
                tracking_number: id_of(s),
                outcome: outcome(&same),
            });
        }
        return Ok(out);
    }
    Ok(numbers
        .iter()
        .map(|n| {
            let mut found: Vec<&Shipment> = answer
                .shipments
                .iter()
                .filter(|s| id_matches(s, n))
                .collect();
            // One number per call: DHL may answer with its own id (a waybill
            // for a piece id), so a lone call's shipments are this number's.
            if found.is_empty() && numbers.len() == 1 {
                found = answer.shipments.iter().collect();
            }
            NumberResult {
                tracking_number: n.to_string(),
                outcome: if found.is_empty() {
                    Err(not_found(n, format!("the answer holds no shipment {n}")))
                } else {
                    outcome(&found)
                },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The id normalization before the allocation-free comparison.
    fn norm(s: &str) -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase()
    }

    proptest! {
        #[test]
        fn same_id_agrees_with_normalized_copies(
            a in "[aAbB1 \t\u{a0}\u{130}é]{0,6}",
            b in "[aAbB1 \t\u{a0}\u{130}é]{0,6}",
        ) {
            prop_assert_eq!(same_id(&a, &b), norm(&a) == norm(&b));
        }

        #[test]
        fn order_agrees_with_order_checkpoints(
            times in prop::collection::vec((0i64..4, prop::option::of(-2i32..3)), 0..6)
        ) {
            let base = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap().and_time(NaiveTime::MIN);
            let cps: Vec<Checkpoint> = times
                .iter()
                .enumerate()
                .map(|(i, &(hours, offset))| {
                    let local = base + chrono::Duration::hours(hours);
                    Checkpoint {
                        occurred_at: match offset {
                            Some(h) => Timestamp::zoned(local.date(), local.time(), h * 3600).unwrap(),
                            None => Timestamp::Naive(local),
                        },
                        status: Status::InTransit,
                        status_detail: None,
                        code: i.to_string(),
                        description: String::new(),
                        location: None,
                    }
                })
                .collect();
            let (mut fast, mut slow) = (cps.clone(), cps);
            order(&mut fast);
            order_checkpoints(&mut slow);
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn times_keep_their_provenance() {
        let z = parse_time("2018-03-02T07:53:47Z").unwrap();
        assert_eq!(z.to_wire(), "2018-03-02T07:53:47Z");
        let o = parse_time("2026-10-07T07:45:00+02:00").unwrap();
        assert_eq!(o.to_wire(), "2026-10-07T07:45:00+02:00");
        let o2 = parse_time("2026-10-07T07:45:00+0200").unwrap();
        assert_eq!(o2, o);
        let n = parse_time("2018-03-02T07:53:47").unwrap();
        assert!(!n.offset_known());
        assert!(!parse_time("2018-03-02T07:53").unwrap().offset_known());
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }
}
