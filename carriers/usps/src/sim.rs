//! The USPS wire format rendered for trackd's simulator: the OAuth 2.0 v3 token
//! call, the Tracking v3.2 batch call (200, or 207 multi-status when some
//! numbers fail) and USPS's `ErrorMessage` faults.

use crate::mapping::step_event;
use crate::times::{format_clock, format_offset};
use crate::{API_VERSION, TOKEN_PATH, TRACK_PATH};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use trackd_carrier_sdk::http::{decode_basic, percent_decode};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Address, HttpRequest, HttpResponse, JourneyStep, Method, SimEvent, SimParcel, SimReply,
    SimRequestError,
};

/// USPS's message for a number it cannot find (Web Tools wording, which the
/// v3 APIs carry over).
pub const NOT_FOUND_MESSAGE: &str = "The tracking number may be incorrect or the status update is not yet available. Please verify your tracking number and try again later.";

/// USPS HTML-encodes its text fields; the parser decodes them.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(v: &Option<String>) -> Value {
    v.as_deref()
        .map_or(Value::Null, |s| Value::String(html_escape(s)))
}

fn place(obj: &mut Map<String, Value>, prefix: &str, zip_key: &str, a: &Address) {
    obj.insert(format!("{prefix}City"), opt(&a.city));
    obj.insert(format!("{prefix}State"), opt(&a.region));
    obj.insert(zip_key.to_string(), opt(&a.postal_code));
    obj.insert(format!("{prefix}Country"), opt(&a.country));
}

fn event(e: &SimEvent, signed_by: Option<&str>) -> Value {
    let (code, text, _) = step_event(e.step);
    let mut o = Map::new();
    o.insert("eventType".into(), json!(html_escape(text)));
    // Local wall clock without zone, the GMT instant and the offset: as USPS sends them.
    o.insert(
        "eventTimestamp".into(),
        json!(e.at.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string()),
    );
    o.insert(
        "GMTTimestamp".into(),
        json!(
            e.at.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    );
    o.insert("GMTOffset".into(), json!(format_offset(e.at.offset())));
    o.insert("eventCity".into(), opt(&e.place.city));
    o.insert("eventState".into(), opt(&e.place.region));
    o.insert("eventZIPCode".into(), opt(&e.place.postal_code));
    o.insert("eventCountry".into(), opt(&e.place.country));
    o.insert("eventCode".into(), json!(code));
    if let Some(name) = signed_by {
        o.insert("recipientName".into(), json!(html_escape(name)));
    }
    Value::Object(o)
}

fn eta(start: &DateTime<FixedOffset>, end: &DateTime<FixedOffset>) -> Value {
    json!({
        "expectedDeliveryDate": end.date_naive().format("%Y-%m-%d").to_string(),
        "predictedDeliveryDate": start.date_naive().format("%Y-%m-%d").to_string(),
        "predictedDeliveryWindowStartTime": format_clock(&start.time()),
        "predictedDeliveryWindowEndTime": format_clock(&end.time()),
    })
}

/// One known parcel as a v3.2 `TrackingDetail` (events newest first).
pub fn detail(p: &SimParcel, with_status_code: bool) -> Value {
    let mut o = Map::new();
    if with_status_code {
        o.insert("statusCode".into(), json!("200"));
    }
    o.insert("trackingNumber".into(), json!(p.tracking_number));
    o.insert("mailClass".into(), json!(html_escape(&p.service)));
    o.insert("mailType".into(), json!("DM"));
    place(&mut o, "origin", "originZIPCode", &p.origin);
    place(&mut o, "destination", "destinationZIPCode", &p.destination);
    let current = p.current();
    let delivered = current.is_some_and(|e| e.step == JourneyStep::Delivered);
    if let Some(cur) = current {
        let (_, text, category) = step_event(cur.step);
        o.insert("status".into(), json!(html_escape(text)));
        o.insert("statusCategory".into(), json!(category));
        let city = cur.place.city.as_deref().unwrap_or_default();
        o.insert(
            "statusSummary".into(),
            json!(format!(
                "{text} at {} on {} in {city}.",
                format_clock(&cur.at.time()),
                cur.at.format("%B %-d, %Y")
            )),
        );
    }
    if let Some((start, end)) = &p.eta {
        o.insert("deliveryDateExpectation".into(), eta(start, end));
    }
    let signer = p.signed_by.as_deref().filter(|_| delivered);
    let events: Vec<Value> = p
        .events
        .iter()
        .rev()
        .map(|e| {
            let signed = signer.filter(|_| e.step == JourneyStep::Delivered);
            event(e, signed)
        })
        .collect();
    o.insert("trackingEvents".into(), Value::Array(events));
    Value::Object(o)
}

/// A v3 `ErrorMessage` envelope.
pub fn error_body(status: u16, title: &str, message: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "error": {
            "code": status.to_string(),
            "message": message,
            "errors": [{ "status": status.to_string(), "title": title, "detail": message }]
        }
    })
}

/// An unknown number inside a 207 answer (`FailureResponse`).
pub fn not_found_item(number: &str) -> Value {
    let mut v = error_body(404, "Not Found", NOT_FOUND_MESSAGE);
    if let Value::Object(o) = &mut v {
        o.insert("statusCode".into(), json!("404"));
        o.insert("trackingNumber".into(), json!(number));
    }
    v
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// 200 with every detail when all numbers are known, else 207 multi-status.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    let multi = replies.iter().any(|r| matches!(r, SimReply::Unknown(_)));
    let items: Vec<Value> = replies
        .iter()
        .map(|r| match r {
            SimReply::Known(p) => detail(p, multi),
            SimReply::Unknown(n) => not_found_item(n),
        })
        .collect();
    json_response(if multi { 207 } else { 200 }, &Value::Array(items))
}

/// The token answer in USPS's provider shape (`issued_at` is left out: plugins
/// have no clock).
pub fn render_token(token: &str, expires_in_secs: u64) -> HttpResponse {
    json_response(
        200,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in_secs,
            "status": "approved",
            "scope": "tracking",
            "issuer": "api.usps.com",
        }),
    )
}

/// USPS's documented error answers.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => json_response(
            401,
            &error_body(
                401,
                "Unauthorized",
                "OAuth token is missing, invalid or expired.",
            ),
        )
        .header("WWW-Authenticate", "Bearer realm=\"https://api.usps.com\""),
        SimFault::RateLimited { retry_after_secs } => {
            let mut body = error_body(
                429,
                "Too Many Requests.",
                "Quota limit exceeded. The number of requests has exceeded the quota established for the time period.",
            );
            if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
                e.insert("message".into(), json!("Exceeded quota limit. Please contact https://emailus.usps.com/s/web-tools-inquiry and a representative will assist."));
            }
            json_response(429, &body).header("Retry-After", retry_after_secs.to_string())
        }
        SimFault::ServerError => json_response(
            503,
            &error_body(
                503,
                "Service Unavailable",
                "The service is temporarily unavailable.",
            ),
        )
        .header("Retry-After", "30"),
        SimFault::BadRequest { message } => {
            json_response(400, &error_body(400, "Bad Request", message))
        }
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k.trim()), percent_decode(v.trim()))
        })
        .collect()
}

fn credential(req: &HttpRequest) -> SimCredential {
    let Some(value) = req.header_value("authorization") else {
        return SimCredential::None;
    };
    let value = value.trim();
    if let Some(tok) = value.strip_prefix("Bearer ") {
        return SimCredential::Bearer(tok.trim().to_string());
    }
    match value.strip_prefix("Basic ").and_then(decode_basic) {
        Some((user, password)) => SimCredential::Basic { user, password },
        None => SimCredential::None,
    }
}

fn route_token(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let json_body = req
        .header_value("content-type")
        .is_some_and(|c| c.contains("json"));
    let pairs: Vec<(String, String)> = if json_body {
        let v: Value = serde_json::from_slice(&req.body)
            .map_err(|e| SimRequestError::BadRequest(format!("bad token request body: {e}")))?;
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    } else {
        form_pairs(&req.body)
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("grant_type").as_deref() != Some("client_credentials") {
        return Err(SimRequestError::BadRequest(
            "unsupported_grant_type: only client_credentials is simulated".into(),
        ));
    }
    // The client may also authenticate with Basic (the spec's BasicAuth scheme).
    let (basic_id, basic_secret) = match credential(req) {
        SimCredential::Basic { user, password } => (Some(user), Some(password)),
        _ => (None, None),
    };
    match (
        get("client_id").or(basic_id),
        get("client_secret").or(basic_secret),
    ) {
        (Some(client_id), Some(client_secret)) => Ok(SimCall::Token {
            client_id,
            client_secret,
        }),
        _ => Err(SimRequestError::BadRequest(
            "invalid_request: client_id and client_secret are required".into(),
        )),
    }
}

fn route_track(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| SimRequestError::BadRequest(format!("bad tracking request body: {e}")))?;
    let items = body.as_array().ok_or_else(|| {
        SimRequestError::BadRequest("the tracking request body must be an array".into())
    })?;
    if items.is_empty() || items.len() > crate::BATCH_SIZE {
        return Err(SimRequestError::BadRequest(format!(
            "the tracking request takes 1 to {} items, got {}",
            crate::BATCH_SIZE,
            items.len()
        )));
    }
    let numbers = items
        .iter()
        .map(|i| {
            i.get("trackingNumber")
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .ok_or_else(|| SimRequestError::BadRequest("trackingNumber is required".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SimCall::Track {
        numbers,
        credential: credential(req),
    })
}

/// Classifies a simulator request in USPS's wire format.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let path = req.path();
    if path != TOKEN_PATH && path != TRACK_PATH {
        return Err(SimRequestError::NotFound(path.to_string()));
    }
    if req.method != Method::Post {
        return Err(SimRequestError::BadRequest(format!(
            "{} not allowed on {path}",
            req.method.as_str()
        )));
    }
    if path == TOKEN_PATH {
        route_token(req)
    } else {
        route_track(req)
    }
}
