//! The SDK conformance kit, run against the UPS plugin, plus detection on the
//! documented valid/invalid numbers of `tracking_number_data` (couriers/ups.json).

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, Carrier, Credentials, Detection, HttpResponse, JourneyStep, SimEvent, SimParcel,
    SimReply, Status,
};
use trackd_carrier_ups::Ups;

/// UPS sends local wall-clock times with seconds and no zone (the simulator does
/// not render the optional GMT fields), and a timed delivery window.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: false,
    checkpoint_seconds: true,
    eta_window: true,
};

fn numbers() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|serial| Ups.sim_mint_number(serial))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn render_parse_round_trip(parcel in numbers().prop_flat_map(arb_parcel)) {
        assert_round_trip(&Ups, &parcel, FIDELITY);
        // Beyond the kit: the facts UPS's format also carries.
        let resp = Ups.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = Ups.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
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
    fn minted_numbers_are_valid_ups_numbers(serial in any::<u64>()) {
        let n = Ups.sim_mint_number(serial);
        prop_assert_eq!(Ups.detect(&n), Detection::Checksum, "{}", n);
    }
}

#[test]
fn minted_numbers_are_distinct_and_stable() {
    let mut seen = std::collections::HashSet::new();
    for serial in (0..20_000u64).chain([u64::MAX, u64::MAX - 1, 9_999_999, 10_000_000, 1 << 40]) {
        assert!(
            seen.insert(Ups.sim_mint_number(serial)),
            "serial {serial} collides"
        );
    }
    assert_eq!(Ups.sim_mint_number(42), Ups.sim_mint_number(42));
    assert!(Ups.sim_mint_number(42).starts_with("1Z1TRKD003"));
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&Ups, "1Z5R89390357567127");
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("client-id", "client-secret");
    assert_request_routes(&Ups, &["1Z5R89390357567127"], &creds);
    assert_request_routes(&Ups, &["K1506235620"], &creds);
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
            "1Z1442YY7229014688",
            include_bytes!("../fixtures/track_v1_details_delivered.karrio.json"),
        ),
        (
            "1Z023E2X0214323462",
            include_bytes!("../fixtures/track_v1_details_portal_example.karrio.json"),
        ),
        (
            "1Z5R89390357567127",
            include_bytes!("../fixtures/track_v1_in_transit_gmt.synth.json"),
        ),
        (
            "1Z879E930346834440",
            include_bytes!("../fixtures/track_v1_delivered_signed.synth.json"),
        ),
    ];
    for (number, body) in cases {
        assert_malformed_is_typed(&Ups, &[number], &fixture(body));
    }
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn place(city: &str) -> Address {
    Address {
        city: Some(city.into()),
        region: Some("GA".into()),
        postal_code: Some("30301".into()),
        country: Some("US".into()),
    }
}

fn parcel(steps: &[JourneyStep]) -> SimParcel {
    let number = Ups.sim_mint_number(7);
    let events = steps
        .iter()
        .enumerate()
        .map(|(i, step)| SimEvent {
            at: at("2024-03-01T08:00:00-05:00") + chrono::Duration::hours(i as i64 * 5),
            step: *step,
            place: place("ATLANTA"),
        })
        .collect();
    SimParcel {
        tracking_number: number,
        service: "UPS Ground".into(),
        origin: place("ATLANTA"),
        destination: place("ATLANTA"),
        events,
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
        let p = parcel(&[JourneyStep::LabelCreated, step]);
        let resp = Ups.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Ups
            .parse_track(&[p.tracking_number.as_str()], &resp)
            .unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        assert_eq!(snap.status, want, "{step:?} → {}", snap.status_rule);
        assert_eq!(snap.checkpoints[1].status, want, "{step:?} checkpoint");
        assert!(snap.status_rule.starts_with("ups:"), "{step:?}");
        assert!(
            snap.carrier_status_code.is_some(),
            "{step:?} keeps the raw code"
        );
        if step == JourneyStep::Delivered {
            assert!(snap.delivered_at.is_some());
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
        }
    }
    // Details the delays and exceptions must carry.
    let detail = |step| {
        let p = parcel(&[JourneyStep::LabelCreated, step]);
        let resp = Ups.sim_render_track(&[SimReply::Known(&p)]);
        let rs = Ups
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
fn rendered_answer_looks_like_ups() {
    let p = parcel(&[JourneyStep::LabelCreated, JourneyStep::ArrivedAtFacility]);
    let resp = Ups.sim_render_track(&[SimReply::Known(&p)]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header_value("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let pkg = &v["trackResponse"]["shipment"][0]["package"][0];
    // Newest first, local YYYYMMDD / HHMMSS.
    assert_eq!(pkg["activity"][0]["status"]["code"], "AR");
    assert_eq!(pkg["activity"][0]["date"], "20240301");
    assert_eq!(pkg["activity"][0]["time"], "130000");
    assert_eq!(pkg["activity"][1]["status"]["type"], "M");
    assert_eq!(pkg["currentStatus"]["code"], "AR");
    assert_eq!(pkg["deliveryDate"][0]["type"], "SDD");
    assert_eq!(pkg["deliveryDate"][0]["date"], "20240304");
    assert_eq!(pkg["deliveryTime"]["type"], "EDW");
    assert_eq!(pkg["deliveryTime"]["startTime"], "090000");
    assert_eq!(pkg["deliveryTime"]["endTime"], "130000");
    assert_eq!(pkg["packageAddress"][1]["type"], "DESTINATION");
    assert_eq!(
        v["trackResponse"]["shipment"][0]["inquiryNumber"],
        p.tracking_number.as_str()
    );

    // A moved ETA is a rescheduled delivery date.
    let mut moved = p.clone();
    moved.eta_change_reason = Some("weather".into());
    let resp = Ups.sim_render_track(&[SimReply::Known(&moved)]);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v["trackResponse"]["shipment"][0]["package"][0]["deliveryDate"][0]["type"],
        "RDD"
    );
}

#[test]
fn unknown_number_renders_the_documented_warning() {
    let resp = Ups.sim_render_track(&[SimReply::Unknown("1Z5R89390357567127")]);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(resp.status, 200);
    let w = &v["trackResponse"]["shipment"][0]["warnings"][0];
    assert_eq!(w["code"], "TW0001");
    assert_eq!(w["message"], "Tracking Information Not Found");
    assert!(v["trackResponse"]["shipment"][0].get("package").is_none());
}

#[test]
fn delivered_parcels_render_delivery_facts() {
    let p = parcel(&[JourneyStep::LabelCreated, JourneyStep::Delivered]);
    let resp = Ups.sim_render_track(&[SimReply::Known(&p)]);
    let rs = Ups
        .parse_track(&[p.tracking_number.as_str()], &resp)
        .unwrap();
    let snap = rs[0].outcome.as_ref().unwrap();
    assert_eq!(snap.status, Status::Delivered);
    assert_eq!(
        snap.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-03-01T13:00:00")
    );
    assert_eq!(snap.estimated_delivery, None, "DEL replaces the promise");
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
    let valid = [
        "1Z5R89390357567127",
        "1Z879E930346834440",
        "1Z410E7W0392751591",
        "1Z8V92A70367203024",
        " 1 Z 8 V 9 2 A 7 0 3 6 7 2 0 3 0 2 4 ",
        "1ZXX3150YW44070023",
        // UPS Waybill
        "K1506235620",
        "K 150 623 562 0",
        "K2479825491",
        "J4603636537",
        "V0490119172",
        "V0431105627",
    ];
    for n in valid {
        assert_eq!(Ups.detect(&norm(n)), Detection::Checksum, "{n}");
    }
    let invalid = [
        "2Z5R89390357567127",
        "1A5R89390357567127",
        "1Z1111111111111111",
        "K1506235622",
        "K2479825492",
        "J4603636538",
        "V0411335627",
        "V0423305841",
    ];
    for n in invalid {
        assert_eq!(Ups.detect(&norm(n)), Detection::No, "{n}");
    }
}

#[test]
fn detection_on_ups_test_numbers_and_other_formats() {
    // UPS CIE / Track Alert test numbers with a valid check digit.
    for n in [
        "1Z12345E6605272234",
        "1Z648616E192760718",
        "1ZWX0692YP40636269",
        "1ZCIETST0111111114",
    ] {
        assert_eq!(Ups.detect(n), Detection::Checksum, "{n}");
    }
    // Several UPS CIE numbers carry a wrong check digit on purpose; like typos,
    // they are not auto-detected (register them with carrier "ups").
    assert_eq!(Ups.detect("1Z12345E0205271688"), Detection::No);
    // Too short, freight PRO, Mail Innovations and other carriers' formats.
    for n in [
        "1Z12345E020527079",
        "990728071",
        "9102084383041101186729",
        "RR123456785CA",
        "",
        "1Z",
    ] {
        assert_eq!(Ups.detect(n), Detection::No, "{n}");
    }
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Ups, FIDELITY);
}
