//! DPD answers (see fixtures/SOURCES.md) parsed into the normalized model: JSON
//! snapshots plus explicit checks of statuses, times, ETA and errors.

use serde_json::{Value, json};
use trackd_carrier_dpd::{CONTENT_TYPE, Dpd};
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, NumberResult, Snapshot, Status, Timestamp,
};

const CAPTURED: &str = include_str!("../fixtures/captured_be_returning_from_delivery.xml");
const PLC: &str = include_str!("../fixtures/written_plc_milestones_scans.xml");
const EMPTY: &str = include_str!("../fixtures/written_empty_result.xml");
const AUTH: &str = include_str!("../fixtures/auth_fault.xml");
const LOGIN_5: &str = include_str!("../fixtures/written_login_token_expired.xml");
const SERVER: &str = include_str!("../fixtures/written_server_fault.xml");
const LOGIN: &str = include_str!("../fixtures/login_response.xml");

const NUMBER: &str = "05308801410058";

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status, CONTENT_TYPE, body)
}

fn parse(status: u16, body: &str) -> Result<Vec<NumberResult>, CarrierError> {
    Dpd.parse_track(&[NUMBER], &resp(status, body))
}

fn snapshot(body: &str) -> Snapshot {
    let rs = parse(200, body).expect("whole answer parses");
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].tracking_number, NUMBER);
    rs[0].outcome.clone().expect("number parses")
}

fn error_json(outcome: &Result<Vec<NumberResult>, CarrierError>) -> Value {
    let describe = |e: &CarrierError| json!({"kind": e.kind(), "debug": format!("{e:?}")});
    match outcome {
        Ok(rs) => json!({"per_number": rs.iter().map(|r| json!({
            "tracking_number": r.tracking_number,
            "error": r.outcome.as_ref().err().map(describe),
        })).collect::<Vec<_>>()}),
        Err(e) => json!({"whole": describe(e)}),
    }
}

fn naive(s: &str) -> Timestamp {
    Timestamp::from_wire(s)
        .filter(|t| !t.offset_known())
        .unwrap()
}

#[test]
fn captured_be_returning_from_delivery() {
    let snap = snapshot(CAPTURED);
    insta::assert_json_snapshot!("captured_be_returning_from_delivery", snap);
    // isCurrentStatus marks ReturningFromDelivery: back at the depot after a failed attempt.
    assert_eq!(snap.status, Status::AttemptFailed);
    assert_eq!(snap.status_rule, "dpd:status=ReturningFromDelivery");
    assert_eq!(snap.service.as_deref(), Some("DPD PARCELSHOP DELIVERY"));
    assert_eq!(snap.checkpoints.len(), 15);
    // US display times without a zone stay naive, in DPD's document order.
    let first = &snap.checkpoints[0];
    assert_eq!(first.occurred_at, naive("2021-08-17T19:11:26"));
    assert_eq!(first.code, "BetweenDepots");
    assert_eq!(first.status, Status::InTransit);
    let loc = first.location.as_ref().unwrap();
    assert_eq!(
        (loc.city.as_deref(), loc.country.as_deref()),
        (Some("Puurs"), Some("BE"))
    );
    assert!(
        snap.checkpoints
            .iter()
            .all(|c| !c.occurred_at.offset_known())
    );
    let statuses: Vec<Status> = snap.checkpoints.iter().map(|c| c.status).collect();
    assert!(statuses.contains(&Status::AvailableForPickup));
    assert!(statuses.contains(&Status::OutForDelivery));
    assert!(!statuses.contains(&Status::Unknown));
    assert_eq!(snap.updated_at, Some(naive("2021-08-19T17:11:26")));
    assert_eq!(snap.delivered_at, None);
    assert_eq!(snap.estimated_delivery, None);
}

#[test]
fn written_plc_milestones_scans() {
    let snap = snapshot(PLC);
    insta::assert_json_snapshot!("written_plc_milestones_scans", snap);
    assert_eq!(snap.status, Status::InTransit);
    assert_eq!(
        snap.carrier_status_code.as_deref(),
        Some("AT_DELIVERY_DEPOT")
    );
    // errorItems of the current status become the detail.
    assert_eq!(
        snap.status_detail.as_deref(),
        Some("Delivery postponed: the consignee's premises were closed.")
    );
    // 4 reached milestones (DELIVERED not reached: no checkpoint) + 2 scans.
    assert_eq!(snap.checkpoints.len(), 6);
    assert_eq!(
        snap.checkpoints[0].occurred_at,
        naive("2019-03-05T19:30:00")
    );
    // A scan with an offset is zoned; one without stays naive.
    let zoned = &snap.checkpoints[4];
    assert_eq!(zoned.occurred_at.to_wire(), "2019-03-06T07:45:12+01:00");
    assert!(zoned.occurred_at.offset_known());
    assert_eq!(
        zoned.status,
        Status::Unknown,
        "scan codes are not documented"
    );
    assert_eq!(zoned.code, "10");
    assert!(!snap.checkpoints[5].occurred_at.offset_known());
    // Predict window, local and naive.
    match snap.estimated_delivery {
        Some(Eta::Window { start, end }) => {
            assert_eq!(start, naive("2019-03-07T10:30:00"));
            assert_eq!(end, naive("2019-03-07T11:30:00"));
        }
        other => panic!("expected a predict window, got {other:?}"),
    }
    assert_eq!(snap.service.as_deref(), Some("DPD Classic Predict"));
}

#[test]
fn written_empty_result_is_not_found() {
    let out = parse(200, EMPTY);
    insta::assert_json_snapshot!("written_empty_result", error_json(&out));
    let rs = out.unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })));
}

#[test]
fn auth_fault_is_auth() {
    // SOAP 1.1 faults arrive with HTTP 500; the body decides, not the status.
    for status in [500, 200] {
        let out = parse(status, AUTH);
        if status == 500 {
            insta::assert_json_snapshot!("auth_fault", error_json(&out));
        }
        assert!(matches!(out, Err(CarrierError::Auth { .. })), "{out:?}");
    }
    let out = parse(500, LOGIN_5);
    insta::assert_json_snapshot!("login_5", error_json(&out));
    assert!(matches!(out, Err(CarrierError::Auth { .. })), "{out:?}");
}

#[test]
fn server_fault_is_unavailable() {
    let out = parse(500, SERVER);
    insta::assert_json_snapshot!("server_fault", error_json(&out));
    assert!(matches!(
        out,
        Err(CarrierError::Unavailable { status: 500, .. })
    ));
}

#[test]
fn login_response_token() {
    let tok = Dpd.parse_token(&resp(200, LOGIN)).unwrap();
    assert_eq!(
        tok.token,
        "GFadfGob14GWWgQcIldI6zYtuR7cyEHe2z6eWzb7BpFmcFvrzclRljlcV1OF"
    );
    // No Date header: the conservative default lifetime.
    assert_eq!(tok.expires_in_secs, 3_600);
    // With a Date header the naive expiry is read as its earliest instant (UTC+14).
    let r = resp(200, LOGIN).header("Date", "Thu, 07 May 2020 13:02:56 GMT");
    let tok = Dpd.parse_token(&r).unwrap();
    assert_eq!(tok.expires_in_secs, 10 * 3600);
    let err = Dpd.parse_token(&resp(500, AUTH)).unwrap_err();
    assert!(matches!(err, CarrierError::Auth { .. }), "{err:?}");
    let err = Dpd.parse_token(&resp(200, "<html>")).unwrap_err();
    assert!(matches!(err, CarrierError::Malformed { .. }), "{err:?}");
}

#[test]
fn rate_limit_and_garbage() {
    let r = resp(429, "").header("Retry-After", "7");
    assert!(matches!(
        Dpd.parse_track(&[NUMBER], &r),
        Err(CarrierError::RateLimited { .. })
    ));
    let out = parse(503, "<html>down</html>");
    assert!(
        matches!(out, Err(CarrierError::Unavailable { .. })),
        "{out:?}"
    );
    let out = parse(200, "<notsoap/>");
    assert!(
        matches!(out, Err(CarrierError::Malformed { .. })),
        "{out:?}"
    );
}

/// SOAP faults come with HTTP 500; the daemon asks `classify_error` first, so an
/// expired session must classify as Auth (refresh the token), a server fault as
/// Unavailable (retry), and an empty result must reach `parse_track`.
#[test]
fn transport_classification_reads_the_fault_body() {
    use trackd_carrier_sdk::{Carrier, CarrierError, HttpResponse};
    let dpd = trackd_carrier_dpd::Dpd;
    let at = |status: u16, body: &str| {
        dpd.classify_error(&HttpResponse::new(status, "text/xml", body.to_string()))
    };
    assert!(matches!(at(500, LOGIN_5), Some(CarrierError::Auth { .. })));
    assert!(matches!(
        at(500, include_str!("../fixtures/written_server_fault.xml")),
        Some(CarrierError::Unavailable { .. })
    ));
    assert!(at(200, include_str!("../fixtures/written_empty_result.xml")).is_none());
    assert!(matches!(
        at(503, "<html>down</html>"),
        Some(CarrierError::Unavailable { .. })
    ));
}
