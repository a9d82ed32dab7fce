//! The SDK conformance kit plus GLS specifics: simulator round trips, token and
//! track routing, faults, and every journey step mapping back to its status.

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use trackd_carrier_gls::{Gls, TOKEN_PATH, codes};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{self, Fidelity};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply, SimRequestError,
};

/// Offsets (colon-less) and seconds travel; the answer has no ETA field, so
/// journeys are compared without one.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: false,
};

const SAMPLE: &[u8] = include_bytes!("../fixtures/spec_200_with_links_parcelshop.json");

fn without_eta(mut p: SimParcel) -> SimParcel {
    p.eta = None;
    p.eta_change_reason = None;
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(parcel in (0u64..10_000_000_000).prop_flat_map(|s| testkit::arb_parcel(Gls.sim_mint_number(s)))) {
        testkit::assert_round_trip(&Gls, &without_eta(parcel), FIDELITY);
    }

    #[test]
    fn minted_numbers_detect(serial in any::<u64>()) {
        let n = Gls.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 11);
        // GLS parcel numbers carry no published check digit: Pattern is the best.
        prop_assert_eq!(Gls.detect(&n), Detection::Pattern);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), status in prop::sample::select(vec![200u16, 400, 401, 404, 429, 500])) {
        let r = HttpResponse::new(status, "application/json", body);
        let _ = Gls.parse_track(&["93835368025"], &r);
        let _ = Gls.parse_token(&r);
    }
}

#[test]
fn unknown_number_is_not_found() {
    testkit::assert_unknown_is_not_found(&Gls, &Gls.sim_mint_number(7));
}

#[test]
fn requests_route_with_token_and_bearer() {
    let creds = Credentials::new("client-id", "client-secret");
    let numbers: Vec<String> = (0..10).map(|i| Gls.sim_mint_number(i)).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    testkit::assert_request_routes(&Gls, &refs, &creds);
    let tok = Gls.token_request(&creds).unwrap().unwrap();
    assert_eq!(tok.path_and_query, TOKEN_PATH);
    assert_eq!(tok.body, b"grant_type=client_credentials");
    assert_eq!(
        Gls.sim_route(&tok),
        Ok(SimCall::Token {
            client_id: "client-id".into(),
            client_secret: "client-secret".into()
        })
    );
    let req = Gls
        .track_request(&["93835368025", "36301917596"], &creds, Some("tok"))
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/track-and-trace-v1/tracking/simple/trackids/93835368025,36301917596"
    );
    assert_eq!(req.header_value("authorization"), Some("Bearer tok"));
    assert_eq!(
        Gls.sim_route(&req),
        Ok(SimCall::Track {
            numbers: vec!["93835368025".into(), "36301917596".into()],
            credential: SimCredential::Bearer("tok".into())
        })
    );
    // Form-body credentials are the other documented token style.
    let form = HttpRequest::post(
        TOKEN_PATH,
        b"grant_type=client_credentials&client_id=a&client_secret=b%26c".to_vec(),
    );
    assert_eq!(
        Gls.sim_route(&form),
        Ok(SimCall::Token {
            client_id: "a".into(),
            client_secret: "b&c".into()
        })
    );
}

#[test]
fn track_request_checks_batch_and_token() {
    let creds = Credentials::new("a", "b");
    let eleven: Vec<String> = (0..11).map(|i| Gls.sim_mint_number(i)).collect();
    let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
    assert!(matches!(
        Gls.track_request(&refs, &creds, Some("t")),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Gls.track_request(&["93835368025"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Gls.token_request(&Credentials::default()),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn sim_route_rejects_foreign_requests() {
    for path in [
        "/",
        "/track-and-trace-v1/tracking/simple/trackids/",
        "/track-and-trace-v1/tracking/simple/references/747N6K",
    ] {
        assert!(
            matches!(
                Gls.sim_route(&HttpRequest::get(path)),
                Err(SimRequestError::NotFound(_))
            ),
            "{path}"
        );
    }
    for bad in [
        HttpRequest::get(TOKEN_PATH),
        HttpRequest::post(TOKEN_PATH, b"grant_type=password".to_vec()),
        HttpRequest::post(TOKEN_PATH, b"grant_type=client_credentials".to_vec()),
        HttpRequest::get("/track-and-trace-v1/tracking/simple/trackids/1")
            .header("Authorization", "Basic YTpi"),
        HttpRequest::post("/track-and-trace-v1/tracking/simple/trackids/1", Vec::new()),
    ] {
        assert!(
            matches!(Gls.sim_route(&bad), Err(SimRequestError::BadRequest(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn token_round_trip_and_errors() {
    let resp = Gls.sim_render_token("abc", 14_400);
    assert!(String::from_utf8_lossy(&resp.body).contains(r#""expires_in":14400"#));
    let t = Gls.parse_token(&resp).unwrap();
    assert_eq!((t.token.as_str(), t.expires_in_secs), ("abc", 14_400));
    let string_expiry = HttpResponse::new(
        200,
        "application/json",
        br#"{"access_token":"x","token_type":"Bearer","expires_in":"14400"}"#.to_vec(),
    );
    assert_eq!(
        Gls.parse_token(&string_expiry).unwrap().expires_in_secs,
        14_400
    );
    let refused = HttpResponse::new(
        400,
        "application/json",
        br#"{"errors":[{"message":"Invalid client identifier","type":"400"}]}"#.to_vec(),
    );
    assert!(matches!(
        Gls.parse_token(&refused),
        Err(CarrierError::Auth { .. })
    ));
    let down = HttpResponse::new(503, "text/plain", b"down".to_vec());
    assert!(matches!(
        Gls.parse_token(&down),
        Err(CarrierError::Unavailable { .. })
    ));
    let garbage = HttpResponse::new(200, "application/json", b"{\"access_token\":".to_vec());
    assert!(matches!(
        Gls.parse_token(&garbage),
        Err(CarrierError::Malformed { .. })
    ));
}

#[test]
fn malformed_bodies_are_typed() {
    let valid = HttpResponse::new(200, "application/json", SAMPLE.to_vec());
    testkit::assert_malformed_is_typed(&Gls, &["42249028960"], &valid);
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::Delivered,
    ]);
    let rendered = Gls.sim_render_track(&[SimReply::Known(&parcel)]);
    testkit::assert_malformed_is_typed(&Gls, &[&parcel.tracking_number], &rendered);
    let empty = HttpResponse::new(
        200,
        "application/json",
        br#"{"parcels":[{"requested":"1"}]}"#.to_vec(),
    );
    assert!(matches!(
        Gls.parse_track(&["1"], &empty).unwrap()[0].outcome,
        Err(CarrierError::Malformed { .. })
    ));
    let nothing = HttpResponse::new(200, "application/json", b"{}".to_vec());
    assert!(matches!(
        Gls.parse_track(&["1"], &nothing),
        Err(CarrierError::Malformed { .. })
    ));
}

fn at(day: u32, hour: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2023, 3, day, hour, 15, 0)
        .unwrap()
}

fn parcel_with(steps: &[JourneyStep]) -> SimParcel {
    let place = Address {
        city: Some("NEUENSTEIN".into()),
        region: None,
        postal_code: Some("36286".into()),
        country: Some("DE".into()),
    };
    SimParcel {
        tracking_number: Gls.sim_mint_number(1234),
        service: "Parcel".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: steps
            .iter()
            .enumerate()
            .map(|(i, step)| SimEvent {
                at: at(1 + i as u32, 10),
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
        let resp = Gls.sim_render_track(&[SimReply::Known(&parcel)]);
        let s = Gls
            .parse_track(&[&parcel.tracking_number], &resp)
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        let (code, ..) = codes::step_event(step);
        assert_eq!(s.status, want, "{step:?} rendered as {code}");
        assert_eq!(s.carrier_status_code.as_deref(), Some(code));
        assert_eq!(s.checkpoints.last().map(|c| c.status), Some(want));
        assert_eq!(
            s.checkpoints.last().unwrap().occurred_at.to_wire(),
            "2023-03-02T10:15:00+01:00"
        );
    }
    // The body uses GLS's colon-less offsets, newest event first, null errors.
    let parcel = parcel_with(&[JourneyStep::LabelCreated, JourneyStep::Delivered]);
    let body = String::from_utf8(Gls.sim_render_track(&[SimReply::Known(&parcel)]).body).unwrap();
    assert!(
        body.contains(r#""eventDateTime":"2023-03-02T10:15:00+0100""#),
        "{body}"
    );
    assert!(body.contains(r#""statusDateTime":"2023-03-02T10:15:00+0100""#));
    assert!(body.contains(r#""errorCode":null"#));
    assert!(body.find("DELIVD.NORMAL").unwrap() < body.find("INTIAL.PREADVICE").unwrap());
}

#[test]
fn every_documented_status_maps() {
    for (value, want, _) in codes::STATUSES {
        let body = format!(
            r#"{{"parcels":[{{"requested":"93835368025","unitno":"93835368025","status":"{value}","statusDateTime":"2024-10-11T15:24:57+0200","events":[]}}]}}"#
        );
        let s = Gls
            .parse_track(
                &["93835368025"],
                &HttpResponse::new(200, "application/json", body),
            )
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(s.status, *want, "{value}");
        assert_eq!(s.status_rule, format!("gls:status={value}"));
        assert_eq!(
            s.updated_at.map(|t| t.to_wire()).as_deref(),
            Some("2024-10-11T15:24:57+02:00")
        );
    }
}

#[test]
fn faults_render_as_documented_and_parse_to_their_kind() {
    let n = Gls.sim_mint_number(3);
    let parse = |f: SimFault| Gls.parse_track(&[&n], &Gls.sim_render_fault(&f));
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
            message: "Failed to convert 'showLinks'".into()
        }),
        Err(CarrierError::Rejected {
            code: "400 Bad Request".into(),
            message: "Failed to convert 'showLinks'".into()
        })
    );
}

#[test]
fn detection_and_descriptor() {
    for n in ["93835368025", "36301917596", "422490289601"] {
        assert_eq!(Gls.detect(n), Detection::Pattern, "{n}");
    }
    for n in [
        "",
        "9383536802",
        "9383536802512",
        "ZX61QJIX",
        "1Z5R89390357567127",
        "9383536802A",
    ] {
        assert_eq!(Gls.detect(n), Detection::No, "{n}");
    }
    let d = Gls.descriptor();
    assert_eq!(d.slug, "gls");
    assert_eq!(
        d.auth,
        trackd_carrier_sdk::AuthKind::OAuth2ClientCredentials
    );
    assert_eq!(d.batch_size, 10);
    assert_eq!(d.quota.per_day, Some(500));
    assert_eq!(d.default_base_url, "https://api.gls-group.net");
}

/// The SDK's whole conformance suite, in one line (this wire format carries no ETA).
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance_without_eta(&Gls, FIDELITY);
}
