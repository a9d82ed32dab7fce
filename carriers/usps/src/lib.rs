//! trackd carrier plugin for the United States Postal Service (slug `usps`):
//! OAuth 2.0 v3 client credentials and the USPS Tracking v3.2 batch API
//! (`POST /tracking/v3r2/tracking`, up to 35 numbers, 200 or 207 multi-status).
//!
//! Pure and sans-IO like every plugin: it builds requests, parses answers and
//! renders USPS's wire format for trackd's simulator. See README.md for the
//! sources, the code table and the quirks handled.

mod detect;
mod mapping;
mod parse;
mod sim;
mod text;
mod times;
mod wire;

pub use mapping::{CATEGORIES, CODES, CodeRule, map_category, map_event};
pub use text::clean_html;

use serde_json::{Value, json};
use trackd_carrier_sdk::http::percent_encode;
use trackd_carrier_sdk::sim::{SimCall, SimFault};
use trackd_carrier_sdk::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection,
    HttpRequest, HttpResponse, NumberResult, Quota, SimReply, SimRequestError,
};

/// The tracking endpoint (Tracking 3.2.2 OpenAPI, server `/tracking/v3r2`).
pub const TRACK_PATH: &str = "/tracking/v3r2/tracking";
/// The OAuth 2.0 v3 token endpoint (`oauth2-v3.openapi.yaml`).
pub const TOKEN_PATH: &str = "/oauth2/v3/token";
/// The OAuth scope the tracking API requires (`security: OAuth: [tracking]`).
pub const SCOPE: &str = "tracking";
/// `apiVersion` USPS puts in error envelopes of this API.
pub const API_VERSION: &str = "/tracking/v3r2";
/// Most numbers one request may carry (`TrackingRequest.maxItems: 35`).
pub const BATCH_SIZE: usize = 35;

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "usps",
    name: "USPS",
    auth: AuthKind::OAuth2ClientCredentials,
    batch_size: BATCH_SIZE,
    // USPS assigns quotas per application "per hour" (USPS API FAQ); new
    // applications get 60 calls/hour across all v3 APIs, token calls included
    // (see README): a rolling-hour cap of 60, at most 1/s, 60 × 24 per day;
    // operators with a granted higher quota raise `per_hour` in config.
    quota: Quota {
        per_second: 1,
        per_minute: None,
        per_hour: Some(60),
        per_day: Some(1_440),
    },
    default_base_url: "https://apis.usps.com",
    format: "json",
};

/// The USPS plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usps;

impl Usps {
    /// The plugin (same as `Usps::default()`), for the daemon's registry.
    pub const fn new() -> Usps {
        Usps
    }
}

fn text_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Carrier for Usps {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// IMpb / legacy numbers with their mod-10 check digit, and S10 `…US`.
    fn detect(&self, number: &str) -> Detection {
        detect::detect(number)
    }

    /// `POST /oauth2/v3/token` as a form: `grant_type=client_credentials`,
    /// `client_id`, `client_secret`, `scope=tracking`.
    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        let id = creds.require_id("USPS consumer key (client_id)")?;
        let secret = creds.require_secret("USPS consumer secret (client_secret)")?;
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={SCOPE}",
            percent_encode(id),
            percent_encode(secret)
        );
        Ok(Some(
            HttpRequest::post(TOKEN_PATH, body)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json"),
        ))
    }

    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        if resp.status == 429 {
            return Err(CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            });
        }
        if (500..=599).contains(&resp.status) {
            return Err(CarrierError::Unavailable {
                status: resp.status,
                message: parse::error_message(resp),
            });
        }
        if !(200..300).contains(&resp.status) {
            // Only our credentials and a fixed body were sent: any refusal
            // (400 invalid_client, 401) needs new credentials, not a retry.
            return Err(CarrierError::Auth {
                message: format!("HTTP {}: {}", resp.status, parse::error_message(resp)),
            });
        }
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| CarrierError::malformed(format!("USPS token answer is not JSON: {e}")))?;
        if v.get("status").and_then(Value::as_str) == Some("revoked") {
            return Err(CarrierError::Auth {
                message: "USPS issued a revoked token".into(),
            });
        }
        let token = text_field(&v, "access_token")
            .ok_or_else(|| CarrierError::malformed("USPS token answer has no access_token"))?;
        let expires = text_field(&v, "expires_in")
            .ok_or_else(|| CarrierError::malformed("USPS token answer has no expires_in"))?;
        let expires_in_secs = expires.parse::<u64>().map_err(|_| {
            CarrierError::malformed(format!(
                "USPS token expires_in is not a number of seconds: {expires:?}"
            ))
        })?;
        Ok(AccessToken {
            token,
            expires_in_secs,
        })
    }

    /// `POST /tracking/v3r2/tracking` with `[{"trackingNumber": …}, …]` and the
    /// bearer token.
    fn track_request(
        &self,
        numbers: &[&str],
        _creds: &Credentials,
        token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        if numbers.is_empty() || numbers.len() > BATCH_SIZE {
            return Err(CarrierError::Config {
                message: format!(
                    "usps tracks 1 to {BATCH_SIZE} numbers per request, got {}",
                    numbers.len()
                ),
            });
        }
        let token = token.ok_or_else(|| CarrierError::Config {
            message: "usps track calls need an OAuth access token".into(),
        })?;
        let body: Vec<Value> = numbers
            .iter()
            .map(|n| json!({ "trackingNumber": n.trim() }))
            .collect();
        let body = serde_json::to_vec(&body).map_err(|e| CarrierError::Config {
            message: format!("cannot encode the track request: {e}"),
        })?;
        Ok(HttpRequest::post(TRACK_PATH, body)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json"))
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_answer(numbers, resp)
    }

    /// `94001` + 16 serial digits + mod-10 check digit (22 digits).
    fn sim_mint_number(&self, serial: u64) -> String {
        detect::mint(serial)
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
