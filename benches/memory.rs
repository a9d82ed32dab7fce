//! Target: at most 1 KiB resident per registered parcel at 1 M parcels.
//!
//! `cargo bench --bench memory` (add `-- 2000000` for another count)
//!
//! Registers N parcels into what the daemon keeps in memory per tracker: the
//! registry entry exactly as `Core::entry_for` builds it from a stored row
//! (carrier, number and reference as shared strings, status, ETA deadline),
//! the (carrier, number) index for idempotent registration, and the
//! carrier's due-time queue entry. It reports the growth of the process's
//! resident set (`/proc/self/statm`) per parcel.
//!
//! Bounded by configuration and so not per parcel: the snapshot cache
//! (`cache.snapshot_capacity`, 100,000 by default) and SQLite's page cache.
//! Snapshots and events live in the SQLite file, not in memory.

use chrono::Utc;
use std::time::Duration;
use trackd::daemon::Core;
use trackd::scheduler::DueQueue;
use trackd::store::TrackerRow;
use trackd::trackers::{Registry, TrackerState};
use trackd_carrier_sdk::Status;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    // `cargo bench` passes `--bench`; the first numeric argument is the count.
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let carriers = ["ups", "fedex", "usps", "dhl", "canadapost"];
    let queues: Vec<DueQueue> = carriers.iter().map(|_| DueQueue::new()).collect();
    let registry = Registry::new();
    let now = tokio::time::Instant::now();
    let before = rss_bytes();
    for id in 1..=n {
        let c = (id % carriers.len() as u64) as usize;
        let row = TrackerRow {
            id,
            carrier: carriers[c].to_string(),
            // A realistic 22-character number and a 12-character order reference.
            tracking_number: format!("9400111899{id:012}"),
            reference: (id % 2 == 0).then(|| format!("order-{id:06}")),
            labels: Vec::new(),
            created_at: Utc::now(),
            state: TrackerState::Active,
            status: Status::InTransit,
            error_kind: None,
            eta_deadline: Some(1_800_000_000),
            last_change_at: 1_700_000_000,
            promised_by: None,
            direction: Default::default(),
            return_for: None,
        };
        registry.insert(Core::entry_for(&row));
        queues[c].schedule(id, now + Duration::from_millis(id % 3_600_000));
    }
    let after = rss_bytes();
    assert_eq!(registry.len() as u64, n);
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    println!(
        "memory/registered_parcels: {n} parcels, resident growth {:.1} MiB, {per:.0} bytes per parcel (target <= 1024)",
        (after - before) as f64 / (1024.0 * 1024.0)
    );
}
