//! FedEx status and scan codes → trackd's taxonomy, in one table, plus the few
//! documented refinements (delivery-exception reasons, delay details) and the
//! wire codes the simulator renders for each journey step.

use crate::wire::DelayDetail;
use std::borrow::Cow;
use trackd_carrier_sdk::{JourneyStep, Status};

/// Every FedEx status / scan code (`latestStatusDetail.code`/`derivedCode`,
/// `scanEvents[].eventType`/`derivedStatusCode`, one code space): the status it
/// maps to and the finer detail. One row per code. Codes missing here parse as
/// `Status::Unknown` with their raw code and text.
#[rustfmt::skip]
pub const CODES: &[(&str, Status, Option<&str>, &str)] = &[
    // code, status, detail, FedEx meaning
    ("AA", Status::InTransit,          Some("in_transit.at_airport"),                   "At airport"),
    ("AC", Status::InTransit,          Some("in_transit.at_canada_post"),               "At Canada Post facility"),
    ("AD", Status::OutForDelivery,     Some("out_for_delivery.at_delivery"),            "At delivery"),
    ("AF", Status::InTransit,          None,                                            "At local FedEx facility"),
    ("AO", Status::InTransit,          Some("in_transit.arriving_on_time"),             "Shipment arriving on-time"),
    ("AP", Status::InfoReceived,       Some("info_received.at_pickup"),                 "At pickup"),
    ("AR", Status::InTransit,          None,                                            "Arrived at"),
    ("AX", Status::InTransit,          Some("in_transit.at_usps"),                      "At USPS facility"),
    ("CA", Status::Cancelled,          None,                                            "Shipment cancelled"),
    ("CC", Status::InTransit,          Some("in_transit.customs_cleared"),              "Cleared customs"),
    ("CD", Status::Exception,          Some("exception.customs_hold"),                  "Clearance delay"),
    ("CH", Status::InTransit,          Some("in_transit.location_changed"),             "Location changed"),
    ("CP", Status::InTransit,          Some("in_transit.customs_clearance"),            "Clearance in progress"),
    ("DD", Status::InTransit,          Some("in_transit.delivery_delay"),               "Delivery delay"),
    ("DE", Status::Exception,          Some("exception.delivery_exception"),            "Delivery exception"),
    ("DL", Status::Delivered,          None,                                            "Delivered"),
    ("DP", Status::InTransit,          None,                                            "Departed"),
    ("DR", Status::Exception,          Some("exception.vehicle_not_used"),              "Vehicle furnished but not used"),
    ("DS", Status::InfoReceived,       Some("info_received.vehicle_dispatched"),        "Vehicle dispatched"),
    ("DY", Status::InTransit,          Some("in_transit.delay"),                        "Delay"),
    ("EA", Status::InTransit,          None,                                            "Enroute to airport / export approved"),
    ("ED", Status::OutForDelivery,     Some("out_for_delivery.enroute_to_delivery"),    "Enroute to delivery"),
    ("EO", Status::InTransit,          None,                                            "Enroute to origin airport"),
    ("EP", Status::InfoReceived,       Some("info_received.enroute_to_pickup"),         "Enroute to pickup"),
    ("FD", Status::InTransit,          Some("in_transit.at_destination_facility"),      "At FedEx destination"),
    ("HL", Status::AvailableForPickup, Some("available_for_pickup.hold_at_location"),   "Hold at location"),
    ("HP", Status::AvailableForPickup, Some("available_for_pickup.ready_for_pickup"),   "Ready for recipient pickup"),
    ("IN", Status::InfoReceived,       None,                                            "Initiated (derived code)"),
    ("IT", Status::InTransit,          None,                                            "In transit"),
    ("IX", Status::InTransit,          None,                                            "In transit (see details)"),
    ("LO", Status::InTransit,          None,                                            "Left origin"),
    ("LP", Status::Cancelled,          Some("cancelled.return_label"),                  "Return label link cancelled by shipment originator"),
    ("OC", Status::InfoReceived,       None,                                            "Order created / shipment information sent to FedEx"),
    ("OD", Status::OutForDelivery,     None,                                            "Out for delivery"),
    ("OF", Status::InTransit,          None,                                            "At FedEx origin facility"),
    ("OX", Status::InTransit,          Some("in_transit.handed_to_usps"),               "Shipment information sent to USPS"),
    ("PD", Status::InfoReceived,       Some("info_received.pickup_delay"),              "Pickup delay"),
    ("PF", Status::InTransit,          None,                                            "Plane in flight"),
    ("PL", Status::InTransit,          None,                                            "Plane landed"),
    ("PM", Status::InTransit,          None,                                            "In progress"),
    ("PU", Status::InTransit,          Some("in_transit.picked_up"),                    "Picked up"),
    ("PX", Status::InTransit,          Some("in_transit.picked_up"),                    "Picked up (see details)"),
    ("RC", Status::InTransit,          Some("in_transit.delivery_change"),              "CDO cancelled"),
    ("RD", Status::Cancelled,          Some("cancelled.return_label_expired"),          "Return label link expired"),
    ("RG", Status::InfoReceived,       Some("info_received.return_label"),              "Return label link expiring soon"),
    ("RM", Status::InTransit,          Some("in_transit.delivery_change"),              "CDO modified"),
    ("RP", Status::InfoReceived,       Some("info_received.return_label"),              "Return label link emailed to return sender"),
    ("RR", Status::InTransit,          Some("in_transit.delivery_change"),              "CDO requested"),
    ("RS", Status::Returning,          None,                                            "Return to shipper"),
    ("SE", Status::Exception,          None,                                            "Shipment exception"),
    ("SF", Status::InTransit,          None,                                            "At sort facility"),
    ("SP", Status::InTransit,          Some("in_transit.split_shipment"),               "Split status"),
    ("TR", Status::InTransit,          None,                                            "Transfer"),
];

/// Delivery-exception (`DE`) reasons that change the status or detail:
/// `exceptionCode` on a scan, `ancillaryDetails[].reason` on the latest status.
#[rustfmt::skip]
pub const DE_REASONS: &[(&str, Status, &str, &str)] = &[
    ("03", Status::Exception,     "exception.address_issue",                 "Incorrect address"),
    ("07", Status::Exception,     "exception.refused",                       "Refused by recipient"),
    ("08", Status::AttemptFailed, "attempt_failed.recipient_unavailable",    "Recipient not in / business closed"),
    ("15", Status::AttemptFailed, "attempt_failed.recipient_unavailable",    "Customer not available or business closed"),
];

/// The result of mapping one FedEx status or scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub status: Status,
    pub detail: Option<String>,
    /// Which rule fired (`fedex:code=PU`, `fedex:unmapped=ZZ`...), for audits.
    pub rule: String,
}

/// The row of `code`. `CODES` is sorted (asserted by a test), so a binary
/// search finds the same row as a scan in about 6 comparisons instead of ~25;
/// the bytes are compared inline (same order as `str`'s), as a `memcmp` call
/// per two-letter code costs more than the comparison.
fn table(code: &str) -> Option<(Status, Option<&'static str>)> {
    CODES
        .binary_search_by(|(c, ..)| c.bytes().cmp(code.bytes()))
        .ok()
        .map(|i| (CODES[i].1, CODES[i].2))
}

fn norm(s: Option<&str>) -> &str {
    s.map(str::trim).unwrap_or("")
}

/// `s` in ASCII upper case, copied only when it has a lower-case letter
/// (FedEx codes are upper case already).
fn upper(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Which rule of [`classify`] fired, borrowing its codes: the parser formats
/// it into [`Mapped::rule`] only for the status it keeps, not for every scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule<'a> {
    /// `DL` with derived code `RS`.
    DeliveredToShipper,
    /// `DE` with a known reason.
    DeReason(&'a str),
    /// The code's row.
    Code(Cow<'a, str>),
    /// The derived code's row.
    Derived(Cow<'a, str>),
    /// Neither code has a row.
    Unmapped(Cow<'a, str>, Cow<'a, str>),
}

impl std::fmt::Display for Rule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::DeliveredToShipper => f.write_str("fedex:code=DL+derived=RS"),
            Rule::DeReason(reason) => write!(f, "fedex:code=DE+reason={reason}"),
            Rule::Code(code) => write!(f, "fedex:code={code}"),
            Rule::Derived(derived) => write!(f, "fedex:derived={derived}"),
            Rule::Unmapped(code, derived) => write!(f, "fedex:unmapped={code}/{derived}"),
        }
    }
}

/// [`classify`] without allocating: status, static detail and the rule.
pub(crate) fn classify_lazy<'a>(
    code: Option<&'a str>,
    derived: Option<&'a str>,
    reason: Option<&'a str>,
    delay: Option<&DelayDetail<'_>>,
) -> (Status, Option<&'static str>, Rule<'a>) {
    let code = upper(norm(code));
    let derived = upper(norm(derived));
    let reason = norm(reason);
    let (status, mut detail, rule) = if code == "DL" && derived == "RS" {
        (
            Status::Returned,
            Some("returned.delivered_to_shipper"),
            Rule::DeliveredToShipper,
        )
    } else if let Some((_, status, detail, _)) = DE_REASONS
        .iter()
        .find(|(r, ..)| code == "DE" && !reason.is_empty() && *r == reason)
    {
        (*status, Some(*detail), Rule::DeReason(reason))
    } else if let Some((status, detail)) = table(&code) {
        (status, detail, Rule::Code(code))
    } else if let Some((status, detail)) = table(&derived) {
        (status, detail, Rule::Derived(derived))
    } else {
        (Status::Unknown, None, Rule::Unmapped(code, derived))
    };
    if status == Status::InTransit
        && let Some(d) = delay.and_then(delay_detail)
    {
        detail = Some(d);
    }
    (status, detail, rule)
}

/// Maps a status (`code`, `derived`, exception reason, delay detail):
/// 1. `DL` whose derived code is `RS` → returned (delivered back to the shipper);
/// 2. `DE` with a known reason → that reason's status;
/// 3. the code, else the derived code, from [`CODES`];
/// 4. otherwise `unknown`.
///
/// A mapped `in_transit` status with `delayDetail.status = DELAYED` takes the
/// delay type as its detail (delay is not a status, design §2).
pub fn classify(
    code: Option<&str>,
    derived: Option<&str>,
    reason: Option<&str>,
    delay: Option<&DelayDetail<'_>>,
) -> Mapped {
    let (status, detail, rule) = classify_lazy(code, derived, reason, delay);
    Mapped {
        status,
        detail: detail.map(str::to_string),
        rule: rule.to_string(),
    }
}

/// The detail for a `DELAYED` delay, by type.
fn delay_detail(d: &DelayDetail<'_>) -> Option<&'static str> {
    if !norm(d.status.as_deref()).eq_ignore_ascii_case("DELAYED") {
        return None;
    }
    // Case-insensitive comparisons, without an upper-cased copy.
    let kind = norm(d.kind.as_deref());
    let is = |k: &str| kind.eq_ignore_ascii_case(k);
    Some(if is("WEATHER") {
        "in_transit.weather_delay"
    } else if is("OPERATIONAL") || is("LOCAL") || is("GENERAL") {
        "in_transit.operational_delay"
    } else if is("CLEARANCE") {
        "in_transit.clearance_delay"
    } else {
        "in_transit.delay"
    })
}

/// How the simulator renders a journey step on the FedEx wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepWire {
    pub event_type: &'static str,
    pub derived_code: &'static str,
    pub event_description: &'static str,
    pub derived_status: &'static str,
    /// `(exceptionCode, exceptionDescription)` for exceptions.
    pub exception: Option<(&'static str, &'static str)>,
    /// `delayDetail.type` (status `DELAYED`) for delays.
    pub delay: Option<&'static str>,
}

/// The FedEx codes rendered for each journey step (asserted to map back).
pub fn step_wire(step: JourneyStep) -> StepWire {
    let w = |event_type, derived_code, event_description, derived_status| StepWire {
        event_type,
        derived_code,
        event_description,
        derived_status,
        exception: None,
        delay: None,
    };
    match step {
        JourneyStep::LabelCreated => w(
            "OC",
            "IN",
            "Shipment information sent to FedEx",
            "Initiated",
        ),
        JourneyStep::PickedUp => w("PU", "PU", "Picked up", "Picked up"),
        JourneyStep::ArrivedAtFacility => w("AR", "IT", "Arrived at FedEx location", "In transit"),
        JourneyStep::DepartedFacility => w("DP", "IT", "Departed FedEx location", "In transit"),
        JourneyStep::WeatherDelay => StepWire {
            exception: Some(("", "Weather delay")),
            delay: Some("WEATHER"),
            ..w("DY", "IT", "Delay", "In transit")
        },
        JourneyStep::OperationalDelay => StepWire {
            exception: Some(("", "Operational delay")),
            delay: Some("OPERATIONAL"),
            ..w("DY", "IT", "Delay", "In transit")
        },
        JourneyStep::CustomsHold => StepWire {
            exception: Some(("", "Clearance delay - import")),
            ..w("CD", "CD", "Clearance delay", "Clearance delay")
        },
        JourneyStep::AddressIssue => StepWire {
            exception: Some(("03", "Incorrect address")),
            ..w("DE", "DE", "Delivery exception", "Delivery exception")
        },
        JourneyStep::OutForDelivery => w(
            "OD",
            "OD",
            "On FedEx vehicle for delivery",
            "Out for delivery",
        ),
        JourneyStep::AttemptFailed => StepWire {
            exception: Some(("15", "Customer not available or business closed")),
            ..w("DE", "DE", "Delivery exception", "Delivery exception")
        },
        JourneyStep::AvailableForPickup => {
            w("HP", "HP", "Ready for recipient pickup", "Ready for pickup")
        }
        JourneyStep::Delivered => w("DL", "DL", "Delivered", "Delivered"),
        JourneyStep::ReturnToSender => w(
            "RS",
            "RS",
            "Returning package to shipper",
            "Return to shipper",
        ),
        JourneyStep::Returned => w("DL", "RS", "Delivered", "Returned to shipper"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted() {
        // `table` binary-searches the codes.
        for pair in CODES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn codes_are_unique() {
        for (i, (code, ..)) in CODES.iter().enumerate() {
            assert!(
                CODES[i + 1..].iter().all(|(c, ..)| c != code),
                "{code} listed twice"
            );
        }
    }

    #[test]
    fn every_step_maps_back() {
        for step in JourneyStep::ALL {
            let w = step_wire(step);
            let delay = w.delay.map(|k| DelayDetail {
                kind: Some(k.into()),
                sub_type: None,
                status: Some("DELAYED".into()),
            });
            let m = classify(
                Some(w.event_type),
                Some(w.derived_code),
                w.exception.map(|e| e.0),
                delay.as_ref(),
            );
            assert_eq!(m.status, step.status(), "{step:?}: {}", m.rule);
        }
    }

    #[test]
    fn rules() {
        let m = classify(Some("ZZ"), Some("IT"), None, None);
        assert_eq!(
            (m.status, m.rule.as_str()),
            (Status::InTransit, "fedex:derived=IT")
        );
        let m = classify(Some("ZZ"), Some("QQ"), None, None);
        assert_eq!(
            (m.status, m.rule.as_str()),
            (Status::Unknown, "fedex:unmapped=ZZ/QQ")
        );
        let m = classify(Some("DE"), None, Some("99"), None);
        assert_eq!(m.status, Status::Exception);
        let m = classify(Some("de"), None, Some("08"), None);
        assert_eq!(m.status, Status::AttemptFailed);
        let weather = DelayDetail {
            kind: Some("WEATHER".into()),
            sub_type: Some("SNOW".into()),
            status: Some("DELAYED".into()),
        };
        let m = classify(Some("PU"), Some("PU"), None, Some(&weather));
        assert_eq!(m.detail.as_deref(), Some("in_transit.weather_delay"));
        // A delay never turns a delivery into a delayed transit.
        let m = classify(Some("DL"), Some("DL"), None, Some(&weather));
        assert_eq!((m.status, m.detail), (Status::Delivered, None));
    }
}
