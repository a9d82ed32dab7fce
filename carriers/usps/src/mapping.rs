//! USPS event codes and status categories mapped into trackd's taxonomy, in one
//! table each, so every rule is auditable next to its source.

use trackd_carrier_sdk::{JourneyStep, Status};

/// One USPS scan event code (Pub 199 Appendix G-4 / USPS PTR extract): the
/// status it maps to, the finer detail, and USPS's own wording of the event.
pub struct CodeRule {
    pub code: &'static str,
    pub status: Status,
    pub detail: Option<&'static str>,
    pub label: &'static str,
}

const fn rule(
    code: &'static str,
    status: Status,
    detail: Option<&'static str>,
    label: &'static str,
) -> CodeRule {
    CodeRule {
        code,
        status,
        detail,
        label,
    }
}

use Status::{
    AttemptFailed, AvailableForPickup, Delivered, Exception, InTransit, InfoReceived,
    OutForDelivery, Returning,
};

/// Every USPS event code trackd knows, one row per code (see README for the
/// source of each row). Codes missing here parse as `Status::Unknown`, kept
/// with their raw code and text.
#[rustfmt::skip]
pub const CODES: &[CodeRule] = &[
    // pre-shipment: USPS has the label data, not the item
    rule("MA", InfoReceived, None, "Pre-Shipment Info Sent to USPS, USPS Awaiting Item"),
    rule("GX", InfoReceived, None, "Shipping Label Created, USPS Awaiting Item"),
    // acceptance
    rule("03", InTransit, Some("in_transit.picked_up"), "USPS in possession of item"),
    rule("TM", InTransit, Some("in_transit.picked_up"), "Shipment Acceptance"),
    rule("PA", InTransit, Some("in_transit.picked_up"), "Shipment Acceptance"),
    // shipping partner legs ("..., USPS Awaiting Item")
    rule("80", InTransit, Some("in_transit.shipping_partner"), "Picked Up by Shipping Partner, USPS Awaiting Item"),
    rule("81", InTransit, Some("in_transit.shipping_partner"), "Arrived Shipping Partner Facility, USPS Awaiting Item"),
    rule("82", InTransit, Some("in_transit.shipping_partner"), "Departed Shipping Partner Facility, USPS Awaiting Item"),
    rule("42", InTransit, Some("in_transit.shipping_partner"), "USPS Handoff to Shipping Partner"),
    // network
    rule("10", InTransit, None, "Arrived at USPS Regional Origin Facility"),
    rule("A1", InTransit, None, "Arrived at USPS Regional Facility"),
    rule("AD", InTransit, None, "Accepted at USPS Regional Destination Facility"),
    rule("T1", InTransit, None, "Departed USPS Regional Facility"),
    rule("TL", InTransit, None, "In Transit to Next Facility"),
    rule("SF", InTransit, None, "Departed Post Office"),
    rule("EF", InTransit, None, "Departed Sort Facility"),
    rule("19", InTransit, None, "DC eVS Arrive"),
    rule("41", InTransit, None, "Received at Opening Unit"),
    rule("07", InTransit, None, "Arrived at Post Office"),
    rule("PC", InTransit, None, "Sorting Complete"),
    rule("06", InTransit, Some("in_transit.forwarded"), "Forwarded"),
    rule("08", InTransit, Some("in_transit.operational_delay"), "Missent"),
    rule("15", InTransit, Some("in_transit.operational_delay"), "Mis-shipped"),
    rule("71", InTransit, Some("in_transit.rescheduled"), "Rescheduled to Next Delivery Day"),
    rule("DX", InTransit, Some("in_transit.awaiting_delivery_scan"), "Delivery Status Not Updated"),
    // last mile
    rule("OF", OutForDelivery, None, "Out for Delivery"),
    rule("01", Delivered, None, "Delivered"),
    rule("17", Delivered, Some("delivered.agent"), "Picked Up By Agent"),
    rule("43", Delivered, Some("delivered.picked_up_at_post_office"), "Picked Up"),
    rule("02", AttemptFailed, None, "Notice Left"),
    rule("51", AttemptFailed, Some("attempt_failed.business_closed"), "Business Closed"),
    rule("52", AttemptFailed, None, "Notice Left"),
    rule("53", AttemptFailed, Some("attempt_failed.receptacle_blocked"), "Receptacle Blocked"),
    rule("54", AttemptFailed, Some("attempt_failed.receptacle_full"), "Receptacle Full / Item Oversized"),
    rule("55", AttemptFailed, Some("attempt_failed.no_secure_location"), "No Secure Location Available"),
    rule("56", AttemptFailed, Some("attempt_failed.no_authorized_recipient"), "No Authorized Recipient Available"),
    rule("30", AttemptFailed, Some("attempt_failed.no_access"), "Delivery Attempted - No Access to Delivery Location"),
    rule("14", AvailableForPickup, None, "Arrival at Pickup Point"),
    rule("16", AvailableForPickup, None, "Available for Pickup"),
    // problems
    rule("04", Exception, Some("exception.refused"), "Refused"),
    rule("05", Exception, Some("exception.address_issue"), "Undeliverable as Addressed"),
    rule("11", Exception, Some("exception.dead_letter"), "Dead Letter"),
    // return to sender and its reasons
    rule("09", Returning, None, "Return to Sender"),
    rule("21", Returning, Some("returning.no_such_number"), "No Such Number"),
    rule("22", Returning, Some("returning.insufficient_address"), "Insufficient Address"),
    rule("23", Returning, Some("returning.moved_left_no_address"), "Moved, Left No Address"),
    rule("24", Returning, Some("returning.forward_expired"), "Forward Expired"),
    rule("25", Returning, Some("returning.addressee_unknown"), "Addressee Unknown"),
    rule("26", Returning, Some("returning.vacant"), "Vacant"),
    rule("27", Returning, Some("returning.unclaimed"), "Unclaimed"),
    rule("28", Returning, Some("returning.deceased"), "Deceased"),
    rule("29", Returning, None, "Return to Sender - Other"),
    rule("31", Returning, Some("returning.not_picked_up"), "Not Picked Up"),
    rule("44", Returning, Some("returning.customer_recall"), "Customer Recall"),
];

/// USPS.com status categories (`statusCategory`), used only when the parcel has
/// no event to map; compared case-insensitively.
#[rustfmt::skip]
pub const CATEGORIES: &[(&str, Status)] = &[
    ("Pre-Shipment", InfoReceived),
    ("Label Created", InfoReceived),
    ("USPS Awaiting Item", InfoReceived),
    ("Accepted", InTransit),
    ("In Transit", InTransit),
    ("Moving Through Network", InTransit),
    ("Out for Delivery", OutForDelivery),
    ("Delivered", Delivered),
    ("Delivery Attempt", AttemptFailed),
    ("Delivery Attempt: Action Needed", AttemptFailed),
    ("Available for Pickup", AvailableForPickup),
    ("Alert", Exception),
    ("Return to Sender", Returning),
];

/// The mapped status of one event, with the finer detail and audit rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub status: Status,
    pub detail: Option<&'static str>,
    pub rule: String,
}

/// Which rule of [`map_event`] decided, so the audit string is only built
/// for the events that keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRule {
    ToSender,
    Code,
    CustomsHold,
    Unmapped,
}

/// `needle` (lowercase ASCII) in `hay`, ignoring ASCII case: what
/// `hay.to_ascii_lowercase().contains(needle)` says, without the copy.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    h.windows(n.len())
        .any(|w| w[0].to_ascii_lowercase() == first && w[1..].eq_ignore_ascii_case(rest))
}

/// A two-character code as one number, upper-cased: equal keys are what
/// `eq_ignore_ascii_case` says of the two codes.
const fn code_key(first: u8, second: u8) -> u16 {
    ((first.to_ascii_uppercase() as u16) << 8) | second.to_ascii_uppercase() as u16
}

/// The keys of [`CODES`], in table order (every code has two ASCII characters,
/// checked at compile time).
const CODE_KEYS: [u16; CODES.len()] = {
    let mut keys = [0; CODES.len()];
    let mut i = 0;
    while i < CODES.len() {
        let b = CODES[i].code.as_bytes();
        assert!(b.len() == 2, "USPS event codes have two characters");
        keys[i] = code_key(b[0], b[1]);
        i += 1;
    }
    keys
};

/// The [`CODES`] row of `code`, any ASCII case: what
/// `CODES.iter().find(|r| r.code.eq_ignore_ascii_case(code))` finds, by a scan
/// of small integers instead of string comparisons (it runs for every event).
fn code_rule(code: &str) -> Option<&'static CodeRule> {
    let &[first, second] = code.as_bytes() else {
        return None;
    };
    let key = code_key(first, second);
    CODE_KEYS.iter().position(|&k| k == key).map(|i| &CODES[i])
}

/// The status and detail [`map_event`] gives, and which rule gave them.
pub fn classify_event(code: &str, event_type: &str) -> (Status, Option<&'static str>, EventRule) {
    let has = |phrase: &str| contains_ci(event_type, phrase);
    let base = code_rule(code);
    // A delivery back to the sender ends a return, it is not the recipient's.
    if base.is_some_and(|r| r.status == Delivered) && (has("original sender") || has("to sender")) {
        return (Status::Returned, None, EventRule::ToSender);
    }
    if let Some(r) = base {
        // Delay reasons USPS gives only in words, on in-transit scans.
        let detail = if r.status == InTransit && has("weather") {
            Some("in_transit.weather_delay")
        } else {
            r.detail
        };
        return (r.status, detail, EventRule::Code);
    }
    // International (Pub 199 G-5) and newer codes not in the table: only
    // unambiguous wording is trusted.
    if has("customs") && (has("held") || has("hold")) {
        return (
            Exception,
            Some("exception.customs_hold"),
            EventRule::CustomsHold,
        );
    }
    (Status::Unknown, None, EventRule::Unmapped)
}

/// Maps an event code plus its English `eventType` (for the refinements USPS
/// expresses only in text). Unknown codes without a text rule are `Unknown`.
pub fn map_event(code: &str, event_type: &str) -> Mapped {
    let (status, detail, rule) = classify_event(code, event_type);
    let rule = match rule {
        EventRule::ToSender => format!("usps:code={code};text=to_sender"),
        EventRule::Code => format!("usps:code={code}"),
        EventRule::CustomsHold => format!("usps:text=customs_hold;code={code}"),
        EventRule::Unmapped => format!("usps:unmapped;code={code}"),
    };
    Mapped {
        status,
        detail,
        rule,
    }
}

/// Maps a `statusCategory` (parcels without events).
pub fn map_category(category: &str) -> Option<Mapped> {
    let c = category.trim();
    CATEGORIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(c))
        .map(|(_, status)| Mapped {
            status: *status,
            detail: None,
            rule: format!("usps:statusCategory={c}"),
        })
}

/// The event code, `eventType` and `statusCategory` the simulator renders for
/// a journey step. Two wordings are simulator choices (see README): weather
/// delay on a `TL` scan, and a customs hold under the placeholder code `CH`.
pub fn step_event(step: JourneyStep) -> (&'static str, &'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => (
            "GX",
            "Shipping Label Created, USPS Awaiting Item",
            "Pre-Shipment",
        ),
        JourneyStep::PickedUp => ("03", "USPS in possession of item", "Accepted"),
        JourneyStep::ArrivedAtFacility => (
            "A1",
            "Arrived at USPS Regional Facility",
            "Moving Through Network",
        ),
        JourneyStep::DepartedFacility => (
            "T1",
            "Departed USPS Regional Facility",
            "Moving Through Network",
        ),
        JourneyStep::WeatherDelay => (
            "TL",
            "In Transit to Next Facility, Delayed Due to Weather",
            "Moving Through Network",
        ),
        JourneyStep::OperationalDelay => ("08", "Missent", "Moving Through Network"),
        JourneyStep::CustomsHold => ("CH", "Held in Customs", "Alert"),
        JourneyStep::AddressIssue => ("05", "Undeliverable as Addressed", "Alert"),
        JourneyStep::OutForDelivery => ("OF", "Out for Delivery", "Out for Delivery"),
        JourneyStep::AttemptFailed => (
            "02",
            "Notice Left (No Authorized Recipient Available)",
            "Delivery Attempt",
        ),
        JourneyStep::AvailableForPickup => ("16", "Available for Pickup", "Available for Pickup"),
        JourneyStep::Delivered => ("01", "Delivered, Left with Individual", "Delivered"),
        JourneyStep::ReturnToSender => ("09", "Return to Sender", "Alert"),
        JourneyStep::Returned => ("01", "Delivered, To Original Sender", "Delivered"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition before the allocation-free text checks.
    fn lowercase_map_event(code: &str, event_type: &str) -> Mapped {
        let text = event_type.to_ascii_lowercase();
        let base = CODES.iter().find(|r| r.code.eq_ignore_ascii_case(code));
        if base.is_some_and(|r| r.status == Delivered)
            && (text.contains("original sender") || text.contains("to sender"))
        {
            return Mapped {
                status: Status::Returned,
                detail: None,
                rule: format!("usps:code={code};text=to_sender"),
            };
        }
        if let Some(r) = base {
            let detail = if r.status == InTransit && text.contains("weather") {
                Some("in_transit.weather_delay")
            } else {
                r.detail
            };
            return Mapped {
                status: r.status,
                detail,
                rule: format!("usps:code={code}"),
            };
        }
        if text.contains("customs") && (text.contains("held") || text.contains("hold")) {
            return Mapped {
                status: Exception,
                detail: Some("exception.customs_hold"),
                rule: format!("usps:text=customs_hold;code={code}"),
            };
        }
        Mapped {
            status: Status::Unknown,
            detail: None,
            rule: format!("usps:unmapped;code={code}"),
        }
    }

    fn code() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(CODES.iter().map(|r| r.code).collect::<Vec<_>>())
                .prop_map(str::to_string),
            "[0-9A-Za-z]{0,3}",
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        let words = prop::sample::select(vec![
            "Delivered",
            "to ORIGINAL Sender",
            "To sender",
            "WEATHER",
            "Held",
            "hold",
            "in Customs",
            "CUSTOMS",
            "é",
            "İ",
            "Weath",
            "er",
            " ",
            ",",
        ]);
        prop_oneof![
            prop::collection::vec(words, 0..6).prop_map(|w| w.concat()),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn map_event_agrees_with_lowercase_copy(c in code(), t in text()) {
            prop_assert_eq!(map_event(&c, &t), lowercase_map_event(&c, &t));
        }

        #[test]
        fn contains_ci_agrees_with_lowercase_copy(h in "[a-dA-D é]{0,12}", n in "[a-d é]{0,3}") {
            prop_assert_eq!(contains_ci(&h, &n), h.to_ascii_lowercase().contains(&n));
        }
    }

    #[test]
    fn one_row_per_code_and_every_step_maps_back() {
        for (i, r) in CODES.iter().enumerate() {
            assert!(
                CODES[i + 1..].iter().all(|o| o.code != r.code),
                "{} listed twice",
                r.code
            );
        }
        for step in JourneyStep::ALL {
            let (code, text, category) = step_event(step);
            assert_eq!(map_event(code, text).status, step.status(), "{step:?}");
            assert!(map_category(category).is_some(), "{category}");
        }
    }

    #[test]
    fn unknown_codes_stay_unknown() {
        let m = map_event("ZZ", "Something new");
        assert_eq!(m.status, Status::Unknown);
        assert_eq!(m.rule, "usps:unmapped;code=ZZ");
        assert_eq!(map_category("Mystery"), None);
    }
}
