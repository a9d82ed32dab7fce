//! The carrier plugin SDK: the normalized model every carrier maps into, the pure
//! `Carrier` trait (build requests, parse responses, render the simulator's wire
//! format), typed errors, and a conformance test kit.
//!
//! Plugins never perform I/O, sleep or read the clock: the daemon owns all of that,
//! so a plugin can be tested byte-for-byte against saved carrier payloads.

pub mod carrier;
pub mod checksum;
pub mod error;
pub mod http;
pub mod json;
pub mod model;
pub mod shipment;
pub mod sim;
pub mod status;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
pub mod xml;

pub use carrier::{
    AccessToken, AuthKind, Carrier, CarrierDescriptor, Credentials, Detection, NumberResult, Quota,
};
pub use error::CarrierError;
pub use http::{HttpRequest, HttpResponse, Method, RetryAfter};
pub use model::{Address, Checkpoint, Eta, Snapshot};
pub use shipment::{Shipment, ShipmentRef};
pub use sim::{JourneyStep, SimEvent, SimParcel, SimReply, SimRequestError};
pub use status::Status;
pub use time::Timestamp;
