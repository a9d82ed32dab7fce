//! Documented, derived and written Purolator answers (see fixtures/SOURCES.md)
//! parsed into the normalized model: JSON snapshots plus hand checks of the
//! tricky parts (statuses, naive times, ETA, signatures, errors).

use serde_json::{Value, json};
use trackd_carrier_purolator::{Purolator, SOAP_CONTENT_TYPE};
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, NumberResult, RetryAfter, Snapshot, Status, Timestamp,
};

const DOCUMENTED_M123: &str = include_str!("../fixtures/documented_example_m123.xml");
const DERIVED_DELIVERED: &str = include_str!("../fixtures/derived_delivered_333343150996.xml");
const DERIVED_TOP_ERROR: &str =
    include_str!("../fixtures/derived_response_level_tracking_error.xml");
const WRITTEN_BATCH: &str = include_str!("../fixtures/written_batch_mixed.xml");
const WRITTEN_FAULT_SERVER: &str = include_str!("../fixtures/written_fault_server.xml");
const WRITTEN_FAULT_AUTH: &str = include_str!("../fixtures/written_fault_auth.xml");

fn resp(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status, SOAP_CONTENT_TYPE, body)
}

fn parse(numbers: &[&str], r: &HttpResponse) -> Result<Vec<NumberResult>, CarrierError> {
    Purolator.parse_track(numbers, r)
}

fn snapshot(number: &str, body: &str) -> Snapshot {
    let results = parse(&[number], &resp(200, body)).expect("whole answer parses");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].tracking_number, number);
    results[0].outcome.clone().expect("number parses")
}

fn naive(s: &str) -> Timestamp {
    let t = Timestamp::from_wire(s).unwrap();
    assert!(!t.offset_known());
    t
}

fn outcome_json(outcome: &Result<Vec<NumberResult>, CarrierError>) -> Value {
    let describe = |e: &CarrierError| json!({"kind": e.kind(), "display": e.to_string(), "debug": format!("{e:?}")});
    match outcome {
        Ok(rs) => json!({"per_number": rs.iter().map(|r| json!({
            "tracking_number": r.tracking_number,
            "error": r.outcome.as_ref().err().map(describe),
            "snapshot": r.outcome.as_ref().ok(),
        })).collect::<Vec<_>>()}),
        Err(e) => json!({"whole": describe(e)}),
    }
}

#[test]
fn documented_example_m123() {
    // Requested lower-case, echoed upper-case by Purolator.
    let snap = snapshot("m123", DOCUMENTED_M123);
    insta::assert_json_snapshot!("documented_example_m123", snap);

    assert_eq!(snap.status, Status::InfoReceived);
    assert_eq!(snap.status_rule, "purolator:scantype=Other+text=created");
    assert_eq!(snap.carrier_status_code.as_deref(), Some("Other"));
    assert_eq!(
        snap.carrier_status_text.as_deref(),
        Some("New Tracking Number Assigned -")
    );
    assert_eq!(snap.checkpoints.len(), 2);
    for cp in &snap.checkpoints {
        // HHMMSS local time, no zone: stays naive.
        assert_eq!(cp.occurred_at, naive("2004-01-13T17:23:00"));
        let loc = cp.location.as_ref().unwrap();
        assert_eq!(loc.city.as_deref(), Some("MONTREAL SORT CTR/CTR TRIE"));
        // The legacy Quebec code PQ is normalized.
        assert_eq!(loc.region.as_deref(), Some("QC"));
        assert_eq!(loc.country.as_deref(), Some("CA"));
    }
    assert_eq!(snap.updated_at, Some(naive("2004-01-13T17:23:00")));
    assert_eq!(snap.estimated_delivery, None);
    assert_eq!(snap.delivered_at, None);
}

#[test]
fn derived_delivered_333343150996() {
    let snap = snapshot("333343150996", DERIVED_DELIVERED);
    insta::assert_json_snapshot!("derived_delivered_333343150996", snap);

    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(snap.status_rule, "purolator:scantype=Delivery");
    assert_eq!(snap.delivered_at, Some(naive("2022-01-28T13:01:15")));
    // The documented sample carries an empty DeliverySignature.
    assert_eq!(snap.signed_by, None);
    // Newest first on the wire, oldest first in the model.
    let codes: Vec<_> = snap.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["Other", "OnDelivery", "Delivery"]);
    let statuses: Vec<_> = snap.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [Status::InTransit, Status::OutForDelivery, Status::Delivered]
    );
    assert_eq!(
        snap.checkpoints[0].occurred_at,
        naive("2022-01-28T01:09:22")
    );
    // Empty depot names are no location at all.
    assert!(snap.checkpoints.iter().all(|c| c.location.is_none()));
}

#[test]
fn written_batch_mixed() {
    let numbers = [
        "320595463938",
        "320606146993",
        "KYV009956937",
        "287809468872",
    ];
    let outcome = parse(&numbers, &resp(200, WRITTEN_BATCH));
    insta::assert_json_snapshot!("written_batch_mixed", outcome_json(&outcome));
    let rs = outcome.unwrap();
    assert_eq!(rs.len(), 4);
    for (r, n) in rs.iter().zip(numbers) {
        assert_eq!(r.tracking_number, n);
    }

    // 1: full domestic journey with signature and committed delivery date.
    let a = rs[0].outcome.as_ref().unwrap();
    assert_eq!(a.status, Status::Delivered);
    assert_eq!(a.signed_by.as_deref(), Some("J SMITH"));
    assert_eq!(a.delivered_at, Some(naive("2024-03-05T14:22:10")));
    assert_eq!(
        a.estimated_delivery,
        Some(Eta::Date {
            date: chrono::NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()
        })
    );
    let attempt = a
        .checkpoints
        .iter()
        .find(|c| c.code == "Undeliverable")
        .unwrap();
    assert_eq!(attempt.status, Status::AttemptFailed);
    assert_eq!(
        attempt.status_detail.as_deref(),
        Some("attempt_failed.business_closed")
    );
    assert_eq!(
        a.checkpoints.first().map(|c| c.status),
        Some(Status::InfoReceived)
    );
    let pickup = a
        .checkpoints
        .iter()
        .find(|c| c.code == "ProofOfPickUp")
        .unwrap();
    assert_eq!(
        pickup.status_detail.as_deref(),
        Some("in_transit.picked_up")
    );
    assert_eq!(
        pickup.location.as_ref().and_then(|l| l.region.as_deref()),
        Some("BC")
    );

    // 2: the PIN's own ResponseInformation error → NotFound for that PIN only.
    assert_eq!(
        rs[1].outcome,
        Err(CarrierError::NotFound {
            code: Some("2300003".into()),
            message: "2300003 No scanning details are available for this PIN".into()
        })
    );

    // 3: customs hold, outbound, then held for pickup (Undeliverable + text).
    let c = rs[2].outcome.as_ref().unwrap();
    assert_eq!(c.status, Status::AvailableForPickup);
    assert_eq!(
        c.status_rule,
        "purolator:scantype=Undeliverable+text=pickup"
    );
    let statuses: Vec<_> = c.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Status::InfoReceived,
            Status::Exception,
            Status::InTransit,
            Status::AvailableForPickup
        ]
    );
    let us = c.checkpoints[1].location.as_ref().unwrap();
    assert_eq!(
        (us.region.as_deref(), us.country.as_deref()),
        (Some("NY"), None)
    );

    // 4: refused, returned to sender, then the hand-back "delivery" = Returned.
    let d = rs[3].outcome.as_ref().unwrap();
    assert_eq!(d.status, Status::Returned);
    assert_eq!(d.status_rule, "purolator:scantype=Delivery+after-return");
    assert_eq!(d.delivered_at, None);
    assert_eq!(d.signed_by.as_deref(), Some("SHIPPING DEPT"));
    let statuses: Vec<_> = d.checkpoints.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Status::InfoReceived,
            Status::Exception,
            Status::Returning,
            Status::Returned
        ]
    );
}

#[test]
fn batch_in_other_order_and_with_a_missing_pin() {
    // Results follow the requested order; a PIN absent from the answer is NotFound.
    let rs = parse(
        &["287809468872", "320595463938", "999999999999"],
        &resp(200, WRITTEN_BATCH),
    )
    .unwrap();
    assert_eq!(rs[0].outcome.as_ref().unwrap().status, Status::Returned);
    assert_eq!(rs[1].outcome.as_ref().unwrap().status, Status::Delivered);
    assert!(matches!(
        rs[2].outcome,
        Err(CarrierError::NotFound { code: None, .. })
    ));
}

#[test]
fn normalize_without_numbers_reports_every_pin() {
    let rs = parse(&[], &resp(200, WRITTEN_BATCH)).unwrap();
    let pins: Vec<_> = rs.iter().map(|r| r.tracking_number.as_str()).collect();
    assert_eq!(
        pins,
        [
            "320595463938",
            "320606146993",
            "KYV009956937",
            "287809468872"
        ]
    );
}

#[test]
fn derived_response_level_tracking_error() {
    let outcome = parse(&["329014521622"], &resp(200, DERIVED_TOP_ERROR));
    insta::assert_json_snapshot!(
        "derived_response_level_tracking_error",
        outcome_json(&outcome)
    );
    assert_eq!(
        outcome.unwrap()[0].outcome,
        Err(CarrierError::NotFound {
            code: Some("2001135".into()),
            message: "2001135 No Delivery Details are available".into()
        })
    );
    // A response-level error that is about the request is a rejection instead.
    let body = DERIVED_TOP_ERROR
        .replace("No Delivery Details are available", "Invalid Version")
        .replace("Tracking Error", "Validation Error");
    let rs = parse(&["329014521622"], &resp(200, &body)).unwrap();
    assert!(
        matches!(rs[0].outcome, Err(CarrierError::Rejected { ref code, .. }) if code == "2001135")
    );
}

#[test]
fn faults() {
    let server = parse(&["320595463938"], &resp(500, WRITTEN_FAULT_SERVER));
    insta::assert_json_snapshot!("written_fault_server_500", outcome_json(&server));
    assert!(matches!(
        server,
        Err(CarrierError::Unavailable { status: 500, .. })
    ));

    // Credential faults are Auth whether they come as 401 or as a 500 fault.
    let auth = parse(&["320595463938"], &resp(401, WRITTEN_FAULT_AUTH));
    insta::assert_json_snapshot!("written_fault_auth_401", outcome_json(&auth));
    assert!(matches!(auth, Err(CarrierError::Auth { .. })));
    assert!(matches!(
        parse(&["320595463938"], &resp(500, WRITTEN_FAULT_AUTH)),
        Err(CarrierError::Auth { .. })
    ));

    // Client faults (our request) are rejections, not retried.
    let client = WRITTEN_FAULT_SERVER
        .replace("s:Server", "s:Client")
        .replace(
            "The server was unable to process the request due to an internal error.",
            "Invalid PIN format",
        );
    assert_eq!(
        parse(&["x"], &resp(500, &client)),
        Err(CarrierError::Rejected {
            code: "s:Client".into(),
            message: "Invalid PIN format".into()
        })
    );

    // Throttling: 429 with Retry-After, whatever the body.
    let limited = resp(429, "").header("Retry-After", "12");
    assert_eq!(
        parse(&["x"], &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(12))
        })
    );
    // IIS's HTML 401 page is Auth too; an HTML 503 is Unavailable.
    assert!(matches!(
        parse(
            &["x"],
            &resp(401, "<html><body>401 - Unauthorized</body></html>")
        ),
        Err(CarrierError::Auth { .. })
    ));
    assert!(matches!(
        parse(&["x"], &resp(503, "<html>Service Unavailable</html>")),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
}

#[test]
fn malformed_answers_are_typed() {
    for body in ["", "<html/>", "{\"a\":1}", &DOCUMENTED_M123[..200]] {
        assert!(
            matches!(
                parse(&["M123"], &resp(200, body)),
                Err(CarrierError::Malformed { .. })
            ),
            "{body}"
        );
    }
    // A bad ScanTime fails that PIN only, with a message naming it.
    let bad = WRITTEN_BATCH.replacen("<ScanTime>142210</ScanTime>", "<ScanTime>2pm</ScanTime>", 1);
    let rs = parse(&["320595463938", "287809468872"], &resp(200, &bad)).unwrap();
    match &rs[0].outcome {
        Err(CarrierError::Malformed { message }) => {
            assert!(
                message.contains("320595463938") && message.contains("ScanTime"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(rs[1].outcome.is_ok());
}

#[test]
fn unknown_scan_type_is_kept_as_unknown() {
    let body = DOCUMENTED_M123.replacen(
        "<ScanType>Other</ScanType>",
        "<ScanType>Hologram</ScanType>",
        1,
    );
    let snap = snapshot("M123", &body);
    // The first scan on the wire is the newest.
    let newest = snap.checkpoints.last().unwrap();
    assert_eq!(newest.status, Status::Unknown);
    assert_eq!(newest.code, "Hologram");
    assert_eq!(newest.description, "New Tracking Number Assigned -");
    assert_eq!(snap.status, Status::Unknown);
    assert_eq!(snap.status_rule, "purolator:scantype=Hologram:unmapped");
}

#[test]
fn empty_scan_type_falls_back_to_xsi_type() {
    let body = DERIVED_DELIVERED.replacen("<ScanType>Delivery</ScanType>", "<ScanType/>", 1);
    let snap = snapshot("333343150996", &body);
    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(snap.carrier_status_code.as_deref(), Some("Delivery"));
}

/// Faults arrive as HTTP 500; the daemon's transport asks `classify_error`
/// first, which must read the fault body rather than retry everything.
#[test]
fn transport_classification_reads_the_fault_body() {
    use trackd_carrier_sdk::{Carrier, CarrierError, HttpResponse};
    let p = trackd_carrier_purolator::Purolator;
    let at = |status: u16, body: &str| {
        p.classify_error(&HttpResponse::new(status, "text/xml", body.to_string()))
    };
    assert!(matches!(
        at(500, include_str!("../fixtures/written_fault_auth.xml")),
        Some(CarrierError::Auth { .. })
    ));
    assert!(matches!(
        at(500, include_str!("../fixtures/written_fault_server.xml")),
        Some(CarrierError::Unavailable { .. })
    ));
    assert!(at(200, include_str!("../fixtures/written_batch_mixed.xml")).is_none());
}
