//! PostNL carrier plugin for trackd: the ShippingStatus v2 API
//! (`GET /shipment/v2/status/barcode/{barcode}?detail=true`, one barcode per
//! call, `apikey` header), PostNL status and event codes mapped into trackd's
//! taxonomy, naive local times kept naive, and the PostNL wire format for the
//! simulator. Pure and sans-IO like every plugin: see the crate README.

mod codes;
mod parse;
mod sim;

pub use codes::{EVENT_CODES, STATUS_CODES};

use trackd_carrier_sdk::carrier::{Carrier, CarrierDescriptor, Credentials, Detection, Quota};
use trackd_carrier_sdk::checksum::s10_valid;
use trackd_carrier_sdk::http::percent_encode;
use trackd_carrier_sdk::sim::{SimCall, SimFault, SimReply, SimRequestError};
use trackd_carrier_sdk::{AuthKind, CarrierError, HttpRequest, HttpResponse, NumberResult};

/// Path of the status-by-barcode operation before the barcode.
pub const PATH_PREFIX: &str = "/shipment/v2/status/barcode/";
/// Query: old statuses and events included; English descriptions.
pub const QUERY: &str = "detail=true&language=EN";
/// Header carrying the API key (`Credentials::secret`).
pub const API_KEY_HEADER: &str = "apikey";
/// Customer code used in minted simulator barcodes (`3S` + code + serial).
const SIM_CUSTOMER_CODE: &str = "TRKD";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "postnl",
    name: "PostNL",
    auth: AuthKind::ApiKey,
    // The status-by-barcode operation takes one barcode.
    batch_size: 1,
    // PostNL publishes no numeric limit for ShippingStatus, only the guideline
    // to poll "in useful intervals"; conservative defaults (README "Quotas").
    quota: Quota {
        per_second: 5,
        per_minute: None,
        per_hour: None,
        per_day: Some(50_000),
    },
    default_base_url: "https://api.postnl.nl",
    format: "json",
};

/// The PostNL plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostNl;

impl PostNl {
    /// The plugin (same as `PostNl::default()`), for registries that build by value.
    pub const fn new() -> PostNl {
        PostNl
    }
}

/// `3S` + a 1–4 letter customer code + serial digits (13–17 characters in
/// all): PostNL's domestic barcode, which has no check digit.
fn is_3s(n: &str) -> bool {
    let Some(rest) = n.strip_prefix("3S") else {
        return false;
    };
    let letters = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = rest.get(letters..).unwrap_or("");
    (1..=4).contains(&letters)
        && (11..=17).contains(&n.len())
        && digits.len() >= 5
        && digits.bytes().all(|b| b.is_ascii_digit())
}

impl Carrier for PostNl {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// S10 issued by PostNL (`…NL`, valid check digit) → `Checksum`; a `3S`
    /// barcode → `Pattern` (it has no check digit).
    fn detect(&self, number: &str) -> Detection {
        if number.len() == 13 && number.ends_with("NL") {
            return if s10_valid(number) {
                Detection::Checksum
            } else {
                Detection::No
            };
        }
        if is_3s(number) {
            Detection::Pattern
        } else {
            Detection::No
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
                message: format!(
                    "PostNL ShippingStatus takes exactly one barcode per request, got {}",
                    numbers.len()
                ),
            });
        };
        let number = number.trim();
        if number.is_empty() {
            return Err(CarrierError::Config {
                message: "empty PostNL barcode".into(),
            });
        }
        let key = creds.require_secret("PostNL API key")?;
        Ok(
            HttpRequest::get(format!("{PATH_PREFIX}{}?{QUERY}", percent_encode(number)))
                .header(API_KEY_HEADER, key)
                .header("Accept", "application/json"),
        )
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_track(numbers, resp)
    }

    /// `3STRKD` + 9 to 11 serial digits; 3S barcodes carry no check digit, so
    /// these detect as `Pattern`.
    fn sim_mint_number(&self, serial: u64) -> String {
        format!("3S{SIM_CUSTOMER_CODE}{:09}", serial % 100_000_000_000)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        let p = PostNl;
        for n in [
            "3SABCD1234567",
            "3SDEVC123456789",
            "3SABCD3563340",
            "3SA12345678",
        ] {
            assert_eq!(p.detect(n), Detection::Pattern, "{n}");
        }
        assert_eq!(p.detect("RB123456785NL"), Detection::Checksum);
        for n in [
            "RB123456786NL",
            "RB123456785GB",
            "3SABCDE1234567",
            "3S1234567",
            "3SABCD12A4567",
            "33DEVC123456789",
            "",
        ] {
            assert_eq!(p.detect(n), Detection::No, "{n}");
        }
        assert_eq!(p.detect(&p.sim_mint_number(u64::MAX)), Detection::Pattern);
    }
}
