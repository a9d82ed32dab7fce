//! The SDK conformance kit plus DPD specifics: simulator round trips, request
//! routing (login and track), detection on the tracking_number_data numbers.

use proptest::prelude::*;
use trackd_carrier_dpd::{Dpd, LOGIN_PATH, TRACK_PATH, codes};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{self, Fidelity};
use trackd_carrier_sdk::{Carrier, CarrierError, Credentials, Detection, RetryAfter, SimReply};

/// DPD display times carry seconds but no zone; Predict gives a timed window.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: false,
    checkpoint_seconds: true,
    eta_window: true,
};

const CAPTURED: &str = include_str!("../fixtures/captured_be_returning_from_delivery.xml");

fn creds() -> Credentials {
    Credentials::new("KD12345", "s3cret&<pw>")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(parcel in (0u64..1_000_000).prop_flat_map(|s| testkit::arb_parcel(Dpd.sim_mint_number(s)))) {
        testkit::assert_round_trip(&Dpd, &parcel, FIDELITY);
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = Dpd.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 15);
        prop_assert_eq!(Dpd.detect(&n), Detection::Checksum);
    }

    #[test]
    fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let r = trackd_carrier_sdk::HttpResponse::new(200, "text/xml", body);
        let _ = Dpd.parse_track(&["09980000020034D"], &r);
        let _ = Dpd.parse_token(&r);
    }
}

#[test]
fn unknown_number_is_not_found() {
    testkit::assert_unknown_is_not_found(&Dpd, &Dpd.sim_mint_number(7));
}

#[test]
fn requests_route_through_the_simulator() {
    for n in [Dpd.sim_mint_number(1), "09980000020034D".into()] {
        testkit::assert_request_routes(&Dpd, &[n.as_str()], &creds());
    }
    let tok = Dpd.token_request(&creds()).unwrap().unwrap();
    assert_eq!(tok.path_and_query, LOGIN_PATH);
    assert_eq!(
        Dpd.sim_route(&tok),
        Ok(SimCall::Token {
            client_id: "KD12345".into(),
            client_secret: "s3cret&<pw>".into()
        })
    );
    let req = Dpd
        .track_request(&["008182709980000020033350276C"], &creds(), Some("tok-1"))
        .unwrap();
    assert_eq!(req.path_and_query, TRACK_PATH);
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(body.contains("<parcelLabelNumber>09980000020033</parcelLabelNumber>"));
    assert!(body.contains("<delisId>KD12345</delisId>"));
    assert!(body.contains("<messageLanguage>en_EN</messageLanguage>"));
    match Dpd.sim_route(&req) {
        Ok(SimCall::Track {
            numbers,
            credential,
        }) => {
            assert_eq!(numbers, vec!["09980000020033F".to_string()]);
            assert_eq!(credential, SimCredential::Bearer("tok-1".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Dpd.track_request(&["09980000020034D"], &creds(), None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Dpd.track_request(&["1", "2"], &creds(), Some("t")),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn token_round_trip_keeps_lifetime() {
    for secs in [60, 3_600, 86_400] {
        let r = Dpd.sim_render_token("abc", secs);
        let tok = Dpd.parse_token(&r).unwrap();
        assert_eq!(tok.token, "abc");
        assert_eq!(tok.expires_in_secs, secs);
    }
}

#[test]
fn malformed_and_truncated_are_typed() {
    let valid = trackd_carrier_sdk::HttpResponse::new(200, "text/xml", CAPTURED);
    testkit::assert_malformed_is_typed(&Dpd, &["05308801410058"], &valid);
}

#[test]
fn faults_are_typed() {
    let n = "09980000020034D";
    let r = Dpd.sim_render_fault(&SimFault::Unauthorized);
    assert!(matches!(
        Dpd.parse_track(&[n], &r),
        Err(CarrierError::Auth { .. })
    ));
    assert!(matches!(
        Dpd.parse_token(&r),
        Err(CarrierError::Auth { .. })
    ));
    let r = Dpd.sim_render_fault(&SimFault::RateLimited {
        retry_after_secs: 9,
    });
    assert_eq!(
        Dpd.parse_track(&[n], &r),
        Err(CarrierError::RateLimited {
            retry_after: Some(RetryAfter::Seconds(9))
        })
    );
    let r = Dpd.sim_render_fault(&SimFault::ServerError);
    assert!(matches!(
        Dpd.parse_track(&[n], &r),
        Err(CarrierError::Unavailable { .. })
    ));
    let r = Dpd.sim_render_fault(&SimFault::BadRequest {
        message: "bad <input>".into(),
    });
    assert!(matches!(
        Dpd.parse_track(&[n], &r),
        Err(CarrierError::Rejected { .. })
    ));
    let r = Dpd.sim_render_track(&[SimReply::Unknown("a"), SimReply::Unknown("b")]);
    assert!(Dpd.parse_track(&[n], &r).is_err());
}

#[test]
fn every_step_renders_a_code_that_maps_back() {
    for (step, status) in testkit::every_step_status() {
        let (code, _) = codes::code_for_step(step);
        assert_eq!(codes::status_of(code), Some(status), "{step:?}");
    }
}

#[test]
fn detection() {
    for n in [
        "09980000020033F",
        "09980000020034D",
        "008182709980000020033350276C",
    ] {
        assert_eq!(Dpd.detect(n), Detection::Checksum, "{n}");
    }
    assert_eq!(Dpd.detect("05308801410058"), Detection::Pattern);
    for n in [
        "09980000020033D",
        "008182709980000020033350276A",
        "1Z5R89390357567127",
        "",
    ] {
        assert_eq!(Dpd.detect(n), Detection::No, "{n}");
    }
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Dpd, FIDELITY);
}
