//! Every fixture in `fixtures/` parses to the reviewed normalized result (insta
//! JSON snapshots), plus hand-written assertions on statuses, times, ETAs and
//! errors.

use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{Carrier, CarrierError, Eta, HttpResponse, RetryAfter, Status, Timestamp};
use trackd_carrier_usps::Usps;

const REALISTIC: &[u8] =
    include_bytes!("../fixtures/tracking_v3_detail_delivered_realistic.karrio.json");
const README: &[u8] = include_bytes!("../fixtures/tracking_v3_detail_response.usps_readme.json");
const V3R2: &[u8] = include_bytes!("../fixtures/tracking_v3r2_detail.spec.json");
const MULTI: &[u8] = include_bytes!("../fixtures/tracking_v3r2_207_multistatus.synth.json");
const QUOTA: &[u8] = include_bytes!("../fixtures/error_429_quota_exceeded.magento_issue.json");
const ERROR_SCHEMA: &[u8] = include_bytes!("../fixtures/error_response_schema.karrio.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body.to_vec())
}

fn ts(s: &str) -> Timestamp {
    Timestamp::from_wire(s).unwrap()
}

#[test]
fn realistic_delivered_and_schema_placeholder() {
    let r = Usps.parse_track(&[], &resp(200, REALISTIC));
    insta::assert_json_snapshot!("realistic_delivered", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].tracking_number, "9400109104250532908587");
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.status_rule, "usps:code=01");
    assert_eq!(
        s.carrier_status_text.as_deref(),
        Some("Delivered, Parcel Locker")
    );
    // GMTTimestamp + GMTOffset are the truth: zoned, with GMT's seconds.
    assert_eq!(s.delivered_at, Some(ts("2024-11-22T13:58:40-05:00")));
    assert_eq!(s.updated_at, s.delivered_at);
    assert_eq!(s.checkpoints.len(), 12);
    assert!(s.checkpoints.iter().all(|c| c.occurred_at.offset_known()));
    // Oldest first.
    assert_eq!(s.checkpoints[0].code, "GX");
    assert_eq!(s.checkpoints[0].status, Status::InfoReceived);
    assert_eq!(
        s.checkpoints[0].occurred_at,
        ts("2024-11-15T11:32:33-05:00")
    );
    let codes: Vec<_> = s.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "GX", "03", "SF", "10", "T1", "TL", "TL", "TL", "A1", "07", "OF", "01"
        ]
    );
    assert_eq!(
        s.checkpoints[1].status_detail.as_deref(),
        Some("in_transit.picked_up")
    );
    assert_eq!(s.checkpoints[10].status, Status::OutForDelivery);
    // HTML in the mail class is decoded (&#153; is Windows-1252 for ™).
    assert_eq!(s.service.as_deref(), Some("USPS Ground Advantage™"));
    assert_eq!(
        s.origin.as_ref().and_then(|o| o.postal_code.as_deref()),
        Some("11430")
    );
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.city.as_deref()),
        Some("HERNANDO")
    );
    // A facility without state/ZIP still has its city; a scan with nothing has no location.
    assert_eq!(s.checkpoints[5].location, None);
    assert_eq!(s.estimated_delivery, None);
    assert_eq!(s.signed_by, None);

    // The schema placeholder: unknown code "string" kept as unknown; GMT wins
    // over a contradicting local time; expectedDeliveryTimeStamp is a "by" time.
    let p = rs[1].outcome.as_ref().unwrap();
    assert_eq!(p.status, Status::Unknown);
    assert_eq!(p.status_rule, "usps:unmapped;code=string");
    assert_eq!(p.carrier_status_code.as_deref(), Some("string"));
    assert_eq!(
        p.checkpoints[0].occurred_at,
        ts("2024-04-04T07:03:12.041-07:00")
    );
    assert_eq!(
        p.estimated_delivery,
        Some(Eta::Window {
            start: ts("2019-08-24T00:00:00"),
            end: ts("2019-08-24T14:15:22"),
        })
    );
}

#[test]
fn usps_readme_single_object_with_bogus_z() {
    // One object (v3 single-number shape), number masked as XXXX…: with one
    // number asked, the one item is that number's.
    let r = Usps.parse_track(&["9400111206206406260787"], &resp(200, README));
    insta::assert_json_snapshot!("usps_readme", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.picked_up"));
    // "07:31:00Z" is 7:31 am local in Richmond (statusSummary): no zone invented.
    assert_eq!(s.checkpoints[0].occurred_at, ts("2023-08-02T07:31:00"));
    assert!(!s.checkpoints[0].occurred_at.offset_known());
    assert_eq!(s.service.as_deref(), Some("Priority Mail®"));
}

#[test]
fn v3r2_spec_example() {
    let r = Usps.parse_track(&["12345678"], &resp(200, V3R2));
    insta::assert_json_snapshot!("v3r2_spec_example", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    // The event code decides, not the placeholder statusCategory "Accepted".
    assert_eq!(s.status, Status::Delivered);
    assert_eq!(s.signed_by.as_deref(), Some("John Doe"));
    assert_eq!(s.delivered_at, Some(ts("2025-02-07T12:55:12-05:00")));
    // GMTOffset "-5:00" (one-digit hour) is understood.
    assert_eq!(
        s.checkpoints[0].occurred_at.instant(),
        ts("2025-02-07T17:55:12Z").instant()
    );
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: ts("2025-02-07T12:15:00"),
            end: ts("2025-02-07T15:15:00"),
        })
    );
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.country.as_deref()),
        Some("US")
    );
}

#[test]
fn multi_status_207() {
    let numbers = ["9202290317456200135409", "9400111206206406260787", "12"];
    let r = Usps.parse_track(&numbers, &resp(207, MULTI));
    insta::assert_json_snapshot!("multi_status_207", view(&r));
    let rs = r.unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(
        s.destination.as_ref().and_then(|d| d.city.as_deref()),
        Some("O'FALLON")
    );
    assert_eq!(s.service.as_deref(), Some("USPS Ground Advantage™"));
    // GMTTimestamp carries the local date with the GMT time around midnight
    // UTC: the day is corrected from the local wall clock.
    let sf = s.checkpoints.iter().find(|c| c.code == "SF").unwrap();
    assert_eq!(sf.occurred_at, ts("2024-11-25T18:31:21-06:00"));
    // Without GMT data the wall clock stays naive; the carrier's order is kept.
    assert_eq!(s.checkpoints[0].code, "MA");
    assert!(!s.checkpoints[0].occurred_at.offset_known());
    assert_eq!(s.updated_at, Some(ts("2024-11-26T01:44:28-06:00")));
    // Expected date with "by 9:00pm".
    assert_eq!(
        s.estimated_delivery,
        Some(Eta::Window {
            start: ts("2024-11-29T00:00:00"),
            end: ts("2024-11-29T21:00:00"),
        })
    );
    assert!(matches!(
        &rs[1].outcome,
        Err(CarrierError::NotFound { code: Some(c), .. }) if c == "404"
    ));
    assert!(matches!(
        &rs[2].outcome,
        Err(CarrierError::Rejected { code, .. }) if code == "400"
    ));
}

#[test]
fn quota_exceeded_429() {
    let with = resp(429, QUOTA).header("Retry-After", "30");
    let r = Usps.parse_track(&["9400111206206406260787"], &with);
    insta::assert_json_snapshot!("quota_429", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(30))
        })
    );
    let without = Usps.parse_track(&["9400111206206406260787"], &resp(429, QUOTA));
    assert_eq!(
        without,
        Err(CarrierError::RateLimited { retry_after: None })
    );
}

#[test]
fn error_envelope() {
    let r = Usps.parse_track(&["9400111206206406260787"], &resp(400, ERROR_SCHEMA));
    insta::assert_json_snapshot!("error_schema_400", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::Rejected {
            code: "string".into(),
            message: "string".into()
        })
    );
    let auth = Usps.parse_track(&["9400111206206406260787"], &resp(401, ERROR_SCHEMA));
    assert!(matches!(auth, Err(CarrierError::Auth { message }) if message.contains("string")));
    let down = Usps.parse_track(&["9400111206206406260787"], &resp(503, ERROR_SCHEMA));
    assert!(matches!(
        down,
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    // A whole-answer 404 is each asked number's NotFound.
    let nf = Usps
        .parse_track(&["9400111206206406260787"], &resp(404, ERROR_SCHEMA))
        .unwrap();
    assert!(matches!(nf[0].outcome, Err(CarrierError::NotFound { .. })));
}

const RECYCLED: &[u8] = include_bytes!("../fixtures/tracking_v3r2_207_recycled_number.synth.json");

#[test]
fn recycled_number_shows_the_current_mailing() {
    // Two items for one number, told apart by `mailingDate` (tracking-v3r2:
    // "used to reconcile duplicate tracking number scenarios"): a 2023
    // mailing delivered in Madison, listed first, and the 2024 one in transit.
    let r = Usps.parse_track(
        &["9202290317456200135409", "9400100000000000000000"],
        &resp(207, RECYCLED),
    );
    insta::assert_json_snapshot!("recycled_number", view(&r));
    let rs = r.unwrap();
    assert_eq!(rs.len(), 2);
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.checkpoints.len(), 2);
    assert!(
        s.checkpoints.iter().all(|c| c.code != "01"),
        "2023 events mixed in"
    );
    let sh = s.shipment.as_ref().unwrap();
    assert_eq!(sh.current.since, Some(ts("2024-11-23T00:00:00")));
    assert_eq!(sh.others.len(), 1);
    assert_eq!(sh.others[0].since, Some(ts("2023-03-02T00:00:00")));
    assert!(matches!(rs[1].outcome, Err(CarrierError::NotFound { .. })));
    let all = Usps.parse_track(&[], &resp(207, RECYCLED)).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].outcome.as_ref().unwrap(), s);
}
