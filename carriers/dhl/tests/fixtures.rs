//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on the tricky parts.

use trackd_carrier_dhl::Dhl;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{
    Carrier, CarrierError, Eta, HttpResponse, NumberResult, RetryAfter, Status, Timestamp,
};

const PORTAL: &[u8] = include_bytes!("../fixtures/shipments_resp200_portal.karrio.json");
const INVALID_INPUT: &[u8] =
    include_bytes!("../fixtures/error_400_invalid_input.parcel-tracking.json");
const EXPRESS: &[u8] = include_bytes!("../fixtures/express_transit_naive.synth.json");
const PARCEL_DE: &[u8] = include_bytes!("../fixtures/parcel_de_delivered_offset.synth.json");
const RETURNED: &[u8] = include_bytes!("../fixtures/returned_flag.synth.json");
const NOT_FOUND: &[u8] = include_bytes!("../fixtures/not_found_404.synth.json");
const UNAUTHORIZED: &[u8] = include_bytes!("../fixtures/unauthorized_401.synth.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    let ct = if status == 200 {
        "application/json"
    } else {
        "application/problem+json"
    };
    HttpResponse::new(status, ct, body.to_vec())
}

fn parse(number: &str, status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    Dhl.parse_track(&[number], &resp(status, body))
}

fn ts(s: &str) -> Timestamp {
    Timestamp::from_wire(s).unwrap()
}

#[test]
fn portal_example_fixture() {
    let r = parse("7777777770", 200, PORTAL);
    insta::assert_json_snapshot!("portal_example", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    // The id is a bare JSON number in DHL's example; it still matches.
    let s = rs[0].outcome.as_ref().unwrap();
    // statusCode decides; the placeholder title "DELIVERED" does not.
    assert_eq!(s.status, Status::InfoReceived);
    assert_eq!(s.status_rule, "dhl:statusCode=pre-transit");
    assert_eq!(s.carrier_status_code.as_deref(), Some("pre-transit"));
    assert_eq!(s.carrier_status_text.as_deref(), Some("JESSICA"));
    // Not delivered: no delivery time, no signer even with a POD block.
    assert_eq!(s.delivered_at, None);
    assert_eq!(s.signed_by, None);
    // The event time has no offset and stays naive; the window is in UTC.
    assert_eq!(s.checkpoints.len(), 1);
    let at = s.checkpoints[0].occurred_at;
    assert!(!at.offset_known());
    assert_eq!(at.to_wire(), "2018-03-02T07:53:47");
    assert_eq!(s.updated_at, Some(at));
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: ts("2018-08-03T00:00:00Z"),
            end: ts("2018-08-03T22:00:00Z"),
        })
    );
    let loc = s.checkpoints[0].location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("Oderweg 2, AMSTERDAM"));
    assert_eq!(loc.postal_code.as_deref(), Some("1043 AG"));
    assert_eq!(loc.country.as_deref(), Some("NL"));
    assert_eq!(s.service.as_deref(), Some("UNKNOWN - Product unknown"));
    assert_eq!(s.origin.as_ref().unwrap().country.as_deref(), Some("NL"));

    // `trackd normalize` without a number reports the shipment by its id.
    let all = Dhl.parse_track(&[], &resp(200, PORTAL)).unwrap();
    assert_eq!(all[0].tracking_number, "7777777770");
}

#[test]
fn express_naive_fixture() {
    let r = parse("3318810025", 200, EXPRESS);
    insta::assert_json_snapshot!("express_transit_naive", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::OutForDelivery);
    assert_eq!(
        s.status_rule,
        "dhl:statusCode=transit+text=with delivery courier"
    );
    assert_eq!(s.carrier_status_code.as_deref(), Some("transit"));
    // Oldest first; DHL sent newest first with naive local times.
    let cps = &s.checkpoints;
    assert_eq!(cps.len(), 5);
    assert!(cps.iter().all(|c| !c.occurred_at.offset_known()));
    assert_eq!(cps[0].occurred_at.to_wire(), "2026-03-04T15:19:25");
    assert_eq!(
        cps[0].status_detail.as_deref(),
        Some("in_transit.picked_up")
    );
    assert_eq!(cps[4].occurred_at.to_wire(), "2026-03-05T09:13:24");
    assert_eq!(cps[4].status, Status::OutForDelivery);
    // An event without statusCode is classified by its text and keeps code "".
    assert_eq!(cps[3].code, "");
    assert_eq!(cps[3].status, Status::InTransit);
    // Only a date-time at midnight: the ETA is that date.
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Date {
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()
        })
    );
    assert_eq!(s.service.as_deref(), Some("EXPRESS WORLDWIDE"));
}

#[test]
fn parcel_de_delivered_fixture() {
    let r = parse("00340434161094042557", 200, PARCEL_DE);
    insta::assert_json_snapshot!("parcel_de_delivered_offset", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.delivered_at, Some(ts("2026-10-07T13:05:00+02:00")));
    assert!(s.delivered_at.unwrap().offset_known());
    assert_eq!(s.signed_by.as_deref(), Some("John Doe"));
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: ts("2026-10-07T10:00:00+02:00"),
            end: ts("2026-10-07T14:00:00+02:00"),
        })
    );
    let cps = &s.checkpoints;
    assert_eq!(cps.len(), 4);
    assert_eq!(cps[0].status, Status::InfoReceived);
    assert_eq!(cps[0].location, None);
    // "loaded onto the delivery vehicle" is not a documented refinement.
    assert_eq!(cps[2].status, Status::InTransit);
    assert_eq!(cps[3].occurred_at.to_wire(), "2026-10-07T13:05:00+02:00");
    let dest = s.destination.as_ref().unwrap();
    assert_eq!(dest.city.as_deref(), Some("Bonn"));
    assert_eq!(dest.postal_code.as_deref(), Some("53113"));
}

#[test]
fn returned_flag_fixture() {
    let r = parse("00340434161094042564", 200, RETURNED);
    insta::assert_json_snapshot!("returned_flag", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // delivered + returnFlag: delivered back to the consignor.
    assert_eq!(s.status, Status::Returned);
    assert_eq!(s.status_rule, "dhl:statusCode=delivered+returnFlag");
    assert_eq!(s.delivered_at, None);
    let cps = &s.checkpoints;
    // An undocumented code is kept, raw, as unknown.
    assert_eq!(cps[0].status, Status::Unknown);
    assert_eq!(cps[0].code, "mystery-code");
    assert_eq!(cps[0].description, "An undocumented status code");
    assert_eq!(cps[1].status, Status::Exception);
}

#[test]
fn not_found_fixture() {
    let r = parse("3318810036", 404, NOT_FOUND);
    insta::assert_json_snapshot!("not_found_404", view(&r));
    let rs = r.unwrap();
    match &rs[0].outcome {
        Err(CarrierError::NotFound { code, message }) => {
            assert_eq!(code.as_deref(), Some("404"));
            assert_eq!(
                message,
                "No result found: No shipment with given tracking number found."
            );
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // An empty shipment list is also "not found" for that number.
    let rs = parse("3318810036", 200, br#"{"shipments":[]}"#).unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::NotFound { .. })));
}

#[test]
fn invalid_input_fixture() {
    let r = parse("3318810036", 400, INVALID_INPUT);
    insta::assert_json_snapshot!("invalid_input_400", view(&r));
    match r {
        Err(CarrierError::Rejected { code, message }) => {
            assert_eq!(code, "HTTP 400");
            assert_eq!(
                message,
                "Invalid input: missing mandatory parameter 'trackingNumber'"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn unauthorized_fixture() {
    let r = parse("3318810036", 401, UNAUTHORIZED);
    insta::assert_json_snapshot!("unauthorized_401", view(&r));
    match r {
        Err(CarrierError::Auth { message }) => {
            assert_eq!(message, "HTTP 401: Unauthorized for given resource.")
        }
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[test]
fn rate_limit_and_outage() {
    let limited = resp(
        429,
        br#"{"status":429,"title":"Too Many Requests","detail":"Rate limit exceeded."}"#,
    )
    .header("Retry-After", "7");
    assert_eq!(
        Dhl.parse_track(&["3318810036"], &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(7))
        })
    );
    let down = resp(503, b"<html>Service Unavailable</html>");
    assert!(matches!(
        Dhl.parse_track(&["3318810036"], &down),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    let bad = resp(200, b"<html>maintenance</html>");
    match Dhl.parse_track(&["3318810036"], &bad) {
        Err(CarrierError::Malformed { message }) => {
            assert!(message.contains("not the documented Unified API JSON"))
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

const RECYCLED: &[u8] = include_bytes!("../fixtures/shipments_recycled_number.synth.json");

#[test]
fn recycled_number_shows_the_current_shipment() {
    // Two `shipments[]` under one parcel-de number: January 2025 (delivered,
    // listed first) and October 2026 (in transit).
    let r = parse("00340434161094042557", 200, RECYCLED);
    insta::assert_json_snapshot!("recycled_number", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 1);
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.checkpoints.len(), 2);
    assert_eq!(s.delivered_at, None);
    let sh = s.shipment.as_ref().unwrap();
    assert_eq!(sh.current.since, Some(ts("2026-10-07T08:00:00+02:00")));
    assert_eq!(sh.others.len(), 1);
    assert_eq!(sh.others[0].since, Some(ts("2025-01-07T18:40:00+01:00")));
    assert_eq!(sh.alternatives[0].status, Status::Delivered);
    let all = Dhl.parse_track(&[], &resp(200, RECYCLED)).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].outcome.as_ref().unwrap(), s);
}
