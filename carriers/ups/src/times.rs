//! UPS date and time fields: `YYYYMMDD`, `HHMMSS` local wall-clock times with no
//! zone, and the optional `gmtDate`/`gmtTime`/`gmtOffset` triple that lets us
//! state an offset without inventing one.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use trackd_carrier_sdk::Timestamp;

/// Widest real-world offsets (UTC-12 .. UTC+14), in seconds.
const MAX_OFFSET_SECS: i64 = 14 * 3600;

/// Parses `YYYYMMDD` (exactly 8 digits); placeholders like `"string"` give `None`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let y = num(&b[0..4])?;
    let m = num(&b[4..6])?;
    let d = num(&b[6..8])?;
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// Parses a time of day: `HHMMSS`, `HH:MM:SS` (UPS's gmtTime), `HMMSS` (the
/// spec's own `74700` example drops the leading zero) or `HHMM`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let mut digits = [0u8; 6];
    let mut n = 0;
    for c in s.trim().bytes() {
        match c {
            b'0'..=b'9' if n < 6 => {
                digits[n] = c;
                n += 1;
            }
            b':' | b'.' => {}
            _ => return None,
        }
    }
    let (h, m, sec) = match n {
        6 => (
            num(&digits[0..2])?,
            num(&digits[2..4])?,
            num(&digits[4..6])?,
        ),
        5 => (
            num(&digits[0..1])?,
            num(&digits[1..3])?,
            num(&digits[3..5])?,
        ),
        4 => (num(&digits[0..2])?, num(&digits[2..4])?, 0),
        _ => return None,
    };
    NaiveTime::from_hms_opt(h, m, sec)
}

/// Parses a UTC offset such as `-05:00`, `+0530`, `-05.00` or `-5` into seconds
/// east of UTC; out-of-range offsets give `None`.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let digits: Vec<u8> = rest.bytes().filter(|c| !matches!(c, b':' | b'.')).collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (num(&digits)?, 0),
        3 => (num(&digits[0..1])?, num(&digits[1..3])?),
        4 => (num(&digits[0..2])?, num(&digits[2..4])?),
        _ => return None,
    };
    if m >= 60 {
        return None;
    }
    let secs = i64::from(sign) * (i64::from(h) * 3600 + i64::from(m) * 60);
    (secs.abs() <= MAX_OFFSET_SECS)
        .then(|| i32::try_from(secs).ok())
        .flatten()
}

fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// The time of one activity: zoned when UPS stated the offset (directly, or via a
/// consistent GMT date/time), naive local time otherwise; `None` without a date
/// and time.
pub fn activity_time(
    date: &str,
    time: &str,
    gmt_date: &str,
    gmt_time: &str,
    gmt_offset: &str,
) -> Option<Timestamp> {
    let local = parse_date(date)?.and_time(parse_time(time)?);
    let gmt: Option<NaiveDateTime> = parse_date(gmt_date)
        .zip(parse_time(gmt_time))
        .map(|(d, t)| d.and_time(t));
    let offset = match (parse_offset(gmt_offset), gmt) {
        // Both given: trust them only when they agree.
        (Some(off), Some(g)) => ((local - g).num_seconds() == i64::from(off)).then_some(off),
        (Some(off), None) => Some(off),
        (None, Some(g)) => {
            let diff = (local - g).num_seconds();
            (diff.abs() <= MAX_OFFSET_SECS && diff % 900 == 0)
                .then(|| i32::try_from(diff).ok())
                .flatten()
        }
        (None, None) => None,
    };
    match offset {
        Some(off) => {
            Timestamp::zoned(local.date(), local.time(), off).or(Some(Timestamp::Naive(local)))
        }
        None => Some(Timestamp::Naive(local)),
    }
}

/// Renders a date as UPS does (`YYYYMMDD`).
pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// Renders a time of day as UPS does (`HHMMSS`).
pub fn fmt_time(t: NaiveTime) -> String {
    t.format("%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("20220126"), NaiveDate::from_ymd_opt(2022, 1, 26));
        assert_eq!(parse_date("string"), None);
        assert_eq!(parse_date("20221301"), None);
        assert_eq!(parse_date("2022012"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn times() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s);
        assert_eq!(parse_time("163000"), t(16, 30, 0));
        assert_eq!(parse_time("09:41:00"), t(9, 41, 0));
        assert_eq!(parse_time("74700"), t(7, 47, 0));
        assert_eq!(parse_time("1630"), t(16, 30, 0));
        assert_eq!(parse_time("240000"), None);
        assert_eq!(parse_time("string"), None);
        assert_eq!(parse_time("1234567"), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("-05:00"), Some(-18_000));
        assert_eq!(parse_offset("+0530"), Some(19_800));
        assert_eq!(parse_offset("-04.00"), Some(-14_400));
        assert_eq!(parse_offset("-5"), Some(-18_000));
        assert_eq!(parse_offset("+15:00"), None);
        assert_eq!(parse_offset(""), None);
        assert_eq!(parse_offset("abc"), None);
    }

    #[test]
    fn activity_times_stay_naive_without_gmt() {
        let ts = activity_time("20220126", "163000", "", "", "").unwrap();
        assert_eq!(ts.to_wire(), "2022-01-26T16:30:00");
        assert!(!ts.offset_known());
    }

    #[test]
    fn activity_times_use_a_consistent_gmt_triple() {
        let ts = activity_time("20251211", "034100", "20251211", "09:41:00", "-06:00").unwrap();
        assert_eq!(ts.to_wire(), "2025-12-11T03:41:00-06:00");
        // Offset derived from GMT date/time alone.
        let ts = activity_time("20240123", "215624", "20240124", "02:56:24", "").unwrap();
        assert_eq!(ts.to_wire(), "2024-01-23T21:56:24-05:00");
        // Contradicting offset and GMT time: keep the local time naive.
        let ts = activity_time("20240123", "215624", "20240124", "02:56:24", "-06:00").unwrap();
        assert!(!ts.offset_known());
        assert!(activity_time("", "215624", "", "", "").is_none());
    }
}
