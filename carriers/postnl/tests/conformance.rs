//! The SDK conformance kit run against the PostNL plugin, plus the facts of its
//! wire format the kit does not cover.

use chrono::DateTime;
use proptest::prelude::*;
use trackd_carrier_postnl::{API_KEY_HEADER, PostNl};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply,
};

/// PostNL times are local wall clock with seconds and no zone; the ETA is a
/// timed window (also without zone).
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: false,
    checkpoint_seconds: true,
    eta_window: true,
};

/// PostNL events name no place (only a numeric `LocationCode`), so the kit's
/// per-checkpoint city comparison runs on journeys whose event places have no
/// city: everything else the kit checks stays in force.
fn without_event_cities(mut p: SimParcel) -> SimParcel {
    for e in &mut p.events {
        e.place.city = None;
    }
    p
}

fn parcels() -> impl Strategy<Value = SimParcel> {
    any::<u64>()
        .prop_map(|s| PostNl.sim_mint_number(s))
        .prop_flat_map(arb_parcel)
        .prop_map(without_event_cities)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_parse_round_trip(parcel in parcels()) {
        assert_round_trip(&PostNl, &parcel, FIDELITY);
        let resp = PostNl.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = PostNl.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.origin.as_ref(), Some(&parcel.origin));
        prop_assert_eq!(snap.destination.as_ref(), Some(&parcel.destination));
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert!(snap.checkpoints.iter().all(|c| !c.occurred_at.offset_known()));
        prop_assert_eq!(snap.updated_at, snap.checkpoints.last().map(|c| c.occurred_at));
    }

    #[test]
    fn minted_numbers_detect_as_pattern(serial in any::<u64>()) {
        let n = PostNl.sim_mint_number(serial);
        // 3S barcodes have no check digit.
        prop_assert_eq!(PostNl.detect(&n), Detection::Pattern, "{}", n);
    }
}

#[test]
fn minted_numbers_are_distinct() {
    let mut seen = std::collections::HashSet::new();
    for serial in (0..5_000u64).chain([999_999_999, 1_000_000_000, 99_999_999_999]) {
        assert!(seen.insert(PostNl.sim_mint_number(serial)), "{serial}");
    }
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&PostNl, "3SABCD1234567");
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("unused", "api-key");
    assert_request_routes(&PostNl, &["3SABCD1234567"], &creds);
    let req = PostNl
        .track_request(&["3SABCD1234567"], &creds, None)
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/shipment/v2/status/barcode/3SABCD1234567?detail=true&language=EN"
    );
    assert_eq!(req.header_value(API_KEY_HEADER), Some("api-key"));
    assert_eq!(
        PostNl.sim_route(&req),
        Ok(SimCall::Track {
            numbers: vec!["3SABCD1234567".into()],
            credential: SimCredential::ApiKey("api-key".into())
        })
    );
    assert!(matches!(
        PostNl.track_request(&["A", "B"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        PostNl.track_request(&["3SABCD1234567"], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
    let bare = HttpRequest::get("/shipment/v2/status/barcode/3SABCD1234567");
    assert!(matches!(
        PostNl.sim_route(&bare),
        Ok(SimCall::Track {
            credential: SimCredential::None,
            ..
        })
    ));
    assert!(
        PostNl
            .sim_route(&HttpRequest::get("/shipment/v2/status/signature/X"))
            .is_err()
    );
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let bodies: [(&str, &[u8]); 3] = [
        (
            "3SDEVC123456789",
            include_bytes!("../fixtures/completestatus.firstred.json"),
        ),
        (
            "3SABCD987516327",
            include_bytes!("../fixtures/completestatus3.firstred.json"),
        ),
        (
            "3SABCD987040009",
            include_bytes!("../fixtures/currentstatus3.firstred.json"),
        ),
    ];
    for (number, body) in bodies {
        let text = std::str::from_utf8(body).unwrap().trim_end();
        let resp = HttpResponse::new(200, "application/json", text.as_bytes().to_vec());
        assert_malformed_is_typed(&PostNl, &[number], &resp);
    }
    for body in [&b"{}"[..], br#"{"CurrentStatus":{}}"#] {
        let resp = HttpResponse::new(200, "application/json", body.to_vec());
        assert!(matches!(
            PostNl.parse_track(&["3SABCD1234567"], &resp),
            Err(CarrierError::Malformed { .. })
        ));
    }
    let bad_time =
        br#"{"CurrentStatus":{"Shipment":{"Event":{"Code":"I01","TimeStamp":"yesterday"}}}}"#;
    let resp = HttpResponse::new(200, "application/json", bad_time.to_vec());
    let rs = PostNl.parse_track(&["3SABCD1234567"], &resp).unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::Malformed { .. })));
}

fn parcel(step: JourneyStep) -> SimParcel {
    let place = Address {
        city: Some("UTRECHT".into()),
        region: None,
        postal_code: Some("3511AA".into()),
        country: Some("NL".into()),
    };
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let event = |at, step| SimEvent {
        at,
        step,
        place: place.clone(),
    };
    SimParcel {
        tracking_number: PostNl.sim_mint_number(7),
        service: "Standaard zending".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: vec![
            event(at("2024-06-03T08:00:00+02:00"), JourneyStep::LabelCreated),
            event(at("2024-06-03T13:00:00+02:00"), step),
        ],
        eta: Some((
            at("2024-06-04T09:00:00+02:00"),
            at("2024-06-04T13:00:00+02:00"),
        )),
        eta_change_reason: None,
        signed_by: None,
    }
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in every_step_status() {
        let p = parcel(step);
        let resp = PostNl.sim_render_track(&[SimReply::Known(&p)]);
        let rs = PostNl
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?}: {}", snap.status_rule);
        assert!(snap.status_rule.starts_with("postnl:event="), "{step:?}");
        if step == JourneyStep::Delivered {
            assert_eq!(
                snap.delivered_at.map(|t| t.to_wire()).as_deref(),
                Some("2024-06-03T13:00:00")
            );
        }
    }
}

#[test]
fn not_applicable_events_keep_the_status() {
    let body = br#"{"CompleteStatus":{"Shipment":{"Barcode":"3SABCD1234567","Event":[
        {"Code":"A41","Description":"n.v.t.","TimeStamp":"03-06-2024 14:00:00"},
        {"Code":"J05","Description":"Bezorger is onderweg","TimeStamp":"03-06-2024 09:00:00"}],
        "Status":{"StatusCode":"7","TimeStamp":"03-06-2024 09:00:00"}}}}"#;
    let resp = HttpResponse::new(200, "application/json", body.to_vec());
    let rs = PostNl.parse_track(&["3SABCD1234567"], &resp).unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.checkpoints[1].code, "A41");
    assert_eq!(
        s.checkpoints[1].status,
        trackd_carrier_sdk::Status::OutForDelivery
    );
    // A "not applicable" newest event does not decide: Status.StatusCode does.
    assert_eq!(s.status_rule, "postnl:status=7");
}

#[test]
fn faults_render_and_parse_to_their_kind() {
    let n = "3SABCD1234567";
    let parse = |f: SimFault| PostNl.parse_track(&[n], &PostNl.sim_render_fault(&f));
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
    let rs = parse(SimFault::BadRequest {
        message: "at most 1 tracking numbers per request, got 2".into(),
    })
    .unwrap();
    assert!(matches!(
        &rs[0].outcome,
        Err(CarrierError::Rejected { message, .. }) if message.starts_with("at most 1")
    ));
}

/// The SDK's one-call suite compares a city per checkpoint, which PostNL's
/// events do not carry; its other checks run here on journeys without event
/// cities (see `render_parse_round_trip` and the tests above).
#[test]
fn sdk_suite_checks_on_journeys_without_event_cities() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let base = parcels().new_tree(&mut runner).unwrap().current();
    for step in JourneyStep::ALL {
        let mut p = base.clone();
        if let Some(last) = p.events.last_mut() {
            last.step = step;
        }
        assert_round_trip(&PostNl, &p, FIDELITY);
    }
    let valid = PostNl.sim_render_track(&[SimReply::Known(&base)]);
    assert_malformed_is_typed(&PostNl, &[base.tracking_number.as_str()], &valid);
}

/// The SDK's whole conformance suite, in one line (PostNL events carry a
/// location code, not a place name).
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance_with(
        &PostNl,
        FIDELITY,
        trackd_carrier_sdk::testkit::Carries {
            places: false,
            ..trackd_carrier_sdk::testkit::Carries::ALL
        },
    );
}
