//! Commit cost by `storage.synchronous` mode (issue: streamed means durable).
//!
//! `cargo bench --bench store`
//!
//! A real SQLite store in a tempdir on the machine's disk. Each unit is what a
//! changed poll commits: a 7-scan UPS snapshot and one `checkpoint.added` event.
//!
//! - `*/serial`: one unit per transaction, each awaited before the next (what
//!   one lone poll waits for): the per-commit latency, fsync included in `full`.
//! - `*/group256`: 256 units queued at once, then awaited: the writer groups
//!   them into few transactions (group commit), so the fsync is shared; the
//!   figure is per unit.

#[path = "common/mod.rs"]
mod common;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use tokio::runtime::Runtime;
use trackd::events::{EventDraft, EventType, Subject, fact};
use trackd::store::{CommitUnit, NewTracker, Store, Synchronous};
use trackd::trackers::TrackerState;
use trackd_carrier_sdk::{Carrier, Snapshot};
use trackd_carrier_ups::Ups;

const GROUP: usize = 256;

struct Bench {
    store: Store,
    _dir: tempfile::TempDir,
    subjects: Vec<Subject>,
    snapshot: Arc<Snapshot>,
    serial: u64,
}

impl Bench {
    fn new(rt: &Runtime, mode: Synchronous) -> Bench {
        let sink = Arc::new(common::CountingSink::default());
        let (store, dir) = common::temp_store_with(sink, mode);
        let answer = common::ups_answer(&common::ups_parcel(common::SIM_EVENTS_2_4KB, 0));
        let snapshot = Ups
            .parse_track(&[], &answer)
            .expect("parses")
            .remove(0)
            .outcome
            .expect("a snapshot");
        let trackers = (0..GROUP)
            .map(|i| NewTracker {
                carrier: "ups".into(),
                tracking_number: format!("1ZSTORE{i:011}"),
                reference: None,
                labels: Vec::new(),
                promised_by: None,
                direction: Default::default(),
                return_for: None,
            })
            .collect();
        let subjects = rt.block_on(async {
            store
                .register(trackers, Utc::now())
                .await
                .expect("register")
                .into_iter()
                .map(|r| trackd::daemon::Core::entry_for(&r.row).subject)
                .collect()
        });
        Bench {
            store,
            _dir: dir,
            subjects,
            snapshot: Arc::new(snapshot),
            serial: 0,
        }
    }

    /// A changed poll's unit with a never-seen event fact, so it is stored.
    fn unit(&mut self, i: usize) -> CommitUnit {
        self.serial += 1;
        let now = Utc::now();
        CommitUnit {
            subject: self.subjects[i % self.subjects.len()].clone(),
            snapshot: Some(self.snapshot.clone()),
            status: self.snapshot.status,
            state: TrackerState::Active,
            error_kind: None,
            eta_deadline: None,
            last_change_at: now.timestamp(),
            events: vec![EventDraft {
                kind: EventType::CheckpointAdded,
                occurred_at: trackd_carrier_sdk::Timestamp::Zoned(now.fixed_offset()),
                fact: fact(&["bench", &self.serial.to_string()]),
                data: serde_json::json!({ "n": self.serial }),
            }],
            emitted_at: now,
            fence: None,
        }
    }
}

fn commits(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    for (name, mode) in [("normal", Synchronous::Normal), ("full", Synchronous::Full)] {
        let mut b = Bench::new(&rt, mode);
        let mut g = c.benchmark_group(format!("store_commit/{name}"));
        g.bench_function("serial", |bench| {
            bench.iter(|| {
                let unit = b.unit(0);
                rt.block_on(b.store.commit(unit)).expect("commit")
            })
        });
        g.throughput(criterion::Throughput::Elements(GROUP as u64));
        g.bench_function("group256", |bench| {
            bench.iter(|| {
                for i in 0..GROUP {
                    let unit = b.unit(i);
                    b.store.commit_detached(unit).expect("queue");
                }
                rt.block_on(b.store.flush()).expect("flush")
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = commits
}
criterion_main!(benches);
