//! Carrier-neutral parcel journeys that each plugin renders in its own wire format
//! for trackd's simulator (and parses back in the conformance kit).

use crate::model::Address;
use crate::status::Status;
use chrono::{DateTime, FixedOffset};
use thiserror::Error;

/// One kind of thing that happens to a parcel; each carrier maps it to its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JourneyStep {
    LabelCreated,
    PickedUp,
    ArrivedAtFacility,
    DepartedFacility,
    /// In transit, delayed by weather (moves the ETA later).
    WeatherDelay,
    /// Missed a connection or sorted late (moves the ETA later).
    OperationalDelay,
    CustomsHold,
    AddressIssue,
    OutForDelivery,
    AttemptFailed,
    AvailableForPickup,
    Delivered,
    ReturnToSender,
    Returned,
}

impl JourneyStep {
    pub const ALL: [JourneyStep; 14] = [
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::ArrivedAtFacility,
        JourneyStep::DepartedFacility,
        JourneyStep::WeatherDelay,
        JourneyStep::OperationalDelay,
        JourneyStep::CustomsHold,
        JourneyStep::AddressIssue,
        JourneyStep::OutForDelivery,
        JourneyStep::AttemptFailed,
        JourneyStep::AvailableForPickup,
        JourneyStep::Delivered,
        JourneyStep::ReturnToSender,
        JourneyStep::Returned,
    ];

    /// The normalized status a correct parser must produce for this step.
    pub fn status(self) -> Status {
        match self {
            JourneyStep::LabelCreated => Status::InfoReceived,
            JourneyStep::PickedUp
            | JourneyStep::ArrivedAtFacility
            | JourneyStep::DepartedFacility
            | JourneyStep::WeatherDelay
            | JourneyStep::OperationalDelay => Status::InTransit,
            JourneyStep::CustomsHold | JourneyStep::AddressIssue => Status::Exception,
            JourneyStep::OutForDelivery => Status::OutForDelivery,
            JourneyStep::AttemptFailed => Status::AttemptFailed,
            JourneyStep::AvailableForPickup => Status::AvailableForPickup,
            JourneyStep::Delivered => Status::Delivered,
            JourneyStep::ReturnToSender => Status::Returning,
            JourneyStep::Returned => Status::Returned,
        }
    }
}

/// One event of a simulated journey, with the real local offset of its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub at: DateTime<FixedOffset>,
    pub step: JourneyStep,
    pub place: Address,
}

/// A parcel as the simulated carrier knows it at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimParcel {
    pub tracking_number: String,
    pub service: String,
    pub origin: Address,
    pub destination: Address,
    /// Events visible so far, oldest first (never empty for a known parcel).
    pub events: Vec<SimEvent>,
    /// The current delivery promise (start, end) in the destination's offset.
    pub eta: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
    /// Why the ETA last moved, if it did.
    pub eta_change_reason: Option<String>,
    pub signed_by: Option<String>,
}

impl SimParcel {
    /// The latest event.
    pub fn current(&self) -> Option<&SimEvent> {
        self.events.last()
    }
}

/// What the simulator answers for one requested number.
#[derive(Debug, Clone, Copy)]
pub enum SimReply<'a> {
    Known(&'a SimParcel),
    Unknown(&'a str),
}

/// The credential a request presented, checked by the simulator (not the plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCredential {
    Bearer(String),
    Basic { user: String, password: String },
    ApiKey(String),
    None,
}

/// An incoming simulator request, classified by the carrier plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCall {
    Token {
        client_id: String,
        client_secret: String,
    },
    Track {
        numbers: Vec<String>,
        credential: SimCredential,
    },
}

/// A failure the simulator injects or enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFault {
    Unauthorized,
    RateLimited { retry_after_secs: u64 },
    ServerError,
    BadRequest { message: String },
}

/// Why a request to the simulator could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimRequestError {
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// Standard-time abbreviations North American carriers print, with their UTC
/// offsets in seconds; shared so renderers and parsers agree.
pub const ZONE_ABBREVIATIONS: &[(&str, i32)] = &[
    ("NST", -12_600),
    ("NDT", -9_000),
    ("AST", -14_400),
    ("ADT", -10_800),
    ("EST", -18_000),
    ("EDT", -14_400),
    ("CST", -21_600),
    ("CDT", -18_000),
    ("MST", -25_200),
    ("MDT", -21_600),
    ("PST", -28_800),
    ("PDT", -25_200),
    ("AKST", -32_400),
    ("AKDT", -28_800),
    ("HST", -36_000),
    ("UTC", 0),
    ("GMT", 0),
];

/// Offset of a zone abbreviation (case-insensitive), if it is one we know.
pub fn zone_offset(abbrev: &str) -> Option<i32> {
    ZONE_ABBREVIATIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(abbrev.trim()))
        .map(|(_, o)| *o)
}
