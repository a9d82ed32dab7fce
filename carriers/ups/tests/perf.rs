//! Parse-speed check (ignored by default; run in release):
//! `cargo test --release -p trackd-carrier-ups --test perf -- --ignored --nocapture`

use std::time::Instant;
use trackd_carrier_sdk::{Carrier, HttpResponse};
use trackd_carrier_ups::Ups;

fn minified(body: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    serde_json::to_vec(&v).unwrap()
}

#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let cases: [(&str, &[u8]); 2] = [
        (
            "1Z5R89390357567127",
            include_bytes!("../fixtures/track_v1_in_transit_gmt.synth.json"),
        ),
        (
            "1Z1442YY7229014688",
            include_bytes!("../fixtures/track_v1_details_delivered.karrio.json"),
        ),
    ];
    for (number, body) in cases {
        let resp = HttpResponse::new(200, "application/json", minified(body));
        let iters: u32 = std::env::var("UPS_PERF_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let start = Instant::now();
        for _ in 0..iters {
            let rs = Ups
                .parse_track(&[number], std::hint::black_box(&resp))
                .unwrap();
            std::hint::black_box(rs);
        }
        let per = start.elapsed() / iters;
        println!("{number}: {} bytes, {per:?} per parse", resp.body.len());
        if std::env::var_os("UPS_PERF_BASELINE").is_none() {
            continue;
        }
        let start = Instant::now();
        for _ in 0..iters {
            let v: serde::de::IgnoredAny =
                serde_json::from_slice(std::hint::black_box(&resp.body)).unwrap();
            std::hint::black_box(v);
        }
        println!("  baseline IgnoredAny: {:?}", start.elapsed() / iters);
    }
}
