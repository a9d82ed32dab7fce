//! Royal Mail carrier plugin for trackd: the Tracking API v2 events operation
//! (`GET /mailpieces/v2/{mailPieceId}/events`, one item per call) with IBM API
//! gateway client id/secret headers, Royal Mail event codes mapped into
//! trackd's taxonomy, and the Royal Mail wire format for the simulator. Pure
//! and sans-IO like every plugin: see the crate README.

mod codes;
mod country;
mod detect;
mod parse;
mod sim;
mod times;
mod wire;

pub use codes::{CODES, map_code};

use trackd_carrier_sdk::carrier::{Carrier, CarrierDescriptor, Credentials, Detection, Quota};
use trackd_carrier_sdk::http::percent_encode;
use trackd_carrier_sdk::sim::{SimCall, SimFault, SimReply, SimRequestError};
use trackd_carrier_sdk::{AuthKind, CarrierError, HttpRequest, HttpResponse, NumberResult};

/// Path of the events operation before the mail piece id.
pub const PATH_PREFIX: &str = "/mailpieces/v2/";
/// Path of the events operation after the mail piece id.
pub const EVENTS_SUFFIX: &str = "/events";
/// Gateway header carrying the application's client id (`Credentials::id`).
pub const CLIENT_ID_HEADER: &str = "X-IBM-Client-Id";
/// Gateway header carrying the client secret (`Credentials::secret`).
pub const CLIENT_SECRET_HEADER: &str = "X-IBM-Client-Secret";
/// Required header accepting Royal Mail's terms (`yes`); without it the
/// gateway answers 400 E0004.
pub const TERMS_HEADER: &str = "X-Accept-RMG-Terms";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "royalmail",
    name: "Royal Mail",
    auth: AuthKind::ApiKey,
    // The events operation takes exactly one mailPieceId.
    batch_size: 1,
    // Royal Mail assigns limits per API plan; its developer portal documents a
    // plan limit of 200,000 requests/day with a burst limit of 100 requests in
    // 5 s (= 20/s) as the reference plan (README "Quotas").
    quota: Quota {
        per_second: 20,
        per_minute: None,
        per_hour: None,
        per_day: Some(200_000),
    },
    default_base_url: "https://api.royalmail.net",
    format: "json",
};

/// The Royal Mail plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoyalMail;

impl RoyalMail {
    /// The plugin (same as `RoyalMail::default()`), for registries that build by value.
    pub const fn new() -> RoyalMail {
        RoyalMail
    }
}

impl Carrier for RoyalMail {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    fn detect(&self, number: &str) -> Detection {
        detect::detect(number)
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        _token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        let [number] = numbers else {
            return Err(CarrierError::Config {
                message: format!(
                    "the Royal Mail events operation takes exactly one mailPieceId, got {}",
                    numbers.len()
                ),
            });
        };
        let number = number.trim();
        if number.is_empty() {
            return Err(CarrierError::Config {
                message: "empty Royal Mail mailPieceId".into(),
            });
        }
        let id = creds.require_id("Royal Mail client id (X-IBM-Client-Id)")?;
        let secret = creds.require_secret("Royal Mail client secret (X-IBM-Client-Secret)")?;
        Ok(HttpRequest::get(format!(
            "{PATH_PREFIX}{}{EVENTS_SUFFIX}",
            percent_encode(number)
        ))
        .header(CLIENT_ID_HEADER, id)
        .header(CLIENT_SECRET_HEADER, secret)
        .header(TERMS_HEADER, "yes")
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
        detect::mint(serial)
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
