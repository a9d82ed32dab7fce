//! GLS's documented parcel `status` values and event `code`s, mapped to the
//! taxonomy; one row per value. Codes missing here parse as `Status::Unknown`.

use trackd_carrier_sdk::{JourneyStep, Status};

/// `ParcelDTO.status`: the twelve values the Track And Trace V1 spec lists.
/// `FINAL` ("Parcel history closed") says nothing about how it ended, so it is
/// absent on purpose (→ Unknown unless an event decides).
#[rustfmt::skip]
pub const STATUSES: &[(&str, Status, Option<&str>)] = &[
    ("PLANNEDPICKUP", Status::InfoReceived,       Some("info_received.pickup_planned")),
    ("INPICKUP",      Status::InfoReceived,       Some("info_received.pickup_in_progress")),
    ("NOTPICKEDUP",   Status::Exception,          Some("exception.pickup_failed")),
    ("PREADVICE",     Status::InfoReceived,       None),
    ("INTRANSIT",     Status::InTransit,          None),
    ("INDELIVERY",    Status::OutForDelivery,     None),
    ("DELIVEREDPS",   Status::AvailableForPickup, Some("available_for_pickup.parcelshop")),
    ("DELIVERED",     Status::Delivered,          None),
    ("INWAREHOUSE",   Status::InTransit,          Some("in_transit.in_warehouse")),
    ("NOTDELIVERED",  Status::AttemptFailed,      None),
    ("CANCELED",      Status::Cancelled,          None),
];

/// Event codes: `FAMILY.VARIANT`. Exact codes first; then the family (the part
/// before the dot) for variants not listed. Rows marked `sim` are the codes this
/// plugin's simulator prints, in GLS's naming scheme (no public GLS list of the
/// full event catalogue was available; see README).
#[rustfmt::skip]
pub const EVENTS: &[(&str, Status, Option<&str>)] = &[
    // Documented in the Track And Trace V1 spec examples.
    ("INTIAL.PREADVICE",  Status::InfoReceived,       None),
    ("INTIAL.E48_DATA",   Status::InfoReceived,       Some("info_received.ready_for_collection")),
    ("INTIAL.NORMAL",     Status::InTransit,          Some("in_transit.picked_up")),
    ("DELIVD.PARCELSHOP", Status::AvailableForPickup, Some("available_for_pickup.parcelshop")),
    ("CANCEL.NORMAL",     Status::Cancelled,          None),
    ("CHANGD.MONEWADDR",  Status::InTransit,          Some("in_transit.delivery_changed")),
    ("CHANGD.PARCELBOX",  Status::InTransit,          Some("in_transit.delivery_changed")),
    // sim: codes in the same scheme for the remaining journey steps.
    ("INTRAN.INBOUND",    Status::InTransit,          None),
    ("INTRAN.OUTBOUND",   Status::InTransit,          None),
    ("DELAYD.WEATHER",    Status::InTransit,          Some("in_transit.weather_delay")),
    ("DELAYD.MISROUTED",  Status::InTransit,          Some("in_transit.operational_delay")),
    ("HOLDNG.CUSTOMS",    Status::Exception,          Some("exception.customs_hold")),
    ("NOTDEL.WRONGADDR",  Status::Exception,          Some("exception.address_issue")),
    ("INDELI.NORMAL",     Status::OutForDelivery,     None),
    ("NOTDEL.NOTATHOME",  Status::AttemptFailed,      None),
    ("DELIVD.NORMAL",     Status::Delivered,          None),
    ("RETURN.NORMAL",     Status::Returning,          None),
    ("RETURN.DELIVD",     Status::Returned,           None),
];

/// Families for variants without an exact row.
#[rustfmt::skip]
pub const FAMILIES: &[(&str, Status, Option<&str>)] = &[
    ("INTIAL", Status::InfoReceived,   None),
    ("INTRAN", Status::InTransit,      None),
    ("CHANGD", Status::InTransit,      Some("in_transit.delivery_changed")),
    ("DELAYD", Status::InTransit,      Some("in_transit.delay")),
    ("INDELI", Status::OutForDelivery, None),
    ("NOTDEL", Status::AttemptFailed,  None),
    ("DELIVD", Status::Delivered,      None),
    ("CANCEL", Status::Cancelled,      None),
    ("RETURN", Status::Returning,      None),
];

/// Which rule fired, for `status_rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Code(&'static str),
    Family(&'static str),
}

/// Status, detail and rule for an event code.
pub fn lookup_event(code: &str) -> Option<(Status, Option<&'static str>, Rule)> {
    let code = code.trim();
    if let Some((c, s, d)) = EVENTS.iter().find(|(c, ..)| c.eq_ignore_ascii_case(code)) {
        return Some((*s, *d, Rule::Code(c)));
    }
    let family = code.split_once('.').map_or(code, |(f, _)| f);
    FAMILIES
        .iter()
        .find(|(f, ..)| f.eq_ignore_ascii_case(family))
        .map(|(f, s, d)| (*s, *d, Rule::Family(f)))
}

/// Status and detail for a parcel `status` value.
pub fn lookup_status(value: &str) -> Option<(&'static str, Status, Option<&'static str>)> {
    STATUSES
        .iter()
        .find(|(v, ..)| v.eq_ignore_ascii_case(value.trim()))
        .copied()
}

/// What the simulator prints for a step: event code, English description, and
/// the parcel `status` that goes with it.
pub fn step_event(step: JourneyStep) -> (&'static str, &'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => (
            "INTIAL.PREADVICE",
            "The parcel data was entered into the GLS IT system; the parcel was not yet handed over to GLS.",
            "PREADVICE",
        ),
        JourneyStep::PickedUp => (
            "INTIAL.NORMAL",
            "The parcel was handed over to GLS.",
            "INTRANSIT",
        ),
        JourneyStep::ArrivedAtFacility => (
            "INTRAN.INBOUND",
            "The parcel has reached the parcel center.",
            "INTRANSIT",
        ),
        JourneyStep::DepartedFacility => (
            "INTRAN.OUTBOUND",
            "The parcel has left the parcel center.",
            "INTRANSIT",
        ),
        JourneyStep::WeatherDelay => (
            "DELAYD.WEATHER",
            "The parcel is delayed due to weather conditions.",
            "INTRANSIT",
        ),
        JourneyStep::OperationalDelay => (
            "DELAYD.MISROUTED",
            "The parcel is delayed due to a missed connection.",
            "INTRANSIT",
        ),
        JourneyStep::CustomsHold => (
            "HOLDNG.CUSTOMS",
            "The parcel is being held by customs.",
            "INWAREHOUSE",
        ),
        JourneyStep::AddressIssue => (
            "NOTDEL.WRONGADDR",
            "The parcel could not be delivered as the address is incorrect.",
            "NOTDELIVERED",
        ),
        JourneyStep::OutForDelivery => (
            "INDELI.NORMAL",
            "The parcel is expected to be delivered during the day.",
            "INDELIVERY",
        ),
        JourneyStep::AttemptFailed => (
            "NOTDEL.NOTATHOME",
            "The parcel could not be delivered as the consignee was absent.",
            "NOTDELIVERED",
        ),
        JourneyStep::AvailableForPickup => (
            "DELIVD.PARCELSHOP",
            "The parcel has been delivered at the ParcelShop (see ParcelShop information).",
            "DELIVEREDPS",
        ),
        JourneyStep::Delivered => (
            "DELIVD.NORMAL",
            "The parcel has been delivered.",
            "DELIVERED",
        ),
        JourneyStep::ReturnToSender => (
            "RETURN.NORMAL",
            "The parcel is on its way back to the sender.",
            "INTRANSIT",
        ),
        JourneyStep::Returned => (
            "RETURN.DELIVD",
            "The parcel has been returned to the sender.",
            "FINAL",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_rows_and_steps_map_back() {
        for (i, (c, ..)) in EVENTS.iter().enumerate() {
            assert!(EVENTS[i + 1..].iter().all(|(o, ..)| o != c), "{c} twice");
        }
        for (i, (c, ..)) in STATUSES.iter().enumerate() {
            assert!(STATUSES[i + 1..].iter().all(|(o, ..)| o != c), "{c} twice");
        }
        for step in JourneyStep::ALL {
            let (code, ..) = step_event(step);
            assert_eq!(
                lookup_event(code).map(|r| r.0),
                Some(step.status()),
                "{step:?}"
            );
        }
        assert_eq!(
            lookup_event("DELIVD.NEIGHBOUR").map(|r| (r.0, r.2)),
            Some((Status::Delivered, Rule::Family("DELIVD")))
        );
        assert_eq!(lookup_event("ZZZZZZ.X"), None);
        assert_eq!(lookup_status("FINAL"), None);
    }
}
