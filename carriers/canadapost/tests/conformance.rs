//! The SDK conformance kit plus Canada Post specifics: simulator round trips,
//! request routing, detection on the tracking_number_data test numbers.

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use trackd_carrier_canadapost::{CanadaPost, TRACK_MEDIA_TYPE, codes};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{self, Fidelity};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    RetryAfter, SimEvent, SimParcel, SimReply, SimRequestError, Status,
};

const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: false,
};

const DOCUMENTED: &str = include_str!("../fixtures/documented_example_delivered.xml");
const CAPTURED: &str = include_str!("../fixtures/captured_delivered_mst_pst.xml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(parcel in (0u64..1_000_000).prop_flat_map(|s| testkit::arb_parcel(CanadaPost.sim_mint_number(s)))) {
        testkit::assert_round_trip(&CanadaPost, &parcel, FIDELITY);
    }

    #[test]
    fn round_trip_with_changed_eta(
        parcel in testkit::arb_parcel(CanadaPost.sim_mint_number(42)),
        reason in "[A-Za-z ;.,&<>']{1,40}",
    ) {
        let mut parcel = parcel;
        parcel.eta_change_reason = Some(reason);
        testkit::assert_round_trip(&CanadaPost, &parcel, FIDELITY);
        let resp = CanadaPost.sim_render_track(&[SimReply::Known(&parcel)]);
        let snap = CanadaPost.parse_track(&[&parcel.tracking_number], &resp).unwrap().remove(0).outcome.unwrap();
        let cur = parcel.current().unwrap();
        if parcel.eta.is_some() && snap.status == Status::InTransit && cur.step == JourneyStep::PickedUp {
            prop_assert_eq!(snap.status_detail.as_deref(), Some("in_transit.delay"));
        }
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = CanadaPost.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 16);
        prop_assert_eq!(CanadaPost.detect(&n), Detection::Checksum);
    }
}

#[test]
fn unknown_number_is_not_found() {
    testkit::assert_unknown_is_not_found(&CanadaPost, &CanadaPost.sim_mint_number(7));
    let resp = CanadaPost.sim_render_track(&[SimReply::Unknown("0073938000549297")]);
    assert_eq!(resp.status, 404);
}

#[test]
fn request_routes_with_basic_credentials() {
    let creds = Credentials::new("6e93d53968881714", "0bfa9fcb9853d1f51ee57a");
    for n in ["0073938000549297", "LM029042024CA", "123456789012"] {
        testkit::assert_request_routes(&CanadaPost, &[n], &creds);
    }
    let req = CanadaPost
        .track_request(&["0073938000549297"], &creds, None)
        .unwrap();
    assert_eq!(req.path_and_query, "/vis/track/pin/0073938000549297/detail");
    assert_eq!(req.header_value("accept"), Some(TRACK_MEDIA_TYPE));
    assert_eq!(req.header_value("accept-language"), Some("en-CA"));
    assert_eq!(
        req.header_value("authorization"),
        Some("Basic NmU5M2Q1Mzk2ODg4MTcxNDowYmZhOWZjYjk4NTNkMWY1MWVlNTdh")
    );
    assert!(req.body.is_empty());
    match CanadaPost.sim_route(&req) {
        Ok(SimCall::Track { credential, .. }) => assert_eq!(
            credential,
            SimCredential::Basic {
                user: "6e93d53968881714".into(),
                password: "0bfa9fcb9853d1f51ee57a".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(CanadaPost.token_request(&creds).unwrap().is_none());
}

#[test]
fn track_request_needs_credentials_and_one_number() {
    let creds = Credentials::new("u", "p");
    assert!(matches!(
        CanadaPost.track_request(&["1", "2"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        CanadaPost.track_request(&["1"], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn sim_route_rejects_foreign_requests() {
    let ok = HttpRequest::get("/vis/track/pin/0073938000549297/detail")
        .header("Accept", TRACK_MEDIA_TYPE);
    assert!(matches!(
        CanadaPost.sim_route(&ok),
        Ok(SimCall::Track { ref numbers, credential: SimCredential::None }) if numbers == &["0073938000549297"]
    ));
    for path in [
        "/vis/track/pin/0073938000549297/summary",
        "/vis/track/dnc/315052413796541/detail",
        "/",
        "/vis/track/pin//detail",
    ] {
        let req = HttpRequest::get(path).header("Accept", TRACK_MEDIA_TYPE);
        assert!(
            matches!(
                CanadaPost.sim_route(&req),
                Err(SimRequestError::NotFound(_))
            ),
            "{path}"
        );
    }
    for accept in ["*/*", "application/xml", ""] {
        let req =
            HttpRequest::get("/vis/track/pin/0073938000549297/detail").header("Accept", accept);
        assert!(
            matches!(
                CanadaPost.sim_route(&req),
                Err(SimRequestError::BadRequest(_))
            ),
            "{accept}"
        );
    }
    let bad_auth = ok.clone().header("Authorization", "Basic !!!");
    assert!(matches!(
        CanadaPost.sim_route(&bad_auth),
        Err(SimRequestError::BadRequest(_))
    ));
    let bearer = ok.header("Authorization", "Bearer abc");
    assert!(matches!(
        CanadaPost.sim_route(&bearer),
        Err(SimRequestError::BadRequest(_))
    ));
}

#[test]
fn malformed_bodies_are_typed() {
    // The documented example without its trailing newline (a cut that only
    // drops trailing whitespace is still the whole document).
    let valid = HttpResponse::new(200, TRACK_MEDIA_TYPE, DOCUMENTED.trim_end());
    testkit::assert_malformed_is_typed(&CanadaPost, &["1371134583769923"], &valid);
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::Delivered,
    ]);
    let rendered = CanadaPost.sim_render_track(&[SimReply::Known(&parcel)]);
    testkit::assert_malformed_is_typed(&CanadaPost, &[&parcel.tracking_number], &rendered);
}

fn at(day: u32, hour: u32, offset_hours: i32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(offset_hours * 3600)
        .unwrap()
        .with_ymd_and_hms(2024, 3, day, hour, 15, 42)
        .unwrap()
}

fn parcel_with(steps: &[JourneyStep]) -> SimParcel {
    let place = Address {
        city: Some("HALIFAX".into()),
        region: Some("NS".into()),
        postal_code: Some("B3H1A1".into()),
        country: Some("CA".into()),
    };
    SimParcel {
        tracking_number: CanadaPost.sim_mint_number(1234),
        service: "Expedited Parcels".into(),
        origin: place.clone(),
        destination: place.clone(),
        events: steps
            .iter()
            .enumerate()
            .map(|(i, step)| SimEvent {
                at: at(1 + i as u32, 9, -4),
                step: *step,
                place: place.clone(),
            })
            .collect(),
        eta: Some((at(20, 9, -4), at(20, 17, -4))),
        eta_change_reason: None,
        signed_by: Some("R GREGOIRE".into()),
    }
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in testkit::every_step_status() {
        let (code, _) = codes::step_event(step);
        let rule = codes::lookup(code).unwrap_or_else(|| panic!("{code} not in the table"));
        assert_eq!(rule.kind, codes::Kind::Progress, "{step:?}");

        let parcel = parcel_with(&[JourneyStep::LabelCreated, step]);
        let resp = CanadaPost.sim_render_track(&[SimReply::Known(&parcel)]);
        let snap = CanadaPost
            .parse_track(&[&parcel.tracking_number], &resp)
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(snap.status, want, "{step:?} rendered as {code}");
        assert_eq!(snap.checkpoints.last().map(|c| c.status), Some(want));
        assert_eq!(snap.carrier_status_code.as_deref(), Some(code));
        // AST (-04:00) is rendered for Halifax and read back.
        assert_eq!(
            snap.checkpoints.last().unwrap().occurred_at.to_wire(),
            "2024-03-02T09:15:42-04:00"
        );
    }
}

#[test]
fn delivered_parcel_carries_signature_and_delivery_time() {
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::OutForDelivery,
        JourneyStep::Delivered,
    ]);
    let resp = CanadaPost.sim_render_track(&[SimReply::Known(&parcel)]);
    let body = String::from_utf8(resp.body.clone()).unwrap();
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tracking-detail xmlns=\"http://www.canadapost.ca/ws/track\">"));
    assert!(body.contains("<event-time-zone>AST</event-time-zone>"));
    assert!(body.contains("<mailed-by-customer-number>0007000000</mailed-by-customer-number>"));
    assert!(body.contains("<service-name-2>Colis accélérés</service-name-2>"));
    // Newest first, as Canada Post lists them.
    let delivered = body.find("<event-identifier>1496").unwrap();
    let label = body.find("<event-identifier>3000").unwrap();
    assert!(delivered < label);
    let snap = CanadaPost
        .parse_track(&[&parcel.tracking_number], &resp)
        .unwrap()
        .remove(0)
        .outcome
        .unwrap();
    assert_eq!(snap.signed_by.as_deref(), Some("R GREGOIRE"));
    assert_eq!(
        snap.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-03-03T09:15:42-04:00")
    );
    assert_eq!(
        snap.destination.and_then(|d| d.postal_code).as_deref(),
        Some("B3H1A1")
    );
}

#[test]
fn faults_render_as_documented_and_parse_to_their_kind() {
    let n = CanadaPost.sim_mint_number(3);
    let parse = |f: SimFault| CanadaPost.parse_track(&[&n], &CanadaPost.sim_render_fault(&f));
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
    let bad = parse(SimFault::BadRequest {
        message: "Invalid PIN".into(),
    })
    .unwrap();
    assert_eq!(
        bad[0].outcome,
        Err(CarrierError::Rejected {
            code: "E400".into(),
            message: "Invalid PIN".into()
        })
    );
    let resp = CanadaPost.sim_render_fault(&SimFault::RateLimited {
        retry_after_secs: 30,
    });
    assert_eq!(
        (resp.status, resp.header_value("retry-after")),
        (429, Some("30"))
    );
    assert_eq!(
        CanadaPost.sim_render_fault(&SimFault::Unauthorized).status,
        401
    );
}

#[test]
fn detection_on_tracking_number_data_test_numbers() {
    // tracking_number_data couriers/canadapost.json test_numbers.
    for n in ["0073938000549297", "7035114477138472", "4002847016405018"] {
        assert_eq!(CanadaPost.detect(n), Detection::Checksum, "{n}");
    }
    for n in ["0073938000549292", "7035114477138471", "5002847016405018"] {
        assert_eq!(CanadaPost.detect(n), Detection::No, "{n}");
    }
    // S10 numbers issued by Canada Post (check digit), others' are not ours.
    assert_eq!(CanadaPost.detect("RR123456785CA"), Detection::Checksum);
    assert_eq!(CanadaPost.detect("LM029042024CA"), Detection::Checksum);
    assert_eq!(CanadaPost.detect("RR123456784CA"), Detection::No);
    assert_eq!(CanadaPost.detect("RB123456785GB"), Detection::No);
    // 12-digit PINs have no known check digit.
    assert_eq!(CanadaPost.detect("123456789012"), Detection::Pattern);
    for n in [
        "",
        "1Z5R89390357567127",
        "00739380005492971",
        "315052413796541",
        "ABCDEFGHIJKLMNOP",
    ] {
        assert_eq!(CanadaPost.detect(n), Detection::No, "{n}");
    }
}

#[test]
fn descriptor_is_canada_post() {
    let d = CanadaPost.descriptor();
    assert_eq!(d.slug, "canadapost");
    assert_eq!(d.name, "Canada Post");
    assert_eq!(d.auth, trackd_carrier_sdk::AuthKind::Basic);
    assert_eq!(d.batch_size, 1);
    assert_eq!(d.default_base_url, "https://soa-gw.canadapost.ca");
    assert_eq!(d.format, "xml");
    assert_eq!(d.quota.per_day, Some(28_800));
}

#[test]
fn every_table_code_parses_to_its_status() {
    for rule in codes::RULES
        .iter()
        .filter(|r| r.kind == codes::Kind::Progress)
    {
        let code = format!("{:04}", rule.code);
        let body = CAPTURED.replacen(
            "<event-identifier>1496</event-identifier>",
            &format!("<event-identifier>{code}</event-identifier>"),
            1,
        );
        let snap = CanadaPost
            .parse_track(
                &["2001698038081172"],
                &HttpResponse::new(200, TRACK_MEDIA_TYPE, body),
            )
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(snap.status, rule.status, "{code}");
        assert_eq!(
            snap.status_rule,
            format!("canadapost:event-identifier={}", rule.code)
        );
        assert_eq!(snap.carrier_status_code.as_deref(), Some(code.as_str()));
    }
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&CanadaPost, FIDELITY);
}
