//! Track API answers → normalized results: per-number snapshots or errors
//! inside a 200, typed whole-response errors otherwise.

use crate::mapping::{Mapped, Rule, classify, classify_lazy};
use crate::times;
use crate::wire::{self, ApiError, CompleteTrackResult, TrackAnswer, TrackResult};
use std::borrow::Cow;
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::shipment;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Shipment, ShipmentRef,
    Snapshot, Status,
};

fn txt<'a>(s: &'a Option<Cow<'_, str>>) -> &'a str {
    s.as_deref().map(str::trim).unwrap_or("")
}

/// `CODE: message` of a FedEx error, for messages.
fn describe(e: &ApiError) -> String {
    match (txt(&e.code), txt(&e.message)) {
        ("", "") => "no error details".into(),
        (c, "") => c.to_string(),
        ("", m) => m.to_string(),
        (c, m) => format!("{c}: {m}"),
    }
}

fn is_auth_code(code: &str) -> bool {
    let c = code.to_ascii_uppercase();
    c.contains("NOT.AUTHORIZED") || c.contains("FORBIDDEN") || c.contains("UNAUTHORIZED")
}

fn is_rate_code(code: &str) -> bool {
    let c = code.to_ascii_uppercase();
    c.contains("TOO.MANY.REQUESTS") || c.contains("RATE.LIMIT") || c.contains("QUOTA")
}

fn is_unavailable_code(code: &str) -> bool {
    let c = code.to_ascii_uppercase();
    c.contains("UNAVAILABLE") || c.contains("INTERNAL.SERVER") || c.contains("SYSTEM.ERROR")
}

/// A whole-response error from the HTTP status and FedEx's `errors[]` envelope.
pub fn response_error(resp: &HttpResponse) -> CarrierError {
    let errors: Vec<ApiError> = serde_json::from_slice::<TrackAnswer>(&resp.body)
        .ok()
        .and_then(|a| a.errors)
        .unwrap_or_default();
    let first = errors.first();
    let detail = first.map_or_else(|| resp.body_excerpt(), describe);
    let code = first.map(|e| txt(&e.code).to_string()).unwrap_or_default();
    match resp.status {
        401 | 403 => CarrierError::Auth {
            message: format!("HTTP {}: {detail}", resp.status),
        },
        429 => CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        },
        500..=599 => CarrierError::Unavailable {
            status: resp.status,
            message: detail,
        },
        _ if is_auth_code(&code) => CarrierError::Auth {
            message: format!("HTTP {}: {detail}", resp.status),
        },
        _ if is_rate_code(&code) => CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        },
        _ if is_unavailable_code(&code) => CarrierError::Unavailable {
            status: resp.status,
            message: detail,
        },
        _ if first.is_some() => CarrierError::Rejected {
            code: if code.is_empty() {
                format!("HTTP {}", resp.status)
            } else {
                code
            },
            message: first
                .map(|e| txt(&e.message).to_string())
                .unwrap_or_default(),
        },
        _ => CarrierError::Rejected {
            code: format!("HTTP {}", resp.status),
            message: resp.body_excerpt(),
        },
    }
}

/// A per-number `error` inside a 200.
fn number_error(e: &ApiError) -> CarrierError {
    let code = txt(&e.code).to_string();
    let message = txt(&e.message).to_string();
    let upper = code.to_ascii_uppercase();
    if upper.contains("NOTFOUND") || upper.contains("NOT.FOUND") {
        CarrierError::NotFound {
            code: Some(code),
            message,
        }
    } else if is_unavailable_code(&upper) {
        CarrierError::Unavailable {
            status: 200,
            message: describe(e),
        }
    } else {
        CarrierError::Rejected { code, message }
    }
}

fn address(a: &wire::Address) -> Option<Address> {
    Address {
        city: a.city.as_deref().and_then(clean),
        region: a.state_or_province_code.as_deref().and_then(clean),
        postal_code: a.postal_code.as_deref().and_then(clean),
        country: a
            .country_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_ascii_uppercase),
    }
    .non_empty()
}

fn contact_address(c: &Option<wire::ContactAndAddress>) -> Option<Address> {
    c.as_ref()?.address.as_ref().and_then(address)
}

fn location_address(l: &Option<wire::LocationDetail>) -> Option<Address> {
    contact_address(&l.as_ref()?.location_contact_and_address)
}

/// A scan's checkpoint and the audit rule of its status (the checkpoint holds
/// the status and detail already); the rule stays unformatted, as only the
/// newest scan's may be used.
fn checkpoint<'a>(ev: &'a wire::ScanEvent<'_>) -> Result<(Checkpoint, Rule<'a>), CarrierError> {
    let raw_date = txt(&ev.date);
    let occurred_at = times::moment(raw_date).ok_or_else(|| {
        CarrierError::malformed(format!(
            "scan event {:?} has no usable date {raw_date:?}",
            txt(&ev.event_type)
        ))
    })?;
    let (status, detail, rule) = classify_lazy(
        ev.event_type.as_deref(),
        ev.derived_status_code.as_deref(),
        ev.exception_code.as_deref(),
        ev.delay_detail.as_ref(),
    );
    let code = match txt(&ev.event_type) {
        "" => txt(&ev.derived_status_code),
        c => c,
    }
    .to_string();
    let event = match txt(&ev.event_description) {
        "" => txt(&ev.derived_status),
        d => d,
    };
    let description = match txt(&ev.exception_description) {
        "" => event.to_string(),
        x if x.eq_ignore_ascii_case(event) => event.to_string(),
        x if event.is_empty() => x.to_string(),
        x => format!("{event}: {x}"),
    };
    let cp = Checkpoint {
        occurred_at,
        status,
        status_detail: detail.map(str::to_string),
        code,
        description,
        location: ev.scan_location.as_ref().and_then(address),
    };
    Ok((cp, rule))
}

/// Oldest first, like `model::order_checkpoints`, keeping each scan's rule:
/// FedEx lists scans newest first, so they are reversed first (equal times
/// keep their real order); when every time is zoned they are then sorted by
/// instant; naive times from different zones are never re-sorted.
fn order_scans(scans: &mut [(Checkpoint, Rule<'_>)]) {
    if let (Some(first), Some(last)) = (scans.first(), scans.last())
        && first.0.occurred_at.chrono_cmp(&last.0.occurred_at).is_gt()
    {
        scans.reverse();
    }
    if scans.iter().all(|(c, _)| c.occurred_at.offset_known()) {
        scans.sort_by_key(|(c, _)| c.occurred_at.instant());
    }
}

fn date_of<'a>(r: &'a TrackResult, kind: &str) -> Option<&'a str> {
    r.date_and_times
        .as_ref()?
        .iter()
        .find(|d| txt(&d.kind).eq_ignore_ascii_case(kind))
        .map(|d| txt(&d.date_time))
        .filter(|s| !s.is_empty())
}

fn window_of(w: &Option<wire::TimeWindow>) -> Option<Eta> {
    let range = w.as_ref()?.window.as_ref()?;
    times::window_eta(range.begins.as_deref(), range.ends.as_deref())
}

/// The delivery promise, most specific first: the estimated window,
/// `dateAndTimes` ESTIMATED_DELIVERY, APPOINTMENT_DELIVERY, COMMITMENT, then
/// the standard transit window.
fn eta(r: &TrackResult) -> Option<Eta> {
    window_of(&r.estimated_delivery_time_window)
        .or_else(|| {
            ["ESTIMATED_DELIVERY", "APPOINTMENT_DELIVERY", "COMMITMENT"]
                .iter()
                .find_map(|k| date_of(r, k).and_then(times::parse).map(times::single_eta))
        })
        .or_else(|| window_of(&r.standard_transit_time_window))
}

/// `dateAndTimes` types that say when a shipment began, those known earliest
/// first (so a shipment's start date rarely moves between polls): the ship
/// date printed on the label, the label data reaching FedEx, the planned and
/// the actual tender, the pickup.
const START_DATES: [&str; 5] = [
    "SHIP",
    "SHIPMENT_DATA_RECEIVED",
    "ANTICIPATED_TENDER",
    "ACTUAL_TENDER",
    "ACTUAL_PICKUP",
];

/// The shipment's identity: `trackingNumberUniqueId` ("used to distinguish
/// duplicate FedEx tracking numbers") and its start date, else its oldest scan.
fn shipment_ref(r: &TrackResult, checkpoints: &[Checkpoint]) -> ShipmentRef {
    let id = r
        .tracking_number_info
        .as_ref()
        .and_then(|i| clean(txt(&i.tracking_number_unique_id)));
    let since = START_DATES
        .iter()
        .find_map(|k| date_of(r, k).and_then(times::moment))
        .or_else(|| checkpoints.first().map(|c| c.occurred_at));
    ShipmentRef { id, since }
}

/// One shipment with data → snapshot.
pub fn snapshot(r: &TrackResult) -> Result<Snapshot, CarrierError> {
    let events = r.scan_events.as_deref().unwrap_or_default();
    let mut scans = events
        .iter()
        .map(checkpoint)
        .collect::<Result<Vec<_>, _>>()?;
    order_scans(&mut scans);

    let latest = r
        .latest_status_detail
        .as_ref()
        .filter(|l| !txt(&l.code).is_empty() || !txt(&l.derived_code).is_empty());
    let (mapped, code, text) = match (latest, scans.last()) {
        (Some(l), _) => {
            let reason = l
                .ancillary_details
                .as_ref()
                .and_then(|a| a.iter().map(|d| txt(&d.reason)).find(|s| !s.is_empty()));
            let m = classify(
                l.code.as_deref(),
                l.derived_code.as_deref(),
                reason,
                l.delay_detail.as_ref(),
            );
            let code = clean(txt(&l.code)).or_else(|| clean(txt(&l.derived_code)));
            let text = clean(txt(&l.status_by_locale)).or_else(|| clean(txt(&l.description)));
            (m, code, text)
        }
        // No latest status: the newest scan stands for it.
        (None, Some((cp, rule))) => (
            Mapped {
                status: cp.status,
                detail: cp.status_detail.clone(),
                rule: rule.to_string(),
            },
            clean(&cp.code),
            clean(&cp.description),
        ),
        (None, None) => (
            Mapped {
                status: Status::Pending,
                detail: None,
                rule: "fedex:no_status".into(),
            },
            None,
            None,
        ),
    };
    let checkpoints: Vec<Checkpoint> = scans.into_iter().map(|(cp, _)| cp).collect();

    let delivered = mapped.status == Status::Delivered;
    let delivered_at = if delivered {
        date_of(r, "ACTUAL_DELIVERY")
            .and_then(times::moment)
            .or_else(|| {
                checkpoints
                    .iter()
                    .rev()
                    .find(|c| c.status == Status::Delivered)
                    .map(|c| c.occurred_at)
            })
    } else {
        None
    };
    let signed_by = r
        .delivery_details
        .as_ref()
        .and_then(|d| clean(txt(&d.signed_by_name)).or_else(|| clean(txt(&d.received_by_name))))
        .filter(|_| delivered);
    let service = r.service_detail.as_ref().and_then(|s| {
        clean(txt(&s.description))
            .or_else(|| clean(txt(&s.kind)))
            .or_else(|| clean(txt(&s.short_description)))
    });
    let origin =
        contact_address(&r.shipper_information).or_else(|| location_address(&r.origin_location));
    let destination = r
        .last_updated_destination_address
        .as_ref()
        .and_then(address)
        .or_else(|| contact_address(&r.recipient_information))
        .or_else(|| location_address(&r.destination_location));

    let shipment = Some(Shipment::of(shipment_ref(r, &checkpoints)));
    let snap = Snapshot {
        status: mapped.status,
        status_detail: mapped.detail,
        status_rule: mapped.rule,
        carrier_status_code: code,
        carrier_status_text: text,
        estimated_delivery: eta(r),
        original_estimated_delivery: None,
        delivered_at,
        signed_by,
        service,
        origin,
        destination,
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment,
    };
    Ok(snap.finish())
}

/// The outcome for one `completeTrackResults[]` entry. FedEx returns several
/// `trackResults` for a number it has reused (each its own
/// `trackingNumberUniqueId` and ship date) or that operating companies share:
/// each one with data is a candidate shipment and the SDK's shipment rule picks
/// the current one ([`shipment::current`], the others travel along for the
/// daemon); with no data at all, the first error. Data wins over an `error` in
/// the same result (FedEx's full-schema example fills both).
fn outcome(c: &CompleteTrackResult) -> Result<Snapshot, CarrierError> {
    let results = c.track_results.as_deref().unwrap_or_default();
    let mut with_data = results.iter().filter(|r| r.has_data());
    if let Some(first) = with_data.next() {
        let Some(second) = with_data.next() else {
            return snapshot(first);
        };
        // A shipment FedEx sent unreadable does not hide the readable ones.
        let mut first_err = None;
        let cands: Vec<Snapshot> = [first, second]
            .into_iter()
            .chain(with_data)
            .filter_map(|r| {
                snapshot(r)
                    .map_err(|e| first_err.get_or_insert(e).clone())
                    .ok()
            })
            .collect();
        return shipment::current(cands).ok_or_else(|| {
            first_err.unwrap_or_else(|| CarrierError::malformed("no candidate shipment"))
        });
    }
    if let Some(e) = results.iter().find_map(|r| r.error.as_ref()) {
        return Err(number_error(e));
    }
    Err(CarrierError::malformed(
        "trackResults holds neither tracking data nor an error",
    ))
}

/// The number an entry answers for.
fn entry_number(c: &CompleteTrackResult) -> String {
    let own = txt(&c.tracking_number);
    if !own.is_empty() {
        return own.to_string();
    }
    c.track_results
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.tracking_number_info.as_ref())
        .map(|i| txt(&i.tracking_number))
        .find(|n| !n.is_empty())
        .unwrap_or("")
        .to_string()
}

/// Parses a Track API answer for `numbers` (all numbers in it when empty).
pub fn parse_track(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    if !(200..300).contains(&resp.status) {
        return Err(response_error(resp));
    }
    let answer: TrackAnswer = serde_json::from_slice(&resp.body).map_err(|e| {
        CarrierError::malformed(format!(
            "not the documented FedEx Track JSON ({e}): {}",
            resp.body_excerpt()
        ))
    })?;
    let Some(entries) = answer.output.and_then(|o| o.complete_track_results) else {
        // A 200 carrying only `errors[]` is a whole-response failure.
        if answer.errors.as_ref().is_some_and(|e| !e.is_empty()) {
            return Err(response_error(resp));
        }
        return Err(CarrierError::malformed(format!(
            "FedEx answer has no output.completeTrackResults: {}",
            resp.body_excerpt()
        )));
    };
    if numbers.is_empty() {
        return Ok(entries
            .iter()
            .map(|c| NumberResult {
                tracking_number: entry_number(c),
                outcome: outcome(c),
            })
            .collect());
    }
    Ok(numbers
        .iter()
        .map(|n| {
            let want = n.trim();
            let found = entries
                .iter()
                .find(|c| txt(&c.tracking_number).eq_ignore_ascii_case(want))
                .or_else(|| {
                    entries.iter().find(|c| {
                        c.track_results
                            .as_deref()
                            .unwrap_or_default()
                            .iter()
                            .any(|r| {
                                r.tracking_number_info.as_ref().is_some_and(|i| {
                                    txt(&i.tracking_number).eq_ignore_ascii_case(want)
                                })
                            })
                    })
                });
            NumberResult {
                tracking_number: n.to_string(),
                outcome: found.map_or_else(
                    || {
                        Err(CarrierError::malformed(
                            "the FedEx answer does not include this tracking number",
                        ))
                    },
                    outcome,
                ),
            }
        })
        .collect())
}
