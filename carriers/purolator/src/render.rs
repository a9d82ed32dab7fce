//! The simulator side: Purolator's SOAP 1.1 wire format rendered from
//! carrier-neutral parcels, shaped like the documented `TrackPackagesByPin`
//! answer (WCF style: `s:` envelope, default `v1` datatypes namespace, `i:nil`).

use crate::codes::{step_scan, xsi_type};
use quick_xml::escape::escape;
use std::fmt::Write as _;
use trackd_carrier_sdk::sim::SimFault;
use trackd_carrier_sdk::{HttpResponse, JourneyStep, SimEvent, SimParcel, SimReply};

/// Content type of SOAP 1.1 messages (request and answer).
pub const SOAP_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Purolator PWS v1 datatypes namespace.
pub const DATATYPES_NS: &str = "http://purolator.com/pws/datatypes/v1";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Error code the simulator gives an unknown PIN. Purolator does not publish
/// the Tracking error table; this code is the one a public client treats as
/// "no scanning details" (see README), and the parser does not depend on it.
pub const NOT_FOUND_CODE: &str = "2300003";
/// Text the simulator gives an unknown PIN (ours, see README).
pub const NOT_FOUND_TEXT: &str = "No scanning details are available for this PIN";

fn el(out: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        let _ = write!(out, "<{name}/>");
    } else {
        let _ = write!(out, "<{name}>{}</{name}>", escape(value));
    }
}

fn envelope(body: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Header><h:ResponseContext xmlns:h=\"{DATATYPES_NS}\" \
         xmlns:i=\"{XSI_NS}\"><h:ResponseReference>trackd</h:ResponseReference></h:ResponseContext>\
         </s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// `CITY, RG` as Purolator prints depot names.
fn depot_name(ev: &SimEvent) -> String {
    match (&ev.place.city, &ev.place.region) {
        (Some(c), Some(r)) => format!("{c}, {r}"),
        (Some(c), None) => c.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => String::new(),
    }
}

fn render_scan(out: &mut String, p: &SimParcel, ev: &SimEvent, eta_here: bool) {
    let (scan_type, description) = step_scan(ev.step);
    // The ETA can only travel in ProofOfPickUp details (CommitedDeliveryDate);
    // with no pick-up scan the simulator types the oldest scan that way.
    let xsi = if eta_here {
        Some("ProofOfPickUpScan")
    } else {
        xsi_type(scan_type)
    };
    match xsi {
        Some(t) => {
            let _ = write!(out, "<Scan i:type=\"{t}\">");
        }
        None => out.push_str("<Scan>"),
    }
    el(out, "ScanType", scan_type);
    out.push_str("<PIN>");
    el(out, "Value", &p.tracking_number);
    out.push_str("</PIN><Depot>");
    el(out, "Name", &depot_name(ev));
    out.push_str("</Depot>");
    el(out, "ScanDate", &ev.at.format("%Y-%m-%d").to_string());
    el(out, "ScanTime", &ev.at.format("%H%M%S").to_string());
    el(out, "Description", description);
    el(out, "Comment", "");
    el(out, "SummaryScanIndicator", "false");
    match xsi {
        Some("ProofOfPickUpScan") => {
            let committed = p
                .eta
                .map(|(_, end)| end.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            out.push_str("<ScanDetails>");
            el(out, "PickUpConfirmationNumber", "");
            out.push_str("<PickUpAddress i:nil=\"true\"/>");
            el(out, "PickUpContactName", "");
            el(out, "PickUpCompanyName", "");
            el(out, "PickUpLocation", "");
            el(out, "CommitedDeliveryDate", &committed);
            el(out, "PremiumServiceText", "Not known or specified");
            el(out, "ProductTypeText", &p.service);
            el(out, "SpecialHandlingText", "Not known or specified");
            el(out, "PaymentTypeText", "Sender");
            out.push_str("</ScanDetails>");
        }
        Some("DeliveryScan") => {
            let signer = match (ev.step, &p.signed_by) {
                (JourneyStep::Delivered | JourneyStep::Returned, Some(s)) => s.as_str(),
                _ => "",
            };
            out.push_str("<ScanDetails>");
            el(out, "DeliverySignature", signer);
            el(out, "SignatureImage", "");
            el(out, "SignatureImageSize", "0");
            el(out, "SignatureImageFormat", "GIF");
            el(out, "DeliveryAddress", "");
            el(out, "DeliveryCompanyName", "");
            el(out, "PremiumServiceText", "Not known or specified");
            el(out, "ProductTypeText", &p.service);
            el(out, "SpecialHandlingText", "Not known or specified");
            el(out, "PaymentTypeText", "Sender");
            out.push_str("</ScanDetails>");
        }
        Some("OnDeliveryScan") => {
            out.push_str("<ScanDetails>");
            el(out, "DeliveryAddress", "");
            out.push_str("</ScanDetails>");
        }
        Some("UndeliverableScan") => {
            out.push_str("<ScanDetails>");
            el(out, "AttemptedDeliveryAddress", "");
            el(out, "DeliveryCompanyName", "");
            out.push_str("</ScanDetails>");
        }
        _ => {}
    }
    out.push_str("</Scan>");
}

fn render_known(out: &mut String, p: &SimParcel) {
    out.push_str("<TrackingInformation><PIN>");
    el(out, "Value", &p.tracking_number);
    out.push_str("</PIN><Scans>");
    let has_pickup = p.events.iter().any(|e| e.step == JourneyStep::PickedUp);
    // Newest first, as Purolator lists them.
    for (i, ev) in p.events.iter().enumerate().rev() {
        let eta_here = p.eta.is_some()
            && if has_pickup {
                ev.step == JourneyStep::PickedUp
            } else {
                i == 0
            };
        render_scan(out, p, ev, eta_here);
    }
    out.push_str("</Scans><ResponseInformation i:nil=\"true\"/></TrackingInformation>");
}

fn render_unknown(out: &mut String, pin: &str) {
    out.push_str("<TrackingInformation><PIN>");
    el(out, "Value", &pin.to_ascii_uppercase());
    out.push_str("</PIN><Scans i:nil=\"true\"/><ResponseInformation><Errors><Error>");
    el(out, "Code", NOT_FOUND_CODE);
    el(out, "Description", NOT_FOUND_TEXT);
    el(out, "AdditionalInformation", "Tracking Error");
    out.push_str(
        "</Error></Errors><InformationalMessages i:nil=\"true\"/></ResponseInformation></TrackingInformation>",
    );
}

/// Renders a `TrackPackagesByPinResponse` for the replies, in request order.
pub fn render_track(replies: &[SimReply<'_>]) -> String {
    let mut body = String::with_capacity(512 + replies.len() * 2048);
    let _ = write!(
        body,
        "<TrackPackagesByPinResponse xmlns=\"{DATATYPES_NS}\" xmlns:i=\"{XSI_NS}\">\
         <ResponseInformation><Errors/><InformationalMessages i:nil=\"true\"/></ResponseInformation>\
         <TrackingInformationList>"
    );
    for r in replies {
        match r {
            SimReply::Known(p) => render_known(&mut body, p),
            SimReply::Unknown(pin) => render_unknown(&mut body, pin),
        }
    }
    body.push_str("</TrackingInformationList></TrackPackagesByPinResponse>");
    envelope(&body)
}

/// Renders a SOAP 1.1 fault envelope.
pub fn render_fault_body(code: &str, string: &str) -> String {
    let mut body = String::with_capacity(256);
    body.push_str("<s:Fault>");
    el(&mut body, "faultcode", code);
    let _ = write!(
        body,
        "<faultstring xml:lang=\"en-US\">{}</faultstring>",
        escape(string)
    );
    body.push_str("</s:Fault>");
    format!("<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body>{body}</s:Body></s:Envelope>")
}

/// A failure as the Purolator endpoint reports it.
pub fn fault(fault: &SimFault) -> HttpResponse {
    match fault {
        SimFault::Unauthorized => HttpResponse::new(
            401,
            SOAP_CONTENT_TYPE,
            render_fault_body("s:Client", "Access is denied due to invalid credentials."),
        )
        .header(
            "WWW-Authenticate",
            "Basic realm=\"webservices.purolator.com\"",
        ),
        SimFault::RateLimited { retry_after_secs } => HttpResponse::new(
            429,
            SOAP_CONTENT_TYPE,
            render_fault_body("s:Server", "Too many requests: rate limit exceeded."),
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => HttpResponse::new(
            500,
            SOAP_CONTENT_TYPE,
            render_fault_body(
                "s:Server",
                "The server was unable to process the request due to an internal error.",
            ),
        ),
        SimFault::BadRequest { message } => HttpResponse::new(
            500,
            SOAP_CONTENT_TYPE,
            render_fault_body("s:Client", message),
        ),
    }
}
