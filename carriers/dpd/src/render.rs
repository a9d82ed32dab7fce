//! SOAP documents: the requests the plugin sends and the answers trackd's
//! simulator renders in DPD's wire format.

use crate::codes;
use crate::xml::esc;
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use std::fmt::Write as _;
use trackd_carrier_sdk::sim::SimFault;
use trackd_carrier_sdk::{HttpResponse, SimParcel};

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// DPD authentication header namespace.
pub const AUTH_NS: &str = "http://dpd.com/common/service/types/Authentication/2.0";
/// LoginService 2.1 namespace.
pub const LOGIN_NS: &str = "http://dpd.com/common/service/types/LoginService/2.1";
/// ParcelLifeCycleService 2.0 namespace.
pub const PLC_NS: &str = "http://dpd.com/common/service/types/ParcelLifeCycleService/2.0";
/// Content type of SOAP 1.1 messages.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The `getAuth` request body.
pub fn get_auth(delis_id: &str, password: &str, language: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:ns="{LOGIN_NS}"><soapenv:Header/><soapenv:Body><ns:getAuth><delisId>{}</delisId><password>{}</password><messageLanguage>{}</messageLanguage></ns:getAuth></soapenv:Body></soapenv:Envelope>"#,
        esc(delis_id),
        esc(password),
        esc(language)
    )
}

/// The `getTrackingData` request body with its `authentication` header.
pub fn get_tracking_data(delis_id: &str, token: &str, language: &str, parcel: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:ns="{AUTH_NS}" xmlns:ns1="{PLC_NS}"><soapenv:Header><ns:authentication><delisId>{}</delisId><authToken>{}</authToken><messageLanguage>{}</messageLanguage></ns:authentication></soapenv:Header><soapenv:Body><ns1:getTrackingData><parcelLabelNumber>{}</parcelLabelNumber></ns1:getTrackingData></soapenv:Body></soapenv:Envelope>"#,
        esc(delis_id),
        esc(token),
        esc(language),
        esc(parcel)
    )
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

fn line(out: &mut String, tag: &str, content: &str, bold: bool) {
    let _ = write!(
        out,
        "<{tag}><content>{}</content><bold>{bold}</bold><paragraph>false</paragraph></{tag}>",
        esc(content)
    );
}

fn item(out: &mut String, tag: &str, label: Option<&str>, contents: &[&str]) {
    let _ = write!(out, "<{tag}>");
    if let Some(l) = label {
        line(out, "label", l, false);
    }
    for c in contents {
        line(out, "content", c, false);
    }
    let _ = write!(out, "</{tag}>");
}

/// DPD's English display time (`8/17/2021 7:11:26 PM`), local, no zone.
pub fn display_time(at: &DateTime<FixedOffset>) -> String {
    at.format("%-m/%-d/%Y %-I:%M:%S %p").to_string()
}

fn place(p: &trackd_carrier_sdk::Address) -> String {
    let city = p.city.as_deref().unwrap_or("");
    match p.country.as_deref() {
        Some(cc) => format!("{city} ({cc})"),
        None => city.to_string(),
    }
}

/// A `getTrackingDataResponse` for a known parcel.
pub fn tracking_result(parcel: &SimParcel) -> String {
    let mut out = String::with_capacity(1024 + parcel.events.len() * 700);
    out.push_str(r#"<getTrackingDataResponse xmlns=""#);
    out.push_str(PLC_NS);
    out.push_str(r#""><trackingresult><shipmentInfo>"#);
    if let Some((start, end)) = &parcel.eta {
        let text = format!(
            "Your parcel will be delivered on {} between {} and {}.",
            start.format("%m/%d/%Y"),
            start.format("%H:%M"),
            end.format("%H:%M")
        );
        item(
            &mut out,
            "predictInformation",
            Some("Predict:"),
            &[text.as_str()],
        );
    }
    item(
        &mut out,
        "serviceDescription",
        Some("Your DPD service:"),
        &[parcel.service.as_str()],
    );
    out.push_str("<status>SHIPMENT</status>");
    line(&mut out, "label", "Shipment", false);
    item(&mut out, "description", None, &[]);
    out.push_str("<statusHasBeenReached>false</statusHasBeenReached><isCurrentStatus>false</isCurrentStatus><showContactInfo>false</showContactInfo></shipmentInfo>");
    let last = parcel.events.len().saturating_sub(1);
    for (i, ev) in parcel.events.iter().enumerate() {
        let (code, label) = codes::code_for_step(ev.step);
        let _ = write!(out, "<statusInfo><status>{code}</status>");
        line(&mut out, "label", label, true);
        item(
            &mut out,
            "description",
            None,
            &[codes::description_for_step(ev.step)],
        );
        let _ = write!(
            out,
            "<statusHasBeenReached>true</statusHasBeenReached><isCurrentStatus>{}</isCurrentStatus><showContactInfo>true</showContactInfo>",
            i == last
        );
        line(&mut out, "location", &place(&ev.place), true);
        line(&mut out, "date", &display_time(&ev.at), true);
        out.push_str("</statusInfo>");
    }
    out.push_str("</trackingresult></getTrackingDataResponse>");
    envelope(&out)
}

/// The answer for a parcel DPD has no data for: an empty `trackingresult`.
pub fn empty_result() -> String {
    envelope(&format!(
        r#"<getTrackingDataResponse xmlns="{PLC_NS}"><trackingresult/></getTrackingDataResponse>"#
    ))
}

/// Fixed reference instant for the simulator's login answer (see `login`).
fn reference_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A `getAuthResponse`. The plugin has no clock, so the answer carries its own
/// `Date` header and an `authTokenExpires` with offset relative to it; the parser
/// reads the lifetime as their difference (as it does for a real DPD answer).
pub fn login(token: &str, expires_in_secs: u64) -> HttpResponse {
    let now = reference_now();
    let secs = i64::try_from(expires_in_secs).unwrap_or(i64::MAX / 4);
    let expires = now + Duration::seconds(secs.min(10 * 365 * 86_400));
    let body = envelope(&format!(
        r#"<getAuthResponse xmlns="{LOGIN_NS}"><return><delisId>sim</delisId><customerUid>sim</customerUid><authToken>{}</authToken><depot>0000</depot><authTokenExpires>{}</authTokenExpires></return></getAuthResponse>"#,
        esc(token),
        expires.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    ));
    HttpResponse::new(200, CONTENT_TYPE, body)
        .header("Date", now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

/// A SOAP fault with DPD's detail element.
pub fn fault_body(faultcode: &str, faultstring: &str, detail: &str) -> String {
    envelope(&format!(
        "<soap:Fault><faultcode>{}</faultcode><faultstring>{}</faultstring>{detail}</soap:Fault>",
        esc(faultcode),
        esc(faultstring)
    ))
}

/// The simulator's rendering of a failure (SOAP faults come with HTTP 500, as
/// SOAP 1.1 services send them; rate limiting adds a 429 and `Retry-After`).
pub fn fault(f: &SimFault) -> HttpResponse {
    match f {
        SimFault::Unauthorized => HttpResponse::new(
            500,
            CONTENT_TYPE,
            fault_body(
                "soap:Server",
                "Fault occured",
                &format!(
                    r#"<detail><ns:authenticationFault xmlns:ns="{AUTH_NS}"><errorCode>DELICOM_ERR_AUTHENTICATION</errorCode><errorMessage>Authentication failure, check delisId and password.</errorMessage></ns:authenticationFault></detail>"#
                ),
            ),
        ),
        SimFault::RateLimited { retry_after_secs } => HttpResponse::new(
            429,
            CONTENT_TYPE,
            fault_body(
                "soap:Server",
                "Too many requests",
                &format!(
                    r#"<detail><ns1:faults xmlns:ns1="{PLC_NS}"><faultCode>RATE_LIMIT</faultCode><message>Request limit exceeded, retry later.</message></ns1:faults></detail>"#
                ),
            ),
        )
        .header("Retry-After", retry_after_secs.to_string()),
        SimFault::ServerError => HttpResponse::new(
            500,
            CONTENT_TYPE,
            fault_body("soap:Server", "Internal server error", ""),
        ),
        SimFault::BadRequest { message } => HttpResponse::new(
            500,
            CONTENT_TYPE,
            fault_body(
                "soap:Client",
                message,
                &format!(
                    r#"<detail><ns1:faults xmlns:ns1="{PLC_NS}"><faultCode>BAD_REQUEST</faultCode><message>{}</message></ns1:faults></detail>"#,
                    esc(message)
                ),
            ),
        ),
    }
}
