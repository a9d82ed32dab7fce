//! Parsing USPS Tracking v3.2 answers (and the v3 single-item shape, which
//! differs only in field names) into trackd's normalized model.

use crate::mapping::{Mapped, classify_event, contains_ci, map_category, map_event};
use crate::text::clean_html;
use crate::times::{LocalTime, event_time, fixed_date, parse_clock, parse_local};
use crate::wire::{Answer, ErrorValue, EtaKey, Event, Events, Item, Place, read_answer};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use trackd_carrier_sdk::json::Node;
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::shipment;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Shipment, ShipmentRef,
    Snapshot, Status, Timestamp,
};

/// A text member of a typed view (see [`crate::wire::Text`]) as USPS means it.
fn html_of(text: Option<&str>) -> Option<String> {
    text.and_then(clean_html)
}

fn address(
    city: Option<&str>,
    state: Option<&str>,
    zip: Option<&str>,
    country: Option<&str>,
) -> Option<Address> {
    Address {
        city: html_of(city),
        region: state.and_then(clean),
        postal_code: zip.and_then(clean),
        country: country.and_then(clean),
    }
    .non_empty()
}

/// An item's origin or destination; the v3.2 spellings win over the v3 ones.
fn place(p: &Place<'_>) -> Option<Address> {
    address(
        p.city.as_deref(),
        p.state.as_deref(),
        p.zip_code.as_deref().or(p.zip.as_deref()),
        p.country.as_deref().or(p.country_code.as_deref()),
    )
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

/// The USPS error of an item or envelope (its `error` and, for the OAuth
/// flavour, `error_description`).
fn usps_error(item: &Item<'_>) -> Option<UspsError> {
    let description = item.error_description.as_deref();
    let e = match item.error.as_ref()? {
        // The OAuth flavour is `{"error": "invalid_client", "error_description": "..."}`.
        ErrorValue::Code(code) => {
            return Some(UspsError {
                code: Some(code.to_string()),
                message: description.map_or_else(|| code.to_string(), str::to_owned),
            });
        }
        ErrorValue::Object(e) => e,
        ErrorValue::Other => return None,
    };
    let first = e.first.as_ref();
    let sub_code = first.and_then(|f| f.code.as_deref()).map(str::to_owned);
    let detail = || html_of(first.and_then(|f| f.detail.as_deref().or(f.title.as_deref())));
    let message = html_of(e.message.as_deref())
        .or_else(detail)
        .unwrap_or_else(|| "USPS error without a message".into());
    Some(UspsError {
        code: e.code.as_deref().map(str::to_owned).or(sub_code),
        message,
    })
}

/// The USPS error of a whole body, when it is an object carrying one.
fn body_error(body: Option<&Answer<'_>>) -> Option<UspsError> {
    match body? {
        Answer::One(o) => usps_error(o),
        _ => None,
    }
}

/// Parses the body of any USPS error answer for a message.
pub fn error_message(resp: &HttpResponse) -> String {
    body_error(read_answer(&resp.body).as_ref())
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
        // A 400 whose text says "not found" is one too (the `_ if` arm below).
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
fn checkpoint(ev: &Event<'_>) -> Result<Checkpoint, (String, String)> {
    let code = ev.code.as_deref().map(str::to_owned).unwrap_or_default();
    let description = html_of(ev.event_type.as_deref()).unwrap_or_default();
    let at = event_time(
        ev.timestamp.as_deref(),
        ev.gmt_timestamp.as_deref(),
        ev.gmt_offset.as_deref(),
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
            ev.city.as_deref(),
            ev.state.as_deref(),
            ev.zip_code.as_deref().or(ev.zip.as_deref()),
            ev.country.as_deref(),
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
fn eta(item: &Item<'_>) -> Option<Eta> {
    let nested = item.expectation.as_ref();
    let f = |key: EtaKey| {
        nested
            .and_then(|n| n.get(key))
            .or_else(|| item.eta.get(key))
    };
    let predicted = f(EtaKey::PredictedDate).and_then(date_of);
    let expected = f(EtaKey::ExpectedDate)
        .and_then(date_of)
        .or_else(|| f(EtaKey::ExpectedTimeStamp).and_then(date_of));
    let window = (
        f(EtaKey::WindowStart).and_then(parse_clock),
        f(EtaKey::WindowEnd).and_then(parse_clock),
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
        let end_of_day = f(EtaKey::EndOfDay).and_then(parse_clock);
        return match (end_of_day, f(EtaKey::ExpectedDate)) {
            (Some(by), _) => Some(by_time(date, by)),
            (None, Some(_)) => Some(Eta::Date { date }),
            // v3 `expectedDeliveryTimeStamp`: a date, or a "by" date-time.
            (None, None) => f(EtaKey::ExpectedTimeStamp).and_then(eta_from_timestamp),
        };
    }
    if let Some(date) = predicted {
        return Some(Eta::Date { date });
    }
    if let Some(e) = f(EtaKey::PredictedTimeStamp).and_then(eta_from_timestamp) {
        return Some(e);
    }
    // Guaranteed: a date, a date-time, or text ("3 Business Days", not a date).
    f(EtaKey::GuaranteedDate)
        .or_else(|| f(EtaKey::GuaranteedTimeStamp))
        .and_then(eta_from_timestamp)
}

/// One found parcel into the normalized snapshot.
fn snapshot(item: &Item<'_>) -> Result<Snapshot, CarrierError> {
    let events: &[Option<Event<'_>>] = match &item.tracking_events {
        None | Some(Events::Null) => &[],
        Some(Events::List(a)) => a,
        Some(Events::Other(other)) => {
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
            .as_ref()
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
    // USPS lists events newest first. Strictly descending instants have one
    // sorted order, the reverse: reversing first leaves the SDK's stable sort
    // nothing to move (its insertion sort moves whole checkpoints n²/2 times
    // on a reversed list).
    let descending = checkpoints.windows(2).all(|w| {
        matches!(
            (w[0].occurred_at.instant(), w[1].occurred_at.instant()),
            (Some(newer), Some(older)) if newer > older
        )
    });
    if descending {
        checkpoints.reverse();
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
            let m = match item.status_category.as_deref() {
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
            (m, None, html_of(item.status.as_deref()))
        }
    };
    let delivered = mapped.status == Status::Delivered;
    let delivery_event = checkpoints
        .iter()
        .rev()
        .find(|c| delivered && c.status == Status::Delivered);
    let signed_by = if delivered {
        // The signer sits on the delivery event (`recipientName`, v3 `name`).
        events
            .iter()
            .flatten()
            .find(|ev| {
                ev.code
                    .as_deref()
                    .is_some_and(|c| classify_event(c, "").0 == Status::Delivered)
            })
            .and_then(|ev| html_of(ev.recipient_name.as_deref().or(ev.name.as_deref())))
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
        service: html_of(item.mail_class.as_deref()),
        origin: place(&item.origin),
        destination: place(&item.destination),
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment: None,
    };
    let mut snapshot = snapshot.finish();
    // `mailingDate` is USPS's own key for "duplicate tracking number
    // scenarios" (tracking-v3r2 `MailingDate`); without it a shipment began
    // with its oldest event.
    let since = item
        .mailing_date
        .as_deref()
        .and_then(|d| fixed_date(d).or_else(|| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
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
fn item_outcome(item: &Item<'_>) -> Result<Snapshot, CarrierError> {
    if item.error.is_some() {
        return Err(item_error(item.status_code.as_deref(), usps_error(item)));
    }
    snapshot(item)
}

/// Several items for one number: USPS reused it (each item is one mailing,
/// told apart by `mailingDate`). Each item with tracking data is a candidate
/// and the SDK's shipment rule picks the current one; per-item errors only
/// count when no item has data.
fn several_outcome(items: &[&Item<'_>]) -> Result<Snapshot, CarrierError> {
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

/// The item's `trackingNumber` as text (`None` when absent or not text).
fn number_text<'a>(item: &'a Item<'_>) -> Option<&'a str> {
    item.tracking_number.as_ref()?.as_deref()
}

fn item_number(item: &Item<'_>) -> Option<String> {
    number_text(item).map(|s| s.trim().to_ascii_uppercase())
}

/// Whether an item answers for `want` (trimmed, any case): what comparing
/// [`item_number`]s says, without the copies.
fn is_number(item: &Item<'_>, want: &str) -> bool {
    number_text(item).is_some_and(|n| n.trim().eq_ignore_ascii_case(want.trim()))
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
    if !(200..300).contains(&status) {
        let err = body_error(read_answer(&resp.body).as_ref());
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
    // The typed views read what the parser needs in one pass (see `wire`).
    let body = read_answer(&resp.body).ok_or_else(|| {
        CarrierError::malformed(format!("not the documented JSON: {}", resp.body_excerpt()))
    })?;
    let items: Vec<&Item<'_>> = match &body {
        Answer::Items(a) if a.is_empty() => {
            return Err(CarrierError::malformed("empty tracking answer array"));
        }
        Answer::Items(a) => a
            .iter()
            .map(|v| {
                v.as_ref()
                    .ok_or_else(|| CarrierError::malformed("an answer item is not an object"))
            })
            .collect::<Result<_, _>>()?,
        // The v3 single-number endpoint answers one object.
        Answer::One(o) if o.tracking_number.is_some() || o.tracking_events.is_some() => {
            vec![&**o]
        }
        Answer::One(o) => {
            return Err(match usps_error(o) {
                Some(e) => item_error(e.code.clone().as_deref(), Some(e)),
                None => CarrierError::malformed(format!(
                    "not a tracking answer: {}",
                    resp.body_excerpt()
                )),
            });
        }
        Answer::Other => {
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
            let same: Vec<&Item<'_>> = items
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
            let matching: Vec<&Item<'_>> =
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
