//! Every fixture in `fixtures/` (see fixtures/SOURCES.md) parses to the reviewed
//! normalized result (insta JSON snapshots), plus explicit checks of statuses,
//! zoned times, per-number errors and whole-response errors.

use trackd_carrier_australiapost::AustraliaPost;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{
    Carrier, CarrierError, HttpResponse, NumberResult, RetryAfter, Snapshot, Status, Timestamp,
};

const KARRIO_SCHEMA: &[u8] = include_bytes!("../fixtures/tracking_response.karrio.json");
const KARRIO_ERRORS: &[u8] = include_bytes!("../fixtures/error_response.karrio.json");
const THREE: &[u8] = include_bytes!("../fixtures/track_three_results.karrio_test.json");
const TOO_MANY_IDS: &[u8] = include_bytes!("../fixtures/error_51101_too_many_ids.karrio_test.json");
const STARTRACK: &[u8] = include_bytes!("../fixtures/startrack_consignment_object.parceltrap.json");
const NESTED: &[u8] = include_bytes!("../fixtures/eparcel_nested_consignment.parceltrap.json");
const API002: &[u8] = include_bytes!("../fixtures/too_many_requests_api002.parceltrap.json");
const INVALID: &[u8] = include_bytes!("../fixtures/invalid_tracking_id.parceltrap.json");
const UNMAPPED: &[u8] = include_bytes!("../fixtures/derived_unmapped_event.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body.to_vec())
}

fn parse(numbers: &[&str], status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    AustraliaPost.parse_track(numbers, &resp(status, body))
}

fn zoned(s: &str) -> Timestamp {
    let ts = Timestamp::from_wire(s).unwrap();
    assert!(ts.offset_known());
    ts
}

fn snap<'a>(rs: &'a [NumberResult], n: &str) -> &'a Snapshot {
    rs.iter()
        .find(|r| r.tracking_number == n)
        .unwrap_or_else(|| panic!("{n} missing"))
        .outcome
        .as_ref()
        .unwrap_or_else(|e| panic!("{n}: {e}"))
}

#[test]
fn karrio_schema_sample() {
    let all = parse(&[], 200, KARRIO_SCHEMA);
    insta::assert_json_snapshot!("karrio_schema_sample", view(&all));
    let rs = all.unwrap();
    assert_eq!(rs.len(), 3);
    // Per-number error inside the 200.
    assert_eq!(rs[0].tracking_number, "7XX1000");
    assert_eq!(
        rs[0].outcome,
        Err(CarrierError::NotFound {
            code: Some("ESB-10001".into()),
            message: "Invalid tracking ID".into()
        })
    );
    // The article named by the id wins over the shorter consignment view.
    let s = snap(&rs, "7XX1000634011427");
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.status_rule, "australiapost:event=Delivered");
    assert_eq!(s.checkpoints.len(), 7);
    assert_eq!(s.service.as_deref(), Some("eParcel"));
    assert_eq!(s.delivered_at, Some(zoned("2014-05-30T14:43:09+10:00")));
    assert_eq!(s.checkpoints[0].status, Status::InfoReceived);
    assert_eq!(
        s.checkpoints[0].occurred_at,
        zoned("2014-05-23T14:27:15+10:00")
    );
    // Identical same-second scans are both kept.
    assert_eq!(s.checkpoints[1].code, "Departed facility");
    assert_eq!(s.checkpoints[2].code, "Departed facility");
    let jfk = s.checkpoints[1].location.as_ref().unwrap();
    assert_eq!(jfk.city.as_deref(), Some("JOHN F. KENNEDY APT/NEW YORK"));
    assert_eq!(jfk.country.as_deref(), Some("US"));
    let last = s.checkpoints.last().unwrap().location.as_ref().unwrap();
    assert_eq!(
        (last.city.as_deref(), last.region.as_deref()),
        (Some("ALEXANDRIA"), Some("NSW"))
    );
    // Nested consignment, status "Unknown", newest event decides.
    let et = snap(&rs, "ET123456789AU");
    assert_eq!(et.status, Status::InTransit);
    assert_eq!(
        et.status_rule,
        "australiapost:event=Processed by air carrier"
    );
    assert_eq!(et.updated_at, Some(zoned("2021-02-03T08:08:00+11:00")));
    assert_eq!(et.service.as_deref(), Some("International Express"));
    assert!(et.checkpoints.iter().all(|c| c.status != Status::Unknown));
    assert_eq!(et.estimated_delivery, None);
}

#[test]
fn karrio_three_results() {
    let numbers = ["ET123456789AU", "LX123456789US", "00123456789000123400"];
    let r = parse(&numbers, 200, THREE);
    insta::assert_json_snapshot!("karrio_three_results", view(&r));
    let rs = r.unwrap();
    let lx = snap(&rs, "LX123456789US");
    assert_eq!(lx.status, Status::Delivered);
    assert_eq!(
        lx.carrier_status_text.as_deref(),
        Some("Delivered - Left in a safe place")
    );
    assert_eq!(lx.delivered_at, Some(zoned("2021-01-21T11:04:27+11:00")));
    let out = lx
        .checkpoints
        .iter()
        .find(|c| c.code == "Onboard for delivery")
        .unwrap();
    assert_eq!(out.status, Status::OutForDelivery);
    let nz = snap(&rs, "00123456789000123400");
    assert_eq!(nz.status, Status::Delivered);
    let customs = nz
        .checkpoints
        .iter()
        .find(|c| c.code == "Item is in Customs")
        .unwrap();
    assert_eq!(customs.status, Status::InTransit);
    assert_eq!(customs.status_detail.as_deref(), Some("in_transit.customs"));
}

#[test]
fn startrack_consignment_object() {
    let r = parse(&["6XXX12345678"], 200, STARTRACK);
    insta::assert_json_snapshot!("startrack_consignment_object", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, "6XXX12345678");
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.checkpoints.len(), 2);
    assert_eq!(s.checkpoints[0].status, Status::OutForDelivery);
    assert_eq!(s.delivered_at, Some(zoned("2017-09-18T14:35:07+10:00")));
    assert_eq!(
        s.checkpoints[0]
            .location
            .as_ref()
            .and_then(|l| l.city.as_deref()),
        Some("MEL")
    );
    assert_eq!(s.service.as_deref(), Some("EXP"));
}

#[test]
fn eparcel_nested_consignment() {
    let r = parse(&["33XXX0123456"], 200, NESTED);
    insta::assert_json_snapshot!("eparcel_nested_consignment", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, "33XXX0123456");
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.checkpoints.len(), 5);
    assert_eq!(s.service.as_deref(), Some("Parcel Post"));
    let loc = s.checkpoints[2].location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("ADELAIDE"));
    assert_eq!(loc.country.as_deref(), Some("AU"));
}

#[test]
fn unmapped_event_is_unknown_and_kept() {
    let r = parse(&["33XXX0123456"], 200, UNMAPPED);
    insta::assert_json_snapshot!("derived_unmapped_event", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, "33XXX0123456");
    assert_eq!(s.status, Status::Unknown);
    assert_eq!(
        s.status_rule,
        "australiapost:unmapped=Parcel inspected by robot"
    );
    assert_eq!(
        s.carrier_status_code.as_deref(),
        Some("Parcel inspected by robot")
    );
    assert_eq!(s.checkpoints.len(), 2);
    // Adelaide's +10:30 is kept exactly.
    assert_eq!(
        s.checkpoints[1].occurred_at,
        zoned("2020-12-29T11:04:08+10:30")
    );
}

#[test]
fn invalid_tracking_id_is_not_found() {
    let r = parse(&["7XX1000"], 200, INVALID);
    insta::assert_json_snapshot!("invalid_tracking_id", view(&r));
    assert!(matches!(
        r.unwrap()[0].outcome,
        Err(CarrierError::NotFound { .. })
    ));
}

#[test]
fn too_many_ids_is_rejected() {
    let r = parse(&["7XX1000634011427"], 400, TOO_MANY_IDS);
    insta::assert_json_snapshot!("error_51101_http400", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::Rejected {
            code: "51101".into(),
            message:
                "The request must contain 10 or less AP article ids, consignment ids, or barcode ids."
                    .into()
        })
    );
    // The same envelope inside a 200 is still a whole-request rejection.
    assert!(matches!(
        parse(&["7XX1000634011427"], 200, TOO_MANY_IDS),
        Err(CarrierError::Rejected { .. })
    ));
}

#[test]
fn api_002_is_rate_limited_even_in_a_200() {
    let limited = resp(429, API002).header("Retry-After", "60");
    assert_eq!(
        AustraliaPost.parse_track(&["I3XX00123456"], &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(60))
        })
    );
    let r = parse(&["I3XX00123456"], 200, API002);
    insta::assert_json_snapshot!("api_002_http200", view(&r));
    assert_eq!(r, Err(CarrierError::RateLimited { retry_after: None }));
}

#[test]
fn karrio_error_sample() {
    // The schema sample mixes every documented error shape; its first entry
    // carries code 41001 CUSTOMER_NOT_FOUND (the account number is wrong).
    let r = parse(&["7XX1000634011427"], 400, KARRIO_ERRORS);
    insta::assert_json_snapshot!("karrio_error_sample_http400", view(&r));
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
    let r = parse(&["7XX1000634011427"], 401, KARRIO_ERRORS);
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
}

#[test]
fn server_errors_are_unavailable() {
    assert!(matches!(
        parse(&["7XX1000"], 503, b"<html>maintenance</html>"),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    assert!(matches!(
        parse(&["7XX1000"], 404, b"not json"),
        Err(CarrierError::Rejected { .. })
    ));
}
