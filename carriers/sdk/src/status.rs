//! The one status taxonomy every carrier code maps into.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Normalized parcel status, so consumers never need to know a carrier's own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Registered, no carrier data yet.
    Pending,
    /// Label created; the carrier has the data but not the parcel.
    InfoReceived,
    InTransit,
    OutForDelivery,
    AvailableForPickup,
    AttemptFailed,
    Delivered,
    /// Held, damaged, lost, customs or address problem.
    Exception,
    Returning,
    Returned,
    Cancelled,
    /// We stopped tracking.
    Expired,
    /// The carrier does not know the number.
    Invalid,
    /// A carrier code with no mapping (logged and counted, never dropped).
    Unknown,
}

impl Status {
    /// Every status, for metrics and exhaustive tests.
    pub const ALL: [Status; 14] = [
        Status::Pending,
        Status::InfoReceived,
        Status::InTransit,
        Status::OutForDelivery,
        Status::AvailableForPickup,
        Status::AttemptFailed,
        Status::Delivered,
        Status::Exception,
        Status::Returning,
        Status::Returned,
        Status::Cancelled,
        Status::Expired,
        Status::Invalid,
        Status::Unknown,
    ];

    /// Stable wire name, used in JSON, metrics labels and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InfoReceived => "info_received",
            Status::InTransit => "in_transit",
            Status::OutForDelivery => "out_for_delivery",
            Status::AvailableForPickup => "available_for_pickup",
            Status::AttemptFailed => "attempt_failed",
            Status::Delivered => "delivered",
            Status::Exception => "exception",
            Status::Returning => "returning",
            Status::Returned => "returned",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Invalid => "invalid",
            Status::Unknown => "unknown",
        }
    }

    /// Parses a wire name back (store and API filters).
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Terminal statuses end polling: nothing more will happen to the parcel.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Delivered | Status::Returned | Status::Cancelled
        )
    }

    /// Progress rank used to detect regressions; `None` for statuses outside the
    /// journey order (unknown, invalid, expired), which never count as regressions.
    pub fn rank(self) -> Option<u8> {
        match self {
            Status::Pending => Some(0),
            Status::InfoReceived => Some(1),
            Status::InTransit
            | Status::OutForDelivery
            | Status::AvailableForPickup
            | Status::AttemptFailed
            | Status::Exception => Some(2),
            Status::Returning => Some(3),
            Status::Delivered | Status::Returned | Status::Cancelled => Some(4),
            Status::Expired | Status::Invalid | Status::Unknown => None,
        }
    }

    /// True when moving from `self` to `next` goes backwards in the journey.
    pub fn is_regression_to(self, next: Status) -> bool {
        match (self.rank(), next.rank()) {
            (Some(a), Some(b)) => b < a,
            _ => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }

    #[test]
    fn delivered_back_to_transit_is_a_regression() {
        assert!(Status::Delivered.is_regression_to(Status::InTransit));
        assert!(!Status::Exception.is_regression_to(Status::InTransit));
        assert!(!Status::InTransit.is_regression_to(Status::Unknown));
    }
}
