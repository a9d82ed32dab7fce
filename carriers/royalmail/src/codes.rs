//! Royal Mail event codes → trackd's taxonomy, in one table, plus the codes the
//! simulator renders for each journey step.
//!
//! Codes are Royal Mail's five-letter tracking event codes (`eventCode`,
//! `summary.lastEventCode`). The grouping follows the customer-facing status
//! category Royal Mail publishes next to each code (pre-advice, "we've got it",
//! in transit, ready for delivery, delivery attempted, delivered, collected,
//! returned to sender, customs); the README explains the judgement calls.
//! Codes missing here parse as `Status::Unknown` (kept with code and text).

use std::collections::HashMap;
use std::sync::OnceLock;
use trackd_carrier_sdk::{JourneyStep, Status};

use Status::{
    AttemptFailed as Att, AvailableForPickup as Pick, Delivered as Del, Exception as Exc,
    InTransit as Tr, InfoReceived as Info, OutForDelivery as Ofd, Returned as Ret,
    Returning as Rtg,
};

/// One row per code: the status and the finer, namespaced detail.
#[rustfmt::skip]
pub const CODES: &[(&str, Status, Option<&str>)] = &[
    // Pre-advice: the sender told Royal Mail the item is coming.
    ("EVAIE", Info, None),
    ("EVAIP", Info, None),
    ("EVAPA", Info, None),
    ("EVPPB", Info, None),
    // Accepted into the network ("we've got it").
    ("EVPPA", Tr, Some("in_transit.accepted")),
    ("EVNPB", Tr, Some("in_transit.accepted")),
    ("EVOAC", Tr, Some("in_transit.accepted")),
    ("EVOBC", Tr, Some("in_transit.accepted")),
    ("EVOCO", Tr, Some("in_transit.accepted")),
    ("EVHAC", Tr, Some("in_transit.accepted")),
    ("EVBAH", Tr, None),
    ("EVBAV", Tr, None),
    ("EVBAW", Tr, None),
    ("EVBDM", Tr, Some("in_transit.damaged")),
    ("EVBMI", Tr, Some("in_transit.missort")),
    ("EVBOF", Tr, None),
    ("EVBPM", Tr, None),
    ("EVBPR", Tr, None),
    ("EVBRS", Tr, None),
    ("EVBSD", Tr, Some("in_transit.damaged")),
    ("EVBSM", Tr, None),
    ("EVBSR", Tr, None),
    ("EVBSS", Tr, None),
    ("EVBSW", Tr, None),
    ("EVDAA", Tr, None),
    ("EVDAC", Tr, None),
    ("EVDAV", Tr, None),
    ("EVDAW", Tr, None),
    ("EVDDM", Tr, Some("in_transit.damaged")),
    ("EVDMI", Tr, Some("in_transit.missort")),
    ("EVDOF", Tr, None),
    ("EVDPL", Tr, None),
    ("EVDPM", Tr, None),
    ("EVDPR", Tr, None),
    ("EVDRO", Tr, None),
    ("EVDRS", Tr, None),
    ("EVDSD", Tr, Some("in_transit.damaged")),
    ("EVDSL", Tr, None),
    ("EVDSM", Tr, None),
    ("EVDSR", Tr, None),
    ("EVDSS", Tr, None),
    // In transit through mail centres and delivery offices.
    ("EVCAH", Tr, None),
    ("EVCAV", Tr, None),
    ("EVCDM", Tr, Some("in_transit.damaged")),
    ("EVCMI", Tr, Some("in_transit.missort")),
    ("EVCOF", Tr, None),
    ("EVCPD", Tr, Some("in_transit.damaged")),
    ("EVCPI", Tr, Some("in_transit.missort")),
    ("EVCPS", Tr, None),
    ("EVCPW", Tr, None),
    ("EVCRS", Tr, None),
    ("EVCRW", Tr, None),
    ("EVIAV", Tr, None),
    ("EVIDM", Tr, Some("in_transit.damaged")),
    ("EVILC", Tr, None),
    ("EVIMC", Tr, None),
    ("EVIMI", Tr, Some("in_transit.missort")),
    ("EVIMS", Tr, None),
    ("EVIOF", Tr, None),
    ("EVIPD", Tr, Some("in_transit.damaged")),
    ("EVIPI", Tr, Some("in_transit.missort")),
    ("EVIPR", Tr, None),
    ("EVIPS", Tr, None),
    ("EVIPW", Tr, None),
    ("EVIRM", Tr, None),
    ("EVIRO", Tr, None),
    ("EVGDM", Tr, Some("in_transit.damaged")),
    ("EVGDO", Tr, None),
    ("EVGMI", Tr, Some("in_transit.missort")),
    ("EVHOE", Tr, Some("in_transit.departed_origin_country")),
    ("EVJDU", Tr, None),
    ("EVJJV", Tr, None),
    ("EVJLV", Tr, None),
    ("EVJMV", Tr, None),
    ("EVJOE", Tr, Some("in_transit.arrived_destination_country")),
    ("EVNDO", Tr, None),
    ("EVNMC", Tr, None),
    ("EVNMI", Tr, Some("in_transit.missort")),
    ("EVNWA", Tr, Some("in_transit.address_corrected")),
    ("EVNRD", Tr, Some("in_transit.redirected")),
    ("EVNSR", Tr, Some("in_transit.redelivery_requested")),
    ("EVNRC", Tr, Some("in_transit.redelivery_requested")),
    ("EVNKS", Tr, Some("in_transit.keepsafe")),
    ("EVNDN", Tr, Some("in_transit.operational_delay")),
    ("EVODO", Tr, None),
    ("EVOLB", Tr, None),
    ("EVOMI", Tr, Some("in_transit.missort")),
    ("EVOOC", Tr, None),
    ("EVORC", Tr, None),
    ("EVORI", Tr, None),
    ("EVORT", Tr, None),
    ("EVORW", Tr, None),
    ("EVOUF", Tr, None),
    ("EVOVB", Tr, None),
    // Customs.
    ("EVJIC", Tr, Some("in_transit.customs")),
    ("EVJDP", Tr, Some("in_transit.customs_released")),
    ("EVJEA", Tr, Some("in_transit.customs_released")),
    ("EVJFC", Tr, Some("in_transit.customs_released")),
    ("EVJIA", Tr, Some("in_transit.customs_released")),
    ("EVJNT", Tr, Some("in_transit.customs_released")),
    ("EVJAP", Exc, Some("exception.customs_hold")),
    ("EVJBA", Exc, Some("exception.customs_hold")),
    ("EVJCA", Exc, Some("exception.customs_hold")),
    ("EVJCC", Exc, Some("exception.customs_hold")),
    ("EVJCD", Exc, Some("exception.customs_hold")),
    ("EVJCO", Exc, Some("exception.customs_hold")),
    ("EVJEM", Exc, Some("exception.customs_hold")),
    ("EVJES", Exc, Some("exception.customs_hold")),
    ("EVJIN", Exc, Some("exception.customs_hold")),
    ("EVJML", Exc, Some("exception.customs_hold")),
    ("EVJPA", Exc, Some("exception.customs_hold")),
    ("EVJSR", Exc, Some("exception.customs_hold")),
    // Export stopped but not (yet) returned.
    ("EVHAP", Exc, Some("exception.export_held")),
    ("EVHAR", Exc, Some("exception.export_held")),
    ("EVHFM", Exc, Some("exception.export_held")),
    ("EVHNC", Exc, Some("exception.export_held")),
    ("EVHSR", Exc, Some("exception.export_held")),
    // Held, lost, prohibited.
    ("EVNRT", Exc, Some("exception.held")),
    ("EVNCF", Exc, Some("exception.fee_due")),
    ("EVNCL", Exc, Some("exception.lost")),
    ("EVDLS", Exc, Some("exception.lost")),
    ("EVNDL", Exc, Some("exception.destroyed")),
    ("EVSGD", Exc, Some("exception.prohibited_contents")),
    ("EVSGS", Exc, Some("exception.prohibited_contents")),
    ("EVSUS", Exc, Some("exception.prohibited_contents")),
    // Address problems found at the door or the delivery office (a return
    // usually follows as its own event).
    ("EVKAI", Exc, Some("exception.address_issue")),
    ("EVNSI", Exc, Some("exception.address_issue")),
    ("EVNLI", Exc, Some("exception.address_issue")),
    ("EVPOI", Exc, Some("exception.address_issue")),
    ("EVPXI", Exc, Some("exception.address_issue")),
    // Ready for delivery today.
    ("EVGPD", Ofd, None),
    // Delivery attempted.
    ("EVKAA", Att, Some("attempt_failed.address_inaccessible")),
    ("EVKNA", Att, Some("attempt_failed.no_answer")),
    ("EVKSU", Att, Some("attempt_failed.safeplace_unavailable")),
    ("EVNAA", Att, Some("attempt_failed.address_inaccessible")),
    ("EVNBA", Att, Some("attempt_failed.no_answer")),
    ("EVNIL", Att, Some("attempt_failed.address_inaccessible")),
    ("EVNIO", Att, Some("attempt_failed.address_inaccessible")),
    ("EVNSA", Att, Some("attempt_failed.no_answer")),
    ("EVNUL", Att, Some("attempt_failed.addressee_unknown")),
    ("EVNUO", Att, Some("attempt_failed.addressee_unknown")),
    ("EVPOA", Att, Some("attempt_failed.address_inaccessible")),
    ("EVPON", Att, Some("attempt_failed.no_answer")),
    ("EVPOU", Att, Some("attempt_failed.addressee_unknown")),
    ("EVPXA", Att, Some("attempt_failed.address_inaccessible")),
    ("EVPXN", Att, Some("attempt_failed.no_answer")),
    ("EVPXU", Att, Some("attempt_failed.addressee_unknown")),
    // Waiting at a Customer Service Point or Post Office for collection.
    ("EVNDA", Pick, Some("available_for_pickup.after_attempt")),
    ("EVNAE", Pick, None),
    ("EVNLC", Pick, Some("available_for_pickup.local_collect")),
    ("EVKLC", Pick, Some("available_for_pickup.local_collect")),
    ("EVKLS", Pick, Some("available_for_pickup.local_collect")),
    ("EVPLA", Pick, Some("available_for_pickup.local_collect")),
    // Delivered.
    ("EVKSP", Del, Some("delivered.signed")),
    ("EVKOP", Del, None),
    ("EVKSF", Del, Some("delivered.safeplace")),
    ("EVKDN", Del, Some("delivered.neighbour")),
    ("EVKNS", Del, Some("delivered.neighbour")),
    ("EVNFS", Del, None),
    ("EVNLP", Del, None),
    ("EVNOI", Del, Some("delivered.implied")),
    ("EVNPO", Del, Some("delivered.po_box")),
    // Collected by the recipient.
    ("EVNCE", Del, Some("delivered.collected")),
    ("EVNCO", Del, Some("delivered.collected")),
    ("EVNOC", Del, Some("delivered.collected")),
    ("EVNSC", Del, Some("delivered.collected")),
    ("EVPLC", Del, Some("delivered.collected")),
    ("EVPLF", Del, Some("delivered.collected")),
    // On its way back to the sender.
    ("EVBRA", Rtg, Some("returning.address_incomplete")),
    ("EVBRB", Rtg, Some("returning.barcode_rejected")),
    ("EVBRT", Rtg, None),
    ("EVBRW", Rtg, Some("returning.overweight")),
    ("EVBSA", Rtg, Some("returning.address_incomplete")),
    ("EVCPA", Rtg, Some("returning.address_incomplete")),
    ("EVCRA", Rtg, Some("returning.address_incomplete")),
    ("EVCRB", Rtg, Some("returning.barcode_rejected")),
    ("EVDRA", Rtg, Some("returning.address_incomplete")),
    ("EVDRB", Rtg, Some("returning.barcode_rejected")),
    ("EVDRW", Rtg, Some("returning.overweight")),
    ("EVDSA", Rtg, Some("returning.address_incomplete")),
    ("EVDSW", Rtg, Some("returning.overweight")),
    ("EVIPA", Rtg, Some("returning.address_incomplete")),
    ("EVHCA", Rtg, Some("returning.export_cancelled")),
    ("EVHCR", Rtg, Some("returning.export_cancelled")),
    ("EVHDI", Rtg, Some("returning.export_cancelled")),
    ("EVHID", Rtg, Some("returning.export_cancelled")),
    ("EVKGA", Rtg, Some("returning.gone_away")),
    ("EVKRF", Rtg, Some("returning.refused")),
    ("EVNAB", Rtg, Some("returning.refused")),
    ("EVNAC", Rtg, Some("returning.gone_away")),
    ("EVNAD", Rtg, Some("returning.not_collected")),
    ("EVNAI", Rtg, Some("returning.address_incomplete")),
    ("EVNGA", Rtg, Some("returning.gone_away")),
    ("EVNGL", Rtg, Some("returning.gone_away")),
    ("EVNHE", Rtg, Some("returning.not_collected")),
    ("EVNHR", Rtg, Some("returning.refused")),
    ("EVNLA", Rtg, Some("returning.address_incomplete")),
    ("EVNLG", Rtg, Some("returning.gone_away")),
    ("EVNLR", Rtg, Some("returning.refused")),
    ("EVNRE", Rtg, Some("returning.not_collected")),
    ("EVNRF", Rtg, Some("returning.refused")),
    ("EVNRL", Rtg, Some("returning.not_collected")),
    ("EVNRN", Rtg, None),
    ("EVNRO", Rtg, Some("returning.refused")),
    ("EVNRR", Rtg, Some("returning.refused")),
    ("EVNUK", Rtg, Some("returning.addressee_unknown")),
    ("EVORR", Rtg, None),
    ("EVPLI", Rtg, Some("returning.sender_request")),
    ("EVPLN", Rtg, Some("returning.not_collected")),
    ("EVPLR", Rtg, Some("returning.refused")),
    ("EVPLU", Rtg, Some("returning.addressee_unknown")),
    ("EVPLX", Rtg, None),
    ("EVPOG", Rtg, Some("returning.gone_away")),
    ("EVPOR", Rtg, Some("returning.refused")),
    ("EVPUX", Rtg, None),
    ("EVPXG", Rtg, Some("returning.gone_away")),
    ("EVPXR", Rtg, Some("returning.refused")),
    // "Returned to Sender" as a completed fact.
    ("EVNRS", Ret, None),
];

/// `summary.statusCategory` values whose meaning is unambiguous; used only when
/// no event code of the answer is in [`CODES`].
pub const CATEGORIES: &[(&str, Status)] = &[("IN TRANSIT", Tr), ("DELIVERED", Del)];

/// A mapped code: status, detail, and the rule string kept for audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub status: Status,
    pub detail: Option<&'static str>,
    pub rule: String,
}

/// The mapping of one event code, if the table knows it.
pub fn lookup(code: &str) -> Option<(Status, Option<&'static str>)> {
    let code = code.trim();
    // ASCII upper case on both sides is exactly `eq_ignore_ascii_case`; the
    // index keeps the first row of a key, as the linear `find` did.
    let mut buf = [0u8; 16];
    let key: std::borrow::Cow<'_, [u8]> = match buf.get_mut(..code.len()) {
        Some(head) => {
            head.copy_from_slice(code.as_bytes());
            head.make_ascii_uppercase();
            std::borrow::Cow::Borrowed(head)
        }
        None => std::borrow::Cow::Owned(code.to_ascii_uppercase().into_bytes()),
    };
    index()
        .get(key.as_ref())
        .map(|&i| (CODES[i].1, CODES[i].2))
}

/// `CODES` by upper-cased code (218 rows, looked up for every event).
fn index() -> &'static HashMap<Vec<u8>, usize> {
    static INDEX: OnceLock<HashMap<Vec<u8>, usize>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut m = HashMap::with_capacity(CODES.len());
        for (i, (c, ..)) in CODES.iter().enumerate() {
            m.entry(c.to_ascii_uppercase().into_bytes()).or_insert(i);
        }
        m
    })
}

/// The status, detail and `status_rule` of an event code (`Unknown` when unmapped).
pub fn map_code(code: &str) -> Mapped {
    let code = code.trim();
    match lookup(code) {
        Some((status, detail)) => Mapped {
            status,
            detail,
            rule: format!("royalmail:event={code}"),
        },
        None => Mapped {
            status: Status::Unknown,
            detail: None,
            rule: format!("royalmail:unmapped={code}"),
        },
    }
}

/// The status of a `summary.statusCategory`, if unambiguous.
pub fn map_category(category: &str) -> Option<Mapped> {
    let category = category.trim();
    CATEGORIES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(category))
        .map(|(c, s)| Mapped {
            status: *s,
            detail: None,
            rule: format!("royalmail:category={c}"),
        })
}

/// What the simulator renders for a journey step: event code, event name and
/// the summary's status category.
pub fn step_wire(step: JourneyStep) -> (&'static str, &'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => ("EVAIP", "Sender despatching item", "WE'RE EXPECTING IT"),
        JourneyStep::PickedUp => ("EVPPA", "Accepted at Post Office", "WE'VE GOT IT"),
        JourneyStep::ArrivedAtFacility => ("EVORI", "Arrived", "IN TRANSIT"),
        JourneyStep::DepartedFacility => ("EVODO", "Item despatched", "IN TRANSIT"),
        JourneyStep::WeatherDelay | JourneyStep::OperationalDelay => {
            ("EVNDN", "Delivery not attempted", "IN TRANSIT")
        }
        JourneyStep::CustomsHold => ("EVJCD", "Held by import customs", "IN CUSTOMS"),
        JourneyStep::AddressIssue => ("EVKAI", "Address incomplete", "DELIVERY ATTEMPTED"),
        JourneyStep::OutForDelivery => ("EVGPD", "Due to be delivered today", "READY FOR DELIVERY"),
        JourneyStep::AttemptFailed => (
            "EVKNA",
            "Delivery attempted - no answer",
            "DELIVERY ATTEMPTED",
        ),
        JourneyStep::AvailableForPickup => {
            ("EVNLC", "Available for collection", "READY FOR COLLECTION")
        }
        JourneyStep::Delivered => ("EVKSP", "Delivered and signed", "DELIVERED"),
        JourneyStep::ReturnToSender => ("EVORR", "Returning to sender", "RETURNED TO SENDER"),
        JourneyStep::Returned => ("EVNRS", "Returned to sender", "RETURNED TO SENDER"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn index_agrees_with_the_linear_scan(
            row in 0..CODES.len(),
            flip in prop::collection::vec(any::<bool>(), 0..8),
            junk in "[ a-zA-Z0-9é]{0,20}",
        ) {
            let reference = |code: &str| {
                let code = code.trim();
                CODES
                    .iter()
                    .find(|(c, ..)| c.eq_ignore_ascii_case(code))
                    .map(|(_, s, d)| (*s, *d))
            };
            let mixed: String = CODES[row]
                .0
                .chars()
                .zip(flip.iter().chain(std::iter::repeat(&false)))
                .map(|(c, f)| if *f { c.to_ascii_lowercase() } else { c })
                .collect();
            for code in [mixed.as_str(), &format!(" {mixed} "), junk.as_str()] {
                prop_assert_eq!(lookup(code), reference(code));
            }
        }
    }

    #[test]
    fn every_code_listed_once_and_well_formed() {
        for (i, (code, ..)) in CODES.iter().enumerate() {
            assert_eq!(code.len(), 5, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
            assert!(
                CODES[i + 1..].iter().all(|(c, ..)| c != code),
                "{code} listed twice"
            );
        }
    }

    #[test]
    fn every_step_renders_a_code_of_its_status() {
        for step in JourneyStep::ALL {
            let (code, ..) = step_wire(step);
            assert_eq!(
                map_code(code).status,
                step.status(),
                "{step:?} renders {code}"
            );
        }
        let m = map_code("EVZZZ");
        assert_eq!(
            (m.status, m.rule.as_str()),
            (Status::Unknown, "royalmail:unmapped=EVZZZ")
        );
    }
}
