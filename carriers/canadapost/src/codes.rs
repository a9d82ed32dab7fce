//! Canada Post `event-identifier` → status taxonomy, and the codes the simulator
//! renders for each journey step.
//!
//! Codes and their descriptions come from Canada Post's "Tracking scan events"
//! code table as mirrored in public integrations (see `fixtures/SOURCES.md`).
//! Identifiers arrive zero-padded (`0174`) or not (`20`); lookups use the number.

use trackd_carrier_sdk::{JourneyStep, Status};

/// How an event takes part in the status decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Moves the parcel along its journey: its status is the parcel's status.
    Progress,
    /// Says something about the parcel (ETA moved, duties paid, delivery
    /// preference, COD remittance) without moving it: it inherits the status of
    /// the progress event before it, so it never fakes a regression.
    Info,
}

/// One row of the code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The `event-identifier` as a number (padding dropped).
    pub code: u16,
    /// The taxonomy status the event means.
    pub status: Status,
    /// The finer, namespaced reason (`exception.customs_hold`), when there is one.
    pub detail: Option<&'static str>,
    /// Whether the event moves the parcel or only informs.
    pub kind: Kind,
}

const fn p(code: u16, status: Status, detail: Option<&'static str>) -> Rule {
    Rule {
        code,
        status,
        detail,
        kind: Kind::Progress,
    }
}

const fn info(code: u16) -> Rule {
    Rule {
        code,
        status: Status::InTransit,
        detail: None,
        kind: Kind::Info,
    }
}

use Status::{
    AttemptFailed as AF, AvailableForPickup as AP, Delivered as DL, Exception as EX,
    InTransit as IT, InfoReceived as IR, OutForDelivery as OD, Returning as RG,
};

const ADDRESS: Option<&str> = Some("exception.address_issue");
const CUSTOMS: Option<&str> = Some("exception.customs_hold");
const HELD: Option<&str> = Some("exception.held");
const UNDELIVERABLE: Option<&str> = Some("exception.undeliverable");
const DELAY: Option<&str> = Some("in_transit.delay");
const OPS_DELAY: Option<&str> = Some("in_transit.operational_delay");
const REDIRECTED: Option<&str> = Some("in_transit.redirected");

/// Every documented identifier we map, sorted by code (binary-searched).
pub static RULES: &[Rule] = &[
    p(20, DL, Some("delivered.signature_recorded")),
    p(21, DL, Some("delivered.verbal_signature")),
    p(100, IT, None),
    p(101, IT, None),
    p(102, IT, None),
    p(103, IT, None),
    p(104, IT, None),
    p(105, IT, None),
    p(106, IT, None),
    p(107, IT, None),
    p(113, IT, None),
    p(114, IT, None),
    p(115, IT, None),
    p(116, IT, None),
    p(117, EX, CUSTOMS),
    p(118, EX, HELD),
    p(120, EX, ADDRESS),
    p(121, EX, Some("exception.refused")),
    p(127, EX, CUSTOMS),
    p(130, IT, None),
    p(150, EX, Some("exception.disposed")),
    info(152),
    p(156, AP, Some("available_for_pickup.final_notice")),
    p(159, IT, Some("in_transit.weather_delay")),
    p(160, IT, DELAY),
    p(161, IT, DELAY),
    p(162, IT, OPS_DELAY),
    p(163, IT, DELAY),
    p(167, RG, None),
    p(168, RG, None),
    p(169, RG, None),
    p(170, IT, None),
    p(171, EX, ADDRESS),
    p(172, IT, OPS_DELAY),
    p(173, EX, ADDRESS),
    p(174, OD, None),
    p(175, IT, None),
    p(179, EX, UNDELIVERABLE),
    p(181, RG, None),
    p(182, RG, None),
    p(183, RG, None),
    p(184, RG, None),
    info(190),
    info(198),
    p(400, IT, None),
    p(405, IT, None),
    p(410, IT, None),
    p(500, OD, None),
    p(610, DL, None),
    p(611, DL, None),
    p(612, DL, None),
    p(613, DL, None),
    p(614, DL, None),
    p(615, DL, None),
    p(616, DL, None),
    p(617, DL, None),
    p(618, DL, None),
    p(619, DL, None),
    p(620, DL, None),
    p(621, IT, DELAY),
    p(622, IT, DELAY),
    p(623, IT, DELAY),
    p(624, IT, DELAY),
    p(625, IT, DELAY),
    p(626, IT, DELAY),
    p(627, IT, DELAY),
    p(628, IT, DELAY),
    p(629, IT, REDIRECTED),
    p(630, AF, Some("attempt_failed.locker_unavailable")),
    p(700, IT, None),
    p(701, IT, None),
    p(710, EX, Some("exception.damaged")),
    p(800, IT, None),
    p(804, IT, None),
    p(810, EX, CUSTOMS),
    p(815, IT, None),
    p(900, IT, None),
    p(910, IT, None),
    p(1100, RG, Some("returning.customs_refused")),
    info(1200),
    info(1203),
    info(1210),
    info(1214),
    info(1215),
    info(1216),
    info(1220),
    info(1221),
    info(1223),
    info(1224),
    info(1225),
    info(1230),
    info(1232),
    info(1234),
    p(1240, IT, None),
    p(1241, IT, REDIRECTED),
    p(1244, IT, None),
    p(1245, EX, Some("exception.redirect_failed")),
    p(1300, IT, None),
    p(1301, IT, None),
    p(1302, IT, None),
    p(1303, IT, None),
    p(1405, DL, Some("delivered.parcel_locker")),
    p(1406, DL, Some("delivered.parcel_locker")),
    p(1407, AP, None),
    p(1408, DL, None),
    p(1409, DL, None),
    p(1410, EX, HELD),
    p(1411, AF, Some("attempt_failed.business_closed")),
    p(1412, EX, ADDRESS),
    p(1414, IT, DELAY),
    p(1415, RG, Some("returning.address_issue")),
    p(1416, RG, Some("returning.address_issue")),
    p(1417, RG, Some("returning.refused")),
    p(1418, RG, Some("returning.no_proof_of_age")),
    p(1419, RG, Some("returning.unclaimed")),
    p(1420, RG, None),
    p(1421, DL, None),
    p(1422, DL, None),
    p(1423, DL, None),
    p(1424, DL, None),
    p(1425, DL, None),
    p(1426, DL, None),
    p(1427, DL, None),
    p(1428, DL, None),
    p(1429, DL, None),
    p(1430, DL, None),
    p(1431, DL, None),
    p(1432, DL, None),
    p(1433, DL, None),
    p(1434, DL, None),
    p(1435, AF, Some("attempt_failed.notice_card_left")),
    p(1436, AF, Some("attempt_failed.notice_card_left")),
    p(1437, AF, Some("attempt_failed.notice_card_left")),
    p(1438, AF, Some("attempt_failed.notice_card_left")),
    p(1441, DL, Some("delivered.community_mailbox")),
    p(1442, DL, Some("delivered.community_mailbox")),
    p(1443, AF, Some("attempt_failed.rescheduled")),
    p(1444, IT, DELAY),
    p(1450, EX, HELD),
    p(1461, DL, None),
    p(1462, DL, None),
    p(1463, DL, None),
    p(1465, DL, None),
    p(1466, DL, None),
    p(1467, DL, None),
    p(1468, DL, None),
    p(1469, DL, None),
    p(1471, DL, None),
    p(1472, DL, None),
    p(1473, DL, None),
    p(1475, DL, None),
    p(1476, DL, None),
    p(1479, AF, Some("attempt_failed.notice_card_left")),
    p(1480, IT, REDIRECTED),
    p(1481, RG, Some("returning.address_issue")),
    p(1482, RG, Some("returning.refused")),
    p(1483, EX, UNDELIVERABLE),
    p(1484, EX, HELD),
    p(1487, EX, CUSTOMS),
    p(1488, AF, Some("attempt_failed.notice_card_left")),
    p(1490, IT, REDIRECTED),
    p(1491, RG, Some("returning.address_issue")),
    p(1492, RG, Some("returning.refused")),
    p(1493, EX, UNDELIVERABLE),
    p(1494, EX, HELD),
    p(1495, EX, CUSTOMS),
    p(1496, DL, None),
    p(1497, DL, None),
    p(1498, DL, None),
    p(1499, DL, None),
    p(1701, AP, None),
    p(1703, IT, None),
    p(1705, IT, None),
    p(2001, DL, Some("delivered.photo_recorded")),
    info(2101),
    p(2300, IT, None),
    p(2407, AP, None),
    p(2410, EX, HELD),
    p(2411, AF, Some("attempt_failed.business_closed")),
    p(2412, EX, ADDRESS),
    p(2414, IT, DELAY),
    p(2500, IT, None),
    p(2501, IT, None),
    p(2600, RG, None),
    p(2601, RG, None),
    p(2802, RG, None),
    p(3000, IR, None),
    p(3001, RG, None),
    p(3002, IR, Some("info_received.return_label")),
    p(4000, IT, None),
    p(4100, IT, None),
    p(4202, IT, None),
    p(4310, IT, None),
    p(4311, IT, None),
    p(4330, IT, None),
    p(4400, IT, None),
    p(4450, IT, None),
    p(4500, IT, None),
    p(4550, IT, None),
    p(4600, IT, None),
    p(4650, EX, UNDELIVERABLE),
    p(4700, EX, HELD),
    p(4900, IT, None),
    p(4950, IT, None),
    p(5201, IT, None),
    p(8901, IT, None),
];

/// The numeric value of an identifier (`"0174"` → 174), if it is a number.
pub fn code_number(identifier: &str) -> Option<u16> {
    let t = identifier.trim();
    if t.is_empty() || t.len() > 5 {
        return None;
    }
    // Digits folded by hand (at most 5, so no overflow): `str::parse` costs more
    // than the table search, and it runs on every event.
    let n = t.bytes().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })?;
    u16::try_from(n).ok()
}

/// The table row for an identifier, if it is documented.
pub fn lookup(identifier: &str) -> Option<&'static Rule> {
    let n = code_number(identifier)?;
    RULES
        .binary_search_by_key(&n, |r| r.code)
        .ok()
        .and_then(|i| RULES.get(i))
}

/// Codes whose text may announce that the item is travelling back to its sender
/// (Canada Post reuses them on the way back; the text tells which way it goes).
const RETURN_TEXT_CODES: &[u16] = &[174, 1412, 1479, 2412];

/// True when the event text says the item goes (or went) back to the sender, in
/// English or French, as Canada Post words it on reused codes.
pub fn says_returned_to_sender(description: &str) -> bool {
    if description.is_ascii() {
        return says_returned_to_sender_ascii(description.as_bytes());
    }
    let d = description.to_lowercase();
    ENGLISH_RETURN_TEXTS
        .iter()
        .chain(FRENCH_RETURN_TEXTS)
        .any(|needle| d.contains(needle))
}

/// How Canada Post says "returned to sender" in English (lower case, ASCII).
const ENGLISH_RETURN_TEXTS: &[&str] = &[
    "returned to sender",
    "returned to the sender",
    "return to sender",
];

/// How Canada Post says "returned to sender" in French (lower case, not ASCII).
const FRENCH_RETURN_TEXTS: &[&str] = &[
    "renvoyé à l'expéditeur",
    "renvoyé avec succès à l'expéditeur",
    "renvoyer article à expéditeur",
];

/// `says_returned_to_sender` of an ASCII text, without lowercasing it into a new
/// string: ASCII lowercases byte by byte, and the French texts (not ASCII) cannot
/// occur in it, so only the English ones are compared, at each `r`.
fn says_returned_to_sender_ascii(d: &[u8]) -> bool {
    (0..d.len())
        .filter(|&i| d[i].eq_ignore_ascii_case(&b'r'))
        .any(|i| {
            ENGLISH_RETURN_TEXTS.iter().any(|needle| {
                d[i..]
                    .get(..needle.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            })
        })
}

/// Whether a code's own text can turn it into a return-leg event.
pub fn return_text_applies(rule: &Rule) -> bool {
    rule.status == Status::Delivered || RETURN_TEXT_CODES.contains(&rule.code)
}

/// The genuine Canada Post identifier and English text the simulator renders for
/// each journey step (all present in the table above).
pub fn step_event(step: JourneyStep) -> (&'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => ("3000", "Electronic information submitted by shipper"),
        JourneyStep::PickedUp => ("2300", "Item picked up by Canada Post"),
        JourneyStep::ArrivedAtFacility => ("0405", "Item arrived"),
        JourneyStep::DepartedFacility => ("0410", "Item departed"),
        JourneyStep::WeatherDelay => (
            "0159",
            "Delivery may be delayed due to extreme weather conditions",
        ),
        JourneyStep::OperationalDelay => (
            "0162",
            "Delivery may be delayed due to transportation delay",
        ),
        JourneyStep::CustomsHold => ("0810", "Item held by Customs"),
        JourneyStep::AddressIssue => (
            "0173",
            "Customer addressing error found; attempting to correct. Possible delay",
        ),
        JourneyStep::OutForDelivery => ("0174", "Item out for delivery"),
        JourneyStep::AttemptFailed => (
            "1479",
            "Attempted delivery. Notice card left indicating where item can be picked up.",
        ),
        JourneyStep::AvailableForPickup => ("1701", "Item available for pickup at Post Office"),
        JourneyStep::Delivered => ("1496", "Item successfully delivered"),
        JourneyStep::ReturnToSender => ("1420", "Item being returned to sender"),
        JourneyStep::Returned => ("1496", "Item successfully returned to sender"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in RULES.windows(2) {
            assert!(w[0].code < w[1].code, "{} then {}", w[0].code, w[1].code);
        }
    }

    #[test]
    fn return_texts_match_in_any_case() {
        for (text, returned) in [
            ("Item successfully returned to sender", true),
            ("ITEM RETURNED TO THE SENDER", true),
            ("Return To Sender requested", true),
            ("Item successfully delivered", false),
            ("returned to", false),
            ("Article renvoyé à l'expéditeur", true),
            ("ARTICLE RENVOYÉ AVEC SUCCÈS À L'EXPÉDITEUR", true),
            ("Item returned to sender (renvoyé)", true),
            ("Livré", false),
            ("", false),
        ] {
            assert_eq!(says_returned_to_sender(text), returned, "{text:?}");
        }
    }

    #[test]
    fn padded_and_plain_identifiers_match() {
        assert_eq!(
            lookup("0174").map(|r| r.status),
            Some(Status::OutForDelivery)
        );
        assert_eq!(
            lookup("174").map(|r| r.status),
            Some(Status::OutForDelivery)
        );
        assert_eq!(lookup("20").map(|r| r.status), Some(Status::Delivered));
        assert!(lookup("9999").is_none());
        assert!(lookup("ABC").is_none());
        assert!(lookup("").is_none());
    }
}
