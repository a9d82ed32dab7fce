//! The UPS side of trackd's simulator: mint valid 1Z numbers, classify incoming
//! requests, and render answers in the real Track API v1 / OAuth wire format.

use crate::mapping::step_wire;
use crate::times::{fmt_date, fmt_time};
use crate::wire::{
    Activity, Address as WAddress, DeliveryDate, DeliveryInformation, DeliveryTime, ErrorResponse,
    Location, Many, Message, Package, PackageAddress, Service, Shipment, Status as WStatus, Text,
    TrackApiResponse, TrackResponse,
};
use crate::{TOKEN_PATH, TRACK_PREFIX};
use chrono::NaiveTime;
use trackd_carrier_sdk::checksum::ups_1z_check_digit;
use trackd_carrier_sdk::http::decode_basic;
use trackd_carrier_sdk::http::percent_decode;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Address, HttpRequest, HttpResponse, JourneyStep, Method, SimParcel, SimReply, SimRequestError,
};

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// 36^6: how many shipper ids six base-36 characters hold.
const SHIPPER_SPACE: u64 = 2_176_782_336;
/// Offsets the shipper id so small serials read like a real account: base-36
/// "1TRKD0".
const SHIPPER_OFFSET: u64 = 110_461_140;

fn base36(mut v: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE36[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A valid `1Z` number, distinct for every serial: 7 package digits from the
/// serial's low decimal digits, the rest spread over shipper id and service code.
pub fn mint(serial: u64) -> String {
    let package = serial % 10_000_000;
    let high = serial / 10_000_000 + SHIPPER_OFFSET;
    let shipper = base36(high % SHIPPER_SPACE, 6);
    // high / 36^6 <= 847 for any u64, so "03" (Ground) + that fits 2 base-36 chars.
    let service = base36(high / SHIPPER_SPACE + 3, 2);
    let body = format!("{shipper}{service}{package:07}");
    let check = ups_1z_check_digit(&body).unwrap_or('0');
    format!("1Z{body}{check}")
}

fn credential(req: &HttpRequest) -> SimCredential {
    let Some(auth) = req.header_value("authorization") else {
        return SimCredential::None;
    };
    let (scheme, value) = auth.trim().split_once(' ').unwrap_or((auth, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        SimCredential::Bearer(value.trim().to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        match decode_basic(value) {
            Some((user, password)) => SimCredential::Basic { user, password },
            None => SimCredential::None,
        }
    } else {
        SimCredential::None
    }
}

/// Classifies a request the way UPS's gateway would.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let path = req.path();
    if path == TOKEN_PATH {
        if req.method != Method::Post {
            return Err(SimRequestError::BadRequest(
                "the token endpoint takes POST".into(),
            ));
        }
        let body = String::from_utf8_lossy(&req.body);
        let grant_ok = body.split('&').any(|kv| {
            kv.split_once('=').is_some_and(|(k, v)| {
                percent_decode(k) == "grant_type" && percent_decode(v) == "client_credentials"
            })
        });
        if !grant_ok {
            return Err(SimRequestError::BadRequest(
                "grant_type must be client_credentials".into(),
            ));
        }
        return match credential(req) {
            SimCredential::Basic { user, password } => Ok(SimCall::Token {
                client_id: user,
                client_secret: password,
            }),
            _ => Err(SimRequestError::BadRequest(
                "token requests authenticate with HTTP Basic client_id:client_secret".into(),
            )),
        };
    }
    if let Some(raw) = path.strip_prefix(TRACK_PREFIX) {
        if req.method != Method::Get {
            return Err(SimRequestError::BadRequest(
                "the track endpoint takes GET".into(),
            ));
        }
        if raw.is_empty() || raw.contains('/') {
            return Err(SimRequestError::NotFound(path.to_string()));
        }
        for header in ["transId", "transactionSrc"] {
            if req.header_value(header).is_none_or(|v| v.trim().is_empty()) {
                return Err(SimRequestError::BadRequest(format!(
                    "missing {header} header"
                )));
            }
        }
        return Ok(SimCall::Track {
            numbers: vec![percent_decode(raw)],
            credential: credential(req),
        });
    }
    Err(SimRequestError::NotFound(path.to_string()))
}

fn t(s: impl Into<String>) -> Option<Text<'static>> {
    Some(Text::owned(s))
}

fn wire_address(a: &Address) -> WAddress<'static> {
    let opt = |v: &Option<String>| v.as_ref().map(|s| Text::owned(s.as_str()));
    WAddress {
        city: opt(&a.city),
        state_province: opt(&a.region),
        postal_code: opt(&a.postal_code),
        country_code: opt(&a.country),
        country: opt(&a.country),
    }
}

fn wire_status(step: JourneyStep) -> WStatus<'static> {
    let (kind, code, status_code, description) = step_wire(step);
    WStatus {
        kind: t(kind),
        description: t(description),
        code: t(code),
        status_code: t(status_code),
    }
}

fn package(p: &SimParcel) -> Package<'static> {
    let activity = p
        .events
        .iter()
        .rev()
        .map(|ev| Activity {
            location: Some(Location {
                address: Some(wire_address(&ev.place)),
            }),
            status: Some(wire_status(ev.step)),
            date: t(fmt_date(ev.at.date_naive())),
            time: t(fmt_time(ev.at.time())),
            gmt_date: None,
            gmt_time: None,
            gmt_offset: None,
        })
        .collect();
    let current = p.current();
    let delivered = current.filter(|c| c.step == JourneyStep::Delivered);
    let (delivery_date, delivery_time) = match (delivered, &p.eta) {
        (Some(d), _) => (
            vec![DeliveryDate {
                kind: t("DEL"),
                date: t(fmt_date(d.at.date_naive())),
            }],
            Some(DeliveryTime {
                kind: t("DEL"),
                start_time: None,
                end_time: t(fmt_time(d.at.time())),
            }),
        ),
        (None, Some((start, end))) => {
            let kind = if p.eta_change_reason.is_some() {
                "RDD"
            } else {
                "SDD"
            };
            // UPS windows live on one date; a window crossing midnight is sent
            // from the start of its last day.
            let start_time = if start.date_naive() == end.date_naive() {
                start.time()
            } else {
                NaiveTime::MIN
            };
            (
                vec![DeliveryDate {
                    kind: t(kind),
                    date: t(fmt_date(end.date_naive())),
                }],
                Some(DeliveryTime {
                    kind: t("EDW"),
                    start_time: t(fmt_time(start_time)),
                    end_time: t(fmt_time(end.time())),
                }),
            )
        }
        (None, None) => (Vec::new(), None),
    };
    Package {
        tracking_number: t(p.tracking_number.as_str()),
        delivery_date: Many(delivery_date),
        delivery_time,
        activity: Many(activity),
        current_status: current.map(|c| wire_status(c.step)),
        package_address: Many(vec![
            PackageAddress {
                kind: t("ORIGIN"),
                address: Some(wire_address(&p.origin)),
            },
            PackageAddress {
                kind: t("DESTINATION"),
                address: Some(wire_address(&p.destination)),
            },
        ]),
        service: Some(Service {
            code: None,
            description: t(p.service.as_str()),
        }),
        delivery_information: delivered.map(|_| DeliveryInformation {
            location: None,
            received_by: p.signed_by.as_deref().map(Text::owned),
        }),
        package_count: Some(1),
    }
}

fn json_response(status: u16, body: &impl serde::Serialize) -> HttpResponse {
    // Serializing these plain structs cannot fail; an empty body would surface
    // as a Malformed parse rather than a panic.
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A 200 Track API answer: packages for known parcels, the documented TW0001
/// warning for unknown numbers.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    let shipment = replies
        .iter()
        .map(|r| match r {
            SimReply::Known(p) => Shipment {
                inquiry_number: t(p.tracking_number.as_str()),
                package: Many(vec![package(p)]),
                warnings: Many::default(),
            },
            SimReply::Unknown(n) => Shipment {
                inquiry_number: t(*n),
                package: Many::default(),
                warnings: Many(vec![Message {
                    code: t("TW0001"),
                    message: t("Tracking Information Not Found"),
                }]),
            },
        })
        .collect();
    json_response(
        200,
        &TrackApiResponse {
            track_response: Some(TrackResponse {
                shipment: Many(shipment),
            }),
            response: None,
        },
    )
}

fn error_body(code: &str, message: &str) -> TrackApiResponse<'static> {
    TrackApiResponse {
        track_response: None,
        response: Some(ErrorResponse {
            errors: Many(vec![Message {
                code: t(code),
                message: t(message),
            }]),
        }),
    }
}

/// UPS's error envelope for each injected fault.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => json_response(
            401,
            &error_body("250002", "Invalid Authentication Information."),
        ),
        SimFault::RateLimited { retry_after_secs } => {
            json_response(429, &error_body("10429", "Too Many Requests"))
                .header("Retry-After", retry_after_secs.to_string())
        }
        SimFault::ServerError => json_response(
            500,
            &error_body(
                "10004",
                "Something went wrong while processing your request, please try again later",
            ),
        ),
        SimFault::BadRequest { message } => json_response(400, &error_body("400", message)),
    }
}
