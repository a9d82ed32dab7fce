//! The SDK conformance kit run against the template plugin, plus its fixture and
//! the plugin-specific facts the kit does not cover. Every carrier keeps a file
//! like this one; the kit holds each plugin to the same bar.

use chrono::DateTime;
use proptest::prelude::*;
use trackd_carrier_sdk::sim::SimFault;
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, Eta, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply, Status,
};
use trackd_carrier_template::{Example, TRACK_PATH};

/// What the Example wire format carries: times with offsets and seconds, and a
/// timed ETA window.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: true,
};

/// The fixture: a batch answer for these two numbers.
const FIXTURE: &str = include_str!("../fixtures/example.json");
const IN_TRANSIT: &str = "EX00000004275";
const UNKNOWN: &str = "EX00000000017";

fn fixture() -> HttpResponse {
    // Without the trailing newline: a cut that only drops whitespace is still
    // the whole document, which the malformed check would rightly accept.
    HttpResponse::new(200, "application/json", FIXTURE.trim_end())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_parse_round_trip(
        parcel in any::<u64>().prop_map(|s| Example.sim_mint_number(s)).prop_flat_map(arb_parcel)
    ) {
        assert_round_trip(&Example, &parcel, FIDELITY);
        // Beyond the kit: facts this wire format also carries.
        let resp = Example.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = Example.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.origin.as_ref(), Some(&parcel.origin));
        prop_assert_eq!(snap.destination.as_ref(), Some(&parcel.destination));
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert_eq!(snap.updated_at, snap.checkpoints.last().map(|c| c.occurred_at));
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = Example.sim_mint_number(serial);
        prop_assert_eq!(Example.detect(&n), Detection::Checksum, "{}", n);
    }
}

#[test]
fn detection_rejects_typos_and_other_formats() {
    assert_eq!(Example.detect(IN_TRANSIT), Detection::Checksum);
    for n in [
        "EX00000004271",      // wrong check digit
        "EX0000000427",       // too short
        "EX000000042700",     // too long
        "XE00000004270",      // wrong prefix
        "1Z5R89390357567127", // UPS
        "0073938000549297",   // Canada Post
        "",
    ] {
        assert_eq!(Example.detect(n), Detection::No, "{n}");
    }
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&Example, UNKNOWN);
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("unused-id", "api-key");
    assert_request_routes(&Example, &[IN_TRANSIT], &creds);
    assert_request_routes(&Example, &[IN_TRANSIT, UNKNOWN], &creds);
    let req = Example.track_request(&[IN_TRANSIT], &creds, None).unwrap();
    assert_eq!(req.path_and_query, TRACK_PATH);
    assert_eq!(req.header_value("x-api-key"), Some("api-key"));
    // More numbers than the documented batch size, or no key: a typed error.
    let eleven = [IN_TRANSIT; 11];
    assert!(matches!(
        Example.track_request(&eleven, &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Example.track_request(&[IN_TRANSIT], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn malformed_bodies_are_typed_errors() {
    assert_malformed_is_typed(&Example, &[IN_TRANSIT, UNKNOWN], &fixture());
}

/// A two-event journey ending in `step`, in Atlanta (UTC-05:00).
fn parcel(step: JourneyStep) -> SimParcel {
    let place = Address {
        city: Some("ATLANTA".into()),
        region: Some("GA".into()),
        postal_code: Some("30301".into()),
        country: Some("US".into()),
    };
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let event = |at, step| SimEvent {
        at,
        step,
        place: place.clone(),
    };
    SimParcel {
        tracking_number: Example.sim_mint_number(7),
        service: "Standard".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: vec![
            event(at("2024-03-01T08:00:00-05:00"), JourneyStep::LabelCreated),
            event(at("2024-03-01T13:00:00-05:00"), step),
        ],
        eta: Some((
            at("2024-03-04T09:00:00-05:00"),
            at("2024-03-04T13:00:00-05:00"),
        )),
        eta_change_reason: None,
        signed_by: Some("JOHNSON".into()),
    }
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in every_step_status() {
        let p = parcel(step);
        let resp = Example.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Example
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?}: {}", snap.status_rule);
        assert!(snap.status_rule.starts_with("example:code="), "{step:?}");
        if step == JourneyStep::Delivered {
            assert_eq!(
                snap.delivered_at.map(|t| t.to_wire()).as_deref(),
                Some("2024-03-01T13:00:00-05:00")
            );
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
        } else {
            assert_eq!(snap.signed_by, None, "{step:?}");
        }
    }
}

#[test]
fn fixture_parses_to_the_expected_snapshot() {
    let rs = Example
        .parse_track(&[IN_TRANSIT, UNKNOWN], &fixture())
        .unwrap();
    assert_eq!(rs.len(), 2);
    let snap = rs[0].outcome.as_ref().unwrap();
    assert_eq!(rs[0].tracking_number, IN_TRANSIT);
    // Events come newest first on the wire; the snapshot lists them oldest first.
    let codes: Vec<_> = snap.checkpoints.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["LC", "PU", "WX", "ZQ"]);
    // An unmapped code is kept as `unknown`, with its raw code and text.
    assert_eq!(snap.status, Status::Unknown);
    assert_eq!(snap.status_rule, "example:unmapped=ZQ");
    assert_eq!(snap.carrier_status_code.as_deref(), Some("ZQ"));
    assert_eq!(
        snap.carrier_status_text.as_deref(),
        Some("Sorted at hub (new code)")
    );
    let weather = &snap.checkpoints[2];
    assert_eq!(weather.status, Status::InTransit);
    assert_eq!(
        weather.status_detail.as_deref(),
        Some("in_transit.weather_delay")
    );
    // A time given with an offset is zoned; one without stays naive.
    assert_eq!(
        snap.checkpoints[0].occurred_at.to_wire(),
        "2024-03-01T08:12:30-05:00"
    );
    assert!(!snap.checkpoints[3].occurred_at.offset_known());
    assert_eq!(snap.updated_at, Some(snap.checkpoints[3].occurred_at));
    assert!(matches!(snap.estimated_delivery, Some(Eta::Window { .. })));
    assert_eq!(snap.delivered_at, None);
    assert_eq!(
        snap.signed_by, None,
        "only delivered parcels are signed for"
    );
    assert_eq!(
        snap.destination.as_ref().and_then(|d| d.city.as_deref()),
        Some("BOSTON")
    );
    assert!(matches!(rs[1].outcome, Err(CarrierError::NotFound { .. })));
    // `trackd normalize` without --number reports every number the answer holds.
    assert_eq!(Example.parse_track(&[], &fixture()).unwrap().len(), 2);
}

#[test]
fn faults_render_and_parse_to_their_kind() {
    let parse = |f: SimFault| Example.parse_track(&[IN_TRANSIT], &Example.sim_render_fault(&f));
    assert!(matches!(
        parse(SimFault::Unauthorized),
        Err(CarrierError::Auth { .. })
    ));
    assert_eq!(
        parse(SimFault::RateLimited {
            retry_after_secs: 30
        }),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(30))
        })
    );
    assert!(matches!(
        parse(SimFault::ServerError),
        Err(CarrierError::Unavailable { status: 503, .. })
    ));
    assert_eq!(
        parse(SimFault::BadRequest {
            message: "no such number".into()
        }),
        Err(CarrierError::Rejected {
            code: "bad_request".into(),
            message: "no such number".into()
        })
    );
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Example, FIDELITY);
}
