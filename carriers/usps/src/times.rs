//! USPS event times. `GMTTimestamp` + `GMTOffset` state the instant and the
//! local offset, so they give a zoned time; `eventTimestamp` is the local wall
//! clock and is used alone (naive) only when USPS gave no GMT data.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use trackd_carrier_sdk::Timestamp;

/// Seconds two readings of the same scan may differ by: USPS truncates the
/// local time to the minute while `GMTTimestamp` keeps the seconds.
const SAME_SCAN_TOLERANCE_SECS: i64 = 120;
const DAY_SECS: i64 = 86_400;

/// A local-time field as USPS sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTime {
    /// Wall clock without an offset (also what a trailing `Z` is read as: see
    /// [`parse_local`]).
    Wall(NaiveDateTime),
    /// The field carried an explicit non-UTC offset (`…T12:55:12-05:00`).
    Offset(DateTime<FixedOffset>),
}

impl LocalTime {
    fn wall(&self) -> NaiveDateTime {
        match self {
            LocalTime::Wall(n) => *n,
            LocalTime::Offset(d) => d.naive_local(),
        }
    }
}

/// Parses `eventTimestamp`-style local times: `YYYY-MM-DDTHH:MM[:SS[.f]]`,
/// optionally with an offset, or a bare date (midnight). A `Z` suffix is NOT
/// trusted as UTC: USPS's own published example (`"2023-08-02T07:31:00Z"` for a
/// 7:31 am scan in Richmond, VA) shows local times stamped with a bogus `Z`.
pub fn parse_local(s: &str) -> Option<LocalTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let unzoned = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    if unzoned.len() != s.len() {
        return naive_datetime(unzoned).map(LocalTime::Wall);
    }
    // USPS's usual wall clock (`2024-11-22T13:58:00`) carries no offset: read
    // it without trying the zoned layouts first (same result, see tests).
    if let Some(n) = fixed_datetime(s) {
        return Some(LocalTime::Wall(n));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(LocalTime::Offset(dt));
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z") {
        return Some(LocalTime::Offset(dt));
    }
    naive_datetime(s).map(LocalTime::Wall)
}

/// A date-time or date without zone (space or `T` separated).
pub fn naive_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Some(n) = fixed_datetime(s) {
        return Some(n);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `YYYY-MM-DD`, exactly; `None` for any other layout or an invalid date.
pub fn fixed_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// The fixed layouts `YYYY-MM-DDTHH:MM:SS` and `YYYY-MM-DDTHH:MM` (`T` or a
/// space), read without chrono's format-string machinery; `None` for anything
/// else (fractions, offsets, a leap second: the format strings handle those).
pub fn fixed_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if !(b.len() == 16 || b.len() == 19) || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' {
        return None;
    }
    let date = fixed_date(s.get(..10)?)?;
    let sec = match b.len() {
        19 if b[16] == b':' => digits(&b[17..19])?,
        19 => return None,
        _ => 0,
    };
    let time = NaiveTime::from_hms_opt(digits(&b[11..13])?, digits(&b[14..16])?, sec)?;
    Some(date.and_time(time))
}

/// `GMTTimestamp`: an instant in UTC (`…Z`, an explicit offset, or no suffix).
pub fn parse_gmt(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // USPS's usual `2024-11-26T07:44:28Z`, read without the RFC 3339 parser
    // (same result, see tests); anything else takes the general path.
    if let Some(n) = s
        .strip_suffix('Z')
        .filter(|d| d.len() == 19 && d.as_bytes()[10] == b'T')
        .and_then(fixed_datetime)
    {
        return Some(Utc.from_utc_datetime(&n));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let unzoned = s.strip_suffix('Z').unwrap_or(s);
    naive_datetime(unzoned)
        .filter(|_| unzoned.contains(['T', ' ']))
        .map(|n| Utc.from_utc_datetime(&n))
}

/// `GMTOffset`: `-05:00`, `-5:00`, `+0530`, `-5`, `Z`, `0`.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s == "0" || s.eq_ignore_ascii_case("gmt") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Formats an offset the way USPS does (`-05:00`).
pub fn format_offset(off: &FixedOffset) -> String {
    let secs = off.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// The checkpoint time of one event from its three USPS fields.
///
/// - GMT instant + offset: zoned. When the local wall clock disagrees with
///   them by one day (± the seconds USPS truncates), the GMT *date* is wrong —
///   public live captures show USPS stamping the local date on the GMT time
///   around midnight UTC (`eventTimestamp` 18:31 local on the 25th,
///   `GMTTimestamp` 00:31Z on the 25th, offset -06:00) — so the day is fixed
///   from the local date; the GMT time of day and offset stay the truth.
/// - GMT instant without offset: the offset is derived from the local wall
///   clock when it is a whole quarter hour; otherwise the instant in UTC.
/// - offset without GMT instant: local wall clock at that offset.
/// - a local time with an explicit offset: as given.
/// - local wall clock alone: naive (never a guessed zone).
pub fn event_time(
    local: Option<&str>,
    gmt: Option<&str>,
    offset: Option<&str>,
) -> Option<Timestamp> {
    let local = local.and_then(parse_local);
    let gmt = gmt.and_then(parse_gmt);
    let offset = offset.and_then(parse_offset);
    match (gmt, offset) {
        (Some(instant), Some(off)) => {
            let mut instant = instant;
            if let Some(l) = local {
                let implied = instant.with_timezone(&off).naive_local();
                let diff = (l.wall() - implied).num_seconds();
                for days in [-1, 1] {
                    if (diff - days * DAY_SECS).abs() <= SAME_SCAN_TOLERANCE_SECS {
                        instant += Duration::days(days);
                    }
                }
            }
            Some(Timestamp::Zoned(instant.with_timezone(&off)))
        }
        (Some(instant), None) => {
            let derived = local.and_then(|l| {
                let diff = (l.wall() - instant.naive_utc()).num_seconds();
                let quarter = 900;
                let rounded = (diff as f64 / quarter as f64).round() as i64 * quarter;
                let within = (diff - rounded).abs() <= SAME_SCAN_TOLERANCE_SECS
                    && (-12 * 3600..=14 * 3600).contains(&rounded);
                within
                    .then(|| i32::try_from(rounded).ok())
                    .flatten()
                    .and_then(FixedOffset::east_opt)
            });
            let off = derived.or_else(|| FixedOffset::east_opt(0))?;
            Some(Timestamp::Zoned(instant.with_timezone(&off)))
        }
        (None, Some(off)) => match local? {
            LocalTime::Offset(dt) => Some(Timestamp::Zoned(dt)),
            LocalTime::Wall(n) => off.from_local_datetime(&n).single().map(Timestamp::Zoned),
        },
        (None, None) => match local? {
            LocalTime::Offset(dt) => Some(Timestamp::Zoned(dt)),
            LocalTime::Wall(n) => Some(Timestamp::Naive(n)),
        },
    }
}

/// A clock time of day as USPS writes it in delivery windows: `12:15pm`,
/// `3:15 PM`, `by 5:00 pm`, `9pm`, `15:15`, `15:15:00`.
pub fn parse_clock(s: &str) -> Option<NaiveTime> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_prefix("by").unwrap_or(&t).trim().replace('.', "");
    let (body, pm) = if let Some(b) = t.strip_suffix("pm") {
        (b.trim(), Some(true))
    } else if let Some(b) = t.strip_suffix("am") {
        (b.trim(), Some(false))
    } else {
        (t.as_str(), None)
    };
    let mut parts = body.split(':');
    let h: u32 = parts.next()?.trim().parse().ok()?;
    let m: u32 = match parts.next() {
        Some(m) => m.trim().parse().ok()?,
        None => 0,
    };
    let sec: u32 = match parts.next() {
        Some(x) => x.trim().parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let h = match pm {
        Some(true) if (1..=11).contains(&h) => h + 12,
        Some(true) if h == 12 => 12,
        Some(false) if h == 12 => 0,
        Some(false) if (1..=11).contains(&h) => h,
        Some(_) => return None,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, sec)
}

/// Formats a time of day the way USPS's examples do (`12:15pm`).
pub fn format_clock(t: &NaiveTime) -> String {
    t.format("%-I:%M%P").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definitions before the fixed-layout fast paths.
    fn chrono_naive(s: &str) -> Option<NaiveDateTime> {
        let s = s.trim();
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(n);
            }
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
    }

    /// `parse_gmt` before its fast path.
    fn chrono_gmt(s: &str) -> Option<DateTime<Utc>> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(dt.with_timezone(&Utc));
        }
        let unzoned = s.strip_suffix('Z').unwrap_or(s);
        naive_datetime(unzoned)
            .filter(|_| unzoned.contains(['T', ' ']))
            .map(|n| Utc.from_utc_datetime(&n))
    }

    fn chrono_local(s: &str) -> Option<LocalTime> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let unzoned = s
            .strip_suffix('Z')
            .or_else(|| s.strip_suffix("+00:00"))
            .unwrap_or(s);
        if unzoned.len() != s.len() {
            return chrono_naive(unzoned).map(LocalTime::Wall);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(LocalTime::Offset(dt));
        }
        if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z") {
            return Some(LocalTime::Offset(dt));
        }
        chrono_naive(s).map(LocalTime::Wall)
    }

    /// Date-time-like text: mostly well-formed, with wrong digits, lengths,
    /// separators and suffixes mixed in.
    fn datetime_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?",
            "(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-4]):[0-5][0-9](:[0-6][0-9])?(\\.[0-9]{1,9})?(Z|[+-][01][0-9]:?[0-5][0-9])?",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "[ 0-9T:+Z.-]{0,22}",
            "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}T[0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}",
        ]
    }

    proptest! {
        #[test]
        fn fast_paths_agree_with_chrono(s in datetime_like()) {
            prop_assert_eq!(naive_datetime(&s), chrono_naive(&s));
            prop_assert_eq!(parse_local(&s), chrono_local(&s));
            prop_assert_eq!(parse_gmt(&s), chrono_gmt(&s));
            let zulu = format!("{s}Z");
            prop_assert_eq!(parse_gmt(&zulu), chrono_gmt(&zulu));
            if let Some(d) = fixed_date(&s) {
                prop_assert_eq!(Some(d), NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok());
            }
            if let Some(n) = fixed_datetime(&s) {
                prop_assert_eq!(Some(n), chrono_naive(&s));
            }
        }
    }

    #[test]
    fn fixed_layouts() {
        let n = |s| fixed_datetime(s).map(|n| n.to_string());
        assert_eq!(
            n("2024-11-22T13:58:00").as_deref(),
            Some("2024-11-22 13:58:00")
        );
        assert_eq!(
            n("2024-11-22 13:58").as_deref(),
            Some("2024-11-22 13:58:00")
        );
        assert_eq!(n("2024-02-30T13:58:00"), None);
        assert_eq!(n("2024-11-22T13:58:60"), None);
        assert_eq!(n("2024-11-22T13:58:0Z"), None);
        assert_eq!(
            fixed_date("2024-11-22").map(|d| d.to_string()).as_deref(),
            Some("2024-11-22")
        );
        assert_eq!(fixed_date("+024-11-22"), None);
    }

    fn wire(t: Option<Timestamp>) -> String {
        t.map(|t| t.to_wire()).unwrap_or_default()
    }

    #[test]
    fn gmt_and_offset_give_zoned_time_with_seconds() {
        let t = event_time(
            Some("2024-11-22T13:58:00"),
            Some("2024-11-22T18:58:40Z"),
            Some("-05:00"),
        );
        assert_eq!(wire(t), "2024-11-22T13:58:40-05:00");
        let t = event_time(
            Some("2025-02-07T12:55:12-05:00"),
            Some("2025-02-07T17:55:12Z"),
            Some("-5:00"),
        );
        assert_eq!(wire(t), "2025-02-07T12:55:12-05:00");
        let t = event_time(None, Some("2024-04-04T14:03:12.041Z"), Some("-7:00"));
        assert_eq!(wire(t), "2024-04-04T07:03:12.041-07:00");
    }

    #[test]
    fn gmt_date_rollover_bug_is_corrected() {
        let t = event_time(
            Some("2024-11-25T18:31:00"),
            Some("2024-11-25T00:31:21Z"),
            Some("-06:00"),
        );
        assert_eq!(wire(t), "2024-11-25T18:31:21-06:00");
        let t = event_time(
            Some("2024-11-21T23:28:00"),
            Some("2024-11-21T05:28:33Z"),
            Some("-06:00"),
        );
        assert_eq!(wire(t), "2024-11-21T23:28:33-06:00");
    }

    #[test]
    fn fallbacks_never_invent_a_zone() {
        let t = event_time(Some("2024-11-19T09:27:00"), None, None);
        assert_eq!(
            t,
            Some(Timestamp::Naive(
                naive_datetime("2024-11-19T09:27:00").unwrap()
            ))
        );
        // The bogus Z of USPS's README example stays a wall clock.
        let t = event_time(Some("2023-08-02T07:31:00Z"), None, None);
        assert!(!t.unwrap().offset_known());
        let t = event_time(Some("2024-11-19T09:27:00"), None, Some("-05:00"));
        assert_eq!(wire(t), "2024-11-19T09:27:00-05:00");
        // GMT without offset: the offset is derived from the wall clock.
        let t = event_time(
            Some("2024-11-22T13:58:00"),
            Some("2024-11-22T18:58:40Z"),
            None,
        );
        assert_eq!(wire(t), "2024-11-22T13:58:40-05:00");
        let t = event_time(None, Some("2024-11-22T18:58:40Z"), None);
        assert_eq!(wire(t), "2024-11-22T18:58:40Z");
        assert_eq!(event_time(None, None, Some("-05:00")), None);
        assert_eq!(event_time(Some("soon"), Some("x"), Some("y")), None);
    }

    #[test]
    fn offsets_and_clocks() {
        assert_eq!(
            parse_offset("-7:00").map(|o| o.local_minus_utc()),
            Some(-25_200)
        );
        assert_eq!(
            parse_offset("+0530").map(|o| o.local_minus_utc()),
            Some(19_800)
        );
        assert_eq!(
            parse_offset("-5").map(|o| o.local_minus_utc()),
            Some(-18_000)
        );
        assert_eq!(parse_offset("-25:00"), None);
        assert_eq!(parse_offset(""), None);
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(parse_clock("12:15pm"), hm(12, 15));
        assert_eq!(parse_clock("3:15pm"), hm(15, 15));
        assert_eq!(parse_clock("by 5:00 pm"), hm(17, 0));
        assert_eq!(parse_clock("12:05 AM"), hm(0, 5));
        assert_eq!(parse_clock("9pm"), hm(21, 0));
        assert_eq!(parse_clock("15:15"), hm(15, 15));
        assert_eq!(parse_clock("string"), None);
        assert_eq!(parse_clock("13pm"), None);
        assert_eq!(
            format_clock(&NaiveTime::from_hms_opt(15, 15, 0).unwrap()),
            "3:15pm"
        );
        assert_eq!(
            format_clock(&NaiveTime::from_hms_opt(0, 0, 0).unwrap()),
            "12:00am"
        );
    }
}
