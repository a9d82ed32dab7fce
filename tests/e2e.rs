//! End to end on loopback: simulator + daemon, hundreds of parcels over every
//! carrier; the stream must match the simulator's journeys exactly.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use trackd::trackers::TrackerState;
use trackd_carrier_sdk::{Carrier, SimReply};
use trackd_simulator::Scenario;

const PER_CARRIER: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_matches_simulated_journeys() {
    journeys_match(Options::default()).await;
}

/// The same journeys with PostgreSQL as the store: the event contract is the backend's, not SQLite's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_matches_simulated_journeys_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    journeys_match(Options {
        postgres_url: Some(db.url.clone()),
        ..Options::default()
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
    wait_until(
        Duration::from_secs(600),
        "all known trackers completed",
        || {
            let core = core.clone();
            let known = known.clone();
            let ids = ids.clone();
            let sim_now = h.sim.clock().now();
            async move {
                sim_now > last_event_time
                    && known.iter().all(|n| {
                        let id = trackd::events::parse_tracker_id(&ids[n]).unwrap();
                        core.registry
                            .get(id)
                            .is_some_and(|e| e.state == TrackerState::Completed)
                    })
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
