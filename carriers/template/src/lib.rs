//! Template trackd carrier plugin for the imaginary carrier "Example Parcel"
//! (slug `example`): a small JSON API authenticated with an API key.
//!
//! Copy this folder to `carriers/<slug>`, rename it, and replace the wire format
//! with your carrier's (see `carriers/README.md`). Like every plugin it is pure
//! and sans-IO: it builds requests, parses responses and renders its own wire
//! format for trackd's simulator. It never does I/O, sleeps, reads the clock or
//! draws random numbers; the daemon owns all of that.
//!
//! The wire format of this imaginary carrier:
//!
//! - request: `POST /v1/track` with `X-Api-Key: <key>` and the body
//!   `{"tracking_numbers": ["EX…", …]}` (up to 10 numbers);
//! - answer: `200` with `{"results": [{"tracking_number", "status": "found" |
//!   "not_found", "service", "origin", "destination", "estimated_delivery":
//!   {"from", "to"} | {"date"}, "signed_by", "events": [{"time", "code", "text",
//!   "city", "region", "postal_code", "country"}]}]}`; event times are RFC 3339
//!   with an offset, or a local time without one when the carrier does not know
//!   the zone; events may come newest or oldest first;
//! - errors: `{"error": {"code", "message"}}` with 400, 401, 429 (plus
//!   `Retry-After`) or 5xx.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use trackd_carrier_sdk::checksum::{mod10_weighted_check, mod10_weighted_valid};
use trackd_carrier_sdk::model::{clean, order_checkpoints};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Address, AuthKind, Carrier, CarrierDescriptor, CarrierError, Checkpoint, Credentials,
    Detection, Eta, HttpRequest, HttpResponse, JourneyStep, Method, NumberResult, Quota, SimEvent,
    SimParcel, SimReply, SimRequestError, Snapshot, Status, Timestamp,
};

/// The one track endpoint, relative to the configured base URL.
pub const TRACK_PATH: &str = "/v1/track";
/// Header carrying the API key (`Credentials::secret`).
pub const API_KEY_HEADER: &str = "X-Api-Key";
/// Prefix of this carrier's tracking numbers.
const PREFIX: &str = "EX";
/// Serial digits between the prefix and the check digit.
const SERIAL_DIGITS: usize = 10;

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "example",
    name: "Example Parcel",
    auth: AuthKind::ApiKey,
    // The carrier's documented maximum of numbers per track request.
    batch_size: 10,
    // The carrier's documented quota; operators may lower it in config.
    quota: Quota {
        per_second: 5,
        per_minute: None,
        per_hour: None,
        per_day: Some(50_000),
    },
    default_base_url: "https://api.example.com",
    format: "json",
};

/// Every carrier code, the status it maps to, the finer detail, and the journey
/// step the simulator renders with it. One row per code: a code maps to exactly
/// one status. Codes missing here parse as `Status::Unknown` (kept, not dropped).
#[rustfmt::skip]
const CODES: &[(&str, Status, Option<&str>, JourneyStep)] = &[
    ("LC", Status::InfoReceived,       None,                                 JourneyStep::LabelCreated),
    ("PU", Status::InTransit,          Some("in_transit.picked_up"),         JourneyStep::PickedUp),
    ("AF", Status::InTransit,          None,                                 JourneyStep::ArrivedAtFacility),
    ("DF", Status::InTransit,          None,                                 JourneyStep::DepartedFacility),
    ("WX", Status::InTransit,          Some("in_transit.weather_delay"),     JourneyStep::WeatherDelay),
    ("DL", Status::InTransit,          Some("in_transit.operational_delay"), JourneyStep::OperationalDelay),
    ("CH", Status::Exception,          Some("exception.customs_hold"),       JourneyStep::CustomsHold),
    ("AI", Status::Exception,          Some("exception.address_issue"),      JourneyStep::AddressIssue),
    ("OT", Status::OutForDelivery,     None,                                 JourneyStep::OutForDelivery),
    ("AT", Status::AttemptFailed,      None,                                 JourneyStep::AttemptFailed),
    ("PP", Status::AvailableForPickup, None,                                 JourneyStep::AvailableForPickup),
    ("DE", Status::Delivered,          None,                                 JourneyStep::Delivered),
    ("RS", Status::Returning,          None,                                 JourneyStep::ReturnToSender),
    ("RT", Status::Returned,           None,                                 JourneyStep::Returned),
];

/// The status, detail and `status_rule` for a carrier code.
pub fn map_code(code: &str) -> (Status, Option<&'static str>, String) {
    match CODES.iter().find(|(c, ..)| *c == code) {
        Some((_, status, detail, _)) => (*status, *detail, format!("example:code={code}")),
        None => (Status::Unknown, None, format!("example:unmapped={code}")),
    }
}

/// The code the simulator renders for a journey step (every step has one).
fn step_code(step: JourneyStep) -> (&'static str, &'static str) {
    let code = CODES
        .iter()
        .find(|(.., s)| *s == step)
        .map_or("??", |(c, ..)| *c);
    let text = match step {
        JourneyStep::LabelCreated => "Label created",
        JourneyStep::PickedUp => "Picked up",
        JourneyStep::ArrivedAtFacility => "Arrived at facility",
        JourneyStep::DepartedFacility => "Departed facility",
        JourneyStep::WeatherDelay => "Delayed by weather",
        JourneyStep::OperationalDelay => "Delayed: missed connection",
        JourneyStep::CustomsHold => "Held by customs",
        JourneyStep::AddressIssue => "Address problem",
        JourneyStep::OutForDelivery => "Out for delivery",
        JourneyStep::AttemptFailed => "Delivery attempted, nobody home",
        JourneyStep::AvailableForPickup => "Ready for pickup",
        JourneyStep::Delivered => "Delivered",
        JourneyStep::ReturnToSender => "Returning to sender",
        JourneyStep::Returned => "Returned to sender",
    };
    (code, text)
}

// ---- wire types (shared by the parser and the simulator renderer) ----

#[derive(Debug, Serialize, Deserialize)]
struct TrackRequest {
    tracking_numbers: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TrackAnswer {
    results: Vec<WireResult>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireResult {
    tracking_number: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<WirePlace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destination: Option<WirePlace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    estimated_delivery: Option<WireEta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signed_by: Option<String>,
    #[serde(default)]
    events: Vec<WireEvent>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WirePlace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum WireEta {
    Window { from: String, to: String },
    Date { date: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireEvent {
    time: String,
    code: String,
    #[serde(default)]
    text: String,
    #[serde(flatten)]
    place: WirePlace,
}

#[derive(Debug, Serialize, Deserialize)]
struct ErrorEnvelope {
    error: WireError,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireError {
    code: String,
    message: String,
}

// ---- parsing ----

/// A carrier time: with an offset it is zoned; without one it stays naive (the
/// local wall clock), because inventing an offset would shift it by hours.
fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(Timestamp::Naive)
}

fn address(p: &WirePlace) -> Option<Address> {
    Address {
        city: p.city.as_deref().and_then(clean),
        region: p.region.as_deref().and_then(clean),
        postal_code: p.postal_code.as_deref().and_then(clean),
        country: p.country.as_deref().and_then(clean),
    }
    .non_empty()
}

fn eta(e: &WireEta) -> Result<Eta, CarrierError> {
    match e {
        WireEta::Window { from, to } => match (parse_time(from), parse_time(to)) {
            (Some(start), Some(end)) => Ok(Eta::Window { start, end }),
            _ => Err(CarrierError::malformed(format!(
                "bad estimated_delivery window {from:?}..{to:?}"
            ))),
        },
        WireEta::Date { date } => NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map(|date| Eta::Date { date })
            .map_err(|_| CarrierError::malformed(format!("bad estimated_delivery date {date:?}"))),
    }
}

/// One found parcel into the normalized snapshot.
fn snapshot(r: &WireResult) -> Result<Snapshot, CarrierError> {
    let mut checkpoints = Vec::with_capacity(r.events.len());
    for ev in &r.events {
        let occurred_at = parse_time(&ev.time).ok_or_else(|| {
            CarrierError::malformed(format!("event {:?} has a bad time {:?}", ev.code, ev.time))
        })?;
        let code = ev.code.trim().to_string();
        let (status, detail, _) = map_code(&code);
        checkpoints.push(Checkpoint {
            occurred_at,
            status,
            status_detail: detail.map(str::to_string),
            code,
            description: ev.text.trim().to_string(),
            location: address(&ev.place),
        });
    }
    // Oldest first without guessing zones; the status comes from the newest event.
    order_checkpoints(&mut checkpoints);
    let newest = checkpoints.last();
    let (status, status_detail, status_rule) = match newest {
        Some(cp) => {
            let (status, detail, rule) = map_code(&cp.code);
            (status, detail.map(str::to_string), rule)
        }
        None => (Status::Pending, None, "example:no_events".to_string()),
    };
    let delivered = status == Status::Delivered;
    let delivered_at = checkpoints
        .iter()
        .rev()
        .find(|c| delivered && c.status == Status::Delivered)
        .map(|c| c.occurred_at);
    let snapshot = Snapshot {
        status,
        status_detail,
        status_rule,
        carrier_status_code: newest.map(|c| c.code.clone()),
        carrier_status_text: newest.and_then(|c| clean(&c.description)),
        estimated_delivery: r.estimated_delivery.as_ref().map(eta).transpose()?,
        // Filled by the daemon, never by a parser.
        original_estimated_delivery: None,
        delivered_at,
        signed_by: r.signed_by.as_deref().and_then(clean).filter(|_| delivered),
        service: r.service.as_deref().and_then(clean),
        origin: r.origin.as_ref().and_then(address),
        destination: r.destination.as_ref().and_then(address),
        checkpoints,
        // `finish` fills it from the newest checkpoint.
        updated_at: None,
        // Filled by the daemon, never by a parser.
        fetched_at: None,
        shipment: None,
    };
    Ok(snapshot.finish())
}

fn parse_answer(numbers: &[&str], resp: &HttpResponse) -> Result<Vec<NumberResult>, CarrierError> {
    // 401/403, 429 and 5xx mean the same for every carrier.
    if let Some(err) = CarrierError::from_http_status(resp) {
        return Err(err);
    }
    if !(200..300).contains(&resp.status) {
        // Any other 4xx: the carrier refused our request; not retried.
        return Err(match serde_json::from_slice::<ErrorEnvelope>(&resp.body) {
            Ok(env) => CarrierError::Rejected {
                code: env.error.code,
                message: env.error.message,
            },
            Err(_) => CarrierError::Rejected {
                code: format!("HTTP {}", resp.status),
                message: resp.body_excerpt(),
            },
        });
    }
    let answer: TrackAnswer = serde_json::from_slice(&resp.body).map_err(|e| {
        CarrierError::malformed(format!(
            "not the documented JSON ({e}): {}",
            resp.body_excerpt()
        ))
    })?;
    let outcome = |r: &WireResult| match r.status.as_str() {
        "found" => snapshot(r),
        "not_found" => Err(CarrierError::NotFound {
            code: Some("not_found".into()),
            message: format!("{} is unknown to Example Parcel", r.tracking_number),
        }),
        other => Err(CarrierError::malformed(format!(
            "unknown result status {other:?}"
        ))),
    };
    if numbers.is_empty() {
        // `trackd normalize` without --number: report everything the answer holds.
        return Ok(answer
            .results
            .iter()
            .map(|r| NumberResult {
                tracking_number: r.tracking_number.clone(),
                outcome: outcome(r),
            })
            .collect());
    }
    Ok(numbers
        .iter()
        .map(|n| NumberResult {
            tracking_number: n.to_string(),
            outcome: answer
                .results
                .iter()
                .find(|r| r.tracking_number.trim().eq_ignore_ascii_case(n))
                .map_or_else(
                    || {
                        Err(CarrierError::malformed(
                            "the answer does not include this tracking number",
                        ))
                    },
                    outcome,
                ),
        })
        .collect())
}

// ---- simulator side ----

fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn wire_place(a: &Address) -> WirePlace {
    WirePlace {
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    }
}

fn wire_event(e: &SimEvent) -> WireEvent {
    let (code, text) = step_code(e.step);
    WireEvent {
        time: rfc3339(&e.at),
        code: code.into(),
        text: text.into(),
        place: wire_place(&e.place),
    }
}

fn wire_parcel(p: &SimParcel) -> WireResult {
    let delivered = p
        .current()
        .is_some_and(|e| e.step == JourneyStep::Delivered);
    WireResult {
        tracking_number: p.tracking_number.clone(),
        status: "found".into(),
        service: Some(p.service.clone()),
        origin: Some(wire_place(&p.origin)),
        destination: Some(wire_place(&p.destination)),
        estimated_delivery: p.eta.map(|(from, to)| WireEta::Window {
            from: rfc3339(&from),
            to: rfc3339(&to),
        }),
        signed_by: p.signed_by.clone().filter(|_| delivered),
        // This carrier lists events oldest first.
        events: p.events.iter().map(wire_event).collect(),
    }
}

fn json_response(status: u16, body: &impl Serialize) -> HttpResponse {
    let body = serde_json::to_vec(body).unwrap_or_default();
    HttpResponse::new(status, "application/json", body)
}

fn error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        &ErrorEnvelope {
            error: WireError {
                code: code.into(),
                message: message.into(),
            },
        },
    )
}

// ---- the plugin ----

/// The Example Parcel plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Example;

impl Example {
    /// The plugin (same as `Example::default()`), for the registry in `src/carriers.rs`.
    pub const fn new() -> Example {
        Example
    }
}

impl Carrier for Example {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// `EX` + 10 digits + a mod-10 check digit (weights 3/1 from the right).
    fn detect(&self, number: &str) -> Detection {
        let Some(digits) = number.strip_prefix(PREFIX) else {
            return Detection::No;
        };
        if digits.len() == SERIAL_DIGITS + 1 && mod10_weighted_valid(digits, 3, 1) {
            Detection::Checksum
        } else {
            Detection::No
        }
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        _token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        if numbers.is_empty() || numbers.len() > DESCRIPTOR.batch_size {
            return Err(CarrierError::Config {
                message: format!(
                    "example tracks 1 to {} numbers per request, got {}",
                    DESCRIPTOR.batch_size,
                    numbers.len()
                ),
            });
        }
        let key = creds.require_secret("Example Parcel API key")?;
        let body = serde_json::to_vec(&TrackRequest {
            tracking_numbers: numbers.iter().map(|n| n.to_string()).collect(),
        })
        .map_err(|e| CarrierError::Config {
            message: format!("cannot encode the track request: {e}"),
        })?;
        Ok(HttpRequest::post(TRACK_PATH, body)
            .header(API_KEY_HEADER, key)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json"))
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse_answer(numbers, resp)
    }

    fn sim_mint_number(&self, serial: u64) -> String {
        let body = format!("{:010}", serial % 10_000_000_000);
        let check = mod10_weighted_check(body.as_bytes(), 3, 1);
        format!("{PREFIX}{body}{check}")
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        if req.path() != TRACK_PATH {
            return Err(SimRequestError::NotFound(req.path().to_string()));
        }
        if req.method != Method::Post {
            return Err(SimRequestError::BadRequest(format!(
                "{} not allowed on {TRACK_PATH}",
                req.method.as_str()
            )));
        }
        let body: TrackRequest = serde_json::from_slice(&req.body)
            .map_err(|e| SimRequestError::BadRequest(format!("bad track request body: {e}")))?;
        let credential = match req.header_value(API_KEY_HEADER) {
            Some(key) => SimCredential::ApiKey(key.trim().to_string()),
            None => SimCredential::None,
        };
        Ok(SimCall::Track {
            numbers: body.tracking_numbers,
            credential,
        })
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        let results = replies
            .iter()
            .map(|r| match r {
                SimReply::Known(p) => wire_parcel(p),
                SimReply::Unknown(n) => WireResult {
                    tracking_number: n.to_string(),
                    status: "not_found".into(),
                    service: None,
                    origin: None,
                    destination: None,
                    estimated_delivery: None,
                    signed_by: None,
                    events: Vec::new(),
                },
            })
            .collect();
        json_response(200, &TrackAnswer { results })
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        match fault {
            SimFault::Unauthorized => error_response(401, "unauthorized", "invalid API key"),
            SimFault::RateLimited { retry_after_secs } => {
                error_response(429, "rate_limited", "too many requests")
                    .header("Retry-After", retry_after_secs.to_string())
            }
            SimFault::ServerError => error_response(503, "unavailable", "try again later"),
            SimFault::BadRequest { message } => error_response(400, "bad_request", message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_one_status_and_every_step_has_a_code() {
        for (i, (code, ..)) in CODES.iter().enumerate() {
            assert!(
                CODES[i + 1..].iter().all(|(c, ..)| c != code),
                "{code} listed twice"
            );
        }
        for step in JourneyStep::ALL {
            let (code, _) = step_code(step);
            assert_eq!(map_code(code).0, step.status(), "{step:?} renders {code}");
        }
        assert_eq!(map_code("ZZ").0, Status::Unknown);
        assert_eq!(map_code("ZZ").2, "example:unmapped=ZZ");
    }

    #[test]
    fn times_keep_their_provenance() {
        assert!(
            parse_time("2024-03-01T08:00:00-05:00")
                .unwrap()
                .offset_known()
        );
        assert!(!parse_time("2024-03-01T08:00:00").unwrap().offset_known());
        assert_eq!(parse_time("yesterday"), None);
    }
}
