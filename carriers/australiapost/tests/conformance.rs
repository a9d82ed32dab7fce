//! The SDK conformance kit plus Australia Post specifics: simulator round trips,
//! request routing, faults, and every journey step mapping back to its status.

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use trackd_carrier_australiapost::{ACCOUNT_KEY, AustraliaPost, codes};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{self, Fidelity};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply, SimRequestError, Status,
};

/// Offsets and seconds travel; the Track Items answer has no ETA field at all,
/// so journeys are compared without one (`eta_window` is then never consulted).
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: false,
};

const SAMPLE: &[u8] = include_bytes!("../fixtures/tracking_response.karrio.json");

fn creds() -> Credentials {
    let mut c = Credentials::new("my-api-key", "s3cret:pass");
    c.extra.insert(ACCOUNT_KEY.into(), "0000123456".into());
    c
}

/// The wire format carries no delivery estimate: drop the simulator's.
fn without_eta(mut p: SimParcel) -> SimParcel {
    p.eta = None;
    p.eta_change_reason = None;
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(parcel in (0u64..100_000_000).prop_flat_map(|s| testkit::arb_parcel(AustraliaPost.sim_mint_number(s)))) {
        testkit::assert_round_trip(&AustraliaPost, &without_eta(parcel), FIDELITY);
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = AustraliaPost.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 13);
        prop_assert!(n.ends_with("AU"));
        prop_assert_eq!(AustraliaPost.detect(&n), Detection::Checksum);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), status in prop::sample::select(vec![200u16, 400, 404, 429, 500])) {
        let _ = AustraliaPost.parse_track(&["CP12345678 5AU"], &HttpResponse::new(status, "application/json", body));
    }
}

#[test]
fn unknown_number_is_not_found() {
    testkit::assert_unknown_is_not_found(&AustraliaPost, &AustraliaPost.sim_mint_number(7));
}

#[test]
fn batched_request_routes_with_basic_credentials() {
    let numbers: Vec<String> = (0..10).map(|i| AustraliaPost.sim_mint_number(i)).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    testkit::assert_request_routes(&AustraliaPost, &refs, &creds());
    testkit::assert_request_routes(&AustraliaPost, &["33XXX0123456"], &creds());
    let req = AustraliaPost
        .track_request(&["7XX1000634011427", "ET123456785AU"], &creds(), None)
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/shipping/v1/track?tracking_ids=7XX1000634011427,ET123456785AU"
    );
    assert_eq!(req.method, trackd_carrier_sdk::Method::Get);
    assert_eq!(req.header_value("account-number"), Some("0000123456"));
    assert_eq!(req.header_value("accept"), Some("application/json"));
    assert!(req.body.is_empty());
    match AustraliaPost.sim_route(&req) {
        Ok(SimCall::Track { credential, .. }) => assert_eq!(
            credential,
            SimCredential::Basic {
                user: "my-api-key".into(),
                password: "s3cret:pass".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(AustraliaPost.token_request(&creds()).unwrap().is_none());
}

#[test]
fn track_request_checks_batch_and_credentials() {
    let eleven: Vec<String> = (0..11).map(|i| AustraliaPost.sim_mint_number(i)).collect();
    let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
    assert!(matches!(
        AustraliaPost.track_request(&refs, &creds(), None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        AustraliaPost.track_request(&[], &creds(), None),
        Err(CarrierError::Config { .. })
    ));
    // No account number.
    assert!(matches!(
        AustraliaPost.track_request(&["ET123456785AU"], &Credentials::new("k", "p"), None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        AustraliaPost.track_request(&["ET123456785AU"], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn sim_route_rejects_foreign_requests() {
    let ok = HttpRequest::get("/shipping/v1/track?tracking_ids=ET123456785AU")
        .header("Account-Number", "1");
    assert!(matches!(
        AustraliaPost.sim_route(&ok),
        Ok(SimCall::Track { ref numbers, credential: SimCredential::None }) if numbers == &["ET123456785AU"]
    ));
    assert!(matches!(
        AustraliaPost.sim_route(&HttpRequest::get("/shipping/v1/prices/items")),
        Err(SimRequestError::NotFound(_))
    ));
    for bad in [
        HttpRequest::get("/shipping/v1/track?tracking_ids=").header("Account-Number", "1"),
        HttpRequest::get("/shipping/v1/track?tracking_ids=A"),
        HttpRequest::post("/shipping/v1/track?tracking_ids=A", b"{}".to_vec())
            .header("Account-Number", "1"),
        ok.clone().header("Authorization", "Bearer abc"),
        ok.clone().header("Authorization", "Basic !!!"),
    ] {
        assert!(
            matches!(
                AustraliaPost.sim_route(&bad),
                Err(SimRequestError::BadRequest(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn malformed_bodies_are_typed() {
    let valid = HttpResponse::new(200, "application/json", SAMPLE.to_vec());
    testkit::assert_malformed_is_typed(&AustraliaPost, &["7XX1000634011427"], &valid);
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::Delivered,
    ]);
    let rendered = AustraliaPost.sim_render_track(&[SimReply::Known(&parcel)]);
    testkit::assert_malformed_is_typed(&AustraliaPost, &[&parcel.tracking_number], &rendered);
    // A result that is neither found nor an error.
    let empty = HttpResponse::new(
        200,
        "application/json",
        br#"{"tracking_results":[{"tracking_id":"X"}]}"#.to_vec(),
    );
    assert!(matches!(
        AustraliaPost.parse_track(&["X"], &empty).unwrap()[0].outcome,
        Err(CarrierError::Malformed { .. })
    ));
    let nothing = HttpResponse::new(200, "application/json", b"{}".to_vec());
    assert!(matches!(
        AustraliaPost.parse_track(&["X"], &nothing),
        Err(CarrierError::Malformed { .. })
    ));
}

fn at(day: u32, hour: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(10 * 3600)
        .unwrap()
        .with_ymd_and_hms(2024, 3, day, hour, 15, 42)
        .unwrap()
}

fn parcel_with(steps: &[JourneyStep]) -> SimParcel {
    let place = Address {
        city: Some("ALEXANDRIA".into()),
        region: Some("NSW".into()),
        postal_code: Some("2015".into()),
        country: Some("AU".into()),
    };
    SimParcel {
        tracking_number: AustraliaPost.sim_mint_number(1234),
        service: "Parcel Post".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: steps
            .iter()
            .enumerate()
            .map(|(i, step)| SimEvent {
                at: at(1 + i as u32, 9),
                step: *step,
                place: place.clone(),
            })
            .collect(),
        eta: None,
        eta_change_reason: None,
        signed_by: None,
    }
}

#[test]
fn every_journey_step_renders_a_code_that_maps_back() {
    for (step, want) in testkit::every_step_status() {
        let parcel = parcel_with(&[JourneyStep::LabelCreated, step]);
        let resp = AustraliaPost.sim_render_track(&[SimReply::Known(&parcel)]);
        let s = AustraliaPost
            .parse_track(&[&parcel.tracking_number], &resp)
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        let (text, _) = codes::step_texts(step);
        assert_eq!(s.status, want, "{step:?} rendered as {text:?}");
        assert_eq!(s.carrier_status_code.as_deref(), Some(text));
        assert_eq!(s.checkpoints.last().map(|c| c.status), Some(want));
        assert_eq!(
            s.checkpoints.last().unwrap().occurred_at.to_wire(),
            "2024-03-02T09:15:42+10:00"
        );
        let loc = s.checkpoints[1].location.as_ref().unwrap();
        assert_eq!(loc.region.as_deref(), Some("NSW"));
    }
    // The rendered body is the documented shape, newest event first.
    let parcel = parcel_with(&[JourneyStep::LabelCreated, JourneyStep::Delivered]);
    let body = String::from_utf8(
        AustraliaPost
            .sim_render_track(&[SimReply::Known(&parcel)])
            .body,
    )
    .unwrap();
    assert!(body.starts_with(r#"{"tracking_results":[{"tracking_id":"CP00001234"#));
    assert!(body.find("\"Delivered\"").unwrap() < body.find("Shipping information").unwrap());
    assert!(body.contains(r#""location":"ALEXANDRIA NSW""#));
}

#[test]
fn every_documented_status_value_maps() {
    for rule in codes::STATUSES {
        assert_ne!(rule.status, Status::Unknown, "{}", rule.value);
        // Used as the only signal (no events), the status value decides.
        let body = format!(
            r#"{{"tracking_results":[{{"tracking_id":"33XXX0123456","status":"{}","trackable_items":[]}}]}}"#,
            rule.value
        );
        let s = AustraliaPost
            .parse_track(
                &["33XXX0123456"],
                &HttpResponse::new(200, "application/json", body),
            )
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(s.status, rule.status, "{}", rule.value);
        assert_eq!(
            s.status_rule,
            format!("australiapost:status={}", rule.value)
        );
    }
}

#[test]
fn faults_render_as_documented_and_parse_to_their_kind() {
    let n = AustraliaPost.sim_mint_number(3);
    let parse = |f: SimFault| AustraliaPost.parse_track(&[&n], &AustraliaPost.sim_render_fault(&f));
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
        Err(CarrierError::Unavailable { status: 500, .. })
    ));
    assert_eq!(
        parse(SimFault::BadRequest {
            message: "The request must contain at least one tracking id.".into()
        }),
        Err(CarrierError::Rejected {
            code: "51100".into(),
            message: "The request must contain at least one tracking id.".into()
        })
    );
}

#[test]
fn descriptor_is_australia_post() {
    let d = AustraliaPost.descriptor();
    assert_eq!(d.slug, "australiapost");
    assert_eq!(d.auth, trackd_carrier_sdk::AuthKind::Basic);
    assert_eq!(d.batch_size, 10);
    assert_eq!(d.default_base_url, "https://digitalapi.auspost.com.au");
    assert_eq!(d.format, "json");
}

/// The SDK's whole conformance suite, in one line (this wire format carries no ETA).
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance_without_eta(&AustraliaPost, FIDELITY);
}
