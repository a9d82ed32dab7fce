//! PostNL status codes and event codes → trackd's taxonomy.
//!
//! PostNL documents (developer portal, "T&T status codes") a `StatusCode` per
//! shipment status, grouped in phases, and for every event code the status it
//! belongs to ("status option"). [`STATUS_CODES`] maps each status code once;
//! [`EVENT_CODES`] lists each event code once with its documented status code
//! and, where the event is more specific than its group (a return inside
//! "not delivered", customs clearance done inside "at customs"), its own
//! mapping. Codes missing here parse as `Status::Unknown`.

use trackd_carrier_sdk::{JourneyStep, Status};

use Status::{
    AttemptFailed as Att, AvailableForPickup as Pick, Cancelled as Can, Delivered as Del,
    Exception as Exc, InTransit as Tr, InfoReceived as Info, OutForDelivery as Ofd,
    Returned as Ret, Returning as Rtg,
};

/// How a PostNL code maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// A status with an optional namespaced detail.
    To(Status, Option<&'static str>),
    /// PostNL's "99, Niet van toepassing": the event does not change the status.
    NotApplicable,
}

use Map::{NotApplicable as NA, To};

/// `Status.StatusCode` (and `PhaseCode` group) → taxonomy, one row per code.
#[rustfmt::skip]
pub const STATUS_CODES: &[(&str, Map)] = &[
    ("1",  To(Info, None)),                                  // Zending voorgemeld (phase 1)
    ("2",  To(Tr, Some("in_transit.accepted"))),             // in ontvangst genomen
    ("3",  To(Tr, Some("in_transit.picked_up"))),            // afgehaald
    ("4",  To(Exc, Some("exception.collection_failed"))),    // niet afgehaald
    ("13", To(Info, None)),                                  // voorgemeld: nog niet aangenomen
    ("14", To(Exc, Some("exception.not_received"))),         // voorgemeld: definitief niet aangenomen
    ("15", To(Exc, Some("exception.lost"))),                 // manco collectie
    ("18", To(Exc, Some("exception.lost"))),                 // definitief manco
    ("19", To(Exc, Some("exception.rejected"))),             // zending afgekeurd
    ("5",  To(Tr, None)),                                    // gesorteerd (phase 2)
    ("6",  To(Tr, Some("in_transit.operational_delay"))),    // niet gesorteerd
    ("16", To(Exc, Some("exception.lost"))),                 // manco sortering
    ("21", To(Exc, Some("exception.held"))),                 // in voorraad
    ("7",  To(Ofd, None)),                                   // in distributieproces (phase 3)
    ("8",  To(Att, None)),                                   // niet afgeleverd
    ("9",  To(Exc, Some("exception.customs_hold"))),         // bij douane
    ("17", To(Exc, Some("exception.lost"))),                 // manco distributie
    ("20", To(Tr, Some("in_transit.customs"))),              // in inklaringsproces
    ("11", To(Del, None)),                                   // afgeleverd (phase 4)
    ("12", To(Pick, None)),                                  // beschikbaar op afhaallocatie
    ("22", To(Del, Some("delivered.collected"))),            // afgehaald van postkantoor
    ("23", To(Tr, Some("in_transit.picked_up"))),            // afhaalopdracht gecollecteerd
    ("27", To(Rtg, Some("returning.undeliverable"))),        // retour onbestelbaar
    ("28", To(Rtg, Some("returning.wrong_delivery_code"))),  // retour foutieve aflevercode
    ("31", To(Tr, Some("in_transit.customs_released"))),     // klaar voor transport naar bestemming
    ("99", NA),                                              // niet van toepassing
];

/// Event codes: (code, documented status code, own mapping when more specific
/// than the status code's).
#[rustfmt::skip]
pub const EVENT_CODES: &[(&str, &str, Option<Map>)] = &[
    // 1 pre-alerted
    ("A01", "1", None), ("A10", "1", None), ("A71", "1", None), ("F01", "1", None),
    ("J93", "1", None), ("M03", "1", None), ("X80", "1", None), ("X81", "1", None),
    // 2 accepted, 3 collected
    ("B01", "2", None), ("X40", "2", None), ("B04", "3", None), ("Z80", "3", None),
    // 4 not collected (pick-up from the sender failed); H31: sender cancelled
    ("D02", "4", None), ("D03", "4", None), ("D04", "4", None), ("D05", "4", None),
    ("D06", "4", None), ("D07", "4", None), ("D09", "4", None), ("D40", "4", None),
    ("D41", "4", None), ("X42", "4", None), ("X43", "4", None), ("Y80", "4", None),
    ("Y81", "4", None), ("H31", "4", Some(To(Can, None))),
    // 5 sorted (recipient choices, re-routing); J07: closed, postponed a day
    ("A08", "5", None), ("A09", "5", None), ("A11", "5", None), ("A12", "5", None),
    ("A13", "5", None), ("A27", "5", None), ("A28", "5", None), ("A29", "5", None),
    ("A30", "5", None), ("A31", "5", None), ("A32", "5", None), ("A34", "5", None),
    ("A35", "5", None), ("A42", "5", None), ("A43", "5", None), ("A99", "5", None),
    ("J01", "5", None), ("J06", "5", None),
    ("J07", "5", Some(To(Tr, Some("in_transit.operational_delay")))),
    ("J09", "5", None), ("J10", "5", None), ("J14", "5", None), ("J16", "5", None),
    ("J17", "5", None), ("J22", "5", None), ("J24", "5", None), ("J26", "5", None),
    ("J27", "5", None), ("J28", "5", None), ("J33", "5", None), ("J36", "5", None),
    ("J61", "5", None), ("J90", "5", None), ("Q12", "5", None), ("Q13", "5", None),
    ("R01", "5", None), ("R06", "5", None), ("X01", "5", None), ("X02", "5", None),
    ("X07", "5", None), ("X08", "5", None), ("X11", "5", None), ("X14", "5", None),
    ("X17", "5", None), ("X20", "5", None), ("X21", "5", None), ("X22", "5", None),
    ("X50", "5", None), ("X51", "5", None), ("X68", "5", None), ("Y23", "5", None),
    ("Y24", "5", None), ("Y33", "5", None), ("Y35", "5", None), ("Y60", "5", None),
    ("Y61", "5", None), ("Y62", "5", None),
    // 6 not sorted
    ("D08", "6", None), ("H10", "6", None), ("K01", "6", None), ("K02", "6", None),
    ("K03", "6", None), ("K30", "6", None), ("K92", "6", None), ("V01", "6", None),
    ("V06", "6", None), ("Y07", "6", None),
    // 7 out for delivery
    ("H32", "7", None), ("H35", "7", None), ("J05", "7", None), ("J08", "7", None),
    ("J29", "7", None), ("J39", "7", None), ("J41", "7", None), ("J42", "7", None),
    ("J45", "7", None), ("J47", "7", None), ("J48", "7", None), ("J55", "7", None),
    ("J94", "7", None), ("J95", "7", None), ("K14", "7", None), ("K15", "7", None),
    ("K70", "7", None), ("Q15", "7", None), ("S05", "7", None), ("T02", "7", None),
    ("X04", "7", None), ("X06", "7", None), ("X19", "7", None), ("X55", "7", None),
    ("Y05", "7", None),
    // 8 not delivered; returns, address problems and "missing" are more specific
    ("H01", "8", None), ("H02", "8", None), ("H03", "8", None), ("H04", "8", None),
    ("H05", "8", None), ("H07", "8", None), ("H08", "8", None), ("H09", "8", None),
    ("H12", "8", None), ("H20", "8", None), ("H22", "8", None), ("H24", "8", None),
    ("H34", "8", None), ("H36", "8", None), ("H38", "8", None), ("H51", "8", None),
    ("H52", "8", None), ("J92", "8", None), ("K16", "8", None), ("K41", "8", None),
    ("K43", "8", None), ("Y01", "8", None), ("Y02", "8", None), ("Y03", "8", None),
    ("Y04", "8", None), ("Y08", "8", None), ("Y09", "8", None), ("Y10", "8", None),
    ("Y11", "8", None), ("Y12", "8", None), ("Y13", "8", None), ("Y14", "8", None),
    ("Y15", "8", None), ("Y16", "8", None), ("Y17", "8", None),
    ("Y18", "8", Some(To(Rtg, Some("returning.damaged")))),
    ("Y19", "8", Some(To(Rtg, Some("returning.prohibited_contents")))),
    ("Y20", "8", Some(To(Rtg, Some("returning.not_collected")))),
    ("Y21", "8", Some(To(Rtg, None))),
    ("Y22", "8", Some(To(Exc, Some("exception.address_issue")))),
    ("Y30", "8", Some(To(Exc, Some("exception.address_issue")))),
    ("Y31", "8", Some(To(Exc, Some("exception.address_issue")))),
    ("Y32", "8", Some(To(Exc, Some("exception.address_issue")))),
    ("Y36", "8", None), ("Y38", "8", None), ("Y39", "8", None),
    ("Y40", "8", Some(To(Rtg, Some("returning.not_collected")))),
    ("Y41", "8", None), ("Y42", "8", None), ("Y43", "8", None), ("Y44", "8", None),
    ("Y50", "8", None),
    ("Y71", "8", Some(To(Exc, Some("exception.lost")))),
    // 9 at customs; declarations filed / completed are progress
    ("J59", "9", Some(To(Ofd, None))),
    ("X30", "9", None),
    ("X60", "9", Some(To(Tr, Some("in_transit.customs")))),
    ("X61", "9", Some(To(Tr, Some("in_transit.customs_released")))),
    ("X62", "9", Some(To(Tr, Some("in_transit.customs")))),
    ("X63", "9", None), ("X64", "9", None),
    ("X65", "9", Some(To(Tr, Some("in_transit.customs_released")))),
    ("X66", "9", None), ("Y25", "9", None),
    ("Y29", "9", Some(To(Exc, Some("exception.destroyed")))),
    // 11 delivered; returns delivered to the sender and storage are specific
    ("I01", "11", None), ("I03", "11", None), ("I05", "11", None), ("I06", "11", None),
    ("I07", "11", Some(To(Rtg, None))),
    ("I09", "11", None), ("I10", "11", Some(To(Del, Some("delivered.neighbour")))),
    ("I11", "11", None), ("I12", "11", None),
    ("I22", "11", Some(To(Del, Some("delivered.collected")))),
    ("I23", "11", None),
    ("J63", "11", Some(To(Ret, None))),
    ("J91", "11", None),
    ("K91", "11", Some(To(Exc, Some("exception.held")))),
    ("X24", "11", None),
    ("Y26", "11", Some(To(Pick, None))),
    ("Z01", "11", None), ("Z02", "11", None), ("Z03", "11", None), ("Z04", "11", None),
    ("Z05", "11", Some(To(Del, Some("delivered.neighbour")))),
    ("Z06", "11", Some(To(Del, Some("delivered.collected")))),
    ("Z08", "11", None), ("Z09", "11", None),
    // 12 at a pick-up location
    ("I08", "12", None), ("J02", "12", None), ("J12", "12", None), ("J23", "12", None),
    ("J52", "12", None), ("X05", "12", None),
    // 13/14 pre-alerted, not (yet) handed in
    ("A20", "13", None), ("A21", "13", None), ("A22", "13", None), ("Q02", "13", None),
    ("X03", "13", None), ("M01", "14", None),
    // 15–17 missing, 19 rejected, 20 clearance, 21 in storage
    ("G03", "15", None), ("G01", "16", None), ("G02", "16", None), ("G05", "16", None),
    ("H23", "17", None), ("K90", "17", None),
    ("F03", "19", None), ("F04", "19", None), ("F05", "19", None), ("F06", "19", None),
    ("F07", "19", None), ("F08", "19", None), ("F10", "19", None),
    ("A76", "20", None), ("X10", "20", None), ("X67", "20", None),
    ("V02", "21", None), ("V03", "21", None), ("V04", "21", None), ("V11", "21", None),
    ("V12", "21", None), ("V13", "21", None), ("V21", "21", None), ("V22", "21", None),
    ("V23", "21", None), ("V31", "21", None), ("V50", "21", None),
    // 22 collected from a post office, 23 collection order collected
    ("I02", "22", None), ("C01", "23", None),
    // 27/28 return, 31 ready for transport to the destination country
    ("H16", "27", None), ("H25", "27", None), ("Y37", "28", None),
    ("A72", "31", None), ("A74", "31", None), ("A75", "31", None), ("X15", "31", None),
    // 99 not applicable
    ("A41", "99", None), ("A46", "99", None), ("A73", "99", None), ("A94", "99", None),
    ("B06", "99", None), ("C02", "99", None), ("H15", "99", None), ("H17", "99", None),
    ("H18", "99", None), ("H30", "99", None), ("J56", "99", None), ("J80", "99", None),
    ("K25", "99", None), ("K71", "99", None), ("P20", "99", None), ("P21", "99", None),
    ("P22", "99", None), ("P23", "99", None), ("P24", "99", None), ("Q14", "99", None),
    ("Q16", "99", None), ("Q17", "99", None), ("Q18", "99", None), ("Q19", "99", None),
    ("X16", "99", None), ("X52", "99", None), ("Y45", "99", None), ("Y46", "99", None),
    ("Y47", "99", None), ("Y48", "99", None), ("Y64", "99", None), ("Y65", "99", None),
    ("Y66", "99", None),
];

/// The mapping of a `StatusCode` (leading zeros ignored: `"02"` is `"2"`).
pub fn status_code(code: &str) -> Option<Map> {
    let code = code.trim().trim_start_matches('0');
    STATUS_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
}

/// Where a code of the shape every event code has (a capital letter and two
/// digits) sits in [`EVENT_ROW_BY_CODE`]; `None` for any other text.
const fn code_slot(code: &[u8]) -> Option<usize> {
    match code {
        [l @ b'A'..=b'Z', d1 @ b'0'..=b'9', d2 @ b'0'..=b'9'] => {
            Some((*l - b'A') as usize * 100 + (*d1 - b'0') as usize * 10 + (*d2 - b'0') as usize)
        }
        _ => None,
    }
}

/// For every possible event code, its first row in [`EVENT_CODES`] (plus
/// one; 0 for none): a lookup is one index instead of comparing the code
/// with every row. Every row's code has the shape `code_slot` reads (checked
/// here), so a text of another shape matches no row.
const EVENT_ROW_BY_CODE: [u16; 2600] = {
    assert!(
        EVENT_CODES.len() < u16::MAX as usize,
        "rows are stored as u16"
    );
    let mut table = [0u16; 2600];
    let mut i = EVENT_CODES.len();
    // Backwards, so the first row of a repeated code is the one kept.
    while i > 0 {
        i -= 1;
        match code_slot(EVENT_CODES[i].0.as_bytes()) {
            Some(slot) => table[slot] = i as u16 + 1,
            None => panic!("an event code is not a capital letter and two digits"),
        }
    }
    table
};

/// The mapping of an event code: its own, else its status code's. Matched
/// ignoring ASCII case, as the table codes are.
pub fn event_code(code: &str) -> Option<Map> {
    let code = code.trim().as_bytes();
    let upper = match code {
        [l, d1, d2] => [l.to_ascii_uppercase(), *d1, *d2],
        _ => return None,
    };
    let row = usize::from(EVENT_ROW_BY_CODE[code_slot(&upper)?]).checked_sub(1)?;
    let (_, group, own) = EVENT_CODES.get(row)?;
    own.or_else(|| status_code(group))
}

/// What the simulator renders for a journey step: event code, event text,
/// status code, phase code.
pub fn step_wire(step: JourneyStep) -> (&'static str, &'static str, &'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => (
            "A01",
            "Shipment expected, but not yet arrived at PostNL",
            "1",
            "1",
        ),
        JourneyStep::PickedUp => ("B01", "Shipment received by PostNL", "2", "1"),
        JourneyStep::ArrivedAtFacility => ("J06", "Shipment sorted in sorting centre", "5", "2"),
        JourneyStep::DepartedFacility => ("J01", "Shipment has been sorted", "5", "2"),
        JourneyStep::WeatherDelay => (
            "J07",
            "Closed: delivery postponed until the following working day",
            "5",
            "2",
        ),
        JourneyStep::OperationalDelay => ("K01", "Shipment not sorted", "6", "2"),
        JourneyStep::CustomsHold => (
            "Y25",
            "The shipment is with the customs authorities",
            "9",
            "3",
        ),
        JourneyStep::AddressIssue => ("Y32", "Shipment not delivered, address unknown", "8", "3"),
        JourneyStep::OutForDelivery => ("J05", "Courier is on the way", "7", "3"),
        JourneyStep::AttemptFailed => (
            "Y42",
            "Shipment not delivered, addressee unavailable",
            "8",
            "3",
        ),
        JourneyStep::AvailableForPickup => {
            ("I08", "Shipment available at PostNL outlet", "12", "4")
        }
        JourneyStep::Delivered => ("I01", "Shipment delivered", "11", "4"),
        JourneyStep::ReturnToSender => ("Y21", "Shipment returned to sender", "8", "3"),
        JourneyStep::Returned => ("J63", "Return shipment delivered", "11", "4"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `event_code` as it was: a scan of every row.
    fn event_code_ref(code: &str) -> Option<Map> {
        let code = code.trim();
        let (_, group, own) = EVENT_CODES
            .iter()
            .find(|(c, ..)| c.eq_ignore_ascii_case(code))?;
        own.or_else(|| status_code(group))
    }

    proptest! {
        #[test]
        fn event_code_agrees_with_the_scan(
            row in 0..EVENT_CODES.len(),
            lower in any::<bool>(),
            pad in "[ \t]{0,2}",
            other in "[A-Za-z0-9 é]{0,4}",
        ) {
            let code = EVENT_CODES[row].0;
            let code = if lower { code.to_ascii_lowercase() } else { code.to_string() };
            let padded = format!("{pad}{code}{pad}");
            prop_assert_eq!(event_code(&padded), event_code_ref(&padded));
            prop_assert_eq!(event_code(&other), event_code_ref(&other));
        }
    }

    #[test]
    fn every_code_listed_once_with_a_known_group() {
        for (i, (code, group, _)) in EVENT_CODES.iter().enumerate() {
            assert!(
                EVENT_CODES[i + 1..].iter().all(|(c, ..)| c != code),
                "{code} listed twice"
            );
            assert!(status_code(group).is_some(), "{code}: group {group}");
        }
        for (i, (code, _)) in STATUS_CODES.iter().enumerate() {
            assert!(
                STATUS_CODES[i + 1..].iter().all(|(c, _)| c != code),
                "{code}"
            );
        }
        assert_eq!(status_code("02"), status_code("2"));
        assert_eq!(event_code("ZZZ"), None);
        assert_eq!(event_code("A41"), Some(Map::NotApplicable));
    }

    #[test]
    fn every_step_renders_codes_of_its_status() {
        for step in JourneyStep::ALL {
            let (event, _, _, _) = step_wire(step);
            assert!(
                matches!(event_code(event), Some(Map::To(s, _)) if s == step.status()),
                "{step:?} renders {event}"
            );
        }
    }
}
