//! The SDK conformance kit run against the USPS plugin, plus requests, tokens,
//! faults, batching and detection.

use chrono::DateTime;
use proptest::prelude::*;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpResponse, JourneyStep, Method,
    RetryAfter, SimEvent, SimParcel, SimReply, Status,
};
use trackd_carrier_usps::{TOKEN_PATH, TRACK_PATH, Usps};

/// USPS sends GMT instants with seconds plus the local offset, and a predicted
/// delivery window (local times, no zone).
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: true,
};

const FIXTURE: &[u8] =
    include_bytes!("../fixtures/tracking_v3_detail_delivered_realistic.karrio.json");
const MULTI: &[u8] = include_bytes!("../fixtures/tracking_v3r2_207_multistatus.synth.json");

fn numbers() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|s| Usps.sim_mint_number(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_parse_round_trip(parcel in numbers().prop_flat_map(arb_parcel)) {
        assert_round_trip(&Usps, &parcel, FIDELITY);
        let resp = Usps.sim_render_track(&[SimReply::Known(&parcel)]);
        prop_assert_eq!(resp.status, 200);
        let rs = Usps.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.origin.as_ref(), Some(&parcel.origin));
        prop_assert_eq!(snap.destination.as_ref(), Some(&parcel.destination));
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert_eq!(snap.signed_by.as_ref(), parcel.signed_by.as_ref());
        prop_assert_eq!(snap.updated_at, snap.checkpoints.last().map(|c| c.occurred_at));
        for (cp, ev) in snap.checkpoints.iter().zip(&parcel.events) {
            prop_assert_eq!(cp.location.as_ref(), Some(&ev.place));
        }
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = Usps.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 22);
        prop_assert!(n.starts_with("94001"));
        prop_assert_eq!(Usps.detect(&n), Detection::Checksum, "{}", n);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..300), status in 100u16..600) {
        let _ = Usps.parse_track(&["9400111206206406260787"], &HttpResponse::new(status, "application/json", body));
    }
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&Usps, &Usps.sim_mint_number(42));
}

#[test]
fn mixed_batch_renders_207_and_parses_per_number() {
    let parcel = parcel(JourneyStep::OutForDelivery);
    let unknown = Usps.sim_mint_number(99);
    let resp = Usps.sim_render_track(&[SimReply::Known(&parcel), SimReply::Unknown(&unknown)]);
    assert_eq!(resp.status, 207);
    let rs = Usps
        .parse_track(&[parcel.tracking_number.as_str(), unknown.as_str()], &resp)
        .unwrap();
    assert_eq!(
        rs[0].outcome.as_ref().unwrap().status,
        Status::OutForDelivery
    );
    assert!(matches!(rs[1].outcome, Err(CarrierError::NotFound { .. })));
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("consumer-key", "consumer secret&=");
    let a = Usps.sim_mint_number(1);
    let b = Usps.sim_mint_number(2);
    assert_request_routes(&Usps, &[a.as_str()], &creds);
    assert_request_routes(&Usps, &[a.as_str(), b.as_str()], &creds);
    let req = Usps
        .track_request(&[a.as_str()], &creds, Some("tok"))
        .unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path_and_query, TRACK_PATH);
    assert_eq!(req.header_value("authorization"), Some("Bearer tok"));
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        format!(r#"[{{"trackingNumber":"{a}"}}]"#)
    );
    match Usps.sim_route(&req) {
        Ok(SimCall::Track { credential, .. }) => {
            assert_eq!(credential, SimCredential::Bearer("tok".into()))
        }
        other => panic!("{other:?}"),
    }
    // The token call carries the (percent-encoded) credentials.
    let tok = Usps.token_request(&creds).unwrap().unwrap();
    assert_eq!(tok.path_and_query, TOKEN_PATH);
    assert_eq!(
        Usps.sim_route(&tok),
        Ok(SimCall::Token {
            client_id: "consumer-key".into(),
            client_secret: "consumer secret&=".into()
        })
    );
    // Batches: up to 35 numbers, a token is required.
    let many: Vec<String> = (0..36).map(|i| Usps.sim_mint_number(i)).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(Usps.track_request(&refs[..35], &creds, Some("t")).is_ok());
    assert!(matches!(
        Usps.track_request(&refs, &creds, Some("t")),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Usps.track_request(&refs[..1], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Usps.token_request(&Credentials::default()),
        Err(CarrierError::Config { .. })
    ));
    assert_eq!(Usps.descriptor().batch_size, 35);
}

#[test]
fn tokens_parse_in_usps_shape() {
    let t = Usps
        .parse_token(&Usps.sim_render_token("abc", 28_799))
        .unwrap();
    assert_eq!((t.token.as_str(), t.expires_in_secs), ("abc", 28_799));
    // The documented example answer (trimmed).
    let doc = r#"{"access_token":"eyJ.x.y","token_type":"Bearer","issued_at":1680888985929,"expires_in":28799,"status":"approved","scope":"tracking labels","issuer":"api.usps.com","client_id":"hyr7","application_name":"Silver Shipper Developer","api_products":"[Shipping-Silver]"}"#;
    let t = Usps
        .parse_token(&HttpResponse::new(200, "application/json", doc))
        .unwrap();
    assert_eq!(t.expires_in_secs, 28_799);
    let bad = r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
    let e = Usps
        .parse_token(&HttpResponse::new(401, "application/json", bad))
        .unwrap_err();
    assert!(matches!(e, CarrierError::Auth { message } if message.contains("invalid_client")));
    let e = Usps
        .parse_token(&HttpResponse::new(429, "application/json", "{}").header("Retry-After", "60"))
        .unwrap_err();
    assert_eq!(
        e,
        CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(60))
        }
    );
    assert!(matches!(
        Usps.parse_token(&HttpResponse::new(
            200,
            "application/json",
            "{\"token_type\":\"Bearer\"}"
        )),
        Err(CarrierError::Malformed { .. })
    ));
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let n = "9400109104250532908587";
    let valid = HttpResponse::new(200, "application/json", FIXTURE.trim_ascii_end().to_vec());
    assert_malformed_is_typed(&Usps, &[n], &valid);
    let multi = HttpResponse::new(207, "application/json", MULTI.trim_ascii_end().to_vec());
    assert_malformed_is_typed(&Usps, &["9202290317456200135409"], &multi);
    let weird = HttpResponse::new(
        200,
        "application/json",
        r#"[{"trackingNumber":"X","trackingEvents":{}}]"#,
    );
    assert!(matches!(
        Usps.parse_track(&["X"], &weird).unwrap()[0].outcome,
        Err(CarrierError::Malformed { .. })
    ));
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
        tracking_number: Usps.sim_mint_number(7),
        service: "Priority Mail & Co's".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: vec![
            event(at("2024-03-01T08:00:00-05:00"), JourneyStep::LabelCreated),
            event(at("2024-03-01T21:30:00-05:00"), step),
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
        let resp = Usps.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Usps
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?}: {}", snap.status_rule);
        // HTML-encoded on the wire, decoded in the snapshot.
        assert_eq!(snap.service.as_deref(), Some("Priority Mail & Co's"));
        // 21:30 EST is 02:30Z the next day: still the right local time.
        assert_eq!(
            snap.updated_at.map(|t| t.to_wire()).as_deref(),
            Some("2024-03-01T21:30:00-05:00")
        );
        if step == JourneyStep::Delivered {
            assert_eq!(snap.delivered_at, snap.updated_at);
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
        } else {
            assert_eq!(snap.signed_by, None, "{step:?}");
            assert_eq!(snap.delivered_at, None, "{step:?}");
        }
    }
    let weather = parcel(JourneyStep::WeatherDelay);
    let resp = Usps.sim_render_track(&[SimReply::Known(&weather)]);
    let snap = Usps
        .parse_track(&[], &resp)
        .unwrap()
        .remove(0)
        .outcome
        .unwrap();
    assert_eq!(
        snap.status_detail.as_deref(),
        Some("in_transit.weather_delay")
    );
}

#[test]
fn faults_render_and_parse_to_their_kind() {
    let n = "9400111206206406260787";
    let parse = |f: SimFault| Usps.parse_track(&[n], &Usps.sim_render_fault(&f));
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
            message: "bad input".into()
        }),
        Err(CarrierError::Rejected {
            code: "400".into(),
            message: "bad input".into()
        })
    );
}

#[test]
fn detection_of_documented_formats() {
    assert_eq!(Usps.detect("9400109104250532908587"), Detection::Checksum);
    assert_eq!(Usps.detect("9400109104250532908588"), Detection::No);
    assert_eq!(Usps.detect("EJ958083578US"), Detection::Checksum);
    assert_eq!(Usps.detect("1Z5R89390357567127"), Detection::No);
    assert_eq!(Usps.detect("RR123456785CA"), Detection::No);
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Usps, FIDELITY);
}
