//! ShippingStatus v2 answers → per-number snapshots or typed errors.
//!
//! PostNL's JSON is read through a generic tree ([`Node`], a borrowed
//! `serde_json::Value`) because of two wire quirks: an absent value is often
//! `{}` instead of null or a missing key, and a list with one element (`Event`,
//! `Address`, `OldStatus`, `Shipment`) may come as a bare object.

use crate::codes::{self, Map};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use trackd_carrier_sdk::json::{Node, read_json};
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::{
    Address, CarrierError, Checkpoint, Eta, HttpResponse, NumberResult, Snapshot, Status, Timestamp,
};

/// The text of a scalar field; `{}`, `[]`, null and absent are `None`.
pub fn text(v: &Node<'_>, key: &str) -> Option<String> {
    match v.get(key)? {
        Node::Str(s) => clean(s),
        Node::Number(n) => Some(n.to_string()),
        Node::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list field that may be an array, a single object, or empty (`{}`).
pub fn many<'a, 'b>(v: &'a Node<'b>, key: &str) -> Vec<&'a Node<'b>> {
    match v.get(key) {
        Some(Node::Array(items)) => items.iter().filter(|i| !is_empty(i)).collect(),
        Some(obj @ Node::Object(_)) if !is_empty(obj) => vec![obj],
        _ => Vec::new(),
    }
}

fn is_empty(v: &Node<'_>) -> bool {
    match v {
        Node::Object(m) => m.is_empty(),
        Node::Null => true,
        _ => false,
    }
}

/// PostNL times: `DD-MM-YYYY HH:MM:SS[.fff]` local time without a zone (naive),
/// or ISO 8601 (`Expectation`, `updatedshipments`): zoned only when an offset
/// is written.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    event_time(s).or_else(|| parse_time_formats(s))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// The fast path for the event `TimeStamp` layout, `DD-MM-YYYY HH:MM:SS[.f]`
/// (1 to 9 fraction digits), without trying format strings; `None` for
/// anything else, which `parse_time_formats` then reads.
fn event_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[2] != b'-'
        || b[5] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[6..10])?).ok()?,
        digits(&b[3..5])?,
        digits(&b[..2])?,
    )?;
    let (h, m, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if sec > 59 {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?;
    Some(Timestamp::Naive(date.and_time(time)))
}

/// Every accepted time shape through chrono's parsers (the general path).
fn parse_time_formats(s: &str) -> Option<Timestamp> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    for f in [
        "%d-%m-%Y %H:%M:%S%.f",
        "%d-%m-%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Timestamp::Naive(n));
        }
    }
    None
}

fn rejected(code: String, message: String) -> CarrierError {
    CarrierError::Rejected { code, message }
}

fn per_number(numbers: &[&str], err: CarrierError) -> Result<Vec<NumberResult>, CarrierError> {
    if numbers.is_empty() {
        return Err(err);
    }
    Ok(numbers
        .iter()
        .map(|n| NumberResult {
            tracking_number: (*n).to_string(),
            outcome: Err(err.clone()),
        })
        .collect())
}

/// `fault.faultstring` and `fault.detail.errorcode` of a gateway fault.
fn fault(root: &Node<'_>) -> Option<(String, String)> {
    let f = root.get("fault").or_else(|| root.get("Fault"))?;
    let message = text(f, "faultstring").unwrap_or_default();
    let code = f
        .get("detail")
        .and_then(|d| text(d, "errorcode"))
        .unwrap_or_default();
    Some((code, message))
}

/// `(code, message)` of the first entry of `Errors` (either documented naming).
fn first_error(root: &Node<'_>) -> Option<(String, String)> {
    let e = *many(root, "Errors").first()?;
    let code = text(e, "Code")
        .or_else(|| text(e, "ErrorNumber"))
        .or_else(|| text(e, "ErrorCode"))
        .unwrap_or_default();
    let message = text(e, "Description")
        .or_else(|| text(e, "ErrorMsg"))
        .or_else(|| text(e, "Message"))
        .unwrap_or_default();
    Some((code, message))
}

fn error_summary(root: Option<&Node<'_>>, resp: &HttpResponse) -> String {
    root.and_then(|r| fault(r).or_else(|| first_error(r)))
        .map(|(c, m)| if c.is_empty() { m } else { format!("{c}: {m}") })
        .unwrap_or_else(|| resp.body_excerpt())
}

/// Parses one status answer for the numbers that were asked (one per call).
pub fn parse_track(
    numbers: &[&str],
    resp: &HttpResponse,
) -> Result<Vec<NumberResult>, CarrierError> {
    let root: Option<Node<'_>> = read_json(&resp.body).ok();
    let root = root.filter(Node::is_object);
    match resp.status {
        401 | 403 => {
            return Err(CarrierError::Auth {
                message: format!(
                    "HTTP {}: {}",
                    resp.status,
                    error_summary(root.as_ref(), resp)
                ),
            });
        }
        429 => {
            return Err(CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            });
        }
        500..=599 => {
            return Err(CarrierError::Unavailable {
                status: resp.status,
                message: error_summary(root.as_ref(), resp),
            });
        }
        _ => {}
    }
    let ok = (200..300).contains(&resp.status);
    let Some(root) = root else {
        return Err(if ok {
            CarrierError::malformed(format!(
                "PostNL answer is not a JSON object: {}",
                resp.body_excerpt()
            ))
        } else {
            rejected(format!("HTTP {}", resp.status), resp.body_excerpt())
        });
    };
    if let Some((code, message)) = fault(&root) {
        let lc = code.to_ascii_lowercase();
        return Err(if lc.contains("apikey") || lc.contains("oauth") {
            CarrierError::Auth {
                message: format!("{code}: {message}"),
            }
        } else if lc.contains("spikearrest") || lc.contains("quota") || lc.contains("ratelimit") {
            CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            }
        } else {
            rejected(
                if code.is_empty() {
                    format!("HTTP {}", resp.status)
                } else {
                    code
                },
                message,
            )
        });
    }
    let status_root = root
        .get("CompleteStatus")
        .or_else(|| root.get("CurrentStatus"));
    let shipments: Vec<&Node<'_>> = status_root.map(|s| many(s, "Shipment")).unwrap_or_default();
    if ok && !shipments.is_empty() {
        return Ok(attribute(numbers, &shipments));
    }
    if let Some((code, message)) = first_error(&root) {
        // Errors name the barcode's problem; one barcode per call.
        let code = if code.is_empty() {
            format!("HTTP {}", resp.status)
        } else {
            code
        };
        return per_number(numbers, rejected(code, message));
    }
    if let Some(w) = many(&root, "Warnings").first() {
        return per_number(
            numbers,
            CarrierError::NotFound {
                code: text(w, "Code"),
                message: text(w, "Message").unwrap_or_else(|| "no shipment found".into()),
            },
        );
    }
    if !ok {
        return Err(rejected(
            format!("HTTP {}", resp.status),
            resp.body_excerpt(),
        ));
    }
    Err(CarrierError::malformed(format!(
        "PostNL answer has no shipment, warning or error: {}",
        resp.body_excerpt()
    )))
}

fn same(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect()
    };
    !a.trim().is_empty() && norm(a) == norm(b)
}

fn attribute(numbers: &[&str], shipments: &[&Node<'_>]) -> Vec<NumberResult> {
    let barcode = |s: &Node<'_>| text(s, "Barcode").or_else(|| text(s, "MainBarcode"));
    if numbers.is_empty() {
        return shipments
            .iter()
            .map(|s| NumberResult {
                tracking_number: barcode(s).unwrap_or_default(),
                outcome: snapshot(s),
            })
            .collect();
    }
    numbers
        .iter()
        .map(|n| {
            let found = shipments
                .iter()
                .find(|s| text(s, "Barcode").is_some_and(|b| same(&b, n)))
                .or_else(|| {
                    shipments
                        .iter()
                        .find(|s| text(s, "MainBarcode").is_some_and(|b| same(&b, n)))
                })
                // One barcode per call: a lone shipment is the answer to it.
                .or_else(|| (shipments.len() == 1).then(|| shipments.first()).flatten());
            NumberResult {
                tracking_number: (*n).to_string(),
                outcome: match found {
                    Some(s) => snapshot(s),
                    None => Err(CarrierError::malformed(format!(
                        "PostNL answered {} shipments, none for {n}",
                        shipments.len()
                    ))),
                },
            }
        })
        .collect()
}

fn address(a: &Node<'_>) -> Option<Address> {
    Address {
        city: text(a, "City"),
        region: text(a, "Region"),
        postal_code: text(a, "Zipcode"),
        country: text(a, "CountryCode").map(|c| c.to_ascii_uppercase()),
    }
    .non_empty()
}

/// `AddressType` 01 is the receiver, 02 the sender.
fn party(s: &Node<'_>, kind: &str) -> Option<Address> {
    many(s, "Address")
        .into_iter()
        .find(|a| text(a, "AddressType").is_some_and(|t| t.trim_start_matches('0') == kind))
        .and_then(address)
}

fn expectation(s: &Node<'_>) -> Option<Eta> {
    let e = s.get("Expectation")?;
    let from = text(e, "ETAFrom").and_then(|t| parse_time(&t));
    let to = text(e, "ETATo").and_then(|t| parse_time(&t));
    match (from, to) {
        (Some(start), Some(end)) => Some(Eta::Window { start, end }),
        (Some(t), None) | (None, Some(t)) => Some(Eta::Date {
            date: t.local().date(),
        }),
        (None, None) => None,
    }
}

/// One shipment into the normalized snapshot.
pub fn snapshot(s: &Node<'_>) -> Result<Snapshot, CarrierError> {
    // PostNL lists events newest first: walk them backwards so checkpoints come
    // out oldest first in PostNL's own order. The times carry no zone, so they
    // are never re-sorted by wall clock.
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for ev in many(s, "Event").into_iter().rev() {
        let code = text(ev, "Code").unwrap_or_default().to_ascii_uppercase();
        let raw = text(ev, "TimeStamp").unwrap_or_default();
        if raw.is_empty() {
            continue;
        }
        let occurred_at = parse_time(&raw).ok_or_else(|| {
            CarrierError::malformed(format!(
                "PostNL event {code:?} has an unreadable TimeStamp {raw:?}"
            ))
        })?;
        let (status, detail) = match codes::event_code(&code) {
            Some(Map::To(st, d)) => (st, d.map(str::to_string)),
            // "Not applicable": the status stays what it was.
            Some(Map::NotApplicable) => match checkpoints.last() {
                Some(prev) => (prev.status, prev.status_detail.clone()),
                None => (Status::InfoReceived, None),
            },
            None => (Status::Unknown, None),
        };
        checkpoints.push(Checkpoint {
            occurred_at,
            status,
            status_detail: detail,
            code,
            description: text(ev, "Description").unwrap_or_default(),
            location: None,
        });
    }

    let st = s.get("Status").filter(|v| !is_empty(v));
    let status_code = st.and_then(|v| text(v, "StatusCode"));
    let newest = checkpoints.last();
    let newest_mapped = newest.filter(|c| matches!(codes::event_code(&c.code), Some(Map::To(..))));
    // The newest event when trackd maps it (finer than the status code), else
    // PostNL's `Status.StatusCode`, else the newest old status that applies.
    let from_status = |code: &str| match codes::status_code(code) {
        Some(Map::To(status, detail)) => Some((status, detail, code.to_string())),
        _ => None,
    };
    let old_status = || {
        many(s, "OldStatus")
            .into_iter()
            .filter_map(|o| text(o, "StatusCode"))
            .find_map(|c| from_status(&c))
    };
    let (status, detail, rule, carrier_code) = if let Some(cp) = newest_mapped {
        (
            cp.status,
            cp.status_detail.clone(),
            format!("postnl:event={}", cp.code),
            Some(cp.code.clone()),
        )
    } else if let Some((status, detail, code)) = status_code
        .as_deref()
        .and_then(from_status)
        .or_else(old_status)
    {
        (
            status,
            detail.map(str::to_string),
            format!("postnl:status={code}"),
            Some(code),
        )
    } else if let Some(cp) = newest {
        (
            Status::Unknown,
            None,
            format!("postnl:unmapped={}", cp.code),
            Some(cp.code.clone()),
        )
    } else {
        (
            Status::Unknown,
            None,
            format!(
                "postnl:unmapped=status:{}",
                status_code.as_deref().unwrap_or("")
            ),
            status_code.clone(),
        )
    };
    let text_from_status = st.and_then(|v| text(v, "StatusDescription"));
    let carrier_text = if rule.starts_with("postnl:event=") {
        newest.and_then(|c| clean(&c.description))
    } else {
        text_from_status.or_else(|| newest.and_then(|c| clean(&c.description)))
    };
    let delivered = status == Status::Delivered;
    let delivered_at = if delivered {
        checkpoints
            .iter()
            .rev()
            .find(|c| c.status == Status::Delivered)
            .map(|c| c.occurred_at)
            .or_else(|| text(s, "DeliveryDate").and_then(|t| parse_time(&t)))
            // Delivered by `Status.StatusCode`: that status's own time.
            .or_else(|| {
                (rule.starts_with("postnl:status="))
                    .then(|| st.and_then(|v| text(v, "TimeStamp")))
                    .flatten()
                    .and_then(|t| parse_time(&t))
            })
    } else {
        None
    };
    let updated_at = checkpoints.last().map(|c| c.occurred_at).or_else(|| {
        st.and_then(|v| text(v, "TimeStamp"))
            .and_then(|t| parse_time(&t))
    });
    Ok(Snapshot {
        status,
        status_detail: detail,
        status_rule: rule,
        carrier_status_code: carrier_code,
        carrier_status_text: carrier_text,
        estimated_delivery: expectation(s),
        original_estimated_delivery: None,
        delivered_at,
        // ShippingStatus gives no signer name (the signature call returns an image).
        signed_by: None,
        service: text(s, "ProductDescription"),
        origin: party(s, "2"),
        destination: party(s, "1"),
        checkpoints,
        updated_at,
        fetched_at: None,
        shipment: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agrees(s: &str) {
        let fast = event_time(s).map(|t| format!("{t:?}"));
        if fast.is_some() {
            assert_eq!(fast, parse_time_formats(s).map(|t| format!("{t:?}")), "{s}");
        }
    }

    #[test]
    fn event_time_layout() {
        for s in [
            "07-03-2018 23:22:56.326",
            "07-03-2018 23:22:56",
            "29-02-2024 00:00:00.123456789",
        ] {
            assert!(event_time(s).is_some(), "{s}");
            agrees(s);
        }
        for s in [
            "29-02-2023 10:00:00",
            "07-03-2018 24:00:00",
            "07-03-2018 23:22:60",
            "07-03-2018T23:22:56",
            "07-03-2018 23:22:56.",
            "07-03-2018 23:22:56.1234567890",
            "7-03-2018 23:22:56",
            "2018-03-07 23:22:56",
        ] {
            assert_eq!(event_time(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn event_time_agrees_with_the_format_strings(
            s in "[0-3][0-9]-(0[0-9]|1[0-3])-[0-9]{4} [0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?",
        ) {
            agrees(&s);
        }

        #[test]
        fn event_time_never_panics(s in "\\PC{0,30}") {
            let _ = event_time(&s);
        }
    }

    #[test]
    fn times_stay_naive() {
        let t = parse_time("07-03-2018 23:22:56.326").unwrap();
        assert!(!t.offset_known());
        // The fraction is kept: the wire form is lossless (naive times included).
        assert_eq!(t.to_wire(), "2018-03-07T23:22:56.326");
        assert!(!parse_time("2018-03-08T11:30:00").unwrap().offset_known());
        assert!(
            parse_time("2018-03-07T13:52:45.000+01:00")
                .unwrap()
                .offset_known()
        );
        assert_eq!(parse_time("gisteren"), None);
    }

    #[test]
    fn empty_objects_are_absent() {
        let v: Node =
            serde_json::from_str(r#"{"Reference": {}, "City": "Nijmegen", "N": 3, "L": []}"#)
                .unwrap();
        assert_eq!(text(&v, "Reference"), None);
        assert_eq!(text(&v, "City").as_deref(), Some("Nijmegen"));
        assert_eq!(text(&v, "N").as_deref(), Some("3"));
        assert_eq!(text(&v, "L"), None);
        assert!(many(&v, "Reference").is_empty());
        assert_eq!(many(&v, "City").len(), 0);
    }
}
