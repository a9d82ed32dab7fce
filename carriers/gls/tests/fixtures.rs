//! Every fixture in `fixtures/` (see fixtures/SOURCES.md) parses to the reviewed
//! normalized result (insta JSON snapshots), plus explicit checks of statuses,
//! colon-less offsets, per-parcel errors and whole-response errors.

use trackd_carrier_gls::Gls;
use trackd_carrier_sdk::testkit::outcome_json as view;
use trackd_carrier_sdk::{
    Carrier, CarrierError, HttpResponse, NumberResult, RetryAfter, Snapshot, Status, Timestamp,
};

const KARRIO: &[u8] = include_bytes!("../fixtures/tracking_response.karrio.json");
const KARRIO_ERROR: &[u8] = include_bytes!("../fixtures/error_response.karrio.json");
const WITH_ERRORS: &[u8] = include_bytes!("../fixtures/spec_200_with_errors.json");
const TWO_PARCELS: &[u8] = include_bytes!("../fixtures/spec_200_reference_2_parcels.json");
const PARCELSHOP: &[u8] = include_bytes!("../fixtures/spec_200_with_links_parcelshop.json");
const TOO_MANY: &[u8] = include_bytes!("../fixtures/spec_400_too_many.json");
const EXPIRED: &[u8] = include_bytes!("../fixtures/spec_401_token_expired.json");
const QUOTA: &[u8] = include_bytes!("../fixtures/spec_429_quota.json");
const WRONG_CALL: &[u8] = include_bytes!("../fixtures/spec_404_wrong_call.json");
const UNMAPPED: &[u8] = include_bytes!("../fixtures/derived_unmapped_final.json");

fn resp(status: u16, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body.to_vec())
}

fn parse(numbers: &[&str], status: u16, body: &[u8]) -> Result<Vec<NumberResult>, CarrierError> {
    Gls.parse_track(numbers, &resp(status, body))
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
    let n = "12345678901234567890";
    let r = parse(&[n], 200, KARRIO);
    insta::assert_json_snapshot!("karrio_schema_sample", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, n);
    assert_eq!(s.status, Status::InTransit);
    assert_eq!(s.status_rule, "gls:code=INTIAL.NORMAL");
    assert_eq!(s.status_detail.as_deref(), Some("in_transit.picked_up"));
    assert_eq!(s.carrier_status_code.as_deref(), Some("INTIAL.NORMAL"));
    // "+0200" (no colon) is the real offset, not UTC and not naive.
    assert_eq!(
        s.checkpoints[0].occurred_at,
        zoned("2024-10-07T09:30:00+02:00")
    );
    assert_eq!(s.updated_at, Some(zoned("2024-10-07T10:46:14+02:00")));
    assert_eq!(
        s.updated_at
            .and_then(|t| t.instant())
            .map(|i| i.to_rfc3339())
            .as_deref(),
        Some("2024-10-07T08:46:14+00:00")
    );
    let loc = s.checkpoints[1].location.as_ref().unwrap();
    assert_eq!(loc.city.as_deref(), Some("Berlin"));
    assert_eq!(loc.postal_code.as_deref(), Some("10437"));
    assert_eq!(loc.country.as_deref(), Some("DE"));
    // Empty strings are not a place: only the country survives.
    let loc0 = s.checkpoints[0].location.as_ref().unwrap();
    assert_eq!(
        (loc0.city.as_deref(), loc0.country.as_deref()),
        (None, Some("DE"))
    );
    assert_eq!(s.estimated_delivery, None);
}

#[test]
fn spec_200_with_errors() {
    let r = parse(&["42249018928", "36301917596"], 200, WITH_ERRORS);
    insta::assert_json_snapshot!("spec_200_with_errors", view(&r));
    let rs = r.unwrap();
    assert_eq!(
        rs[0].outcome,
        Err(CarrierError::NotFound {
            code: Some("E_404_01".into()),
            message: "Resource Not Found".into()
        })
    );
    let s = snap(&rs, "36301917596");
    assert_eq!(s.status, Status::InfoReceived);
    assert_eq!(s.status_rule, "gls:code=INTIAL.E48_DATA");
    assert_eq!(s.checkpoints[0].code, "INTIAL.PREADVICE");
    assert_eq!(
        s.checkpoints[1].occurred_at,
        zoned("2024-10-11T15:24:52+02:00")
    );
}

#[test]
fn spec_reference_with_two_parcels() {
    // By parcel number each Unit No is found; with no numbers both are reported.
    let r = parse(&["93835330599", "93835330600"], 200, TWO_PARCELS);
    insta::assert_json_snapshot!("spec_200_reference_2_parcels", view(&r));
    let rs = r.unwrap();
    assert_eq!(
        snap(&rs, "93835330600").updated_at,
        Some(zoned("2024-09-18T06:48:46+02:00"))
    );
    let all = parse(&[], 200, TWO_PARCELS).unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.tracking_number.as_str()).collect();
    assert_eq!(ids, ["93835330599", "93835330600"]);
}

#[test]
fn spec_parcelshop_delivery_is_available_for_pickup() {
    let r = parse(&["42249028960"], 200, PARCELSHOP);
    insta::assert_json_snapshot!("spec_200_with_links_parcelshop", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, "42249028960");
    assert_eq!(s.status, Status::AvailableForPickup);
    assert_eq!(
        s.status_detail.as_deref(),
        Some("available_for_pickup.parcelshop")
    );
    assert_eq!(s.delivered_at, None);
    assert_eq!(s.updated_at, Some(zoned("2025-02-10T15:13:46+01:00")));
    assert_eq!(s.checkpoints.len(), 4);
    // An event with only empty place fields has no location.
    assert_eq!(s.checkpoints[3].location, None);
}

#[test]
fn unmapped_code_is_unknown_and_family_rule_applies() {
    let r = parse(&["93835368025"], 200, UNMAPPED);
    insta::assert_json_snapshot!("derived_unmapped_final", view(&r));
    let rs = r.unwrap();
    let s = snap(&rs, "93835368025");
    assert_eq!(s.status, Status::Unknown);
    assert_eq!(s.status_rule, "gls:unmapped=ZZTEST.UNKNOWN");
    assert_eq!(s.carrier_status_code.as_deref(), Some("ZZTEST.UNKNOWN"));
    assert_eq!(s.checkpoints[0].status, Status::Delivered);
    assert_eq!(s.checkpoints[1].status, Status::Unknown);
    assert_eq!(
        s.checkpoints[1].occurred_at,
        zoned("2023-03-01T10:15:00+01:00")
    );
    assert_eq!(s.delivered_at, None);
}

#[test]
fn whole_response_errors_are_typed() {
    let r = parse(&["11113481990"], 400, TOO_MANY);
    insta::assert_json_snapshot!("spec_400_too_many", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::Rejected {
            code: "400 Bad Request".into(),
            message: "Provided references of size '11' is more than allowed limit of 10".into()
        })
    );
    let r = parse(&["11113481990"], 401, EXPIRED);
    insta::assert_json_snapshot!("spec_401_token_expired", view(&r));
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
    let limited = resp(429, QUOTA).header("Retry-After", "120");
    assert_eq!(
        Gls.parse_track(&["11113481990"], &limited),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(120))
        })
    );
    // The Apigee quota fault recognized even without the 429 status.
    assert!(matches!(
        parse(&["11113481990"], 200, QUOTA),
        Err(CarrierError::RateLimited { .. })
    ));
    let r = parse(&["11113481990"], 404, WRONG_CALL);
    insta::assert_json_snapshot!("spec_404_wrong_call", view(&r));
    assert!(matches!(r, Err(CarrierError::Rejected { .. })));
    let r = parse(&["11113481990"], 400, KARRIO_ERROR);
    insta::assert_json_snapshot!("karrio_error_400", view(&r));
    assert_eq!(
        r,
        Err(CarrierError::Rejected {
            code: "VALIDATION_ERROR".into(),
            message: "Invalid request parameters: Postal code is required".into()
        })
    );
    assert!(matches!(
        parse(&["11113481990"], 502, b"<html>bad gateway</html>"),
        Err(CarrierError::Unavailable { status: 502, .. })
    ));
}
