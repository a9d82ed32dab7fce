//! Target 2: plugin parsing vs the cost of merely reading the same bytes.
//!
//! `cargo bench --bench parse`
//!
//! - UPS (JSON): `Ups::parse_track` vs the floor `serde_json::from_slice::<Value>`
//!   (and, as the lower bound of any serde_json parse, `IgnoredAny`, which only
//!   validates) on the same bytes: simulator-rendered in-transit answers (compact JSON, as
//!   the simulator serves it: 7 scans = 2.4 KB, 10 scans = 3.2 KB) and the two
//!   largest fixtures as stored (pretty-printed): UPS's own delivered sample
//!   (karrio, 2 activities) and the synthetic in-transit one (5 activities).
//! - Canada Post (XML): `CanadaPost::parse_track` and its XML stage alone
//!   (`parse::parse`, quick-xml → borrowed records) vs a floor that only finds
//!   every `<…>` tag. quick-xml is not a dependency of the root package, so the
//!   "quick-xml reads every event" floor cannot be linked here; the byte scan is
//!   a lower bound of any tokenizer, and the XML stage an upper bound of it.

#[path = "common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use trackd_carrier_canadapost::{CanadaPost, TRACK_MEDIA_TYPE};
use trackd_carrier_sdk::{Carrier, HttpResponse};
use trackd_carrier_ups::Ups;

const UPS_DELIVERED: &[u8] =
    include_bytes!("../carriers/ups/fixtures/track_v1_details_delivered.karrio.json");
const UPS_IN_TRANSIT: &[u8] =
    include_bytes!("../carriers/ups/fixtures/track_v1_in_transit_gmt.synth.json");
const CP_DOCUMENTED: &[u8] =
    include_bytes!("../carriers/canadapost/fixtures/documented_example_delivered.xml");
const CP_CAPTURED: &[u8] =
    include_bytes!("../carriers/canadapost/fixtures/captured_notice_card_pickup.xml");

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

fn ups(c: &mut Criterion) {
    let sim = |events: usize| {
        let parcel = common::ups_parcel(events, 0);
        (parcel.tracking_number.clone(), common::ups_answer(&parcel))
    };
    let (sim7_number, sim7) = sim(common::SIM_EVENTS_2_4KB);
    let (sim10_number, sim10) = sim(10);
    let cases: Vec<(&str, String, HttpResponse)> = vec![
        ("sim_2.4KB_7_scans", sim7_number, sim7),
        ("sim_3.2KB_10_scans", sim10_number, sim10),
        (
            "fixture_karrio_delivered_4.8KB",
            "1Z1442YY7229014688".into(),
            HttpResponse::new(200, "application/json", UPS_DELIVERED),
        ),
        (
            "fixture_synth_in_transit_4.5KB",
            "1Z5R89390357567127".into(),
            HttpResponse::new(200, "application/json", UPS_IN_TRANSIT),
        ),
    ];
    let mut g = c.benchmark_group("parse/ups");
    for (name, number, resp) in &cases {
        // Sanity: the plugin really produces a snapshot from this payload.
        let rs = Ups.parse_track(&[number.as_str()], resp).expect("parses");
        let snap = rs[0].outcome.as_ref().expect("a snapshot");
        eprintln!(
            "parse/ups/{name}: {} bytes, {} checkpoints, status {}",
            resp.body.len(),
            snap.checkpoints.len(),
            snap.status
        );
        g.throughput(Throughput::Bytes(resp.body.len() as u64));
        g.bench_function(format!("{name}/parse_track"), |b| {
            b.iter(|| Ups.parse_track(black_box(&[number.as_str()]), black_box(resp)))
        });
        g.bench_function(format!("{name}/floor_serde_value"), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&resp.body)))
        });
        // Lower bound of any serde_json parse: validate the JSON, build nothing.
        g.bench_function(format!("{name}/floor_serde_ignored_any"), |b| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&resp.body)))
        });
    }
    g.finish();
}

fn canadapost(c: &mut Criterion) {
    let cases = [
        (
            "documented_delivered_5.9KB",
            "1371134583769923",
            CP_DOCUMENTED,
        ),
        (
            "captured_notice_card_4.3KB",
            "8193030646706337",
            CP_CAPTURED,
        ),
    ];
    let mut g = c.benchmark_group("parse/canadapost");
    for (name, number, body) in cases {
        let resp = HttpResponse::new(200, TRACK_MEDIA_TYPE, body);
        let rs = CanadaPost.parse_track(&[number], &resp).expect("parses");
        let snap = rs[0].outcome.as_ref().expect("a snapshot");
        eprintln!(
            "parse/canadapost/{name}: {} bytes, {} checkpoints, status {}, {} tags",
            body.len(),
            snap.checkpoints.len(),
            snap.status,
            xml_tag_scan(body).0
        );
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("{name}/parse_track"), |b| {
            b.iter(|| CanadaPost.parse_track(black_box(&[number]), black_box(&resp)))
        });
        g.bench_function(format!("{name}/xml_stage_only"), |b| {
            b.iter(|| trackd_carrier_canadapost::parse::parse(black_box(body)).is_ok())
        });
        g.bench_function(format!("{name}/floor_tag_scan"), |b| {
            b.iter(|| xml_tag_scan(black_box(body)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = ups, canadapost
}
criterion_main!(benches);
