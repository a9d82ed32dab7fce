//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on the tricky parts.

use chrono::NaiveDate;
use trackd_carrier_fedex::Fedex;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, NumberResult, RetryAfter, Status, Timestamp,
};

const PORTAL: &[u8] =
    include_bytes!("../fixtures/trackingnumbers_resp200_full_schema_portal.karrio.json");
const NOT_FOUND: &[u8] =
    include_bytes!("../fixtures/trackingnumbers_resp200_notfound_error.parcel-tracking.json");
const BATCH: &[u8] = include_bytes!("../fixtures/track_batch_mixed.synth.json");
const R400: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp400.spec.json");
const R401: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp401.spec.json");
const R403: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp403.spec.json");
const R404: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp404.spec.json");
const R500: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp500.spec.json");
const R503: &[u8] = include_bytes!("../fixtures/trackingnumbers_resp503.spec.json");
const KARRIO_ERROR: &[u8] = include_bytes!("../fixtures/error_response.karrio.json");
const PT_401: &[u8] = include_bytes!("../fixtures/error_401_not_authorized.parcel-tracking.json");
const TOKEN: &[u8] = include_bytes!("../fixtures/oauth_token_response.parcel-tracking.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body.to_vec())
}

fn parse(numbers: &[&str], status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    Fedex.parse_track(numbers, &resp(status, body))
}

fn ts(s: &str) -> Timestamp {
    Timestamp::from_wire(s).unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn portal_full_schema_example() {
    // The portal example answers "123456789012" (its trackingNumberInfo says
    // "128667043726") and "39936862321" (not found).
    let r = parse(&["123456789012", "39936862321"], 200, PORTAL);
    insta::assert_json_snapshot!("portal_full_schema", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // Data wins over the placeholder `error` the full schema also fills.
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_rule, "fedex:code=PU");
    // latestStatusDetail.delayDetail WEATHER / DELAYED refines the detail.
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.weather_delay"));
    assert_eq!(s.carrier_status_code.as_deref(), Some("PU"));
    assert_eq!(s.carrier_status_text.as_deref(), Some("Picked up"));
    assert_eq!(s.checkpoints.len(), 1);
    let cp = &s.checkpoints[0];
    assert_eq!(cp.occurred_at, ts("2018-02-02T12:01:00-07:00"));
    assert!(cp.occurred_at.offset_known());
    assert_eq!(cp.code, "PU");
    assert_eq!(cp.description, "Picked Up: Package available for clearance");
    assert_eq!(
        cp.status_detail.as_deref(),
        Some("in_transit.weather_delay")
    );
    // The window keeps each end as given: a naive begin, a zoned end.
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: ts("2021-10-01T08:00:00"),
            end: ts("2021-10-15T00:00:00-06:00"),
        })
    );
    // Not delivered: the ACTUAL_DELIVERY date and signer are not reported.
    assert_eq!(s.delivered_at, None);
    assert_eq!(s.signed_by, None);
    assert_eq!(s.service.as_deref(), Some("FedEx Freight Economy."));
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.city.as_deref()),
        Some("SEATTLE")
    );
    assert!(matches!(
        &rs[1].outcome,
        Err(CarrierError::NotFound { code: Some(c), .. }) if c == "TRACKING.TRACKINGNUMBER.NOTFOUND"
    ));
    // Matching by trackingNumberInfo when completeTrackResults differs.
    let by_info = parse(&["128667043726"], 200, PORTAL).unwrap();
    assert!(by_info[0].outcome.is_ok());
}

#[test]
fn not_found_inside_200() {
    let r = parse(&["794843185271"], 200, NOT_FOUND);
    insta::assert_json_snapshot!("not_found", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    assert!(matches!(&rs[0].outcome, Err(CarrierError::NotFound { .. })));
    // `trackd normalize` without numbers reports every number in the answer.
    let all = parse(&[], 200, NOT_FOUND).unwrap();
    assert_eq!(all[0].tracking_number, "794843185271");
}

#[test]
fn batch_mixed() {
    let numbers = [
        "799531274483",
        "790535312317",
        "568283610012000",
        "974367662710",
        "986578788855",
    ];
    let r = parse(&numbers, 200, BATCH);
    insta::assert_json_snapshot!("batch_mixed", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 5);

    // Delivered Express parcel: scans newest first on the wire, oldest first here.
    let d = rs[0].outcome.as_ref().unwrap();
    assert_eq!(d.status, Status::Delivered);
    let codes: Vec<_> = d.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["OC", "PU", "AR", "DP", "AR", "OD", "DL"]);
    assert_eq!(d.checkpoints[0].status, Status::InfoReceived);
    assert_eq!(d.checkpoints[5].status, Status::OutForDelivery);
    assert_eq!(d.checkpoints[0].location, None, "empty scanLocation");
    assert_eq!(d.delivered_at, Some(ts("2024-03-05T10:17:00-08:00")));
    assert_eq!(d.updated_at, Some(ts("2024-03-05T10:17:00-08:00")));
    assert_eq!(d.signed_by.as_deref(), Some("J.SMITH"));
    assert_eq!(d.service.as_deref(), Some("FedEx Priority Overnight"));
    // Empty estimated window; the standard transit window gives the date.
    assert_eq!(
        d.estimated_delivery,
        Some(Eta::Date {
            date: date("2024-03-05")
        })
    );
    assert_eq!(
        d.origin.as_ref().and_then(|a| a.city.as_deref()),
        Some("ATLANTA")
    );
    assert_eq!(
        d.destination.as_ref().and_then(|a| a.region.as_deref()),
        Some("CA")
    );

    // Failed attempt: DE with reason 15, after a weather delay.
    let a = rs[1].outcome.as_ref().unwrap();
    assert_eq!(a.status, Status::AttemptFailed);
    assert_eq!(a.status_rule, "fedex:code=DE+reason=15");
    let weather = &a.checkpoints[2];
    assert_eq!(
        (weather.code.as_str(), weather.status),
        ("DY", Status::InTransit)
    );
    assert_eq!(
        weather.status_detail.as_deref(),
        Some("in_transit.weather_delay")
    );
    assert_eq!(weather.description, "Delay: Weather delay");
    assert_eq!(a.checkpoints[4].status, Status::AttemptFailed);
    assert_eq!(
        a.estimated_delivery,
        Some(Eta::Window {
            start: ts("2024-03-07T09:00:00-05:00"),
            end: ts("2024-03-07T13:00:00-05:00"),
        })
    );
    assert_eq!(a.delivered_at, None);

    // Unmapped code: unknown, kept with its raw code and text; a scan without
    // offset stays naive; a midnight ESTIMATED_DELIVERY is a date.
    let g = rs[2].outcome.as_ref().unwrap();
    assert_eq!(g.status, Status::Unknown);
    assert_eq!(g.status_rule, "fedex:unmapped=ZZ/ZZ");
    assert_eq!(g.carrier_status_code.as_deref(), Some("ZZ"));
    assert_eq!(
        g.carrier_status_text.as_deref(),
        Some("Sorted at hub (new code)")
    );
    let last = g.checkpoints.last().unwrap();
    assert_eq!(last.code, "ZZ");
    assert_eq!(last.status, Status::Unknown);
    assert!(!last.occurred_at.offset_known());
    assert_eq!(last.occurred_at, ts("2024-03-06T05:12:00"));
    assert!(g.checkpoints[0].occurred_at.offset_known());
    assert_eq!(
        g.estimated_delivery,
        Some(Eta::Date {
            date: date("2024-03-08")
        })
    );

    // Two candidates for one number: the one with data wins over the error.
    let l = rs[3].outcome.as_ref().unwrap();
    assert_eq!(l.status, Status::InfoReceived);
    assert_eq!(l.status_rule, "fedex:code=OC");
    assert_eq!(l.carrier_status_text.as_deref(), Some("Label created"));
    assert_eq!(l.estimated_delivery, None);

    assert!(matches!(&rs[4].outcome, Err(CarrierError::NotFound { .. })));

    // A number FedEx did not answer for is a per-number typed error.
    let missing = parse(&["477179081230"], 200, BATCH).unwrap();
    assert!(matches!(
        &missing[0].outcome,
        Err(CarrierError::Malformed { .. })
    ));
}

#[test]
fn whole_response_errors() {
    let n = ["799531274483"];
    let cases: [(&str, u16, &[u8]); 8] = [
        ("http400", 400, R400),
        ("http401", 401, R401),
        ("http403", 403, R403),
        ("http404", 404, R404),
        ("http500", 500, R500),
        ("http503", 503, R503),
        ("karrio_error_http400", 400, KARRIO_ERROR),
        ("parcel_tracking_401", 401, PT_401),
    ];
    for (name, status, body) in cases {
        insta::assert_json_snapshot!(name, view(&parse(&n, status, body)));
    }
    assert_eq!(
        parse(&n, 400, R400),
        Err(CarrierError::Rejected {
            code: "TRACKING.TRACKINGNUMBER.EMPTY".into(),
            message: "Please provide tracking number.".into()
        })
    );
    assert_eq!(
        parse(&n, 401, R401),
        Err(CarrierError::Auth {
            message: "HTTP 401: NOT.AUTHORIZED.ERROR: Access token expired. Please modify your request and try again.".into()
        })
    );
    assert!(matches!(
        parse(&n, 403, R403),
        Err(CarrierError::Auth { .. })
    ));
    // 404 is about the resource (wrong base URL or path), not the number.
    assert!(matches!(
        parse(&n, 404, R404),
        Err(CarrierError::Rejected { code, .. }) if code == "NOT.FOUND.ERROR"
    ));
    assert!(matches!(
        parse(&n, 500, R500),
        Err(CarrierError::Unavailable { status: 500, message }) if message.starts_with("INTERNAL.SERVER.ERROR")
    ));
    assert!(matches!(
        parse(&n, 503, R503),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    // A 200 with only a top-level `errors` array.
    assert!(matches!(
        parse(&n, 200, KARRIO_ERROR),
        Err(CarrierError::Rejected { code, .. }) if code == "TRACKING.TRACKINGNUMBER.EMPTY"
    ));
    // An auth code in a 400 envelope is still an auth failure.
    assert!(matches!(
        parse(&n, 400, R401),
        Err(CarrierError::Auth { .. })
    ));
    // 429 with Retry-After.
    let limited = resp(429, b"{}").header("Retry-After", "12");
    assert_eq!(
        Fedex.parse_track(&n, &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(12))
        })
    );
    // A gateway page without FedEx's envelope.
    assert!(matches!(
        parse(&n, 405, b"<html>Method Not Allowed</html>"),
        Err(CarrierError::Rejected { code, .. }) if code == "HTTP 405"
    ));
}

#[test]
fn token_answer() {
    let tok = Fedex.parse_token(&resp(200, TOKEN)).unwrap();
    assert_eq!(tok.token, "test token");
    assert_eq!(tok.expires_in_secs, 3599);
    // Refusals from the token endpoint are credential problems.
    assert!(matches!(
        Fedex.parse_token(&resp(401, PT_401)),
        Err(CarrierError::Auth { .. })
    ));
    assert!(matches!(
        Fedex.parse_token(&resp(400, KARRIO_ERROR)),
        Err(CarrierError::Auth { .. })
    ));
    assert!(matches!(
        Fedex.parse_token(&resp(503, R503)),
        Err(CarrierError::Unavailable { .. })
    ));
    assert!(matches!(
        Fedex.parse_token(&resp(200, b"{\"access_token\":\"\"}")),
        Err(CarrierError::Malformed { .. })
    ));
    let string_expiry = br#"{"access_token":"t","token_type":"bearer","expires_in":"3600"}"#;
    assert_eq!(
        Fedex
            .parse_token(&resp(200, string_expiry))
            .unwrap()
            .expires_in_secs,
        3600
    );
}

const RECYCLED: &[u8] = include_bytes!("../fixtures/track_recycled_number.synth.json");

#[test]
fn recycled_number_shows_the_current_shipment() {
    // FedEx reused 790535312317: a 2023 Ground shipment, stuck "in transit",
    // is listed first; the 2024 2Day shipment is delivered.
    let r = parse(&["790535312317"], 200, RECYCLED);
    insta::assert_json_snapshot!("recycled_number", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.service.as_deref(), Some("FedEx 2Day"));
    assert_eq!(s.signed_by.as_deref(), Some("J.SMITH"));
    // One shipment wholesale: none of the 2023 scans.
    assert_eq!(s.checkpoints.len(), 2);
    assert!(
        s.checkpoints
            .iter()
            .all(|c| c.occurred_at.local().date() >= date("2024-03-04"))
    );
    let sh = s.shipment.as_ref().unwrap();
    assert_eq!(sh.current.id.as_deref(), Some("12025~790535312317~FDEG"));
    assert_eq!(sh.current.since, Some(ts("2024-03-04T00:00:00-06:00")));
    assert_eq!(sh.others.len(), 1);
    assert_eq!(sh.others[0].id.as_deref(), Some("12023~790535312317~FDEG"));
    assert_eq!(sh.alternatives.len(), 1);
    assert_eq!(sh.alternatives[0].status, Status::InTransit);
    // The daemon, for a tracker registered in April 2023, follows the 2023 one.
    let reg = chrono::DateTime::parse_from_rfc3339("2023-04-28T00:00:00Z")
        .unwrap()
        .to_utc();
    let hint = trackd_carrier_sdk::shipment::Hint {
        previous: None,
        registered_at: Some(reg),
    };
    match trackd_carrier_sdk::shipment::reselect(s.clone(), &hint) {
        trackd_carrier_sdk::shipment::Selection::Chosen(old) => {
            assert_eq!(old.status, Status::InTransit);
            let sh = old.shipment.unwrap();
            assert_eq!(sh.current.id.as_deref(), Some("12023~790535312317~FDEG"));
            assert!(sh.alternatives.is_empty());
        }
        other => panic!("expected a choice, got {other:?}"),
    }
}
