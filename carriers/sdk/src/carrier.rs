//! The `Carrier` trait: everything carrier-specific, and nothing that does I/O.

use crate::error::CarrierError;
use crate::http::{HttpRequest, HttpResponse};
use crate::model::Snapshot;
use crate::sim::{SimCall, SimFault, SimParcel, SimReply, SimRequestError};
use std::collections::BTreeMap;
use std::fmt;

/// How the carrier authenticates API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// A static key sent as a header.
    ApiKey,
    /// HTTP Basic with a user name and password.
    Basic,
    /// OAuth2 client credentials: the daemon fetches and caches a bearer token.
    OAuth2ClientCredentials,
    /// A login call (user + password) returns a session token the daemon caches
    /// like an OAuth token and hands to `track_request` (DPD `getAuth`).
    SessionToken,
}

impl AuthKind {
    /// Whether the daemon must fetch and cache a token before track calls.
    pub fn uses_token(self) -> bool {
        matches!(
            self,
            AuthKind::OAuth2ClientCredentials | AuthKind::SessionToken
        )
    }
}

/// Default quota the carrier documents; operators may lower it in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_second: u32,
    /// Rolling-minute cap, for carriers that count per minute (Canada Post 20/min).
    pub per_minute: Option<u32>,
    /// Rolling-hour cap, for carriers that count per hour (USPS 60/h).
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

/// Static facts about a carrier that the daemon schedules and authenticates by.
#[derive(Debug, Clone)]
pub struct CarrierDescriptor {
    /// Stable slug used in config, the API and events (`ups`, `canadapost`).
    pub slug: &'static str,
    pub name: &'static str,
    pub auth: AuthKind,
    /// Most tracking numbers one track request may carry.
    pub batch_size: usize,
    pub quota: Quota,
    /// Production base URL; config overrides it (sandbox, simulator).
    pub default_base_url: &'static str,
    /// Wire format, for docs and metrics (`json`, `xml`).
    pub format: &'static str,
}

/// How sure a carrier is that a number is one of its own, strongest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detection {
    No,
    /// The shape matches but the format has no check digit.
    Pattern,
    /// The shape matches and the check digit is valid.
    Checksum,
}

/// Secrets for one carrier account; `Debug` never prints them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Client id, user name or API key id.
    pub id: Option<String>,
    /// Client secret, password or API key.
    pub secret: Option<String>,
    /// Carrier-specific extras (account number, customer number...).
    pub extra: BTreeMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id.as_ref().map(|_| "<set>"))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            id: Some(id.into()),
            secret: Some(secret.into()),
            extra: BTreeMap::new(),
        }
    }

    /// The id, or a config error naming what is missing.
    pub fn require_id(&self, what: &str) -> Result<&str, CarrierError> {
        self.id.as_deref().ok_or_else(|| CarrierError::Config {
            message: format!("missing credential: {what}"),
        })
    }

    /// The secret, or a config error naming what is missing.
    pub fn require_secret(&self, what: &str) -> Result<&str, CarrierError> {
        self.secret.as_deref().ok_or_else(|| CarrierError::Config {
            message: format!("missing credential: {what}"),
        })
    }
}

/// A bearer token and how long the carrier says it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in_secs: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_in_secs", &self.expires_in_secs)
            .finish()
    }
}

/// The outcome for one tracking number inside a (possibly batched) response.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberResult {
    pub tracking_number: String,
    pub outcome: Result<Snapshot, CarrierError>,
}

/// A carrier plugin. Pure: it builds requests and parses responses; it never does
/// I/O, sleeps or reads the clock, so it is tested on saved payloads alone.
pub trait Carrier: Send + Sync + 'static {
    fn descriptor(&self) -> &CarrierDescriptor;

    /// Whether `number` (already upper-cased, no spaces) looks like this carrier's.
    fn detect(&self, number: &str) -> Detection;

    /// The token request for OAuth2 carriers; `None` when the carrier needs none.
    fn token_request(&self, _creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        Ok(None)
    }

    /// Parses the token endpoint's answer.
    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        Err(CarrierError::Config {
            message: format!(
                "{} does not use tokens (HTTP {})",
                self.descriptor().slug,
                resp.status
            ),
        })
    }

    /// Builds one track request for at most `batch_size` numbers.
    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError>;

    /// How the daemon's transport layer should treat a non-2xx answer before
    /// the plugin parses it (retry, refresh the token, pause on 429). SOAP
    /// carriers answer every fault with HTTP 500 and override this to classify
    /// by the fault body; `None` hands the answer to `parse_track`.
    fn classify_error(&self, resp: &HttpResponse) -> Option<CarrierError> {
        CarrierError::from_http_status(resp)
    }

    /// Parses a track response: whole-response errors as `Err`, per-number
    /// outcomes (including per-number not-found) inside `Ok`. With `numbers`
    /// empty, reports every number the answer contains (`trackd normalize`).
    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError>;

    /// Simulator: a valid tracking number of this carrier's format (check digit
    /// included) for serial `serial`, so simulated parcels detect as this carrier.
    fn sim_mint_number(&self, serial: u64) -> String;

    /// Simulator: classifies an incoming request (token or track call, with the
    /// credential presented) in this carrier's wire format.
    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError>;

    /// Simulator: renders a successful track answer for the requested numbers.
    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse;

    /// Simulator: renders a track answer in which some numbers were reused:
    /// `previous[i]`, when set, is an older shipment under `replies[i]`'s
    /// number that the carrier still lists beside the current one (recycled
    /// numbers, see `shipment`). Formats that hold several shipments per number
    /// override this; the default shows the current shipments only.
    fn sim_render_track_recycled(
        &self,
        replies: &[SimReply<'_>],
        previous: &[Option<&SimParcel>],
    ) -> HttpResponse {
        let _ = previous;
        self.sim_render_track(replies)
    }

    /// Simulator: renders a token answer (OAuth2 carriers).
    fn sim_render_token(&self, token: &str, expires_in_secs: u64) -> HttpResponse {
        let body = format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":"{expires_in_secs}","status":"approved"}}"#
        );
        HttpResponse::new(200, "application/json", body)
    }

    /// Simulator: renders a failure the way this carrier documents it.
    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse;
}
