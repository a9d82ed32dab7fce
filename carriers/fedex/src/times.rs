//! FedEx times: ISO 8601 with an offset (`2018-02-02T12:01:00-07:00`) become
//! zoned; without one (`2007-09-27T00:00:00`) they stay naive — never a guessed
//! zone. Date-only values (`2019-05-07`) are dates.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use trackd_carrier_sdk::{Eta, Timestamp};

/// A FedEx value: a moment (zoned or naive) or only a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FedexTime {
    At(Timestamp),
    Date(NaiveDate),
}

/// Parses a FedEx date-time or date; `None` for empty or garbled values.
pub fn parse(s: &str) -> Option<FedexTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(dt) = fixed_rfc3339(s) {
        return Some(FedexTime::At(Timestamp::Zoned(dt)));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(FedexTime::At(Timestamp::Zoned(dt)));
    }
    // Offsets without a colon (`-0700`), seen in some FedEx systems.
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(FedexTime::At(Timestamp::Zoned(dt)));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(FedexTime::At(Timestamp::Naive(n)));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some(FedexTime::At(Timestamp::Naive(n)));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(FedexTime::Date)
}

/// `YYYY-MM-DDTHH:MM:SS±HH:MM`, the form FedEx sends (and the simulator
/// renders), read by position: chrono's RFC 3339 parser costs several times
/// more. Anything else (fractions, `Z`, other separators, a leap second, a
/// `-00:00` or out-of-range field) is `None` and goes to chrono, so the
/// results are chrono's.
fn fixed_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    let b: &[u8; 25] = s.as_bytes().try_into().ok()?;
    let digit = |i: usize| {
        let d = b[i].wrapping_sub(b'0');
        (d < 10).then_some(u32::from(d))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    if [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (22, b':'),
    ]
    .iter()
    .any(|&(i, c)| b[i] != c)
    {
        return None;
    }
    let year = i32::try_from(two(0)? * 100 + two(2)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, two(5)?, two(8)?)?;
    let time = NaiveTime::from_hms_opt(two(11)?, two(14)?, two(17)?)?;
    let (hours, minutes) = (two(20)?, two(23)?);
    if hours >= 24 || minutes >= 60 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    let offset = match b[19] {
        b'+' => FixedOffset::east_opt(secs)?,
        b'-' if secs != 0 => FixedOffset::west_opt(secs)?,
        _ => return None,
    };
    offset.from_local_datetime(&date.and_time(time)).single()
}

/// A moment (not a bare date), for scan times and delivery times.
pub fn moment(s: &str) -> Option<Timestamp> {
    match parse(s)? {
        FedexTime::At(ts) => Some(ts),
        FedexTime::Date(_) => None,
    }
}

/// Midnight of the same local day, keeping the value's provenance (zoned
/// stays zoned with the same offset, naive stays naive).
fn start_of_day(ts: &Timestamp) -> Timestamp {
    match ts {
        Timestamp::Zoned(dt) => {
            let off = *dt.offset();
            Timestamp::zoned(dt.date_naive(), NaiveTime::MIN, off.local_minus_utc())
                .unwrap_or(Timestamp::Naive(dt.date_naive().and_time(NaiveTime::MIN)))
        }
        Timestamp::Naive(n) => Timestamp::Naive(n.date().and_time(NaiveTime::MIN)),
    }
}

/// A single promised value (`dateAndTimes` ESTIMATED_DELIVERY, a window with
/// only an end...): a date, or midnight (FedEx's "date only" form) → `Eta::Date`;
/// a time of day → "by then" window from the start of that day.
pub fn single_eta(v: FedexTime) -> Eta {
    match v {
        FedexTime::Date(date) => Eta::Date { date },
        FedexTime::At(ts) if ts.local().time() == NaiveTime::MIN => Eta::Date {
            date: ts.local().date(),
        },
        FedexTime::At(ts) => Eta::Window {
            start: start_of_day(&ts),
            end: ts,
        },
    }
}

/// A `{begins, ends}` window: both moments → a window; only an end (or a
/// begin equal to nothing usable) → [`single_eta`] of the end.
pub fn window_eta(begins: Option<&str>, ends: Option<&str>) -> Option<Eta> {
    let b = begins.and_then(parse);
    let e = ends.and_then(parse);
    match (b, e) {
        (Some(FedexTime::At(start)), Some(FedexTime::At(end))) => Some(Eta::Window { start, end }),
        (Some(FedexTime::Date(a)), Some(FedexTime::Date(z))) if a == z => {
            Some(Eta::Date { date: z })
        }
        (_, Some(end)) => Some(single_eta(end)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_is_kept() {
        let z = moment("2018-02-02T12:01:00-07:00").unwrap();
        assert_eq!(z.to_wire(), "2018-02-02T12:01:00-07:00");
        let n = moment("2007-09-27T00:00:00").unwrap();
        assert!(!n.offset_known());
        assert_eq!(moment("2019-05-07"), None);
        assert_eq!(
            parse("2019-05-07"),
            Some(FedexTime::Date(
                NaiveDate::from_ymd_opt(2019, 5, 7).unwrap()
            ))
        );
        assert_eq!(
            moment("2018-02-02T12:01:00-0700").map(|t| t.to_wire()),
            Some("2018-02-02T12:01:00-07:00".into())
        );
        assert_eq!(parse(""), None);
        assert_eq!(parse("string"), None);
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
            "0000-01-01T00:00:00+01:00".into(),
            "9999-12-31T23:59:59-01:00".into(),
            "2018-13-02T12:01:00-07:00".into(),
            "2018-00-02T12:01:00-07:00".into(),
            "2018-02-00T12:01:00-07:00".into(),
            "2018-02-02T12:01:0a-07:00".into(),
            "+018-02-02T12:01:00-07:00".into(),
            "2018-02-02T12:01:00*07:00".into(),
        ];
        for (i, c) in "0123456789-T:+ ".chars().enumerate() {
            for pos in 0..25 {
                let mut v: Vec<char> = "2018-02-02T12:01:00-07:00".chars().collect();
                v[(pos + i) % 25] = c;
                cases.push(v.into_iter().collect());
            }
        }
        for c in &cases {
            let fast = fixed_rfc3339(c);
            if let Some(dt) = fast {
                let slow = DateTime::parse_from_rfc3339(c).ok();
                assert_eq!(Some(dt), slow, "{c}");
                assert_eq!(dt.offset(), slow.unwrap().offset(), "{c}");
            }
        }
        assert!(fixed_rfc3339("2018-02-02T12:01:00-07:00").is_some());
    }

    #[test]
    fn etas() {
        assert_eq!(
            window_eta(None, Some("2021-10-15T00:00:00-06:00")),
            Some(Eta::Date {
                date: NaiveDate::from_ymd_opt(2021, 10, 15).unwrap()
            })
        );
        let by = window_eta(Some(""), Some("2021-10-15T10:30:00-06:00")).unwrap();
        match by {
            Eta::Window { start, end } => {
                assert_eq!(start.to_wire(), "2021-10-15T00:00:00-06:00");
                assert_eq!(end.to_wire(), "2021-10-15T10:30:00-06:00");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(window_eta(Some("2021-10-01T08:00:00"), None), None);
    }
}
