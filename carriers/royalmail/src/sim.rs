//! The Royal Mail side of trackd's simulator: route incoming requests and render
//! answers in the Tracking API v2 wire format.

use crate::codes::step_wire;
use crate::country;
use crate::parse::NOT_FOUND_CODE;
use crate::wire::{Envelope, EstimatedDelivery, Event, MailPieces, Signature, Summary, WireError};
use crate::{CLIENT_ID_HEADER, CLIENT_SECRET_HEADER, EVENTS_SUFFIX, PATH_PREFIX};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use trackd_carrier_sdk::http::percent_decode;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault, SimReply, SimRequestError};
use trackd_carrier_sdk::{HttpRequest, HttpResponse, JourneyStep, Method, SimParcel};

/// The mail piece id of an events path, if the path is one.
pub fn number_of(path: &str) -> Option<String> {
    let id = path
        .strip_prefix(PATH_PREFIX)?
        .strip_suffix(EVENTS_SUFFIX)?;
    // `+` is literal in a path segment; decode only `%XX`.
    let id = percent_decode(&id.replace('+', "%2B"));
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Classifies a request: `GET /mailpieces/v2/{id}/events` with the IBM client
/// id and secret headers (both checked, like Royal Mail's gateway).
pub fn route(req: &HttpRequest) -> Result<SimCall, SimRequestError> {
    let Some(number) = number_of(req.path()) else {
        return Err(SimRequestError::NotFound(req.path().to_string()));
    };
    if req.method != Method::Get {
        return Err(SimRequestError::BadRequest(format!(
            "{} not allowed on the events operation",
            req.method.as_str()
        )));
    }
    let terms = req.header_value("X-Accept-RMG-Terms").map(str::trim);
    if !terms.is_some_and(|t| t.eq_ignore_ascii_case("yes")) {
        return Err(SimRequestError::BadRequest(
            "E0004: Failed header validation for X-Accept-RMG-Terms".into(),
        ));
    }
    let id = req.header_value(CLIENT_ID_HEADER).map(str::trim);
    let secret = req.header_value(CLIENT_SECRET_HEADER).map(str::trim);
    let credential = match (id, secret) {
        (Some(user), Some(password)) => SimCredential::Basic {
            user: user.to_string(),
            password: password.to_string(),
        },
        _ => SimCredential::None,
    };
    Ok(SimCall::Track {
        numbers: vec![number],
        credential,
    })
}

fn iso(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn parcel_body(p: &SimParcel) -> Envelope<'static> {
    let newest = p.current();
    let (code, name, category) = newest.map_or(("", "", ""), |e| step_wire(e.step));
    let delivered = newest.is_some_and(|e| e.step == JourneyStep::Delivered);
    // Royal Mail lists events newest first.
    let events = p
        .events
        .iter()
        .rev()
        .map(|e| {
            let (code, name, _) = step_wire(e.step);
            Event {
                event_code: Some(code.into()),
                event_name: Some(name.into()),
                event_date_time: Some(iso(&e.at).into()),
                location_name: e.place.city.clone().map(Into::into),
            }
        })
        .collect();
    let alpha3 = |c: &Option<String>| c.as_deref().and_then(country::alpha3).map(Into::into);
    Envelope {
        mail_pieces: Some(MailPieces {
            mail_piece_id: Some(p.tracking_number.clone().into()),
            carrier_short_name: Some("RM".into()),
            carrier_full_name: Some("Royal Mail Group Ltd".into()),
            summary: Some(Summary {
                one_d_barcode: Some(p.tracking_number.clone().into()),
                product_name: Some(p.service.clone().into()),
                origin_country_code: alpha3(&p.origin.country),
                destination_country_code: alpha3(&p.destination.country),
                last_event_code: Some(code.into()),
                last_event_name: Some(name.into()),
                last_event_date_time: newest.map(|e| iso(&e.at).into()),
                last_event_location_name: newest.and_then(|e| e.place.city.clone().map(Into::into)),
                status_description: Some(name.into()),
                status_category: Some(category.into()),
                ..Summary::default()
            }),
            signature: p
                .signed_by
                .clone()
                .filter(|_| delivered)
                .map(|name| Signature {
                    recipient_name: Some(name.into()),
                    signature_date_time: newest.map(|e| iso(&e.at).into()),
                }),
            estimated_delivery: p.eta.map(|(start, end)| EstimatedDelivery {
                date: Some(start.format("%Y-%m-%d").to_string().into()),
                start_of_estimated_window: Some(start.format("%H:%M:%S%:z").to_string().into()),
                end_of_estimated_window: Some(end.format("%H:%M:%S%:z").to_string().into()),
            }),
            events: Some(events),
            error: None,
        }),
        errors: Some(Vec::new()),
        ..Envelope::default()
    }
}

fn json(status: u16, body: &Envelope<'_>) -> HttpResponse {
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

fn error_body(code: &str, message: &str, errors: Vec<WireError>) -> Envelope<'static> {
    Envelope {
        http_code: Some(code.into()),
        http_message: Some(message.into()),
        more_information: None,
        errors: Some(errors),
        mail_pieces: None,
    }
}

fn error(code: &str, description: &str, cause: &str, resolution: &str) -> WireError {
    WireError {
        error_code: Some(code.into()),
        error_description: Some(description.into()),
        error_cause: Some(cause.into()),
        error_resolution: Some(resolution.into()),
    }
}

/// Known parcels as the events answer; unknown numbers as Royal Mail's 404
/// E1142. The events operation takes one item, so only the first reply counts.
pub fn render_track(replies: &[SimReply<'_>]) -> HttpResponse {
    match replies.first() {
        Some(SimReply::Known(p)) => json(200, &parcel_body(p)),
        Some(SimReply::Unknown(n)) => json(
            404,
            &error_body(
                "404",
                "Not Found",
                vec![error(
                    NOT_FOUND_CODE,
                    &format!("Barcode reference {n} isn't recognised"),
                    "A mail item with that barcode cannot be located",
                    "Check barcode and resubmit",
                )],
            ),
        ),
        None => render_fault(&SimFault::BadRequest {
            message: "no tracking number in request".into(),
        }),
    }
}

/// Failures as Royal Mail's API gateway sends them.
pub fn render_fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => {
            let mut body = error_body("401", "Unauthorized", Vec::new());
            body.more_information = Some("Client id not registered.".into());
            body.errors = None;
            json(401, &body)
        }
        SimFault::RateLimited { retry_after_secs } => {
            let mut body = error_body(
                "429",
                "Too Many Requests",
                vec![error(
                    "E0010",
                    "Rate limit exceeded",
                    "The rate limit has been exceeded for the plan or operation being used",
                    "Please retry later",
                )],
            );
            body.more_information = Some(
                "The rate limit has been exceeded for the plan or operation being used".into(),
            );
            json(429, &body).header("Retry-After", retry_after_secs.to_string())
        }
        SimFault::ServerError => json(
            503,
            &error_body(
                "503",
                "Service Unavailable",
                vec![error(
                    "E0001",
                    "Service unavailable",
                    "The service is temporarily unavailable",
                    "Please retry later",
                )],
            ),
        ),
        SimFault::BadRequest { message } => json(
            400,
            &error_body(
                "400",
                "Bad Request",
                vec![error(
                    "E0004",
                    message,
                    "The submitted request was not valid",
                    "Please check the API request and re-submit",
                )],
            ),
        ),
    }
}
