//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on the tricky parts.

use trackd_carrier_postnl::PostNl;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{Carrier, CarrierError, Eta, HttpResponse, NumberResult, Status};

const COMPLETE: &[u8] = include_bytes!("../fixtures/completestatus.firstred.json");
const COMPLETE_SINGLE: &[u8] = include_bytes!("../fixtures/completestatus2.firstred.json");
const COMPLETE_DELIVERED: &[u8] = include_bytes!("../fixtures/completestatus3.firstred.json");
const CURRENT_SINGLE: &[u8] = include_bytes!("../fixtures/currentstatus2.firstred.json");
const CURRENT_DELIVERED: &[u8] = include_bytes!("../fixtures/currentstatus3.firstred.json");
const NOT_FOUND: &[u8] = include_bytes!("../fixtures/nocurrentshipments.firstred.json");
const FAULT_401: &[u8] = include_bytes!("../fixtures/fault_401_invalid_apikey.synth.json");
const ERRORS_400: &[u8] = include_bytes!("../fixtures/errors_400_invalid_barcode.synth.json");

fn parse(number: &str, status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    PostNl.parse_track(
        &[number],
        &HttpResponse::new(status, "application/json", body.to_vec()),
    )
}

#[test]
fn complete_status_sandbox() {
    let r = parse("3SDEVC123456789", 200, COMPLETE);
    insta::assert_json_snapshot!("completestatus", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // Sandbox event codes 01A/01B are not PostNL's documented codes: the
    // checkpoints stay `unknown`, the status comes from Status.StatusCode 2.
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_rule, "postnl:status=2");
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.accepted"));
    assert_eq!(s.carrier_status_code.as_deref(), Some("2"));
    assert_eq!(
        s.carrier_status_text.as_deref(),
        Some("Zending in ontvangst genomen")
    );
    let codes: Vec<_> = s.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["01A", "01A", "01B"]);
    assert!(s.checkpoints.iter().all(|c| c.status == Status::Unknown));
    // DD-MM-YYYY local times without a zone stay naive.
    assert_eq!(
        s.checkpoints[0].occurred_at.to_wire(),
        "2018-03-07T09:50:47"
    );
    assert!(s.checkpoints.iter().all(|c| !c.occurred_at.offset_known()));
    match s.estimated_delivery {
        Some(Eta::Window { start, end }) => {
            assert_eq!(start.to_wire(), "2018-03-08T11:30:00");
            assert_eq!(end.to_wire(), "2018-03-08T14:00:00");
            assert!(!end.offset_known());
        }
        other => panic!("expected a window, got {other:?}"),
    }
    // `{}` values are absent: the sender has a company but no first name.
    let dest = s.destination.as_ref().unwrap();
    assert_eq!(dest.city.as_deref(), Some("Nijmegen"));
    assert_eq!(dest.postal_code.as_deref(), Some("1234DF"));
    assert_eq!(dest.region, None);
    assert_eq!(
        s.origin.as_ref().and_then(|o| o.city.as_deref()),
        Some("ASDFD DF ASDFDFDFD")
    );
    assert_eq!(
        s.service.as_deref(),
        Some("Handtek. voor Ontvangst/Alleen huisadres")
    );
}

#[test]
fn single_objects_instead_of_lists() {
    let r = parse("3SDEVC123456789", 200, COMPLETE_SINGLE);
    insta::assert_json_snapshot!("completestatus_single_objects", view(&r));
    let s = r.unwrap().remove(0).outcome.unwrap();
    assert_eq!(s.checkpoints.len(), 1);
    assert_eq!(s.status_rule, "postnl:status=2");
    assert!(s.destination.is_some());
    assert_eq!(s.origin, None, "only the receiver address is given");
}

#[test]
fn complete_status_delivered() {
    let r = parse("3SABCD987516327", 200, COMPLETE_DELIVERED);
    insta::assert_json_snapshot!("completestatus_delivered", view(&r));
    let s = r.unwrap().remove(0).outcome.unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.status_rule, "postnl:status=11");
    // PostNL's order (newest first) is kept, reversed; naive times are not
    // re-sorted by wall clock.
    let codes: Vec<_> = s.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["A01", "B01", "J01", "J05", "01B"]);
    let statuses: Vec<_> = s.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Status::InfoReceived,
            Status::InTransit,
            Status::InTransit,
            Status::OutForDelivery,
            Status::Unknown
        ]
    );
    assert_eq!(
        s.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2021-03-26T15:06:53")
    );
    assert_eq!(s.signed_by, None);
}

#[test]
fn current_status_without_events() {
    let r = parse("3SABCD987040009", 200, CURRENT_DELIVERED);
    insta::assert_json_snapshot!("currentstatus_delivered", view(&r));
    let s = r.unwrap().remove(0).outcome.unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert!(s.checkpoints.is_empty());
    assert_eq!(
        s.updated_at.map(|t| t.to_wire()).as_deref(),
        Some("2021-02-26T12:54:08")
    );
    assert_eq!(s.delivered_at, s.updated_at);
    let r = parse("3SDEVC302392342", 200, CURRENT_SINGLE);
    insta::assert_json_snapshot!("currentstatus_single_address", view(&r));
    assert_eq!(
        r.unwrap()[0].outcome.as_ref().unwrap().status,
        Status::InTransit
    );
}

#[test]
fn no_shipment_found_is_per_number() {
    let r = parse("3SABCD1234567", 200, NOT_FOUND);
    insta::assert_json_snapshot!("nocurrentshipments", view(&r));
    match &r.unwrap()[0].outcome {
        Err(CarrierError::NotFound { code, message }) => {
            assert_eq!(code.as_deref(), Some("2"));
            assert_eq!(message, "No shipment found");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn faults_and_errors() {
    let r = parse("3SABCD1234567", 401, FAULT_401);
    insta::assert_json_snapshot!("fault_401", view(&r));
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
    // The same fault in a 200 (gateways do that) is still an auth failure.
    assert!(matches!(
        parse("3SABCD1234567", 200, FAULT_401),
        Err(CarrierError::Auth { .. })
    ));
    let r = parse("3SABCD1234567", 400, ERRORS_400);
    insta::assert_json_snapshot!("errors_400", view(&r));
    assert!(matches!(
        &r.unwrap()[0].outcome,
        Err(CarrierError::Rejected { code, message }) if code == "4" && message == "Invalid barcode"
    ));
}
