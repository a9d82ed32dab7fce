//! trackd carrier plugin for DHL (Shipment Tracking – Unified API), slug `dhl`.
//!
//! Pure and sans-IO, like every plugin: it builds requests, parses answers and
//! renders DHL's wire format for trackd's simulator.
//!
//! Wire format (developer.dhl.com, see README.md):
//!
//! - request: `GET /track/shipments?trackingNumber=<n>&language=en` with the
//!   header `DHL-API-Key: <key>`; one tracking number per call;
//! - answer: `200` with `{"shipments": [{id, service, origin, destination,
//!   status, estimatedTimeOfDelivery, estimatedDeliveryTimeFrame,
//!   estimatedTimeOfDeliveryRemark, returnFlag, details, events}]}`; event
//!   `timestamp`s are ISO 8601 with an offset (parcel services) or without one
//!   (DHL Express local time);
//! - errors: `application/problem+json` `{status, title, detail}`: `404` "No
//!   result found" for an unknown number, `401` bad key, `429` quota (with
//!   `Retry-After`), `5xx` unavailable, `400` invalid input.

mod detect;
pub mod mapping;
mod parse;
mod sim;
mod wire;

pub use parse::parse_time;

use trackd_carrier_sdk::http::percent_encode;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection, HttpRequest,
    HttpResponse, Method, NumberResult, Quota, SimReply, SimRequestError,
};

/// The track endpoint, relative to the configured base URL.
pub const TRACK_PATH: &str = "/track/shipments";
/// Header carrying the API key (`Credentials::secret`).
pub const API_KEY_HEADER: &str = "DHL-API-Key";
/// Query parameter naming the tracking number.
const NUMBER_PARAM: &str = "trackingNumber";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "dhl",
    name: "DHL",
    auth: AuthKind::ApiKey,
    // The endpoint takes exactly one `trackingNumber` per call.
    batch_size: 1,
    // Documented initial service level: 250 calls per day, at most 1 per second.
    quota: Quota {
        per_second: 1,
        per_minute: None,
        per_hour: None,
        per_day: Some(250),
    },
    default_base_url: "https://api-eu.dhl.com",
    format: "json",
};

/// The DHL plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dhl;

impl Dhl {
    /// The plugin (same as `Dhl::default()`), for the daemon's registry.
    pub const fn new() -> Dhl {
        Dhl
    }
}

impl Carrier for Dhl {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// DHL Express waybills (10/11 digits, mod 7) as `Checksum`; piece ids,
    /// eCommerce and 14-digit numbers (no check digit) as `Pattern`.
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
                    "dhl tracks exactly 1 number per request, got {}",
                    numbers.len()
                ),
            });
        };
        let key = creds.require_secret("DHL API key")?;
        Ok(HttpRequest::get(format!(
            "{TRACK_PATH}?{NUMBER_PARAM}={}&language=en",
            percent_encode(number)
        ))
        .header(API_KEY_HEADER, key)
        .header("Accept", "application/json"))
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_answer(numbers, resp)
    }

    /// `serial` (mod 10⁹, 9 digits) plus its mod-7 check digit: a DHL Express
    /// waybill.
    fn sim_mint_number(&self, serial: u64) -> String {
        detect::mint_express(serial)
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        if req.path() != TRACK_PATH {
            return Err(SimRequestError::NotFound(req.path().to_string()));
        }
        if req.method != Method::Get {
            return Err(SimRequestError::BadRequest(format!(
                "{} not allowed on {TRACK_PATH}",
                req.method.as_str()
            )));
        }
        let numbers: Vec<String> = req
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k == NUMBER_PARAM)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if numbers.len() != 1 {
            return Err(SimRequestError::BadRequest(
                "Invalid input: missing mandatory parameter 'trackingNumber'".into(),
            ));
        }
        let credential = match req.header_value(API_KEY_HEADER) {
            Some(key) => SimCredential::ApiKey(key.trim().to_string()),
            None => SimCredential::None,
        };
        Ok(SimCall::Track {
            numbers,
            credential,
        })
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        sim::render_track(replies)
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        sim::render_fault(fault)
    }
}
