//! The SDK conformance kit, run against the FedEx plugin, plus requests,
//! routing, faults and detection on the documented valid/invalid numbers of
//! `tracking_number_data` (couriers/fedex.json).

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use trackd_carrier_fedex::{BATCH_SIZE, Fedex, TOKEN_PATH, TRACK_PATH};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{
    Fidelity, arb_parcel, assert_malformed_is_typed, assert_request_routes, assert_round_trip,
    assert_unknown_is_not_found, every_step_status,
};
use trackd_carrier_sdk::{
    Address, AuthKind, Carrier, CarrierError, Credentials, Detection, Eta, HttpRequest,
    HttpResponse, JourneyStep, Method, RetryAfter, SimEvent, SimParcel, SimReply, Status,
    Timestamp,
};

/// FedEx scan times are ISO 8601 with seconds and the local offset; the ETA
/// is a timed window.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: true,
    checkpoint_seconds: true,
    eta_window: true,
};

fn numbers() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|serial| Fedex.sim_mint_number(serial))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn render_parse_round_trip(parcel in numbers().prop_flat_map(arb_parcel)) {
        assert_round_trip(&Fedex, &parcel, FIDELITY);
        // Beyond the kit: the facts FedEx's format also carries.
        let resp = Fedex.sim_render_track(&[SimReply::Known(&parcel)]);
        let rs = Fedex.parse_track(&[parcel.tracking_number.as_str()], &resp).unwrap();
        let snap = rs[0].outcome.as_ref().unwrap();
        prop_assert_eq!(snap.signed_by.as_ref(), parcel.signed_by.as_ref());
        prop_assert_eq!(snap.origin.as_ref(), Some(&parcel.origin));
        prop_assert_eq!(snap.destination.as_ref(), Some(&parcel.destination));
        prop_assert_eq!(snap.service.as_deref(), Some(parcel.service.as_str()));
        prop_assert_eq!(snap.checkpoints.last().map(|c| c.occurred_at), snap.updated_at);
        for (cp, ev) in snap.checkpoints.iter().zip(&parcel.events) {
            prop_assert_eq!(cp.location.as_ref(), Some(&ev.place));
            prop_assert_eq!(cp.occurred_at.instant(), Some(ev.at.with_timezone(&chrono::Utc)));
        }
        let delivered = parcel.current().is_some_and(|e| e.step == JourneyStep::Delivered);
        if let (Some((start, end)), false) = (parcel.eta, delivered) {
            prop_assert_eq!(
                snap.estimated_delivery,
                Some(Eta::Window { start: Timestamp::Zoned(start), end: Timestamp::Zoned(end) })
            );
        }
    }

    #[test]
    fn minted_numbers_are_valid_fedex_numbers(serial in any::<u64>()) {
        let n = Fedex.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 12);
        prop_assert_eq!(Fedex.detect(&n), Detection::Checksum, "{}", n);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let resp = HttpResponse::new(200, "application/json", body);
        let _ = Fedex.parse_track(&["799531274483"], &resp);
        let _ = Fedex.parse_token(&resp);
    }
}

#[test]
fn minted_numbers_are_distinct_and_stable() {
    let mut seen = std::collections::HashSet::new();
    for serial in 0..20_000u64 {
        assert!(
            seen.insert(Fedex.sim_mint_number(serial)),
            "serial {serial}"
        );
    }
    assert_eq!(Fedex.sim_mint_number(42), Fedex.sim_mint_number(42));
    assert!(Fedex.sim_mint_number(42).starts_with("7000000004"));
}

#[test]
fn unknown_number_is_not_found() {
    assert_unknown_is_not_found(&Fedex, "986578788855");
}

#[test]
fn requests_route_in_the_simulator() {
    let creds = Credentials::new("client-id", "client secret&=");
    assert_request_routes(&Fedex, &["799531274483"], &creds);
    assert_request_routes(&Fedex, &["799531274483", "568283610012000"], &creds);
    let thirty: Vec<String> = (0..30).map(|i| Fedex.sim_mint_number(i)).collect();
    let thirty: Vec<&str> = thirty.iter().map(String::as_str).collect();
    assert_request_routes(&Fedex, &thirty, &creds);
}

#[test]
fn track_request_shape() {
    let creds = Credentials::new("id", "secret");
    let req = Fedex
        .track_request(&["799531274483", "568283610012000"], &creds, Some("tok"))
        .unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path_and_query, TRACK_PATH);
    assert_eq!(req.header_value("authorization"), Some("Bearer tok"));
    assert_eq!(req.header_value("content-type"), Some("application/json"));
    assert_eq!(req.header_value("x-locale"), Some("en_US"));
    assert!(req.header_value("x-customer-transaction-id").is_some());
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "includeDetailedScans": true,
            "trackingInfo": [
                {"trackingNumberInfo": {"trackingNumber": "799531274483"}},
                {"trackingNumberInfo": {"trackingNumber": "568283610012000"}}
            ]
        })
    );
    // Batch limits and the token are enforced with typed errors.
    let too_many = vec!["799531274483"; BATCH_SIZE + 1];
    for bad in [&too_many[..], &[][..]] {
        assert!(matches!(
            Fedex.track_request(bad, &creds, Some("tok")),
            Err(CarrierError::Config { .. })
        ));
    }
    assert!(matches!(
        Fedex.track_request(&["799531274483"], &creds, None),
        Err(CarrierError::Config { .. })
    ));
    let d = Fedex.descriptor();
    assert_eq!(
        (d.slug, d.auth, d.batch_size),
        ("fedex", AuthKind::OAuth2ClientCredentials, 30)
    );
    assert_eq!(d.default_base_url, "https://apis.fedex.com");
    assert_eq!((d.quota.per_second, d.quota.per_day), (140, Some(100_000)));
}

#[test]
fn token_request_and_routing() {
    let creds = Credentials::new("l7xx id", "s3cr&t=");
    let req = Fedex.token_request(&creds).unwrap().unwrap();
    assert_eq!(req.path_and_query, TOKEN_PATH);
    assert_eq!(
        req.header_value("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        "grant_type=client_credentials&client_id=l7xx%20id&client_secret=s3cr%26t%3D"
    );
    assert_eq!(
        Fedex.sim_route(&req),
        Ok(SimCall::Token {
            client_id: "l7xx id".into(),
            client_secret: "s3cr&t=".into()
        })
    );
    assert!(matches!(
        Fedex.token_request(&Credentials::default()),
        Err(CarrierError::Config { .. })
    ));
    // The rendered token answer parses back.
    let tok = Fedex
        .parse_token(&Fedex.sim_render_token("abc", 3600))
        .unwrap();
    assert_eq!((tok.token.as_str(), tok.expires_in_secs), ("abc", 3600));
    let v: serde_json::Value =
        serde_json::from_slice(&Fedex.sim_render_token("abc", 3600).body).unwrap();
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["scope"], "CXS");
}

#[test]
fn routing_rejects_what_fedex_rejects() {
    // FedEx's own full-schema request example routes.
    let example = include_bytes!("../fixtures/trackingnumbers_request_full_schema.karrio.json");
    let req = HttpRequest::post(TRACK_PATH, example.to_vec()).header("Authorization", "Bearer t");
    assert_eq!(
        Fedex.sim_route(&req),
        Ok(SimCall::Track {
            numbers: vec!["128667043726".into()],
            credential: SimCredential::Bearer("t".into())
        })
    );
    let no_auth = HttpRequest::post(TRACK_PATH, example.to_vec());
    assert!(matches!(
        Fedex.sim_route(&no_auth),
        Ok(SimCall::Track {
            credential: SimCredential::None,
            ..
        })
    ));
    assert!(Fedex.sim_route(&HttpRequest::get(TRACK_PATH)).is_err());
    assert!(
        Fedex
            .sim_route(&HttpRequest::post(TRACK_PATH, b"{".to_vec()))
            .is_err()
    );
    assert!(
        Fedex
            .sim_route(&HttpRequest::post(
                TRACK_PATH,
                br#"{"trackingInfo":[]}"#.to_vec()
            ))
            .is_err()
    );
    assert!(
        Fedex
            .sim_route(&HttpRequest::post(
                TOKEN_PATH,
                b"grant_type=password".to_vec()
            ))
            .is_err()
    );
    assert!(
        Fedex
            .sim_route(&HttpRequest::get("/track/v1/other"))
            .is_err()
    );
}

fn fixture(body: &[u8]) -> HttpResponse {
    // Trailing newlines would make "truncated by one byte" still complete JSON.
    let text = std::str::from_utf8(body).unwrap().trim_end();
    HttpResponse::new(200, "application/json", text.as_bytes().to_vec())
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let batch = include_bytes!("../fixtures/track_batch_mixed.synth.json");
    assert_malformed_is_typed(&Fedex, &["799531274483", "790535312317"], &fixture(batch));
    let portal =
        include_bytes!("../fixtures/trackingnumbers_resp200_full_schema_portal.karrio.json");
    assert_malformed_is_typed(&Fedex, &["123456789012"], &fixture(portal));
    // Valid JSON of the wrong shape.
    for body in [
        &b"{}"[..],
        b"{\"output\":{}}",
        b"{\"output\":{\"completeTrackResults\":7}}",
    ] {
        assert!(matches!(
            Fedex.parse_track(&["799531274483"], &fixture(body)),
            Err(CarrierError::Malformed { .. })
        ));
    }
    // A scan without a usable date is malformed for that number only.
    let bad_date = br#"{"output":{"completeTrackResults":[{"trackingNumber":"799531274483","trackResults":[{"latestStatusDetail":{"code":"IT"},"scanEvents":[{"date":"yesterday","eventType":"IT"}]}]}]}}"#;
    let rs = Fedex
        .parse_track(&["799531274483"], &fixture(bad_date))
        .unwrap();
    assert!(matches!(
        &rs[0].outcome,
        Err(CarrierError::Malformed { .. })
    ));
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
        tracking_number: Fedex.sim_mint_number(7),
        service: "FedEx Priority Overnight".into(),
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

fn parsed(p: &SimParcel) -> trackd_carrier_sdk::Snapshot {
    let resp = Fedex.sim_render_track(&[SimReply::Known(p)]);
    let rs = Fedex
        .parse_track(&[p.tracking_number.as_str()], &resp)
        .unwrap();
    rs[0].outcome.clone().unwrap()
}

#[test]
fn every_journey_step_renders_a_code_that_parses_back() {
    for (step, want) in every_step_status() {
        let snap = parsed(&parcel(&[JourneyStep::LabelCreated, step]));
        assert_eq!(snap.status, want, "{step:?} → {}", snap.status_rule);
        assert_eq!(snap.checkpoints[1].status, want, "{step:?} checkpoint");
        assert!(snap.status_rule.starts_with("fedex:code="), "{step:?}");
        assert!(
            snap.carrier_status_code.is_some(),
            "{step:?} keeps the raw code"
        );
        if step == JourneyStep::Delivered {
            assert_eq!(
                snap.delivered_at.map(|t| t.to_wire()).as_deref(),
                Some("2024-03-01T13:00:00-05:00")
            );
            assert_eq!(snap.signed_by.as_deref(), Some("JOHNSON"));
            assert_eq!(snap.estimated_delivery, None, "empty window once delivered");
        } else {
            assert_eq!(snap.signed_by, None, "{step:?}");
        }
    }
    let detail = |step| parsed(&parcel(&[JourneyStep::LabelCreated, step])).status_detail;
    for (step, want) in [
        (JourneyStep::WeatherDelay, "in_transit.weather_delay"),
        (
            JourneyStep::OperationalDelay,
            "in_transit.operational_delay",
        ),
        (JourneyStep::CustomsHold, "exception.customs_hold"),
        (JourneyStep::AddressIssue, "exception.address_issue"),
        (
            JourneyStep::AttemptFailed,
            "attempt_failed.recipient_unavailable",
        ),
        (JourneyStep::Returned, "returned.delivered_to_shipper"),
    ] {
        assert_eq!(detail(step).as_deref(), Some(want), "{step:?}");
    }
}

#[test]
fn rendered_answer_looks_like_fedex() {
    let p = parcel(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::AttemptFailed,
    ]);
    let resp = Fedex.sim_render_track(&[SimReply::Known(&p), SimReply::Unknown("986578788855")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header_value("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let results = &v["output"]["completeTrackResults"];
    let tr = &results[0]["trackResults"][0];
    assert_eq!(results[0]["trackingNumber"], p.tracking_number.as_str());
    // Newest first, ISO 8601 with the local offset.
    assert_eq!(tr["scanEvents"][0]["eventType"], "DE");
    assert_eq!(tr["scanEvents"][0]["exceptionCode"], "15");
    assert_eq!(tr["scanEvents"][0]["date"], "2024-03-01T18:00:00-05:00");
    assert_eq!(tr["scanEvents"][2]["eventType"], "OC");
    assert_eq!(tr["scanEvents"][2]["derivedStatusCode"], "IN");
    assert_eq!(tr["latestStatusDetail"]["code"], "DE");
    assert_eq!(
        tr["latestStatusDetail"]["ancillaryDetails"][0]["reason"],
        "15"
    );
    assert_eq!(
        tr["estimatedDeliveryTimeWindow"]["window"]["begins"],
        "2024-03-04T09:00:00-05:00"
    );
    // The label day is the ship date, then the pickup.
    assert_eq!(tr["dateAndTimes"][0]["type"], "SHIP");
    assert_eq!(tr["dateAndTimes"][1]["type"], "ACTUAL_PICKUP");
    assert_eq!(tr["recipientInformation"]["address"]["city"], "ATLANTA");
    let nf = &results[1]["trackResults"][0]["error"];
    assert_eq!(nf["code"], "TRACKING.TRACKINGNUMBER.NOTFOUND");
    assert!(v["transactionId"].is_string());
}

#[test]
fn faults_render_and_parse_to_their_kind() {
    let n = ["799531274483"];
    let parse = |f: SimFault| Fedex.parse_track(&n, &Fedex.sim_render_fault(&f));
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
            message: "bad number".into()
        }),
        Err(CarrierError::Rejected {
            code: "INVALID.INPUT.EXCEPTION".into(),
            message: "bad number".into()
        })
    );
    let v: serde_json::Value =
        serde_json::from_slice(&Fedex.sim_render_fault(&SimFault::Unauthorized).body).unwrap();
    assert_eq!(v["errors"][0]["code"], "NOT.AUTHORIZED.ERROR");
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
        // FedEx Express (12)
        "986578788855",
        "477179081230",
        "799531274483",
        "790535312317",
        " 7 9 0 5 3 5 3 1 2 3 1 7 ",
        "974367662710",
        // FedEx Express (34)
        "1001921334250001000300779017972697",
        "1001921380360001000300639585804382",
        "1001901781990001000300617767839437",
        "1002297871540001000300790695517286",
        "1027590111820004833500785458233610",
        "1195266473930007521100871079919940",
        "1 1 9 52 6 64739 3000 75211 00 8710 799 199 40",
        "1195271874060007521100871140316925",
        "1195583874210007521100871140316936",
        // FedEx Ground (15)
        "0414 4176 0228 964",
        "5682 8361 0012 000",
        "5682 8361 0012 734",
        // FedEx Ground 96 (22)
        "9611020987654312345672",
        // FedEx Ground GSN (34)
        "9622001900000000000000776632517510",
        "9622001560000000000000794808390594",
        "9622001560001234567100794808390594",
        "9632001560123456789900794808390594",
    ];
    for n in valid {
        assert_eq!(Fedex.detect(&norm(n)), Detection::Checksum, "{n}");
    }
    let invalid = [
        "996578788855",
        "1001901781990001000300617767839438",
        "5682 8361 0012 732",
        "9600000000000000000001",
        "9622001560001234567100794808390595",
        "9622001560001234567100794808390597",
    ];
    for n in invalid {
        assert_eq!(Fedex.detect(&norm(n)), Detection::No, "{n}");
    }
    for n in [
        "1Z5R89390357567127",
        "RR123456785CA",
        "",
        "79953127448",
        "7995312744830",
        "79953127448A",
        "9211020987654312345672",
    ] {
        assert_eq!(Fedex.detect(n), Detection::No, "{n}");
    }
}

#[test]
fn returned_parcels_are_terminal() {
    let snap = parsed(&parcel(&[
        JourneyStep::LabelCreated,
        JourneyStep::ReturnToSender,
        JourneyStep::Returned,
    ]));
    assert_eq!(snap.status, Status::Returned);
    assert_eq!(snap.status_rule, "fedex:code=DL+derived=RS");
    assert_eq!(snap.delivered_at, None);
    assert!(snap.status.is_terminal());
}

#[test]
fn empty_status_objects_do_not_hide_an_error() {
    let body = br#"{"output":{"completeTrackResults":[{"trackingNumber":"986578788855","trackResults":[{"latestStatusDetail":{},"scanEvents":[],"error":{"code":"TRACKING.TRACKINGNUMBER.NOTFOUND","message":"Tracking number cannot be found."}}]}]}}"#;
    let rs = Fedex
        .parse_track(&["986578788855"], &fixture(body))
        .unwrap();
    assert!(matches!(&rs[0].outcome, Err(CarrierError::NotFound { .. })));
    // A transient per-number error is retryable, an invalid number is not.
    let body = br#"{"output":{"completeTrackResults":[{"trackingNumber":"1","trackResults":[{"error":{"code":"SYSTEM.UNAVAILABLE.EXCEPTION","message":"down"}}]},{"trackingNumber":"2","trackResults":[{"error":{"code":"TRACKING.TRACKINGNUMBER.INVALID","message":"bad"}}]},{"trackingNumber":"3","trackResults":[]}]}}"#;
    let rs = Fedex.parse_track(&["1", "2", "3"], &fixture(body)).unwrap();
    assert!(matches!(&rs[0].outcome, Err(e) if e.is_retryable()));
    assert!(
        matches!(&rs[1].outcome, Err(CarrierError::Rejected { code, .. }) if code == "TRACKING.TRACKINGNUMBER.INVALID")
    );
    assert!(matches!(
        &rs[2].outcome,
        Err(CarrierError::Malformed { .. })
    ));
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Fedex, FIDELITY);
}

#[test]
fn recycled_numbers_render_every_shipment_and_parse_to_the_current_one() {
    let old = parcel(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::Delivered,
    ]);
    let mut cur = parcel(&[JourneyStep::LabelCreated, JourneyStep::PickedUp]);
    // The same number, a year later.
    for e in &mut cur.events {
        e.at += chrono::Duration::days(365);
    }
    let resp = Fedex.sim_render_track_recycled(&[SimReply::Known(&cur)], &[Some(&old)]);
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let trs = v["output"]["completeTrackResults"][0]["trackResults"]
        .as_array()
        .unwrap();
    assert_eq!(trs.len(), 2, "the older shipment is listed too");
    assert_ne!(
        trs[0]["trackingNumberInfo"]["trackingNumberUniqueId"],
        trs[1]["trackingNumberInfo"]["trackingNumberUniqueId"]
    );
    let rs = Fedex.parse_track(&[&cur.tracking_number], &resp).unwrap();
    let s = rs[0].outcome.as_ref().unwrap();
    assert_eq!(s.checkpoints.len(), cur.events.len());
    assert_eq!(s.status, cur.current().unwrap().step.status());
    let sh = s.shipment.as_ref().unwrap();
    assert_eq!(
        sh.current.id.as_deref(),
        Some(trackd_carrier_fedex::sim_unique_id(&cur).as_str())
    );
    assert_eq!(sh.others.len(), 1);
    assert_eq!(sh.alternatives[0].checkpoints.len(), old.events.len());
}
