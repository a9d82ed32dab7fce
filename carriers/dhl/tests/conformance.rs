//! The SDK conformance kit, run against the DHL plugin, plus detection on the
//! documented valid/invalid numbers of `tracking_number_data` (couriers/dhl.json).

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use trackd_carrier_dhl::Dhl;
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse, JourneyStep,
    Method, SimEvent, SimParcel, SimReply, SimRequestError, Status,
};

/// The simulator renders ISO times with the place's offset and seconds, and a
/// timed `estimatedDeliveryTimeFrame`.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: true,
};

fn numbers() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|serial| Dhl.sim_mint_number(serial))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn render_parse_round_trip(parcel in numbers().prop_flat_map(arb_parcel)) {
        assert_round_trip(&Dhl, &parcel, FIDELITY);
        // Beyond the kit: the facts DHL's format also carries.
        let resp = Dhl.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = Dhl.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.signed_by.as_ref(), parcel.signed_by.as_ref());
        prop_assert_eq!(snap.origin.as_ref(), Some(&parcel.origin));
        prop_assert_eq!(snap.destination.as_ref(), Some(&parcel.destination));
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert_eq!(snap.checkpoints.last().map(|c| c.occurred_at), snap.updated_at);
        for (cp, ev) in snap.checkpoints.iter().zip(&parcel.events) {
            prop_assert_eq!(cp.location.as_ref(), Some(&ev.place));
        }
    }

    #[test]
    fn minted_numbers_are_valid_dhl_express_numbers(serial in any::<u64>()) {
        let n = Dhl.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 10);
        prop_assert_eq!(Dhl.detect(&n), Detection::Checksum, "{}", n);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), status in 100u16..600) {
        let _ = Dhl.parse_track(&["3318810025"], &HttpResponse::new(status, "application/json", body.clone()));
        let _ = Dhl.parse_track(&[], &HttpResponse::new(status, "application/json", body));
    }
}

#[test]
fn minted_numbers_are_distinct_and_stable() {
    let mut seen = std::collections::HashSet::new();
    for serial in 0..20_000u64 {
        assert!(
            seen.insert(Dhl.sim_mint_number(serial)),
            "serial {serial} collides"
        );
    }
    assert_eq!(Dhl.sim_mint_number(42), Dhl.sim_mint_number(42));
    assert_eq!(Dhl.sim_mint_number(42), "0000000420");
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&Dhl, "3318810025");
    let resp = Dhl.sim_render_track(&[SimReply::Unknown("3318810025")]);
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.header_value("content-type"),
        Some("application/problem+json")
    );
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("", "api-key");
    assert_request_routes(&Dhl, &["3318810025"], &creds);
    assert_request_routes(&Dhl, &["GM2951173225174494"], &creds);
    let req = Dhl.track_request(&["JJD0099999999"], &creds, None).unwrap();
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        req.path_and_query,
        "/track/shipments?trackingNumber=JJD0099999999&language=en"
    );
    assert_eq!(req.header_value("DHL-API-Key"), Some("api-key"));
    assert_eq!(
        Dhl.sim_route(&req),
        Ok(SimCall::Track {
            numbers: vec!["JJD0099999999".into()],
            credential: SimCredential::ApiKey("api-key".into()),
        })
    );
}

#[test]
fn request_limits_and_credentials() {
    let creds = Credentials::new("", "k");
    assert!(matches!(
        Dhl.track_request(&["3318810025", "3318810036"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Dhl.track_request(&[], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    assert!(matches!(
        Dhl.track_request(&["3318810025"], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
    let d = Dhl.descriptor();
    assert_eq!((d.slug, d.batch_size), ("dhl", 1));
    assert_eq!((d.quota.per_second, d.quota.per_day), (1, Some(250)));
    assert_eq!(Dhl.token_request(&creds), Ok(None));
}

#[test]
fn sim_route_rejects_other_requests() {
    assert!(matches!(
        Dhl.sim_route(&HttpRequest::get("/track/other")),
        Err(SimRequestError::NotFound(_))
    ));
    assert!(matches!(
        Dhl.sim_route(&HttpRequest::post("/track/shipments?trackingNumber=1", "")),
        Err(SimRequestError::BadRequest(_))
    ));
    assert!(matches!(
        Dhl.sim_route(&HttpRequest::get("/track/shipments")),
        Err(SimRequestError::BadRequest(_))
    ));
    assert_eq!(
        Dhl.sim_route(&HttpRequest::get(
            "/track/shipments?trackingNumber=3318810025"
        )),
        Ok(SimCall::Track {
            numbers: vec!["3318810025".into()],
            credential: SimCredential::None,
        })
    );
}

#[test]
fn faults_parse_back_to_their_kind() {
    let n = ["3318810025"];
    let r = Dhl.parse_track(&n, &Dhl.sim_render_fault(&SimFault::Unauthorized));
    assert!(matches!(r, Err(CarrierError::Auth { .. })));
    let r = Dhl.parse_track(
        &n,
        &Dhl.sim_render_fault(&SimFault::RateLimited {
            retry_after_secs: 3,
        }),
    );
    assert_eq!(
        r,
        Err(CarrierError::RateLimited {
            retry_after: Some(trackd_carrier_sdk::RetryAfter::Seconds(3))
        })
    );
    let r = Dhl.parse_track(&n, &Dhl.sim_render_fault(&SimFault::ServerError));
    assert!(matches!(
        r,
        Err(CarrierError::Unavailable { status: 500, .. })
    ));
    let r = Dhl.parse_track(
        &n,
        &Dhl.sim_render_fault(&SimFault::BadRequest {
            message: "bad number".into(),
        }),
    );
    assert!(matches!(r, Err(CarrierError::Rejected { .. })));
}

fn fixture(body: &[u8]) -> HttpResponse {
    // Trailing newlines would make "truncated by one byte" still complete JSON.
    let text = std::str::from_utf8(body).unwrap().trim_end();
    HttpResponse::new(200, "application/json", text.as_bytes().to_vec())
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "7777777770",
            include_bytes!("../fixtures/shipments_resp200_portal.karrio.json"),
        ),
        (
            "3318810025",
            include_bytes!("../fixtures/express_transit_naive.synth.json"),
        ),
        (
            "00340434161094042557",
            include_bytes!("../fixtures/parcel_de_delivered_offset.synth.json"),
        ),
        (
            "00340434161094042564",
            include_bytes!("../fixtures/returned_flag.synth.json"),
        ),
    ];
    for (number, body) in cases {
        assert_malformed_is_typed(&Dhl, &[number], &fixture(body));
    }
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn place(city: &str) -> Address {
    Address {
        city: Some(city.into()),
        region: Some("NRW".into()),
        postal_code: Some("53113".into()),
        country: Some("DE".into()),
    }
}

fn parcel(steps: &[JourneyStep]) -> SimParcel {
    let events = steps
        .iter()
        .enumerate()
        .map(|(i, step)| SimEvent {
            at: at("2024-03-01T08:00:00+01:00") + chrono::Duration::hours(i as i64 * 5),
            step: *step,
            place: place("BONN"),
        })
        .collect();
    SimParcel {
        tracking_number: Dhl.sim_mint_number(7),
        service: "DHL PAKET".into(),
        origin: place("BONN"),
        destination: place("BONN"),
        events,
        eta: Some((
            at("2024-03-04T09:00:00+01:00"),
            at("2024-03-04T13:00:00+01:00"),
        )),
        eta_change_reason: None,
        signed_by: Some("JOHNSON".into()),
    }
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in every_step_status() {
        let p = parcel(&[JourneyStep::LabelCreated, step]);
        let resp = Dhl.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Dhl
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?} → {}", snap.status_rule);
        assert_eq!(snap.checkpoints[1].status, want, "{step:?} checkpoint");
        assert!(snap.status_rule.starts_with("dhl:"), "{step:?}");
        assert!(
            snap.carrier_status_code.is_some(),
            "{step:?} keeps the raw code"
        );
        if step == JourneyStep::Delivered {
            assert!(snap.delivered_at.is_some());
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
        }
    }
    let detail = |step| {
        let p = parcel(&[JourneyStep::LabelCreated, step]);
        let resp = Dhl.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Dhl
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        rs[0].outcome.as_ref().unwrap().status_detail.clone()
    };
    assert_eq!(
        detail(JourneyStep::WeatherDelay).as_deref(),
        Some("in_transit.weather_delay")
    );
    assert_eq!(
        detail(JourneyStep::OperationalDelay).as_deref(),
        Some("in_transit.operational_delay")
    );
    assert_eq!(
        detail(JourneyStep::CustomsHold).as_deref(),
        Some("exception.customs_hold")
    );
    assert_eq!(
        detail(JourneyStep::AddressIssue).as_deref(),
        Some("exception.address_issue")
    );
}

#[test]
fn rendered_answer_looks_like_dhl() {
    let p = parcel(&[JourneyStep::LabelCreated, JourneyStep::ArrivedAtFacility]);
    let resp = Dhl.sim_render_track(&[SimReply::Known(&p)]);
    assert_eq!(resp.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let s = &v["shipments"][0];
    assert_eq!(s["id"], p.tracking_number.as_str());
    // Newest first, ISO with the local offset.
    assert_eq!(s["events"][0]["statusCode"], "transit");
    assert_eq!(s["events"][0]["timestamp"], "2024-03-01T13:00:00+01:00");
    assert_eq!(s["events"][1]["statusCode"], "pre-transit");
    assert_eq!(s["status"]["statusCode"], "transit");
    assert_eq!(
        s["events"][0]["location"]["address"]["addressLocality"],
        "BONN"
    );
    assert_eq!(
        s["estimatedDeliveryTimeFrame"]["estimatedFrom"],
        "2024-03-04T09:00:00+01:00"
    );
    assert_eq!(
        s["estimatedDeliveryTimeFrame"]["estimatedThrough"],
        "2024-03-04T13:00:00+01:00"
    );
    assert!(s.get("returnFlag").is_none());
    let r = parcel(&[JourneyStep::LabelCreated, JourneyStep::Returned]);
    let resp = Dhl.sim_render_track(&[SimReply::Known(&r)]);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["shipments"][0]["returnFlag"], true);
    let rs = Dhl
        .parse_track(&[r.tracking_number.as_str()], &resp)
        .unwrap();
    assert_eq!(rs[0].outcome.as_ref().unwrap().status, Status::Returned);
}

/// Numbers as `tracking_number_data` lists them, normalized the way the daemon
/// does before calling `detect` (upper case, no spaces).
fn norm(n: &str) -> String {
    n.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

#[test]
fn detection_follows_tracking_number_data() {
    for n in [
        "3318810025",
        "73891051146",
        "8487135506",
        "1099255990",
        "3821724944",
        "3318810036",
        "3318810014",
    ] {
        assert_eq!(Dhl.detect(&norm(n)), Detection::Checksum, "{n}");
    }
    for n in ["3318810010", "3318810034", "3318810011"] {
        assert_eq!(Dhl.detect(&norm(n)), Detection::No, "{n}");
    }
    // Formats without a check digit: pattern only.
    for n in [
        "JJD0099999999",
        "JVGL0999999990",
        "GM2951173225174494",
        "GM 2 9 5 117 32 25 1 7 44 9 4",
        "GM295117494011169042",
        "GM9E44608A27984866BA2D",
        "60120172242323",
        "5108 7693037816",
        "60120174971147",
    ] {
        assert_eq!(Dhl.detect(&norm(n)), Detection::Pattern, "{n}");
    }
    for n in [
        "XJD0099999998",
        "GS295117494011169041",
        "GR295117494011169045",
        "AAAAAAAAAAAAAAAAAA",
        "ABCDEFGHILJKLMNOPQ",
        "ABCDEFGHILJKLMNOPQRSTU1234567890",
        "A60120172242323",
        "60120172242323B",
        "160120172242323",
        "6012017224232301",
        "601201722X2323",
        "1Z5R89390357567127",
        "",
    ] {
        assert_eq!(Dhl.detect(&norm(n)), Detection::No, "{n}");
    }
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Dhl, FIDELITY);
}
