//! Simulator side: routes requests in Australia Post's wire format and renders
//! answers and faults the way Australia Post documents them.

use crate::codes::step_texts;
use crate::wire::{TrackAnswer, WireError, WireEvent, WireItem, WireResult};
use crate::{ACCOUNT_HEADER, TRACK_PATH};
use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::Value;
use trackd_carrier_sdk::http::decode_basic;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Address, HttpRequest, HttpResponse, Method, SimEvent, SimParcel, SimReply, SimRequestError,
};

const AU_STATES: &[&str] = &["NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT"];

/// Classifies a Track Items call: the ids and the Basic credential presented.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    if req.path() != TRACK_PATH {
        return Err(SimRequestError::NotFound(req.path().to_string()));
    }
    if req.method != Method::Get {
        return Err(SimRequestError::BadRequest(format!(
            "{} not allowed on {TRACK_PATH}",
            req.method.as_str()
        )));
    }
    let ids = req
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "tracking_ids")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let numbers: Vec<String> = ids
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if numbers.is_empty() {
        return Err(SimRequestError::BadRequest(
            "51100 TRACKING_ID_MISSING: the request must contain at least one tracking id".into(),
        ));
    }
    if req
        .header_value(ACCOUNT_HEADER)
        .is_none_or(|v| v.trim().is_empty())
    {
        return Err(SimRequestError::BadRequest(format!(
            "missing {ACCOUNT_HEADER} header"
        )));
    }
    let credential = match req.header_value("authorization") {
        None => SimCredential::None,
        Some(v) => {
            let v = v.trim();
            let encoded = v
                .strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
                .ok_or_else(|| {
                    SimRequestError::BadRequest("Authorization must be HTTP Basic".into())
                })?;
            let (user, password) = decode_basic(encoded).ok_or_else(|| {
                SimRequestError::BadRequest("undecodable Basic credential".into())
            })?;
            SimCredential::Basic { user, password }
        }
    };
    Ok(SimCall::Track {
        numbers,
        credential,
    })
}

/// `SUBURB STATE` for Australian places, `PLACE (CC)` elsewhere.
fn location(a: &Address) -> Option<String> {
    let city = a.city.clone()?;
    match (a.region.as_deref(), a.country.as_deref()) {
        (Some(r), Some("AU")) if AU_STATES.contains(&r) => Some(format!("{city} {r}")),
        (_, Some(cc)) => Some(format!("{city} ({cc})")),
        _ => Some(city),
    }
}

fn event(e: &SimEvent) -> WireEvent<'static> {
    let (text, _) = step_texts(e.step);
    WireEvent {
        location: location(&e.place).map(Into::into),
        description: text.into(),
        date: e.at.to_rfc3339_opts(SecondsFormat::Secs, false).into(),
    }
}

fn found(p: &SimParcel) -> WireResult<'static> {
    let status = p.current().map(|e| step_texts(e.step).1.into());
    WireResult {
        tracking_id: p.tracking_number.clone().into(),
        status: status.clone(),
        errors: Vec::new(),
        trackable_items: Some(vec![WireItem {
            article_id: Some(p.tracking_number.clone().into()),
            product_type: Some(p.service.clone().into()),
            // Newest first, as Australia Post lists them.
            events: p.events.iter().rev().map(event).collect(),
            status,
            ..WireItem::default()
        }]),
        consignment: Vec::new(),
    }
}

fn not_found(n: &str) -> WireResult<'static> {
    WireResult {
        tracking_id: n.to_string().into(),
        errors: vec![WireError {
            code: Some(Value::String("ESB-10001".into())),
            name: Some("Invalid tracking ID".into()),
            ..WireError::default()
        }],
        ..WireResult::default()
    }
}

fn json(status: u16, body: &impl Serialize) -> HttpResponse {
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A 200 with one result per requested id (found, or `ESB-10001`).
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    let results = replies
        .iter()
        .map(|r| match r {
            SimReply::Known(p) => found(p),
            SimReply::Unknown(n) => not_found(n),
        })
        .collect();
    json(
        200,
        &TrackAnswer {
            tracking_results: Some(results),
            errors: Vec::new(),
        },
    )
}

fn error_body(code: &str, name: &str, message: &str) -> TrackAnswer<'static> {
    TrackAnswer {
        tracking_results: None,
        errors: vec![WireError {
            code: Some(Value::String(code.into())),
            name: Some(name.into()),
            message: Some(message.into()),
            ..WireError::default()
        }],
    }
}

/// Faults in the top-level `errors` envelope.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => json(
            401,
            &error_body("API_001", "Unauthorized", "Invalid API key or password"),
        ),
        SimFault::RateLimited { retry_after_secs } => json(
            429,
            &TrackAnswer {
                tracking_results: None,
                errors: vec![WireError {
                    message: Some("Too many requests".into()),
                    error_code: Some(Value::String("API_002".into())),
                    error_name: Some("Too many requests".into()),
                    ..WireError::default()
                }],
            },
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => json(
            500,
            &error_body(
                "ESB-20010",
                "System Error",
                "An internal technical error occurred.",
            ),
        ),
        SimFault::BadRequest { message } => {
            json(400, &error_body("51100", "TRACKING_ID_MISSING", message))
        }
    }
}
