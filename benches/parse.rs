//! Target 2: every carrier's parsing vs the cost of merely reading the same bytes.
//!
//! `cargo bench --bench parse -- --warm-up-time 1 --measurement-time 3 [filter]`
//!
//! Every one of the eleven built-in carriers is measured on realistic payloads:
//! documented or captured fixtures from its own tests (as stored) and a
//! simulator-rendered answer of a long delivered journey (`sim_long_journey`:
//! label, pickup, 10 hub scans, a delay, out for delivery, delivered = 14 events,
//! rendered by the carrier's own `sim_render_track`, exactly what the simulator
//! serves). Each `parse_track` is compared with a floor measured in the same run
//! on the same bytes:
//!
//! - JSON carriers: `serde_json::from_slice::<Value>` (a generic parse that
//!   builds nothing normalized). UPS also shows `IgnoredAny` (validation only,
//!   the lower bound of any serde_json parse).
//! - XML / SOAP carriers (canadapost, purolator, dpd): a quick-xml event scan
//!   (`Reader::read_event` over every event, nothing decoded). Canada Post also
//!   keeps its XML stage alone and a byte scan that only finds every `<…>` tag.
//!
//! The UPS simulator answers (7 and 10 scans, in transit) are kept as before.

#[path = "common/mod.rs"]
mod common;

use chrono::{DateTime, Duration, FixedOffset};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use criterion::measurement::WallTime;
use std::hint::black_box;
use trackd_carrier_australiapost::AustraliaPost;
use trackd_carrier_canadapost::{CanadaPost, TRACK_MEDIA_TYPE};
use trackd_carrier_dhl::Dhl;
use trackd_carrier_dpd::Dpd;
use trackd_carrier_fedex::Fedex;
use trackd_carrier_gls::Gls;
use trackd_carrier_postnl::PostNl;
use trackd_carrier_purolator::{Purolator, SOAP_CONTENT_TYPE};
use trackd_carrier_royalmail::RoyalMail;
use trackd_carrier_sdk::{
    Address, Carrier, HttpResponse, JourneyStep, SimEvent, SimParcel, SimReply,
};
use trackd_carrier_ups::Ups;
use trackd_carrier_usps::Usps;

macro_rules! fixture {
    ($carrier:literal, $file:literal) => {
        include_bytes!(concat!("../carriers/", $carrier, "/fixtures/", $file))
    };
}

/// Every tag located, nothing decoded: what any XML reader must at least do.
fn xml_tag_scan(body: &[u8]) -> (usize, usize) {
    let (mut tags, mut text, mut i) = (0, 0, 0);
    while let Some(lt) = body[i..].iter().position(|&b| b == b'<') {
        text += lt;
        let start = i + lt;
        match body[start..].iter().position(|&b| b == b'>') {
            Some(gt) => {
                tags += 1;
                i = start + gt + 1;
            }
            None => break,
        }
    }
    (tags, text)
}

/// The XML floor: quick-xml reads every event and does nothing with it.
fn quick_xml_scan(body: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Floor {
    Json,
    Xml,
}

struct Case {
    name: String,
    numbers: Vec<String>,
    resp: HttpResponse,
}

fn case(name: &str, numbers: &[&str], resp: HttpResponse) -> Case {
    Case {
        name: format!("{name}_{:.1}KB", resp.body.len() as f64 / 1000.0),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
        resp,
    }
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("valid RFC 3339 literal")
}

/// A long delivered journey through `stops` (city, region, postal code) in
/// `country`, all times at `offset`: label, pickup, arrived/departed at each
/// stop, a weather delay, out for delivery, delivered and signed for.
fn sim_long_journey(
    carrier: &dyn Carrier,
    service: &str,
    country: &str,
    offset: &str,
    stops: [(&str, &str, &str); 5],
) -> SimParcel {
    let place = |(city, region, postal): (&str, &str, &str)| Address {
        city: Some(city.into()),
        region: Some(region.into()),
        postal_code: Some(postal.into()),
        country: Some(country.into()),
    };
    let start = at(&format!("2026-03-02T09:12:00{offset}"));
    let mut steps = vec![
        (JourneyStep::LabelCreated, stops[0]),
        (JourneyStep::PickedUp, stops[0]),
    ];
    for stop in stops {
        steps.push((JourneyStep::ArrivedAtFacility, stop));
        steps.push((JourneyStep::DepartedFacility, stop));
    }
    steps.insert(6, (JourneyStep::WeatherDelay, stops[2]));
    steps.push((JourneyStep::OutForDelivery, stops[4]));
    steps.push((JourneyStep::Delivered, stops[4]));
    let events: Vec<SimEvent> = steps
        .into_iter()
        .enumerate()
        .map(|(i, (step, stop))| SimEvent {
            at: start + Duration::minutes(397 * i as i64),
            step,
            place: place(stop),
        })
        .collect();
    SimParcel {
        tracking_number: carrier.sim_mint_number(4_242),
        service: service.into(),
        origin: place(stops[0]),
        destination: place(stops[4]),
        events,
        eta: None,
        eta_change_reason: None,
        signed_by: Some("J SMITH".into()),
    }
}

fn sim_case(carrier: &dyn Carrier, parcel: &SimParcel) -> Case {
    let resp = carrier.sim_render_track(&[SimReply::Known(parcel)]);
    case(
        &format!("sim_{}_events_delivered", parcel.events.len()),
        &[parcel.tracking_number.as_str()],
        resp,
    )
}

/// Benches `parse_track` and the floor for every case, after checking that the
/// plugin really produces snapshots from the payload.
fn run(
    g: &mut BenchmarkGroup<'_, WallTime>,
    slug: &str,
    carrier: &dyn Carrier,
    floor: Floor,
    cases: &[Case],
) {
    for Case {
        name,
        numbers,
        resp,
    } in cases
    {
        let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let rs = carrier
            .parse_track(&numbers, resp)
            .unwrap_or_else(|e| panic!("{slug}/{name}: {e}"));
        let snaps: Vec<_> = rs.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
        assert!(!snaps.is_empty(), "{slug}/{name}: no snapshot");
        let floor_info = match floor {
            Floor::Json => {
                serde_json::from_slice::<serde_json::Value>(&resp.body).expect("valid JSON");
                String::new()
            }
            Floor::Xml => format!(
                ", {} xml events, {} tags",
                quick_xml_scan(&resp.body),
                xml_tag_scan(&resp.body).0
            ),
        };
        eprintln!(
            "parse/{slug}/{name}: {} bytes, {} results ({} snapshots), {} checkpoints, status {}{floor_info}",
            resp.body.len(),
            rs.len(),
            snaps.len(),
            snaps.iter().map(|s| s.checkpoints.len()).sum::<usize>(),
            snaps
                .iter()
                .map(|s| s.status.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        g.throughput(Throughput::Bytes(resp.body.len() as u64));
        g.bench_function(format!("{name}/parse_track"), |b| {
            b.iter(|| carrier.parse_track(black_box(&numbers), black_box(resp)))
        });
        match floor {
            Floor::Json => g.bench_function(format!("{name}/floor_serde_value"), |b| {
                b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&resp.body)))
            }),
            Floor::Xml => g.bench_function(format!("{name}/floor_quick_xml_events"), |b| {
                b.iter(|| quick_xml_scan(black_box(&resp.body)))
            }),
        };
    }
}

fn json(status: u16, body: &'static [u8]) -> HttpResponse {
    HttpResponse::new(status, "application/json", body)
}

fn ups(c: &mut Criterion) {
    let sim = |events: usize| {
        let parcel = common::ups_parcel(events, 0);
        (parcel.tracking_number.clone(), common::ups_answer(&parcel))
    };
    let (sim7_number, sim7) = sim(common::SIM_EVENTS_2_4KB);
    let (sim10_number, sim10) = sim(10);
    let cases = [
        case("sim_7_scans", &[&sim7_number], sim7),
        case("sim_10_scans", &[&sim10_number], sim10),
        case(
            "fixture_karrio_delivered",
            &["1Z1442YY7229014688"],
            json(200, fixture!("ups", "track_v1_details_delivered.karrio.json")),
        ),
        case(
            "fixture_synth_in_transit",
            &["1Z5R89390357567127"],
            json(200, fixture!("ups", "track_v1_in_transit_gmt.synth.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/ups");
    run(&mut g, "ups", &Ups, Floor::Json, &cases);
    // Lower bound of any serde_json parse: validate the JSON, build nothing.
    for Case { name, resp, .. } in &cases {
        g.throughput(Throughput::Bytes(resp.body.len() as u64));
        g.bench_function(format!("{name}/floor_serde_ignored_any"), |b| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&resp.body)))
        });
    }
    g.finish();
}

fn canadapost(c: &mut Criterion) {
    let xml = |body: &'static [u8]| HttpResponse::new(200, TRACK_MEDIA_TYPE, body);
    let parcel = sim_long_journey(
        &CanadaPost,
        "Expedited Parcel",
        "CA",
        "-05:00",
        [
            ("TORONTO", "ON", "M5V 3L9"),
            ("MISSISSAUGA", "ON", "L5T 2T3"),
            ("WINNIPEG", "MB", "R3C 4T3"),
            ("CALGARY", "AB", "T2E 7H7"),
            ("VANCOUVER", "BC", "V6B 3P7"),
        ],
    );
    let cases = [
        sim_case(&CanadaPost, &parcel),
        case(
            "documented_delivered",
            &["1371134583769923"],
            xml(fixture!("canadapost", "documented_example_delivered.xml")),
        ),
        case(
            "captured_notice_card",
            &["8193030646706337"],
            xml(fixture!("canadapost", "captured_notice_card_pickup.xml")),
        ),
    ];
    let mut g = c.benchmark_group("parse/canadapost");
    run(&mut g, "canadapost", &CanadaPost, Floor::Xml, &cases);
    for Case { name, resp, .. } in &cases {
        g.throughput(Throughput::Bytes(resp.body.len() as u64));
        g.bench_function(format!("{name}/xml_stage_only"), |b| {
            b.iter(|| trackd_carrier_canadapost::parse::parse(black_box(&resp.body)).is_ok())
        });
        g.bench_function(format!("{name}/floor_tag_scan"), |b| {
            b.iter(|| xml_tag_scan(black_box(&resp.body)))
        });
    }
    g.finish();
}

const US_STOPS: [(&str, &str, &str); 5] = [
    ("ATLANTA", "GA", "30301"),
    ("MEMPHIS", "TN", "38118"),
    ("DALLAS", "TX", "75261"),
    ("PHOENIX", "AZ", "85043"),
    ("LOS ANGELES", "CA", "90012"),
];

fn fedex(c: &mut Criterion) {
    let parcel = sim_long_journey(&Fedex, "FedEx Ground", "US", "-05:00", US_STOPS);
    let cases = [
        sim_case(&Fedex, &parcel),
        case(
            "fixture_portal_full_schema",
            &["123456789012", "39936862321"],
            json(200, fixture!("fedex", "trackingnumbers_resp200_full_schema_portal.karrio.json")),
        ),
        case(
            "fixture_batch_mixed",
            &[
                "799531274483",
                "790535312317",
                "568283610012000",
                "974367662710",
                "986578788855",
            ],
            json(200, fixture!("fedex", "track_batch_mixed.synth.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/fedex");
    run(&mut g, "fedex", &Fedex, Floor::Json, &cases);
    g.finish();
}

fn usps(c: &mut Criterion) {
    let parcel = sim_long_journey(&Usps, "Priority Mail", "US", "-05:00", US_STOPS);
    let cases = [
        sim_case(&Usps, &parcel),
        case(
            "fixture_realistic_delivered",
            &[],
            json(200, fixture!("usps", "tracking_v3_detail_delivered_realistic.karrio.json")),
        ),
        case(
            "fixture_207_multistatus",
            &["9202290317456200135409", "9400111206206406260787", "12"],
            HttpResponse::new(
                207,
                "application/json",
                fixture!("usps", "tracking_v3r2_207_multistatus.synth.json"),
            ),
        ),
    ];
    let mut g = c.benchmark_group("parse/usps");
    run(&mut g, "usps", &Usps, Floor::Json, &cases);
    g.finish();
}

fn dhl(c: &mut Criterion) {
    let parcel = sim_long_journey(
        &Dhl,
        "express",
        "DE",
        "+01:00",
        [
            ("BONN", "NW", "53113"),
            ("KOELN", "NW", "50667"),
            ("LEIPZIG", "SN", "04435"),
            ("BERLIN", "BE", "10115"),
            ("HAMBURG", "HH", "20095"),
        ],
    );
    let cases = [
        sim_case(&Dhl, &parcel),
        case(
            "fixture_portal",
            &["7777777770"],
            json(200, fixture!("dhl", "shipments_resp200_portal.karrio.json")),
        ),
        case(
            "fixture_parcel_de_delivered",
            &["00340434161094042557"],
            json(200, fixture!("dhl", "parcel_de_delivered_offset.synth.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/dhl");
    run(&mut g, "dhl", &Dhl, Floor::Json, &cases);
    g.finish();
}

fn purolator(c: &mut Criterion) {
    let soap = |body: &'static [u8]| HttpResponse::new(200, SOAP_CONTENT_TYPE, body);
    let parcel = sim_long_journey(
        &Purolator,
        "Purolator Ground",
        "CA",
        "-05:00",
        [
            ("TORONTO", "ON", "M5V 3L9"),
            ("CONCORD", "ON", "L4K 4T1"),
            ("WINNIPEG", "MB", "R3C 4T3"),
            ("CALGARY", "AB", "T2E 7H7"),
            ("VANCOUVER", "BC", "V6B 3P7"),
        ],
    );
    let cases = [
        sim_case(&Purolator, &parcel),
        case(
            "fixture_batch_mixed",
            &["320595463938", "320606146993", "KYV009956937", "287809468872"],
            soap(fixture!("purolator", "written_batch_mixed.xml")),
        ),
        case(
            "fixture_derived_delivered",
            &["333343150996"],
            soap(fixture!("purolator", "derived_delivered_333343150996.xml")),
        ),
    ];
    let mut g = c.benchmark_group("parse/purolator");
    run(&mut g, "purolator", &Purolator, Floor::Xml, &cases);
    g.finish();
}

fn dpd(c: &mut Criterion) {
    let soap = |body: &'static [u8]| HttpResponse::new(200, trackd_carrier_dpd::CONTENT_TYPE, body);
    let parcel = sim_long_journey(
        &Dpd,
        "DPD CLASSIC",
        "DE",
        "+01:00",
        [
            ("ASCHAFFENBURG", "BY", "63741"),
            ("FRANKFURT", "HE", "60549"),
            ("KASSEL", "HE", "34123"),
            ("HANNOVER", "NI", "30159"),
            ("HAMBURG", "HH", "20095"),
        ],
    );
    let cases = [
        sim_case(&Dpd, &parcel),
        case(
            "captured_be_returning",
            &["05308801410058"],
            soap(fixture!("dpd", "captured_be_returning_from_delivery.xml")),
        ),
        case(
            "written_plc_milestones",
            &["05308801410058"],
            soap(fixture!("dpd", "written_plc_milestones_scans.xml")),
        ),
    ];
    let mut g = c.benchmark_group("parse/dpd");
    run(&mut g, "dpd", &Dpd, Floor::Xml, &cases);
    g.finish();
}

fn royalmail(c: &mut Criterion) {
    let parcel = sim_long_journey(
        &RoyalMail,
        "Royal Mail Tracked 24",
        "GB",
        "+00:00",
        [
            ("LONDON", "", "EC1A 1BB"),
            ("HEATHROW", "", "TW6 2GA"),
            ("BIRMINGHAM", "", "B1 1AA"),
            ("MANCHESTER", "", "M1 1AA"),
            ("GLASGOW", "", "G1 1AA"),
        ],
    );
    let cases = [
        sim_case(&RoyalMail, &parcel),
        case(
            "fixture_karrio_in_transit",
            &["FQ087430672GB"],
            json(200, fixture!("royalmail", "events_in_transit_missort.karrio.json")),
        ),
        case(
            "fixture_delivered_signed",
            &["RB123456785GB"],
            json(200, fixture!("royalmail", "events_delivered_signed.derived.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/royalmail");
    run(&mut g, "royalmail", &RoyalMail, Floor::Json, &cases);
    g.finish();
}

fn postnl(c: &mut Criterion) {
    let parcel = sim_long_journey(
        &PostNl,
        "Standard shipment",
        "NL",
        "+01:00",
        [
            ("AMSTERDAM", "", "1012AB"),
            ("UTRECHT", "", "3511AB"),
            ("NIEUWEGEIN", "", "3439LM"),
            ("EINDHOVEN", "", "5611AB"),
            ("MAASTRICHT", "", "6211AB"),
        ],
    );
    let cases = [
        sim_case(&PostNl, &parcel),
        case(
            "fixture_complete_delivered",
            &["3SABCD987516327"],
            json(200, fixture!("postnl", "completestatus3.firstred.json")),
        ),
        case(
            "fixture_complete_sandbox",
            &["3SDEVC123456789"],
            json(200, fixture!("postnl", "completestatus.firstred.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/postnl");
    run(&mut g, "postnl", &PostNl, Floor::Json, &cases);
    g.finish();
}

fn australiapost(c: &mut Criterion) {
    let parcel = sim_long_journey(
        &AustraliaPost,
        "Parcel Post",
        "AU",
        "+10:00",
        [
            ("MELBOURNE", "VIC", "3000"),
            ("SUNSHINE WEST", "VIC", "3020"),
            ("ALBURY", "NSW", "2640"),
            ("CHULLORA", "NSW", "2190"),
            ("SYDNEY", "NSW", "2000"),
        ],
    );
    let cases = [
        sim_case(&AustraliaPost, &parcel),
        case(
            "fixture_karrio_three_results",
            &["ET123456789AU", "LX123456789US", "00123456789000123400"],
            json(200, fixture!("australiapost", "track_three_results.karrio_test.json")),
        ),
        case(
            "fixture_karrio_schema",
            &[],
            json(200, fixture!("australiapost", "tracking_response.karrio.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/australiapost");
    run(&mut g, "australiapost", &AustraliaPost, Floor::Json, &cases);
    g.finish();
}

fn gls(c: &mut Criterion) {
    let parcel = sim_long_journey(
        &Gls,
        "PARCEL",
        "DE",
        "+01:00",
        [
            ("NEUENSTEIN", "BW", "74632"),
            ("KIRCHHEIM", "HE", "36275"),
            ("STAUFENBERG", "HE", "35460"),
            ("HAMBURG", "HH", "22113"),
            ("BERLIN", "BE", "10115"),
        ],
    );
    let cases = [
        sim_case(&Gls, &parcel),
        case(
            "fixture_spec_parcelshop",
            &["42249028960"],
            json(200, fixture!("gls", "spec_200_with_links_parcelshop.json")),
        ),
        case(
            "fixture_spec_two_parcels",
            &["93835330599", "93835330600"],
            json(200, fixture!("gls", "spec_200_reference_2_parcels.json")),
        ),
    ];
    let mut g = c.benchmark_group("parse/gls");
    run(&mut g, "gls", &Gls, Floor::Json, &cases);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = ups, canadapost, fedex, usps, dhl, purolator, dpd, royalmail, postnl, australiapost, gls
}
criterion_main!(benches);
