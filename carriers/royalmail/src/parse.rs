//! Events-operation answers → per-number snapshots or typed errors.

use crate::codes::{self, Mapped};
use crate::country;
use crate::times;
use crate::wire::{Envelope, Event, MailPieces, WireError, ctxt, txt};
use std::borrow::Cow;
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, HttpResponse, NumberResult, Snapshot, Status,
};

/// "Barcode reference isn't recognised": the item is unknown to Royal Mail.
pub const NOT_FOUND_CODE: &str = "E1142";
/// Gateway "too many requests".
const RATE_LIMIT_CODE: &str = "E0010";
/// Gateway "internal server error" and "service unavailable".
const UNAVAILABLE_CODES: [&str; 2] = ["E0009", "E0001"];
/// "Tracking unavailable" for the item right now: worth retrying later.
const TRACKING_UNAVAILABLE_CODE: &str = "E1307";

/// Parses one events answer for the numbers that were asked (one per call).
pub fn parse_track(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    let env: Option<Envelope<'_>> = serde_json::from_slice(&resp.body).ok();
    match resp.status {
        401 | 403 => {
            return Err(CarrierError::Auth {
                message: format!("HTTP {}: {}", resp.status, summary(env.as_ref(), resp)),
            });
        }
        429 => {
            return Err(CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            });
        }
        500..=599 => {
            return Err(CarrierError::Unavailable {
                status: resp.status,
                message: summary(env.as_ref(), resp),
            });
        }
        _ => {}
    }
    let ok = (200..300).contains(&resp.status);
    let Some(env) = env else {
        return Err(if ok {
            let e = serde_json::from_slice::<Envelope<'_>>(&resp.body)
                .err()
                .map_or_else(String::new, |e| e.to_string());
            CarrierError::malformed(format!(
                "Royal Mail answer is not the documented JSON ({e}): {}",
                resp.body_excerpt()
            ))
        } else {
            CarrierError::Rejected {
                code: format!("HTTP {}", resp.status),
                message: resp.body_excerpt(),
            }
        });
    };
    if let Some(mp) = env.mail_pieces.as_ref().filter(|_| ok) {
        if let Some(err) = mp.error.as_ref().filter(|e| !txt(&e.error_code).is_empty()) {
            return map_errors(numbers, resp, &env, std::slice::from_ref(err));
        }
        return Ok(attribute(numbers, mp));
    }
    let errors = env.errors.clone().unwrap_or_default();
    if !errors.is_empty() {
        return map_errors(numbers, resp, &env, &errors);
    }
    if env.http_code.as_deref().map(str::trim) == Some("429") {
        return Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if !ok {
        return Err(CarrierError::Rejected {
            code: format!("HTTP {}", resp.status),
            message: summary(Some(&env), resp),
        });
    }
    Err(CarrierError::malformed(format!(
        "Royal Mail answer has neither mailPieces nor errors: {}",
        resp.body_excerpt()
    )))
}

/// `moreInformation`, else `httpMessage`, else the body excerpt.
fn summary(env: Option<&Envelope<'_>>, resp: &HttpResponse) -> String {
    let errs: Vec<String> = env
        .and_then(|e| e.errors.as_ref())
        .map(|es| es.iter().map(describe).collect())
        .unwrap_or_default();
    if !errs.is_empty() {
        return errs.join("; ");
    }
    env.and_then(|e| clean(txt(&e.more_information)).or_else(|| clean(txt(&e.http_message))))
        .unwrap_or_else(|| resp.body_excerpt())
}

fn describe(e: &WireError) -> String {
    format!("{}: {}", txt(&e.error_code), txt(&e.error_description))
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

/// Royal Mail error codes → typed errors; item errors (E11xx–E13xx) become the
/// number's own outcome (one number per call, so attribution is exact).
fn map_errors(
    numbers: &[&str],
    resp: &HttpResponse,
    env: &Envelope<'_>,
    errors: &[WireError],
) -> Result<Vec<NumberResult>, CarrierError> {
    let code_of = |e: &WireError| txt(&e.error_code).to_ascii_uppercase();
    if let Some(e) = errors.iter().find(|e| code_of(e) == NOT_FOUND_CODE) {
        return per_number(
            numbers,
            CarrierError::NotFound {
                code: Some(NOT_FOUND_CODE.into()),
                message: clean(txt(&e.error_description))
                    .unwrap_or_else(|| "barcode reference not recognised".into()),
            },
        );
    }
    if errors.iter().any(|e| code_of(e) == RATE_LIMIT_CODE)
        || env.http_code.as_deref().map(str::trim) == Some("429")
    {
        return Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if let Some(e) = errors.iter().find(|e| {
        let c = code_of(e);
        UNAVAILABLE_CODES.contains(&c.as_str()) || c == TRACKING_UNAVAILABLE_CODE
    }) {
        return Err(CarrierError::Unavailable {
            status: resp.status,
            message: describe(e),
        });
    }
    let first = errors.first().cloned().unwrap_or_default();
    let code = code_of(&first);
    let rejected = CarrierError::Rejected {
        code: if code.is_empty() {
            format!("HTTP {}", resp.status)
        } else {
            code.clone()
        },
        message: clean(txt(&first.error_description)).unwrap_or_else(|| summary(Some(env), resp)),
    };
    // E1xxx are about the item; E0xxx about the request as a whole.
    if code.starts_with("E1") {
        per_number(numbers, rejected)
    } else {
        Err(rejected)
    }
}

/// Numbers compare upper-cased without spaces.
fn same(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect()
    };
    !a.trim().is_empty() && norm(a) == norm(b)
}

/// The ids Royal Mail echoes for the item (1D barcode, 2D id, mail piece id).
fn echoed_ids<'b>(mp: &'b MailPieces<'_>) -> Vec<&'b str> {
    let s = mp.summary.as_ref();
    [
        s.map(|s| txt(&s.one_d_barcode)),
        s.map(|s| txt(&s.unique_item_id)),
        Some(txt(&mp.mail_piece_id)),
    ]
    .into_iter()
    .flatten()
    .filter(|id| !id.is_empty())
    .collect()
}

fn attribute(numbers: &[&str], mp: &MailPieces<'_>) -> Vec<NumberResult> {
    let ids = echoed_ids(mp);
    if numbers.is_empty() {
        let number = ids.first().copied().unwrap_or("").to_string();
        return vec![NumberResult {
            tracking_number: number,
            outcome: snapshot(mp),
        }];
    }
    numbers
        .iter()
        .map(|n| {
            // One number per call: the answer is that number's, even when Royal
            // Mail echoes another id form (asked by 1D barcode, echoes the 2D id).
            let ours = numbers.len() == 1 || ids.iter().any(|id| same(id, n));
            NumberResult {
                tracking_number: (*n).to_string(),
                outcome: if ours {
                    snapshot(mp)
                } else {
                    Err(CarrierError::malformed(format!(
                        "the Royal Mail answer is for {}, not {n}",
                        ids.first().copied().unwrap_or("another item")
                    )))
                },
            }
        })
        .collect()
}

fn checkpoint(ev: &Event<'_>) -> Result<Option<Checkpoint>, CarrierError> {
    let raw_time = ctxt(&ev.event_date_time);
    let code = ctxt(&ev.event_code).to_ascii_uppercase();
    if raw_time.is_empty() {
        // Nothing to place it in time: not a checkpoint.
        return Ok(None);
    }
    let occurred_at = times::parse_datetime(raw_time).ok_or_else(|| {
        CarrierError::malformed(format!(
            "Royal Mail event {code:?} has an unreadable eventDateTime {raw_time:?}"
        ))
    })?;
    // `map_code` without its rule text, which a checkpoint does not keep.
    let (status, detail) = codes::lookup(&code).unwrap_or((Status::Unknown, None));
    Ok(Some(Checkpoint {
        occurred_at,
        status,
        status_detail: detail.map(str::to_string),
        code,
        description: ctxt(&ev.event_name).to_string(),
        location: clean(ctxt(&ev.location_name)).map(|city| Address {
            city: Some(city),
            ..Address::default()
        }),
    }))
}

/// One item into the normalized snapshot.
pub fn snapshot(mp: &MailPieces<'_>) -> Result<Snapshot, CarrierError> {
    let summary = mp.summary.as_ref();
    let events = mp.events.as_deref().unwrap_or_default();
    if summary.is_none() && events.is_empty() {
        return Err(CarrierError::malformed(
            "Royal Mail mailPieces has neither summary nor events",
        ));
    }
    let mut checkpoints = Vec::with_capacity(events.len());
    for ev in events {
        checkpoints.extend(checkpoint(ev)?);
    }
    if checkpoints.is_empty()
        && let Some(s) = summary
    {
        // No event history: the summary's last event is still a fact.
        let last = Event {
            event_code: s.last_event_code.as_deref().map(Cow::Borrowed),
            event_name: s.last_event_name.as_deref().map(Cow::Borrowed),
            event_date_time: s.last_event_date_time.as_deref().map(Cow::Borrowed),
            location_name: s.last_event_location_name.as_deref().map(Cow::Borrowed),
        };
        checkpoints.extend(checkpoint(&last)?);
    }
    // Royal Mail lists events newest first with offsets: sorted by instant.
    trackd_carrier_sdk::model::order_checkpoints(&mut checkpoints);

    let newest_code = checkpoints
        .last()
        .map(|c| c.code.clone())
        .or_else(|| summary.and_then(|s| clean(txt(&s.last_event_code))));
    let last_event_code = summary.map(|s| txt(&s.last_event_code)).unwrap_or("");
    let category = summary.map(|s| txt(&s.status_category)).unwrap_or("");
    // The code that decides the status: the newest event's when trackd maps
    // it, else the summary's last event code, else the status category.
    let (mapped, status_code): (Mapped, Option<String>) = match &newest_code {
        Some(c) if codes::lookup(c).is_some() => (codes::map_code(c), newest_code.clone()),
        _ if codes::lookup(last_event_code).is_some() => (
            codes::map_code(last_event_code),
            Some(last_event_code.to_ascii_uppercase()),
        ),
        _ => (
            codes::map_category(category).unwrap_or_else(|| match &newest_code {
                Some(c) => codes::map_code(c),
                None => Mapped {
                    status: Status::Unknown,
                    detail: None,
                    rule: "royalmail:no-events".into(),
                },
            }),
            newest_code.clone(),
        ),
    };
    let delivered = mapped.status == Status::Delivered;
    let text = summary
        .and_then(|s| clean(txt(&s.status_description)))
        .or_else(|| checkpoints.last().and_then(|c| clean(&c.description)));
    let eta = mp.estimated_delivery.as_ref().and_then(|e| {
        times::eta(
            txt(&e.date),
            txt(&e.start_of_estimated_window),
            txt(&e.end_of_estimated_window),
        )
    });
    let country = |code: &str| {
        country::alpha2(code).map(|c| Address {
            country: Some(c),
            ..Address::default()
        })
    };
    let delivered_at = checkpoints
        .iter()
        .rev()
        .find(|c| delivered && c.status == Status::Delivered)
        .map(|c| c.occurred_at)
        .or_else(|| {
            mp.signature
                .as_ref()
                .filter(|_| delivered)
                .and_then(|s| times::parse_datetime(txt(&s.signature_date_time)))
        });
    let snap = Snapshot {
        status: mapped.status,
        status_detail: mapped.detail.map(str::to_string),
        status_rule: mapped.rule,
        carrier_status_code: status_code,
        carrier_status_text: text,
        estimated_delivery: eta,
        original_estimated_delivery: None,
        delivered_at,
        signed_by: mp
            .signature
            .as_ref()
            .and_then(|s| clean(txt(&s.recipient_name)))
            .filter(|_| delivered),
        service: summary.and_then(|s| clean(txt(&s.product_name))),
        origin: summary.and_then(|s| country(txt(&s.origin_country_code))),
        destination: summary.and_then(|s| country(txt(&s.destination_country_code))),
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment: None,
    };
    Ok(snap.finish())
}
