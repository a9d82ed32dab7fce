//! Purolator `ScanType` (+ `Description`) → status taxonomy, in one ordered table,
//! and the scans the simulator renders for each journey step.
//!
//! Purolator's Tracking service types every scan with a coarse `ScanType`
//! (`Delivery`, `OnDelivery`, `ProofOfPickUp`, `InternationalOutbound`,
//! `Undeliverable`, `Other` — the scan subtypes of `TrackingService.xsd`, as
//! echoed in `ScanType`) and says what happened in a free-text `Description`.
//! `Undeliverable` in particular covers attempts, pick-up notices, returns and
//! delays alike, so the table refines each scan type by description keywords
//! (English and French, lower-cased, whitespace-normalized); the first matching
//! row wins and every scan type ends with a default row. Scan types outside the
//! table map to `Status::Unknown` (kept, never dropped).

use trackd_carrier_sdk::{JourneyStep, Status};

/// The documented scan types (`Scan` subtypes in `TrackingService.xsd` plus the
/// base `Other`).
pub const SCAN_TYPES: [&str; 6] = [
    "Delivery",
    "OnDelivery",
    "ProofOfPickUp",
    "InternationalOutbound",
    "Undeliverable",
    "Other",
];

/// One row of the mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The `ScanType` this row applies to (case-insensitive).
    pub scan_type: &'static str,
    /// Lower-case fragments of which one must occur in the description; empty
    /// for the scan type's default row.
    pub any_of: &'static [&'static str],
    /// Stable rule name used in `status_rule` (`purolator:scantype=X+text=NAME`).
    pub name: &'static str,
    /// The taxonomy status.
    pub status: Status,
    /// The finer, namespaced reason, when there is one.
    pub detail: Option<&'static str>,
}

const fn text(
    scan_type: &'static str,
    name: &'static str,
    any_of: &'static [&'static str],
    status: Status,
    detail: Option<&'static str>,
) -> Rule {
    Rule {
        scan_type,
        any_of,
        name,
        status,
        detail,
    }
}

const fn default(scan_type: &'static str, status: Status, detail: Option<&'static str>) -> Rule {
    Rule {
        scan_type,
        any_of: &[],
        name: "default",
        status,
        detail,
    }
}

use Status::{
    AttemptFailed as AF, AvailableForPickup as AP, Delivered as DL, Exception as EX,
    InTransit as IT, InfoReceived as IR, OutForDelivery as OD, Returned as RD, Returning as RG,
};

const RETURN_WORDS: &[&str] = &[
    "returned to sender",
    "return to sender",
    "returned to shipper",
    "return to shipper",
    "returned to the shipper",
    "to be returned",
    "retourné à l'expéditeur",
    "retourné à l’expéditeur",
    "retour à l'expéditeur",
    "retour à l’expéditeur",
];
const PICKUP_WORDS: &[&str] = &[
    "available for pickup",
    "available for pick up",
    "held for pickup",
    "ready for pickup",
    "to pick up at",
    "will pick up",
    "disponible pour le ramassage",
    "disponible pour la cueillette",
];
const WEATHER_WORDS: &[&str] = &["weather", "météo", "meteo"];
const REFUSED_WORDS: &[&str] = &["refused", "refusé"];
const ATTEMPT_WORDS: &[&str] = &[
    "attempted delivery",
    "delivery attempted",
    "attempt made",
    "tentative de livraison",
];
const CLOSED_WORDS: &[&str] = &[
    "customer closed",
    "business closed",
    "closed for business",
    "premises closed",
    "établissement du client fermé",
];
const ADDRESS_WORDS: &[&str] = &[
    "address correction",
    "incorrect address",
    "address incomplete",
    "correction d'adresse",
    "correction d’adresse",
];
const CUSTOMS_WORDS: &[&str] = &["customs", "douane"];
const DELAY_WORDS: &[&str] = &[
    "delay",
    "missed connection",
    "rescheduled",
    "retard",
    "late tender",
];
const MOVING_WORDS: &[&str] = &[
    "arrived at",
    "departed",
    "in transit",
    "redirected",
    "arrivé à",
    "quitté",
    "en transit",
];
const CREATED_WORDS: &[&str] = &[
    "shipment created",
    "created a label",
    "label created",
    "label information",
    "manifest received",
    "new tracking number assigned",
    "envoi créé",
    "nouveau numéro de repérage",
];
const TRANSFER_WORDS: &[&str] = &[
    "transferring to shipping centre",
    "transferring to a shipping centre",
];
const RETURNED_DELIVERY_WORDS: &[&str] = &[
    "returned to sender",
    "returned to shipper",
    "delivered to sender",
    "delivered to shipper",
    "return delivered",
    "retourné à l'expéditeur",
    "retourné à l’expéditeur",
];

/// Every row, first match wins within a scan type.
pub static RULES: &[Rule] = TABLE;

/// [`RULES`] as a constant, so the keyword filters below are computed from it
/// at compile time.
const TABLE: &[Rule] = &[
    // Delivery: the parcel was handed over (signature in ScanDetails).
    text(
        "Delivery",
        "transfer",
        TRANSFER_WORDS,
        IT,
        Some("in_transit.redirected"),
    ),
    text("Delivery", "returned", RETURNED_DELIVERY_WORDS, RD, None),
    default("Delivery", DL, None),
    // OnDelivery: "On vehicle for delivery".
    default("OnDelivery", OD, None),
    // ProofOfPickUp: "Picked up by Purolator at ..." / "Received by Purolator".
    default("ProofOfPickUp", IT, Some("in_transit.picked_up")),
    // InternationalOutbound: left Canada (DestinationPostalCode, AirportCode).
    default(
        "InternationalOutbound",
        IT,
        Some("in_transit.international"),
    ),
    // Undeliverable: every "could not deliver (yet)" reason.
    text("Undeliverable", "return", RETURN_WORDS, RG, None),
    text("Undeliverable", "pickup", PICKUP_WORDS, AP, None),
    text(
        "Undeliverable",
        "weather",
        WEATHER_WORDS,
        IT,
        Some("in_transit.weather_delay"),
    ),
    text(
        "Undeliverable",
        "refused",
        REFUSED_WORDS,
        EX,
        Some("exception.refused"),
    ),
    text(
        "Undeliverable",
        "closed",
        CLOSED_WORDS,
        AF,
        Some("attempt_failed.business_closed"),
    ),
    text("Undeliverable", "attempt", ATTEMPT_WORDS, AF, None),
    text(
        "Undeliverable",
        "address",
        ADDRESS_WORDS,
        EX,
        Some("exception.address_issue"),
    ),
    text(
        "Undeliverable",
        "customs",
        CUSTOMS_WORDS,
        EX,
        Some("exception.customs_hold"),
    ),
    text(
        "Undeliverable",
        "delay",
        DELAY_WORDS,
        IT,
        Some("in_transit.delay"),
    ),
    text("Undeliverable", "moving", MOVING_WORDS, IT, None),
    text("Undeliverable", "created", CREATED_WORDS, IR, None),
    default("Undeliverable", EX, Some("exception.undeliverable")),
    // Other: everything else (manifest, sort-facility scans, customs...).
    text("Other", "created", CREATED_WORDS, IR, None),
    text("Other", "return", RETURN_WORDS, RG, None),
    text(
        "Other",
        "customs",
        CUSTOMS_WORDS,
        EX,
        Some("exception.customs_hold"),
    ),
    text(
        "Other",
        "weather",
        WEATHER_WORDS,
        IT,
        Some("in_transit.weather_delay"),
    ),
    text("Other", "delay", DELAY_WORDS, IT, Some("in_transit.delay")),
    default("Other", IT, None),
];

/// Lower-cases and collapses whitespace so keyword matching ignores Purolator's
/// double spaces ("Receiver contacted.  Shipment available for pickup").
pub fn normalize(description: &str) -> String {
    if !description.is_ascii() {
        return description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
    }
    // ASCII (every real answer): one pass, one allocation. ASCII
    // `char::is_whitespace` is tab, LF, VT, FF, CR and space.
    let mut out = String::with_capacity(description.len());
    for word in description.split(|c: char| matches!(c, '\t'..='\r' | ' ')) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
    out
}

/// [`has_bytes`] on `str`s (the form the tests compare with `str::contains`).
#[cfg(test)]
fn has(hay: &str, needle: &str) -> bool {
    has_bytes(hay.as_bytes(), needle.as_bytes())
}

/// Substring test for short descriptions checked against dozens of keywords:
/// `str::contains` sets up a Two-Way searcher per keyword, which costs more
/// than the search itself on a 20-byte text. Byte matching is exact for UTF-8
/// (a valid needle can only match at a character boundary); lookups search
/// their normalized ASCII copy as bytes, which needs no UTF-8 check.
fn has_bytes(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    // Candidates by their first byte, then one slice compare each.
    let mut from = 0;
    while let Some(p) = hay
        .get(from..)
        .and_then(|h| h.iter().position(|&b| b == first))
    {
        let at = from + p;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Index (0..256) of the byte pair `a b` in a [`PairSet`] (a cheap hash).
const fn pair_index(a: u8, b: u8) -> u8 {
    ((a as u32 | (b as u32) << 8).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// The set of byte pairs occurring in a text, as 256 bits: a needle can only
/// occur in the text if its first and last byte pairs are in it, which
/// rejects most of the dozens of keywords a description is checked against
/// without searching (a 64-bit set let a third of them through).
#[derive(Debug, Clone, Copy, Default)]
struct PairSet([u64; 4]);

impl PairSet {
    fn insert(&mut self, a: u8, b: u8) {
        let i = pair_index(a, b);
        if let Some(word) = self.0.get_mut(usize::from(i >> 6)) {
            *word |= 1 << (i & 63);
        }
    }

    fn contains(&self, i: u8) -> bool {
        self.0
            .get(usize::from(i >> 6))
            .is_some_and(|w| (w >> (i & 63)) & 1 == 1)
    }
}

/// The set of byte pairs occurring in `hay`.
fn pairs(hay: &str) -> PairSet {
    pair_set(hay.as_bytes())
}

fn pair_set(hay: &[u8]) -> PairSet {
    let mut set = PairSet::default();
    for w in hay.windows(2) {
        if let [a, b] = *w {
            set.insert(a, b);
        }
    }
    set
}

/// The [`PairSet`] indices of a keyword's first, middle and last byte pairs
/// (three, so that a keyword passes the filter without occurring in about
/// one lookup in twenty instead of one in two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyPairs {
    first: u8,
    middle: u8,
    last: u8,
}

impl KeyPairs {
    /// `None` for a needle shorter than two bytes (no pair to test).
    const fn of(needle: &[u8]) -> Option<KeyPairs> {
        let Some((_, mid)) = needle.split_at_checked(needle.len().saturating_sub(1) / 2) else {
            return None;
        };
        match (needle, mid, needle) {
            ([a, b, ..], [m, n, ..], [.., y, z]) => Some(KeyPairs {
                first: pair_index(*a, *b),
                middle: pair_index(*m, *n),
                last: pair_index(*y, *z),
            }),
            _ => None,
        }
    }

    /// False when `needle` (of these pairs) cannot occur in the text of `set`.
    fn may_occur(self, set: &PairSet) -> bool {
        set.contains(self.first) && set.contains(self.last) && set.contains(self.middle)
    }
}

/// `has(hay, needle)`, where `set` is `pairs(hay)`.
#[cfg(test)]
fn has_filtered(hay: &str, set: PairSet, needle: &str) -> bool {
    KeyPairs::of(needle.as_bytes()).is_none_or(|k| k.may_occur(&set)) && has(hay, needle)
}

/// Most keywords of one row (checked when [`FILTERS`] is built).
const MAX_WORDS: usize = 10;

/// The [`KeyPairs`] of every row's keywords, in [`TABLE`] order, computed at
/// compile time so that a lookup tests two bits per keyword and searches only
/// for the keywords that pass.
static FILTERS: [[KeyPairs; MAX_WORDS]; TABLE.len()] = key_pairs();

const fn key_pairs() -> [[KeyPairs; MAX_WORDS]; TABLE.len()] {
    let none = KeyPairs {
        first: 0,
        middle: 0,
        last: 0,
    };
    let mut out = [[none; MAX_WORDS]; TABLE.len()];
    let mut r = 0;
    while r < TABLE.len() {
        let words = TABLE[r].any_of;
        assert!(
            words.len() <= MAX_WORDS,
            "a row has more than MAX_WORDS keywords"
        );
        let mut w = 0;
        while w < words.len() {
            match KeyPairs::of(words[w].as_bytes()) {
                Some(k) => out[r][w] = k,
                None => panic!("a keyword is shorter than two bytes"),
            }
            w += 1;
        }
        r += 1;
    }
    out
}

const fn same(a: &str, b: &str) -> bool {
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

/// `(start, end)` in [`TABLE`] of each [`SCAN_TYPES`] entry's rows, computed
/// at compile time (rows of a scan type are contiguous, checked here).
const ROW_RANGES: [(usize, usize); SCAN_TYPES.len()] = row_ranges();

const fn row_ranges() -> [(usize, usize); SCAN_TYPES.len()] {
    let mut out = [(0, 0); SCAN_TYPES.len()];
    let mut t = 0;
    while t < SCAN_TYPES.len() {
        let mut start = 0;
        while start < TABLE.len() && !same(TABLE[start].scan_type, SCAN_TYPES[t]) {
            start += 1;
        }
        assert!(start < TABLE.len(), "a scan type has no row");
        let mut end = start;
        while end < TABLE.len() && same(TABLE[end].scan_type, SCAN_TYPES[t]) {
            end += 1;
        }
        let mut rest = end;
        while rest < TABLE.len() {
            assert!(
                !same(TABLE[rest].scan_type, SCAN_TYPES[t]),
                "a scan type's rows are not contiguous"
            );
            rest += 1;
        }
        out[t] = (start, end);
        t += 1;
    }
    out
}

/// The `(start, end)` rows of one scan type (case-insensitive) in [`RULES`].
/// Every row's scan type is one of [`SCAN_TYPES`] (checked by a test), which
/// differ case-insensitively, so this is the block of the first row whose
/// scan type matches, without comparing the table's rows.
fn row_range(scan_type: &str) -> Option<(usize, usize)> {
    let t = SCAN_TYPES
        .iter()
        .position(|t| t.eq_ignore_ascii_case(scan_type))?;
    ROW_RANGES.get(t).copied()
}

/// The rows of one scan type (case-insensitive), as a slice of [`RULES`].
#[cfg(test)]
fn rows_of(scan_type: &str) -> Option<&'static [Rule]> {
    let (start, end) = row_range(scan_type)?;
    RULES.get(start..end)
}

/// Longest description normalized on the stack; longer ones allocate.
const STACK_TEXT: usize = 160;

/// [`normalize`] of an ASCII description written into `buf` instead of a new
/// `String` (every scan is looked up, and the allocation cost more than the
/// keyword search); `None` when it is not ASCII or does not fit.
#[cfg(test)]
fn normalize_ascii<'b>(description: &str, buf: &'b mut [u8; STACK_TEXT]) -> Option<&'b str> {
    normalize_ascii_pairs(description, buf).and_then(|(text, _)| std::str::from_utf8(text).ok())
}

/// [`normalize_ascii`] (as bytes: ASCII, so UTF-8 without a check) and the
/// [`PairSet`] of its result.
fn normalize_ascii_pairs<'b>(
    description: &str,
    buf: &'b mut [u8; STACK_TEXT],
) -> Option<(&'b [u8], PairSet)> {
    if !description.is_ascii() {
        return None;
    }
    match single_spaced(description, buf) {
        Some(set) => Some((buf.get(..description.len())?, set)),
        None => collapse_ascii(description, buf),
    }
}

/// [`normalize_ascii_pairs`] of a description that is already single-spaced
/// (every real one): a lower-cased copy (vectorized) and one pass over its
/// pairs that also checks the spacing; `None` when the description has other
/// whitespace, runs of spaces or spaces at its ends, or does not fit. The
/// text is `buf[..description.len()]`.
fn single_spaced(description: &str, buf: &mut [u8; STACK_TEXT]) -> Option<PairSet> {
    let text = buf.get_mut(..description.len())?;
    text.copy_from_slice(description.as_bytes());
    text.make_ascii_lowercase();
    let mut set = PairSet::default();
    // Branch-free: whitespace other than a space, or two spaces in a row.
    let mut messy = false;
    for w in text.windows(2) {
        if let [a, b] = *w {
            set.insert(a, b);
            messy |= matches!(a, b'\t'..=b'\r') | (a == b' ' && b == b' ');
        }
    }
    let edge = |b: Option<&u8>| b.is_some_and(|b| matches!(b, b'\t'..=b'\r' | b' '));
    (!messy && !edge(text.first()) && !edge(text.last())).then_some(set)
}

/// [`normalize_ascii_pairs`] byte by byte, collapsing whitespace, and the
/// pairs collected in the same pass.
fn collapse_ascii<'b>(
    description: &str,
    buf: &'b mut [u8; STACK_TEXT],
) -> Option<(&'b [u8], PairSet)> {
    let mut set = PairSet::default();
    let mut n = 0;
    // The last byte written (`None` before the first word) and whether
    // whitespace came since.
    let mut prev: Option<u8> = None;
    let mut gap = false;
    for &b in description.as_bytes() {
        // The ASCII whitespace of `char::is_whitespace`, as in `normalize`.
        if matches!(b, b'\t'..=b'\r' | b' ') {
            gap = true;
            continue;
        }
        let c = b.to_ascii_lowercase();
        if let Some(p) = prev {
            let p = if gap {
                *buf.get_mut(n)? = b' ';
                n += 1;
                set.insert(p, b' ');
                b' '
            } else {
                p
            };
            set.insert(p, c);
        }
        *buf.get_mut(n)? = c;
        n += 1;
        prev = Some(c);
        gap = false;
    }
    Some((buf.get(..n)?, set))
}

/// The rule for a scan, or `None` when the scan type is not documented.
pub fn lookup(scan_type: &str, description: &str) -> Option<&'static Rule> {
    // Undocumented scan type: no row, and no need to normalize the text.
    let (start, end) = row_range(crate::map::trim(scan_type))?;
    let rows = RULES.get(start..end)?;
    let filters = FILTERS.get(start..end)?;
    let mut buf = [0; STACK_TEXT];
    let owned;
    let (text, set) = match normalize_ascii_pairs(description, &mut buf) {
        Some(t) => t,
        None => {
            owned = normalize(description);
            (owned.as_bytes(), pairs(&owned))
        }
    };
    rows.iter()
        .zip(filters)
        .find(|(r, keys)| {
            r.any_of.is_empty()
                || r.any_of
                    .iter()
                    .zip(keys.iter())
                    .any(|(w, k)| k.may_occur(&set) && has_bytes(text, w.as_bytes()))
        })
        .map(|(r, _)| r)
}

/// `ScanType` from an `xsi:type` such as `DeliveryScan` (used only when the
/// `ScanType` element is empty).
pub fn scan_type_from_xsi(xsi_type: &str) -> Option<&'static str> {
    let local = xsi_type.rsplit(':').next().unwrap_or(xsi_type);
    let base = local.strip_suffix("Scan")?;
    SCAN_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(base))
}

/// The `xsi:type` a scan type is serialized with (`None` for the base `Scan`).
pub fn xsi_type(scan_type: &str) -> Option<&'static str> {
    match scan_type {
        "Delivery" => Some("DeliveryScan"),
        "OnDelivery" => Some("OnDeliveryScan"),
        "ProofOfPickUp" => Some("ProofOfPickUpScan"),
        "InternationalOutbound" => Some("InternationalOutboundScan"),
        "Undeliverable" => Some("UndeliverableScan"),
        _ => None,
    }
}

/// The scan (ScanType, Description) the simulator renders for a journey step;
/// descriptions follow Purolator's published scan wording.
pub fn step_scan(step: JourneyStep) -> (&'static str, &'static str) {
    match step {
        JourneyStep::LabelCreated => ("Other", "Shipment created"),
        JourneyStep::PickedUp => ("ProofOfPickUp", "Picked up by Purolator"),
        JourneyStep::ArrivedAtFacility => ("Other", "Arrived at sort facility"),
        JourneyStep::DepartedFacility => ("Other", "Departed sort facility"),
        JourneyStep::WeatherDelay => ("Undeliverable", "Delivery delayed due to weather"),
        JourneyStep::OperationalDelay => ("Undeliverable", "Shipment delayed - missed connection"),
        JourneyStep::CustomsHold => ("Undeliverable", "Shipment held by customs"),
        JourneyStep::AddressIssue => ("Undeliverable", "Address correction required"),
        JourneyStep::OutForDelivery => ("OnDelivery", "On vehicle for delivery"),
        JourneyStep::AttemptFailed => (
            "Undeliverable",
            "Attempted delivery - Receiver not available",
        ),
        JourneyStep::AvailableForPickup => (
            "Undeliverable",
            "Shipment available for pickup. Unable to contact customer",
        ),
        JourneyStep::Delivered => ("Delivery", "Shipment delivered"),
        JourneyStep::ReturnToSender => (
            "Undeliverable",
            "Shipment undeliverable - Returned to sender",
        ),
        JourneyStep::Returned => ("Delivery", "Return delivered to shipper"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn normalize_agrees_with_its_definition(
            d in "[ a-zA-Z\\-\t\n\u{b}\u{c}\rÀÉßİΣσς\u{212A}\u{a0}]{0,24}",
        ) {
            let reference = d.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
            prop_assert_eq!(normalize(&d), reference);
        }

        #[test]
        fn stack_normalize_agrees_with_normalize(
            d in "[ a-zA-Z.\\-\t\n\u{b}\u{c}\ré’]{0,40}|[ a-zA-Z]{150,170}",
        ) {
            let mut buf = [0; STACK_TEXT];
            match normalize_ascii(&d, &mut buf) {
                Some(t) => prop_assert_eq!(t, normalize(&d)),
                None => prop_assert!(!d.is_ascii() || normalize(&d).len() > STACK_TEXT),
            }
        }

        #[test]
        fn has_agrees_with_str_contains(
            hay in "[ abcé’\\-]{0,12}",
            needle in "[ abcé’\\-]{0,4}",
        ) {
            prop_assert_eq!(has(&hay, &needle), hay.contains(needle.as_str()));
        }

        #[test]
        fn filtered_has_agrees_with_str_contains(
            hay in "[ abcé’\\-]{0,16}",
            needle in "[ abcé’\\-]{0,6}",
        ) {
            prop_assert_eq!(
                has_filtered(&hay, pairs(&hay), &needle),
                hay.contains(needle.as_str())
            );
        }

        #[test]
        fn filtered_has_agrees_on_every_keyword(
            words in prop::collection::vec(prop::sample::select(&[
                "returned", "to", "sender", "available", "for", "pickup", "weather", "refusé",
                "closed", "delay", "in", "transit", "created", "customs", "à", "l’expéditeur",
                "label", "arrived", "at", "departed", "attempted", "delivery", "x",
            ][..]), 0..8),
        ) {
            let hay = words.join(" ");
            let set = pairs(&hay);
            for w in RULES.iter().flat_map(|r| r.any_of) {
                prop_assert_eq!(has_filtered(&hay, set, w), hay.contains(w), "{:?} in {:?}", w, hay);
            }
        }

        #[test]
        fn lookup_agrees_with_plain_contains(
            st in prop::sample::select(&["Delivery", "undeliverable", "Other", " OnDelivery ", "Bogus", ""][..]),
            words in prop::collection::vec(prop::sample::select(&[
                "Returned", "to", "sender", "available for", "pickup", "WEATHER", "refusé",
                "closed", "delay", "in  transit", "created", "customs", "x", "é",
            ][..]), 0..6),
        ) {
            let d = words.join(" ");
            let text = normalize(&d);
            let reference = RULES
                .iter()
                .filter(|r| r.scan_type.eq_ignore_ascii_case(st.trim()))
                .find(|r| r.any_of.is_empty() || r.any_of.iter().any(|w| text.contains(w)));
            prop_assert_eq!(lookup(st, &d), reference);
        }
    }

    #[test]
    fn rows_of_a_scan_type_are_contiguous() {
        for st in SCAN_TYPES {
            let first = RULES.iter().position(|r| r.scan_type == st);
            let last = RULES.iter().rposition(|r| r.scan_type == st);
            let (Some(first), Some(last)) = (first, last) else {
                panic!("{st} has no row");
            };
            assert!(
                RULES[first..=last].iter().all(|r| r.scan_type == st),
                "{st}"
            );
            assert_eq!(
                rows_of(&st.to_ascii_uppercase()),
                Some(&RULES[first..=last])
            );
        }
        assert_eq!(rows_of("Bogus"), None);
    }

    #[test]
    fn every_scan_type_has_a_default_row_last() {
        for st in SCAN_TYPES {
            let rows: Vec<_> = RULES.iter().filter(|r| r.scan_type == st).collect();
            let last = rows.last().copied();
            assert!(
                last.is_some_and(|r| r.any_of.is_empty()),
                "{st} lacks a final default row"
            );
            assert_eq!(
                rows.iter().filter(|r| r.any_of.is_empty()).count(),
                1,
                "{st}: exactly one default"
            );
        }
        assert!(RULES.iter().all(|r| SCAN_TYPES.contains(&r.scan_type)));
    }

    #[test]
    fn keywords_are_normalized() {
        for r in RULES {
            for w in r.any_of {
                assert_eq!(&normalize(w), w, "{w}");
            }
        }
    }

    #[test]
    fn xsi_types_round_trip() {
        for st in SCAN_TYPES {
            if let Some(x) = xsi_type(st) {
                assert_eq!(scan_type_from_xsi(x), Some(st));
                assert_eq!(scan_type_from_xsi(&format!("a:{x}")), Some(st));
            }
        }
        assert_eq!(scan_type_from_xsi("Scan"), None);
        assert_eq!(scan_type_from_xsi("Foo"), None);
    }

    #[test]
    fn lookups() {
        let s = |t, d| lookup(t, d).map(|r| r.status);
        assert_eq!(
            s(
                "Undeliverable",
                "Receiver contacted.  Shipment available for pickup"
            ),
            Some(AP)
        );
        assert_eq!(
            s("undeliverable", "Envoi retourné à l’expéditeur"),
            Some(RG)
        );
        assert_eq!(s("Undeliverable", "Something new"), Some(EX));
        assert_eq!(s("Other", "New Tracking Number Assigned -"), Some(IR));
        assert_eq!(s("Delivery", "Shipment delivered"), Some(DL));
        assert_eq!(s("Bogus", "Shipment delivered"), None);
    }
}
