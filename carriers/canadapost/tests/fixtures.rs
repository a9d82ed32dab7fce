//! Documented and captured Canada Post answers (see fixtures/SOURCES.md), parsed
//! into the normalized model: JSON snapshots plus hand checks of key fields.

use chrono::{DateTime, NaiveDate};
use serde_json::{Value, json};
use trackd_carrier_canadapost::{CanadaPost, TRACK_MEDIA_TYPE};
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, RetryAfter, Snapshot, Status, Timestamp,
};

const DOCUMENTED: &str = include_str!("../fixtures/documented_example_delivered.xml");
const DOCUMENTED_CHANGED: &str =
    include_str!("../fixtures/documented_example_changed_expected_date.xml");
const DERIVED_IN_TRANSIT: &str =
    include_str!("../fixtures/derived_changed_expected_date_in_transit.xml");
const NO_PIN_HISTORY: &str = include_str!("../fixtures/no_pin_history.xml");
const AUTH_FAILURE: &str = include_str!("../fixtures/auth_failure.xml");
const THROTTLED: &str = include_str!("../fixtures/throttled.xml");
const CAPTURED_DELIVERED: &str = include_str!("../fixtures/captured_delivered_mst_pst.xml");
const CAPTURED_CSTNO: &str = include_str!("../fixtures/captured_departed_cstno.xml");
const CAPTURED_PICKUP: &str = include_str!("../fixtures/captured_notice_card_pickup.xml");
const CAPTURED_S10: &str = include_str!("../fixtures/captured_s10_archive_no_zone.xml");

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status, TRACK_MEDIA_TYPE, body)
}

fn parse(
    number: &str,
    r: &HttpResponse,
) -> Result<Vec<trackd_carrier_sdk::NumberResult>, CarrierError> {
    CanadaPost.parse_track(&[number], r)
}

fn snapshot(number: &str, body: &str) -> Snapshot {
    let results = parse(number, &resp(200, body)).expect("whole answer parses");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].tracking_number, number);
    results[0].outcome.clone().expect("number parses")
}

fn zoned(s: &str) -> Timestamp {
    Timestamp::Zoned(DateTime::parse_from_rfc3339(s).unwrap())
}

fn date(s: &str) -> Eta {
    Eta::Date {
        date: NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(),
    }
}

fn error_json(outcome: &Result<Vec<trackd_carrier_sdk::NumberResult>, CarrierError>) -> Value {
    let describe = |e: &CarrierError| json!({"kind": e.kind(), "display": e.to_string(), "debug": format!("{e:?}")});
    match outcome {
        Ok(rs) => json!({"per_number": rs.iter().map(|r| json!({
            "tracking_number": r.tracking_number,
            "error": r.outcome.as_ref().err().map(describe),
            "ok": r.outcome.is_ok(),
        })).collect::<Vec<_>>()}),
        Err(e) => json!({"whole": describe(e)}),
    }
}

#[test]
fn documented_example_delivered() {
    let snap = snapshot("1371134583769923", DOCUMENTED);
    insta::assert_json_snapshot!("documented_example_delivered", snap);

    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(snap.status_rule, "canadapost:event-identifier=1496");
    assert_eq!(snap.status_detail, None);
    assert_eq!(snap.carrier_status_code.as_deref(), Some("1496"));
    assert_eq!(
        snap.carrier_status_text.as_deref(),
        Some("Item successfully delivered")
    );
    // EST is UTC-5: the offset comes from the carrier's abbreviation.
    assert_eq!(snap.delivered_at, Some(zoned("2011-02-03T11:59:59-05:00")));
    assert_eq!(snap.updated_at, Some(zoned("2011-02-03T11:59:59-05:00")));
    // The newest signatory (the signature record of the final delivery).
    assert_eq!(snap.signed_by.as_deref(), Some("HETU"));
    // changed-expected-date replaces expected-delivery-date.
    assert_eq!(snap.estimated_delivery, Some(date("2011-02-11")));
    assert_eq!(snap.service.as_deref(), Some("Xpresspost"));
    let dest = snap.destination.as_ref().unwrap();
    assert_eq!(dest.postal_code.as_deref(), Some("G1K4M7"));
    assert_eq!(dest.country.as_deref(), Some("CA"));
    assert_eq!(snap.checkpoints.len(), 10);
    let first = &snap.checkpoints[0];
    assert_eq!(first.code, "3000");
    assert_eq!(first.status, Status::InfoReceived);
    assert_eq!(first.occurred_at, zoned("2011-01-31T14:34:57-05:00"));
    let loc = first.location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("LACHINE"));
    assert_eq!(loc.region.as_deref(), Some("QC"));
    assert_eq!(loc.country.as_deref(), Some("CA"));
    // Same-second events keep Canada Post's order: signature record, then delivery.
    let last_two: Vec<&str> = snap.checkpoints[8..]
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(last_two, ["20", "1496"]);
    let address = snap.checkpoints.iter().find(|c| c.code == "0173").unwrap();
    assert_eq!(address.status, Status::Exception);
    assert_eq!(
        address.status_detail.as_deref(),
        Some("exception.address_issue")
    );
    for cp in &snap.checkpoints {
        assert_eq!(
            cp.occurred_at.instant().map(|_| ()),
            Some(()),
            "EST is known"
        );
    }
}

#[test]
fn documented_example_with_changed_expected_date() {
    let snap = snapshot("1371134583769923", DOCUMENTED_CHANGED);
    insta::assert_json_snapshot!("documented_example_changed_expected_date", snap);

    assert_eq!(snap.status, Status::OutForDelivery);
    assert_eq!(snap.status_rule, "canadapost:event-identifier=174");
    assert_eq!(snap.carrier_status_code.as_deref(), Some("0174"));
    assert_eq!(snap.estimated_delivery, Some(date("2011-02-11")));
    // Out for delivery is not "in transit": the delay rule does not apply.
    assert_eq!(snap.status_detail, None);
    assert_eq!(snap.delivered_at, None);
    // The earlier "signature recorded" event is not this delivery's signer.
    assert_eq!(snap.signed_by, None);
    assert_eq!(snap.checkpoints.len(), 7);
}

#[test]
fn changed_expected_date_in_transit_flags_delay() {
    let snap = snapshot("1371134583769923", DERIVED_IN_TRANSIT);
    insta::assert_json_snapshot!("derived_changed_expected_date_in_transit", snap);

    assert_eq!(snap.status, Status::InTransit);
    assert_eq!(snap.status_detail.as_deref(), Some("in_transit.delay"));
    assert_eq!(
        snap.status_rule,
        "canadapost:event-identifier=100+changed-expected-date"
    );
    assert_eq!(snap.estimated_delivery, Some(date("2011-02-11")));
    assert_eq!(
        snap.carrier_status_text.as_deref(),
        Some("Item processed at postal facility")
    );
}

#[test]
fn captured_delivered_mixes_zones_and_a_naive_event() {
    let snap = snapshot("2001698038081172", CAPTURED_DELIVERED);
    insta::assert_json_snapshot!("captured_delivered_mst_pst", snap);

    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(snap.delivered_at, Some(zoned("2015-09-23T11:59:59-07:00")));
    assert_eq!(snap.signed_by, None);
    assert_eq!(snap.service.as_deref(), Some("Expedited Parcels"));
    assert_eq!(snap.estimated_delivery, Some(date("2015-09-23")));
    // An empty event-time-zone stays naive: no offset is invented.
    let label = &snap.checkpoints[0];
    assert_eq!(label.code, "3000");
    assert_eq!(
        label.occurred_at,
        Timestamp::Naive(
            NaiveDate::from_ymd_opt(2015, 9, 21)
                .unwrap()
                .and_hms_opt(13, 49, 14)
                .unwrap()
        )
    );
    let richmond = snap.checkpoints.iter().find(|c| c.code == "0175").unwrap();
    assert_eq!(richmond.occurred_at, zoned("2015-09-21T17:51:02-08:00"));
}

#[test]
fn captured_saskatchewan_cstno_is_central_standard_time() {
    let snap = snapshot("2116634025912396", CAPTURED_CSTNO);
    insta::assert_json_snapshot!("captured_departed_cstno", snap);

    assert_eq!(snap.status, Status::InTransit);
    assert_eq!(snap.carrier_status_code.as_deref(), Some("0410"));
    let departed = snap.checkpoints.last().unwrap();
    assert_eq!(departed.occurred_at, zoned("2016-03-08T10:35:55-06:00"));
    assert_eq!(
        departed.location.as_ref().and_then(|l| l.region.as_deref()),
        Some("SK")
    );
    // The label event's EST time is 15:38 EST = 14:38 CST, before the 15:03 CST pickup.
    let codes: Vec<&str> = snap.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["3000", "2300", "0100", "0100", "0405", "0410"]);
}

#[test]
fn captured_notice_card_then_pickup() {
    let snap = snapshot("8193030646706337", CAPTURED_PICKUP);
    insta::assert_json_snapshot!("captured_notice_card_pickup", snap);

    assert_eq!(snap.status, Status::AvailableForPickup);
    assert_eq!(snap.status_rule, "canadapost:event-identifier=1701");
    let attempt = snap.checkpoints.iter().find(|c| c.code == "1479").unwrap();
    assert_eq!(attempt.status, Status::AttemptFailed);
    assert_eq!(
        attempt.status_detail.as_deref(),
        Some("attempt_failed.notice_card_left")
    );
    assert_eq!(attempt.occurred_at, zoned("2016-01-20T08:06:20-05:00"));
}

#[test]
fn captured_s10_archive_without_zones_stays_naive() {
    let snap = snapshot("LM029042024CA", CAPTURED_S10);
    insta::assert_json_snapshot!("captured_s10_archive_no_zone", snap);

    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(snap.carrier_status_code.as_deref(), Some("1498"));
    assert!(
        snap.checkpoints
            .iter()
            .all(|c| !c.occurred_at.offset_known())
    );
    assert!(snap.checkpoints.iter().all(|c| c.location.is_none()));
    assert_eq!(snap.service, None);
    assert_eq!(snap.destination, None);
    assert_eq!(snap.estimated_delivery, None);
    assert_eq!(
        snap.delivered_at,
        Some(Timestamp::Naive(
            NaiveDate::from_ymd_opt(2015, 11, 2)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        ))
    );
}

#[test]
fn no_pin_history_is_per_number_not_found() {
    let outcome = parse("1371134583769923", &resp(404, NO_PIN_HISTORY));
    insta::assert_json_snapshot!("no_pin_history", error_json(&outcome));
    let rs = outcome.unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0].outcome,
        Err(CarrierError::NotFound {
            code: Some("004".into()),
            message: "No Pin History".into()
        })
    );
    // The code decides, not the HTTP status.
    let rs = parse("1371134583769923", &resp(200, NO_PIN_HISTORY)).unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })));
}

#[test]
fn authentication_failure() {
    let outcome = parse("1371134583769923", &resp(401, AUTH_FAILURE));
    insta::assert_json_snapshot!("auth_failure_401", error_json(&outcome));
    assert_eq!(
        outcome,
        Err(CarrierError::Auth {
            message: "HTTP 401: E002 AAA Authentication Failure".into()
        })
    );
    // The same message without the 401 status is still an auth failure.
    let outcome = parse("1371134583769923", &resp(400, AUTH_FAILURE));
    assert!(
        matches!(outcome, Err(CarrierError::Auth { ref message }) if message.contains("AAA Authentication Failure"))
    );
}

#[test]
fn throttle_answers_are_rate_limits() {
    let r = resp(429, THROTTLED).header("Retry-After", "60");
    let outcome = parse("1371134583769923", &r);
    insta::assert_json_snapshot!("throttled_429", error_json(&outcome));
    assert_eq!(
        outcome,
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(60))
        })
    );
    // "Rejected by SLM Monitor" behind a 5xx is a rate limit, not an outage.
    let outcome = parse("1371134583769923", &resp(503, THROTTLED));
    assert_eq!(
        outcome,
        Err(CarrierError::RateLimited { retry_after: None })
    );
    let outcome = parse(
        "1371134583769923",
        &resp(500, "<html>Internal Server Error</html>"),
    );
    assert!(matches!(
        outcome,
        Err(CarrierError::Unavailable { status: 500, .. })
    ));
}

#[test]
fn other_messages_are_per_number_rejections() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>E400</code><description>Invalid PIN</description></message></messages>"#;
    let outcome = parse("123", &resp(400, body));
    insta::assert_json_snapshot!("rejected_400", error_json(&outcome));
    let rs = outcome.unwrap();
    assert_eq!(
        rs[0].outcome,
        Err(CarrierError::Rejected {
            code: "E400".into(),
            message: "Invalid PIN".into()
        })
    );
    // A 4xx without a messages document is rejected with the HTTP status.
    let outcome = parse("123", &resp(404, "Not Found"));
    assert!(matches!(outcome, Err(CarrierError::Rejected { ref code, .. }) if code == "HTTP 404"));
}

#[test]
fn wrong_root_and_truncation_are_malformed() {
    for body in [
        "<wrapper><tracking-detail/></wrapper>",
        &DOCUMENTED[..DOCUMENTED.len() / 2],
        "",
        "{\"tracking-detail\": {}}",
    ] {
        match parse("1371134583769923", &resp(200, body)) {
            Err(CarrierError::Malformed { message }) => {
                assert!(message.starts_with("canadapost: "), "{message}")
            }
            other => panic!("{body:?} gave {other:?}"),
        }
    }
    let bad_date = DOCUMENTED.replacen("2011-02-03", "03/02/2011", 1);
    let err = parse("1371134583769923", &resp(200, &bad_date)).unwrap_err();
    assert!(err.to_string().contains("occurrence 1"), "{err}");
}

#[test]
fn unknown_codes_are_kept_as_unknown() {
    let body = DOCUMENTED.replacen(
        "<event-identifier>1496</event-identifier>",
        "<event-identifier>9876</event-identifier>",
        1,
    );
    let snap = snapshot("1371134583769923", &body);
    assert_eq!(snap.status, Status::Unknown);
    assert_eq!(snap.carrier_status_code.as_deref(), Some("9876"));
    assert_eq!(
        snap.status_rule,
        "canadapost:event-identifier=9876:unmapped"
    );
    assert_eq!(snap.delivered_at, None);
    let cp = snap.checkpoints.last().unwrap();
    assert_eq!((cp.code.as_str(), cp.status), ("9876", Status::Unknown));
}

#[test]
fn informational_events_do_not_move_the_status() {
    // "Delivery preference - Front door" (1220) after "out for delivery".
    let body = CAPTURED_PICKUP.replacen(
        "<event-identifier>1701</event-identifier>",
        "<event-identifier>1220</event-identifier>",
        1,
    );
    let snap = snapshot("8193030646706337", &body);
    assert_eq!(
        snap.status,
        Status::InTransit,
        "inherits 1703 in transit to post office"
    );
    assert_eq!(
        snap.status_rule,
        "canadapost:event-identifier=1703;newer-informational=1220"
    );
    assert_eq!(snap.carrier_status_code.as_deref(), Some("1220"));
    assert_eq!(snap.checkpoints.last().unwrap().status, Status::InTransit);
}

#[test]
fn delivered_scan_on_the_way_back_is_returned() {
    // By text (English or French) ...
    for text in [
        "Item successfully returned to sender",
        "L'article a été renvoyé avec succès à l'expéditeur.",
    ] {
        let body = CAPTURED_DELIVERED.replacen("Item successfully delivered", text, 1);
        let snap = snapshot("2001698038081172", &body);
        assert_eq!(snap.status, Status::Returned, "{text}");
        assert_eq!(
            snap.status_rule,
            "canadapost:event-identifier=1496+return-text"
        );
        assert_eq!(snap.delivered_at, None);
    }
    // ... or by context: a delivery after "being returned to sender".
    let body = CAPTURED_DELIVERED.replacen(
        "<event-identifier>0174</event-identifier>",
        "<event-identifier>1420</event-identifier>",
        1,
    );
    let snap = snapshot("2001698038081172", &body);
    assert_eq!(snap.status, Status::Returned);
    assert_eq!(
        snap.status_rule,
        "canadapost:event-identifier=1496+after-return"
    );
}

#[test]
fn unknown_zone_abbreviations_stay_naive() {
    let body = CAPTURED_DELIVERED.replace(
        "<event-time-zone>MST</event-time-zone>",
        "<event-time-zone>ISRAEL</event-time-zone>",
    );
    let snap = snapshot("2001698038081172", &body);
    let delivered = snap.checkpoints.last().unwrap();
    assert_eq!(
        delivered.occurred_at,
        Timestamp::Naive(
            NaiveDate::from_ymd_opt(2015, 9, 23)
                .unwrap()
                .and_hms_opt(11, 59, 59)
                .unwrap()
        )
    );
    assert_eq!(
        snap.checkpoints
            .iter()
            .filter(|c| c.occurred_at.offset_known())
            .count(),
        2,
        "PST events keep offsets"
    );
}

/// Many events mixing naive times and several zones: the ordering is not a
/// total order (naive vs zoned compares wall clocks), yet parsing never panics.
#[test]
fn mixed_naive_and_zoned_events_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _round in 0..200 {
        let mut occurrences = String::new();
        for _ in 0..(21 + next() % 40) {
            let zone = ["", "EST", "PST", "NST", "AST", "MST", "XYZ"][(next() % 7) as usize];
            occurrences.push_str(&format!(
                "<occurrence><event-identifier>0100</event-identifier><event-date>2016-01-{:02}</event-date><event-time>{:02}:{:02}:00</event-time><event-time-zone>{zone}</event-time-zone><event-description>Item processed</event-description></occurrence>",
                1 + next() % 2,
                next() % 24,
                next() % 60
            ));
        }
        let body = format!(
            "<tracking-detail xmlns=\"http://www.canadapost.ca/ws/track\"><pin>1</pin><significant-events>{occurrences}</significant-events></tracking-detail>"
        );
        let snap = snapshot("1", &body);
        for w in snap.checkpoints.windows(2) {
            assert_ne!(
                w[1].occurred_at.chrono_cmp(&w[0].occurred_at),
                std::cmp::Ordering::Less
            );
        }
    }
}
