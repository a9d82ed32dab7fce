//! Raw `<tracking-detail>` / `<messages>` → the normalized model.

use crate::codes::{self, Kind};
use crate::parse::{RawDetail, RawEvent, RawMessage};
use chrono::{NaiveDate, NaiveTime};
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, Snapshot, Status, Timestamp,
};

/// Canada Post's code for an unknown PIN ("No Pin History").
pub const NO_PIN_HISTORY: &str = "004";

/// Canadian province and territory codes, so `event-province` only implies `CA`
/// when it really is Canadian (international scans carry foreign regions).
#[cfg(test)]
const PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

/// True for a code of `PROVINCES`, in any case.
///
/// Why a `match`: a case-folding scan of the list ran on every event. The test
/// `province_match_is_the_list` keeps the two equal.
fn is_province(region: &str) -> bool {
    let &[a, b] = region.as_bytes() else {
        return false;
    };
    matches!(
        &[a.to_ascii_uppercase(), b.to_ascii_uppercase()],
        b"AB"
            | b"BC"
            | b"MB"
            | b"NB"
            | b"NL"
            | b"NS"
            | b"NT"
            | b"NU"
            | b"ON"
            | b"PE"
            | b"QC"
            | b"SK"
            | b"YT"
    )
}

fn malformed(msg: impl std::fmt::Display) -> CarrierError {
    CarrierError::malformed(format!("canadapost: {msg}"))
}

/// UTC offset of a Canada Post `event-time-zone`, if it names one we know.
///
/// Canada Post prints North American abbreviations (`EST`, `NDT`...) and, for
/// Saskatchewan, `CSTNO` ("CST, no daylight time"): a standard-time abbreviation
/// with an `NO` suffix has that standard time's offset. Anything else (empty,
/// `ISRAEL`...) is unknown, and the event time stays naive.
pub fn event_zone_offset(zone: &str) -> Option<i32> {
    let z = zone.trim().as_bytes();
    // Every known abbreviation is at most 4 letters, so at most 6 with `NO`.
    let mut upper = [0u8; 6];
    let upper = upper.get_mut(..z.len())?;
    upper.copy_from_slice(z);
    upper.make_ascii_uppercase();
    abbreviation_offset(upper).or_else(|| {
        let base = upper.strip_suffix(b"NO")?;
        if base.ends_with(b"ST") {
            abbreviation_offset(base)
        } else {
            None
        }
    })
}

/// The offset of an upper-case abbreviation of `sdk::sim::ZONE_ABBREVIATIONS`.
///
/// Why a `match`: `sdk::sim::zone_offset` trims and case-folds its argument once
/// per table row, which cost more than the rest of an event's mapping. The test
/// `zone_match_is_the_sdk_table` keeps the two equal.
fn abbreviation_offset(upper: &[u8]) -> Option<i32> {
    Some(match upper {
        b"NST" => -12_600,
        b"NDT" => -9_000,
        b"AST" => -14_400,
        b"ADT" => -10_800,
        b"EST" => -18_000,
        b"EDT" => -14_400,
        b"CST" => -21_600,
        b"CDT" => -18_000,
        b"MST" => -25_200,
        b"MDT" => -21_600,
        b"PST" => -28_800,
        b"PDT" => -25_200,
        b"AKST" => -32_400,
        b"AKDT" => -28_800,
        b"HST" => -36_000,
        b"UTC" | b"GMT" => 0,
        _ => return None,
    })
}

/// `n` ASCII digits as a number (fixed-width fields of dates and times).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY-MM-DD` (xsd:date without zone), parsed by hand: chrono's format
/// parser costs more than the whole XML pass.
fn ymd(s: &str) -> Option<NaiveDate> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `HH:MM:SS` (or `HH:MM`).
fn hms(s: &str) -> Option<NaiveTime> {
    let b = s.trim().as_bytes();
    let sec = match b.len() {
        8 if b[5] == b':' => digits(&b[6..8])?,
        5 => 0,
        _ => return None,
    };
    if b[2] != b':' {
        return None;
    }
    NaiveTime::from_hms_opt(digits(&b[..2])?, digits(&b[3..5])?, sec)
}

fn optional_date(s: &str, what: &str) -> Result<Option<NaiveDate>, CarrierError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    ymd(s)
        .map(Some)
        .ok_or_else(|| malformed(format!("tracking-detail: {what} {s:?} is not YYYY-MM-DD")))
}

/// True for a Canadian postal code (`K1A0B1` or `K1A 0B1`).
fn is_canadian_postal_code(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| *c != b' ').collect();
    b.len() == 6
        && b.iter().enumerate().all(|(i, c)| {
            if i % 2 == 0 {
                c.is_ascii_alphabetic()
            } else {
                c.is_ascii_digit()
            }
        })
}

fn event_location(ev: &RawEvent<'_>) -> Option<Address> {
    let region = clean(&ev.province);
    let country = region
        .as_deref()
        .filter(|r| is_province(r))
        .map(|_| "CA".to_string());
    Address {
        city: clean(&ev.site),
        region,
        postal_code: None,
        country,
    }
    .non_empty()
}

/// Which rule gave an event its status (formatted only for the snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    Table(u16),
    ReturnText(u16),
    Unmapped,
}

/// One event on its way to becoming a checkpoint.
struct Step {
    checkpoint: Checkpoint,
    kind: Kind,
    rule: RuleKind,
    after_return: bool,
    signatory: Option<String>,
}

impl Step {
    fn rule_name(&self) -> String {
        let mut rule = match self.rule {
            RuleKind::Table(code) => format!("canadapost:event-identifier={code}"),
            RuleKind::ReturnText(code) => {
                format!("canadapost:event-identifier={code}+return-text")
            }
            RuleKind::Unmapped => {
                format!(
                    "canadapost:event-identifier={}:unmapped",
                    self.checkpoint.code
                )
            }
        };
        if self.after_return {
            rule.push_str("+after-return");
        }
        rule
    }
}

fn to_step(ev: &RawEvent<'_>, index: usize) -> Result<Step, CarrierError> {
    let bad = |what: &str, value: &str| {
        malformed(format!(
            "occurrence {} (event-identifier {:?}): {what} {value:?}",
            index + 1,
            ev.identifier
        ))
    };
    let date = ymd(&ev.date).ok_or_else(|| bad("event-date is not YYYY-MM-DD:", &ev.date))?;
    let time = hms(&ev.time).ok_or_else(|| bad("event-time is not HH:MM:SS:", &ev.time))?;
    let occurred_at = match event_zone_offset(&ev.zone) {
        Some(off) => Timestamp::zoned(date, time, off)
            .ok_or_else(|| bad("offset out of range for zone", &ev.zone))?,
        None => Timestamp::naive(date, time),
    };
    let code = ev.identifier.trim().to_string();
    let description = ev.description.trim().to_string();
    let (status, detail, kind, rule) = match codes::lookup(&code) {
        Some(r)
            if codes::return_text_applies(r) && codes::says_returned_to_sender(&description) =>
        {
            let status = if r.status == Status::Delivered {
                Status::Returned
            } else {
                Status::Returning
            };
            (status, None, Kind::Progress, RuleKind::ReturnText(r.code))
        }
        Some(r) => (r.status, r.detail, r.kind, RuleKind::Table(r.code)),
        None => (Status::Unknown, None, Kind::Progress, RuleKind::Unmapped),
    };
    Ok(Step {
        checkpoint: Checkpoint {
            occurred_at,
            status,
            status_detail: detail.map(str::to_string),
            code,
            description,
            location: event_location(ev),
        },
        kind,
        rule,
        after_return: false,
        signatory: clean(&ev.signatory),
    })
}

/// Stable insertion sort by `Timestamp::chrono_cmp`.
///
/// `chrono_cmp` is not a total order once naive and zoned times from several
/// zones mix (naive ones compare by wall clock), and `slice::sort_by` may panic
/// on such input. Insertion sort never panics, is linear on Canada Post's
/// (reversed) newest-first lists, and leaves every adjacent pair in order, so the
/// stable sort in `Snapshot::finish` then sees one sorted run and changes nothing.
fn sort_chronologically(steps: &mut [Step]) {
    for i in 1..steps.len() {
        let mut j = i;
        while j > 0
            && steps[j]
                .checkpoint
                .occurred_at
                .chrono_cmp(&steps[j - 1].checkpoint.occurred_at)
                .is_lt()
        {
            steps.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// The status-detail the ETA rule gives a parcel in transit whose expected
/// date Canada Post moved (`changed-expected-date`), from the stated reason.
fn delay_detail(reason: &str) -> &'static str {
    let r = reason.to_lowercase();
    if r.contains("weather") || r.contains("météo") {
        "in_transit.weather_delay"
    } else {
        "in_transit.delay"
    }
}

/// Maps a `<tracking-detail>` to the normalized snapshot.
pub fn snapshot(detail: &RawDetail<'_>) -> Result<Snapshot, CarrierError> {
    // Canada Post lists the newest event first; walk oldest-first so the (stable)
    // ordering keeps same-second events in the carrier's own order.
    // Sized up front: collecting `Result`s would grow the vector step by step.
    let mut steps = Vec::with_capacity(detail.events.len());
    for (i, ev) in detail.events.iter().enumerate().rev() {
        steps.push(to_step(ev, i)?);
    }
    sort_chronologically(&mut steps);

    // Context: informational events inherit the journey status before them, and
    // a "delivered" scan after the parcel turned back is its return to sender.
    let mut current: Option<(Status, Option<String>)> = None;
    let mut returning = false;
    for step in &mut steps {
        let cp = &mut step.checkpoint;
        match step.kind {
            Kind::Info => {
                let (status, detail) = current.clone().unwrap_or((Status::InfoReceived, None));
                cp.status = status;
                cp.status_detail = detail;
            }
            Kind::Progress => {
                if returning && cp.status == Status::Delivered {
                    cp.status = Status::Returned;
                    cp.status_detail = None;
                    step.after_return = true;
                }
                if cp.status == Status::Returning {
                    returning = true;
                }
                current = Some((cp.status, cp.status_detail.clone()));
            }
        }
    }

    let newest_progress = steps.iter().rposition(|s| s.kind == Kind::Progress);
    let newest = steps.last();
    let (status, mut status_detail, mut status_rule) =
        match newest_progress.and_then(|i| steps.get(i)) {
            Some(s) => (
                s.checkpoint.status,
                s.checkpoint.status_detail.clone(),
                s.rule_name(),
            ),
            None if steps.is_empty() => (
                Status::InfoReceived,
                None,
                "canadapost:no-events".to_string(),
            ),
            None => (
                Status::InfoReceived,
                None,
                "canadapost:informational-events-only".to_string(),
            ),
        };
    let informational_newer = newest_progress.is_some_and(|i| i + 1 != steps.len());
    if let Some(n) = newest.filter(|_| informational_newer) {
        status_rule.push_str(&format!(";newer-informational={}", n.checkpoint.code));
    }

    let changed = optional_date(&detail.changed_expected_date, "changed-expected-date")?;
    let expected = optional_date(&detail.expected_delivery_date, "expected-delivery-date")?;
    let estimated_delivery = changed.or(expected).map(|date| Eta::Date { date });
    if changed.is_some() && status == Status::InTransit && status_detail.is_none() {
        status_detail = Some(delay_detail(&detail.changed_expected_delivery_reason).to_string());
        status_rule.push_str("+changed-expected-date");
    }

    // Delivered or returned: the final run of such scans is one hand-over (a
    // signature record a second later is not a second delivery); it gives the
    // delivery time (its first scan) and the signer (its newest signature).
    let handed_over = matches!(status, Status::Delivered | Status::Returned);
    let final_run = || {
        steps
            .iter()
            .rev()
            .take_while(move |s| handed_over && s.checkpoint.status == status)
    };
    let delivered_at = (status == Status::Delivered)
        .then(|| final_run().last().map(|s| s.checkpoint.occurred_at))
        .flatten();
    let signed_by = final_run().find_map(|s| s.signatory.clone());

    let postal = clean(&detail.destination_postal_id);
    let destination = Address {
        country: postal
            .as_deref()
            .filter(|p| is_canadian_postal_code(p))
            .map(|_| "CA".to_string()),
        postal_code: postal,
        ..Address::default()
    }
    .non_empty();

    let (carrier_status_code, carrier_status_text) = match newest {
        Some(n) => (
            Some(n.checkpoint.code.clone()),
            clean(&n.checkpoint.description),
        ),
        None => (None, None),
    };
    Ok(Snapshot {
        status,
        status_detail,
        status_rule,
        carrier_status_code,
        carrier_status_text,
        estimated_delivery,
        original_estimated_delivery: None,
        delivered_at,
        signed_by,
        service: clean(&detail.service_name),
        origin: None,
        destination,
        checkpoints: steps.into_iter().map(|s| s.checkpoint).collect(),
        updated_at: None,
        fetched_at: None,
        shipment: None,
    }
    .finish())
}

/// How a `<messages>` answer is reported.
pub enum MessagesOutcome {
    /// The whole call failed (credentials, throttling).
    Whole(CarrierError),
    /// The number itself was refused or is unknown.
    PerNumber(CarrierError),
}

/// True for Canada Post's throttle answer ("Server" / "Rejected by SLM Monitor").
fn is_throttle(m: &RawMessage<'_>) -> bool {
    m.description.to_ascii_lowercase().contains("slm monitor")
}

/// True for the gateway's credential and account errors (`AA001`..., `E002`).
fn is_auth(m: &RawMessage<'_>) -> bool {
    let code = m.code.trim();
    code.starts_with("AA")
        || code == "E002"
        || m.description
            .to_ascii_lowercase()
            .contains("authentication fail")
}

/// True for "No Pin History" (`004`), the documented unknown-PIN answer.
fn is_not_found(m: &RawMessage<'_>) -> bool {
    m.code.trim() == NO_PIN_HISTORY
        || m.description
            .to_ascii_lowercase()
            .contains("no pin history")
}

/// `code description` of every message, for error texts.
pub fn describe(msgs: &[RawMessage<'_>]) -> String {
    msgs.iter()
        .map(|m| {
            format!("{} {}", m.code.trim(), m.description.trim())
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Types a `<messages>` answer: unknown PIN → per-number `NotFound`, throttle →
/// `RateLimited`, credentials → `Auth`, anything else → per-number `Rejected`.
pub fn messages(msgs: &[RawMessage<'_>], resp: &HttpResponse) -> MessagesOutcome {
    let text = msgs
        .iter()
        .map(|m| m.description.trim())
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(m) = msgs.iter().find(|m| is_not_found(m)) {
        return MessagesOutcome::PerNumber(CarrierError::NotFound {
            code: clean(&m.code),
            message: clean(&m.description).unwrap_or_else(|| "No Pin History".into()),
        });
    }
    if msgs.iter().any(is_throttle) {
        return MessagesOutcome::Whole(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if msgs.iter().any(is_auth) {
        return MessagesOutcome::Whole(CarrierError::Auth {
            message: format!("HTTP {}: {}", resp.status, describe(msgs)),
        });
    }
    let Some(first) = msgs.first() else {
        return MessagesOutcome::Whole(malformed(format!(
            "HTTP {}: <messages> answer without any <message>",
            resp.status
        )));
    };
    MessagesOutcome::PerNumber(CarrierError::Rejected {
        code: clean(&first.code).unwrap_or_else(|| format!("HTTP {}", resp.status)),
        message: if text.is_empty() {
            format!("HTTP {}", resp.status)
        } else {
            text
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert_eq!(event_zone_offset("EST"), Some(-18_000));
        assert_eq!(event_zone_offset(" NDT "), Some(-9_000));
        assert_eq!(event_zone_offset("CSTNO"), Some(-21_600));
        assert_eq!(event_zone_offset(""), None);
        assert_eq!(event_zone_offset("ISRAEL"), None);
        assert_eq!(event_zone_offset("CDTNO"), None);
        assert_eq!(event_zone_offset("NO"), None);
    }

    /// The former definition, on the SDK's table.
    fn event_zone_offset_by_sdk_table(zone: &str) -> Option<i32> {
        use trackd_carrier_sdk::sim::zone_offset;
        let z = zone.trim();
        if z.is_empty() {
            return None;
        }
        zone_offset(z).or_else(|| {
            let upper = z.to_ascii_uppercase();
            let base = upper.strip_suffix("NO")?;
            if base.ends_with("ST") {
                zone_offset(base)
            } else {
                None
            }
        })
    }

    #[test]
    fn zone_match_is_the_sdk_table() {
        let mut inputs = vec![
            String::new(),
            "NO".into(),
            "STNO".into(),
            "ISRAEL".into(),
            "ESTN".into(),
            "AKSTNO".into(),
            "AKDTNO".into(),
            "ÉST".into(),
            "ESTNOX".into(),
        ];
        for (abbrev, _) in trackd_carrier_sdk::sim::ZONE_ABBREVIATIONS {
            for z in [abbrev.to_string(), abbrev.to_ascii_lowercase()] {
                inputs.push(format!(" {z}\t"));
                inputs.push(format!("{z}NO"));
                inputs.push(format!("{z}no"));
                inputs.push(format!("{z}X"));
                inputs.push(z[1..].to_string());
                inputs.push(z);
            }
        }
        for z in &inputs {
            assert_eq!(
                event_zone_offset(z),
                event_zone_offset_by_sdk_table(z),
                "{z:?}"
            );
        }
    }

    #[test]
    fn province_match_is_the_list() {
        let mut inputs: Vec<String> = ["", "A", "ABC", "É", "ÉA", " AB"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for a in (b'A'..=b'Z').chain(b'a'..=b'z').chain([b'0', b' ']) {
            for b in (b'A'..=b'Z').chain(b'a'..=b'z').chain([b'0', b' ']) {
                inputs.push(String::from_utf8(vec![a, b]).unwrap());
            }
        }
        for r in &inputs {
            let listed = PROVINCES.iter().any(|p| p.eq_ignore_ascii_case(r));
            assert_eq!(is_province(r), listed, "{r:?}");
        }
    }

    #[test]
    fn postal_codes() {
        assert!(is_canadian_postal_code("K0J1T0"));
        assert!(is_canadian_postal_code("G1K 4M7"));
        assert!(!is_canadian_postal_code("90210"));
    }
}
