//! DPD status codes (`statusInfo/status`) mapped to the trackd taxonomy: the one
//! table every parse goes through. Unlisted codes become `Status::Unknown` with the
//! raw code and text kept.

use trackd_carrier_sdk::{JourneyStep, Status};

/// Where a code comes from, so the README and audits can tell real from simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Seen in a captured DPD Web Connect answer (karrio's DPD BE test payload).
    Captured,
    /// A milestone of DPD's Parcel Life Cycle (PLC) status bar.
    Plc,
    /// Invented for trackd's simulator because DPD documents no code for the step.
    Simulator,
}

/// `(code, status, source, English meaning)`; compared case-insensitively.
pub const CODES: &[(&str, Status, Source, &str)] = &[
    // Parcel Life Cycle milestones.
    (
        "ACCEPTED",
        Status::InTransit,
        Source::Plc,
        "parcel handed to DPD",
    ),
    (
        "AT_SENDING_DEPOT",
        Status::InTransit,
        Source::Plc,
        "at the sending depot",
    ),
    (
        "ON_THE_ROAD",
        Status::InTransit,
        Source::Plc,
        "between depots",
    ),
    (
        "AT_DELIVERY_DEPOT",
        Status::InTransit,
        Source::Plc,
        "at the delivery depot",
    ),
    ("DELIVERED", Status::Delivered, Source::Plc, "delivered"),
    // Codes in a captured Web Connect answer (DPD Belgium, 2021).
    (
        "PickedUp",
        Status::InTransit,
        Source::Captured,
        "DPD has received your parcel",
    ),
    (
        "BetweenDepots",
        Status::InTransit,
        Source::Captured,
        "the parcel is at the parcel dispatch centre",
    ),
    (
        "Depot",
        Status::InTransit,
        Source::Captured,
        "at parcel delivery centre",
    ),
    (
        "Courier",
        Status::OutForDelivery,
        Source::Captured,
        "left the parcel delivery centre, on its way to the consignee",
    ),
    (
        "DeliveryFailure",
        Status::AttemptFailed,
        Source::Captured,
        "we have not been able to deliver your parcel",
    ),
    (
        "ReturningFromDelivery",
        Status::AttemptFailed,
        Source::Captured,
        "after an unsuccessful delivery attempt the parcel is back at the depot",
    ),
    (
        "ParcelShop",
        Status::AvailableForPickup,
        Source::Captured,
        "delivered by driver to Pickup parcelshop",
    ),
    // "Delivered" (CamelCase) is matched by DELIVERED above (case-insensitive).
    // Simulator-only codes for steps DPD's public material names no code for.
    (
        "DATA_RECEIVED",
        Status::InfoReceived,
        Source::Simulator,
        "parcel data received, parcel not yet with DPD",
    ),
    (
        "PROBLEM_CUSTOMS",
        Status::Exception,
        Source::Simulator,
        "held by customs",
    ),
    (
        "PROBLEM_ADDRESS",
        Status::Exception,
        Source::Simulator,
        "address problem",
    ),
    (
        "RETURN_TO_SENDER",
        Status::Returning,
        Source::Simulator,
        "on its way back to the sender",
    ),
    (
        "RETURNED_TO_SENDER",
        Status::Returned,
        Source::Simulator,
        "returned to the sender",
    ),
];

/// The trackd status of a DPD code, `None` when the code is not in [`CODES`].
pub fn status_of(code: &str) -> Option<Status> {
    let code = code.trim();
    CODES
        .iter()
        .find(|(c, ..)| c.eq_ignore_ascii_case(code))
        .map(|(_, s, ..)| *s)
}

/// The code and label the simulator renders for a journey step.
pub fn code_for_step(step: JourneyStep) -> (&'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => ("DATA_RECEIVED", "Order information transmitted"),
        JourneyStep::PickedUp => ("PickedUp", "Parcel handed to DPD"),
        JourneyStep::ArrivedAtFacility => ("Depot", "At parcel delivery centre"),
        JourneyStep::DepartedFacility => ("ON_THE_ROAD", "On the road"),
        JourneyStep::WeatherDelay => ("BetweenDepots", "In transit"),
        JourneyStep::OperationalDelay => ("AT_SENDING_DEPOT", "At sending depot"),
        JourneyStep::CustomsHold => ("PROBLEM_CUSTOMS", "Customs clearance"),
        JourneyStep::AddressIssue => ("PROBLEM_ADDRESS", "Address problem"),
        JourneyStep::OutForDelivery => ("Courier", "Parcel out for delivery"),
        JourneyStep::AttemptFailed => ("DeliveryFailure", "Delivery attempt failed"),
        JourneyStep::AvailableForPickup => ("ParcelShop", "At Pickup parcelshop"),
        JourneyStep::Delivered => ("Delivered", "Delivered"),
        JourneyStep::ReturnToSender => ("RETURN_TO_SENDER", "Return to sender"),
        JourneyStep::Returned => ("RETURNED_TO_SENDER", "Returned to sender"),
    }
}

/// The description line the simulator renders for a journey step.
pub fn description_for_step(step: JourneyStep) -> &'static str {
    match step {
        JourneyStep::LabelCreated => "The order information has been transmitted to DPD.",
        JourneyStep::PickedUp => "DPD has received your parcel.",
        JourneyStep::ArrivedAtFacility => "At parcel delivery centre.",
        JourneyStep::DepartedFacility => "The parcel is on its way to the next depot.",
        JourneyStep::WeatherDelay => "Delayed by weather conditions.",
        JourneyStep::OperationalDelay => "Delayed: the parcel missed its connection.",
        JourneyStep::CustomsHold => "The parcel is held by customs.",
        JourneyStep::AddressIssue => "The address is incomplete or incorrect.",
        JourneyStep::OutForDelivery => {
            "The parcel has left the parcel delivery centre and is on its way to the consignee."
        }
        JourneyStep::AttemptFailed => "Unfortunately we have not been able to deliver your parcel.",
        JourneyStep::AvailableForPickup => "Delivered by driver to Pickup parcelshop",
        JourneyStep::Delivered => "The parcel has been delivered.",
        JourneyStep::ReturnToSender => "The parcel is on its way back to the sender.",
        JourneyStep::Returned => "The parcel has been returned to the sender.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_maps_back() {
        for step in JourneyStep::ALL {
            let (code, _) = code_for_step(step);
            assert_eq!(status_of(code), Some(step.status()), "{step:?}");
        }
        assert_eq!(status_of("delivered"), Some(Status::Delivered));
        assert_eq!(status_of("SHIPMENT"), None);
    }
}
