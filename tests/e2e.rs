//! End to end on loopback: simulator + daemon, hundreds of parcels over every
//! carrier; the stream must match the simulator's journeys exactly.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use trackd::trackers::TrackerState;
use trackd_carrier_sdk::{Carrier, SimReply, Timestamp};
use trackd_simulator::Scenario;

const PER_CARRIER: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_matches_simulated_journeys() {
    journeys_match(options()).await;
}

/// The e2e options; `TRACKD_E2E_TIME_SCALE` slows the simulated world down for
/// the `eta.at_risk` backtest figures (BENCHMARKS.md), which depend on how often
/// the daemon looks in simulated time.
fn options() -> Options {
    Options {
        time_scale: std::env::var("TRACKD_E2E_TIME_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SCALE),
        ..Options::default()
    }
}

/// The same journeys with PostgreSQL as the store: the event contract is the backend's, not SQLite's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_matches_simulated_journeys_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    journeys_match(Options {
        postgres_url: Some(db.url.clone()),
        ..options()
    })
    .await;
    db.drop_now().await;
}

async fn journeys_match(opts: Options) {
    let h = Harness::start(opts).await;
    let consumer = Consumer::connect(&h.url, None, "").await;

    let plugins = trackd::carriers::builtin();
    let mut body = Vec::new();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for p in &plugins {
        let slug = p.descriptor().slug;
        for (i, n) in h
            .sim
            .create_parcels(slug, PER_CARRIER)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            // Every other one relies on detection from the number.
            let carrier = if i % 2 == 0 { json!(slug) } else { Value::Null };
            body.push(json!({ "tracking_number": n, "carrier": carrier, "reference": format!("{slug}-{i}") }));
            known.push(n);
        }
        for k in 0..2 {
            let n = p.sim_mint_number(5_000_000 + k);
            body.push(json!({ "tracking_number": n, "carrier": slug }));
            unknown.push(n);
        }
    }
    let (status, resp) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(resp["created"], known.len() + unknown.len());
    let ids: HashMap<String, String> = resp["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tracking_number"].as_str().unwrap().to_string(),
                t["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    // Wait until every journey has ended in the simulated world and the daemon
    // has completed every known tracker.
    let core = h.daemon().core().clone();
    let last_event_time = known
        .iter()
        .map(|n| h.sim.journey(n).unwrap().events.last().unwrap().event.at)
        .max()
        .unwrap();
    wait_until_explained(
        Duration::from_secs(600),
        "all known trackers completed",
        || {
            let core = core.clone();
            let known = known.clone();
            let ids = ids.clone();
            let sim_now = h.sim.clock().now();
            async move {
                if sim_now <= last_event_time {
                    return Err("(the simulated journeys are still running)".into());
                }
                // What is not completed yet, by carrier, state and status, with one example each.
                let mut open: BTreeMap<String, (usize, String)> = BTreeMap::new();
                for n in &known {
                    let id = trackd::events::parse_tracker_id(&ids[n]).unwrap();
                    let entry = core.registry.get(id);
                    if entry
                        .as_ref()
                        .is_some_and(|e| e.state == TrackerState::Completed)
                    {
                        continue;
                    }
                    let key = match &entry {
                        Some(e) => format!("{}/{:?}/{:?}", e.subject.carrier, e.state, e.status),
                        None => "not in the registry".into(),
                    };
                    let slot = open.entry(key).or_insert((0, String::new()));
                    slot.0 += 1;
                    if slot.1.is_empty() {
                        slot.1 = format!("{n} in_flight={:?}", entry.map(|e| e.in_flight));
                    }
                }
                if open.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{open:?}"))
                }
            }
        },
    )
    .await;
    h.wait_consumer_caught_up(&consumer).await;
    let events = consumer.snapshot();

    // Cursor: strictly increasing, consecutive, no duplicates.
    let seen_ids: Vec<u64> = events.iter().filter_map(|e| e.id).collect();
    assert_eq!(
        seen_ids.len(),
        events.len(),
        "every streamed event has an id"
    );
    for (i, id) in seen_ids.iter().enumerate() {
        assert_eq!(*id, i as u64 + 1, "ids must be consecutive from 1");
    }

    // Group by tracking number.
    let mut by_number: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for e in &events {
        assert_eq!(
            e.event,
            e.data["type"].as_str().unwrap(),
            "SSE event name equals the type"
        );
        by_number
            .entry(e.data["tracking_number"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }

    let mut per_carrier: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut slipped_expected = 0;
    let mut slipped_seen = 0;
    let mut late_missed = 0;
    for n in &known {
        let journey = h.sim.journey(n).unwrap();
        let evs = &by_number[n];
        assert_journey(&h.sim, n, evs);
        // ETA behaviour.
        let slips = evs.iter().filter(|e| e.event == "eta.slipped").count();
        if matches!(
            journey.scenario,
            Scenario::DelayedWeather | Scenario::DelayedOperational
        ) {
            if !carries_eta(&plugins, &h, n) {
                // Australia Post and GLS answers hold no ETA: nothing can slip.
                assert_eq!(slips, 0, "{n}: slip without an ETA on the wire?");
                continue;
            }
            // The later ETA is on the wire from the delay on until delivery; a
            // slip is owed only if some poll saw the first ETA and a later poll
            // that state (on a loaded machine the daemon's first look may come
            // after the delay, or at the delivered parcel).
            if !saw_state_between(&journey, evs) {
                continue;
            }
            slipped_expected += 1;
            slipped_seen += usize::from(slips > 0);
            let c = per_carrier.entry(journey.carrier.clone()).or_insert((0, 0));
            c.0 += 1;
            c.1 += usize::from(slips > 0);
        }
        if journey.scenario == Scenario::OnTime {
            assert_eq!(slips, 0, "{n}: an on-time parcel never slips");
            assert!(
                evs.iter().all(|e| e.event != "eta.missed"),
                "{n}: on-time parcel missed its ETA?"
            );
        }
        if journey.scenario == Scenario::LateWithoutUpdate {
            late_missed += usize::from(evs.iter().any(|e| e.event == "eta.missed"));
        }
    }
    assert!(
        slipped_expected > 0,
        "the seed must produce delayed journeys"
    );
    assert_eq!(
        slipped_seen, slipped_expected,
        "every delayed journey raises eta.slipped (carrier: (delayed, slipped)): {per_carrier:?}"
    );
    let late_total = known
        .iter()
        .filter(|n| h.sim.journey(n).unwrap().scenario == Scenario::LateWithoutUpdate)
        .count();
    assert!(
        late_total == 0 || late_missed > 0,
        "late journeys raise eta.missed from the daemon's clock"
    );

    let b = backtest(&h, &known, &by_number);
    eprintln!("{b}");
    // Facts that make a window unlikely appear in most late journeys (stalls,
    // exceptions, failed attempts, no out-for-delivery on the last day) ...
    // (how many are caught in time depends on how often the daemon looks in
    // simulated time, so only "some" is asserted; BENCHMARKS.md has the figures) ...
    assert!(b.late > 0 && b.caught > 0 && b.silent_caught > 0, "{b}");
    // ... and the facts it rests on are fresh, so an on-time parcel is rarely flagged.
    assert!(b.precision() >= 0.8, "{b}");
    for n in &known {
        assert_summaries_change_each_time(n, &by_number[n]);
    }
    // Silence is noticed: days without a scan are announced as stalled, a
    // label handed over days late as forgotten, each at most once per spell.
    let of = |scenario: Scenario, kind: &str| {
        known
            .iter()
            .filter(|n| h.sim.journey(n).unwrap().scenario == scenario)
            .filter(|n| by_number[*n].iter().any(|e| e.event == kind))
            .count()
    };
    assert!(of(Scenario::StalledInTransit, "tracker.stalled") > 0, "{b}");
    assert!(of(Scenario::LateDropOff, "tracker.forgotten") > 0, "{b}");
    assert_eq!(
        of(Scenario::OnTime, "tracker.forgotten"),
        0,
        "an on-time parcel is scanned at once"
    );
    // A parcel sent back to its sender is announced as a return once, linked to itself.
    for n in &known {
        let detected: Vec<&&Received> = by_number[n]
            .iter()
            .filter(|e| e.event == "return.detected")
            .collect();
        let sent_back = h.sim.journey(n).unwrap().scenario == Scenario::ReturnToSender;
        assert_eq!(
            detected.len(),
            usize::from(sent_back),
            "{n}: return.detected once for a return to sender"
        );
        if let Some(e) = detected.first() {
            assert_eq!(
                e.data["data"]["return_for"],
                ids[n].as_str(),
                "{n}: linked to its own tracker"
            );
        }
    }
    for n in &known {
        let mut spells = std::collections::HashSet::new();
        for e in by_number[n].iter().filter(|e| e.event == "tracker.stalled") {
            assert!(
                spells.insert(e.data["data"]["last_scan_at"].to_string()),
                "{n}: one stall per quiet spell"
            );
        }
    }

    // Unknown numbers: one carrier.error and a move to invalid, never repeated.
    for n in &unknown {
        let evs = &by_number[n];
        let kinds: Vec<&str> = evs.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "carrier.error").count(),
            1,
            "{n}: {kinds:?}"
        );
        assert!(
            evs.iter()
                .any(|e| e.event == "status.changed" && e.data["data"]["to"] == "invalid"),
            "{n}: {kinds:?}"
        );
    }

    // The simulator saw no quota violation and every carrier was used.
    assert_no_quota_violation(&h.sim);
    // The batch API returns the same events as the stream.
    let (status, _) = h.get("/v1/events?after=0&limit=5").await;
    assert_eq!(status, 200);
    // Paged through with the `trackd-next-after` cursor (more events than one page holds).
    let mut page_ids: Vec<u64> = Vec::new();
    let mut after = 0u64;
    loop {
        let resp = h
            .http
            .get(format!("{}/v1/events?after={after}&limit=10000", h.url))
            .send()
            .await
            .unwrap();
        let next: u64 = resp.headers()["trackd-next-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = resp.text().await.unwrap();
        let ids: Vec<u64> = body
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        if ids.is_empty() {
            break;
        }
        assert_eq!(next, *ids.last().unwrap(), "next cursor is the last id");
        page_ids.extend(ids);
        after = next;
    }
    assert_eq!(
        page_ids.len(),
        seen_ids.len(),
        "pages hold every streamed event"
    );
    assert!(page_ids == seen_ids, "pages equal the stream, in order");

    // Filters: only eta.slipped for one carrier.
    let filtered = h
        .http
        .get(format!(
            "{}/v1/events?after=0&type=eta.slipped&carrier=ups",
            h.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for l in filtered.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["type"], "eta.slipped");
        assert_eq!(v["carrier"], "ups");
    }

    // Metrics are exported and count what happened.
    let metrics = h.text("/metrics").await;
    assert!(metrics.contains("trackd_events_total{type=\"checkpoint.added\"}"));
    assert!(metrics.contains("trackd_carrier_requests_total"));
    h.stop().await;
}

/// Whether the carrier's wire format holds an ETA at all: the parcel as the
/// simulator shows it at its first promise, rendered and parsed by the plugin.
/// `eta.at_risk` judged against what happened: a parcel is late when it was
/// delivered after the end of its first promised window (returns are left out:
/// they never arrive), caught when `eta.at_risk` came before that end.
struct Backtest {
    late: usize,
    caught: usize,
    /// Late deliveries whose carrier never moved the ETA before the promise ended.
    silent: usize,
    silent_caught: usize,
    flagged: usize,
    flagged_late: usize,
    by_scenario: BTreeMap<&'static str, (usize, usize)>,
}

impl Backtest {
    fn recall(&self) -> f64 {
        self.caught as f64 / self.late.max(1) as f64
    }
    fn silent_recall(&self) -> f64 {
        self.silent_caught as f64 / self.silent.max(1) as f64
    }
    fn precision(&self) -> f64 {
        self.flagged_late as f64 / self.flagged.max(1) as f64
    }
}

impl std::fmt::Display for Backtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "eta.at_risk backtest: {} late deliveries, {} caught before the promise ended (recall {:.3}); of the {} late ones the carrier never announced in time, {} caught (recall {:.3}); {} parcels flagged, {} of them late (precision {:.3}); flagged/parcels by scenario: {:?}",
            self.late,
            self.caught,
            self.recall(),
            self.silent,
            self.silent_caught,
            self.silent_recall(),
            self.flagged,
            self.flagged_late,
            self.precision(),
            self.by_scenario
        )
    }
}

fn backtest(
    h: &Harness,
    known: &[String],
    by_number: &BTreeMap<String, Vec<&Received>>,
) -> Backtest {
    let mut b = Backtest {
        late: 0,
        caught: 0,
        silent: 0,
        silent_caught: 0,
        flagged: 0,
        flagged_late: 0,
        by_scenario: BTreeMap::new(),
    };
    for n in known {
        let journey = h.sim.journey(n).unwrap();
        let last = journey.events.last().unwrap();
        if last.event.step != trackd_carrier_sdk::JourneyStep::Delivered {
            continue;
        }
        let Some((_, end)) = journey.initial_eta() else {
            continue;
        };
        let end = end.with_timezone(&chrono::Utc);
        let late = last.event.at.with_timezone(&chrono::Utc) > end;
        let risks: Vec<chrono::DateTime<chrono::Utc>> = by_number[n]
            .iter()
            .filter(|e| e.event == "eta.at_risk")
            .filter_map(|e| {
                e.data["occurred_at"]["at"]
                    .as_str()
                    .and_then(Timestamp::from_wire)
            })
            .map(|t| t.latest_instant())
            .collect();
        let flagged = !risks.is_empty();
        let slot = b
            .by_scenario
            .entry(journey.scenario.as_str())
            .or_insert((0, 0));
        slot.0 += usize::from(flagged);
        slot.1 += 1;
        let caught = late && risks.iter().any(|t| *t <= end);
        // The carrier announced it when an ETA later than the promise was on the wire before its end.
        let announced = journey.events.iter().any(|p| {
            p.event.at.with_timezone(&chrono::Utc) <= end
                && p.eta
                    .is_some_and(|(_, e)| e.with_timezone(&chrono::Utc) > end)
        });
        b.late += usize::from(late);
        b.caught += usize::from(caught);
        b.silent += usize::from(late && !announced);
        b.silent_caught += usize::from(caught && !announced);
        b.flagged += usize::from(flagged);
        b.flagged_late += usize::from(flagged && late);
    }
    b
}

/// `summary.changed` fires only when the verdict, the next step or the headline changes.
fn assert_summaries_change_each_time(n: &str, evs: &[&Received]) {
    let keys: Vec<(Value, Value, Value)> = evs
        .iter()
        .filter(|e| e.event == "summary.changed")
        .map(|e| {
            let d = &e.data["data"];
            (
                d["verdict"].clone(),
                d["next_step"].clone(),
                d["headline"].clone(),
            )
        })
        .collect();
    assert!(
        !keys.is_empty(),
        "{n}: a tracker with carrier facts has a summary"
    );
    for w in keys.windows(2) {
        assert_ne!(w[0], w[1], "{n}: summary.changed repeated without a change");
    }
    let last = evs
        .iter()
        .rev()
        .find(|e| e.event == "summary.changed")
        .unwrap();
    let status = evs
        .iter()
        .rev()
        .find(|e| e.event == "status.changed")
        .map(|e| e.data["data"]["to"].clone());
    if status == Some(json!("delivered")) {
        assert_eq!(
            last.data["data"]["verdict"], "delivered",
            "{n}: the last summary says delivered"
        );
    }
}

/// Whether one poll saw the parcel after its ETA first moved and before its last
/// event: the checkpoint events of one poll share one commit (`emitted_at`).
fn saw_state_between(journey: &trackd_simulator::Journey, evs: &[&Received]) -> bool {
    let first = journey.initial_eta();
    let Some(moved) = journey.events.iter().position(|p| p.eta != first) else {
        return false;
    };
    let at = |i: usize| {
        let step = journey.events[i].event.at.naive_local();
        evs.iter()
            .filter(|e| e.event == "checkpoint.added")
            .find(|e| {
                let cp = &e.data["data"]["checkpoint"];
                Timestamp::from_wire(cp["occurred_at"]["at"].as_str().unwrap_or_default())
                    .is_some_and(|t| t.local() == step)
            })
            .map(|e| e.data["emitted_at"].clone())
    };
    let last = journey.events.len() - 1;
    // Some poll saw the first ETA (a checkpoint before the delay came in another
    // commit than the delay's), and some poll saw the later one before delivery.
    let first_seen = (0..moved).any(|j| at(j).is_some_and(|seen| Some(seen) != at(moved)));
    first_seen && (moved..last).any(|i| at(i).is_some_and(|seen| Some(seen) != at(last)))
}

fn carries_eta(plugins: &[std::sync::Arc<dyn Carrier>], h: &Harness, number: &str) -> bool {
    let journey = h.sim.journey(number).unwrap();
    let plugin = plugins
        .iter()
        .find(|p| p.descriptor().slug == journey.carrier)
        .unwrap();
    let first = journey
        .events
        .first()
        .unwrap()
        .event
        .at
        .with_timezone(&chrono::Utc);
    let parcel = h.sim.parcel_at(number, first).unwrap();
    assert!(
        parcel.eta.is_some(),
        "{number}: the simulator promises an ETA"
    );
    let resp = plugin.sim_render_track(&[SimReply::Known(&parcel)]);
    let parsed = plugin.parse_track(&[number], &resp).unwrap();
    parsed[0]
        .outcome
        .as_ref()
        .is_ok_and(|s| s.estimated_delivery.is_some())
}
