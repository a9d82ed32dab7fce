//! The SDK conformance kit run against the Royal Mail plugin, plus the facts
//! of its wire format the kit does not cover.

use chrono::DateTime;
use proptest::prelude::*;
use trackd_carrier_royalmail::{CLIENT_ID_HEADER, CLIENT_SECRET_HEADER, RoyalMail};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply,
};

/// Royal Mail times carry offsets and seconds; the ETA is a timed window.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: true,
};

fn numbers() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|s| RoyalMail.sim_mint_number(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_parse_round_trip(parcel in numbers().prop_flat_map(arb_parcel)) {
        assert_round_trip(&RoyalMail, &parcel, FIDELITY);
        let resp = RoyalMail.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = RoyalMail.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.signed_by.as_ref(), parcel.signed_by.as_ref());
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert_eq!(
            snap.destination.as_ref().and_then(|d| d.country.as_ref()),
            parcel.destination.country.as_ref()
        );
        prop_assert_eq!(snap.updated_at, snap.checkpoints.last().map(|c| c.occurred_at));
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = RoyalMail.sim_mint_number(serial);
        prop_assert_eq!(RoyalMail.detect(&n), Detection::Checksum, "{}", n);
    }
}

#[test]
fn minted_numbers_are_distinct() {
    let mut seen = std::collections::HashSet::new();
    for serial in (0..5_000u64).chain([99_999_999, 100_000_000, 2_599_999_999]) {
        assert!(seen.insert(RoyalMail.sim_mint_number(serial)), "{serial}");
    }
}

#[test]
fn detection() {
    assert_eq!(RoyalMail.detect("FQ087430672GB"), Detection::Checksum);
    for n in [
        "FQ087430673GB",      // wrong check digit
        "RB123456785US",      // another post's S10
        "1Z5R89390357567127", // UPS
        "3SABCD1234567",      // PostNL
        "",
    ] {
        assert_eq!(RoyalMail.detect(n), Detection::No, "{n}");
    }
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&RoyalMail, "FQ087430672GB");
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("client-id", "client-secret");
    assert_request_routes(&RoyalMail, &["FQ087430672GB"], &creds);
    let req = RoyalMail
        .track_request(&["FQ087430672GB"], &creds, None)
        .unwrap();
    assert_eq!(req.path_and_query, "/mailpieces/v2/FQ087430672GB/events");
    assert_eq!(req.header_value(CLIENT_ID_HEADER), Some("client-id"));
    assert_eq!(
        req.header_value(CLIENT_SECRET_HEADER),
        Some("client-secret")
    );
    assert_eq!(req.header_value("x-accept-rmg-terms"), Some("yes"));
    assert_eq!(
        RoyalMail.sim_route(&req),
        Ok(SimCall::Track {
            numbers: vec!["FQ087430672GB".into()],
            credential: SimCredential::Basic {
                user: "client-id".into(),
                password: "client-secret".into()
            }
        })
    );
    // Two numbers, or a missing credential: a typed config error.
    assert!(matches!(
        RoyalMail.track_request(&["A", "B"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    let only_secret = Credentials {
        secret: Some("s".into()),
        ..Credentials::default()
    };
    assert!(matches!(
        RoyalMail.track_request(&["FQ087430672GB"], &only_secret, None),
        Err(CarrierError::Config { .. })
    ));
    // Without the client id header the simulator sees no credential.
    let bare =
        HttpRequest::get("/mailpieces/v2/FQ087430672GB/events").header("X-Accept-RMG-Terms", "yes");
    assert!(matches!(
        RoyalMail.sim_route(&bare),
        Ok(SimCall::Track {
            credential: SimCredential::None,
            ..
        })
    ));
    assert!(
        RoyalMail
            .sim_route(&HttpRequest::get("/mailpieces/v2/summary"))
            .is_err()
    );
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let bodies: [(&str, &[u8]); 2] = [
        (
            "FQ087430672GB",
            include_bytes!("../fixtures/events_in_transit_missort.karrio.json"),
        ),
        (
            "RB123456785GB",
            include_bytes!("../fixtures/events_delivered_signed.derived.json"),
        ),
    ];
    for (number, body) in bodies {
        let text = std::str::from_utf8(body).unwrap().trim_end();
        let resp = HttpResponse::new(200, "application/json", text.as_bytes().to_vec());
        assert_malformed_is_typed(&RoyalMail, &[number], &resp);
    }
    // A 200 with neither mailPieces nor errors is not a success.
    let empty = HttpResponse::new(200, "application/json", b"{}".to_vec());
    assert!(matches!(
        RoyalMail.parse_track(&["FQ087430672GB"], &empty),
        Err(CarrierError::Malformed { .. })
    ));
    let bad_time =
        br#"{"mailPieces":{"events":[{"eventCode":"EVKSP","eventDateTime":"tuesday"}]}}"#;
    let resp = HttpResponse::new(200, "application/json", bad_time.to_vec());
    let rs = RoyalMail.parse_track(&["FQ087430672GB"], &resp).unwrap();
    assert!(matches!(rs[0].outcome, Err(CarrierError::Malformed { .. })));
}

fn parcel(step: JourneyStep) -> SimParcel {
    let place = Address {
        city: Some("LONDON".into()),
        region: None,
        postal_code: Some("EC1A 1BB".into()),
        country: Some("GB".into()),
    };
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let event = |at, step| SimEvent {
        at,
        step,
        place: place.clone(),
    };
    SimParcel {
        tracking_number: RoyalMail.sim_mint_number(7),
        service: "Royal Mail Tracked 24".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: vec![
            event(at("2024-06-03T08:00:00+01:00"), JourneyStep::LabelCreated),
            event(at("2024-06-03T13:00:00+01:00"), step),
        ],
        eta: Some((
            at("2024-06-04T09:00:00+01:00"),
            at("2024-06-04T13:00:00+01:00"),
        )),
        eta_change_reason: None,
        signed_by: Some("JOHNSON".into()),
    }
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in every_step_status() {
        let p = parcel(step);
        let resp = RoyalMail.sim_render_track(&[SimReply::Known(&p)]);
        let rs = RoyalMail
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?}: {}", snap.status_rule);
        assert!(snap.status_rule.starts_with("royalmail:event="), "{step:?}");
        if step == JourneyStep::Delivered {
            assert_eq!(
                snap.delivered_at.map(|t| t.to_wire()).as_deref(),
                Some("2024-06-03T13:00:00+01:00")
            );
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
        } else {
            assert_eq!(snap.signed_by, None, "{step:?}");
        }
    }
}

#[test]
fn faults_render_and_parse_to_their_kind() {
    let n = "FQ087430672GB";
    let parse = |f: SimFault| RoyalMail.parse_track(&[n], &RoyalMail.sim_render_fault(&f));
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
            message: "at most 1 tracking numbers per request, got 2".into()
        }),
        Err(CarrierError::Rejected {
            code: "E0004".into(),
            message: "at most 1 tracking numbers per request, got 2".into()
        })
    );
}

#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&RoyalMail, FIDELITY);
}
