//! Shared fixtures for the benchmarks: simulator-built UPS journeys (the same
//! renderer the simulator serves), a store in a temporary directory, and
//! criterion settings short enough for `cargo bench` on a 2-core machine.
#![allow(dead_code)] // each bench uses a different subset

use chrono::{DateTime, Duration, FixedOffset};
use criterion::Criterion;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trackd::events::StoredEvent;
use trackd::store::{EventSink, Store};
use trackd_carrier_sdk::{
    Address, Carrier, HttpResponse, JourneyStep, SimEvent, SimParcel, SimReply,
};
use trackd_carrier_ups::Ups;

/// Criterion settings: ~20 samples, a few seconds each, so the whole suite stays
/// well under ten minutes on two cores.
pub fn quick() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args()
}

/// Scans in the simulator-rendered UPS answer of ~2.4 KB (2,424 bytes).
pub const SIM_EVENTS_2_4KB: usize = 7;

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("valid RFC 3339 literal")
}

fn place(city: &str, region: &str, postal: &str) -> Address {
    Address {
        city: Some(city.into()),
        region: Some(region.into()),
        postal_code: Some(postal.into()),
        country: Some("US".into()),
    }
}

/// A realistic cross-country UPS Ground journey: label, pickup, then hub scans;
/// `len` events are visible (the journey is extended with more hub scans if
/// `len` exceeds the itinerary). No delivery, so the ETA window is rendered.
pub fn ups_parcel(len: usize, eta_shift_days: i64) -> SimParcel {
    let itinerary: [(JourneyStep, &str, (&str, &str, &str)); 12] = [
        (
            JourneyStep::LabelCreated,
            "2026-03-02T09:12:00-05:00",
            ("ATLANTA", "GA", "30301"),
        ),
        (
            JourneyStep::PickedUp,
            "2026-03-02T17:40:00-05:00",
            ("ATLANTA", "GA", "30301"),
        ),
        (
            JourneyStep::ArrivedAtFacility,
            "2026-03-02T21:05:00-05:00",
            ("ATLANTA", "GA", "30336"),
        ),
        (
            JourneyStep::DepartedFacility,
            "2026-03-03T02:30:00-05:00",
            ("ATLANTA", "GA", "30336"),
        ),
        (
            JourneyStep::ArrivedAtFacility,
            "2026-03-03T19:45:00-06:00",
            ("MEMPHIS", "TN", "38118"),
        ),
        (
            JourneyStep::DepartedFacility,
            "2026-03-04T01:10:00-06:00",
            ("MEMPHIS", "TN", "38118"),
        ),
        (
            JourneyStep::ArrivedAtFacility,
            "2026-03-04T22:20:00-06:00",
            ("DALLAS", "TX", "75261"),
        ),
        (
            JourneyStep::WeatherDelay,
            "2026-03-05T06:00:00-06:00",
            ("DALLAS", "TX", "75261"),
        ),
        (
            JourneyStep::DepartedFacility,
            "2026-03-05T14:35:00-06:00",
            ("DALLAS", "TX", "75261"),
        ),
        (
            JourneyStep::ArrivedAtFacility,
            "2026-03-06T11:50:00-07:00",
            ("PHOENIX", "AZ", "85043"),
        ),
        (
            JourneyStep::DepartedFacility,
            "2026-03-06T20:15:00-07:00",
            ("PHOENIX", "AZ", "85043"),
        ),
        (
            JourneyStep::ArrivedAtFacility,
            "2026-03-07T07:25:00-08:00",
            ("ONTARIO", "CA", "91761"),
        ),
    ];
    let mut events: Vec<SimEvent> = itinerary
        .iter()
        .map(|(step, t, (c, r, z))| SimEvent {
            at: at(t),
            step: *step,
            place: place(c, r, z),
        })
        .collect();
    while events.len() < len {
        let last = events.last().cloned().expect("itinerary is not empty");
        let step = if last.step == JourneyStep::ArrivedAtFacility {
            JourneyStep::DepartedFacility
        } else {
            JourneyStep::ArrivedAtFacility
        };
        events.push(SimEvent {
            at: last.at + Duration::hours(7),
            step,
            place: last.place,
        });
    }
    events.truncate(len);
    let eta_start = at("2026-03-09T09:00:00-08:00") + Duration::days(eta_shift_days);
    SimParcel {
        tracking_number: Ups.sim_mint_number(4_242),
        service: "UPS Ground".into(),
        origin: place("ATLANTA", "GA", "30301"),
        destination: place("LOS ANGELES", "CA", "90012"),
        events,
        eta: Some((eta_start, eta_start + Duration::hours(4))),
        eta_change_reason: (eta_shift_days != 0).then(|| "Weather delay".to_string()),
        signed_by: None,
    }
}

/// The UPS Track API v1 answer the simulator would serve for `parcel`.
pub fn ups_answer(parcel: &SimParcel) -> HttpResponse {
    Ups.sim_render_track(&[SimReply::Known(parcel)])
}

/// An event sink that only counts what the store publishes.
#[derive(Default)]
pub struct CountingSink {
    pub events: AtomicU64,
    pub commits: AtomicU64,
}

impl EventSink for CountingSink {
    fn publish(&self, events: Vec<StoredEvent>) {
        self.events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
    }
    fn observe_commit(&self, _seconds: f64, _units: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}

/// A real store in a fresh temporary directory (kept alive by the returned
/// guard), with the default durability (every commit fsync'd).
pub fn temp_store(sink: Arc<dyn EventSink>) -> (Store, tempfile::TempDir) {
    temp_store_with(sink, trackd::store::Synchronous::Full)
}

/// [`temp_store`] with a chosen `storage.synchronous` mode.
pub fn temp_store_with(
    sink: Arc<dyn EventSink>,
    mode: trackd::store::Synchronous,
) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store =
        Store::new(trackd::store::SqliteStore::open(dir.path(), mode, sink).expect("store opens"));
    (store, dir)
}

/// On-CPU nanoseconds of this process's live threads, from
/// `/proc/self/task/*/schedstat`: (all threads, threads named `excluded`).
/// (0, 0) where the kernel does not expose it.
pub fn cpu_ns(excluded: &str) -> (u64, u64) {
    let (mut all, mut named) = (0, 0);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for t in dir.flatten() {
        let p = t.path();
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        all += ns;
        if comm.trim() == excluded {
            named += ns;
        }
    }
    (all, named)
}
