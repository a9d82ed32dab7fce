//! The simulator side: Canada Post's wire XML rendered from carrier-neutral
//! parcels, shaped like the documented Get Tracking Details answer.

use crate::codes::step_event;
use quick_xml::escape::escape;
use std::fmt::Write as _;
use trackd_carrier_sdk::sim::{SimFault, ZONE_ABBREVIATIONS};
use trackd_carrier_sdk::{HttpResponse, JourneyStep, SimParcel};

/// The media type Canada Post requires in `Accept` and answers with.
pub const TRACK_MEDIA_TYPE: &str = "application/vnd.cpc.track-v2+xml";
const TRACK_NS: &str = "http://www.canadapost.ca/ws/track";
const MESSAGES_NS: &str = "http://www.canadapost.ca/ws/messages";
const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The abbreviation Canada Post would print for a UTC offset (first match in the
/// SDK table, so EST for -05:00 and AST for -04:00), if there is one.
pub fn zone_abbreviation(offset_secs: i32) -> Option<&'static str> {
    ZONE_ABBREVIATIONS
        .iter()
        .find(|(_, off)| *off == offset_secs)
        .map(|(abbrev, _)| *abbrev)
}

/// Writes `<name>text</name>`, or `<name/>` when empty, as Canada Post does.
fn el(out: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        let _ = write!(out, "<{name}/>");
    } else {
        let _ = write!(out, "<{name}>{}</{name}>", escape(value));
    }
}

/// French service name for `service-name-2` (Canada Post sends both languages).
fn french_service(service: &str) -> &str {
    match service {
        "Expedited Parcels" | "Expedited Parcel" => "Colis accélérés",
        "Regular Parcel" => "Colis standard",
        "Priority" => "Priorité",
        "Tracked Packet" => "Paquet repérable",
        other => other,
    }
}

/// `mailed-by-customer-number`: a 16-digit PIN starts with the mailer's 7-digit
/// origin id, printed zero-padded to 10 (as in the documented example).
fn customer_number(pin: &str) -> String {
    if pin.len() == 16 && pin.bytes().all(|b| b.is_ascii_digit()) {
        format!("000{}", &pin[..7])
    } else {
        String::new()
    }
}

/// Renders `<tracking-detail>` with every element of the schema, events newest
/// first, compact (no whitespace between elements) like production answers.
pub fn render_detail(p: &SimParcel) -> String {
    let mut out = String::with_capacity(1024 + 420 * p.events.len());
    out.push_str(XML_DECL);
    let _ = write!(out, "\n<tracking-detail xmlns=\"{TRACK_NS}\">");
    let eta_date = p
        .eta
        .map(|(_, end)| end.date_naive().format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let reason = p.eta_change_reason.as_deref().unwrap_or("").trim();
    let changed = if reason.is_empty() {
        ""
    } else {
        eta_date.as_str()
    };
    let postal: String = p
        .destination
        .postal_code
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let customer = customer_number(&p.tracking_number);
    let delivered = p.current().map(|e| e.step) == Some(JourneyStep::Delivered);
    let signed = delivered && p.signed_by.is_some();

    el(&mut out, "pin", &p.tracking_number);
    el(&mut out, "active-exists", "1");
    el(&mut out, "archive-exists", "");
    el(&mut out, "changed-expected-date", changed);
    el(&mut out, "destination-postal-id", &postal);
    // The simulator only knows the current promise; with a change it stands in
    // for the original date too.
    el(&mut out, "expected-delivery-date", &eta_date);
    el(
        &mut out,
        "changed-expected-delivery-reason",
        if changed.is_empty() { "" } else { reason },
    );
    el(&mut out, "mailed-by-customer-number", &customer);
    el(&mut out, "mailed-on-behalf-of-customer-number", &customer);
    el(&mut out, "original-pin", "");
    el(&mut out, "service-name", &p.service);
    el(&mut out, "service-name-2", french_service(&p.service));
    el(&mut out, "customer-ref-1", "");
    el(&mut out, "customer-ref-2", "");
    el(&mut out, "return-pin", "");
    el(
        &mut out,
        "signature-image-exists",
        if signed { "true" } else { "false" },
    );
    el(&mut out, "suppress-signature", "false");
    el(&mut out, "delivery-options", "");
    out.push_str("<significant-events>");
    for ev in p.events.iter().rev() {
        let (code, text) = step_event(ev.step);
        let signatory = match (ev.step, &p.signed_by) {
            (JourneyStep::Delivered, Some(name)) => name.as_str(),
            _ => "",
        };
        let zone = zone_abbreviation(ev.at.offset().local_minus_utc()).unwrap_or("");
        out.push_str("<occurrence>");
        el(&mut out, "event-identifier", code);
        el(
            &mut out,
            "event-date",
            &ev.at.format("%Y-%m-%d").to_string(),
        );
        el(
            &mut out,
            "event-time",
            &ev.at.format("%H:%M:%S").to_string(),
        );
        el(&mut out, "event-time-zone", zone);
        el(&mut out, "event-description", text);
        el(&mut out, "signatory-name", signatory);
        el(
            &mut out,
            "event-site",
            ev.place.city.as_deref().unwrap_or(""),
        );
        el(
            &mut out,
            "event-province",
            ev.place.region.as_deref().unwrap_or(""),
        );
        el(&mut out, "event-retail-location-id", "");
        el(&mut out, "event-retail-name", "");
        out.push_str("</occurrence>");
    }
    out.push_str("</significant-events></tracking-detail>");
    out
}

/// Renders a `<messages>` error document.
pub fn render_messages(messages: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(200);
    out.push_str(XML_DECL);
    let _ = write!(out, "\n<messages xmlns=\"{MESSAGES_NS}\">");
    for (code, description) in messages {
        out.push_str("<message>");
        el(&mut out, "code", code);
        el(&mut out, "description", description);
        out.push_str("</message>");
    }
    out.push_str("</messages>");
    out
}

/// The documented unknown-PIN answer: code 004 "No Pin History".
pub fn not_found() -> HttpResponse {
    HttpResponse::new(
        404,
        TRACK_MEDIA_TYPE,
        render_messages(&[(crate::map::NO_PIN_HISTORY, "No Pin History")]),
    )
}

/// A failure as the Canada Post gateway reports it.
pub fn fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => HttpResponse::new(
            401,
            TRACK_MEDIA_TYPE,
            render_messages(&[("E002", "AAA Authentication Failure")]),
        )
        .header("WWW-Authenticate", "Basic realm=\"soa-gw.canadapost.ca\""),
        SimFault::RateLimited { retry_after_secs } => HttpResponse::new(
            429,
            TRACK_MEDIA_TYPE,
            render_messages(&[("Server", "Rejected by SLM Monitor")]),
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => HttpResponse::new(
            500,
            TRACK_MEDIA_TYPE,
            render_messages(&[("E500", "Internal server error")]),
        ),
        SimFault::BadRequest { message } => HttpResponse::new(
            400,
            TRACK_MEDIA_TYPE,
            render_messages(&[("E400", message.as_str())]),
        ),
    }
}
