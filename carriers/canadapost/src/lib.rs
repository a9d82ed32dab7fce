#![warn(missing_docs)]
//! Canada Post carrier plugin: "Get Tracking Details" (REST, XML) per PIN.
//!
//! Pure and sans-IO like every trackd plugin: it builds the HTTP request, parses
//! the XML answer into the normalized model, and renders the same XML for the
//! simulator. See `README.md` for the endpoint, quotas and the code mapping.

pub mod codes;
pub mod map;
pub mod parse;
pub mod render;

use parse::Document;
use trackd_carrier_sdk::checksum::{mod10_weighted_check, mod10_weighted_valid, s10_valid};
use trackd_carrier_sdk::http::{basic_auth, decode_basic, percent_decode, percent_encode};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection, HttpRequest,
    HttpResponse, Method, NumberResult, Quota, SimReply, SimRequestError,
};

pub use render::TRACK_MEDIA_TYPE;

/// Path prefix of the per-PIN detail call.
const PIN_PATH: &str = "/vis/track/pin/";
const DETAIL_SUFFIX: &str = "/detail";

/// The Canada Post plugin; stateless, so one instance serves every account.
#[derive(Debug, Clone, Default)]
pub struct CanadaPost;

impl CanadaPost {
    /// A plugin instance (the type is a unit struct; this keeps call sites uniform).
    pub fn new() -> CanadaPost {
        CanadaPost
    }
}

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "canadapost",
    name: "Canada Post",
    auth: AuthKind::Basic,
    // Get Tracking Details takes exactly one PIN per call.
    batch_size: 1,
    // Throttle group E (Get Tracking Summary/Details) allows 20 calls per minute
    // per API key by default: a rolling-minute cap, at most 1/s, and the
    // equivalent daily ceiling (20 × 60 × 24). See README "Quotas".
    quota: Quota {
        per_second: 1,
        per_minute: Some(20),
        per_hour: None,
        per_day: Some(28_800),
    },
    default_base_url: "https://soa-gw.canadapost.ca",
    format: "xml",
};

/// 16-digit PIN: mod 10 over the first 15 digits, weights 3/1 from the left
/// (tracking_number_data `canada_post`), i.e. 3 on the rightmost body digit.
fn pin16_valid(number: &str) -> bool {
    mod10_weighted_valid(number, 3, 1)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
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
        SimRequestError::BadRequest("Authorization is not base64 of user:password".into())
    })?;
    Ok(SimCredential::Basic { user, password })
}

impl Carrier for CanadaPost {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// 16-digit PINs (check digit), 13-character S10 numbers issued by Canada
    /// Post (`XX#########CA`, check digit) and 12-digit PINs (no known check
    /// digit, so only a pattern match).
    fn detect(&self, number: &str) -> Detection {
        match number.len() {
            16 if all_digits(number) => {
                if pin16_valid(number) {
                    Detection::Checksum
                } else {
                    Detection::No
                }
            }
            13 if number.ends_with("CA") => {
                if s10_valid(number) {
                    Detection::Checksum
                } else {
                    Detection::No
                }
            }
            12 if all_digits(number) => Detection::Pattern,
            _ => Detection::No,
        }
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        _token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        let [number] = numbers else {
            return Err(CarrierError::Config {
                message: format!("canadapost tracks one PIN per call, got {}", numbers.len()),
            });
        };
        let pin = number.trim();
        if pin.is_empty() {
            return Err(CarrierError::Config {
                message: "canadapost: empty tracking number".into(),
            });
        }
        let user = creds.require_id("Canada Post API key user name")?;
        let password = creds.require_secret("Canada Post API key password")?;
        Ok(
            HttpRequest::get(format!("{PIN_PATH}{}{DETAIL_SUFFIX}", percent_encode(pin)))
                .header("Accept", TRACK_MEDIA_TYPE)
                .header("Accept-Language", "en-CA")
                .header("Authorization", basic_auth(user, password)),
        )
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        let number = match numbers {
            [number] => *number,
            // No number given (e.g. `trackd normalize`): use the PIN the answer echoes.
            [] => match parse::parse(&resp.body) {
                Ok(Document::Detail(d)) => return self.parse_track(&[d.pin.as_ref().trim()], resp),
                _ => "",
            },
            _ => {
                return Err(CarrierError::Config {
                    message: format!(
                        "canadapost answers one PIN per call, asked to parse {}",
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
        if let Some(err) = CarrierError::from_http_status(resp) {
            // Keep Canada Post's own words when the body is a <messages>
            // document; "Rejected by SLM Monitor" is a rate limit whatever the
            // status it comes with.
            let Ok(Document::Messages(msgs)) = parse::parse(&resp.body) else {
                return Err(err);
            };
            if let map::MessagesOutcome::Whole(e @ CarrierError::RateLimited { .. }) =
                map::messages(&msgs, resp)
            {
                return Err(e);
            }
            let text = map::describe(&msgs);
            return Err(match err {
                CarrierError::Auth { .. } if !text.is_empty() => CarrierError::Auth {
                    message: format!("HTTP {}: {text}", resp.status),
                },
                CarrierError::Unavailable { status, .. } if !text.is_empty() => {
                    CarrierError::Unavailable {
                        status,
                        message: text,
                    }
                }
                other => other,
            });
        }
        let ok = (200..300).contains(&resp.status);
        let doc = match parse::parse(&resp.body) {
            Ok(doc) => doc,
            Err(e) if ok => return Err(e),
            Err(_) => {
                return Err(CarrierError::Rejected {
                    code: format!("HTTP {}", resp.status),
                    message: resp.body_excerpt(),
                });
            }
        };
        match doc {
            Document::Messages(msgs) => match map::messages(&msgs, resp) {
                map::MessagesOutcome::Whole(e) => Err(e),
                map::MessagesOutcome::PerNumber(e) => one(Err(e)),
            },
            Document::Detail(detail) if ok => one(Ok(map::snapshot(&detail)?)),
            Document::Detail(_) => Err(CarrierError::Rejected {
                code: format!("HTTP {}", resp.status),
                message: "tracking-detail in a non-2xx answer".into(),
            }),
        }
    }

    /// A 16-digit PIN: `7`, the serial on 14 digits, and the check digit.
    fn sim_mint_number(&self, serial: u64) -> String {
        let body = format!("7{:014}", serial % 100_000_000_000_000);
        let check = mod10_weighted_check(body.as_bytes(), 3, 1);
        format!("{body}{check}")
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        let path = req.path();
        let pin = path
            .strip_prefix(PIN_PATH)
            .and_then(|rest| rest.strip_suffix(DETAIL_SUFFIX))
            .filter(|pin| !pin.is_empty() && !pin.contains('/'))
            .ok_or_else(|| SimRequestError::NotFound(path.to_string()))?;
        if req.method != Method::Get {
            return Err(SimRequestError::BadRequest(format!(
                "{} not allowed on {path}",
                req.method.as_str()
            )));
        }
        let accept = req.header_value("accept").unwrap_or("");
        if !accept.split(',').any(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(TRACK_MEDIA_TYPE)
        }) {
            return Err(SimRequestError::BadRequest(format!(
                "Accept must be {TRACK_MEDIA_TYPE}, got {accept:?}"
            )));
        }
        let credential = sim_credential(req.header_value("authorization"))?;
        Ok(SimCall::Track {
            numbers: vec![percent_decode(pin)],
            credential,
        })
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        match replies {
            [SimReply::Known(parcel)] => {
                HttpResponse::new(200, TRACK_MEDIA_TYPE, render::render_detail(parcel))
            }
            [SimReply::Unknown(_)] => render::not_found(),
            _ => render::fault(&SimFault::BadRequest {
                message: format!("one PIN per call, got {}", replies.len()),
            }),
        }
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        render::fault(fault)
    }
}
