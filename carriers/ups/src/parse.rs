//! Track API v1 answers → per-number normalized snapshots or typed errors.

use crate::mapping::{Input, Mapped, Rule, classify};
use crate::times;
use crate::wire::{self, Message, Package, Shipment as WireShipment, TrackApiResponse, txt};
use chrono::{Duration, NaiveDate, NaiveTime};
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::shipment;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Shipment, ShipmentRef,
    Snapshot, Status, Timestamp,
};

/// UPS error codes that mean the credentials or token were refused (UPS error
/// tables: 250002 invalid authentication, 250003 invalid access license,
/// 251004 token expired, UJ0001 invalid or missing token).
const AUTH_CODES: [&str; 4] = ["250002", "250003", "251004", "UJ0001"];
/// "Tracking Information Not Found" (a 200 warning, or an error on a 404).
const NOT_FOUND_CODE: &str = "TW0001";
/// UPS's "Too Many Requests" code.
const RATE_LIMIT_CODE: &str = "10429";

/// Parses one Track API answer for the numbers that were asked.
pub fn parse_track(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    if matches!(resp.status, 401 | 403) {
        return Err(auth_error(resp));
    }
    if let Some(err) = CarrierError::from_http_status(resp) {
        return Err(err);
    }
    if !(200..300).contains(&resp.status) {
        return error_status(numbers, resp);
    }
    // One up-front UTF-8 check lets serde_json borrow strings without
    // re-validating each of them.
    let text = std::str::from_utf8(&resp.body)
        .map_err(|e| CarrierError::malformed(format!("UPS track answer is not UTF-8: {e}")))?;
    let body: TrackApiResponse<'_> = serde_json::from_str(text).map_err(|e| malformed(&e, resp))?;
    match body.track_response {
        Some(tr) => Ok(shipments(numbers, &tr.shipment.0)),
        None => match body.response {
            Some(er) if !er.errors.is_empty() => map_errors(numbers, resp, &er.errors.0),
            _ => Err(CarrierError::malformed(format!(
                "UPS answer has neither trackResponse nor response.errors: {}",
                resp.body_excerpt()
            ))),
        },
    }
}

/// `code: message` of every UPS error in an error envelope, if the body is one.
pub fn error_summary(resp: &HttpResponse) -> Option<String> {
    let body: TrackApiResponse<'_> = serde_json::from_slice(&resp.body).ok()?;
    let errors = body.response?.errors.0;
    let parts: Vec<String> = errors
        .iter()
        .map(|m| format!("{}: {}", txt(&m.code), txt(&m.message)))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// An authentication failure, naming UPS's own error code when it sent one.
pub fn auth_error(resp: &HttpResponse) -> CarrierError {
    CarrierError::Auth {
        message: format!(
            "HTTP {}: {}",
            resp.status,
            error_summary(resp).unwrap_or_else(|| resp.body_excerpt())
        ),
    }
}

fn malformed(e: &serde_json::Error, resp: &HttpResponse) -> CarrierError {
    CarrierError::malformed(format!(
        "UPS track answer (HTTP {}) does not match the Track API v1 shape: {e}; body: {}",
        resp.status,
        resp.body_excerpt()
    ))
}

/// A non-2xx status that [`CarrierError::from_http_status`] leaves to us (400, 404...).
fn error_status(numbers: &[&str], resp: &HttpResponse) -> Result<Vec<NumberResult>, CarrierError> {
    let parsed: Option<TrackApiResponse<'_>> = serde_json::from_slice(&resp.body).ok();
    match parsed
        .and_then(|b| b.response)
        .filter(|r| !r.errors.is_empty())
    {
        Some(r) => map_errors(numbers, resp, &r.errors.0),
        None => Err(CarrierError::Rejected {
            code: format!("HTTP {}", resp.status),
            message: resp.body_excerpt(),
        }),
    }
}

fn per_number(numbers: &[&str], err: CarrierError) -> Result<Vec<NumberResult>, CarrierError> {
    if numbers.is_empty() {
        return Err(err);
    }
    Ok(numbers
        .iter()
        .map(|n| NumberResult {
            tracking_number: (*n).to_string(),
            outcome: Err(err.clone()),
        })
        .collect())
}

fn is_invalid_inquiry(code: &str) -> bool {
    // TV1002 "Invalid inquiry number": the number itself is bad input.
    code.eq_ignore_ascii_case("TV1002")
}

/// Maps UPS `response.errors` to typed errors; number-specific ones become
/// per-number outcomes (one number per request, so attribution is exact).
fn map_errors(
    numbers: &[&str],
    resp: &HttpResponse,
    errors: &[Message<'_>],
) -> Result<Vec<NumberResult>, CarrierError> {
    let describe = |m: &Message<'_>| format!("{}: {}", txt(&m.code), txt(&m.message));
    let Some(first) = errors.first() else {
        return Err(CarrierError::Rejected {
            code: format!("HTTP {}", resp.status),
            message: resp.body_excerpt(),
        });
    };
    if let Some(m) = errors.iter().find(|m| AUTH_CODES.contains(&txt(&m.code))) {
        return Err(CarrierError::Auth {
            message: describe(m),
        });
    }
    if errors.iter().any(|m| txt(&m.code) == RATE_LIMIT_CODE) {
        return Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if let Some(m) = errors
        .iter()
        .find(|m| txt(&m.code).eq_ignore_ascii_case(NOT_FOUND_CODE))
        .or_else(|| (resp.status == 404).then_some(first))
    {
        return per_number(
            numbers,
            CarrierError::NotFound {
                code: clean(txt(&m.code)),
                message: txt(&m.message).to_string(),
            },
        );
    }
    if let Some(m) = errors.iter().find(|m| is_invalid_inquiry(txt(&m.code))) {
        return per_number(
            numbers,
            CarrierError::Rejected {
                code: txt(&m.code).to_string(),
                message: txt(&m.message).to_string(),
            },
        );
    }
    Err(CarrierError::Rejected {
        code: txt(&first.code).to_string(),
        message: txt(&first.message).to_string(),
    })
}

/// Tracking numbers compare upper-cased without spaces (the daemon's normal form).
fn same_number(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| c.to_ascii_uppercase())
    }
    !a.trim().is_empty() && norm(a).eq(norm(b))
}

fn shipments(numbers: &[&str], ships: &[WireShipment<'_>]) -> Vec<NumberResult> {
    if numbers.is_empty() {
        // No numbers given (e.g. `trackd normalize`): report every number the
        // answer contains, under the number UPS echoes, once each (a reused
        // number's shipments are one result).
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for s in ships {
            let number = s
                .package
                .0
                .first()
                .map(|p| txt(&p.tracking_number))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| txt(&s.inquiry_number));
            if seen.iter().any(|n| same_number(n, number)) {
                continue;
            }
            seen.push(number);
            out.push(number_result(ships, number, None));
        }
        return out;
    }
    numbers
        .iter()
        .enumerate()
        .map(|(idx, number)| {
            let by_position = (ships.len() == numbers.len())
                .then(|| ships.get(idx))
                .flatten();
            number_result(ships, number, by_position)
        })
        .collect()
}

/// Whether shipment `s` answers for `number`.
fn answers_for(s: &WireShipment<'_>, number: &str) -> bool {
    same_number(txt(&s.inquiry_number), number)
        || s.package
            .0
            .iter()
            .any(|p| same_number(txt(&p.tracking_number), number))
}

/// The outcome for one number. UPS reuses numbers: when several packages in
/// the answer carry this number (in one `shipment` or several), each is a
/// candidate shipment and the SDK's shipment rule picks the current one. The
/// usual single package costs no more than before: no list is built.
fn number_result(
    ships: &[WireShipment<'_>],
    number: &str,
    by_position: Option<&WireShipment<'_>>,
) -> NumberResult {
    let mut matching = ships
        .iter()
        .flat_map(|s| s.package.0.iter())
        .filter(|p| same_number(txt(&p.tracking_number), number));
    let outcome = match (matching.next(), matching.next()) {
        (Some(first), Some(second)) => {
            let cands = [first, second]
                .into_iter()
                .chain(matching)
                .map(package_snapshot)
                .collect();
            shipment::current(cands).ok_or_else(|| CarrierError::malformed("no candidate shipment"))
        }
        // The package carrying the asked number is its answer.
        (Some(only), None) => Ok(package_snapshot(only)),
        (None, _) => match ships
            .iter()
            .find(|s| answers_for(s, number))
            .or(by_position)
        {
            Some(s) => shipment_outcome(s, number),
            None => Err(CarrierError::malformed(format!(
                "UPS answered {} shipment(s), none for {number}",
                ships.len()
            ))),
        },
    };
    NumberResult {
        tracking_number: number.to_string(),
        outcome,
    }
}

fn shipment_outcome(s: &WireShipment<'_>, number: &str) -> Result<Snapshot, CarrierError> {
    let pkg = s
        .package
        .0
        .iter()
        .find(|p| same_number(txt(&p.tracking_number), number))
        .or_else(|| s.package.0.first());
    if let Some(p) = pkg {
        return Ok(package_snapshot(p));
    }
    match s.warnings.0.first() {
        Some(w) => {
            let (code, message) = (txt(&w.code), txt(&w.message));
            if code.eq_ignore_ascii_case(NOT_FOUND_CODE) {
                Err(CarrierError::NotFound {
                    code: Some(code.to_string()),
                    message: message.to_string(),
                })
            } else {
                Err(CarrierError::Rejected {
                    code: code.to_string(),
                    message: message.to_string(),
                })
            }
        }
        None => Err(CarrierError::malformed(format!(
            "UPS shipment for {number} has neither package nor warnings"
        ))),
    }
}

fn input<'a>(st: &'a wire::Status<'_>) -> Input<'a> {
    let code = txt(&st.code);
    let mut status_code = txt(&st.status_code);
    let mut code = code;
    // currentStatus often carries the three-digit status code in `code`.
    if status_code.is_empty() && code.len() == 3 && code.bytes().all(|c| c.is_ascii_digit()) {
        status_code = code;
        code = "";
    }
    Input {
        kind: txt(&st.kind),
        code,
        status_code,
        description: txt(&st.description),
    }
}

/// Address from a UPS address object; empty strings become `None` and an address
/// with nothing usable becomes no location at all.
fn address(a: &wire::Address<'_>) -> Option<Address> {
    let country = clean(txt(&a.country_code))
        .or_else(|| {
            let c = txt(&a.country);
            (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then(|| c.to_string())
        })
        .map(|c| c.to_ascii_uppercase());
    Address {
        city: clean(txt(&a.city)),
        region: clean(txt(&a.state_province)),
        postal_code: clean(txt(&a.postal_code)),
        country,
    }
    .non_empty()
}

fn checkpoint_code(i: &Input<'_>) -> String {
    [i.code, i.status_code, i.kind]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string()
}

/// The normalized view of one package.
fn package_snapshot(p: &Package<'_>) -> Snapshot {
    let acts = &p.activity.0;
    let mut checkpoints = Vec::with_capacity(acts.len());
    // UPS lists activities newest first (Tracking.yaml, Activity): walk them
    // backwards so checkpoints come out oldest first in UPS's own order.
    for a in acts.iter().rev() {
        let Some(ts) = times::activity_time(
            txt(&a.date),
            txt(&a.time),
            txt(&a.gmt_date),
            txt(&a.gmt_time),
            txt(&a.gmt_offset),
        ) else {
            continue;
        };
        let st = a.status.as_ref();
        let i = st.map(input).unwrap_or_default();
        let m = classify(&i);
        checkpoints.push(Checkpoint {
            occurred_at: ts,
            status: m.status,
            status_detail: m.detail.map(str::to_string),
            code: checkpoint_code(&i),
            description: i.description.to_string(),
            location: a
                .location
                .as_ref()
                .and_then(|l| l.address.as_ref())
                .and_then(address),
        });
    }
    // The current status is UPS's newest activity (first with a status), else
    // `currentStatus` (which live answers often reduce to `{description, code}`).
    let current: Option<&wire::Status<'_>> = acts
        .iter()
        .find_map(|a| a.status.as_ref())
        .or(p.current_status.as_ref());
    let (status, detail, rule, code, text) = match current {
        Some(st) => {
            let i = input(st);
            let m: Mapped = classify(&i);
            (
                m.status,
                m.detail,
                m.rule_string(&i),
                clean(checkpoint_code(&i)),
                clean(i.description),
            )
        }
        None => {
            let m = Mapped {
                status: Status::Unknown,
                detail: None,
                rule: Rule::Unmapped,
            };
            (m.status, None, "ups:no-status".to_string(), None, None)
        }
    };

    let delivery = DeliveryDates::read(p);
    let mut snap = Snapshot {
        status,
        status_detail: detail.map(str::to_string),
        status_rule: rule,
        carrier_status_code: code,
        carrier_status_text: text,
        estimated_delivery: delivery.eta(),
        original_estimated_delivery: None,
        delivered_at: None,
        signed_by: p
            .delivery_information
            .as_ref()
            .and_then(|d| clean(txt(&d.received_by)))
            // UPS samples put a time ("163000") here: digits are not a name.
            .filter(|name| name.chars().any(char::is_alphabetic)),
        service: p.service.as_ref().and_then(|s| clean(txt(&s.description))),
        origin: party(p, &["ORIGIN", "SHIPPER", "SHIP_FROM", "SHIPFROM"]),
        destination: party(p, &["DESTINATION", "CONSIGNEE", "SHIP_TO", "SHIPTO"]),
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment: None,
    };
    snap = finish_in_carrier_order(snap);
    if snap.status == Status::Delivered {
        snap.delivered_at = snap
            .checkpoints
            .iter()
            .rev()
            .find(|c| c.status == Status::Delivered)
            .map(|c| c.occurred_at)
            .or_else(|| delivery.delivered_at());
    }
    snap
}

/// [`Snapshot::finish`] when UPS's order is already chronological (the usual
/// case); otherwise keep UPS's documented newest-first order and only fill
/// `updated_at`. Sorting naive local times by wall clock would reorder a journey
/// that crosses time zones (departed Atlanta 22:00 EST, arrived Los Angeles
/// 20:30 PST), and UPS gives no offset to sort them by.
///
/// It also names the shipment: UPS gives no shipment id or ship date, so a
/// shipment began with its oldest activity (the label, "Shipper created a
/// label"), which never moves.
fn finish_in_carrier_order(mut snap: Snapshot) -> Snapshot {
    if snap
        .checkpoints
        .is_sorted_by(|a, b| a.occurred_at.chrono_cmp(&b.occurred_at).is_le())
    {
        let mut snap = snap.finish();
        let since = snap.checkpoints.first().map(|c| c.occurred_at);
        snap.shipment = Some(Shipment::of(ShipmentRef { id: None, since }));
        return snap;
    }
    if snap.updated_at.is_none() {
        snap.updated_at = snap.checkpoints.last().map(|c| c.occurred_at);
    }
    let since = snap
        .checkpoints
        .iter()
        .map(|c| c.occurred_at)
        .min_by(|a, b| a.chrono_cmp(b));
    snap.shipment = Some(Shipment::of(ShipmentRef { id: None, since }));
    snap
}

/// First `packageAddress` whose type is one of `kinds` (the spec documents the
/// type only by its example `ORIGIN/DESTINATION`; numeric types are not guessed).
fn party(p: &Package<'_>, kinds: &[&str]) -> Option<Address> {
    p.package_address
        .0
        .iter()
        .find(|a| kinds.iter().any(|k| txt(&a.kind).eq_ignore_ascii_case(k)))
        .and_then(|a| a.address.as_ref())
        .and_then(address)
}

/// `deliveryDate[]` and `deliveryTime`, read once.
struct DeliveryDates {
    scheduled: Option<NaiveDate>,
    rescheduled: Option<NaiveDate>,
    delivered: Option<NaiveDate>,
    time_kind: String,
    start: Option<NaiveTime>,
    end: Option<NaiveTime>,
}

impl DeliveryDates {
    fn read(p: &Package<'_>) -> DeliveryDates {
        let mut d = DeliveryDates {
            scheduled: None,
            rescheduled: None,
            delivered: None,
            time_kind: String::new(),
            start: None,
            end: None,
        };
        for dd in &p.delivery_date.0 {
            let date = times::parse_date(txt(&dd.date));
            let kind = txt(&dd.kind);
            let slot = if kind.eq_ignore_ascii_case("SDD") {
                &mut d.scheduled
            } else if kind.eq_ignore_ascii_case("RDD") {
                &mut d.rescheduled
            } else if kind.eq_ignore_ascii_case("DEL") {
                &mut d.delivered
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = date;
            }
        }
        if let Some(t) = &p.delivery_time {
            d.time_kind = txt(&t.kind).to_ascii_uppercase();
            d.start = times::parse_time(txt(&t.start_time));
            d.end = times::parse_time(txt(&t.end_time));
        }
        d
    }

    /// RDD over SDD; a window when deliveryTime is a window (EDW/CDW/IDW), a
    /// "by HH:MM" promise (CMT/EOD with an end time) as a window from the start of
    /// that day, otherwise the date alone. DEL times are delivery times, not ETAs.
    fn eta(&self) -> Option<Eta> {
        let date = self.rescheduled.or(self.scheduled)?;
        let naive = |d: NaiveDate, t: NaiveTime| Timestamp::naive(d, t);
        let kind = self.time_kind.as_str();
        Some(match (kind, self.start, self.end) {
            ("EDW" | "CDW" | "IDW", Some(s), Some(e)) => {
                // A window past midnight ends the next day.
                let end_date = if e < s {
                    date + Duration::days(1)
                } else {
                    date
                };
                Eta::Window {
                    start: naive(date, s),
                    end: naive(end_date, e),
                }
            }
            ("EDW" | "CDW" | "IDW" | "CMT" | "EOD", None, Some(e)) => Eta::Window {
                start: naive(date, NaiveTime::MIN),
                end: naive(date, e),
            },
            _ => Eta::Date { date },
        })
    }

    /// The DEL date with the DEL time, when UPS gave both.
    fn delivered_at(&self) -> Option<Timestamp> {
        let date = self.delivered?;
        if self.time_kind != "DEL" {
            return None;
        }
        self.end.or(self.start).map(|t| Timestamp::naive(date, t))
    }
}
