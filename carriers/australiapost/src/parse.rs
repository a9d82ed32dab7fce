//! Track Items answer → normalized snapshots and typed errors.

use crate::codes::{lookup_event, lookup_status};
use crate::wire::{TrackAnswer, WireError, WireEvent, WireItem, WireResult};
use chrono::{DateTime, NaiveDateTime};
use trackd_carrier_sdk::json::read_json;
use trackd_carrier_sdk::model::{clean, trim};
use trackd_carrier_sdk::time::fixed_rfc3339;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, HttpResponse, NumberResult, Snapshot, Status, Timestamp,
};

/// Australian state and territory abbreviations that end domestic locations
/// ("ALEXANDRIA NSW"), as one `match` (a length switch and a compare) instead
/// of a scan of a list.
fn is_au_state(s: &str) -> bool {
    matches!(
        s,
        "NSW" | "VIC" | "QLD" | "SA" | "WA" | "TAS" | "NT" | "ACT"
    )
}

/// An event time: Australia Post prints ISO 8601 with an offset
/// (`2014-05-26T14:20:31+10:00`); the colon-less `+1000` form is accepted too.
/// A time without an offset stays naive: inventing one would shift it by hours.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = trim(s);
    if let Some(dt) = fixed_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(Timestamp::Zoned(dt));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Timestamp::Naive(n));
        }
    }
    None
}

/// Splits Australia Post's one-line location: `SUBURB STATE` (domestic),
/// `PLACE (CC)` (international), anything else is kept whole as the city.
pub fn parse_location(raw: &str) -> Option<Address> {
    // Trimmed, not copied: only the parts kept are allocated.
    let s = trim(raw);
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    // `PLACE (CC)`: the last " (" is followed by two capitals and `)` exactly
    // when the text ends with " (CC)", so the suffix is checked on bytes
    // instead of searching for " (".
    if let [.., b' ', b'(', c1, c2, b')'] = b
        && c1.is_ascii_uppercase()
        && c2.is_ascii_uppercase()
    {
        let open = s.len() - 5;
        return Address {
            city: clean(&s[..open]),
            country: Some(s[open + 2..open + 4].to_string()),
            ..Address::default()
        }
        .non_empty();
    }
    // `rsplit_once(' ')` on bytes: a space byte is always a whole character.
    if let Some(space) = b.iter().rposition(|&c| c == b' ')
        && is_au_state(&s[space + 1..])
        && let Some(city) = clean(&s[..space])
    {
        return Some(Address {
            city: Some(city),
            region: Some(s[space + 1..].to_string()),
            country: Some("AU".into()),
            postal_code: None,
        });
    }
    Address {
        city: Some(s.to_string()),
        ..Address::default()
    }
    .non_empty()
}

/// How one per-result or top-level error code reads for the daemon.
pub fn classify(e: &WireError, resp: &HttpResponse) -> CarrierError {
    let code = e.code_text();
    let message = e.message_text();
    match code.to_ascii_uppercase().as_str() {
        // Invalid tracking ID; "one or more submitted tracking ids could not be found".
        "ESB-10001" | "51104" => CarrierError::NotFound {
            code: Some(code),
            message,
        },
        "API_002" => CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        },
        // Internal technical errors of the tracking back end.
        "ESB-20010" | "ESB-20050" => CarrierError::Unavailable {
            status: resp.status,
            message: format!("{code}: {message}"),
        },
        // Customer (account number) unknown to Australia Post.
        "41001" | "API_001" => CarrierError::Auth {
            message: format!("{code}: {message}"),
        },
        // ESB-10002 product not trackable, 51100..51103 bad request, the rest.
        _ => CarrierError::Rejected { code, message },
    }
}

/// Items, or events, picked from the answer: the answer's own slice when all
/// of it is taken (the usual case), so nothing is collected, else the picked
/// references.
enum Picked<'b, T> {
    All(&'b [T]),
    Listed(Vec<&'b T>),
}

impl<'b, T> Picked<'b, T> {
    fn len(&self) -> usize {
        match self {
            Picked::All(s) => s.len(),
            Picked::Listed(v) => v.len(),
        }
    }

    /// The picked values in order; one of the two chained halves is empty,
    /// which gives one iterator type for both cases.
    fn iter(&self) -> impl Iterator<Item = &'b T> + '_ {
        let (all, some): (&'b [T], &[&'b T]) = match self {
            Picked::All(s) => (s, &[]),
            Picked::Listed(v) => (&[], v),
        };
        all.iter().chain(some.iter().copied())
    }
}

/// The flattened articles (leaves) of `items`, each with its own events.
fn leaves<'b, 'a>(items: &'b [WireItem<'a>]) -> Picked<'b, WireItem<'a>> {
    fn collect<'b, 'a>(items: &'b [WireItem<'a>], out: &mut Vec<&'b WireItem<'a>>) {
        for it in items {
            if it.items.is_empty() {
                out.push(it);
            } else {
                collect(&it.items, out);
            }
        }
    }
    if items.iter().all(|it| it.items.is_empty()) {
        return Picked::All(items);
    }
    let mut out = Vec::new();
    collect(items, &mut out);
    Picked::Listed(out)
}

/// The events, status value and product that describe `r.tracking_id`.
fn source<'b, 'a>(
    r: &'b WireResult<'a>,
) -> (Picked<'b, WireEvent<'a>>, Option<&'b str>, Option<&'b str>) {
    let id = trim(&r.tracking_id);
    let all = leaves(r.trackable_items.as_deref().unwrap_or_default());
    let product = all.iter().find_map(|a| a.product_type.as_deref());
    // 1. The article the id names.
    if let Some(a) = all.iter().find(|a| {
        a.article_id
            .as_deref()
            .is_some_and(|x| trim(x).eq_ignore_ascii_case(id))
    }) {
        return (
            Picked::All(&a.events),
            a.status.as_deref(),
            a.product_type.as_deref(),
        );
    }
    // 2. The StarTrack consignment view of the id.
    if let Some(c) = r.consignment.iter().find(|c| !c.events.is_empty()) {
        return (Picked::All(&c.events), c.status.as_deref(), product);
    }
    // 3. A consignment of articles: every article's events, shared scans once.
    let mut events: Vec<&WireEvent<'_>> = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for ev in &a.events {
            let seen_in_other = all.iter().take(i).any(|o| {
                o.events.iter().any(|x| {
                    x.date == ev.date
                        && x.description == ev.description
                        && x.location == ev.location
                })
            });
            if !seen_in_other {
                events.push(ev);
            }
        }
    }
    let status = match all.len() {
        1 => all.iter().next().and_then(|one| one.status.as_deref()),
        _ => None,
    };
    (Picked::Listed(events), status, product)
}

/// `format!("{prefix}{text}")` without the formatting machinery.
fn rule_name(prefix: &str, text: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + text.len());
    out.push_str(prefix);
    out.push_str(text);
    out
}

/// One found result into the normalized snapshot.
pub fn snapshot(r: &WireResult<'_>) -> Result<Snapshot, CarrierError> {
    if r.trackable_items.is_none() && r.consignment.is_empty() && r.status.is_none() {
        return Err(CarrierError::malformed(format!(
            "result for {:?} has neither trackable_items, consignment, status nor errors",
            r.tracking_id
        )));
    }
    let (events, item_status, product) = source(r);
    let mut checkpoints = Vec::with_capacity(events.len());
    for ev in events.iter() {
        let occurred_at = parse_time(&ev.date).ok_or_else(|| {
            CarrierError::malformed(format!(
                "event {:?} has a bad date {:?}",
                ev.description, ev.date
            ))
        })?;
        let description = trim(&ev.description);
        let (status, detail) = lookup_event(description)
            .map_or((Status::Unknown, None), |rule| (rule.status, rule.detail));
        checkpoints.push(Checkpoint {
            occurred_at,
            status,
            status_detail: detail.map(str::to_string),
            code: description.to_string(),
            description: description.to_string(),
            location: ev.location.as_deref().and_then(parse_location),
        });
    }
    // Australia Post lists newest first: flip to oldest first before the stable
    // sort, so same-second scans keep their real order.
    if let (Some(first), Some(last)) = (checkpoints.first(), checkpoints.last())
        && first.occurred_at.chrono_cmp(&last.occurred_at).is_gt()
    {
        checkpoints.reverse();
    }
    // `finish` sorts the checkpoints (and sets `updated_at` from them); the
    // status fields below are read off the sorted list, so they are filled in
    // after it instead of sorting twice.
    let mut snap = Snapshot {
        status: Status::Unknown,
        status_detail: None,
        status_rule: String::new(),
        carrier_status_code: None,
        carrier_status_text: None,
        // The Track Items answer carries no delivery estimate.
        estimated_delivery: None,
        original_estimated_delivery: None,
        delivered_at: None,
        signed_by: None,
        service: product.and_then(clean),
        origin: None,
        destination: None,
        checkpoints,
        updated_at: None,
        fetched_at: None,
        shipment: None,
    }
    .finish();

    let status_value = r
        .status
        .as_deref()
        .and_then(clean)
        .or_else(|| item_status.and_then(clean));
    let newest = snap.checkpoints.last();
    let from_event = newest.and_then(|c| lookup_event(&c.description).map(|rule| (c, rule)));
    let from_status = status_value
        .as_deref()
        .and_then(|v| lookup_status(v).map(|rule| (v, rule)));
    let (status, status_detail, status_rule, code) = match (from_event, from_status) {
        (Some((cp, rule)), _) => (
            rule.status,
            rule.detail.map(str::to_string),
            rule_name("australiapost:event=", rule.text),
            Some(cp.description.clone()),
        ),
        (None, Some((value, rule))) => (
            rule.status,
            rule.detail.map(str::to_string),
            rule_name("australiapost:status=", rule.value),
            Some(value.to_string()),
        ),
        (None, None) => match (newest, status_value.as_deref()) {
            (Some(cp), _) => (
                Status::Unknown,
                None,
                rule_name("australiapost:unmapped=", &cp.description),
                Some(cp.description.clone()),
            ),
            (None, Some(v)) => (
                Status::Unknown,
                None,
                rule_name("australiapost:unmapped_status=", v),
                Some(v.to_string()),
            ),
            (None, None) => (
                Status::Pending,
                None,
                "australiapost:no_events".to_string(),
                None,
            ),
        },
    };
    let delivered_at = snap
        .checkpoints
        .iter()
        .rev()
        .find(|c| status == Status::Delivered && c.status == Status::Delivered)
        .map(|c| c.occurred_at);
    let carrier_status_text = newest
        .and_then(|c| clean(&c.description))
        .or_else(|| status_value.clone());
    snap.status = status;
    snap.status_detail = status_detail;
    snap.status_rule = status_rule;
    snap.carrier_status_code = code;
    snap.carrier_status_text = carrier_status_text;
    snap.delivered_at = delivered_at;
    Ok(snap)
}

fn outcome(r: &WireResult<'_>, resp: &HttpResponse) -> Result<Snapshot, CarrierError> {
    match r.errors.first() {
        Some(e) => Err(classify(e, resp)),
        None => snapshot(r),
    }
}

/// Whole-answer errors (top-level `errors`); `51104` (ids not found) becomes a
/// per-number NotFound for every number the answer does not otherwise cover.
fn top_level(
    numbers: &[&str],
    errors: &[WireError],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    let Some(first) = errors.first() else {
        return Err(CarrierError::malformed(
            "neither tracking_results nor errors in the answer",
        ));
    };
    match classify(first, resp) {
        e @ CarrierError::NotFound { .. } if !numbers.is_empty() => Ok(numbers
            .iter()
            .map(|n| NumberResult {
                tracking_number: n.to_string(),
                outcome: Err(e.clone()),
            })
            .collect()),
        e => Err(e),
    }
}

/// Parses a Track Items answer for `numbers` (all results when empty).
pub fn parse_answer(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    if let Some(err) = CarrierError::from_http_status(resp) {
        return Err(err);
    }
    let parsed = read_json::<TrackAnswer>(&resp.body);
    if !(200..300).contains(&resp.status) {
        // Any other 4xx: the request was refused; not retried.
        return match parsed {
            Ok(TrackAnswer { errors, .. }) if !errors.is_empty() => {
                Err(errors.first().map_or_else(
                    || CarrierError::malformed("empty errors"),
                    |e| classify(e, resp),
                ))
            }
            _ => Err(CarrierError::Rejected {
                code: format!("HTTP {}", resp.status),
                message: resp.body_excerpt(),
            }),
        };
    }
    let answer = parsed.map_err(|e| {
        CarrierError::malformed(format!(
            "not the documented Track Items JSON ({e}): {}",
            resp.body_excerpt()
        ))
    })?;
    let results = match &answer.tracking_results {
        Some(rs) if !rs.is_empty() => rs,
        _ => return top_level(numbers, &answer.errors, resp),
    };
    if numbers.is_empty() {
        return Ok(results
            .iter()
            .map(|r| NumberResult {
                tracking_number: r.tracking_id.trim().to_string(),
                outcome: outcome(r, resp),
            })
            .collect());
    }
    let leftover = answer.errors.first().map(|e| classify(e, resp));
    Ok(numbers
        .iter()
        .map(|n| NumberResult {
            tracking_number: n.to_string(),
            outcome: match results
                .iter()
                .find(|r| r.tracking_id.trim().eq_ignore_ascii_case(n.trim()))
            {
                Some(r) => outcome(r, resp),
                None => Err(leftover.clone().unwrap_or_else(|| {
                    CarrierError::malformed("the answer does not include this tracking number")
                })),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `parse_time` as it was, without the fixed-layout reader.
    fn parse_time_ref(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp::Zoned(dt));
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
            if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
                return Some(Timestamp::Zoned(dt));
            }
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Timestamp::Naive(n));
            }
        }
        None
    }

    /// Australian state and territory abbreviations, as `parse_location` had them.
    const AU_STATES: &[&str] = &["NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT"];

    /// `parse_location` as it was, searching for " (".
    fn parse_location_ref(raw: &str) -> Option<Address> {
        let s = raw.trim();
        if s.is_empty() {
            return None;
        }
        let mut addr = Address::default();
        if let Some(open) = s.rfind(" (")
            && let Some(cc) = s[open + 2..].strip_suffix(')')
            && cc.len() == 2
            && cc.bytes().all(|b| b.is_ascii_uppercase())
        {
            addr.city = trackd_carrier_sdk::model::clean(&s[..open]);
            addr.country = Some(cc.to_string());
            return addr.non_empty();
        }
        if let Some((city, state)) = s.rsplit_once(' ')
            && AU_STATES.contains(&state)
            && !city.trim().is_empty()
        {
            addr.city = trackd_carrier_sdk::model::clean(city);
            addr.region = Some(state.to_string());
            addr.country = Some("AU".into());
            return addr.non_empty();
        }
        addr.city = Some(s.to_string());
        addr.non_empty()
    }

    proptest! {
        #[test]
        fn locations_split_as_before(raw in "[ A-Za-z()é]{0,10}( \\((US|NZ|U|USA|us|N\\)|)\\)?)?( (NSW|VIC|SA))? ?") {
            prop_assert_eq!(parse_location(&raw), parse_location_ref(&raw));
        }

        #[test]
        fn fixed_times_agree_with_chrono(
            s in "[0-9]{4}[-/](0[0-9]|1[0-3])-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9][:.][0-6][0-9](\\.[0-9]{1,3})?(Z|z|[+-][0-2][0-9]:[0-6][0-9]|[+-][0-9]{4}|[+-][0-9]:[0-9]{2}|)"
        ) {
            if let Some(fast) = fixed_rfc3339(&s) {
                prop_assert_eq!(Some(fast), DateTime::parse_from_rfc3339(&s).ok(), "{}", s);
            }
            prop_assert_eq!(parse_time(&s), parse_time_ref(&s), "{}", s);
        }
    }

    #[test]
    fn states_match_the_list() {
        for s in AU_STATES {
            assert!(is_au_state(s), "{s}");
        }
        for s in ["", "nsw", "NS", "NSWW", "AU", "VIC ", "Q"] {
            assert!(!is_au_state(s), "{s}");
        }
    }

    #[test]
    fn times_keep_their_offset() {
        let t = parse_time("2014-05-26T14:20:31+10:00").unwrap();
        assert_eq!(t.to_wire(), "2014-05-26T14:20:31+10:00");
        let t = parse_time("2014-05-26T14:20:31+1000").unwrap();
        assert_eq!(t.to_wire(), "2014-05-26T14:20:31+10:00");
        assert!(!parse_time("2014-05-26T14:20:31").unwrap().offset_known());
        assert_eq!(parse_time("26/05/2014"), None);
    }

    #[test]
    fn locations_split() {
        let a = parse_location("ALEXANDRIA NSW").unwrap();
        assert_eq!(
            (a.city.as_deref(), a.region.as_deref(), a.country.as_deref()),
            (Some("ALEXANDRIA"), Some("NSW"), Some("AU"))
        );
        let a = parse_location("JOHN F. KENNEDY APT/NEW YORK (US)").unwrap();
        assert_eq!(a.city.as_deref(), Some("JOHN F. KENNEDY APT/NEW YORK"));
        assert_eq!(a.country.as_deref(), Some("US"));
        let a = parse_location("Transit Scan").unwrap();
        assert_eq!(a.city.as_deref(), Some("Transit Scan"));
        assert_eq!(a.country, None);
        assert_eq!(parse_location("  "), None);
        let a = parse_location("SA").unwrap();
        assert_eq!(a.city.as_deref(), Some("SA"));
    }
}
