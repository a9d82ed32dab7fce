//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on the tricky parts.

use trackd_carrier_royalmail::RoyalMail;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{Carrier, CarrierError, Eta, HttpResponse, NumberResult, Status};

const IN_TRANSIT: &[u8] = include_bytes!("../fixtures/events_in_transit_missort.karrio.json");
const DELIVERED: &[u8] = include_bytes!("../fixtures/events_delivered_signed.derived.json");
const NAIVE: &[u8] = include_bytes!("../fixtures/events_naive_unmapped.synth.json");
const NOT_FOUND: &[u8] = include_bytes!("../fixtures/error_E1142_not_found.derived.json");
const E0004: &[u8] = include_bytes!("../fixtures/error_E0004_terms_header.karrio.json");
const GATEWAY_401: &[u8] = include_bytes!("../fixtures/gateway_401_unauthorized.synth.json");

fn parse(number: &str, status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    RoyalMail.parse_track(
        &[number],
        &HttpResponse::new(status, "application/json", body.to_vec()),
    )
}

#[test]
fn documented_in_transit_sample() {
    let r = parse("FQ087430672GB", 200, IN_TRANSIT);
    insta::assert_json_snapshot!("in_transit_missort", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs[0].tracking_number, "FQ087430672GB");
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.missort"));
    assert_eq!(s.status_rule, "royalmail:event=EVNMI");
    assert_eq!(s.carrier_status_code.as_deref(), Some("EVNMI"));
    assert_eq!(
        s.carrier_status_text.as_deref(),
        Some("It's being redirected")
    );
    assert_eq!(s.checkpoints.len(), 1);
    let cp = &s.checkpoints[0];
    // The offset Royal Mail gives is kept.
    assert_eq!(cp.occurred_at.to_wire(), "2016-10-20T10:04:00+01:00");
    assert_eq!(
        cp.location.as_ref().and_then(|l| l.city.as_deref()),
        Some("Stafford DO")
    );
    match s.estimated_delivery {
        Some(Eta::Window { start, end }) => {
            assert_eq!(start.to_wire(), "2017-02-20T08:00:00+01:00");
            assert_eq!(end.to_wire(), "2017-02-20T11:00:00+01:00");
        }
        other => panic!("expected a window, got {other:?}"),
    }
    // The sample carries a signature, but an undelivered item is signed by nobody.
    assert_eq!(s.signed_by, None);
    assert_eq!(s.delivered_at, None);
    assert_eq!(s.service.as_deref(), Some("Special Delivery Guaranteed"));
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.country.as_deref()),
        Some("GB")
    );
    // Asked by the 2D id, answered the same.
    let by_2d = parse("090367574000000FE1E1B", 200, IN_TRANSIT).unwrap();
    assert_eq!(by_2d[0].outcome, rs[0].outcome);
    // `trackd normalize` without a number names the 1D barcode.
    let all = RoyalMail
        .parse_track(
            &[],
            &HttpResponse::new(200, "application/json", IN_TRANSIT.to_vec()),
        )
        .unwrap();
    assert_eq!(all[0].tracking_number, "FQ087430672GB");
}

#[test]
fn delivered_sample() {
    let r = parse("RB123456785GB", 200, DELIVERED);
    insta::assert_json_snapshot!("delivered_signed", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // The newest event is a notification code trackd does not map: the item's
    // status falls back to the summary's last event code, EVKSP.
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.status_rule, "royalmail:event=EVKSP");
    assert_eq!(s.status_detail.as_deref(), Some("delivered.signed"));
    assert_eq!(s.carrier_status_code.as_deref(), Some("EVKSP"));
    let codes: Vec<_> = s.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        ["EVAIP", "EVDAV", "EVNRT", "EVGPD", "EVKSP", "NDESS"]
    );
    let statuses: Vec<_> = s.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Status::InfoReceived,
            Status::InTransit,
            Status::Exception,
            Status::OutForDelivery,
            Status::Delivered,
            Status::Unknown,
        ]
    );
    assert_eq!(
        s.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-01-10T19:10:11Z")
    );
    assert_eq!(s.signed_by.as_deref(), Some("JOHNSON"));
    // Null window times: the ETA is a date.
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Date {
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 10).unwrap()
        })
    );
    // Null and empty location names are no location at all.
    assert_eq!(s.checkpoints[0].location, None);
    assert_eq!(s.checkpoints[4].location, None);
    assert_eq!(
        s.updated_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-01-10T19:12:40Z")
    );
}

#[test]
fn naive_times_and_unmapped_codes() {
    let r = parse("AB123456789012GB", 200, NAIVE);
    insta::assert_json_snapshot!("naive_unmapped", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Unknown);
    assert_eq!(s.status_rule, "royalmail:unmapped=EVQZZ");
    assert_eq!(s.carrier_status_code.as_deref(), Some("EVQZZ"));
    assert_eq!(
        s.carrier_status_text.as_deref(),
        Some("Something new happened")
    );
    assert!(s.checkpoints.iter().all(|c| !c.occurred_at.offset_known()));
    assert_eq!(
        s.checkpoints[0].occurred_at.to_wire(),
        "2024-07-01T21:40:00"
    );
    assert_eq!(s.checkpoints[1].status, Status::Unknown);
    assert_eq!(
        s.checkpoints[1].description,
        "A code Royal Mail introduced later"
    );
    assert!(matches!(s.estimated_delivery, Some(Eta::Window { .. })));
    // Unknown alpha-3 codes are dropped, not guessed.
    assert_eq!(s.origin, None);
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.country.as_deref()),
        Some("IE")
    );
}

#[test]
fn not_found_is_per_number() {
    let r = parse("FQ087430673GB", 404, NOT_FOUND);
    insta::assert_json_snapshot!("not_found_e1142", view(&r));
    let rs = r.unwrap();
    match &rs[0].outcome {
        Err(CarrierError::NotFound { code, message }) => {
            assert_eq!(code.as_deref(), Some("E1142"));
            assert!(message.contains("isn't recognised"), "{message}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn request_errors_are_typed() {
    let r = parse("FQ087430672GB", 400, E0004);
    insta::assert_json_snapshot!("error_e0004", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::Rejected {
            code: "E0004".into(),
            message: "Failed header validation for X-Accept-RMG-Terms".into()
        })
    );
    let r = parse("FQ087430672GB", 401, GATEWAY_401);
    insta::assert_json_snapshot!("gateway_401", view(&r));
    match r {
        Err(CarrierError::Auth { message }) => {
            assert_eq!(message, "HTTP 401: Client id not registered.")
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    // The same envelope with 429 (or httpCode 429 in a 400) is a rate limit.
    let limited =
        HttpResponse::new(429, "application/json", E0004.to_vec()).header("Retry-After", "7");
    assert!(matches!(
        RoyalMail.parse_track(&["FQ087430672GB"], &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(_)
        })
    ));
    let e0010 = br#"{"httpCode":"400","errors":[{"errorCode":"E0010","errorDescription":"Too many requests"}]}"#;
    assert!(matches!(
        parse("FQ087430672GB", 400, e0010),
        Err(CarrierError::RateLimited { .. })
    ));
    let e0009 = br#"{"httpCode":"500","errors":[{"errorCode":"E0009","errorDescription":"Internal Server Error"}]}"#;
    assert!(matches!(
        parse("FQ087430672GB", 500, e0009),
        Err(CarrierError::Unavailable { status: 500, .. })
    ));
    let e1283 = br#"{"httpCode":"400","errors":[{"errorCode":"E1283","errorDescription":"Tracking is not supported for this product"}]}"#;
    let rs = parse("FQ087430672GB", 400, e1283).unwrap();
    assert!(matches!(&rs[0].outcome, Err(CarrierError::Rejected { code, .. }) if code == "E1283"));
}
