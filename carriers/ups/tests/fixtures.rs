//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on the fields that matter most.

use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, NumberResult, Status, Timestamp,
};
use trackd_carrier_ups::Ups;

const DELIVERED: &[u8] = include_bytes!("../fixtures/track_v1_details_delivered.karrio.json");
const PORTAL: &[u8] = include_bytes!("../fixtures/track_v1_details_portal_example.karrio.json");
const NOT_FOUND: &[u8] = include_bytes!("../fixtures/warning_TW0001_not_found.karrio.json");
const TV1002: &[u8] = include_bytes!("../fixtures/error_TV1002_invalid_inquiry.karrio.json");
const ERROR_250003: &[u8] = include_bytes!("../fixtures/error_response.karrio.json");
const IN_TRANSIT: &[u8] = include_bytes!("../fixtures/track_v1_in_transit_gmt.synth.json");
const SIGNED: &[u8] = include_bytes!("../fixtures/track_v1_delivered_signed.synth.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body.to_vec())
}

fn parse(number: &str, status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    Ups.parse_track(&[number], &resp(status, body))
}

fn naive(s: &str) -> Timestamp {
    let ts = Timestamp::from_wire(s).unwrap();
    assert!(!ts.offset_known(), "{s} should be naive");
    ts
}

#[test]
fn delivered_fixture() {
    let r = parse("1Z1442YY7229014688", 200, DELIVERED);
    insta::assert_json_snapshot!("delivered", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.status_rule, "ups:code=F4");
    assert_eq!(s.carrier_status_code.as_deref(), Some("F4"));
    assert_eq!(s.carrier_status_text.as_deref(), Some("DELIVERED"));
    // UPS local times carry no zone: they stay naive.
    assert_eq!(s.delivered_at, Some(naive("2022-01-26T16:30:00")));
    assert_eq!(s.checkpoints.len(), 2);
    assert_eq!(s.checkpoints[0].occurred_at, naive("2022-01-26T15:16:41"));
    assert_eq!(s.checkpoints[0].status, Status::InfoReceived);
    assert_eq!(s.checkpoints[1].status, Status::Delivered);
    assert_eq!(s.updated_at, Some(naive("2022-01-26T16:30:00")));
    // receivedBy "163000" is a time, not a person.
    assert_eq!(s.signed_by, None);
    // Only a DEL date: no promise to report.
    assert_eq!(s.estimated_delivery, None);
    // Empty service description and undocumented address type "01" give nothing.
    assert_eq!(s.service, None);
    assert_eq!((s.origin.as_ref(), s.destination.as_ref()), (None, None));
    let loc = s.checkpoints[1].location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("PARAMUS"));
    assert_eq!(loc.postal_code.as_deref(), Some("07652"));
    let label_loc = s.checkpoints[0].location.as_ref().unwrap();
    assert_eq!(
        (label_loc.city.as_ref(), label_loc.country.as_deref()),
        (None, Some("US"))
    );
}

#[test]
fn portal_example_fixture() {
    let r = parse("1Z023E2X0214323462", 200, PORTAL);
    insta::assert_json_snapshot!("portal_example", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // X / SR "released by the customs agency" is progress, not an exception.
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(
        s.status_detail.as_deref(),
        Some("in_transit.customs_released")
    );
    assert_eq!(s.status_rule, "ups:code=SR");
    assert_eq!(s.checkpoints.len(), 1);
    assert_eq!(s.checkpoints[0].occurred_at, naive("2021-02-10T07:13:56"));
    assert_eq!(s.updated_at, Some(naive("2021-02-10T07:13:56")));
    let loc = s.checkpoints[0].location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("Wayne"));
    assert_eq!(s.service.as_deref(), Some("UPS Ground"));
    // "string" placeholders are not dates; "ORIGIN/DESTINATION" is not a type.
    assert_eq!(s.estimated_delivery, None);
    assert_eq!((s.origin.as_ref(), s.destination.as_ref()), (None, None));
    assert_eq!(s.signed_by, None);
}

#[test]
fn not_found_warning_fixture() {
    let r = parse("1Z12345E1505270452", 200, NOT_FOUND);
    insta::assert_json_snapshot!("not_found", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    match &rs[0].outcome {
        Err(CarrierError::NotFound { code, message }) => {
            assert_eq!(code.as_deref(), Some("TW0001"));
            assert_eq!(message, "Tracking Information Not Found");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn invalid_inquiry_fixture() {
    let r = parse("1Z12345E020527079", 400, TV1002);
    insta::assert_json_snapshot!("invalid_inquiry", view(&r));
    let rs = r.unwrap();
    assert!(matches!(
        &rs[0].outcome,
        Err(CarrierError::Rejected { code, .. }) if code == "TV1002"
    ));
}

#[test]
fn credential_error_fixture() {
    let r = parse("1Z1442YY7229014688", 401, ERROR_250003);
    insta::assert_json_snapshot!("error_250003_http401", view(&r));
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
    // The same body on a 400 is still a credentials problem, by its code.
    match parse("1Z1442YY7229014688", 400, ERROR_250003) {
        Err(CarrierError::Auth { message }) => assert!(message.starts_with("250003")),
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[test]
fn in_transit_gmt_fixture() {
    let r = parse("1Z5R89390357567127", 200, IN_TRANSIT);
    insta::assert_json_snapshot!("in_transit_gmt", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.weather_delay"));
    assert_eq!(s.status_rule, "ups:code=DJ");
    let wire: Vec<String> = s
        .checkpoints
        .iter()
        .map(|c| c.occurred_at.to_wire())
        .collect();
    assert_eq!(
        wire,
        [
            "2024-02-11T10:11:12",       // no GMT fields: naive
            "2024-02-11T20:15:00-06:00", // offset derived from gmtDate/gmtTime
            "2024-02-12T04:30:00-06:00",
            "2024-02-12T18:30:00-05:00",
            "2024-02-12T21:45:00-05:00",
        ]
    );
    assert!(!s.checkpoints[0].occurred_at.offset_known());
    // RDD wins over SDD; EDW gives a naive window on that date.
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: naive("2024-02-15T12:00:00"),
            end: naive("2024-02-15T16:00:00"),
        })
    );
    assert_eq!(
        s.origin.as_ref().and_then(|a| a.city.as_deref()),
        Some("HODGKINS")
    );
    assert_eq!(
        s.origin.as_ref().and_then(|a| a.postal_code.as_deref()),
        Some("605251234")
    );
    assert_eq!(
        s.destination.as_ref().and_then(|a| a.region.as_deref()),
        Some("GA")
    );
    assert_eq!(s.service.as_deref(), Some("UPS Ground"));
    // Empty postal code becomes None, not "".
    let dp = &s.checkpoints[2];
    assert_eq!(dp.code, "DP");
    assert_eq!(dp.location.as_ref().unwrap().postal_code, None);
    assert_eq!(s.delivered_at, None);
}

#[test]
fn delivered_signed_fixture() {
    let r = parse("1Z879E930346834440", 200, SIGNED);
    insta::assert_json_snapshot!("delivered_signed", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.signed_by.as_deref(), Some("JOHNSON"));
    assert_eq!(
        s.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-04-23T09:50:04-04:00")
    );
    let statuses: Vec<Status> = s.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Status::InfoReceived,
            Status::AttemptFailed,
            Status::OutForDelivery,
            Status::Delivered
        ]
    );
    assert_eq!(
        s.checkpoints[1].status_detail.as_deref(),
        Some("attempt_failed.receiver_unavailable")
    );
    assert_eq!(s.estimated_delivery, None);
}

#[test]
fn current_status_alone_sets_the_status() {
    let body = br#"{"trackResponse":{"shipment":[{"inquiryNumber":"1Z5R89390357567127","package":[{"trackingNumber":"1Z5R89390357567127","currentStatus":{"description":"On the Way","code":"005"}}]}]}}"#;
    let rs = parse("1Z5R89390357567127", 200, body).unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_rule, "ups:statusCode=005");
    assert_eq!(s.carrier_status_code.as_deref(), Some("005"));
    assert_eq!(s.carrier_status_text.as_deref(), Some("On the Way"));
}

#[test]
fn unmapped_codes_are_unknown_not_dropped() {
    let body = br#"{"trackResponse":{"shipment":[{"package":[{"activity":[{"status":{"type":"Q","code":"ZZ","description":"Something new"},"date":"20240101","time":"120000"}]}]}]}}"#;
    let rs = parse("1Z5R89390357567127", 200, body).unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Unknown);
    assert_eq!(s.status_rule, "ups:unmapped;type=Q;code=ZZ;statusCode=");
    assert_eq!(s.carrier_status_code.as_deref(), Some("ZZ"));
    assert_eq!(s.checkpoints.len(), 1);
    assert_eq!(s.checkpoints[0].status, Status::Unknown);
}

#[test]
fn eta_variants() {
    let eta = |dates: &str, time: &str| {
        let body = format!(
            r#"{{"trackResponse":{{"shipment":[{{"package":[{{"deliveryDate":{dates},"deliveryTime":{time},"activity":[{{"status":{{"type":"I","code":"AR"}},"date":"20240101","time":"120000"}}]}}]}}]}}}}"#
        );
        let rs = parse("1Z5R89390357567127", 200, body.as_bytes()).unwrap();
        rs[0].outcome.as_ref().unwrap().estimated_delivery
    };
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    // EOD without times: a date.
    assert_eq!(
        eta(r#"[{"type":"SDD","date":"20240105"}]"#, r#"{"type":"EOD"}"#),
        Some(Eta::Date {
            date: date("2024-01-05")
        })
    );
    // Commit time: "by 10:30" from the start of that day.
    assert_eq!(
        eta(
            r#"[{"type":"SDD","date":"20240105"}]"#,
            r#"{"type":"CMT","endTime":"103000"}"#
        ),
        Some(Eta::Window {
            start: naive("2024-01-05T00:00:00"),
            end: naive("2024-01-05T10:30:00")
        })
    );
    // A DEL time is no promise.
    assert_eq!(
        eta(
            r#"[{"type":"SDD","date":"20240105"}]"#,
            r#"{"type":"DEL","endTime":"103000"}"#
        ),
        Some(Eta::Date {
            date: date("2024-01-05")
        })
    );
    // No scheduled date at all.
    assert_eq!(
        eta(
            "[]",
            r#"{"type":"EDW","startTime":"090000","endTime":"120000"}"#
        ),
        None
    );
}

const RECYCLED: &[u8] = include_bytes!("../fixtures/track_v1_recycled_number.synth.json");

#[test]
fn recycled_number_shows_the_current_shipment() {
    // Two `shipment[]` entries for one inquiry number: a 2022 package
    // (delivered, listed first) and the 2024 one on its way.
    let r = parse("1Z5R89390357567127", 200, RECYCLED);
    insta::assert_json_snapshot!("recycled_number", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.checkpoints.len(), 2);
    assert!(
        s.checkpoints.iter().all(|c| c.code != "F4"),
        "2022 scans mixed in"
    );
    let sh = s.shipment.as_ref().unwrap();
    assert_eq!(sh.current.id, None);
    assert_eq!(sh.current.since, Some(naive("2024-02-11T10:11:12")));
    assert_eq!(sh.others.len(), 1);
    assert_eq!(sh.others[0].since, Some(naive("2022-01-25T09:15:00")));
    assert_eq!(sh.alternatives[0].status, Status::Delivered);
    // Without numbers (`trackd normalize`) the reused number is one result.
    let all = Ups.parse_track(&[], &resp(200, RECYCLED)).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].outcome.as_ref().unwrap(), s);
}
