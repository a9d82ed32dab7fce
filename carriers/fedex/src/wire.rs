//! FedEx Track API v1 and OAuth JSON shapes, shared by the parser and the
//! simulator renderer. Every field is optional (FedEx omits, nulls or empties
//! fields freely); only the fields trackd reads are declared, the rest are
//! skipped by serde. Texts are `Cow`s that borrow from the answer (unless
//! escaped), so parsing copies only what a snapshot keeps; the renderer fills
//! them with owned or static strings.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use trackd_carrier_sdk::json::opt_text;

/// `POST /track/v1/trackingnumbers` body (`Full_Schema_Tracking_Numbers`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackRequest<'a> {
    /// Asks for every scan, not just the latest status.
    #[serde(default)]
    pub include_detailed_scans: bool,
    /// At most 30 entries (documented maximum).
    #[serde(default, borrow)]
    pub tracking_info: Vec<TrackingInfo<'a>>,
}

/// One number to track.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingInfo<'a> {
    #[serde(borrow)]
    pub tracking_number_info: TrackingNumberInfo<'a>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ship_date_begin: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ship_date_end: Option<Cow<'a, str>>,
}

/// The number, optionally qualified by operating company and unique id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingNumberInfo<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tracking_number: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tracking_number_unique_id: Option<Cow<'a, str>>,
}

/// Any Track API answer: `output` on success, `errors` on failure.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackAnswer<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_transaction_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ApiError<'a>>>,
}

/// `output` of a 200 answer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub complete_track_results: Option<Vec<CompleteTrackResult<'a>>>,
}

/// The answer for one requested number (one or more candidate shipments).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteTrackResult<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tracking_number: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub track_results: Option<Vec<TrackResult<'a>>>,
}

/// One shipment's tracking data, or its per-number `error`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackResult<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tracking_number_info: Option<TrackingNumberInfo<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub service_detail: Option<ServiceDetail<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub latest_status_detail: Option<StatusDetail<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub shipper_information: Option<ContactAndAddress<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub recipient_information: Option<ContactAndAddress<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub origin_location: Option<LocationDetail<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub destination_location: Option<LocationDetail<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub last_updated_destination_address: Option<Address<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub delivery_details: Option<DeliveryDetails<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub scan_events: Option<Vec<ScanEvent<'a>>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub date_and_times: Option<Vec<DateAndTime<'a>>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery_time_window: Option<TimeWindow<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub standard_transit_time_window: Option<TimeWindow<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError<'a>>,
}

impl TrackResult<'_> {
    /// Whether FedEx sent tracking data (not only an `error`).
    pub fn has_data(&self) -> bool {
        let filled = |v: &Option<Cow<'_, str>>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        self.latest_status_detail
            .as_ref()
            .is_some_and(|l| filled(&l.code) || filled(&l.derived_code))
            || self.scan_events.as_ref().is_some_and(|s| !s.is_empty())
    }
}

/// `serviceDetail`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDetail<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub short_description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
}

/// `latestStatusDetail` (`StatusDetail`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetail<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub scan_location: Option<Address<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub derived_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub ancillary_details: Option<Vec<AncillaryDetail<'a>>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_by_locale: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub delay_detail: Option<DelayDetail<'a>>,
}

/// `ancillaryDetails[]`: the cause of an exception.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AncillaryDetail<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason_description: Option<Cow<'a, str>>,
}

/// `delayDetail`: WEATHER/OPERATIONAL/LOCAL/GENERAL/CLEARANCE, DELAYED/ON_TIME/EARLY.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayDetail<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_type: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
}

/// `scanEvents[]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanEvent<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub derived_status: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub scan_location: Option<Address<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location_type: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub exception_description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub derived_status_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub exception_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub delay_detail: Option<DelayDetail<'a>>,
}

/// `dateAndTimes[]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAndTime<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_time: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
}

/// `estimatedDeliveryTimeWindow` / `standardTransitTimeWindow`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeRange<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
}

/// `{begins, ends}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub begins: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ends: Option<Cow<'a, str>>,
}

/// `deliveryDetails` (only the names trackd reports).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetails<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_by_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub signed_by_name: Option<Cow<'a, str>>,
}

/// `{contact, address}` (shipper / recipient).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactAndAddress<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address<'a>>,
}

/// `originLocation` / `destinationLocation`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationDetail<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub location_contact_and_address: Option<ContactAndAddress<'a>>,
}

/// FedEx address (`AddressVO`); street lines are not part of trackd's model.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub state_or_province_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country_code: Option<Cow<'a, str>>,
}

/// `CXSError`: `{code, message}` at top level (`errors[]`) or per number (`error`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ApiError<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<Cow<'a, str>>,
}

/// `POST /oauth/token` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Documented as an integer; a string is tolerated.
    #[serde(default)]
    pub expires_in: Option<NumOrText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A number FedEx might also send as a string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumOrText {
    Num(u64),
    Text(String),
}

impl NumOrText {
    /// The value as seconds, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            NumOrText::Num(n) => Some(*n),
            NumOrText::Text(s) => s.trim().parse().ok(),
        }
    }
}
