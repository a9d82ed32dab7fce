//! UPS carrier plugin for trackd: OAuth2 client credentials, the Track API v1
//! (`GET /api/track/v1/details/{inquiryNumber}`, one number per call), UPS status
//! types and codes mapped into trackd's taxonomy, and the UPS wire format for the
//! simulator. Pure and sans-IO like every plugin: see the crate README.

mod detect;
mod mapping;
mod parse;
mod sim;
mod times;
mod wire;

use trackd_carrier_sdk::carrier::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, Credentials, Detection, Quota,
};
use trackd_carrier_sdk::http::{basic_auth, percent_encode};
use trackd_carrier_sdk::model::Fnv;
use trackd_carrier_sdk::sim::{SimCall, SimFault, SimReply, SimRequestError};
use trackd_carrier_sdk::{CarrierError, HttpRequest, HttpResponse, NumberResult};

/// OAuth client-credentials token endpoint (OAuthClientCredentials.yaml).
pub const TOKEN_PATH: &str = "/security/v1/oauth/token";
/// Track API v1 single-package details endpoint, followed by the inquiry number.
pub const TRACK_PREFIX: &str = "/api/track/v1/details/";
/// Query UPS documents for the details call: English text (the status keyword
/// rules read en_US descriptions) and no signature/POD images (large, unused).
pub const TRACK_QUERY: &str =
    "locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false";
/// Value of the required `transactionSrc` header, naming the calling application.
pub const TRANSACTION_SRC: &str = "trackd";
/// Optional `Credentials::extra` key sent as the `x-merchant-id` token header.
pub const MERCHANT_ID_KEY: &str = "merchant_id";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "ups",
    name: "UPS",
    auth: AuthKind::OAuth2ClientCredentials,
    batch_size: 1,
    // UPS publishes no numeric Track API quota (only 429 / code 10429 "Too Many
    // Requests"); conservative defaults, see README "Quotas".
    quota: Quota {
        per_second: 10,
        per_minute: None,
        per_hour: None,
        per_day: Some(100_000),
    },
    default_base_url: "https://onlinetools.ups.com",
    format: "json",
};

/// The UPS plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ups;

impl Ups {
    /// The plugin (same as `Ups::default()`), for registries that build by value.
    pub const fn new() -> Ups {
        Ups
    }
}

/// Deterministic `transId` for a number (UPS requires one per request; plugins
/// may not read clocks or randomness): `trackd` + FNV-1a of the number, 22 chars.
pub fn trans_id(number: &str) -> String {
    format!("trackd{:016x}", Fnv::hash(number.as_bytes()))
}

impl Carrier for Ups {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    fn detect(&self, number: &str) -> Detection {
        detect::detect(number)
    }

    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        let id = creds.require_id("UPS client id")?;
        let secret = creds.require_secret("UPS client secret")?;
        let mut req = HttpRequest::post(TOKEN_PATH, b"grant_type=client_credentials".to_vec())
            .header("Authorization", basic_auth(id, secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        if let Some(merchant) = creds.extra.get(MERCHANT_ID_KEY) {
            req = req.header("x-merchant-id", merchant.as_str());
        }
        Ok(Some(req))
    }

    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        // 429 and 5xx are worth retrying; every other refusal is handled below.
        if let Some(err) = CarrierError::from_http_status(resp).filter(CarrierError::is_retryable) {
            return Err(err);
        }
        if !(200..300).contains(&resp.status) {
            // The token call carries only our credentials and a fixed body, so
            // any refusal (401, 403 blocked merchant, 400 invalid request...) is a
            // credentials problem: retrying without new credentials is pointless.
            return Err(parse::auth_error(resp));
        }
        let body: wire::TokenResponse<'_> = serde_json::from_slice(&resp.body).map_err(|e| {
            CarrierError::malformed(format!("UPS token answer is not the documented JSON: {e}"))
        })?;
        let token = wire::txt(&body.access_token);
        if token.is_empty() {
            return Err(CarrierError::malformed(
                "UPS token answer has no access_token",
            ));
        }
        let expires = wire::txt(&body.expires_in);
        let expires_in_secs = expires.parse::<u64>().map_err(|_| {
            CarrierError::malformed(format!(
                "UPS token expires_in is not a number of seconds: {expires:?}"
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
        let [number] = numbers else {
            return Err(CarrierError::Config {
                message: format!(
                    "UPS Track API v1 takes exactly one inquiry number per request, got {}",
                    numbers.len()
                ),
            });
        };
        if number.trim().is_empty() {
            return Err(CarrierError::Config {
                message: "empty UPS inquiry number".into(),
            });
        }
        let token = token.ok_or_else(|| CarrierError::Config {
            message: "UPS track requests need an OAuth bearer token".into(),
        })?;
        Ok(HttpRequest::get(format!(
            "{TRACK_PREFIX}{}?{TRACK_QUERY}",
            percent_encode(number)
        ))
        .header("Authorization", format!("Bearer {token}"))
        .header("transId", trans_id(number))
        .header("transactionSrc", TRANSACTION_SRC)
        .header("Accept", "application/json"))
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

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        sim::render_fault(fault)
    }
}
