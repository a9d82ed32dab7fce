//! Parse-speed check, ignored by default (timings mean nothing in debug builds):
//! `cargo test --release -p trackd-carrier-canadapost --test perf -- --ignored --nocapture --test-threads=1`

use std::hint::black_box;
use std::time::{Duration, Instant};
use trackd_carrier_canadapost::{CanadaPost, TRACK_MEDIA_TYPE, map, parse};
use trackd_carrier_sdk::{Carrier, HttpResponse};

const DOCUMENTED: &str = include_str!("../fixtures/documented_example_delivered.xml");
const CAPTURED: &str = include_str!("../fixtures/captured_notice_card_pickup.xml");
const ITERATIONS: u32 = 50_000;

fn per_iteration(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        f();
    }
    start.elapsed() / ITERATIONS
}

#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    for (name, number, body) in [
        (
            "documented example (10 events, indented)",
            "1371134583769923",
            DOCUMENTED,
        ),
        (
            "captured answer (9 events, compact)",
            "8193030646706337",
            CAPTURED,
        ),
    ] {
        let resp = HttpResponse::new(200, TRACK_MEDIA_TYPE, body);
        let whole = per_iteration(|| {
            black_box(CanadaPost.parse_track(&[number], black_box(&resp)).unwrap());
        });
        // The floor: quick-xml's tokenizer alone, doing nothing with the events.
        let tokenize = per_iteration(|| {
            let mut r = quick_xml::Reader::from_reader(black_box(body.as_bytes()));
            while !matches!(r.read_event(), Ok(quick_xml::events::Event::Eof) | Err(_)) {}
        });
        let xml = per_iteration(|| {
            black_box(parse::parse(black_box(body.as_bytes())).unwrap());
        });
        let Ok(parse::Document::Detail(detail)) = parse::parse(body.as_bytes()) else {
            panic!("not a tracking-detail")
        };
        let mapping = per_iteration(|| {
            black_box(map::snapshot(black_box(&detail)).unwrap());
        });
        println!(
            "{name}, {} bytes: parse_track {whole:?} = xml {xml:?} (tokenizer alone {tokenize:?}) + mapping {mapping:?}",
            body.len()
        );
    }
}
