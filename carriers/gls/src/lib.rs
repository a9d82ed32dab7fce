//! trackd carrier plugin for GLS (slug `gls`): the GLS Group **Track And Trace
//! V1** API, JSON over HTTPS with an OAuth2 client-credentials bearer token.
//!
//! - token: `POST /oauth2/v2/token` with `Authorization: Basic
//!   base64(client_id:client_secret)` and the form body
//!   `grant_type=client_credentials` → `{"access_token", "token_type":
//!   "Bearer", "expires_in": 14400}`;
//! - track: `GET /track-and-trace-v1/tracking/simple/trackids/{id1,id2,…}`
//!   (at most 10 parcel numbers) with `Authorization: Bearer <token>`;
//! - answer: `{"parcels": [{"requested", "unitno", "status", "statusDateTime",
//!   "events": [{"code", "city", "postalCode", "country", "description",
//!   "eventDateTime"}], "errorCode", "errorMessage"}]}`; times are ISO 8601
//!   with a colon-less offset (`+0200`); unknown ids come back inside the 200
//!   with `errorCode` `E_404_01`;
//! - errors: problem JSON (`type`, `title`, `status`, `detail`) for 400/404,
//!   Apigee `{"fault": {...}}` for 401 and 429.
//!
//! Pure and sans-IO like every plugin: no I/O, clock or randomness.

pub mod codes;
mod iso;
pub mod parse;
mod sim;
pub mod wire;

use serde_json::Value;
use trackd_carrier_sdk::http::{basic_auth, percent_encode};
use trackd_carrier_sdk::sim::{SimCall, SimFault};
use trackd_carrier_sdk::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection,
    HttpRequest, HttpResponse, NumberResult, Quota, SimReply, SimRequestError,
};

/// OAuth2 token endpoint (GLS Authentication API v2), relative to the base URL.
pub const TOKEN_PATH: &str = "/oauth2/v2/token";
/// Track-by-parcel-numbers endpoint prefix; the ids follow, comma-separated.
pub const TRACK_PREFIX: &str = "/track-and-trace-v1/tracking/simple/trackids/";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "gls",
    name: "GLS",
    auth: AuthKind::OAuth2ClientCredentials,
    // "with a maximum limit of 10 parcel IDs per request" (Track And Trace V1).
    batch_size: 10,
    // "By default, clients are limited to 500 requests per day"; no per-second
    // figure is published, so 1/s is a conservative default.
    quota: Quota {
        per_second: 1,
        per_minute: None,
        per_hour: None,
        per_day: Some(500),
    },
    default_base_url: "https://api.gls-group.net",
    format: "json",
};

/// The GLS plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gls;

impl Gls {
    /// The plugin (same as `Gls::default()`), for the daemon's registry.
    pub const fn new() -> Gls {
        Gls
    }
}

/// The token lifetime in seconds, whether GLS sends a number or a string.
fn expires_in(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Carrier for Gls {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// GLS parcel numbers (Unit Nos) of 11 or 12 digits. GLS publishes no check
    /// digit for them (consecutive parcels differ only in the last digits), and
    /// tracking_number_data has no GLS entry, so detection is pattern-only.
    fn detect(&self, number: &str) -> Detection {
        let b = number.as_bytes();
        if matches!(b.len(), 11 | 12) && b.iter().all(u8::is_ascii_digit) {
            Detection::Pattern
        } else {
            Detection::No
        }
    }

    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        let id = creds.require_id("GLS client id")?;
        let secret = creds.require_secret("GLS client secret")?;
        Ok(Some(
            HttpRequest::post(TOKEN_PATH, b"grant_type=client_credentials".to_vec())
                .header("Authorization", basic_auth(id, secret))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json"),
        ))
    }

    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        if let Some(err) = CarrierError::from_http_status(resp).filter(CarrierError::is_retryable) {
            return Err(err);
        }
        if !(200..300).contains(&resp.status) {
            // Only our credentials and a fixed body go to the token call: any
            // refusal (400 invalid client, 401) is a credentials problem.
            return Err(CarrierError::Auth {
                message: format!(
                    "GLS token refused (HTTP {}): {}",
                    resp.status,
                    resp.body_excerpt()
                ),
            });
        }
        let body: wire::TokenResponse = serde_json::from_slice(&resp.body).map_err(|e| {
            CarrierError::malformed(format!("GLS token answer is not the documented JSON: {e}"))
        })?;
        let token = body.access_token.trim();
        if token.is_empty() {
            return Err(CarrierError::malformed(
                "GLS token answer has no access_token",
            ));
        }
        let expires_in_secs = expires_in(&body.expires_in).ok_or_else(|| {
            CarrierError::malformed(format!(
                "GLS token expires_in is not a number of seconds: {}",
                body.expires_in
            ))
        })?;
        Ok(AccessToken {
            token: token.to_string(),
            expires_in_secs,
        })
    }

    fn track_request(
        &self,
        numbers: &[&str],
        _creds: &Credentials,
        token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        if numbers.is_empty() || numbers.len() > DESCRIPTOR.batch_size {
            return Err(CarrierError::Config {
                message: format!(
                    "gls tracks 1 to {} parcel numbers per request, got {}",
                    DESCRIPTOR.batch_size,
                    numbers.len()
                ),
            });
        }
        if numbers.iter().any(|n| n.trim().is_empty()) {
            return Err(CarrierError::Config {
                message: "empty GLS parcel number".into(),
            });
        }
        let token = token.ok_or_else(|| CarrierError::Config {
            message: "GLS track calls need an OAuth bearer token".into(),
        })?;
        let ids: Vec<String> = numbers.iter().map(|n| percent_encode(n.trim())).collect();
        Ok(HttpRequest::get(format!("{TRACK_PREFIX}{}", ids.join(",")))
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json")
            .header("Accept-Language", "EN"))
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_answer(numbers, resp)
    }

    /// An 11-digit Unit No: `9` + 10-digit serial (pattern-valid, see `detect`).
    /// GLS numbers carry no check digit, so an 11-digit one may also pass DHL
    /// Express's mod 7 check and be detected as DHL. Simulated parcels must be
    /// unambiguous, so the last digit is chosen to fail that check.
    fn sim_mint_number(&self, serial: u64) -> String {
        let body = format!("9{:09}", serial % 1_000_000_000);
        let mod7 = body
            .bytes()
            .fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 7);
        format!("{body}{}", (mod7 + 1) % 10)
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        sim::route(req)
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        sim::render_track(replies)
    }

    fn sim_render_token(&self, token: &str, expires_in_secs: u64) -> HttpResponse {
        sim::render_token(token, expires_in_secs)
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        sim::render_fault(fault)
    }
}
