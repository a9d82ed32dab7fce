//! The normalized tracking model (design contract §2) that every carrier maps into.

use crate::shipment::Shipment;
use crate::status::Status;
use crate::time::Timestamp;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// Where something happened, as precisely as the carrier said it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State, province or region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// True when the carrier gave nothing usable (so we store `None` instead).
    pub fn is_empty(&self) -> bool {
        self.city.is_none()
            && self.region.is_none()
            && self.postal_code.is_none()
            && self.country.is_none()
    }

    /// `Some(self)` unless empty, so empty carrier objects never become fake locations.
    pub fn non_empty(self) -> Option<Address> {
        (!self.is_empty()).then_some(self)
    }
}

/// `str::trim` without its UTF-8 decode and Unicode table test per end when both ends are visible ASCII (every real text).
#[inline]
pub fn trim(s: &str) -> &str {
    // ASCII and not `char::is_whitespace` (tab to CR, which includes VT
    // unlike `u8::is_ascii_whitespace`, and space): nothing to trim then.
    let solid = |b: &u8| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ');
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if solid(a) && solid(z) => s,
        _ => s.trim(),
    }
}

/// Normalizes a carrier text field: trims, and turns "" into `None`.
#[inline]
pub fn clean(s: impl AsRef<str>) -> Option<String> {
    let t = trim(s.as_ref());
    (!t.is_empty()).then(|| t.to_string())
}

/// One scan or event in a parcel's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub occurred_at: Timestamp,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// The carrier's own event code.
    pub code: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Address>,
}

impl Checkpoint {
    /// Stable identity of the carrier fact, so re-polls never re-announce it.
    pub fn identity(&self) -> u64 {
        let mut h = Fnv::new();
        h.write(self.occurred_at.to_wire().as_bytes());
        h.write(b"\x1f");
        h.write(self.code.as_bytes());
        h.write(b"\x1f");
        if let Some(loc) = &self.location {
            for part in [&loc.city, &loc.region, &loc.postal_code, &loc.country] {
                h.write(part.as_deref().unwrap_or("").as_bytes());
                h.write(b"\x1e");
            }
        }
        h.finish()
    }
}

/// Estimated delivery: a window with times, or only a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Eta {
    Window { start: Timestamp, end: Timestamp },
    Date { date: NaiveDate },
}

impl Eta {
    /// The last moment the promise covers, as the carrier's local wall clock or
    /// zoned when the carrier gave an offset.
    pub fn end(&self) -> Timestamp {
        match self {
            Eta::Window { end, .. } => *end,
            Eta::Date { date } => Timestamp::Naive(date.and_time(end_of_day())),
        }
    }

    /// Signed seconds by which `self` ends later than `earlier` (positive: later).
    pub fn slip_seconds_from(&self, earlier: &Eta) -> i64 {
        self.end().seconds_since(&earlier.end())
    }

    /// True when the window has surely ended at `now` whatever the local zone is.
    pub fn has_passed(&self, now: DateTime<Utc>) -> bool {
        now > self.end().latest_instant()
    }
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)
}

/// The carrier's latest normalized view of one parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// Which mapping rule produced `status` (e.g. `ups:type=I`), for audits.
    pub status_rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery: Option<Eta>,
    /// The first ETA ever seen; filled by the daemon, never by a parser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_estimated_delivery: Option<Eta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Address>,
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
    /// The carrier's last event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Our poll time; filled by the daemon, never by a parser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<DateTime<Utc>>,
    /// Which shipment this is, for carriers that can answer several under one
    /// (recycled) number; see [`crate::shipment`]. `None` for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<Shipment>,
}

impl Snapshot {
    /// A snapshot for a parcel the carrier has not reported on yet.
    pub fn pending() -> Snapshot {
        Snapshot {
            status: Status::Pending,
            status_detail: None,
            status_rule: "trackd:registered".into(),
            carrier_status_code: None,
            carrier_status_text: None,
            estimated_delivery: None,
            original_estimated_delivery: None,
            delivered_at: None,
            signed_by: None,
            service: None,
            origin: None,
            destination: None,
            checkpoints: Vec::new(),
            updated_at: None,
            fetched_at: None,
            shipment: None,
        }
    }

    /// Puts checkpoints oldest first and sets `updated_at` from the newest one when
    /// the carrier gave no explicit time; parsers call this last. See
    /// [`order_checkpoints`] for why naive times are not re-sorted.
    pub fn finish(mut self) -> Snapshot {
        order_checkpoints(&mut self.checkpoints);
        if self.updated_at.is_none() {
            self.updated_at = self.checkpoints.last().map(|c| c.occurred_at);
        }
        self
    }

    /// The carrier facts only (no daemon-filled fields), for change detection.
    pub fn carrier_facts_eq(&self, other: &Snapshot) -> bool {
        // Destructured so a new field cannot be forgotten here; no clones, since
        // this runs on every poll.
        let Snapshot {
            status,
            status_detail,
            status_rule,
            carrier_status_code,
            carrier_status_text,
            estimated_delivery,
            original_estimated_delivery: _,
            delivered_at,
            signed_by,
            service,
            origin,
            destination,
            checkpoints,
            updated_at,
            fetched_at: _,
            shipment,
        } = self;
        *status == other.status
            && *estimated_delivery == other.estimated_delivery
            && *delivered_at == other.delivered_at
            && *updated_at == other.updated_at
            && *status_rule == other.status_rule
            && *status_detail == other.status_detail
            && *carrier_status_code == other.carrier_status_code
            && *carrier_status_text == other.carrier_status_text
            && *signed_by == other.signed_by
            && *service == other.service
            && *origin == other.origin
            && *destination == other.destination
            && *checkpoints == other.checkpoints
            && *shipment == other.shipment
    }
}

/// Orders checkpoints oldest first without ever guessing a zone: when every time
/// carries an offset they are sorted by instant; otherwise wall-clock times from
/// different zones cannot be compared, so the carrier's own order is kept (only
/// reversed when it is newest first). Always a total order, so it never panics.
pub fn order_checkpoints(cps: &mut [Checkpoint]) {
    if cps.iter().all(|c| c.occurred_at.offset_known()) {
        cps.sort_by_key(|c| c.occurred_at.instant());
    } else if let (Some(first), Some(last)) = (cps.first(), cps.last())
        && first.occurred_at.local() > last.occurred_at.local()
    {
        cps.reverse();
    }
}

/// 64-bit FNV-1a: a tiny, stable hash (identical across builds and platforms),
/// which `std`'s hasher does not promise.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
    /// Hash of one byte string.
    pub fn hash(bytes: &[u8]) -> u64 {
        let mut h = Fnv::new();
        h.write(bytes);
        h.finish()
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn trim_agrees_with_str_trim(
            s in "[ a-zA-Z\t\n\u{b}\u{c}\r\u{1c}\u{85}\u{a0}\u{3000}é!~\u{7f}]{0,6}"
        ) {
            prop_assert_eq!(trim(&s), s.trim());
            let t = s.trim();
            prop_assert_eq!(clean(&s), (!t.is_empty()).then(|| t.to_string()));
        }
    }

    #[test]
    fn eta_date_serializes_as_date() {
        let eta = Eta::Date {
            date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&eta).unwrap(),
            r#"{"date":"2024-03-01"}"#
        );
        let back: Eta = serde_json::from_str(r#"{"date":"2024-03-01"}"#).unwrap();
        assert_eq!(back, eta);
    }

    #[test]
    fn eta_slip_is_signed() {
        let d = |s| Eta::Date {
            date: NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(),
        };
        assert_eq!(d("2024-03-02").slip_seconds_from(&d("2024-03-01")), 86_400);
        assert_eq!(d("2024-03-01").slip_seconds_from(&d("2024-03-02")), -86_400);
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(Fnv::hash(b"trackd"), Fnv::hash(b"trackd"));
        assert_eq!(Fnv::hash(b""), 0xcbf2_9ce4_8422_2325);
    }
}
