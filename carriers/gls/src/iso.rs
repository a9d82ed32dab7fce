//! A fixed-layout reader for the one time shape this carrier sends on every
//! event, `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM]`, so the hot path does
//! not try chrono format strings one after another. It only accepts what the
//! format-string parser would read to the same value; anything else returns
//! `None` and the caller falls back to that parser.

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone};
use trackd_carrier_sdk::Timestamp;

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// The fast path: `Some` only for the fixed layout, with a valid date, time
/// and offset.
pub fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[..4])?).ok()?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let (h, m, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if sec > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = digits(&tail[..n])? * 10u32.pow(9 - n as u32);
        rest = &tail[n..];
    }
    let local = date.and_time(NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?);
    let offset = match rest {
        [] => return Some(Timestamp::Naive(local)),
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] | [sign @ (b'+' | b'-'), hh @ .., m1, m2]
            if hh.len() == 2 =>
        {
            let (oh, om) = (digits(hh)?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&local)
        .single()
        .map(Timestamp::Zoned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_time_formats;
    use proptest::prelude::*;

    fn same(s: &str) {
        let fast = parse(s).map(|t| format!("{t:?}"));
        if fast.is_some() {
            assert_eq!(fast, parse_time_formats(s).map(|t| format!("{t:?}")), "{s}");
        }
    }

    #[test]
    fn fixed_layouts() {
        for s in [
            "2024-10-07T10:46:14+0200",
            "2024-10-07T10:46:14-05:30",
            "2024-10-07T10:46:14.123+0200",
            "2024-10-07T10:46:14Z",
            "2024-10-07T10:46:14",
            "2024-10-07T10:46:14.5",
            "2024-02-29T23:59:59.999999999+23:59",
        ] {
            assert!(parse(s).is_some(), "{s}");
            same(s);
        }
        for s in [
            "2023-02-29T10:46:14+0200",
            "2024-10-07T24:00:00",
            "2024-10-07T10:46:60Z",
            "2024-10-07 10:46:14",
            "2024-10-07T10:46:14.+0200",
            "2024-10-07T10:46:14.1234567891",
            "2024-10-07T10:46:14+24:00",
            "2024-10-07T10:46:14+02",
            "2024-10-07T10:46:14+2:00",
            "2024-10-07T10:46",
            "+024-10-07T10:46:14",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_format_strings(
            s in "[0-9]{4}-(0[0-9]|1[0-3])-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?(Z|z|[+-][0-2][0-9]:?[0-6][0-9]|[+-][0-9]{2})?",
        ) {
            same(&s);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
