//! The FedEx side of trackd's simulator: mint valid 12-digit Express numbers,
//! classify incoming requests, and render answers in the real Track API v1 /
//! OAuth wire format.

use crate::detect::express12_check_digit;
use crate::mapping::step_wire;
use crate::wire::{
    Address as WAddress, AncillaryDetail, ApiError, CompleteTrackResult, ContactAndAddress,
    DateAndTime, DelayDetail, DeliveryDetails, NumOrText, Output, ScanEvent, ServiceDetail,
    StatusDetail, TimeRange, TimeWindow, TokenResponse, TrackAnswer, TrackRequest, TrackResult,
    TrackingNumberInfo,
};
use crate::{TOKEN_PATH, TRACK_PATH};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use std::borrow::Cow;
use trackd_carrier_sdk::http::percent_decode;
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Address, HttpRequest, HttpResponse, JourneyStep, Method, SimEvent, SimParcel, SimReply,
    SimRequestError,
};

/// Serial space of a 12-digit Express number (11 digits + check digit).
const SERIAL_SPACE: u64 = 100_000_000_000;
/// Offset so small serials read like real Express numbers (`7xxxxxxxxxxx`).
const SERIAL_OFFSET: u64 = 70_000_000_000;

/// A valid 12-digit FedEx Express number; distinct for serials below 10^11.
pub fn mint(serial: u64) -> String {
    let body = format!(
        "{:011}",
        (serial % SERIAL_SPACE + SERIAL_OFFSET) % SERIAL_SPACE
    );
    let check = express12_check_digit(body.as_bytes()).unwrap_or(0);
    format!("{body}{check}")
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn bearer(req: &HttpRequest) -> SimCredential {
    let Some(auth) = req.header_value("authorization") else {
        return SimCredential::None;
    };
    let auth = auth.trim();
    match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            SimCredential::Bearer(token.trim().to_string())
        }
        _ => SimCredential::None,
    }
}

/// Classifies a request the way FedEx's gateway would.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    match req.path() {
        TOKEN_PATH => {
            if req.method != Method::Post {
                return Err(SimRequestError::BadRequest(
                    "the token endpoint takes POST".into(),
                ));
            }
            let pairs = form_pairs(&req.body);
            let get = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            if get("grant_type").as_deref() != Some("client_credentials") {
                return Err(SimRequestError::BadRequest(
                    "grant_type must be client_credentials".into(),
                ));
            }
            match (get("client_id"), get("client_secret")) {
                (Some(client_id), Some(client_secret)) => Ok(SimCall::Token {
                    client_id,
                    client_secret,
                }),
                _ => Err(SimRequestError::BadRequest(
                    "client_id and client_secret are required".into(),
                )),
            }
        }
        TRACK_PATH => {
            if req.method != Method::Post {
                return Err(SimRequestError::BadRequest(
                    "the track endpoint takes POST".into(),
                ));
            }
            let body: TrackRequest = serde_json::from_slice(&req.body)
                .map_err(|e| SimRequestError::BadRequest(format!("bad track request body: {e}")))?;
            if body.tracking_info.is_empty() || body.tracking_info.len() > crate::BATCH_SIZE {
                return Err(SimRequestError::BadRequest(format!(
                    "trackingInfo takes 1 to {} numbers, got {}",
                    crate::BATCH_SIZE,
                    body.tracking_info.len()
                )));
            }
            let numbers = body
                .tracking_info
                .iter()
                .map(|t| {
                    t.tracking_number_info
                        .tracking_number
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            SimRequestError::BadRequest("Please provide tracking number.".into())
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SimCall::Track {
                numbers,
                credential: bearer(req),
            })
        }
        other => Err(SimRequestError::NotFound(other.to_string())),
    }
}

fn iso(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A wire time field.
fn when(t: &DateTime<FixedOffset>) -> Option<Cow<'static, str>> {
    Some(Cow::Owned(iso(t)))
}

/// A static text (codes, descriptions) for the wire structs, not copied.
fn s(v: &'static str) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(v))
}

/// A borrowed text of the parcel for the wire structs, not copied.
fn b(v: &Option<String>) -> Option<Cow<'_, str>> {
    v.as_deref().map(Cow::Borrowed)
}

fn wire_address(a: &Address) -> WAddress<'_> {
    WAddress {
        city: b(&a.city),
        state_or_province_code: b(&a.region),
        postal_code: b(&a.postal_code),
        country_code: b(&a.country),
    }
}

fn delay(kind: Option<&'static str>) -> Option<DelayDetail<'static>> {
    kind.map(|k| DelayDetail {
        kind: s(k),
        sub_type: None,
        status: s("DELAYED"),
    })
}

fn scan(e: &SimEvent) -> ScanEvent<'_> {
    let w = step_wire(e.step);
    ScanEvent {
        date: when(&e.at),
        derived_status: s(w.derived_status),
        scan_location: Some(wire_address(&e.place)),
        location_type: None,
        exception_description: w.exception.map(|x| Cow::Borrowed(x.1)),
        event_description: s(w.event_description),
        event_type: s(w.event_type),
        derived_status_code: s(w.derived_code),
        exception_code: w
            .exception
            .map(|x| x.0)
            .filter(|c| !c.is_empty())
            .map(Cow::Borrowed),
        delay_detail: delay(w.delay),
    }
}

fn latest(e: &SimEvent) -> StatusDetail<'_> {
    let w = step_wire(e.step);
    StatusDetail {
        scan_location: Some(wire_address(&e.place)),
        code: s(w.event_type),
        derived_code: s(w.derived_code),
        ancillary_details: w
            .exception
            .filter(|x| !x.0.is_empty())
            .map(|(reason, text)| {
                vec![AncillaryDetail {
                    reason: s(reason),
                    reason_description: s(text),
                }]
            }),
        status_by_locale: s(w.derived_status),
        description: s(w.derived_status),
        delay_detail: delay(w.delay),
    }
}

fn contact(a: &Address) -> Option<ContactAndAddress<'_>> {
    Some(ContactAndAddress {
        address: Some(wire_address(a)),
    })
}

/// `trackingNumberUniqueId` in FedEx's `<serial>~<number>~<opco>` form: one
/// per shipment, so a reused number's shipments differ (the label day).
pub fn unique_id(p: &SimParcel) -> String {
    let day = p
        .events
        .first()
        .map_or_else(|| "0".to_string(), |e| e.at.format("%Y%m%d").to_string());
    format!("{day}~{}~FDEG", p.tracking_number)
}

fn track_result<'p>(p: &'p SimParcel) -> TrackResult<'p> {
    let current = p.current();
    let delivered = current.filter(|c| c.step == JourneyStep::Delivered);
    let mut dates = Vec::new();
    // The ship date on the label: the day the label was created.
    if let Some(first) = p.events.first() {
        dates.push(DateAndTime {
            date_time: when(&first.at),
            kind: s("SHIP"),
        });
    }
    if let Some(pu) = p.events.iter().find(|e| e.step == JourneyStep::PickedUp) {
        dates.push(DateAndTime {
            date_time: when(&pu.at),
            kind: s("ACTUAL_PICKUP"),
        });
    }
    if let Some(d) = delivered {
        dates.push(DateAndTime {
            date_time: when(&d.at),
            kind: s("ACTUAL_DELIVERY"),
        });
    } else if let Some((_, end)) = &p.eta {
        dates.push(DateAndTime {
            date_time: when(end),
            kind: s("ESTIMATED_DELIVERY"),
        });
    }
    // Delivered shipments carry an empty window, like FedEx's answers.
    let window = match (&p.eta, delivered) {
        (Some((start, end)), None) => TimeRange {
            begins: when(start),
            ends: when(end),
        },
        _ => TimeRange::default(),
    };
    TrackResult {
        tracking_number_info: Some(TrackingNumberInfo {
            tracking_number: Some(Cow::Borrowed(&p.tracking_number)),
            carrier_code: s("FDXE"),
            tracking_number_unique_id: Some(Cow::Owned(unique_id(p))),
        }),
        service_detail: Some(ServiceDetail {
            description: Some(Cow::Borrowed(&p.service)),
            short_description: None,
            kind: None,
        }),
        latest_status_detail: current.map(latest),
        shipper_information: contact(&p.origin),
        recipient_information: contact(&p.destination),
        origin_location: None,
        destination_location: None,
        last_updated_destination_address: None,
        delivery_details: delivered.map(|_| DeliveryDetails {
            received_by_name: b(&p.signed_by),
            signed_by_name: b(&p.signed_by),
        }),
        // FedEx lists scans newest first.
        scan_events: Some(p.events.iter().rev().map(scan).collect()),
        date_and_times: Some(dates),
        estimated_delivery_time_window: Some(TimeWindow {
            description: None,
            window: Some(window),
            kind: s("ESTIMATED_DELIVERY"),
        }),
        standard_transit_time_window: None,
        error: None,
    }
}

/// A deterministic `transactionId` (plugins draw no randomness).
fn transaction_id(seed: &str) -> String {
    let h = Fnv::hash(seed.as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn json_response(status: u16, body: &impl serde::Serialize) -> HttpResponse {
    // Serializing these plain structs cannot fail; an empty body would parse
    // as Malformed rather than panic.
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A 200 answer: data for known parcels, FedEx's documented
/// `TRACKING.TRACKINGNUMBER.NOTFOUND` error for unknown numbers.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    render_track_recycled(replies, &[])
}

/// The Track API answer when some numbers were reused: FedEx lists each older
/// shipment as its own `trackResults` entry, first, with its own
/// `trackingNumberUniqueId` ([`unique_id`]) and `SHIP` date.
pub fn render_track_recycled(
    replies: &[SimReply<'_>],
    previous: &[Option<&SimParcel>],
) -> HttpResponse {
    let mut seed = String::new();
    let entries = replies
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            SimReply::Known(p) => {
                seed.push_str(&p.tracking_number);
                let mut results = Vec::with_capacity(2);
                if let Some(old) = previous.get(i).copied().flatten() {
                    results.push(track_result(old));
                }
                results.push(track_result(p));
                CompleteTrackResult {
                    tracking_number: Some(Cow::Borrowed(&p.tracking_number)),
                    track_results: Some(results),
                }
            }
            SimReply::Unknown(n) => {
                seed.push_str(n);
                CompleteTrackResult {
                    tracking_number: Some(Cow::Borrowed(n)),
                    track_results: Some(vec![TrackResult {
                        tracking_number_info: Some(TrackingNumberInfo {
                            tracking_number: Some(Cow::Borrowed(n)),
                            carrier_code: s(""),
                            tracking_number_unique_id: s(""),
                        }),
                        error: Some(ApiError {
                            code: s("TRACKING.TRACKINGNUMBER.NOTFOUND"),
                            message: s("Tracking number cannot be found. Please correct the tracking number and try again."),
                        }),
                        ..TrackResult::default()
                    }]),
                }
            }
        })
        .collect();
    json_response(
        200,
        &TrackAnswer {
            transaction_id: Some(Cow::Owned(transaction_id(&seed))),
            customer_transaction_id: None,
            output: Some(Output {
                complete_track_results: Some(entries),
            }),
            errors: None,
        },
    )
}

/// FedEx's token answer shape (`expires_in` an integer, `scope` "CXS").
pub fn render_token(token: &str, expires_in_secs: u64) -> HttpResponse {
    json_response(
        200,
        &TokenResponse {
            access_token: Some(token.to_string()),
            token_type: Some("bearer".into()),
            expires_in: Some(NumOrText::Num(expires_in_secs)),
            scope: Some("CXS".into()),
        },
    )
}

fn error_body<'m>(code: &'m str, message: &'m str) -> TrackAnswer<'m> {
    TrackAnswer {
        transaction_id: Some(Cow::Owned(transaction_id(code))),
        customer_transaction_id: None,
        output: None,
        errors: Some(vec![ApiError {
            code: Some(Cow::Borrowed(code)),
            message: Some(Cow::Borrowed(message)),
        }]),
    }
}

/// FedEx's `errors[]` envelope for each injected fault.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => json_response(
            401,
            &error_body(
                "NOT.AUTHORIZED.ERROR",
                "Access token expired. Please modify your request and try again.",
            ),
        ),
        SimFault::RateLimited { retry_after_secs } => json_response(
            429,
            &error_body(
                "TOO.MANY.REQUESTS.ERROR",
                "We have received too many requests in a short duration. Please wait a while to try again.",
            ),
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => json_response(
            503,
            &error_body(
                "SERVICE.UNAVAILABLE.ERROR",
                "The service is currently unavailable and we are working to resolve the issue. We apologize for any inconvenience. Please check back at a later time.",
            ),
        ),
        SimFault::BadRequest { message } => {
            json_response(400, &error_body("INVALID.INPUT.EXCEPTION", message))
        }
    }
}
