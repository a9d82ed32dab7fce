//! The SDK conformance kit plus Purolator specifics: simulator round trips,
//! batched request routing, faults, detection on tracking_number_data numbers.

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use trackd_carrier_purolator::{
    BATCH_SIZE, Purolator, SOAP_CONTENT_TYPE, TRACK_ACTION, TRACK_PATH, codes,
};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::testkit::{self, Fidelity};
use trackd_carrier_sdk::{
    Address, AuthKind, Carrier, CarrierError, Credentials, Detection, HttpRequest, HttpResponse,
    JourneyStep, RetryAfter, SimEvent, SimParcel, SimReply, SimRequestError, Status,
};

/// Purolator scan times are local `HHMMSS` without zone; the ETA is a date.
const FIDELITY: Fidelity = Fidelity {
    checkpoint_offsets: false,
    checkpoint_seconds: true,
    eta_window: false,
};

const DOCUMENTED: &str = include_str!("../fixtures/documented_example_m123.xml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(parcel in (0u64..1_000_000).prop_flat_map(|s| testkit::arb_parcel(Purolator.sim_mint_number(s)))) {
        testkit::assert_round_trip(&Purolator, &parcel, FIDELITY);
    }

    #[test]
    fn batch_round_trip(
        a in testkit::arb_parcel(Purolator.sim_mint_number(1)),
        b in testkit::arb_parcel(Purolator.sim_mint_number(2)),
    ) {
        let unknown = Purolator.sim_mint_number(3);
        let resp = Purolator.sim_render_track(&[
            SimReply::Known(&a),
            SimReply::Unknown(&unknown),
            SimReply::Known(&b),
        ]);
        let rs = Purolator
            .parse_track(&[&a.tracking_number, &unknown, &b.tracking_number], &resp)
            .unwrap();
        prop_assert_eq!(rs.len(), 3);
        prop_assert_eq!(rs[0].outcome.as_ref().unwrap().status, a.current().unwrap().step.status());
        let is_not_found = matches!(rs[1].outcome, Err(CarrierError::NotFound { .. }));
        prop_assert!(is_not_found);
        prop_assert_eq!(rs[2].outcome.as_ref().unwrap().status, b.current().unwrap().step.status());
    }

    #[test]
    fn minted_numbers_detect_with_checksum(serial in any::<u64>()) {
        let n = Purolator.sim_mint_number(serial);
        prop_assert_eq!(n.len(), 12);
        prop_assert_eq!(Purolator.detect(&n), Detection::Checksum);
    }

    #[test]
    fn parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..400), status in 100u16..600) {
        let _ = Purolator.parse_track(&["320595463938"], &HttpResponse::new(status, SOAP_CONTENT_TYPE, body));
    }
}

#[test]
fn unknown_number_is_not_found() {
    testkit::assert_unknown_is_not_found(&Purolator, &Purolator.sim_mint_number(7));
    let resp = Purolator.sim_render_track(&[SimReply::Unknown("320606146993")]);
    assert_eq!(resp.status, 200);
}

fn creds() -> Credentials {
    Credentials::new("4f2a9c0e1b7d4e55a1c3", "Pa$$w0rd&<")
}

#[test]
fn request_routes_with_basic_credentials() {
    let c = creds();
    testkit::assert_request_routes(&Purolator, &["320595463938"], &c);
    testkit::assert_request_routes(
        &Purolator,
        &["320595463938", "KYV009956937", "m123", "A&B<1>"],
        &c,
    );
    let ten: Vec<String> = (0..BATCH_SIZE as u64)
        .map(|i| Purolator.sim_mint_number(i))
        .collect();
    let ten_refs: Vec<&str> = ten.iter().map(String::as_str).collect();
    testkit::assert_request_routes(&Purolator, &ten_refs, &c);

    let req = Purolator
        .track_request(&["320595463938", "KYV009956937"], &c, None)
        .unwrap();
    assert_eq!(req.method, trackd_carrier_sdk::Method::Post);
    assert_eq!(req.path_and_query, TRACK_PATH);
    assert_eq!(req.header_value("content-type"), Some(SOAP_CONTENT_TYPE));
    assert_eq!(
        req.header_value("soapaction"),
        Some(format!("\"{TRACK_ACTION}\"").as_str())
    );
    assert_eq!(
        req.header_value("authorization"),
        Some(trackd_carrier_sdk::http::basic_auth("4f2a9c0e1b7d4e55a1c3", "Pa$$w0rd&<").as_str())
    );
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(body.contains("<v1:RequestContext><v1:Version>1.2</v1:Version><v1:Language>en</v1:Language><v1:GroupID></v1:GroupID><v1:RequestReference>trackd</v1:RequestReference></v1:RequestContext>"), "{body}");
    assert!(body.contains("<v1:PINs><v1:PIN><v1:Value>320595463938</v1:Value></v1:PIN><v1:PIN><v1:Value>KYV009956937</v1:Value></v1:PIN></v1:PINs>"));
    assert!(!body.contains("UserToken"));
    match Purolator.sim_route(&req) {
        Ok(SimCall::Track {
            credential,
            numbers,
        }) => {
            assert_eq!(numbers, ["320595463938", "KYV009956937"]);
            assert_eq!(
                credential,
                SimCredential::Basic {
                    user: "4f2a9c0e1b7d4e55a1c3".into(),
                    password: "Pa$$w0rd&<".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(Purolator.token_request(&c).unwrap().is_none());
}

#[test]
fn request_carries_user_token_and_language() {
    let mut c = creds();
    c.extra.insert("user_token".into(), "tok<1>".into());
    c.extra.insert("language".into(), "fr".into());
    let req = Purolator
        .track_request(&["320595463938"], &c, None)
        .unwrap();
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(body.contains("<v1:Language>fr</v1:Language>"));
    assert!(body.contains("<v1:UserToken>tok&lt;1&gt;</v1:UserToken>"));
    assert!(matches!(
        Purolator.sim_route(&req),
        Ok(SimCall::Track { .. })
    ));
    c.extra.insert("language".into(), "de".into());
    assert!(matches!(
        Purolator.track_request(&["320595463938"], &c, None),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn track_request_needs_credentials_and_a_sane_batch() {
    let c = creds();
    let eleven: Vec<String> = (0..=BATCH_SIZE as u64)
        .map(|i| Purolator.sim_mint_number(i))
        .collect();
    let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
    for numbers in [&refs[..], &[][..], &[" "][..]] {
        assert!(matches!(
            Purolator.track_request(numbers, &c, None),
            Err(CarrierError::Config { .. })
        ));
    }
    assert!(matches!(
        Purolator.track_request(&["320595463938"], &Credentials::default(), None),
        Err(CarrierError::Config { .. })
    ));
}

#[test]
fn sim_route_rejects_foreign_requests() {
    let good = Purolator
        .track_request(&["320595463938"], &creds(), None)
        .unwrap();
    let mut wrong_path = good.clone();
    wrong_path.path_and_query = "/EWS/V2/Shipping/ShippingService.asmx".into();
    assert!(matches!(
        Purolator.sim_route(&wrong_path),
        Err(SimRequestError::NotFound(_))
    ));
    let mut get = good.clone();
    get.method = trackd_carrier_sdk::Method::Get;
    assert!(matches!(
        Purolator.sim_route(&get),
        Err(SimRequestError::BadRequest(_))
    ));

    let with_header = |name: &str, value: &str| {
        let mut r = good.clone();
        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        r.header(name, value)
    };
    for req in [
        with_header(
            "SOAPAction",
            "http://purolator.com/pws/service/v1/TrackPackagesByReference",
        ),
        with_header("Content-Type", "application/json"),
        with_header("Authorization", "Bearer abc"),
        with_header("Authorization", "Basic !!!"),
    ] {
        assert!(
            matches!(
                Purolator.sim_route(&req),
                Err(SimRequestError::BadRequest(_))
            ),
            "{req:?}"
        );
    }
    // Unquoted SOAPAction and no credential are accepted (the simulator checks auth).
    let mut open = with_header("SOAPAction", TRACK_ACTION);
    open.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
    assert!(matches!(
        Purolator.sim_route(&open),
        Ok(SimCall::Track {
            credential: SimCredential::None,
            ..
        })
    ));
    for body in [
        "",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>",
        "<x/>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><TrackPackagesByPinRequest><PINs><PIN><Value>1</Value></PIN></PINs></TrackPackagesByPinRequest></soap:Body></soap:Envelope>",
    ] {
        let mut r = good.clone();
        r.body = body.as_bytes().to_vec();
        assert!(
            matches!(Purolator.sim_route(&r), Err(SimRequestError::BadRequest(_))),
            "{body}"
        );
    }
    let req = HttpRequest::post(TRACK_PATH, good.body.clone())
        .header("Content-Type", SOAP_CONTENT_TYPE)
        .header("SOAPAction", format!("\"{TRACK_ACTION}\""));
    assert!(Purolator.sim_route(&req).is_ok());
}

#[test]
fn malformed_bodies_are_typed() {
    let valid = HttpResponse::new(200, SOAP_CONTENT_TYPE, DOCUMENTED.trim_end());
    testkit::assert_malformed_is_typed(&Purolator, &["M123"], &valid);
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::Delivered,
    ]);
    let rendered = Purolator.sim_render_track(&[SimReply::Known(&parcel)]);
    testkit::assert_malformed_is_typed(&Purolator, &[&parcel.tracking_number], &rendered);
}

fn at(day: u32, hour: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(-5 * 3600)
        .unwrap()
        .with_ymd_and_hms(2024, 3, day, hour, 15, 42)
        .unwrap()
}

fn parcel_with(steps: &[JourneyStep]) -> SimParcel {
    let place = Address {
        city: Some("TORONTO".into()),
        region: Some("ON".into()),
        postal_code: Some("M5V2T6".into()),
        country: Some("CA".into()),
    };
    SimParcel {
        tracking_number: Purolator.sim_mint_number(1234),
        service: "PurolatorExpress".into(),
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
        eta: Some((at(20, 9), at(20, 17))),
        eta_change_reason: None,
        signed_by: Some("R GREGOIRE".into()),
    }
}

#[test]
fn every_journey_step_renders_a_scan_that_parses_back() {
    for (step, want) in testkit::every_step_status() {
        let (scan_type, description) = codes::step_scan(step);
        let rule = codes::lookup(scan_type, description)
            .unwrap_or_else(|| panic!("{scan_type} not in the table"));
        assert_eq!(rule.status, want, "{step:?}: {scan_type} / {description}");

        let parcel = parcel_with(&[JourneyStep::LabelCreated, step]);
        let resp = Purolator.sim_render_track(&[SimReply::Known(&parcel)]);
        let snap = Purolator
            .parse_track(&[&parcel.tracking_number], &resp)
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(snap.status, want, "{step:?}");
        assert_eq!(snap.checkpoints.last().map(|c| c.status), Some(want));
        assert_eq!(snap.carrier_status_code.as_deref(), Some(scan_type));
        // Local wall-clock time, no invented zone.
        let t = snap.checkpoints.last().unwrap().occurred_at;
        assert_eq!(t.to_wire(), "2024-03-02T09:15:42");
        assert!(!t.offset_known());
    }
}

#[test]
fn delivered_parcel_carries_signature_eta_and_depot() {
    let parcel = parcel_with(&[
        JourneyStep::LabelCreated,
        JourneyStep::PickedUp,
        JourneyStep::OutForDelivery,
        JourneyStep::Delivered,
    ]);
    let resp = Purolator.sim_render_track(&[SimReply::Known(&parcel)]);
    let body = String::from_utf8(resp.body.clone()).unwrap();
    assert!(body.starts_with("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"));
    assert!(body.contains("<Scan i:type=\"DeliveryScan\"><ScanType>Delivery</ScanType>"));
    assert!(body.contains("<DeliverySignature>R GREGOIRE</DeliverySignature>"));
    assert!(body.contains("<CommitedDeliveryDate>2024-03-20</CommitedDeliveryDate>"));
    assert!(body.contains("<Depot><Name>TORONTO, ON</Name></Depot>"));
    assert!(body.contains("<ScanTime>091542</ScanTime>"));
    // Newest first, as Purolator lists them.
    assert!(body.find("<ScanType>Delivery<").unwrap() < body.find("<ScanType>Other<").unwrap());
    let snap = Purolator
        .parse_track(&[&parcel.tracking_number], &resp)
        .unwrap()
        .remove(0)
        .outcome
        .unwrap();
    assert_eq!(snap.signed_by.as_deref(), Some("R GREGOIRE"));
    assert_eq!(
        snap.delivered_at.map(|t| t.to_wire()).as_deref(),
        Some("2024-03-04T09:15:42")
    );
    assert_eq!(
        snap.estimated_delivery
            .map(|e| e.end().local().date().to_string())
            .as_deref(),
        Some("2024-03-20")
    );
    let loc = snap.checkpoints[0].location.clone().unwrap();
    assert_eq!(loc.city.as_deref(), Some("TORONTO"));
    assert_eq!(loc.country.as_deref(), Some("CA"));
}

#[test]
fn faults_render_as_soap_and_parse_to_their_kind() {
    let n = Purolator.sim_mint_number(3);
    let parse = |f: SimFault| Purolator.parse_track(&[&n], &Purolator.sim_render_fault(&f));
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
            message: "Invalid PIN".into()
        }),
        Err(CarrierError::Rejected {
            code: "s:Client".into(),
            message: "Invalid PIN".into()
        })
    );
    let r = Purolator.sim_render_fault(&SimFault::Unauthorized);
    assert_eq!(r.status, 401);
    assert!(
        r.header_value("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("<s:Fault><faultcode>s:Client</faultcode>"));
    assert_eq!(
        Purolator.sim_render_fault(&SimFault::ServerError).status,
        500
    );
}

#[test]
fn detection_on_tracking_number_data_test_numbers() {
    // tracking_number_data couriers/purolator.json test_numbers.
    for n in [
        "320595463938",
        "320606146993",
        "287809468872",
        "320610804900",
        "331426749957",
        "331434972567",
    ] {
        assert_eq!(Purolator.detect(n), Detection::Checksum, "{n}");
    }
    for n in ["320595463939", "287809468875", "KY009956937"] {
        assert_eq!(Purolator.detect(n), Detection::No, "{n}");
    }
    for n in [
        "KYV009956937",
        "CGK002986959",
        "JFV247545960",
        "TLR000083964",
    ] {
        assert_eq!(Purolator.detect(n), Detection::Pattern, "{n}");
    }
    // 12 digits must start 0–5.
    let body = "72059546393";
    let check = trackd_carrier_purolator::luhn_check(body.as_bytes());
    assert_eq!(Purolator.detect(&format!("{body}{check}")), Detection::No);
    for n in [
        "",
        "1Z5R89390357567127",
        "3205954639380",
        "ABCD12345678",
        "kyv009956937",
    ] {
        assert_eq!(Purolator.detect(n), Detection::No, "{n}");
    }
}

#[test]
fn descriptor_is_purolator() {
    let d = Purolator.descriptor();
    assert_eq!(d.slug, "purolator");
    assert_eq!(d.name, "Purolator");
    assert_eq!(d.auth, AuthKind::Basic);
    assert_eq!(d.batch_size, BATCH_SIZE);
    assert_eq!(d.default_base_url, "https://webservices.purolator.com");
    assert_eq!(d.format, "xml");
    assert_eq!(d.quota.per_second, 1);
}

#[test]
fn every_table_row_parses_to_its_status() {
    for rule in codes::RULES {
        let description = rule
            .any_of
            .first()
            .copied()
            .unwrap_or("Something undocumented");
        let body = DOCUMENTED
            .replacen(
                "<ScanType>Other</ScanType>",
                &format!("<ScanType>{}</ScanType>", rule.scan_type),
                1,
            )
            .replacen("New Tracking Number Assigned -", description, 1);
        let snap = Purolator
            .parse_track(&["M123"], &HttpResponse::new(200, SOAP_CONTENT_TYPE, body))
            .unwrap()
            .remove(0)
            .outcome
            .unwrap();
        let cp = snap.checkpoints.last().unwrap();
        assert_eq!(cp.status, rule.status, "{rule:?}");
        assert_eq!(cp.status_detail.as_deref(), rule.detail, "{rule:?}");
        assert_eq!(cp.code, rule.scan_type);
    }
    let _ = Status::ALL;
}

/// The SDK's whole conformance suite, in one line.
#[test]
fn sdk_conformance_suite() {
    trackd_carrier_sdk::testkit::conformance(&Purolator, FIDELITY);
}
