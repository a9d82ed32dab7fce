//! Parsing USPS Tracking v3.2 answers (and the v3 single-item shape, which
//! differs only in field names) into trackd's normalized model.

use crate::mapping::{Mapped, classify_event, contains_ci, map_category, map_event};
use crate::text::clean_html;
use crate::times::{LocalTime, event_time, fixed_date, parse_clock, parse_local};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use std::borrow::Cow;
use trackd_carrier_sdk::json::{Node, Obj, ObjExt};
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::shipment;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Shipment, ShipmentRef,
    Snapshot, Status, Timestamp,
};

/// A text field: strings as given, numbers and booleans as text, null/empty → None.
fn txt<'a>(o: &'a Obj<'_>, key: &str) -> Option<Cow<'a, str>> {
    match o.member(key)? {
        Node::Str(s) => Some(Cow::Borrowed(s.trim())).filter(|t| !t.is_empty()),
        Node::Number(n) => Some(Cow::Owned(n.to_string())),
        Node::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// The first present field among spellings (v3.2 `eventZIPCode`, v3 `eventZIP`).
fn txt_any<'a>(o: &'a Obj<'_>, keys: &[&str]) -> Option<Cow<'a, str>> {
    keys.iter().find_map(|k| txt(o, k))
}

fn html(o: &Obj<'_>, keys: &[&str]) -> Option<String> {
    txt_any(o, keys).and_then(|s| clean_html(&s))
}

fn address(
    o: &Obj<'_>,
    city: &[&str],
    state: &[&str],
    zip: &[&str],
    country: &[&str],
) -> Option<Address> {
    Address {
        city: html(o, city),
        region: txt_any(o, state).and_then(clean),
        postal_code: txt_any(o, zip).and_then(clean),
        country: txt_any(o, country).and_then(clean),
    }
    .non_empty()
}

/// Why a per-number or whole-response USPS error means "no such parcel".
fn is_not_found_text(message: &str) -> bool {
    [
        "not found",
        "could not locate",
        "not yet available",
        "may be incorrect",
    ]
    .iter()
    .any(|phrase| contains_ci(message, phrase))
}

/// The USPS `ErrorMessage` envelope: `{apiVersion, error: {code, message, errors: [...]}}`.
struct UspsError {
    code: Option<String>,
    message: String,
}

fn usps_error(o: &Obj<'_>) -> Option<UspsError> {
    let err = o.member("error")?;
    // The OAuth flavour is `{"error": "invalid_client", "error_description": "..."}`.
    if let Node::Str(code) = err {
        return Some(UspsError {
            code: Some(code.to_string()),
            message: txt(o, "error_description")
                .map(|s| s.into_owned())
                .unwrap_or_else(|| code.to_string()),
        });
    }
    let e = err.as_object()?;
    let first = e
        .member("errors")
        .and_then(Node::as_array)
        .and_then(|a| a.first())
        .and_then(Node::as_object);
    let sub_code = first.and_then(|f| txt(f, "code")).map(|s| s.into_owned());
    let detail = || {
        first
            .and_then(|f| txt(f, "detail").or_else(|| txt(f, "title")))
            .and_then(|s| clean_html(&s))
    };
    let message = html(e, &["message"])
        .or_else(detail)
        .unwrap_or_else(|| "USPS error without a message".into());
    Some(UspsError {
        code: txt(e, "code").map(|s| s.into_owned()).or(sub_code),
        message,
    })
}

/// Parses the body of any USPS error answer for a message.
pub fn error_message(resp: &HttpResponse) -> String {
    serde_json::from_slice::<Node>(&resp.body)
        .ok()
        .as_ref()
        .and_then(Node::as_object)
        .and_then(usps_error)
        .map(|e| match e.code {
            Some(c) => format!("{c}: {}", e.message),
            None => e.message,
        })
        .unwrap_or_else(|| resp.body_excerpt())
}

/// A per-number failure (an item of a 207 answer) as a typed error.
fn item_error(status: Option<&str>, err: Option<UspsError>) -> CarrierError {
    let (code, message) = match err {
        Some(e) => (e.code, e.message),
        None => (None, "USPS reported an error for this number".into()),
    };
    let status: u16 = status
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| code.as_deref().and_then(|c| c.parse().ok()))
        .unwrap_or(0);
    match status {
        404 => CarrierError::NotFound { code, message },
        400 if is_not_found_text(&message) => CarrierError::NotFound { code, message },
        401 | 403 => CarrierError::Auth { message },
        429 => CarrierError::RateLimited { retry_after: None },
        500..=599 => CarrierError::Unavailable { status, message },
        _ if is_not_found_text(&message) => CarrierError::NotFound { code, message },
        _ => CarrierError::Rejected {
            code: code.unwrap_or_else(|| format!("HTTP {status}")),
            message,
        },
    }
}

/// The checkpoint of one `trackingEvents` entry, or its code and text when it
/// carries no usable time (it still counts for the status; no time is invented).
fn checkpoint(ev: &Obj<'_>) -> Result<Checkpoint, (String, String)> {
    let code = txt(ev, "eventCode")
        .map(|s| s.into_owned())
        .unwrap_or_default();
    let description = html(ev, &["eventType"]).unwrap_or_default();
    let at = event_time(
        txt(ev, "eventTimestamp").as_deref(),
        txt(ev, "GMTTimestamp").as_deref(),
        txt(ev, "GMTOffset").as_deref(),
    );
    let Some(occurred_at) = at else {
        return Err((code, description));
    };
    let (status, detail, _) = classify_event(&code, &description);
    Ok(Checkpoint {
        occurred_at,
        status,
        status_detail: detail.map(str::to_string),
        location: address(
            ev,
            &["eventCity"],
            &["eventState"],
            &["eventZIPCode", "eventZIP"],
            &["eventCountry"],
        ),
        code,
        description,
    })
}

fn date_of(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    fixed_date(s)
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .or_else(|| parse_local(s).map(|l| wall(&l).date()))
}

fn wall(l: &LocalTime) -> NaiveDateTime {
    match l {
        LocalTime::Wall(n) => *n,
        LocalTime::Offset(d) => d.naive_local(),
    }
}

/// "By" a time on a date: a window from the start of that day.
fn by_time(date: NaiveDate, end: NaiveTime) -> Eta {
    Eta::Window {
        start: Timestamp::naive(date, NaiveTime::MIN),
        end: Timestamp::naive(date, end),
    }
}

/// A timestamp ETA field: a time of 00:00 means "that date"; another time is a
/// "by" time. Explicit offsets are kept; a `Z` is read as the wall clock like
/// every USPS local field.
fn eta_from_timestamp(s: &str) -> Option<Eta> {
    let l = parse_local(s)?;
    let n = wall(&l);
    if n.time() == NaiveTime::MIN {
        return Some(Eta::Date { date: n.date() });
    }
    let zoned_start = match l {
        LocalTime::Offset(dt) => dt
            .offset()
            .from_local_datetime(&n.date().and_time(NaiveTime::MIN))
            .single()
            .map(|start| (start, dt)),
        LocalTime::Wall(_) => None,
    };
    Some(match zoned_start {
        Some((start, end)) => Eta::Window {
            start: Timestamp::Zoned(start),
            end: Timestamp::Zoned(end),
        },
        None => by_time(n.date(), n.time()),
    })
}

/// The delivery promise, most precise first: the predicted window, the
/// expected date (with its "by" time), the predicted date, then the guarantee.
/// v3.2 nests these in `deliveryDateExpectation`; v3 has them flat.
fn eta(item: &Obj<'_>) -> Option<Eta> {
    let nested = item
        .member("deliveryDateExpectation")
        .and_then(Node::as_object);
    let f = |key: &str| nested.and_then(|n| txt(n, key)).or_else(|| txt(item, key));
    let predicted = f("predictedDeliveryDate").and_then(|s| date_of(&s));
    let expected = f("expectedDeliveryDate")
        .and_then(|s| date_of(&s))
        .or_else(|| f("expectedDeliveryTimeStamp").and_then(|s| date_of(&s)));
    let window = (
        f("predictedDeliveryWindowStartTime").and_then(|s| parse_clock(&s)),
        f("predictedDeliveryWindowEndTime").and_then(|s| parse_clock(&s)),
    );
    if let (Some(date), (Some(start), Some(end))) = (predicted.or(expected), window) {
        let start_at = date.and_time(start);
        let mut end_at = date.and_time(end);
        if end_at <= start_at {
            end_at += Duration::days(1);
        }
        return Some(Eta::Window {
            start: Timestamp::Naive(start_at),
            end: Timestamp::Naive(end_at),
        });
    }
    if let Some(date) = expected {
        let end_of_day = f("endOfDay").and_then(|s| parse_clock(&s));
        return match (end_of_day, f("expectedDeliveryDate")) {
            (Some(by), _) => Some(by_time(date, by)),
            (None, Some(_)) => Some(Eta::Date { date }),
            // v3 `expectedDeliveryTimeStamp`: a date, or a "by" date-time.
            (None, None) => f("expectedDeliveryTimeStamp").and_then(|s| eta_from_timestamp(&s)),
        };
    }
    if let Some(date) = predicted {
        return Some(Eta::Date { date });
    }
    if let Some(e) = f("predictedDeliveryTimeStamp").and_then(|s| eta_from_timestamp(&s)) {
        return Some(e);
    }
    // Guaranteed: a date, a date-time, or text ("3 Business Days", not a date).
    f("guaranteedDeliveryDate")
        .or_else(|| f("guaranteedDeliveryTimeStamp"))
        .and_then(|s| eta_from_timestamp(&s))
}

/// One found parcel into the normalized snapshot.
fn snapshot(item: &Obj<'_>) -> Result<Snapshot, CarrierError> {
    let events = match item.member("trackingEvents") {
        None | Some(Node::Null) => Vec::new(),
        Some(Node::Array(a)) => a.iter().collect(),
        Some(other) => {
            return Err(CarrierError::malformed(format!(
                "trackingEvents is not an array: {}",
                short(other)
            )));
        }
    };
    let mut checkpoints = Vec::with_capacity(events.len());
    // USPS lists events newest first; the first one decides when none has a time.
    let mut newest_wire: Option<(Mapped, String, String)> = None;
    for ev in events {
        let ev = ev
            .as_object()
            .ok_or_else(|| CarrierError::malformed("a tracking event is not an object"))?;
        let cp = checkpoint(ev);
        if newest_wire.is_none() {
            let (code, description) = match &cp {
                Ok(c) => (c.code.clone(), c.description.clone()),
                Err((code, description)) => (code.clone(), description.clone()),
            };
            newest_wire = Some((map_event(&code, &description), code, description));
        }
        checkpoints.extend(cp.ok());
    }
    trackd_carrier_sdk::model::order_checkpoints(&mut checkpoints);
    let newest = checkpoints.last();
    let (mapped, code, text) = match (newest, newest_wire) {
        (Some(cp), _) => (
            map_event(&cp.code, &cp.description),
            Some(cp.code.clone()),
            clean(&cp.description),
        ),
        (None, Some((m, code, text))) => (m, clean(code), clean(text)),
        (None, None) => {
            let category = txt(item, "statusCategory").map(|s| s.into_owned());
            let m = match category.as_deref() {
                Some(c) => map_category(c).unwrap_or(Mapped {
                    status: Status::Unknown,
                    detail: None,
                    rule: format!("usps:unmapped;statusCategory={c}"),
                }),
                None => Mapped {
                    status: Status::Pending,
                    detail: None,
                    rule: "usps:no_events".into(),
                },
            };
            (m, None, html(item, &["status"]))
        }
    };
    let delivered = mapped.status == Status::Delivered;
    let delivery_event = checkpoints
        .iter()
        .rev()
        .find(|c| delivered && c.status == Status::Delivered);
    let signed_by = if delivered {
        // The signer sits on the delivery event (`recipientName`, v3 `name`).
        item.member("trackingEvents")
            .and_then(Node::as_array)
            .into_iter()
            .flatten()
            .filter_map(Node::as_object)
            .find(|ev| {
                txt(ev, "eventCode").is_some_and(|c| classify_event(&c, "").0 == Status::Delivered)
            })
            .and_then(|ev| html(ev, &["recipientName", "name"]))
    } else {
        None
    };
    let snapshot = Snapshot {
        status: mapped.status,
        status_detail: mapped.detail.map(str::to_string),
        status_rule: mapped.rule,
        carrier_status_code: code,
        carrier_status_text: text,
        estimated_delivery: eta(item),
        original_estimated_delivery: None,
        delivered_at: delivery_event.map(|c| c.occurred_at),
        signed_by,
        service: html(item, &["mailClass"]),
        origin: address(
            item,
            &["originCity"],
            &["originState"],
            &["originZIPCode", "originZIP"],
            &["originCountry", "originCountryCode"],
        ),
        destination: address(
            item,
            &["destinationCity"],
            &["destinationState"],
            &["destinationZIPCode", "destinationZIP"],
            &["destinationCountry", "destinationCountryCode"],
        ),
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment: None,
    };
    let mut snapshot = snapshot.finish();
    // `mailingDate` is USPS's own key for "duplicate tracking number
    // scenarios" (tracking-v3r2 `MailingDate`); without it a shipment began
    // with its oldest event.
    let since = txt(item, "mailingDate")
        .and_then(|d| fixed_date(&d).or_else(|| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
        .map(|d| Timestamp::naive(d, NaiveTime::MIN))
        .or_else(|| snapshot.checkpoints.first().map(|c| c.occurred_at));
    snapshot.shipment = Some(Shipment::of(ShipmentRef { id: None, since }));
    Ok(snapshot)
}

fn short(v: &Node<'_>) -> String {
    let s = v.to_value().to_string();
    s.chars().take(60).collect()
}

/// One item of the answer array: a tracking detail, or a per-number failure.
fn item_outcome(item: &Obj<'_>) -> Result<Snapshot, CarrierError> {
    if item.contains_key("error") {
        let status = txt(item, "statusCode");
        return Err(item_error(status.as_deref(), usps_error(item)));
    }
    snapshot(item)
}

/// Several items for one number: USPS reused it (each item is one mailing,
/// told apart by `mailingDate`). Each item with tracking data is a candidate
/// and the SDK's shipment rule picks the current one; per-item errors only
/// count when no item has data.
fn several_outcome(items: &[&Obj<'_>]) -> Result<Snapshot, CarrierError> {
    let mut first_err = None;
    let cands: Vec<Snapshot> = items
        .iter()
        .filter_map(|i| {
            item_outcome(i)
                .map_err(|e| first_err.get_or_insert(e).clone())
                .ok()
        })
        .collect();
    shipment::current(cands).ok_or_else(|| {
        first_err.unwrap_or_else(|| CarrierError::malformed("no candidate shipment"))
    })
}

fn item_number(item: &Obj<'_>) -> Option<String> {
    txt(item, "trackingNumber").map(|s| s.trim().to_ascii_uppercase())
}

/// Whether an item answers for `want` (trimmed, any case): what comparing
/// [`item_number`]s says, without the copies.
fn is_number(item: &Obj<'_>, want: &str) -> bool {
    txt(item, "trackingNumber").is_some_and(|n| n.trim().eq_ignore_ascii_case(want.trim()))
}

/// Whole-response errors first, then per-number outcomes.
pub fn parse_answer(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    let status = resp.status;
    if status == 429 {
        return Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if status == 401 || status == 403 {
        return Err(CarrierError::Auth {
            message: format!("HTTP {status}: {}", error_message(resp)),
        });
    }
    if (500..=599).contains(&status) {
        return Err(CarrierError::Unavailable {
            status,
            message: error_message(resp),
        });
    }
    let body: Option<Node> = serde_json::from_slice(&resp.body).ok();
    if !(200..300).contains(&status) {
        let err = body.as_ref().and_then(Node::as_object).and_then(usps_error);
        let message = err
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| resp.body_excerpt());
        // An unknown number answers 404 (or 400 "status update not yet
        // available"); that is each asked number's outcome, not a failure.
        if !numbers.is_empty() && (status == 404 || is_not_found_text(&message)) {
            let code = err.and_then(|e| e.code);
            return Ok(numbers
                .iter()
                .map(|n| NumberResult {
                    tracking_number: n.to_string(),
                    outcome: Err(CarrierError::NotFound {
                        code: code.clone(),
                        message: message.clone(),
                    }),
                })
                .collect());
        }
        return Err(CarrierError::Rejected {
            code: err
                .and_then(|e| e.code)
                .unwrap_or_else(|| format!("HTTP {status}")),
            message,
        });
    }
    let body = body.ok_or_else(|| {
        CarrierError::malformed(format!("not the documented JSON: {}", resp.body_excerpt()))
    })?;
    let items: Vec<&Obj<'_>> = match &body {
        Node::Array(a) if a.is_empty() => {
            return Err(CarrierError::malformed("empty tracking answer array"));
        }
        Node::Array(a) => a
            .iter()
            .map(|v| {
                v.as_object()
                    .ok_or_else(|| CarrierError::malformed("an answer item is not an object"))
            })
            .collect::<Result<_, _>>()?,
        // The v3 single-number endpoint answers one object.
        Node::Object(o) if o.contains_key("trackingNumber") || o.contains_key("trackingEvents") => {
            vec![o.as_slice()]
        }
        Node::Object(o) => {
            return Err(match usps_error(o) {
                Some(e) => item_error(e.code.clone().as_deref(), Some(e)),
                None => CarrierError::malformed(format!(
                    "not a tracking answer: {}",
                    resp.body_excerpt()
                )),
            });
        }
        _ => {
            return Err(CarrierError::malformed(format!(
                "not a tracking answer: {}",
                resp.body_excerpt()
            )));
        }
    };
    if numbers.is_empty() {
        // Every number in the answer once; a reused number's items are one result.
        let mut out: Vec<NumberResult> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for i in &items {
            let Some(number) = item_number(i) else {
                out.push(NumberResult {
                    tracking_number: String::new(),
                    outcome: item_outcome(i),
                });
                continue;
            };
            if seen.contains(&number) {
                continue;
            }
            let same: Vec<&Obj<'_>> = items
                .iter()
                .copied()
                .filter(|j| is_number(j, &number))
                .collect();
            let outcome = match same.as_slice() {
                [one] => item_outcome(one),
                several => several_outcome(several),
            };
            seen.push(number.clone());
            out.push(NumberResult {
                tracking_number: number,
                outcome,
            });
        }
        return Ok(out);
    }
    Ok(numbers
        .iter()
        .map(|n| {
            let matching: Vec<&Obj<'_>> =
                items.iter().copied().filter(|i| is_number(i, n)).collect();
            let outcome = match matching.as_slice() {
                [] => items
                    .first()
                    // One number asked, one item back (USPS masks numbers in some answers).
                    .filter(|_| numbers.len() == 1 && items.len() == 1)
                    .map_or_else(
                        || {
                            Err(CarrierError::malformed(
                                "the answer does not include this tracking number",
                            ))
                        },
                        |i| item_outcome(i),
                    ),
                [one] => item_outcome(one),
                several => several_outcome(several),
            };
            NumberResult {
                tracking_number: n.to_string(),
                outcome,
            }
        })
        .collect())
}
