//! FedEx carrier plugin for trackd: OAuth2 client credentials (`POST
//! /oauth/token`), the Track API v1 (`POST /track/v1/trackingnumbers`, up to 30
//! numbers per call), FedEx status and scan codes mapped into trackd's
//! taxonomy, and the FedEx wire format for the simulator. Pure and sans-IO like
//! every plugin: see the crate README.

mod detect;
mod mapping;
mod parse;
mod sim;
mod times;
mod wire;

/// The simulator's `trackingNumberUniqueId` for a shipment (tests compare against it).
pub use sim::unique_id as sim_unique_id;

pub use mapping::{CODES, DE_REASONS, Mapped, StepWire, classify, step_wire};

use trackd_carrier_sdk::carrier::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, Credentials, Detection, Quota,
};
use trackd_carrier_sdk::http::percent_encode;
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::sim::{SimCall, SimFault, SimParcel, SimReply, SimRequestError};
use trackd_carrier_sdk::{CarrierError, HttpRequest, HttpResponse, NumberResult};

/// OAuth token endpoint (APIAuthorization-Resource).
pub const TOKEN_PATH: &str = "/oauth/token";
/// Track by tracking number (TrackingNumbers-Resource).
pub const TRACK_PATH: &str = "/track/v1/trackingnumbers";
/// Documented maximum of `trackingInfo` entries per request.
pub const BATCH_SIZE: usize = 30;
/// Locale sent as `X-locale`: English descriptions (`statusByLocale`).
pub const LOCALE: &str = "en_US";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "fedex",
    name: "FedEx",
    auth: AuthKind::OAuth2ClientCredentials,
    batch_size: BATCH_SIZE,
    // FedEx "Quotas & rate limits" guide: 1,400 transactions per 10 seconds per
    // project (= 140/s) and a default Track capability quota of 100,000
    // requests per day per project. See README "Quotas".
    quota: Quota {
        per_second: 140,
        per_minute: None,
        per_hour: None,
        per_day: Some(100_000),
    },
    default_base_url: "https://apis.fedex.com",
    format: "json",
};

/// The FedEx plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fedex;

impl Fedex {
    /// The plugin (same as `Fedex::default()`), for registries that build by value.
    pub const fn new() -> Fedex {
        Fedex
    }
}

/// Deterministic `x-customer-transaction-id` for a batch (plugins may not draw
/// randomness), echoed by FedEx so logs can match request and answer.
pub fn customer_transaction_id(numbers: &[&str]) -> String {
    let mut h = Fnv::new();
    for n in numbers {
        h.write(n.as_bytes());
        h.write(b",");
    }
    format!("trackd-{:016x}", h.finish())
}

impl Carrier for Fedex {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    fn detect(&self, number: &str) -> Detection {
        detect::detect(number)
    }

    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        let id = creds.require_id("FedEx client id (API key)")?;
        let secret = creds.require_secret("FedEx client secret (secret key)")?;
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
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
        if !(200..300).contains(&resp.status) {
            return Err(match parse::response_error(resp) {
                // The token call carries only our credentials: any refusal
                // other than throttling or an outage is a credentials problem.
                e @ (CarrierError::RateLimited { .. } | CarrierError::Unavailable { .. }) => e,
                CarrierError::Auth { message } => CarrierError::Auth { message },
                other => CarrierError::Auth {
                    message: format!("HTTP {}: {other}", resp.status),
                },
            });
        }
        let body: wire::TokenResponse = serde_json::from_slice(&resp.body).map_err(|e| {
            CarrierError::malformed(format!(
                "FedEx token answer is not the documented JSON ({e}): {}",
                resp.body_excerpt()
            ))
        })?;
        let token = body.access_token.as_deref().map(str::trim).unwrap_or("");
        if token.is_empty() {
            return Err(CarrierError::malformed(
                "FedEx token answer has no access_token",
            ));
        }
        let expires_in_secs = body
            .expires_in
            .as_ref()
            .and_then(wire::NumOrText::as_u64)
            .ok_or_else(|| {
                CarrierError::malformed("FedEx token expires_in is not a number of seconds")
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
        if numbers.is_empty() || numbers.len() > BATCH_SIZE {
            return Err(CarrierError::Config {
                message: format!(
                    "FedEx tracks 1 to {BATCH_SIZE} numbers per request, got {}",
                    numbers.len()
                ),
            });
        }
        if numbers.iter().any(|n| n.trim().is_empty()) {
            return Err(CarrierError::Config {
                message: "empty FedEx tracking number".into(),
            });
        }
        let token = token.ok_or_else(|| CarrierError::Config {
            message: "FedEx track requests need an OAuth bearer token".into(),
        })?;
        let body = wire::TrackRequest {
            include_detailed_scans: true,
            tracking_info: numbers
                .iter()
                .map(|n| wire::TrackingInfo {
                    tracking_number_info: wire::TrackingNumberInfo {
                        tracking_number: Some(n.trim().into()),
                        carrier_code: None,
                        tracking_number_unique_id: None,
                    },
                    ship_date_begin: None,
                    ship_date_end: None,
                })
                .collect(),
        };
        let body = serde_json::to_vec(&body).map_err(|e| CarrierError::Config {
            message: format!("cannot encode the FedEx track request: {e}"),
        })?;
        Ok(HttpRequest::post(TRACK_PATH, body)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("X-locale", LOCALE)
            .header(
                "x-customer-transaction-id",
                customer_transaction_id(numbers),
            ))
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_track(numbers, resp)
    }

    fn sim_mint_number(&self, serial: u64) -> String {
        sim::mint(serial)
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        sim::route(req)
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        sim::render_track(replies)
    }

    fn sim_render_track_recycled(
        &self,
        replies: &[SimReply<'_>],
        previous: &[Option<&SimParcel>],
    ) -> HttpResponse {
        sim::render_track_recycled(replies, previous)
    }

    fn sim_render_token(&self, token: &str, expires_in_secs: u64) -> HttpResponse {
        sim::render_token(token, expires_in_secs)
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        sim::render_fault(fault)
    }
}
