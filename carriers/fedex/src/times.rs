//! FedEx times: ISO 8601 with an offset (`2018-02-02T12:01:00-07:00`) become
//! zoned; without one (`2007-09-27T00:00:00`) they stay naive — never a guessed
//! zone. Date-only values (`2019-05-07`) are dates.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use trackd_carrier_sdk::time::fixed_rfc3339;
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
