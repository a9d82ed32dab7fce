//! FedEx Track API v1 and OAuth JSON shapes, shared by the parser and the
//! simulator renderer. Every field is optional (FedEx omits, nulls or empties
//! fields freely); only the fields trackd reads are declared, the rest are
//! skipped by serde.

use serde::{Deserialize, Serialize};

/// `POST /track/v1/trackingnumbers` body (`Full_Schema_Tracking_Numbers`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackRequest {
    /// Asks for every scan, not just the latest status.
    #[serde(default)]
    pub include_detailed_scans: bool,
    /// At most 30 entries (documented maximum).
    #[serde(default)]
    pub tracking_info: Vec<TrackingInfo>,
}

/// One number to track.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingInfo {
    pub tracking_number_info: TrackingNumberInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date_begin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date_end: Option<String>,
}

/// The number, optionally qualified by operating company and unique id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingNumberInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number_unique_id: Option<String>,
}

/// Any Track API answer: `output` on success, `errors` on failure.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ApiError>>,
}

/// `output` of a 200 answer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_track_results: Option<Vec<CompleteTrackResult>>,
}

/// The answer for one requested number (one or more candidate shipments).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteTrackResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_results: Option<Vec<TrackResult>>,
}

/// One shipment's tracking data, or its per-number `error`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number_info: Option<TrackingNumberInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_detail: Option<ServiceDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_status_detail: Option<StatusDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipper_information: Option<ContactAndAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_information: Option<ContactAndAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_location: Option<LocationDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_location: Option<LocationDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_destination_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_details: Option<DeliveryDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_events: Option<Vec<ScanEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_and_times: Option<Vec<DateAndTime>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery_time_window: Option<TimeWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_transit_time_window: Option<TimeWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl TrackResult {
    /// Whether FedEx sent tracking data (not only an `error`).
    pub fn has_data(&self) -> bool {
        let filled = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        self.latest_status_detail
            .as_ref()
            .is_some_and(|l| filled(&l.code) || filled(&l.derived_code))
            || self.scan_events.as_ref().is_some_and(|s| !s.is_empty())
    }
}

/// `serviceDetail`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_description: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `latestStatusDetail` (`StatusDetail`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_location: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancillary_details: Option<Vec<AncillaryDetail>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_by_locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_detail: Option<DelayDetail>,
}

/// `ancillaryDetails[]`: the cause of an exception.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AncillaryDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_description: Option<String>,
}

/// `delayDetail`: WEATHER/OPERATIONAL/LOCAL/GENERAL/CLEARANCE, DELAYED/ON_TIME/EARLY.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayDetail {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `scanEvents[]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_location: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_detail: Option<DelayDetail>,
}

/// `dateAndTimes[]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAndTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `estimatedDeliveryTimeWindow` / `standardTransitTimeWindow`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeRange>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `{begins, ends}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begins: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
}

/// `deliveryDetails` (only the names trackd reports).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by_name: Option<String>,
}

/// `{contact, address}` (shipper / recipient).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactAndAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// `originLocation` / `destinationLocation`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_contact_and_address: Option<ContactAndAddress>,
}

/// FedEx address (`AddressVO`); street lines are not part of trackd's model.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_province_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// `CXSError`: `{code, message}` at top level (`errors[]`) or per number (`error`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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
