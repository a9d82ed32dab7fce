//! Royal Mail times: `eventDateTime` is ISO 8601 with an offset
//! (`2016-10-20T10:04:00+01:00`, or `Z`); the ETA window gives a date plus
//! times of day with an offset (`08:00:00+01:00`). An offset present is kept
//! (zoned); a time without one stays naive. No zone is ever invented.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use trackd_carrier_sdk::time::fixed_rfc3339;
use trackd_carrier_sdk::{Eta, Timestamp};

/// A full date-time, zoned when it carries an offset.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(dt) = fixed_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(Timestamp::Zoned(dt));
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Timestamp::Naive(n));
        }
    }
    None
}

/// A date, also accepted as the date part of a date-time.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let head = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// `+01:00`, `+0100`, `+01` or `Z` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i32>().ok()?,
            digits.get(2..)?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h <= 18 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// A time of day with an optional offset on `date`.
pub fn parse_time_on(date: NaiveDate, s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.contains('T') {
        return parse_datetime(s);
    }
    // The offset starts at the first sign or `Z` after the clock digits.
    let split = s
        .char_indices()
        .skip(1)
        .find(|(_, c)| matches!(c, '+' | '-' | 'Z' | 'z'))
        .map_or(s.len(), |(i, _)| i);
    let (clock, offset) = s.split_at(split);
    let time = NaiveTime::parse_from_str(clock, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M"))
        .ok()?;
    if offset.is_empty() {
        return Some(Timestamp::naive(date, time));
    }
    let off = FixedOffset::east_opt(parse_offset(offset)?)?;
    off.from_local_datetime(&date.and_time(time))
        .single()
        .map(Timestamp::Zoned)
}

/// `estimatedDelivery`: a timed window when both times parse, else the date.
/// A window whose end reads earlier than its start ends the next day.
pub fn eta(date: &str, start: &str, end: &str) -> Option<Eta> {
    let date = parse_date(date)?;
    let window = parse_time_on(date, start).zip(parse_time_on(date, end));
    Some(match window {
        Some((start, end)) => {
            let end = if end.local() < start.local() {
                shift_day(end)
            } else {
                end
            };
            Eta::Window { start, end }
        }
        None => Eta::Date { date },
    })
}

fn shift_day(t: Timestamp) -> Timestamp {
    match t {
        Timestamp::Zoned(dt) => Timestamp::Zoned(dt + Duration::days(1)),
        Timestamp::Naive(n) => Timestamp::Naive(n + Duration::days(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_is_kept() {
        let z = parse_datetime("2016-10-20T10:04:00+01:00").unwrap();
        assert_eq!(z.to_wire(), "2016-10-20T10:04:00+01:00");
        assert!(
            parse_datetime("2024-01-10T19:10:11Z")
                .unwrap()
                .offset_known()
        );
        assert!(
            !parse_datetime("2024-01-10T19:10:11")
                .unwrap()
                .offset_known()
        );
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn window_times() {
        let d = NaiveDate::from_ymd_opt(2017, 2, 20).unwrap();
        assert_eq!(
            parse_time_on(d, "08:00:00+01:00").unwrap().to_wire(),
            "2017-02-20T08:00:00+01:00"
        );
        assert_eq!(
            parse_time_on(d, "08:00:00-05:30").unwrap().to_wire(),
            "2017-02-20T08:00:00-05:30"
        );
        assert!(!parse_time_on(d, "08:00").unwrap().offset_known());
        assert_eq!(parse_time_on(d, "8 o'clock"), None);
        assert!(matches!(
            eta("2017-02-20", "", "11:00:00+01:00"),
            Some(Eta::Date { .. })
        ));
        match eta("2017-02-20", "22:00:00+00:00", "01:00:00+00:00") {
            Some(Eta::Window { end, .. }) => assert_eq!(end.to_wire(), "2017-02-21T01:00:00Z"),
            other => panic!("{other:?}"),
        }
    }
}
