#![warn(missing_docs)]
//! DPD carrier plugin: DPD Web Connect (SOAP 1.1, XML). A `LoginService.getAuth`
//! call trades delisId + password for a session token; `ParcelLifeCycleService.
//! getTrackingData` then tracks one parcel label number per call with that token
//! in the SOAP `authentication` header.
//!
//! Pure and sans-IO like every trackd plugin. See `README.md` for endpoints,
//! quotas, the code table and what is not mapped.

pub mod codes;
pub mod number;
pub mod parse;
pub mod render;
pub mod xml;

use parse::{Document, FaultKind};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection,
    HttpRequest, HttpResponse, Method, NumberResult, Quota, SimReply, SimRequestError,
};

pub use render::CONTENT_TYPE;

/// LoginService 2.1 endpoint, relative to the base URL.
pub const LOGIN_PATH: &str = "/services/LoginService/V2_1";
/// ParcelLifeCycleService 2.0 endpoint, relative to the base URL.
pub const TRACK_PATH: &str = "/services/ParcelLifeCycleService/V2_0";
/// SOAPAction of `getAuth`.
pub const LOGIN_ACTION: &str = "http://dpd.com/common/service/types/LoginService/2.1/getAuth";
/// SOAPAction of `getTrackingData`.
pub const TRACK_ACTION: &str =
    "http://dpd.com/common/service/types/ParcelLifeCycleService/2.0/getTrackingData";
/// `messageLanguage` when the account config names none (`extra.message_language`).
pub const DEFAULT_LANGUAGE: &str = "en_EN";

/// The DPD plugin; stateless, so one instance serves every account.
#[derive(Debug, Clone, Default)]
pub struct Dpd;

impl Dpd {
    /// A plugin instance.
    pub fn new() -> Dpd {
        Dpd
    }
}

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "dpd",
    name: "DPD",
    auth: AuthKind::SessionToken,
    // getTrackingData takes exactly one parcelLabelNumber.
    batch_size: 1,
    // DPD publishes no rate limit for Web Connect; a conservative default that
    // operators raise if their DPD contract allows (README "Quotas").
    quota: Quota {
        per_second: 2,
        per_minute: None,
        per_hour: None,
        per_day: None,
    },
    default_base_url: "https://public-ws.dpd.com",
    format: "xml",
};

fn language(creds: &Credentials) -> &str {
    creds
        .extra
        .get("message_language")
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(DEFAULT_LANGUAGE)
}

fn soap_request(path: &str, action: &str, body: String) -> HttpRequest {
    HttpRequest::post(path, body)
        .header("Content-Type", CONTENT_TYPE)
        .header("SOAPAction", format!("\"{action}\""))
}

/// Whether the request path ends with the service `name` (base URLs may add a
/// prefix such as DPD BeNeLux's `/soap`).
fn path_is(req: &HttpRequest, services: &[&str]) -> bool {
    let path = req.path().trim_end_matches('/');
    services.iter().any(|s| path.ends_with(s))
}

fn sim_body(req: &HttpRequest) -> Result<xml::Leaves, SimRequestError> {
    if req.method != Method::Post {
        return Err(SimRequestError::BadRequest(format!(
            "{} not allowed; SOAP calls are POST",
            req.method.as_str()
        )));
    }
    let (root, leaves) = xml::leaves(&req.body)
        .map_err(|e| SimRequestError::BadRequest(format!("request is not XML: {e}")))?;
    if root != "Envelope" {
        return Err(SimRequestError::BadRequest(format!(
            "request root is <{root}>, not a SOAP Envelope"
        )));
    }
    Ok(leaves)
}

impl Carrier for Dpd {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// 14 digits + MOD 37,36 check character and the 28-character barcode form
    /// (check character validated); bare 14 digits match the pattern only.
    fn detect(&self, number: &str) -> Detection {
        match number::shape(number) {
            number::Shape::Checked | number::Shape::Barcode => Detection::Checksum,
            number::Shape::Plain => Detection::Pattern,
            number::Shape::None => Detection::No,
        }
    }

    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        let id = creds.require_id("DPD delisId")?;
        let password = creds.require_secret("DPD password")?;
        Ok(Some(soap_request(
            LOGIN_PATH,
            LOGIN_ACTION,
            render::get_auth(id, password, language(creds)),
        )))
    }

    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        let doc = match parse::parse(&resp.body) {
            Ok(doc) => doc,
            Err(e) => return Err(CarrierError::from_http_status(resp).unwrap_or(e)),
        };
        match doc {
            Document::Login { token, expires } if !token.is_empty() => Ok(AccessToken {
                expires_in_secs: parse::token_lifetime(&expires, resp),
                token,
            }),
            Document::Login { .. } => Err(xml::malformed("getAuth answer without authToken")),
            Document::Fault(f) => Err(match parse::fault_error(&f, resp) {
                FaultKind::Whole(e) => e,
                // A "not found" at login means the delisId is unknown.
                FaultKind::NotFound(e) => CarrierError::Auth {
                    message: e.to_string(),
                },
            }),
            Document::Track(_) => Err(xml::malformed("login call answered with a tracking result")),
        }
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        let [number] = numbers else {
            return Err(CarrierError::Config {
                message: format!("dpd tracks one parcel per call, got {}", numbers.len()),
            });
        };
        let parcel =
            number::parcel_label_number(number.trim()).ok_or_else(|| CarrierError::Config {
                message: format!("dpd: {number:?} is not a DPD parcel label number"),
            })?;
        let delis_id = creds.require_id("DPD delisId")?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CarrierError::Config {
                message: "dpd: no session token (getAuth must run first)".into(),
            })?;
        Ok(soap_request(
            TRACK_PATH,
            TRACK_ACTION,
            render::get_tracking_data(delis_id, token, language(creds), parcel),
        ))
    }

    /// DPD answers every SOAP fault with HTTP 500: classify by the fault body so
    /// an expired session refreshes the token (Auth) and a not-found fault
    /// reaches `parse_track`, instead of both being retried as "unavailable".
    fn classify_error(&self, resp: &HttpResponse) -> Option<CarrierError> {
        if (200..300).contains(&resp.status) {
            return None;
        }
        match parse::parse(&resp.body) {
            Ok(Document::Fault(f)) => match parse::fault_error(&f, resp) {
                FaultKind::Whole(e) => Some(e),
                FaultKind::NotFound(_) => None,
            },
            _ => CarrierError::from_http_status(resp),
        }
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        let number = match numbers {
            [n] => *n,
            // `trackd normalize`: DPD does not echo the number in the answer.
            [] => "",
            _ => {
                return Err(CarrierError::Config {
                    message: format!(
                        "dpd answers one parcel per call, asked to parse {}",
                        numbers.len()
                    ),
                });
            }
        };
        let one = |outcome| {
            Ok(vec![NumberResult {
                tracking_number: number.to_string(),
                outcome,
            }])
        };
        if resp.status == 429 {
            return Err(CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            });
        }
        let ok = (200..300).contains(&resp.status);
        let doc = match parse::parse(&resp.body) {
            Ok(doc) => doc,
            Err(e) => {
                return Err(match CarrierError::from_http_status(resp) {
                    Some(err) => err,
                    None if ok => e,
                    None => CarrierError::Rejected {
                        code: format!("HTTP {}", resp.status),
                        message: resp.body_excerpt(),
                    },
                });
            }
        };
        match doc {
            Document::Fault(f) => match parse::fault_error(&f, resp) {
                FaultKind::Whole(e) => Err(e),
                FaultKind::NotFound(e) => one(Err(e)),
            },
            Document::Track(r) if ok => {
                if parse::is_empty(&r) {
                    return one(Err(CarrierError::NotFound {
                        code: None,
                        message: "DPD returned an empty trackingresult".into(),
                    }));
                }
                one(parse::snapshot(&r))
            }
            Document::Track(_) | Document::Login { .. } => {
                Err(CarrierError::from_http_status(resp).unwrap_or_else(|| {
                    xml::malformed(format!(
                        "unexpected document for a tracking call (HTTP {})",
                        resp.status
                    ))
                }))
            }
        }
    }

    /// 14 digits (`01` + the serial on 12 digits) and the MOD 37,36 check character.
    /// A 14-digit label number whose check character is a letter: with a digit
    /// there, the 15 digits may also pass FedEx Ground's check and detect as
    /// ambiguous, and simulated parcels must detect as DPD alone. Real DPD
    /// check characters are letters about 70% of the time.
    fn sim_mint_number(&self, serial: u64) -> String {
        let base = (serial % 10_000_000_000) * 100;
        let mut fallback = None;
        for salt in 0..100 {
            let parcel = format!("01{:012}", base + salt);
            let Some(full) = number::with_check(&parcel) else {
                continue;
            };
            if full.ends_with(|c: char| c.is_ascii_alphabetic()) {
                return full;
            }
            fallback.get_or_insert(full);
        }
        fallback.unwrap_or_else(|| format!("01{base:012}"))
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        if path_is(req, &["/LoginService/V2_1", "/LoginService/V2_0"]) {
            let l = sim_body(req)?;
            if !l.has("getAuth") {
                return Err(SimRequestError::BadRequest("no getAuth in the body".into()));
            }
            let field = |name: &str| {
                l.get(&format!("getAuth/{name}"))
                    .map(str::to_string)
                    .ok_or_else(|| SimRequestError::BadRequest(format!("getAuth without {name}")))
            };
            return Ok(SimCall::Token {
                client_id: field("delisId")?,
                client_secret: field("password")?,
            });
        }
        if path_is(req, &["/ParcelLifeCycleService/V2_0"]) {
            let l = sim_body(req)?;
            let parcel = l
                .get("getTrackingData/parcelLabelNumber")
                .map(str::trim)
                .ok_or_else(|| {
                    SimRequestError::BadRequest("getTrackingData without parcelLabelNumber".into())
                })?;
            // The simulator knows parcels by their full number (with check character).
            let number = match number::shape(parcel) {
                number::Shape::Plain => number::with_check(parcel).unwrap_or_default(),
                _ => parcel.to_string(),
            };
            let credential = match l.get("authentication/authToken").map(str::trim) {
                Some(t) if !t.is_empty() => SimCredential::Bearer(t.to_string()),
                _ => SimCredential::None,
            };
            return Ok(SimCall::Track {
                numbers: vec![number],
                credential,
            });
        }
        Err(SimRequestError::NotFound(req.path().to_string()))
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        match replies {
            [SimReply::Known(parcel)] => {
                HttpResponse::new(200, CONTENT_TYPE, render::tracking_result(parcel))
            }
            [SimReply::Unknown(_)] => HttpResponse::new(200, CONTENT_TYPE, render::empty_result()),
            _ => render::fault(&SimFault::BadRequest {
                message: format!("one parcelLabelNumber per call, got {}", replies.len()),
            }),
        }
    }

    fn sim_render_token(&self, token: &str, expires_in_secs: u64) -> HttpResponse {
        render::login(token, expires_in_secs)
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        render::fault(fault)
    }
}
