//! trackd carrier plugin for Australia Post (slug `australiapost`): the
//! Shipping & Tracking API "Track Items" call, JSON over HTTPS with HTTP Basic
//! auth plus an `Account-Number` header.
//!
//! - request: `GET /shipping/v1/track?tracking_ids=ID1,ID2,…` (at most 10 ids);
//! - answer: `{"tracking_results": [{"tracking_id", "status", "trackable_items":
//!   [{"article_id", "product_type", "events": [{"location", "description",
//!   "date"}], "status"} | {"consignment_id", "number_of_items", "items": […]}],
//!   "consignment": {…}} | {"tracking_id", "errors": [{"code", "name"}]}]}`;
//!   events are newest first, free text (no codes), dated ISO 8601 with offset;
//! - whole-request errors: `{"errors": [{"code", "name", "message"}]}` (also
//!   `error_code`/`error_name`), with 4xx, 429 (`API_002`) or 5xx.
//!
//! Pure and sans-IO like every plugin: no I/O, clock or randomness.

pub mod codes;
pub mod parse;
mod sim;
pub mod wire;

use trackd_carrier_sdk::checksum::{s10_check_digit, s10_valid};
use trackd_carrier_sdk::http::{basic_auth, percent_encode};
use trackd_carrier_sdk::sim::{SimCall, SimFault};
use trackd_carrier_sdk::{
    AuthKind, Carrier, CarrierDescriptor, CarrierError, Credentials, Detection, HttpRequest,
    HttpResponse, NumberResult, Quota, SimReply, SimRequestError,
};

/// The Track Items endpoint, relative to the configured base URL.
pub const TRACK_PATH: &str = "/shipping/v1/track";
/// Header naming the customer's Australia Post account (required on every call).
pub const ACCOUNT_HEADER: &str = "Account-Number";
/// `Credentials::extra` key holding the account number.
pub const ACCOUNT_KEY: &str = "account";

static DESCRIPTOR: CarrierDescriptor = CarrierDescriptor {
    slug: "australiapost",
    name: "Australia Post",
    auth: AuthKind::Basic,
    // Track Items: "The request must contain 10 or less AP article ids,
    // consignment ids, or barcode ids" (error 51101).
    batch_size: 10,
    // Australia Post limits Track Items to 10 requests per minute per API key:
    // a rolling-minute cap, at most 1/s, and 10 × 60 × 24 per day.
    quota: Quota {
        per_second: 1,
        per_minute: Some(10),
        per_hour: None,
        per_day: Some(14_400),
    },
    default_base_url: "https://digitalapi.auspost.com.au",
    format: "json",
};

/// The Australia Post plugin; stateless, so one value serves every account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AustraliaPost;

impl AustraliaPost {
    /// The plugin (same as `AustraliaPost::default()`), for the daemon's registry.
    pub const fn new() -> AustraliaPost {
        AustraliaPost
    }
}

/// The account number from the credentials' extras (a few spellings accepted).
fn account_number(creds: &Credentials) -> Result<&str, CarrierError> {
    [
        "account_number",
        "account-number",
        "Account-Number",
        "account",
    ]
    .iter()
    .find_map(|k| creds.extra.get(*k))
    .map(|s| s.trim())
    .filter(|s| !s.is_empty())
    .ok_or_else(|| CarrierError::Config {
        message: format!(
            "missing credential: Australia Post account number (extra `{ACCOUNT_KEY}`)"
        ),
    })
}

fn all(b: &[u8], f: fn(&u8) -> bool) -> bool {
    b.iter().all(f)
}

/// Australia Post domestic formats without a published check digit.
fn domestic_pattern(n: &str) -> bool {
    let b = n.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| all(s, u8::is_ascii_digit));
    let upper =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| all(s, u8::is_ascii_uppercase));
    let alnum = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| all(s, |c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    };
    let has_letter = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| s.iter().any(u8::is_ascii_uppercase))
    };
    match b.len() {
        // eParcel consignment: 2 digits, 3-letter merchant location id, 7 digits.
        12 if digits(0..2) && upper(2..5) && digits(5..12) => true,
        // StarTrack consignment: 4 alphanumerics with a letter, 8 digits.
        12 => alnum(0..4) && has_letter(0..4) && digits(4..12),
        // eParcel article id: consignment id + 11 digits.
        23 => digits(0..2) && upper(2..5) && digits(5..23),
        // StarTrack freight item: consignment + 3-letter product + 5 digits.
        20 if alnum(0..4) && has_letter(0..4) && digits(4..12) => upper(12..15) && digits(15..20),
        _ => false,
    }
}

impl Carrier for AustraliaPost {
    fn descriptor(&self) -> &CarrierDescriptor {
        &DESCRIPTOR
    }

    /// UPU S10 numbers issued by Australia Post (`…AU`, check digit verified),
    /// plus the domestic eParcel / StarTrack shapes (pattern only).
    fn detect(&self, number: &str) -> Detection {
        let b = number.as_bytes();
        if b.len() == 13 && number.ends_with("AU") {
            return if s10_valid(number) {
                Detection::Checksum
            } else {
                Detection::No
            };
        }
        if domestic_pattern(number) {
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
        if numbers.is_empty() || numbers.len() > DESCRIPTOR.batch_size {
            return Err(CarrierError::Config {
                message: format!(
                    "australiapost tracks 1 to {} ids per request, got {}",
                    DESCRIPTOR.batch_size,
                    numbers.len()
                ),
            });
        }
        let key = creds.require_id("Australia Post API key")?;
        let password = creds.require_secret("Australia Post API password")?;
        let account = account_number(creds)?;
        let ids: Vec<String> = numbers.iter().map(|n| percent_encode(n.trim())).collect();
        Ok(
            HttpRequest::get(format!("{TRACK_PATH}?tracking_ids={}", ids.join(",")))
                .header("Authorization", basic_auth(key, password))
                .header(ACCOUNT_HEADER, account)
                .header("Accept", "application/json"),
        )
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        parse::parse_answer(numbers, resp)
    }

    /// `CP` (UPU parcel class) + 8-digit serial + S10 check digit + `AU`.
    fn sim_mint_number(&self, serial: u64) -> String {
        let body = format!("{:08}", serial % 100_000_000);
        let mut d = [0u8; 8];
        for (slot, c) in d.iter_mut().zip(body.bytes()) {
            *slot = c - b'0';
        }
        format!("CP{body}{}AU", s10_check_digit(&d))
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
        let ap = AustraliaPost;
        assert_eq!(ap.detect("ET123456785AU"), Detection::Checksum);
        // karrio's sample id has a placeholder check digit.
        assert_eq!(ap.detect("ET123456789AU"), Detection::No);
        assert_eq!(ap.detect("RB123456785GB"), Detection::No);
        assert_eq!(ap.detect("33XXX0123456"), Detection::Pattern);
        assert_eq!(ap.detect("33XXX012345601000931502"), Detection::Pattern);
        assert_eq!(ap.detect("6XXX12345678"), Detection::Pattern);
        assert_eq!(ap.detect("6XXX12345678EXP00001"), Detection::Pattern);
        assert_eq!(ap.detect("123456789012"), Detection::No);
        assert_eq!(ap.detect(""), Detection::No);
        for s in [0, 1, 99_999_999, u64::MAX] {
            let n = ap.sim_mint_number(s);
            assert_eq!(ap.detect(&n), Detection::Checksum, "{n}");
        }
    }
}
