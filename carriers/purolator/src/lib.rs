#![warn(missing_docs)]
//! Purolator carrier plugin: Tracking web service (SOAP 1.1, XML),
//! `TrackPackagesByPin` for several PINs per call.
//!
//! Pure and sans-IO like every trackd plugin: it builds the SOAP request, parses
//! the answer into the normalized model, and renders the same SOAP for the
//! simulator. See `README.md` for the endpoint, quotas and the code mapping.

pub mod codes;
pub mod map;
pub mod parse;
pub mod render;

use parse::Document;
use quick_xml::escape::escape;
use trackd_carrier_sdk::http::{basic_auth, decode_basic};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection, HttpRequest,
    HttpResponse, Method, NumberResult, Quota, SimReply, SimRequestError,
};

pub use render::{DATATYPES_NS, SOAP_CONTENT_TYPE, SOAP_NS};

/// Path of the Tracking service (PWS v1) on the configured base URL.
pub const TRACK_PATH: &str = "/PWS/V1/Tracking/TrackingService.asmx";
/// SOAPAction of `TrackPackagesByPin`.
pub const TRACK_ACTION: &str = "http://purolator.com/pws/service/v1/TrackPackagesByPin";
/// `RequestContext/Version` of the Tracking service contract we speak.
pub const CONTRACT_VERSION: &str = "1.2";
/// Most PINs per call (our cap; Purolator documents no limit — see README).
pub const BATCH_SIZE: usize = 10;

/// The Purolator plugin; stateless, so one instance serves every account.
#[derive(Debug, Clone, Default)]
pub struct Purolator;

impl Purolator {
    /// A plugin instance (unit struct; keeps call sites uniform).
    pub fn new() -> Purolator {
        Purolator
    }
}

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "purolator",
    name: "Purolator",
    auth: AuthKind::Basic,
    // `PINs` is `maxOccurs="unbounded"` in TrackingService.xsd and Purolator
    // publishes no per-call limit; 10 keeps answers (which may embed base64
    // signature images) small. See README "Batch size and quotas".
    batch_size: BATCH_SIZE,
    // No public rate limit: 1 call/s (up to 10 PINs) is a conservative default.
    quota: Quota {
        per_second: 1,
        per_minute: None,
        per_hour: None,
        per_day: None,
    },
    default_base_url: "https://webservices.purolator.com",
    format: "xml",
};

/// Luhn (mod 10, doubling every second digit from the right) over all digits,
/// check digit last — tracking_number_data `purolator_numeric`.
pub fn luhn_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = b.split_at(b.len() - 1);
    check.first().map(|c| u32::from(c - b'0')) == Some(luhn_check(body))
}

/// The Luhn check digit for `body` (ASCII digits).
pub fn luhn_check(body: &[u8]) -> u32 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d.saturating_sub(b'0'));
            if i % 2 == 0 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The credential an `Authorization` header carries (simulator side).
fn sim_credential(header: Option<&str>) -> Result<SimCredential, SimRequestError> {
    let Some(value) = header.map(str::trim) else {
        return Ok(SimCredential::None);
    };
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(SimRequestError::BadRequest(
            "malformed Authorization header".into(),
        ));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(SimRequestError::BadRequest(format!(
            "Authorization scheme {scheme} is not Basic"
        )));
    }
    let (user, password) = decode_basic(rest).ok_or_else(|| {
        SimRequestError::BadRequest("Authorization is not base64 of key:password".into())
    })?;
    Ok(SimCredential::Basic { user, password })
}

/// Whether two PINs have the same canonical form for matching Purolator's
/// echo (it upper-cases): their non-whitespace characters, ASCII upper-cased,
/// are equal. Compared char by char instead of building two canonical
/// `String`s per comparison.
fn same_pin(a: &str, b: &str) -> bool {
    canon_chars(a).eq(canon_chars(b))
}

/// The characters of a PIN's canonical form (see [`same_pin`]).
fn canon_chars(pin: &str) -> impl Iterator<Item = char> + '_ {
    pin.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
}

/// Builds the SOAP envelope of a `TrackPackagesByPin` call.
pub fn request_envelope(pins: &[&str], creds: &Credentials) -> Result<String, CarrierError> {
    let language = creds.extra.get("language").map_or("en", String::as_str);
    if language != "en" && language != "fr" {
        return Err(CarrierError::Config {
            message: format!("purolator: language must be en or fr, got {language:?}"),
        });
    }
    let group = creds.extra.get("group_id").map_or("", String::as_str);
    let mut out = String::with_capacity(600 + pins.len() * 48);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    out.push_str(&format!(
        "<soap:Envelope xmlns:soap=\"{SOAP_NS}\" xmlns:v1=\"{DATATYPES_NS}\"><soap:Header><v1:RequestContext>"
    ));
    out.push_str(&format!("<v1:Version>{CONTRACT_VERSION}</v1:Version>"));
    out.push_str(&format!("<v1:Language>{language}</v1:Language>"));
    out.push_str(&format!("<v1:GroupID>{}</v1:GroupID>", escape(group)));
    out.push_str("<v1:RequestReference>trackd</v1:RequestReference>");
    if let Some(token) = creds.extra.get("user_token").filter(|t| !t.is_empty()) {
        out.push_str(&format!("<v1:UserToken>{}</v1:UserToken>", escape(token)));
    }
    out.push_str(
        "</v1:RequestContext></soap:Header><soap:Body><v1:TrackPackagesByPinRequest><v1:PINs>",
    );
    for pin in pins {
        out.push_str(&format!(
            "<v1:PIN><v1:Value>{}</v1:Value></v1:PIN>",
            escape(*pin)
        ));
    }
    out.push_str("</v1:PINs></v1:TrackPackagesByPinRequest></soap:Body></soap:Envelope>");
    Ok(out)
}

impl Purolator {
    /// Per-number outcomes of a parsed `TrackPackagesByPinResponse`.
    fn results(
        &self,
        numbers: &[&str],
        response: &parse::RawResponse<'_>,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        if numbers.is_empty() {
            if response.infos.is_empty() && !response.errors.is_empty() {
                return Err(map::missing_pin(&response.errors));
            }
            return Ok(response
                .infos
                .iter()
                .map(|info| NumberResult {
                    tracking_number: info.pin.trim().to_string(),
                    outcome: map::snapshot(info),
                })
                .collect());
        }
        let mut used = vec![false; response.infos.len()];
        Ok(numbers
            .iter()
            .map(|number| {
                let found = response.infos.iter().enumerate().find(|(i, info)| {
                    !used.get(*i).copied().unwrap_or(true) && same_pin(&info.pin, number)
                });
                let outcome = match found {
                    Some((i, info)) => {
                        if let Some(u) = used.get_mut(i) {
                            *u = true;
                        }
                        map::snapshot(info)
                    }
                    None => Err(map::missing_pin(&response.errors)),
                };
                NumberResult {
                    tracking_number: number.to_string(),
                    outcome,
                }
            })
            .collect())
    }
}

impl Carrier for Purolator {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// 12-digit PINs starting 0–5 with a Luhn check digit (`Checksum`; a bad
    /// check digit is `No`), and 3 letters + 9 digits (no check digit:
    /// `Pattern`) — tracking_number_data `purolator.json`.
    fn detect(&self, number: &str) -> Detection {
        let b = number.as_bytes();
        match b.len() {
            12 if b.iter().all(u8::is_ascii_digit) => {
                if matches!(b.first(), Some(b'0'..=b'5')) && luhn_valid(number) {
                    Detection::Checksum
                } else {
                    Detection::No
                }
            }
            12 if b.iter().take(3).all(u8::is_ascii_uppercase)
                && b.iter().skip(3).all(u8::is_ascii_digit) =>
            {
                Detection::Pattern
            }
            _ => Detection::No,
        }
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        _token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        if numbers.is_empty() || numbers.len() > BATCH_SIZE {
            return Err(CarrierError::Config {
                message: format!(
                    "purolator tracks 1 to {BATCH_SIZE} PINs per call, got {}",
                    numbers.len()
                ),
            });
        }
        if numbers.iter().any(|n| n.trim().is_empty()) {
            return Err(CarrierError::Config {
                message: "purolator: empty tracking number".into(),
            });
        }
        let key = creds.require_id("Purolator web services key")?;
        let password = creds.require_secret("Purolator web services key password")?;
        let pins: Vec<&str> = numbers.iter().map(|n| n.trim()).collect();
        let body = request_envelope(&pins, creds)?;
        Ok(HttpRequest::post(TRACK_PATH, body)
            .header("Content-Type", SOAP_CONTENT_TYPE)
            .header("SOAPAction", format!("\"{TRACK_ACTION}\""))
            .header("Authorization", basic_auth(key, password)))
    }

    /// Purolator's SOAP faults come with HTTP 500 whatever their cause: classify
    /// by the fault body (credentials → Auth, throttling → RateLimited, a client
    /// fault → Rejected, not retried) rather than retrying every fault.
    fn classify_error(&self, resp: &HttpResponse) -> Option<CarrierError> {
        if (200..300).contains(&resp.status) {
            return None;
        }
        self.parse_track(&[], resp).err()
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        let doc = parse::parse(&resp.body);
        match (resp.status, doc) {
            (_, Ok(Document::Fault(f))) => Err(map::fault(&f, resp)),
            (401 | 403 | 429, _) => Err(CarrierError::from_http_status(resp).unwrap_or_else(
                || CarrierError::Auth {
                    message: format!("HTTP {}", resp.status),
                },
            )),
            (200..=299, Ok(Document::Response(r))) => self.results(numbers, &r),
            (200..=299, Err(e)) => Err(CarrierError::malformed(format!("purolator: {e}"))),
            (status @ 500..=599, _) => Err(CarrierError::Unavailable {
                status,
                message: resp.body_excerpt(),
            }),
            (status, _) => Err(CarrierError::Rejected {
                code: format!("HTTP {status}"),
                message: resp.body_excerpt(),
            }),
        }
    }

    /// A 12-digit PIN: `3`, the serial on 10 digits, and the Luhn check digit.
    fn sim_mint_number(&self, serial: u64) -> String {
        let body = format!("3{:010}", serial % 10_000_000_000);
        let check = luhn_check(body.as_bytes());
        format!("{body}{check}")
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        let path = req.path();
        if !path.eq_ignore_ascii_case(TRACK_PATH) {
            return Err(SimRequestError::NotFound(path.to_string()));
        }
        if req.method != Method::Post {
            return Err(SimRequestError::BadRequest(format!(
                "{} not allowed on {path}",
                req.method.as_str()
            )));
        }
        let action = req
            .header_value("soapaction")
            .map(|a| a.trim().trim_matches('"'))
            .unwrap_or("");
        if action != TRACK_ACTION {
            return Err(SimRequestError::BadRequest(format!(
                "SOAPAction must be {TRACK_ACTION}, got {action:?}"
            )));
        }
        let ct = req.header_value("content-type").unwrap_or("");
        if !ct.trim_start().to_ascii_lowercase().starts_with("text/xml") {
            return Err(SimRequestError::BadRequest(format!(
                "Content-Type must be text/xml for SOAP 1.1, got {ct:?}"
            )));
        }
        let credential = sim_credential(req.header_value("authorization"))?;
        let parsed = parse::parse_request(&req.body)
            .map_err(|e| SimRequestError::BadRequest(format!("SOAP request: {e}")))?;
        if !parsed.has_request {
            return Err(SimRequestError::BadRequest(
                "SOAP Body holds no TrackPackagesByPinRequest".into(),
            ));
        }
        if !parsed.has_context || parsed.version.is_empty() {
            return Err(SimRequestError::BadRequest(
                "missing RequestContext header (Version, Language)".into(),
            ));
        }
        if parsed.language != "en" && parsed.language != "fr" {
            return Err(SimRequestError::BadRequest(format!(
                "RequestContext Language must be en or fr, got {:?}",
                parsed.language
            )));
        }
        if parsed.pins.is_empty() || parsed.pins.iter().any(String::is_empty) {
            return Err(SimRequestError::BadRequest("no PIN to track".into()));
        }
        Ok(SimCall::Track {
            numbers: parsed.pins,
            credential,
        })
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        HttpResponse::new(200, SOAP_CONTENT_TYPE, render::render_track(replies))
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        render::fault(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The canonical form PINs were matched by, as a `String`.
    fn canon(pin: &str) -> String {
        pin.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase()
    }

    proptest! {
        #[test]
        fn same_pin_agrees_with_canonical_strings(
            a in "[ a-cA-C0-9\t\u{b}\u{a0}éÉß]{0,6}",
            b in "[ a-cA-C0-9\t\u{b}\u{a0}éÉß]{0,6}",
        ) {
            prop_assert_eq!(same_pin(&a, &b), canon(&a) == canon(&b));
            let upper = a.to_ascii_uppercase();
            prop_assert!(same_pin(&a, &upper));
        }
    }
}
