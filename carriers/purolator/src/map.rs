//! Raw Purolator documents → the normalized model and typed errors.

use crate::codes;
use crate::parse::{RawError, RawFault, RawInfo, RawScan};
use chrono::{NaiveDate, NaiveTime};
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, Snapshot, Status, Timestamp,
};

/// Canadian province and territory codes (plus `PQ`, the legacy Quebec code
/// Purolator still prints in depot names), so a depot suffix implies `CA` only
/// when it is Canadian.
const PROVINCES: &[[u8; 2]] = &[
    *b"AB", *b"BC", *b"MB", *b"NB", *b"NL", *b"NS", *b"NT", *b"NU", *b"ON", *b"PE", *b"PQ", *b"QC",
    *b"SK", *b"YT",
];

pub(crate) use trackd_carrier_sdk::model::{clean, trim};

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// `ScanDate`: `YYYY-MM-DD` (also `YYYYMMDD`), a local calendar date.
pub fn scan_date(s: &str) -> Option<NaiveDate> {
    let b = trim(s).as_bytes();
    let (y, m, d) = match b.len() {
        10 if b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') => {
            (b.get(..4)?, b.get(5..7)?, b.get(8..10)?)
        }
        8 => (b.get(..4)?, b.get(4..6)?, b.get(6..8)?),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(i32::try_from(digits(y)?).ok()?, digits(m)?, digits(d)?)
}

/// `ScanTime`: `HHMMSS` (Purolator's documented form), tolerating a dropped
/// leading zero (`83704`), `HHMM`, and `HH:MM[:SS]`.
pub fn scan_time(s: &str) -> Option<NaiveTime> {
    let t = trim(s);
    let b = t.as_bytes();
    // (hour, minute, second) digit runs; no copy into a padded buffer.
    let (h, m, sec): (&[u8], &[u8], &[u8]) = if t.contains(':') {
        let mut parts = t.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(m), None, None) if h.len() == 2 && m.len() == 2 => {
                (h.as_bytes(), m.as_bytes(), b"00")
            }
            (Some(h), Some(m), Some(sec), None)
                if h.len() == 2 && m.len() == 2 && sec.len() == 2 =>
            {
                (h.as_bytes(), m.as_bytes(), sec.as_bytes())
            }
            _ => return None,
        }
    } else {
        match b.len() {
            6 => (b.get(..2)?, b.get(2..4)?, b.get(4..6)?),
            5 => (b.get(..1)?, b.get(1..3)?, b.get(3..5)?),
            4 => (b.get(..2)?, b.get(2..4)?, b"00"),
            _ => return None,
        }
    };
    NaiveTime::from_hms_opt(digits(h)?, digits(m)?, digits(sec)?)
}

/// `CommitedDeliveryDate`: the first 10 characters as `YYYY-MM-DD` (the
/// element is a plain string in the XSD; other shapes are ignored, not fatal).
fn committed_date(s: &str) -> Option<NaiveDate> {
    let t = trim(s);
    t.get(..10).and_then(scan_date).or_else(|| scan_date(t))
}

/// A depot name as a place: `"TORONTO, ON"` → city + region (+ `CA` for a
/// Canadian province; `PQ` is normalized to `QC`); anything else is the city.
pub fn depot_location(name: &str) -> Option<Address> {
    let name = trim(name);
    // Electronic events (label created...) carry the company name, not a place.
    if name.eq_ignore_ascii_case("purolator") {
        return None;
    }
    // The two letters after the last comma, upper-cased on the stack: one
    // `String` for the region instead of an upper-cased copy and a `QC` one.
    let comma = name.as_bytes().iter().rposition(|&b| b == b',');
    let split = comma.and_then(|i| Some((name.get(..i)?, name.get(i + 1..)?)));
    let (city, code) = match split {
        Some((c, r)) => match trim(r).as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                (c, Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => (name, None),
        },
        None => (name, None),
    };
    // Two-byte arrays compare as integers, without `str` comparisons.
    let country = code
        .filter(|c| PROVINCES.contains(c))
        .map(|_| "CA".to_string());
    let region = code.map(|c| match c {
        [b'P', b'Q'] => "QC".to_string(),
        [a, b] => String::from_iter([char::from(a), char::from(b)]),
    });
    Address {
        city: clean(city),
        region,
        postal_code: None,
        country,
    }
    .non_empty()
}

/// The scan type a scan declares (`ScanType`, else from its `xsi:type`).
fn scan_type(scan: &RawScan<'_>) -> String {
    let st = trim(&scan.scan_type);
    if st.is_empty() {
        codes::scan_type_from_xsi(trim(&scan.xsi_type))
            .unwrap_or("")
            .to_string()
    } else {
        st.to_string()
    }
}

/// What a scan's checkpoint does not keep, for the snapshot. Kept beside the
/// checkpoints (not around them) so that they move into the snapshot as they
/// are, without a second `Vec`.
struct Step<'s> {
    /// The table row the scan matched (`None`: undocumented scan type).
    rule: Option<&'static codes::Rule>,
    /// A delivery scan after the parcel turned back (read as its return).
    after_return: bool,
    /// `DeliverySignature`, trimmed, when not blank.
    signature: Option<&'s str>,
}

impl Step<'_> {
    /// The `status_rule` of this step; only the newest step's is kept, so it
    /// is written for that one alone instead of once per scan.
    fn rule_name(&self, checkpoint: &Checkpoint) -> String {
        let mut rule = match self.rule {
            Some(r) if r.any_of.is_empty() => format!("purolator:scantype={}", r.scan_type),
            Some(r) => format!("purolator:scantype={}+text={}", r.scan_type, r.name),
            None => format!("purolator:scantype={}:unmapped", checkpoint.code),
        };
        if self.after_return {
            rule.push_str("+after-return");
        }
        rule
    }
}

/// The last few (scan type, description) → rule lookups of one PIN: a journey
/// repeats its descriptions ("Arrived at sort facility" at every hub), and the
/// lookup is pure, so a repeat is answered by comparing two short strings.
#[derive(Default)]
struct Lookups<'s> {
    seen: Vec<(&'s str, &'s str, Option<&'static codes::Rule>)>,
}

impl<'s> Lookups<'s> {
    /// Distinct lookups kept; a journey has few distinct descriptions.
    const KEEP: usize = 16;

    fn get(&mut self, scan_type: &'s str, description: &'s str) -> Option<&'static codes::Rule> {
        if let Some((.., rule)) = self
            .seen
            .iter()
            .find(|(st, d, _)| *st == scan_type && *d == description)
        {
            return *rule;
        }
        let rule = codes::lookup(scan_type, description);
        if self.seen.len() < Self::KEEP {
            self.seen.push((scan_type, description, rule));
        }
        rule
    }
}

fn to_step<'s>(
    pin: &str,
    scan: &'s RawScan<'_>,
    index: usize,
    lookups: &mut Lookups<'s>,
) -> Result<(Checkpoint, Step<'s>), CarrierError> {
    let bad = |what: &str, value: &str| {
        CarrierError::malformed(format!(
            "purolator: PIN {pin} scan {} ({}): {what} {value:?}",
            index + 1,
            trim(&scan.scan_type)
        ))
    };
    let date =
        scan_date(&scan.date).ok_or_else(|| bad("ScanDate is not YYYY-MM-DD:", &scan.date))?;
    let time = scan_time(&scan.time).ok_or_else(|| bad("ScanTime is not HHMMSS:", &scan.time))?;
    let st = scan_type(scan);
    // The scan type as looked up: `ScanType` when given (`st` is its trimmed
    // copy), else the `'static` name from the `xsi:type`.
    let st_key: &'s str = match trim(&scan.scan_type) {
        "" => codes::scan_type_from_xsi(trim(&scan.xsi_type)).unwrap_or(""),
        given => given,
    };
    let rule = lookups.get(st_key, &scan.description);
    let (status, detail) = rule.map_or((Status::Unknown, None), |r| (r.status, r.detail));
    let desc = trim(&scan.description);
    let description = match clean(&scan.comment) {
        Some(c) if !desc.is_empty() => format!("{desc} ({c})"),
        Some(c) => c,
        None => desc.to_string(),
    };
    let signature = Some(trim(&scan.signature)).filter(|s| !s.is_empty());
    let checkpoint = Checkpoint {
        occurred_at: Timestamp::naive(date, time),
        status,
        status_detail: detail.map(str::to_string),
        code: st,
        description,
        location: depot_location(&scan.depot),
    };
    let step = Step {
        rule,
        after_return: false,
        signature,
    };
    Ok((checkpoint, step))
}

/// `code description` of errors, for messages.
pub fn describe(errors: &[RawError<'_>]) -> String {
    errors
        .iter()
        .map(|e| {
            format!("{} {}", e.code.trim(), e.description.trim())
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A PIN's own errors (inside its `TrackingInformation`): Purolator does not
/// know the PIN (or has no scans for it) → `NotFound`, with its code and text.
pub fn pin_not_found(errors: &[RawError<'_>]) -> CarrierError {
    let first = errors.first();
    CarrierError::NotFound {
        code: first.and_then(|e| clean(&e.code)),
        message: clean(describe(errors)).unwrap_or_else(|| "no tracking information".into()),
    }
}

/// True when a response-level error reads as "this PIN has no tracking".
fn reads_as_not_found(e: &RawError<'_>) -> bool {
    let t = codes::normalize(&format!("{} {}", e.description, e.additional));
    [
        "tracking error",
        "not found",
        "no tracking",
        "no scan",
        "no delivery details",
        "invalid pin",
        "pin",
        "introuvable",
        "aucun",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// What a requested PIN gets when the answer has no `TrackingInformation` for it:
/// `NotFound` (with Purolator's words when a response-level error says so),
/// `Rejected` when the response-level error is about the request instead.
pub fn missing_pin(top_errors: &[RawError<'_>]) -> CarrierError {
    match top_errors.first() {
        None => CarrierError::NotFound {
            code: None,
            message: "PIN absent from TrackingInformationList".into(),
        },
        Some(_) if top_errors.iter().any(reads_as_not_found) => pin_not_found(top_errors),
        Some(first) => CarrierError::Rejected {
            code: clean(&first.code).unwrap_or_else(|| "ResponseInformation".into()),
            message: clean(describe(top_errors)).unwrap_or_else(|| "request rejected".into()),
        },
    }
}

/// Types a SOAP fault: credentials → `Auth`, throttling → `RateLimited`,
/// `Client` faults (our request) → `Rejected`, anything else (`Server`,
/// service faults) → `Unavailable`.
pub fn fault(f: &RawFault<'_>, resp: &HttpResponse) -> CarrierError {
    let code = f.code.trim();
    let local = code.rsplit(':').next().unwrap_or(code);
    let text = codes::normalize(&format!("{code} {}", f.string));
    let message = if f.string.trim().is_empty() {
        code.to_string()
    } else {
        format!("{code}: {}", f.string.trim())
    };
    let auth = [
        "authenticat",
        "unauthori",
        "not authorized",
        "access is denied",
        "access denied",
        "credential",
        "password",
        "invalidsecurity",
    ]
    .iter()
    .any(|w| text.contains(w));
    if auth || matches!(resp.status, 401 | 403) {
        return CarrierError::Auth {
            message: format!("HTTP {}: {message}", resp.status),
        };
    }
    let throttled = [
        "throttl",
        "rate limit",
        "too many requests",
        "quota exceeded",
    ]
    .iter()
    .any(|w| text.contains(w));
    if throttled || resp.status == 429 {
        return CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        };
    }
    if local.eq_ignore_ascii_case("Client") || local.eq_ignore_ascii_case("Sender") {
        return CarrierError::Rejected {
            code: code.to_string(),
            message: clean(&f.string).unwrap_or_else(|| code.to_string()),
        };
    }
    CarrierError::Unavailable {
        status: resp.status,
        message,
    }
}

/// Maps one `TrackingInformation` to a snapshot, or to that PIN's error.
///
/// Purolator lists scans newest first; they are reversed, not sorted: scan times
/// are local wall-clock times without zone, and a parcel crossing zones can show
/// a "later" scan with an earlier wall-clock time. For the same reason the
/// snapshot is not passed through `Snapshot::finish`, whose naive-time heuristic
/// would re-reverse such a journey.
pub fn snapshot(info: &RawInfo<'_>) -> Result<Snapshot, CarrierError> {
    let pin = trim(&info.pin);
    if info.scans.is_empty() {
        return Err(if info.errors.is_empty() {
            CarrierError::NotFound {
                code: None,
                message: "Purolator returned no scans for this PIN".into(),
            }
        } else {
            pin_not_found(&info.errors)
        });
    }
    let mut lookups = Lookups::default();
    let mut checkpoints = Vec::with_capacity(info.scans.len());
    let mut steps = Vec::with_capacity(info.scans.len());
    for (i, scan) in info.scans.iter().enumerate().rev() {
        let (checkpoint, step) = to_step(pin, scan, i, &mut lookups)?;
        checkpoints.push(checkpoint);
        steps.push(step);
    }

    // A delivery scan after the parcel turned back is its return to the shipper.
    let mut returning = false;
    for (cp, step) in checkpoints.iter_mut().zip(&mut steps) {
        if returning && cp.status == Status::Delivered {
            cp.status = Status::Returned;
            cp.status_detail = None;
            step.after_return = true;
        }
        if cp.status == Status::Returning {
            returning = true;
        }
    }

    let newest = checkpoints.last();
    let status = newest.map_or(Status::Unknown, |c| c.status);
    let handed_over = matches!(status, Status::Delivered | Status::Returned);
    let delivered_at = (status == Status::Delivered)
        .then(|| newest.map(|c| c.occurred_at))
        .flatten();
    let signed_by = if handed_over {
        checkpoints
            .iter()
            .zip(&steps)
            .rev()
            .take_while(|(c, _)| c.status == status)
            .find_map(|(_, s)| s.signature.map(str::to_string))
    } else {
        None
    };
    let estimated_delivery = info
        .scans
        .iter()
        .find_map(|s| committed_date(&s.committed_date))
        .map(|date| Eta::Date { date });
    let status_rule = match (newest, steps.last()) {
        (Some(c), Some(s)) => s.rule_name(c),
        _ => "purolator:no-scans".into(),
    };

    Ok(Snapshot {
        status,
        status_detail: newest.and_then(|c| c.status_detail.clone()),
        status_rule,
        carrier_status_code: newest.map(|c| c.code.clone()),
        carrier_status_text: newest.and_then(|c| clean(&c.description)),
        estimated_delivery,
        original_estimated_delivery: None,
        delivered_at,
        signed_by,
        service: None,
        origin: None,
        destination: None,
        updated_at: newest.map(|c| c.occurred_at),
        checkpoints,
        fetched_at: None,
        shipment: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The padded-copy `scan_time` this module used before.
    fn scan_time_reference(s: &str) -> Option<NaiveTime> {
        let t = s.trim();
        let compact: String = if t.contains(':') {
            let parts: Vec<&str> = t.split(':').collect();
            match parts.as_slice() {
                [h, m] if h.len() == 2 && m.len() == 2 => format!("{h}{m}00"),
                [h, m, s] if h.len() == 2 && m.len() == 2 && s.len() == 2 => {
                    format!("{h}{m}{s}")
                }
                _ => return None,
            }
        } else {
            match t.len() {
                6 => t.to_string(),
                5 => format!("0{t}"),
                4 => format!("{t}00"),
                _ => return None,
            }
        };
        let b = compact.as_bytes();
        NaiveTime::from_hms_opt(
            digits(b.get(..2)?)?,
            digits(b.get(2..4)?)?,
            digits(b.get(4..6)?)?,
        )
    }

    proptest! {
        #[test]
        fn scan_time_agrees_with_reference(s in "[ 0-9:aé]{0,9}") {
            prop_assert_eq!(scan_time(&s), scan_time_reference(&s));
        }
    }

    #[test]
    fn times() {
        let t = |s| scan_time(s).map(|t| t.format("%H:%M:%S").to_string());
        assert_eq!(t("172300").as_deref(), Some("17:23:00"));
        assert_eq!(t("83704").as_deref(), Some("08:37:04"));
        assert_eq!(t("0930").as_deref(), Some("09:30:00"));
        assert_eq!(t("09:30:15").as_deref(), Some("09:30:15"));
        assert_eq!(t("256000"), None);
        assert_eq!(t(""), None);
        assert_eq!(t("12a400"), None);
        assert!(scan_date("2004-01-13").is_some());
        assert!(scan_date("20040113").is_some());
        assert!(scan_date("2004-13-01").is_none());
        assert!(scan_date("13/01/2004").is_none());
    }

    #[test]
    fn depots() {
        let a = depot_location("MONTREAL SORT CTR/CTR TRIE, PQ").unwrap();
        assert_eq!(a.city.as_deref(), Some("MONTREAL SORT CTR/CTR TRIE"));
        assert_eq!(a.region.as_deref(), Some("QC"));
        assert_eq!(a.country.as_deref(), Some("CA"));
        let b = depot_location("ATLANTA, GA").unwrap();
        assert_eq!(b.region.as_deref(), Some("GA"));
        assert_eq!(b.country, None);
        let c = depot_location("LACHINE").unwrap();
        assert_eq!(c.city.as_deref(), Some("LACHINE"));
        assert_eq!(depot_location("Purolator"), None);
        assert_eq!(depot_location("  "), None);
    }
}
