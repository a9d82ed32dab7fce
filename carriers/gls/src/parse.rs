//! Track And Trace V1 answer → normalized snapshots and typed errors.

use crate::codes::{Rule, lookup_event, lookup_status};
use crate::wire::{ErrorEnvelope, Parcel, ParcelsResponse};
use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;
use trackd_carrier_sdk::model::{clean, order_checkpoints};
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, HttpResponse, NumberResult, Snapshot, Status, Timestamp,
};

/// GLS times: ISO 8601 with a colon-less offset (`2024-10-07T10:46:14+0200`,
/// chrono `%z`); RFC 3339 (`+02:00`) is accepted too. Without an offset the
/// time stays naive: inventing a zone would shift it by hours.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    crate::iso::parse(s).or_else(|| parse_time_formats(s))
}

/// Every accepted time shape, through chrono's parsers: the fallback of the
/// fixed-layout fast path in `iso`.
pub(crate) fn parse_time_formats(s: &str) -> Option<Timestamp> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(Timestamp::Zoned(dt));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Timestamp::Naive(n));
        }
    }
    None
}

/// `prefix` then `name`, in one exact-size allocation (`format!` costs
/// several times more for these short rule texts, built once per parcel).
fn joined(prefix: &str, name: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + name.len());
    s.push_str(prefix);
    s.push_str(name);
    s
}

fn rule_text(rule: Rule) -> String {
    match rule {
        Rule::Code(c) => joined("gls:code=", c),
        Rule::Family(f) => joined("gls:family=", f),
    }
}

/// A per-parcel `errorCode` as a typed error.
fn parcel_error(code: &str, message: &str, resp: &HttpResponse) -> CarrierError {
    let message = message.trim().to_string();
    match code.trim() {
        // Resource Not Found (E_404_02 "No Delivery Info" only comes from the
        // delivery-info call, but means the same here).
        "E_404_01" | "E_404_02" => CarrierError::NotFound {
            code: Some(code.trim().to_string()),
            message,
        },
        "E_500_01" => CarrierError::Unavailable {
            status: resp.status,
            message: format!("{code}: {message}"),
        },
        // E_400_01 bad request, E_400_02 limit size exceeded, E_400_03 postal code.
        other => CarrierError::Rejected {
            code: other.to_string(),
            message,
        },
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => clean(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A whole-request refusal from one of GLS's error envelopes.
pub fn envelope_error(resp: &HttpResponse) -> Option<CarrierError> {
    let env: ErrorEnvelope = serde_json::from_slice(&resp.body).ok()?;
    if let Some(f) = &env.fault {
        let code = clean(&f.detail.errorcode).unwrap_or_else(|| "fault".into());
        return Some(if code.contains("ratelimit") || code.contains("Quota") {
            CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            }
        } else {
            CarrierError::Auth {
                message: format!("{code}: {}", f.faultstring.trim()),
            }
        });
    }
    if let Some(e) = env.errors.first() {
        let code = e
            .code
            .as_ref()
            .and_then(value_text)
            .unwrap_or_else(|| format!("HTTP {}", resp.status));
        let message = [&e.message, &e.details]
            .into_iter()
            .flatten()
            .filter_map(clean)
            .collect::<Vec<_>>()
            .join(": ");
        return Some(CarrierError::Rejected { code, message });
    }
    if env.title.is_some() || env.detail.is_some() {
        let code = match (&env.status, &env.title) {
            (Some(s), Some(t)) => format!("{} {}", value_text(s).unwrap_or_default(), t.trim()),
            (None, Some(t)) => t.trim().to_string(),
            (Some(s), None) => value_text(s).unwrap_or_default(),
            (None, None) => format!("HTTP {}", resp.status),
        };
        return Some(CarrierError::Rejected {
            code: code.trim().to_string(),
            message: env.detail.as_deref().and_then(clean).unwrap_or_default(),
        });
    }
    None
}

fn address(city: Option<&str>, postal: Option<&str>, country: Option<&str>) -> Option<Address> {
    Address {
        city: city.and_then(clean),
        region: None,
        postal_code: postal.and_then(clean),
        country: country.and_then(clean),
    }
    .non_empty()
}

/// One found parcel into the normalized snapshot.
pub fn snapshot(p: &Parcel) -> Result<Snapshot, CarrierError> {
    let status_value = p.status.as_deref().and_then(clean);
    let events = p.events.as_deref().unwrap_or_default();
    if events.is_empty() && status_value.is_none() {
        return Err(CarrierError::malformed(format!(
            "parcel {:?} has neither status, events nor errorCode",
            p.requested
        )));
    }
    let mut checkpoints = Vec::with_capacity(events.len());
    for ev in events {
        let occurred_at = parse_time(&ev.event_date_time).ok_or_else(|| {
            CarrierError::malformed(format!(
                "event {:?} has a bad eventDateTime {:?}",
                ev.code, ev.event_date_time
            ))
        })?;
        let code = ev.code.trim().to_string();
        let (status, detail) = lookup_event(&code).map_or((Status::Unknown, None), |r| (r.0, r.1));
        checkpoints.push(Checkpoint {
            occurred_at,
            status,
            status_detail: detail.map(str::to_string),
            code,
            description: ev.description.trim().to_string(),
            location: address(
                ev.city.as_deref(),
                ev.postal_code.as_deref(),
                ev.country.as_deref(),
            ),
        });
    }
    // GLS lists newest first: flip before the stable sort so same-second
    // events keep their real order.
    if let (Some(first), Some(last)) = (checkpoints.first(), checkpoints.last())
        && first.occurred_at.chrono_cmp(&last.occurred_at).is_gt()
    {
        checkpoints.reverse();
    }
    order_checkpoints(&mut checkpoints);
    let newest = checkpoints.last();
    let from_event = newest.and_then(|c| lookup_event(&c.code).map(|r| (c, r)));
    let (status, status_detail, status_rule, code) = match from_event {
        Some((cp, (s, d, rule))) => (
            s,
            d.map(str::to_string),
            rule_text(rule),
            Some(cp.code.clone()),
        ),
        None => match status_value.as_deref().and_then(lookup_status) {
            Some((v, s, d)) => (
                s,
                d.map(str::to_string),
                format!("gls:status={v}"),
                Some(v.to_string()),
            ),
            None => match (newest, status_value.as_deref()) {
                (Some(cp), _) => (
                    Status::Unknown,
                    None,
                    format!("gls:unmapped={}", cp.code),
                    Some(cp.code.clone()),
                ),
                (None, v) => (
                    Status::Unknown,
                    None,
                    format!("gls:unmapped_status={}", v.unwrap_or_default()),
                    v.map(str::to_string),
                ),
            },
        },
    };
    let delivered_at = checkpoints
        .iter()
        .rev()
        .find(|c| status == Status::Delivered && c.status == Status::Delivered)
        .map(|c| c.occurred_at);
    let updated_at = if checkpoints.is_empty() {
        p.status_date_time.as_deref().and_then(parse_time)
    } else {
        None
    };
    let snap = Snapshot {
        status,
        status_detail,
        status_rule,
        carrier_status_code: code,
        carrier_status_text: newest.and_then(|c| clean(&c.description)).or(status_value),
        // The Track And Trace V1 answer has no delivery estimate.
        estimated_delivery: None,
        original_estimated_delivery: None,
        delivered_at,
        signed_by: None,
        service: None,
        origin: None,
        destination: None,
        checkpoints,
        updated_at,
        fetched_at: None,
        shipment: None,
    };
    Ok(snap.finish())
}

fn outcome(p: &Parcel, resp: &HttpResponse) -> Result<Snapshot, CarrierError> {
    match p.error_code.as_deref().and_then(clean) {
        Some(code) => Err(parcel_error(
            &code,
            p.error_message.as_deref().unwrap_or_default(),
            resp,
        )),
        None => snapshot(p),
    }
}

fn matches(p: &Parcel, n: &str) -> bool {
    let n = n.trim();
    p.requested.trim().eq_ignore_ascii_case(n)
        || p.unitno
            .as_deref()
            .is_some_and(|u| u.trim().eq_ignore_ascii_case(n))
}

/// Parses a Track And Trace answer for `numbers` (every parcel when empty).
pub fn parse_answer(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    if resp.status == 429 {
        return Err(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if let Some(err) = CarrierError::from_http_status(resp) {
        return Err(err);
    }
    if !(200..300).contains(&resp.status) {
        return Err(
            envelope_error(resp).unwrap_or_else(|| CarrierError::Rejected {
                code: format!("HTTP {}", resp.status),
                message: resp.body_excerpt(),
            }),
        );
    }
    let answer: ParcelsResponse = serde_json::from_slice(&resp.body).map_err(|e| {
        CarrierError::malformed(format!(
            "not the documented Track And Trace JSON ({e}): {}",
            resp.body_excerpt()
        ))
    })?;
    let Some(parcels) = answer.parcels else {
        return Err(envelope_error(resp).unwrap_or_else(|| {
            CarrierError::malformed(format!(
                "no `parcels` in the answer: {}",
                resp.body_excerpt()
            ))
        }));
    };
    if numbers.is_empty() {
        return Ok(parcels
            .iter()
            .map(|p| NumberResult {
                tracking_number: p
                    .unitno
                    .as_deref()
                    .and_then(clean)
                    .unwrap_or_else(|| p.requested.trim().to_string()),
                outcome: outcome(p, resp),
            })
            .collect());
    }
    Ok(numbers
        .iter()
        .map(|n| NumberResult {
            tracking_number: n.to_string(),
            outcome: parcels.iter().find(|p| matches(p, n)).map_or_else(
                || {
                    Err(CarrierError::malformed(
                        "the answer does not include this parcel number",
                    ))
                },
                |p| outcome(p, resp),
            ),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_less_offsets_are_zoned() {
        let t = parse_time("2023-03-01T10:15:00+0100").unwrap();
        assert_eq!(t.to_wire(), "2023-03-01T10:15:00+01:00");
        assert_eq!(
            t.instant().map(|i| i.to_rfc3339()).as_deref(),
            Some("2023-03-01T09:15:00+00:00")
        );
        let t = parse_time("2024-10-07T10:46:14-0530").unwrap();
        assert_eq!(t.to_wire(), "2024-10-07T10:46:14-05:30");
        assert_eq!(
            parse_time("2024-10-07T10:46:14+02:00")
                .map(|t| t.to_wire())
                .as_deref(),
            Some("2024-10-07T10:46:14+02:00")
        );
        assert!(!parse_time("2024-10-07T10:46:14").unwrap().offset_known());
        assert_eq!(parse_time("07.10.2024 10:46"), None);
    }
}
