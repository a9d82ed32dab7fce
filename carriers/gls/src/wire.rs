//! Serde shapes of the Track And Trace V1 answer and GLS's error envelopes,
//! shared by the parser and the simulator renderer.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use trackd_carrier_sdk::json::opt_text;

/// `ParcelsResponseDTO`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ParcelsResponse<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub parcels: Option<Vec<Parcel<'a>>>,
}

/// `ParcelDTO`: a found parcel, or `errorCode`/`errorMessage` for that id.
/// Its texts borrow from the answer too (unless escaped).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parcel<'a> {
    #[serde(default, borrow)]
    pub requested: Cow<'a, str>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub unitno: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_date_time: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event<'a>>>,
    /// Present as `null` in GLS answers; never skipped when rendering.
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub error_message: Option<Cow<'a, str>>,
}

/// `EventDTO`: `eventDateTime` is ISO 8601 with a colon-less offset (`+0200`).
/// Its texts borrow from the answer (unless escaped): events are most of it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    #[serde(default, borrow)]
    pub code: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub city: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub postal_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub country: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub description: Cow<'a, str>,
    #[serde(default, borrow)]
    pub event_date_time: Cow<'a, str>,
}

/// Every documented error envelope in one: `ErrorResponseDTO` (problem JSON:
/// `title`, `status`, `detail`), the Apigee `fault`, and the ShipIT
/// `errors[]` shape of karrio's sample.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ShipItError>,
}

/// Apigee gateway fault (auth, quota).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub faultstring: String,
    #[serde(default)]
    pub detail: FaultDetail,
}

/// Apigee fault detail.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FaultDetail {
    #[serde(default)]
    pub errorcode: String,
}

/// `{"code", "message", "field", "details"}` entries.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ShipItError {
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

/// OAuth token answer (Authentication API v2 `TokenResponse`).
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    /// A number per the spec; some gateways send it as a string.
    pub expires_in: Value,
}
