//! The one mapping table: DHL's documented `statusCode` values, plus the few
//! English event texts that refine them, each with the journey step the
//! simulator renders through it.

use trackd_carrier_sdk::{JourneyStep, Status};

/// Every `statusCode` DHL documents (the OpenAPI enum: "high-level grouping
/// statuses"). One row per code; anything else parses as `Status::Unknown`.
#[rustfmt::skip]
pub const STATUS_CODES: &[(&str, Status, Option<&str>)] = &[
    ("pre-transit", Status::InfoReceived, None),
    ("transit",     Status::InTransit,    None),
    ("delivered",   Status::Delivered,    None),
    ("failure",     Status::Exception,    None),
    // Documented, and honestly "we do not know": mapped explicitly so it is not
    // counted as an unmapped code.
    ("unknown",     Status::Unknown,      Some("unknown.carrier_unknown")),
];

/// A refinement of a `statusCode` by the event's English text (DHL's own words,
/// matched case-insensitively as a substring). `base` lists the status codes a
/// rule may refine (an event without `statusCode` may use any rule); first
/// match wins, so the more specific phrases come first.
pub struct TextRule {
    pub phrase: &'static str,
    pub base: &'static [&'static str],
    pub status: Status,
    pub detail: Option<&'static str>,
}

const TRANSIT: &[&str] = &["transit"];
const TRANSIT_OR_FAILURE: &[&str] = &["transit", "failure"];
const FAILURE: &[&str] = &["failure"];
const DELIVERED_OR_TRANSIT: &[&str] = &["delivered", "transit"];
const RETURNING: &[&str] = &["transit", "failure"];

/// Text refinements (provenance in README.md: L = wording of live DHL Express
/// answers published by public integrations, S = simulator wording chosen
/// because it is unambiguous English; DHL documents no event-code list).
#[rustfmt::skip]
pub const TEXT_RULES: &[TextRule] = &[
    // Returns first: "being returned to shipper" contains "returned to shipper".
    TextRule { phrase: "being returned to shipper",  base: RETURNING,            status: Status::Returning,          detail: None },
    TextRule { phrase: "returned to shipper",        base: DELIVERED_OR_TRANSIT, status: Status::Returned,           detail: None },
    TextRule { phrase: "with delivery courier",      base: TRANSIT,              status: Status::OutForDelivery,     detail: None },
    TextRule { phrase: "out with courier for delivery", base: TRANSIT,           status: Status::OutForDelivery,     detail: None },
    TextRule { phrase: "delivery attempted",         base: TRANSIT_OR_FAILURE,   status: Status::AttemptFailed,      detail: None },
    TextRule { phrase: "awaiting collection",        base: TRANSIT,              status: Status::AvailableForPickup, detail: None },
    TextRule { phrase: "shipment picked up",         base: TRANSIT,              status: Status::InTransit,          detail: Some("in_transit.picked_up") },
    TextRule { phrase: "weather",                    base: TRANSIT,              status: Status::InTransit,          detail: Some("in_transit.weather_delay") },
    TextRule { phrase: "operational delay",          base: TRANSIT,              status: Status::InTransit,          detail: Some("in_transit.operational_delay") },
    TextRule { phrase: "customs",                    base: FAILURE,              status: Status::Exception,          detail: Some("exception.customs_hold") },
    TextRule { phrase: "address",                    base: FAILURE,              status: Status::Exception,          detail: Some("exception.address_issue") },
    // Live DHL Express texts carried without a statusCode.
    TextRule { phrase: "delivered",                  base: &[],                  status: Status::Delivered,          detail: None },
    TextRule { phrase: "arrived at",                 base: &[],                  status: Status::InTransit,          detail: None },
    TextRule { phrase: "departed",                   base: &[],                  status: Status::InTransit,          detail: None },
    TextRule { phrase: "processed at",               base: &[],                  status: Status::InTransit,          detail: None },
];

/// What the mapping decided for one status object or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub status: Status,
    pub detail: Option<&'static str>,
    /// The rule that fired (`dhl:statusCode=transit+text=with delivery courier`).
    pub rule: String,
}

/// Which rule decided a status, so the audit string is built only where kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule<'a> {
    CodeText(&'a str, &'static str),
    Code(&'a str),
    UnmappedCode(&'a str),
    Text(&'static str),
    Unmapped,
}

/// For each lowercase first byte, the `TEXT_RULES` whose phrase starts with it
/// (bit `i` for rule `i`), so one pass over a text finds every phrase in it
/// instead of one pass per rule (the per-rule scans were most of the mapping).
const FIRST_BYTE_RULES: [u32; 256] = {
    assert!(TEXT_RULES.len() <= 32, "rule sets are u32 bit masks");
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < TEXT_RULES.len() {
        let p = TEXT_RULES[i].phrase.as_bytes();
        assert!(!p.is_empty(), "an empty phrase would match every text");
        let mut j = 0;
        while j < p.len() {
            assert!(
                !p[j].is_ascii_uppercase() && p[j].is_ascii(),
                "phrases are lowercase ASCII"
            );
            j += 1;
        }
        table[p[0] as usize] |= 1 << i;
        i += 1;
    }
    table
};

/// Every rule (an event without a statusCode may use any).
const ALL_RULES: u32 = ((1u64 << TEXT_RULES.len()) - 1) as u32;

/// Whether two strings are byte-equal (`==` is not usable in a const).
const fn same_bytes(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// For each `STATUS_CODES` row, the `TEXT_RULES` whose `base` names its code
/// (bit `i` for rule `i`): one code lookup instead of comparing the code with
/// every rule's base list. Every base entry is a row of `STATUS_CODES`
/// (checked here), so a code outside the table has no applicable rule.
const RULES_BY_CODE: [u32; STATUS_CODES.len()] = {
    let mut table = [0u32; STATUS_CODES.len()];
    let mut i = 0;
    while i < TEXT_RULES.len() {
        let base = TEXT_RULES[i].base;
        let mut j = 0;
        while j < base.len() {
            let mut k = 0;
            let mut known = false;
            while k < STATUS_CODES.len() {
                if same_bytes(base[j], STATUS_CODES[k].0) {
                    table[k] |= 1 << i;
                    known = true;
                }
                k += 1;
            }
            assert!(known, "a rule's base names a code outside STATUS_CODES");
            j += 1;
        }
        i += 1;
    }
    table
};

/// The rules of `wanted` whose phrase occurs in `hay`, ignoring ASCII case:
/// bit `i` set iff `hay.to_ascii_lowercase().contains(TEXT_RULES[i].phrase)`,
/// without the copy.
fn phrases_in(hay: &str, wanted: u32) -> u32 {
    let h = hay.as_bytes();
    let mut found = 0;
    for (at, b) in h.iter().enumerate() {
        let mut starting = FIRST_BYTE_RULES[usize::from(b.to_ascii_lowercase())] & wanted & !found;
        while starting != 0 {
            let i = starting.trailing_zeros();
            starting &= starting - 1;
            let phrase = TEXT_RULES[i as usize].phrase.as_bytes();
            if h.get(at..at + phrase.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(phrase))
            {
                found |= 1 << i;
            }
        }
        if found == wanted {
            break;
        }
    }
    found
}

fn decide<'a>(
    code: Option<&'a str>,
    texts: &[Option<&str>],
) -> (Status, Option<&'static str>, Rule<'a>) {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    // Codes are matched ignoring ASCII case, rules' bases as codes are.
    let row = code.and_then(|c| {
        STATUS_CODES
            .iter()
            .position(|(k, ..)| k.eq_ignore_ascii_case(c))
    });
    // The rules this code may use (all without a code), then those whose
    // phrase some text holds; the lowest bit is the first matching rule in
    // table order.
    let applicable = match (code, row) {
        (None, _) => ALL_RULES,
        (Some(_), Some(k)) => RULES_BY_CODE[k],
        (Some(_), None) => 0,
    };
    let mut matched = 0;
    if applicable != 0 {
        for t in texts.iter().flatten() {
            matched |= phrases_in(t, applicable & !matched);
        }
    }
    let rule = (matched != 0).then(|| &TEXT_RULES[matched.trailing_zeros() as usize]);
    let base = row.map(|k| &STATUS_CODES[k]);
    match (code, base, rule) {
        (Some(c), Some(_), Some(r)) => (r.status, r.detail, Rule::CodeText(c, r.phrase)),
        (Some(c), Some((_, status, detail)), None) => (*status, *detail, Rule::Code(c)),
        (Some(c), None, _) => (Status::Unknown, None, Rule::UnmappedCode(c)),
        (None, _, Some(r)) => (r.status, r.detail, Rule::Text(r.phrase)),
        (None, _, None) => (Status::Unknown, None, Rule::Unmapped),
    }
}

/// The status and detail [`map_status`] gives, without its audit string
/// (for history events, which keep no rule).
pub fn map_status_only(
    code: Option<&str>,
    texts: &[Option<&str>],
) -> (Status, Option<&'static str>) {
    let (status, detail, _) = decide(code, texts);
    (status, detail)
}

/// Maps a `statusCode` (possibly absent) and the event's texts to a status.
/// Rules with an empty `base` only apply to events that carry no statusCode.
pub fn map_status(code: Option<&str>, texts: &[Option<&str>]) -> Mapped {
    let (status, detail, rule) = decide(code, texts);
    let rule = match rule {
        Rule::CodeText(c, phrase) => format!("dhl:statusCode={c}+text={phrase}"),
        Rule::Code(c) => format!("dhl:statusCode={c}"),
        Rule::UnmappedCode(c) => format!("dhl:unmapped={c}"),
        Rule::Text(phrase) => format!("dhl:text={phrase}"),
        Rule::Unmapped => "dhl:unmapped=<no statusCode>".into(),
    };
    Mapped {
        status,
        detail,
        rule,
    }
}

/// `returnFlag: true` ("the delivery is returned back to consignor", DHL
/// OpenAPI) turns a shipment-level transit into returning and a delivery into
/// returned.
pub fn apply_return_flag(m: Mapped) -> Mapped {
    let status = match m.status {
        Status::InTransit | Status::OutForDelivery | Status::Exception => Status::Returning,
        Status::Delivered => Status::Returned,
        other => other,
    };
    if status == m.status {
        return m;
    }
    Mapped {
        status,
        detail: None,
        rule: format!("{}+returnFlag", m.rule),
    }
}

/// How the simulator renders a journey step: `statusCode`, short `status`
/// title, `description`, and whether the shipment carries `returnFlag`.
pub struct StepWire {
    pub code: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub return_flag: bool,
}

/// The wire rendering of every journey step (parsed back by `map_status`).
#[rustfmt::skip]
pub fn step_wire(step: JourneyStep) -> StepWire {
    let (code, title, description, return_flag) = match step {
        JourneyStep::LabelCreated       => ("pre-transit", "Pre-transit", "Shipment information received", false),
        JourneyStep::PickedUp           => ("transit", "In transit", "Shipment picked up", false),
        JourneyStep::ArrivedAtFacility  => ("transit", "In transit", "Arrived at Sort Facility", false),
        JourneyStep::DepartedFacility   => ("transit", "In transit", "Departed Facility", false),
        JourneyStep::WeatherDelay       => ("transit", "In transit", "Shipment delayed by adverse weather conditions", false),
        JourneyStep::OperationalDelay   => ("transit", "In transit", "Shipment delayed by an operational delay; missed connection", false),
        JourneyStep::CustomsHold        => ("failure", "Failure", "Shipment on hold: awaiting customs clearance", false),
        JourneyStep::AddressIssue       => ("failure", "Failure", "Incorrect or incomplete address; contact DHL", false),
        JourneyStep::OutForDelivery     => ("transit", "In transit", "With delivery courier", false),
        JourneyStep::AttemptFailed      => ("transit", "In transit", "Delivery attempted; recipient not home", false),
        JourneyStep::AvailableForPickup => ("transit", "In transit", "Awaiting collection by recipient as requested", false),
        JourneyStep::Delivered          => ("delivered", "Delivered", "Delivered - Signed for by", false),
        JourneyStep::ReturnToSender     => ("transit", "In transit", "Shipment is being returned to shipper", true),
        JourneyStep::Returned           => ("delivered", "Delivered", "Returned to shipper", true),
    };
    StepWire { code, title, description, return_flag }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The definition before the allocation-free text checks.
    /// Maps a `statusCode` (possibly absent) and the event's texts to a status.
    /// Rules with an empty `base` only apply to events that carry no statusCode.
    fn lowercase_map_status(code: Option<&str>, texts: &[Option<&str>]) -> Mapped {
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let lower: Vec<String> = texts
            .iter()
            .flatten()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let rule = TEXT_RULES.iter().find(|r| {
            let applies = match code {
                Some(c) => r.base.iter().any(|b| b.eq_ignore_ascii_case(c)),
                None => true,
            };
            applies && lower.iter().any(|t| t.contains(r.phrase))
        });
        let base = code.and_then(|c| {
            STATUS_CODES
                .iter()
                .find(|(k, ..)| k.eq_ignore_ascii_case(c))
        });
        match (code, base, rule) {
            (Some(c), Some(_), Some(r)) => Mapped {
                status: r.status,
                detail: r.detail,
                rule: format!("dhl:statusCode={c}+text={}", r.phrase),
            },
            (Some(c), Some((_, status, detail)), None) => Mapped {
                status: *status,
                detail: *detail,
                rule: format!("dhl:statusCode={c}"),
            },
            (Some(c), None, _) => Mapped {
                status: Status::Unknown,
                detail: None,
                rule: format!("dhl:unmapped={c}"),
            },
            (None, _, Some(r)) => Mapped {
                status: r.status,
                detail: r.detail,
                rule: format!("dhl:text={}", r.phrase),
            },
            (None, _, None) => Mapped {
                status: Status::Unknown,
                detail: None,
                rule: "dhl:unmapped=<no statusCode>".into(),
            },
        }
    }

    fn code() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            prop::sample::select(vec![
                "pre-transit",
                "transit",
                "TRANSIT ",
                "delivered",
                "failure",
                "unknown",
                "",
                " ",
                "x",
            ])
            .prop_map(|c| Some(c.to_string())),
            "[a-z -]{0,8}".prop_map(Some),
        ]
    }

    fn text() -> impl Strategy<Value = Option<String>> {
        let phrases: Vec<&str> = TEXT_RULES
            .iter()
            .map(|r| r.phrase)
            .chain(["İ", "é", "WEATHER", " "])
            .collect();
        prop_oneof![
            Just(None),
            prop::collection::vec(prop::sample::select(phrases), 0..3)
                .prop_map(|w| Some(w.concat().to_uppercase())),
            prop::collection::vec(
                prop::sample::select(TEXT_RULES.iter().map(|r| r.phrase).collect::<Vec<_>>()),
                0..3
            )
            .prop_map(|w| Some(w.join(" "))),
            any::<String>().prop_map(Some),
        ]
    }

    proptest! {
        #[test]
        fn map_status_agrees_with_lowercase_copies(c in code(), a in text(), b in text()) {
            let texts = [a.as_deref(), b.as_deref()];
            let m = map_status(c.as_deref(), &texts);
            prop_assert_eq!(&m, &lowercase_map_status(c.as_deref(), &texts));
            prop_assert_eq!(map_status_only(c.as_deref(), &texts), (m.status, m.detail));
        }
    }

    #[test]
    fn every_step_renders_a_text_that_maps_back() {
        for step in JourneyStep::ALL {
            let w = step_wire(step);
            let m = map_status(Some(w.code), &[Some(w.description), Some(w.title)]);
            assert_eq!(m.status, step.status(), "{step:?} via {}", m.rule);
            let shipment = if w.return_flag {
                apply_return_flag(m.clone())
            } else {
                m.clone()
            };
            assert_eq!(shipment.status, step.status(), "{step:?} shipment level");
        }
    }

    #[test]
    fn codes_are_unique_and_unknown_codes_are_kept() {
        for (i, (c, ..)) in STATUS_CODES.iter().enumerate() {
            assert!(STATUS_CODES[i + 1..].iter().all(|(k, ..)| k != c), "{c}");
        }
        let m = map_status(Some("lost-in-space"), &[Some("?")]);
        assert_eq!(m.status, Status::Unknown);
        assert_eq!(m.rule, "dhl:unmapped=lost-in-space");
        let m = map_status(None, &[Some("something")]);
        assert_eq!(m.rule, "dhl:unmapped=<no statusCode>");
    }

    #[test]
    fn text_never_overrides_a_contradicting_code() {
        // "customs" on a transit scan is progress, not a hold.
        let m = map_status(Some("transit"), &[Some("Customs status updated")]);
        assert_eq!(m.status, Status::InTransit);
        // "delivered" texts alone only decide when no statusCode exists.
        let m = map_status(Some("pre-transit"), &[Some("DELIVERED")]);
        assert_eq!(m.status, Status::InfoReceived);
        let m = map_status(None, &[Some("Delivered - Signed for by: JOHN")]);
        assert_eq!(m.status, Status::Delivered);
        assert_eq!(m.rule, "dhl:text=delivered");
    }
}
