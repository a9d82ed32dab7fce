//! The PostNL side of trackd's simulator: route incoming requests and render
//! answers in the ShippingStatus v2 wire format (`DD-MM-YYYY HH:MM:SS` local
//! times without zone, `{}` for absent values, newest event first).

use crate::codes::step_wire;
use crate::{API_KEY_HEADER, PATH_PREFIX};
use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};
use trackd_carrier_sdk::http::percent_decode;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault, SimReply, SimRequestError};
use trackd_carrier_sdk::{Address, HttpRequest, HttpResponse, Method, SimParcel};

/// The barcode of a status path, if the path is one.
pub fn barcode_of(path: &str) -> Option<String> {
    let id = path.strip_prefix(PATH_PREFIX)?;
    let id = percent_decode(&id.replace('+', "%2B"));
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Classifies `GET /shipment/v2/status/barcode/{barcode}` with its `apikey`.
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let Some(barcode) = barcode_of(req.path()) else {
        return Err(SimRequestError::NotFound(req.path().to_string()));
    };
    if req.method != Method::Get {
        return Err(SimRequestError::BadRequest(format!(
            "{} not allowed on the status operation",
            req.method.as_str()
        )));
    }
    let credential = match req.header_value(API_KEY_HEADER).map(str::trim) {
        Some(key) if !key.is_empty() => SimCredential::ApiKey(key.to_string()),
        _ => SimCredential::None,
    };
    Ok(SimCall::Track {
        numbers: vec![barcode],
        credential,
    })
}

fn local(t: &DateTime<FixedOffset>) -> String {
    t.naive_local().format("%d-%m-%Y %H:%M:%S").to_string()
}

fn iso_local(t: &DateTime<FixedOffset>) -> String {
    t.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn or_empty(v: &Option<String>) -> Value {
    v.as_ref().map_or_else(|| json!({}), |s| json!(s))
}

fn address(kind: &str, a: &Address) -> Value {
    json!({
        "AddressType": kind,
        "Building": {},
        "City": or_empty(&a.city),
        "CompanyName": {},
        "CountryCode": or_empty(&a.country),
        "Region": or_empty(&a.region),
        "Zipcode": or_empty(&a.postal_code),
        "Remark": {},
    })
}

fn shipment(p: &SimParcel) -> Value {
    // PostNL lists events and old statuses newest first.
    let events: Vec<Value> = p
        .events
        .iter()
        .rev()
        .map(|e| {
            let (code, text, ..) = step_wire(e.step);
            json!({
                "Code": code,
                "Description": text,
                "DestinationLocationCode": {},
                "LocationCode": "888888",
                "RouteCode": {},
                "RouteName": {},
                "TimeStamp": local(&e.at),
            })
        })
        .collect();
    let status_of = |e: &trackd_carrier_sdk::SimEvent| {
        let (_, text, status, phase) = step_wire(e.step);
        json!({
            "TimeStamp": local(&e.at),
            "StatusCode": status,
            "StatusDescription": text,
            "PhaseCode": phase,
            "PhaseDescription": {},
        })
    };
    let old: Vec<Value> = p.events.iter().rev().map(status_of).collect();
    let mut s = json!({
        "MainBarcode": p.tracking_number,
        "Barcode": p.tracking_number,
        "ShipmentAmount": "1",
        "ShipmentCounter": "1",
        "Customer": { "CustomerCode": "TRKD", "CustomerNumber": "11223344", "Name": {} },
        "ProductCode": "003085",
        "ProductDescription": p.service,
        "Reference": {},
        "Address": [address("01", &p.destination), address("02", &p.origin)],
        "Event": events,
        "Status": p.current().map_or_else(|| json!({}), status_of),
        "OldStatus": old,
    });
    if let (Some((from, to)), Value::Object(m)) = (p.eta, &mut s) {
        m.insert(
            "Expectation".into(),
            json!({ "ETAFrom": iso_local(&from), "ETATo": iso_local(&to) }),
        );
    }
    s
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::new(
        status,
        "application/json;charset=UTF-8",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A known barcode as the CompleteStatus answer; an unknown one as PostNL's
/// 200 with an empty status and the "No shipment found" warning.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    match replies.first() {
        Some(SimReply::Known(p)) => json_response(
            200,
            &json!({ "CompleteStatus": { "Shipment": shipment(p) } }),
        ),
        Some(SimReply::Unknown(_)) => json_response(
            200,
            &json!({
                "CompleteStatus": {},
                "Warnings": [{ "Message": "No shipment found", "Code": "2" }],
            }),
        ),
        None => render_fault(&SimFault::BadRequest {
            message: "no barcode in request".into(),
        }),
    }
}

fn gateway_fault(status: u16, faultstring: &str, errorcode: &str) -> HttpResponse {
    json_response(
        status,
        &json!({ "fault": { "faultstring": faultstring, "detail": { "errorcode": errorcode } } }),
    )
}

/// Failures as PostNL's API gateway and service send them.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => gateway_fault(401, "Invalid ApiKey", "oauth.v2.InvalidApiKey"),
        SimFault::RateLimited { retry_after_secs } => gateway_fault(
            429,
            "Spike arrest violation",
            "policies.ratelimit.SpikeArrestViolation",
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => gateway_fault(
            503,
            "The Service is temporarily unavailable",
            "messaging.adaptors.http.flow.ServiceUnavailable",
        ),
        SimFault::BadRequest { message } => json_response(
            400,
            &json!({ "Errors": [{ "ErrorMsg": message, "ErrorNumber": "1" }] }),
        ),
    }
}
