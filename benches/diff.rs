//! Target 3 (CPU side): `trackd::diff::apply` on a 10-checkpoint snapshot.
//!
//! `cargo bench --bench diff`
//!
//! Snapshots come from parsing simulator-rendered UPS answers, so they hold what
//! a real poll holds (locations, codes, descriptions, an ETA window). Cases:
//! - `unchanged`: the same answer again (the common case; must emit nothing and
//!   report `changed == false`, so nothing is written);
//! - `new_checkpoint`: one more scan (11 vs 10 checkpoints, same status);
//! - `eta_slip`: same scans, ETA two days later (`eta.changed` + `eta.slipped`).
//!
//! The input snapshot is cloned outside the timed region (`iter_batched`),
//! since `apply` takes it by value exactly as the poller hands it over. As a
//! reference, `floor_snapshot_eq` is a plain `==` of the two snapshots.

#[path = "common/mod.rs"]
mod common;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use trackd::diff::{DiffPolicy, apply};
use trackd::events::EventType;
use trackd_carrier_sdk::{Carrier, Snapshot};
use trackd_carrier_ups::Ups;

const POLICY: DiffPolicy = DiffPolicy {
    eta_slip_tolerance_secs: 7200, // the config default (2 h)
};

fn parsed(len: usize, eta_shift_days: i64) -> Snapshot {
    let parcel = common::ups_parcel(len, eta_shift_days);
    let resp = common::ups_answer(&parcel);
    Ups.parse_track(&[parcel.tracking_number.as_str()], &resp)
        .expect("parses")
        .remove(0)
        .outcome
        .expect("a snapshot")
}

fn diff(c: &mut Criterion) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap();
    let t1 = t0 + chrono::Duration::minutes(30);
    // The stored state: the 10-scan answer already applied once.
    let prev = apply(&Snapshot::pending(), parsed(10, 0), t0, &POLICY).snapshot;
    assert_eq!(prev.checkpoints.len(), 10);

    let cases: [(&str, Snapshot, Vec<EventType>); 3] = [
        ("unchanged", parsed(10, 0), vec![]),
        (
            "new_checkpoint",
            parsed(11, 0),
            vec![EventType::CheckpointAdded],
        ),
        (
            "eta_slip",
            parsed(10, 2),
            vec![EventType::EtaChanged, EventType::EtaSlipped],
        ),
    ];
    let mut g = c.benchmark_group("diff/apply_10_checkpoints");
    for (name, next, want) in &cases {
        // Sanity: the case does what its name says.
        let a = apply(&prev, next.clone(), t1, &POLICY);
        let kinds: Vec<EventType> = a.events.iter().map(|e| e.kind).collect();
        assert_eq!(&kinds, want, "{name}");
        assert_eq!(a.changed, !want.is_empty(), "{name}");
        assert!(!a.stale, "{name}");

        g.bench_function(*name, |b| {
            b.iter_batched(
                || next.clone(),
                |n| apply(black_box(&prev), n, t1, &POLICY),
                BatchSize::SmallInput,
            )
        });
    }
    let same = cases[0].1.clone();
    g.bench_function("floor_snapshot_eq", |b| {
        b.iter(|| {
            black_box(&prev).checkpoints == black_box(&same).checkpoints
                && prev.status == same.status
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = diff
}
criterion_main!(benches);
