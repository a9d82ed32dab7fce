//! Timestamps that carry their provenance: an offset the carrier stated, or none.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// A carrier time; naive local times stay naive because inventing an offset would
/// silently shift a checkpoint by hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// The carrier stated the UTC offset (or UTC itself).
    Zoned(DateTime<FixedOffset>),
    /// Local wall-clock time at the event's location; the offset is unknown.
    Naive(NaiveDateTime),
}

/// Wire form of a zoned time whose year RFC 3339 cannot write (signed year).
const ZONED_WIDE_YEAR: &str = "%Y-%m-%dT%H:%M:%S%.f%:z";

/// The widest real-world UTC offsets, used to bound what a naive time can mean.
const MAX_WEST_OFFSET_HOURS: i64 = 12;
const MAX_EAST_OFFSET_HOURS: i64 = 14;

impl Timestamp {
    /// Local wall-clock reading (what a person at the location saw).
    pub fn local(&self) -> NaiveDateTime {
        match self {
            Timestamp::Zoned(dt) => dt.naive_local(),
            Timestamp::Naive(n) => *n,
        }
    }

    /// The instant, when the carrier gave an offset.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        match self {
            Timestamp::Zoned(dt) => Some(dt.with_timezone(&Utc)),
            Timestamp::Naive(_) => None,
        }
    }

    /// Latest instant this time can denote (naive times: as if at UTC-12), so
    /// "has it passed?" is answered without guessing the zone.
    pub fn latest_instant(&self) -> DateTime<Utc> {
        match self {
            Timestamp::Zoned(dt) => dt.with_timezone(&Utc),
            // Saturating: a garbled far-future year must not panic the poller.
            Timestamp::Naive(n) => Utc
                .from_utc_datetime(n)
                .checked_add_signed(Duration::hours(MAX_WEST_OFFSET_HOURS))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Earliest instant this time can denote (naive times: as if at UTC+14).
    pub fn earliest_instant(&self) -> DateTime<Utc> {
        match self {
            Timestamp::Zoned(dt) => dt.with_timezone(&Utc),
            Timestamp::Naive(n) => Utc
                .from_utc_datetime(n)
                .checked_sub_signed(Duration::hours(MAX_EAST_OFFSET_HOURS))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }

    /// True when the offset came from the carrier.
    pub fn offset_known(&self) -> bool {
        matches!(self, Timestamp::Zoned(_))
    }

    /// Signed seconds from `earlier` to `self`: exact when both are zoned,
    /// wall-clock difference otherwise (same carrier, same locality).
    pub fn seconds_since(&self, earlier: &Timestamp) -> i64 {
        match (self.instant(), earlier.instant()) {
            (Some(a), Some(b)) => (a - b).num_seconds(),
            _ => (self.local() - earlier.local()).num_seconds(),
        }
    }

    /// Chronological order for sorting checkpoints; mixes zoned and naive by wall clock.
    pub fn chrono_cmp(&self, other: &Timestamp) -> Ordering {
        match (self.instant(), other.instant()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.local().cmp(&other.local()),
        }
    }

    /// Wire form: RFC 3339 with offset when known, `YYYY-MM-DDTHH:MM:SS` otherwise,
    /// with the carrier's fraction of a second if any. Lossless: `from_wire` gives the
    /// same value back (the store keeps snapshots in this form), years outside
    /// RFC 3339's 0000..=9999 included (signed, as `-0024` or `+10000`).
    pub fn to_wire(&self) -> String {
        match self {
            Timestamp::Zoned(dt) if (0..=9999).contains(&dt.year()) => {
                dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            }
            Timestamp::Zoned(dt) => dt.format(ZONED_WIDE_YEAR).to_string(),
            Timestamp::Naive(n) => n.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        }
    }

    /// Parses the wire form back; an offset present means carrier-stated.
    pub fn from_wire(s: &str) -> Option<Timestamp> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp::Zoned(dt));
        }
        if let Ok(dt) = DateTime::parse_from_str(s, ZONED_WIDE_YEAR) {
            return Some(Timestamp::Zoned(dt));
        }
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(Timestamp::Naive)
    }

    /// Builds a naive time from a date and a time of day (carrier local time).
    pub fn naive(date: NaiveDate, time: NaiveTime) -> Timestamp {
        Timestamp::Naive(date.and_time(time))
    }

    /// Builds a zoned time from a local date/time and an offset in seconds east of UTC.
    pub fn zoned(date: NaiveDate, time: NaiveTime, offset_secs: i32) -> Option<Timestamp> {
        let off = FixedOffset::east_opt(offset_secs)?;
        off.from_local_datetime(&date.and_time(time))
            .single()
            .map(Timestamp::Zoned)
    }
}

/// Carriers' usual `YYYY-MM-DDTHH:MM:SS±HH:MM` (or `Z`) read by position, as chrono's RFC 3339 parser costs several times more.
#[inline]
pub fn fixed_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    // `None` for anything else (fractions, a leap second, a space or
    // lowercase separator, an offset of 24 hours or more): the caller asks
    // chrono then, whose value this is whenever it is `Some`. One slice
    // pattern checks the length and every separator at once; the digits are
    // then checked together, not one branch per pair.
    let (digits, sign, offset) = match s.as_bytes() {
        [
            y0,
            y1,
            y2,
            y3,
            b'-',
            mo0,
            mo1,
            b'-',
            d0,
            d1,
            b'T',
            h0,
            h1,
            b':',
            mi0,
            mi1,
            b':',
            s0,
            s1,
            tail @ ..,
        ] => {
            let fields = [
                *y0, *y1, *y2, *y3, *mo0, *mo1, *d0, *d1, *h0, *h1, *mi0, *mi1, *s0, *s1,
            ];
            match tail {
                [b'Z'] => (fields, 1, [b'0'; 4]),
                [sign @ (b'+' | b'-'), oh0, oh1, b':', om0, om1] => (
                    fields,
                    if *sign == b'-' { -1 } else { 1 },
                    [*oh0, *oh1, *om0, *om1],
                ),
                _ => return None,
            }
        }
        _ => return None,
    };
    let mut d = [0u8; 18];
    for (out, c) in d.iter_mut().zip(digits.iter().chain(&offset)) {
        *out = c.wrapping_sub(b'0');
    }
    if d.iter().any(|&v| v > 9) {
        return None;
    }
    let pair = |i: usize| u32::from(d[i]) * 10 + u32::from(d[i + 1]);
    let (h, m) = (pair(14), pair(16));
    if h > 23 || m > 59 {
        return None;
    }
    let offset = sign * i32::try_from(h * 3600 + m * 60).ok()?;
    let year = i32::try_from(pair(0) * 100 + pair(2)).ok()?;
    let date = NaiveDate::from_ymd_opt(year, pair(4), pair(6))?;
    // `from_hms_opt` refuses second 60: a leap second is left to chrono.
    let time = NaiveTime::from_hms_opt(pair(8), pair(10), pair(12))?;
    let offset = FixedOffset::east_opt(offset)?;
    // What `offset.from_local_datetime(..).single()` does for a fixed offset,
    // without its `LocalResult` wrapping and unwrapping.
    let utc = date.and_time(time).checked_sub_offset(offset)?;
    Some(DateTime::from_naive_utc_and_offset(utc, offset))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

/// JSON shape: `{"at": "...", "offset": "known" | "unknown"}` (known: stated by the
/// carrier, or our own clock for daemon facts) so a consumer can never mistake a
/// naive local time for UTC.
#[derive(Serialize, Deserialize)]
struct WireTimestamp {
    at: String,
    offset: OffsetSource,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum OffsetSource {
    Known,
    Unknown,
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireTimestamp {
            at: self.to_wire(),
            offset: if self.offset_known() {
                OffsetSource::Known
            } else {
                OffsetSource::Unknown
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireTimestamp::deserialize(d)?;
        let ts = Timestamp::from_wire(&w.at)
            .ok_or_else(|| serde::de::Error::custom(format!("bad timestamp {:?}", w.at)))?;
        if ts.offset_known() != (w.offset == OffsetSource::Known) {
            return Err(serde::de::Error::custom(
                "timestamp offset provenance mismatch",
            ));
        }
        Ok(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_stays_naive_through_json() {
        let ts = Timestamp::from_wire("2022-01-26T16:30:00").unwrap();
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, r#"{"at":"2022-01-26T16:30:00","offset":"unknown"}"#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }

    #[test]
    fn zoned_keeps_offset() {
        let ts = Timestamp::from_wire("2022-01-26T16:30:00-05:00").unwrap();
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2022-01-26T16:30:00-05:00","offset":"known"}"#
        );
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
    }

    fn round_trip(wire: &str) -> Timestamp {
        let ts = Timestamp::from_wire(wire).unwrap_or_else(|| panic!("{wire} parses"));
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(
            serde_json::from_str::<Timestamp>(&json).unwrap(),
            ts,
            "{json}"
        );
        assert_eq!(Timestamp::from_wire(&ts.to_wire()), Some(ts), "{wire}");
        ts
    }

    /// Found by fuzzing (parse_gls, parse_postnl): the store's JSON dropped a naive
    /// time's milliseconds, so a reloaded snapshot differed from the fresh answer.
    #[test]
    fn naive_fractions_survive_the_store() {
        let ts = round_trip("2025-02-10T15:08:44.0100");
        assert_eq!(ts.to_wire(), "2025-02-10T15:08:44.010");
        assert_eq!(
            round_trip("2021-03-25T12:13:08.644").to_wire(),
            "2021-03-25T12:13:08.644"
        );
        assert_eq!(
            round_trip("2021-03-25T12:13:08").to_wire(),
            "2021-03-25T12:13:08"
        );
    }

    /// Found by fuzzing (parse_usps): a garbled year RFC 3339 cannot write was
    /// stored but could not be read back ("bad timestamp").
    #[test]
    fn years_outside_rfc3339_survive_the_store() {
        let date = NaiveDate::from_ymd_opt(-24, 11, 18).unwrap();
        let time = NaiveTime::from_hms_opt(11, 10, 31).unwrap();
        let ts = Timestamp::zoned(date, time, -5 * 3600).unwrap();
        assert_eq!(ts.to_wire(), "-0024-11-18T11:10:31-05:00");
        assert_eq!(round_trip(&ts.to_wire()), ts);
        let far = Timestamp::zoned(date.with_year(10_000).unwrap(), time, 0).unwrap();
        assert_eq!(far.to_wire(), "+10000-11-18T11:10:31+00:00");
        assert_eq!(round_trip(&far.to_wire()), far);
        assert_eq!(
            round_trip("-0024-11-18T11:10:31"),
            Timestamp::naive(date, time)
        );
    }

    #[test]
    fn extreme_naive_times_saturate_instead_of_panicking() {
        let max = Timestamp::Naive(NaiveDateTime::MAX);
        assert_eq!(max.latest_instant(), DateTime::<Utc>::MAX_UTC);
        let min = Timestamp::Naive(NaiveDateTime::MIN);
        assert_eq!(min.earliest_instant(), DateTime::<Utc>::MIN_UTC);
        round_trip(&max.to_wire());
        round_trip(&min.to_wire());
    }

    #[test]
    fn naive_bounds_cover_every_zone() {
        let ts = Timestamp::from_wire("2022-01-26T12:00:00").unwrap();
        assert_eq!(
            ts.latest_instant().to_rfc3339(),
            "2022-01-27T00:00:00+00:00"
        );
        assert_eq!(
            ts.earliest_instant().to_rfc3339(),
            "2022-01-25T22:00:00+00:00"
        );
    }
    #[test]
    fn the_fixed_reader_agrees_with_chrono() {
        let mut cases = vec![
            "2018-02-02T12:01:00-07:00".to_string(),
            "2026-03-06T05:50:00+05:30".into(),
            "2024-02-29T23:59:59+00:00".into(),
            "2023-02-29T10:00:00+00:00".into(),
            "2018-02-02T12:01:60-07:00".into(),
            "2018-02-02T24:00:00-07:00".into(),
            "2018-02-02T12:01:00-00:00".into(),
            "2018-02-02T12:01:00+24:00".into(),
            "2018-02-02T12:01:00+23:59".into(),
            "2018-02-02T12:01:00-07:60".into(),
            "2018-02-02t12:01:00-07:00".into(),
            "2018-02-02 12:01:00-07:00".into(),
            "2018-02-02T12:01:00.5-07:00".into(),
            "2018-02-02T12:01:00Z".into(),
            "2018-02-02T12:01:00z".into(),
            "0000-01-01T00:00:00+01:00".into(),
            "9999-12-31T23:59:59-01:00".into(),
            "2018-13-02T12:01:00-07:00".into(),
            "2018-00-02T12:01:00-07:00".into(),
            "2018-02-00T12:01:00-07:00".into(),
            "2018-02-02T12:01:0a-07:00".into(),
            "+018-02-02T12:01:00-07:00".into(),
            "2018-02-02T12:01:00*07:00".into(),
        ];
        for (i, c) in "0123456789-T:+Z ".chars().enumerate() {
            for pos in 0..25 {
                let mut v: Vec<char> = "2018-02-02T12:01:00-07:00".chars().collect();
                v[(pos + i) % 25] = c;
                cases.push(v.into_iter().collect());
            }
        }
        for c in &cases {
            if let Some(dt) = fixed_rfc3339(c) {
                let slow = DateTime::parse_from_rfc3339(c).ok();
                assert_eq!(Some(dt), slow, "{c}");
                assert_eq!(dt.offset(), slow.unwrap().offset(), "{c}");
            }
        }
        assert!(fixed_rfc3339("2018-02-02T12:01:00-07:00").is_some());
        assert!(fixed_rfc3339("2018-02-02T12:01:00Z").is_some());
    }

    proptest::proptest! {
        #[test]
        fn fixed_layout_times_agree_with_chrono(
            s in "[0-9]{4}-(0[0-9]|1[0-3])-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](Z|[+-][0-2][0-9]:[0-6][0-9])"
        ) {
            let chrono = DateTime::parse_from_rfc3339(&s).ok();
            match fixed_rfc3339(&s) {
                Some(fast) => {
                    proptest::prop_assert_eq!(Some(fast), chrono, "{}", s);
                    proptest::prop_assert_eq!(*fast.offset(), chrono.map(|c| *c.offset()).unwrap_or(*fast.offset()), "{}", s);
                }
                // Only a leap second is left to chrono in this layout.
                None => proptest::prop_assert!(chrono.is_none() || &s[17..19] == "60", "{}", s),
            }
        }

        #[test]
        fn fixed_reader_never_panics(s in "\\PC{0,30}") {
            if let Some(fast) = fixed_rfc3339(&s) {
                proptest::prop_assert_eq!(Some(fast), DateTime::parse_from_rfc3339(&s).ok());
            }
        }
    }
}
