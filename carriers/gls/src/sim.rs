//! Simulator side: routes token and track calls in GLS's wire format and
//! renders answers and faults the way the Track And Trace V1 spec shows them.

use crate::codes::step_event;
use crate::wire::{
    ErrorEnvelope, Event, Fault, FaultDetail, Parcel, ParcelsResponse, TokenResponse,
};
use crate::{TOKEN_PATH, TRACK_PREFIX};
use serde::Serialize;
use serde_json::Value;
use trackd_carrier_sdk::http::{decode_basic, percent_decode};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    HttpRequest, HttpResponse, Method, SimEvent, SimParcel, SimReply, SimRequestError,
};

/// GLS's event time format: ISO 8601 with a colon-less offset.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%z";

fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// Classifies a token call (Basic header or form credentials) or a track call.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let path = req.path();
    if path == TOKEN_PATH {
        if req.method != Method::Post {
            return Err(SimRequestError::BadRequest(
                "the token endpoint takes POST".into(),
            ));
        }
        if form_value(&req.body, "grant_type").as_deref() != Some("client_credentials") {
            return Err(SimRequestError::BadRequest(
                "grant_type must be client_credentials".into(),
            ));
        }
        if let Some(v) = req.header_value("authorization") {
            let encoded = v.trim().strip_prefix("Basic ").ok_or_else(|| {
                SimRequestError::BadRequest("token Authorization must be HTTP Basic".into())
            })?;
            let (client_id, client_secret) = decode_basic(encoded).ok_or_else(|| {
                SimRequestError::BadRequest("undecodable Basic credential".into())
            })?;
            return Ok(SimCall::Token {
                client_id,
                client_secret,
            });
        }
        return match (
            form_value(&req.body, "client_id"),
            form_value(&req.body, "client_secret"),
        ) {
            (Some(client_id), Some(client_secret)) => Ok(SimCall::Token {
                client_id,
                client_secret,
            }),
            _ => Err(SimRequestError::BadRequest(
                "missing client credentials".into(),
            )),
        };
    }
    let Some(raw) = path.strip_prefix(TRACK_PREFIX) else {
        return Err(SimRequestError::NotFound(path.to_string()));
    };
    if raw.is_empty() || raw.contains('/') {
        return Err(SimRequestError::NotFound(path.to_string()));
    }
    if req.method != Method::Get {
        return Err(SimRequestError::BadRequest(
            "the track endpoint takes GET".into(),
        ));
    }
    let numbers: Vec<String> = raw
        .split(',')
        .map(|s| percent_decode(s).trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if numbers.is_empty() {
        return Err(SimRequestError::NotFound(path.to_string()));
    }
    if numbers.len() > 10 {
        return Err(SimRequestError::BadRequest(format!(
            "Provided references of size '{}' is more than allowed limit of 10",
            numbers.len()
        )));
    }
    let credential = match req.header_value("authorization") {
        None => SimCredential::None,
        Some(v) => match v.trim().strip_prefix("Bearer ") {
            Some(t) => SimCredential::Bearer(t.trim().to_string()),
            None => {
                return Err(SimRequestError::BadRequest(
                    "track calls authenticate with a Bearer token".into(),
                ));
            }
        },
    };
    Ok(SimCall::Track {
        numbers,
        credential,
    })
}

fn event(e: &SimEvent) -> Event<'static> {
    let (code, text, _) = step_event(e.step);
    Event {
        code: code.into(),
        city: Some(e.place.city.clone().unwrap_or_default().into()),
        postal_code: Some(e.place.postal_code.clone().unwrap_or_default().into()),
        country: Some(e.place.country.clone().unwrap_or_default().into()),
        description: text.into(),
        event_date_time: e.at.format(TIME_FORMAT).to_string().into(),
    }
}

fn found(p: &SimParcel) -> Parcel<'static> {
    let current = p.current();
    Parcel {
        requested: p.tracking_number.clone().into(),
        unitno: Some(p.tracking_number.clone().into()),
        status: current.map(|e| step_event(e.step).2.to_string().into()),
        status_date_time: current.map(|e| e.at.format(TIME_FORMAT).to_string().into()),
        // Newest first, as GLS lists them.
        events: Some(p.events.iter().rev().map(event).collect()),
        error_code: None,
        error_message: None,
    }
}

fn not_found(n: &str) -> Parcel<'static> {
    Parcel {
        requested: n.to_string().into(),
        error_code: Some("E_404_01".into()),
        error_message: Some("Resource Not Found".into()),
        ..Parcel::default()
    }
}

fn json(status: u16, body: &impl Serialize) -> HttpResponse {
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A 200 with one parcel per requested id (found, or `E_404_01`).
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    let parcels = replies
        .iter()
        .map(|r| match r {
            SimReply::Known(p) => found(p),
            SimReply::Unknown(n) => not_found(n),
        })
        .collect();
    json(
        200,
        &ParcelsResponse {
            parcels: Some(parcels),
        },
    )
}

/// The Authentication API v2 token answer (`expires_in` a number).
pub fn render_token(token: &str, expires_in_secs: u64) -> HttpResponse {
    json(
        200,
        &TokenResponse {
            access_token: token.to_string(),
            token_type: Some("Bearer".into()),
            expires_in: Value::from(expires_in_secs),
        },
    )
}

fn fault(faultstring: &str, errorcode: &str) -> ErrorEnvelope {
    ErrorEnvelope {
        fault: Some(Fault {
            faultstring: faultstring.into(),
            detail: FaultDetail {
                errorcode: errorcode.into(),
            },
        }),
        ..ErrorEnvelope::default()
    }
}

fn problem(status: u16, title: &str, detail: &str) -> ErrorEnvelope {
    ErrorEnvelope {
        kind: Some("about:blank".into()),
        title: Some(title.into()),
        status: Some(Value::from(status)),
        detail: Some(detail.into()),
        instance: Some("/tracking/simple/trackids".into()),
        ..ErrorEnvelope::default()
    }
}

/// Faults as documented: Apigee faults for 401/429, problem JSON otherwise.
pub fn render_fault(f: &SimFault) -> HttpResponse {
    match f {
        SimFault::Unauthorized => json(
            401,
            &fault(
                "The Token has expired: policy(Verify-JWT)",
                "steps.jwt.TokenExpired",
            ),
        ),
        SimFault::RateLimited { retry_after_secs } => json(
            429,
            &fault(
                "Rate limit quota violation. Quota limit  exceeded.",
                "policies.ratelimit.QuotaViolation",
            ),
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => json(
            500,
            &problem(500, "Internal Server Error", "Internal Server Error"),
        ),
        SimFault::BadRequest { message } => json(400, &problem(400, "Bad Request", message)),
    }
}
