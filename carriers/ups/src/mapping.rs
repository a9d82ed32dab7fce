//! UPS status → trackd taxonomy. One function, [`classify`], so every activity and
//! the current status go through the same audited rules, and the rule that fired
//! is named in `status_rule`.
//!
//! Order of the rules (first match wins):
//! 1. status types whose meaning overrides any code: `MV` (label voided) and `RS`
//!    (returned to shipper);
//! 2. the two-character activity code ([`CODES`]), the most specific signal;
//! 3. the status type (`D`, `I`, `M`, `P`, `X`, `U`, `O`, `DO`, `DD`, `W`, `NA`),
//!    refined for `D`/`I`/`X`/`U` by the three-digit package status code
//!    ([`STATUS_CODES`]) and, for free-text exceptions, by keywords of the
//!    (en_US) description;
//! 4. no or unknown type: the three-digit status code alone;
//! 5. otherwise [`Status::Unknown`] with an `ups:unmapped` rule (never dropped).

use trackd_carrier_sdk::{JourneyStep, Status};

/// What one UPS status maps to, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub status: Status,
    pub detail: Option<&'static str>,
    pub rule: Rule,
}

/// Which rule fired, rendered by [`Mapped::rule_string`] into `status_rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `ups:code=XX`
    Code,
    /// `ups:type=T`
    Type,
    /// `ups:type=T;statusCode=NNN`
    TypeStatusCode,
    /// `ups:type=T;text=keyword`
    TypeText(&'static str),
    /// `ups:statusCode=NNN` (no usable type)
    StatusCode,
    /// `ups:unmapped;type=T;code=XX;statusCode=NNN`
    Unmapped,
}

/// The raw fields of a UPS `status` object, trimmed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Input<'a> {
    pub kind: &'a str,
    pub code: &'a str,
    pub status_code: &'a str,
    pub description: &'a str,
}

impl Mapped {
    /// The audit string kept in `Snapshot::status_rule`.
    pub fn rule_string(&self, i: &Input<'_>) -> String {
        match self.rule {
            Rule::Code => format!("ups:code={}", i.code),
            Rule::Type => format!("ups:type={}", i.kind),
            Rule::TypeStatusCode => format!("ups:type={};statusCode={}", i.kind, i.status_code),
            Rule::TypeText(k) => format!("ups:type={};text={k}", i.kind),
            Rule::StatusCode => format!("ups:statusCode={}", i.status_code),
            Rule::Unmapped => format!(
                "ups:unmapped;type={};code={};statusCode={}",
                i.kind, i.code, i.status_code
            ),
        }
    }
}

type Entry = (&'static str, Status, Option<&'static str>);

/// Two-character activity codes with one stable meaning (source in the README).
pub const CODES: &[Entry] = &[
    ("MP", Status::InfoReceived, None),
    ("OR", Status::InTransit, None),
    ("PU", Status::InTransit, Some("in_transit.picked_up")),
    ("AR", Status::InTransit, None),
    ("DP", Status::InTransit, None),
    ("DS", Status::InTransit, None),
    ("IP", Status::InTransit, None),
    ("SR", Status::InTransit, Some("in_transit.customs_released")),
    ("VK", Status::InTransit, Some("in_transit.customs_released")),
    ("DJ", Status::InTransit, Some("in_transit.weather_delay")),
    (
        "08",
        Status::InTransit,
        Some("in_transit.operational_delay"),
    ),
    (
        "34",
        Status::InTransit,
        Some("in_transit.operational_delay"),
    ),
    ("OT", Status::OutForDelivery, None),
    ("OF", Status::OutForDelivery, None),
    (
        "48",
        Status::AttemptFailed,
        Some("attempt_failed.receiver_unavailable"),
    ),
    (
        "G3",
        Status::AttemptFailed,
        Some("attempt_failed.business_closed"),
    ),
    (
        "5R",
        Status::AttemptFailed,
        Some("attempt_failed.redirected_to_access_point"),
    ),
    (
        "ZP",
        Status::AvailableForPickup,
        Some("available_for_pickup.access_point"),
    ),
    (
        "2Q",
        Status::AvailableForPickup,
        Some("available_for_pickup.access_point"),
    ),
    ("AG", Status::Exception, Some("exception.address_issue")),
    ("AD", Status::Exception, Some("exception.address_issue")),
    ("KR", Status::Exception, Some("exception.refused")),
    ("FS", Status::Delivered, None),
    ("F4", Status::Delivered, None),
    ("KB", Status::Delivered, None),
    ("KM", Status::Delivered, None),
    ("KD", Status::Delivered, None),
    ("KE", Status::Delivered, None),
    ("DL", Status::Delivered, None),
    ("9E", Status::Delivered, None),
    (
        "2W",
        Status::Delivered,
        Some("delivered.collected_from_access_point"),
    ),
];

/// UPS package status codes (the three-digit `statusCode`), from UPS's status
/// code list (source in the README). `043` (voided pickup) is deliberately absent.
pub const STATUS_CODES: &[Entry] = &[
    ("000", Status::Unknown, Some("unknown.not_available")),
    ("003", Status::InfoReceived, None),
    ("005", Status::InTransit, None),
    ("006", Status::OutForDelivery, None),
    ("007", Status::Cancelled, Some("cancelled.label_voided")),
    ("010", Status::InTransit, None),
    ("011", Status::Delivered, None),
    (
        "012",
        Status::InTransit,
        Some("in_transit.customs_clearance"),
    ),
    ("013", Status::Exception, None),
    (
        "014",
        Status::InTransit,
        Some("in_transit.customs_released"),
    ),
    ("016", Status::Exception, Some("exception.held")),
    (
        "017",
        Status::AvailableForPickup,
        Some("available_for_pickup.ups_facility"),
    ),
    ("018", Status::InTransit, Some("in_transit.delivery_change")),
    (
        "019",
        Status::InTransit,
        Some("in_transit.held_for_future_delivery"),
    ),
    ("020", Status::InTransit, Some("in_transit.delivery_change")),
    ("021", Status::OutForDelivery, None),
    (
        "022",
        Status::AttemptFailed,
        Some("attempt_failed.first_attempt"),
    ),
    (
        "023",
        Status::AttemptFailed,
        Some("attempt_failed.second_attempt"),
    ),
    (
        "024",
        Status::AttemptFailed,
        Some("attempt_failed.final_attempt"),
    ),
    (
        "025",
        Status::InTransit,
        Some("in_transit.handed_to_post_office"),
    ),
    ("026", Status::Delivered, Some("delivered.by_post_office")),
    ("027", Status::InTransit, Some("in_transit.delivery_change")),
    ("028", Status::InTransit, Some("in_transit.delivery_change")),
    ("029", Status::Exception, Some("exception.action_required")),
    ("030", Status::Exception, Some("exception.post_office")),
    ("032", Status::InTransit, Some("in_transit.weather_delay")),
    ("033", Status::Returning, None),
    ("034", Status::Returned, None),
    ("035", Status::Returning, None),
    ("036", Status::Returning, None),
    ("037", Status::Returning, None),
    ("038", Status::InTransit, Some("in_transit.picked_up")),
    ("039", Status::InTransit, Some("in_transit.post_office")),
    (
        "040",
        Status::AvailableForPickup,
        Some("available_for_pickup.access_point"),
    ),
    ("041", Status::InTransit, Some("in_transit.service_upgrade")),
    ("042", Status::InTransit, Some("in_transit.service_upgrade")),
    ("044", Status::InTransit, Some("in_transit.to_ups")),
    ("045", Status::InTransit, Some("in_transit.to_ups")),
    (
        "046",
        Status::InTransit,
        Some("in_transit.operational_delay"),
    ),
    (
        "047",
        Status::InTransit,
        Some("in_transit.operational_delay"),
    ),
    (
        "048",
        Status::InTransit,
        Some("in_transit.operational_delay"),
    ),
    ("049", Status::Exception, Some("exception.action_required")),
    ("050", Status::Exception, Some("exception.address_issue")),
    ("051", Status::InTransit, Some("in_transit.weather_delay")),
    ("052", Status::InTransit, Some("in_transit.weather_delay")),
    ("053", Status::InTransit, Some("in_transit.weather_delay")),
    ("054", Status::InTransit, Some("in_transit.delivery_change")),
    ("055", Status::InTransit, Some("in_transit.rescheduled")),
    ("056", Status::InTransit, Some("in_transit.service_upgrade")),
    ("057", Status::InTransit, Some("in_transit.to_access_point")),
    ("058", Status::Exception, Some("exception.customs_hold")),
    ("059", Status::Exception, Some("exception.damaged")),
    ("060", Status::AttemptFailed, None),
    (
        "061",
        Status::AttemptFailed,
        Some("attempt_failed.adult_signature_required"),
    ),
    (
        "062",
        Status::AttemptFailed,
        Some("attempt_failed.funds_required"),
    ),
    ("063", Status::InTransit, Some("in_transit.delivery_change")),
    ("064", Status::Exception, Some("exception.refused")),
    ("065", Status::Exception, Some("exception.pickup_attempted")),
    (
        "066",
        Status::AttemptFailed,
        Some("attempt_failed.post_office"),
    ),
    ("067", Status::Returned, Some("returned.by_post_office")),
    ("068", Status::Exception, Some("exception.lost")),
    ("069", Status::Exception, Some("exception.not_claimed")),
];

fn lookup(table: &[Entry], key: &str) -> Option<(Status, Option<&'static str>)> {
    table
        .iter()
        .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, s, d)| (*s, *d))
}

/// Case-insensitive substring test without allocating (needles are upper case).
fn has(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Keyword refinement of free-text exception descriptions (`type=X` with an
/// unknown code and status code); ordered so "not available ... Access Point"
/// reads as a failed attempt, not as pickup availability.
fn exception_text(d: &str) -> Option<(Status, Option<&'static str>, &'static str)> {
    if has(d, "WEATHER") {
        return Some((
            Status::InTransit,
            Some("in_transit.weather_delay"),
            "weather",
        ));
    }
    if has(d, "CUSTOMS") || has(d, "CLEARANCE") || has(d, "BROKER") || has(d, "DUTIES") {
        if has(d, "RELEASED") || has(d, "CLEARED") {
            return Some((
                Status::InTransit,
                Some("in_transit.customs_released"),
                "customs_released",
            ));
        }
        return Some((Status::Exception, Some("exception.customs_hold"), "customs"));
    }
    if has(d, "ADDRESS") {
        return Some((
            Status::Exception,
            Some("exception.address_issue"),
            "address",
        ));
    }
    if has(d, "ATTEMPT") || has(d, "NOT AVAILABLE") || has(d, "WAS CLOSED") {
        return Some((Status::AttemptFailed, None, "attempt"));
    }
    if has(d, "ACCESS POINT") && (has(d, "AWAITING") || has(d, "READY FOR")) {
        return Some((
            Status::AvailableForPickup,
            Some("available_for_pickup.access_point"),
            "access_point",
        ));
    }
    if has(d, "RETURN") {
        return Some((Status::Returning, None, "return"));
    }
    if has(d, "DAMAGE") {
        return Some((Status::Exception, Some("exception.damaged"), "damage"));
    }
    if has(d, "REFUSED") {
        return Some((Status::Exception, Some("exception.refused"), "refused"));
    }
    if has(d, "DELAY") || has(d, "INCORRECTLY SORTED") {
        return Some((
            Status::InTransit,
            Some("in_transit.operational_delay"),
            "delay",
        ));
    }
    None
}

/// Status types handled after the activity code (MV and RS are handled before it).
const TYPES: [&str; 11] = ["M", "P", "O", "DO", "DD", "W", "NA", "D", "I", "X", "U"];

/// Whether a package status code may refine an exception (or update) scan:
/// plain-progress codes (003 label, 005 in transit, 021 out for delivery, 011
/// delivered...) can be the package's day status rather than this scan's, and
/// must not turn an exception into progress.
fn refines_exception(s: Status, detail: Option<&str>) -> bool {
    match s {
        Status::InTransit => detail.is_some(),
        Status::Exception
        | Status::AttemptFailed
        | Status::AvailableForPickup
        | Status::Returning
        | Status::Returned
        | Status::Cancelled => true,
        _ => false,
    }
}

fn mapped(status: Status, detail: Option<&'static str>, rule: Rule) -> Mapped {
    Mapped {
        status,
        detail,
        rule,
    }
}

/// Maps one UPS status (activity or current) to the taxonomy; never fails.
pub fn classify(i: &Input<'_>) -> Mapped {
    let kind = i.kind;
    let by_status_code = || lookup(STATUS_CODES, i.status_code);
    if kind.eq_ignore_ascii_case("MV") {
        return mapped(
            Status::Cancelled,
            Some("cancelled.label_voided"),
            Rule::Type,
        );
    }
    if kind.eq_ignore_ascii_case("RS") {
        return mapped(Status::Returned, None, Rule::Type);
    }
    if let Some((s, d)) = lookup(CODES, i.code) {
        return mapped(s, d, Rule::Code);
    }
    let canonical = TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(kind))
        .copied()
        .unwrap_or("");
    match canonical {
        "M" => mapped(Status::InfoReceived, None, Rule::Type),
        "P" => mapped(Status::InTransit, Some("in_transit.picked_up"), Rule::Type),
        "O" => mapped(Status::OutForDelivery, None, Rule::Type),
        "DO" => mapped(
            Status::InTransit,
            Some("in_transit.delivered_origin_cfs"),
            Rule::Type,
        ),
        "DD" => mapped(
            Status::InTransit,
            Some("in_transit.delivered_destination_cfs"),
            Rule::Type,
        ),
        "W" => mapped(
            Status::InTransit,
            Some("in_transit.warehousing"),
            Rule::Type,
        ),
        "NA" => mapped(Status::Unknown, Some("unknown.not_available"), Rule::Type),
        "D" => {
            // Type D also covers "loaded on delivery vehicle / out for delivery"
            // (Track Alert spec) and Access Point drop-offs.
            match by_status_code() {
                Some((
                    s @ (Status::AvailableForPickup | Status::OutForDelivery | Status::Returned),
                    d,
                )) => mapped(s, d, Rule::TypeStatusCode),
                _ if has(i.description, "ACCESS POINT") && !has(i.description, "PICKED UP") => {
                    mapped(
                        Status::AvailableForPickup,
                        Some("available_for_pickup.access_point"),
                        Rule::TypeText("access_point"),
                    )
                }
                _ if has(i.description, "OUT FOR DELIVERY")
                    || has(i.description, "DELIVERY VEHICLE") =>
                {
                    mapped(
                        Status::OutForDelivery,
                        None,
                        Rule::TypeText("out_for_delivery"),
                    )
                }
                _ => mapped(Status::Delivered, None, Rule::Type),
            }
        }
        "I" => match by_status_code() {
            // Activity status codes on `I` scans can be the package's day status
            // (a "Processing at UPS Facility" scan carrying 021), so only the
            // return family refines an in-transit scan.
            Some((s @ Status::Returning, d)) => mapped(s, d, Rule::TypeStatusCode),
            _ if has(i.description, "RETURNING TO") || has(i.description, "RETURN TO SENDER") => {
                mapped(Status::Returning, None, Rule::TypeText("return"))
            }
            _ if has(i.description, "OUT FOR DELIVERY") => mapped(
                Status::OutForDelivery,
                None,
                Rule::TypeText("out_for_delivery"),
            ),
            _ => mapped(Status::InTransit, None, Rule::Type),
        },
        "X" => match by_status_code() {
            Some((s, d)) if refines_exception(s, d) => mapped(s, d, Rule::TypeStatusCode),
            _ => match exception_text(i.description) {
                Some((s, d, k)) => mapped(s, d, Rule::TypeText(k)),
                None => mapped(Status::Exception, None, Rule::Type),
            },
        },
        "U" => match by_status_code() {
            Some((s, d)) if refines_exception(s, d) => mapped(s, d, Rule::TypeStatusCode),
            _ => mapped(
                Status::InTransit,
                Some("in_transit.delivery_updated"),
                Rule::Type,
            ),
        },
        _ => match by_status_code() {
            Some((s, d)) => mapped(s, d, Rule::StatusCode),
            None => mapped(Status::Unknown, None, Rule::Unmapped),
        },
    }
}

/// The UPS wire status the simulator renders for a journey step:
/// `(type, code, statusCode, description)`; [`classify`] maps each back to
/// `step.status()` (asserted in tests).
pub fn step_wire(step: JourneyStep) -> (&'static str, &'static str, &'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => (
            "M",
            "MP",
            "003",
            "Shipper created a label, UPS has not received the package yet. ",
        ),
        JourneyStep::PickedUp => ("P", "PU", "038", "Pickup Scan"),
        JourneyStep::ArrivedAtFacility => ("I", "AR", "005", "Arrived at Facility"),
        JourneyStep::DepartedFacility => ("I", "DP", "005", "Departed from Facility"),
        JourneyStep::WeatherDelay => (
            "X",
            "DJ",
            "032",
            "Severe weather conditions have delayed delivery.",
        ),
        JourneyStep::OperationalDelay => (
            "X",
            "08",
            "048",
            "Due to operating conditions, your package may be delayed.",
        ),
        JourneyStep::CustomsHold => (
            "X",
            "CH",
            "058",
            "Your package is being held for customs clearance. Clearance information is required.",
        ),
        JourneyStep::AddressIssue => (
            "X",
            "AG",
            "050",
            "The address is incomplete. This may delay delivery. We're attempting to update the address.",
        ),
        JourneyStep::OutForDelivery => ("I", "OT", "021", "Out For Delivery Today"),
        JourneyStep::AttemptFailed => (
            "X",
            "48",
            "022",
            "The receiver was not available for delivery. We'll make a second attempt the next business day.",
        ),
        JourneyStep::AvailableForPickup => (
            "X",
            "ZP",
            "040",
            "Delivered to UPS Access Point\u{2122} location and awaiting customer pickup.",
        ),
        JourneyStep::Delivered => ("D", "FS", "011", "Delivered"),
        JourneyStep::ReturnToSender => (
            "X",
            "UF",
            "035",
            "We're in the process of returning this package to the sender.",
        ),
        JourneyStep::Returned => ("RS", "RS", "034", "Returned to Sender"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: &str, code: &str, sc: &str, d: &str) -> (Status, Option<&'static str>, String) {
        let i = Input {
            kind,
            code,
            status_code: sc,
            description: d,
        };
        let m = classify(&i);
        (m.status, m.detail, m.rule_string(&i))
    }

    #[test]
    fn every_step_round_trips() {
        for step in JourneyStep::ALL {
            let (kind, code, sc, d) = step_wire(step);
            assert_eq!(c(kind, code, sc, d).0, step.status(), "{step:?}");
        }
    }

    #[test]
    fn documented_types_all_map() {
        let expect = [
            ("D", Status::Delivered),
            ("I", Status::InTransit),
            ("M", Status::InfoReceived),
            ("MV", Status::Cancelled),
            ("P", Status::InTransit),
            ("X", Status::Exception),
            ("U", Status::InTransit),
            ("RS", Status::Returned),
            ("DO", Status::InTransit),
            ("DD", Status::InTransit),
            ("W", Status::InTransit),
            ("O", Status::OutForDelivery),
            ("NA", Status::Unknown),
        ];
        for (kind, status) in expect {
            let (s, _, rule) = c(kind, "", "", "");
            assert_eq!(s, status, "{kind}");
            assert_eq!(rule, format!("ups:type={kind}"));
        }
    }

    #[test]
    fn codes_win_over_types_except_void_and_return() {
        assert_eq!(c("D", "ZP", "", "").0, Status::AvailableForPickup);
        assert_eq!(
            c(
                "X",
                "SR",
                "003",
                "Your package was released by the customs agency."
            )
            .2,
            "ups:code=SR"
        );
        assert_eq!(c("MV", "MP", "", "").0, Status::Cancelled);
        assert_eq!(c("RS", "FS", "", "").0, Status::Returned);
    }

    #[test]
    fn exceptions_refine_by_status_code_then_text() {
        let (s, d, r) = c("X", "Q9", "052", "");
        assert_eq!(
            (s, d, r.as_str()),
            (
                Status::InTransit,
                Some("in_transit.weather_delay"),
                "ups:type=X;statusCode=052"
            )
        );
        let (s, d, r) = c("X", "Q9", "", "A clearance delay has occurred.");
        assert_eq!(
            (s, d, r.as_str()),
            (
                Status::Exception,
                Some("exception.customs_hold"),
                "ups:type=X;text=customs"
            )
        );
        let (s, _, _) = c(
            "X",
            "Q9",
            "",
            "Customer was not available when UPS attempted delivery. Will deliver to a nearby UPS Access Point for customer pick up.",
        );
        assert_eq!(s, Status::AttemptFailed);
        assert_eq!(c("X", "Q9", "", "Something odd.").2, "ups:type=X");
        assert_eq!(c("X", "Q9", "", "Something odd.").0, Status::Exception);
    }

    #[test]
    fn progress_codes_do_not_hide_exceptions() {
        assert_eq!(c("X", "Q9", "003", "").0, Status::Exception);
        assert_eq!(c("X", "Q9", "011", "").0, Status::Exception);
        assert_eq!(c("X", "Q9", "021", "").0, Status::Exception);
        assert_eq!(
            c("X", "Q9", "005", "Severe weather").2,
            "ups:type=X;text=weather"
        );
        assert_eq!(c("U", "Q9", "011", "").0, Status::InTransit);
    }

    #[test]
    fn delivery_type_is_not_always_delivered() {
        assert_eq!(c("D", "Q9", "040", "").0, Status::AvailableForPickup);
        assert_eq!(
            c("D", "Q9", "", "Loaded on Delivery Vehicle").0,
            Status::OutForDelivery
        );
        assert_eq!(c("D", "Q9", "", "DELIVERED ").0, Status::Delivered);
    }

    #[test]
    fn in_transit_ignores_day_status_codes() {
        // Observed: "Processing at UPS Facility" (DS) carrying statusCode 021.
        assert_eq!(
            c("I", "Q9", "021", "Processing at UPS Facility").0,
            Status::InTransit
        );
        assert_eq!(
            c("I", "Q9", "036", "Returning to Sender: In Transit").0,
            Status::Returning
        );
    }

    #[test]
    fn unknown_is_never_dropped() {
        let (s, d, r) = c("Q", "ZZ", "999", "");
        assert_eq!((s, d), (Status::Unknown, None));
        assert_eq!(r, "ups:unmapped;type=Q;code=ZZ;statusCode=999");
        assert_eq!(c("", "", "011", "").2, "ups:statusCode=011");
        assert_eq!(c("", "", "011", "").0, Status::Delivered);
    }

    #[test]
    fn tables_have_unique_keys() {
        for table in [CODES, STATUS_CODES] {
            let mut keys: Vec<&str> = table.iter().map(|e| e.0).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n);
        }
    }
}
