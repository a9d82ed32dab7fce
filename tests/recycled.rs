//! Recycled tracking numbers end to end: the simulator's FedEx lists an older
//! shipment under a reused number; the daemon follows the tracker's current
//! shipment only and announces a switch between shipments once.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use trackd::trackers::TrackerState;
use trackd_carrier_sdk::SimParcel;
use trackd_simulator::{PreviousShipment, Recycled, Scenario};

/// What a recycled number's older shipment announced, in order.
fn journey_of(p: &SimParcel) -> Vec<(chrono::NaiveDateTime, String)> {
    p.events
        .iter()
        .map(|e| (e.at.naive_local(), e.step.status().as_str().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recycled_numbers_follow_the_current_shipment() {
    let h = Harness::start(Options::default()).await;
    let consumer = Consumer::connect(&h.url, None, "").await;

    // `beside`: an old delivered shipment listed beside the current one from
    // the start; the tracker must show the current journey only.
    let beside = h
        .sim
        .create_recycled_parcels(
            "fedex",
            1,
            Scenario::OnTime,
            Recycled {
                previous: PreviousShipment::Delivered,
                label_in: chrono::Duration::zero(),
            },
        )
        .unwrap()
        .remove(0);
    // `switch`: an old shipment stuck in transit is all FedEx shows until the
    // current label appears 5 simulated days later (over 20 s of real time at
    // the test's scale): the tracker follows the old one, then switches once.
    let switch = h
        .sim
        .create_recycled_parcels(
            "fedex",
            1,
            Scenario::OnTime,
            Recycled {
                previous: PreviousShipment::Stuck,
                label_in: chrono::Duration::days(5),
            },
        )
        .unwrap()
        .remove(0);
    let body = json!({ "trackers": [
        { "tracking_number": beside, "carrier": "fedex" },
        { "tracking_number": switch, "carrier": "fedex" },
    ]});
    let (status, resp) = h.post("/v1/trackers", &body).await;
    assert_eq!(status, 201, "{resp}");
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
    // FedEx's unique id of a shipment: its label day and the number.
    let old_id =
        |n: &str| trackd_carrier_fedex::sim_unique_id(&h.sim.previous_shipment(n).unwrap());
    let current_id = |n: &str| {
        let now = h.sim.clock().now() + chrono::Duration::days(400);
        trackd_carrier_fedex::sim_unique_id(&h.sim.parcel_at(n, now).unwrap())
    };

    // Before its current label exists, `switch` follows the old shipment.
    let switch_id = ids[&switch].clone();
    let want_old = old_id(&switch);
    wait_until(
        Duration::from_secs(60),
        "the stuck old shipment is followed first",
        || {
            let path = format!("/v1/trackers/{switch_id}");
            let want_old = want_old.clone();
            let h = &h;
            async move {
                let (_, t) = h.get(&path).await;
                t["snapshot"]["shipment"]["current"]["id"] == want_old.as_str()
            }
        },
    )
    .await;

    let core = h.daemon().core().clone();
    let last = [&beside, &switch]
        .iter()
        .map(|n| h.sim.journey(n).unwrap().events.last().unwrap().event.at)
        .max()
        .unwrap();
    wait_until(Duration::from_secs(300), "both trackers completed", || {
        let core = core.clone();
        let ids = ids.clone();
        let sim_now = h.sim.clock().now();
        async move {
            sim_now > last
                && ids.values().all(|id| {
                    let id = trackd::events::parse_tracker_id(id).unwrap();
                    core.registry
                        .get(id)
                        .is_some_and(|e| e.state == TrackerState::Completed)
                })
        }
    })
    .await;
    h.wait_consumer_caught_up(&consumer).await;
    let events = consumer.snapshot();
    let of = |n: &str| -> Vec<&Received> {
        events
            .iter()
            .filter(|e| e.data["tracking_number"] == n)
            .collect()
    };

    // Beside: exactly the current journey, no switch, the old one never shown.
    let evs = of(&beside);
    let current = h.sim.journey(&beside).unwrap();
    let want = journey_checkpoints(&current);
    assert_eq!(
        checkpoints(&evs),
        want,
        "{beside}: the current journey only"
    );
    assert!(
        evs.iter().all(|e| e.event != "shipment.switched"),
        "{beside}: no switch when the current shipment is chosen first"
    );
    assert_eq!(final_status(&evs, &beside), "delivered");
    assert_eq!(
        evs.iter()
            .filter(|e| e.event == "tracker.completed")
            .count(),
        1
    );
    let (_, t) = h.get(&format!("/v1/trackers/{}", ids[&beside])).await;
    let shown = &t["snapshot"]["shipment"];
    assert_eq!(shown["current"]["id"], current_id(&beside));
    assert_eq!(shown["others"][0]["id"], old_id(&beside).as_str());

    // Switch: the old shipment's scans, one `shipment.switched`, then exactly
    // the current journey.
    let evs = of(&switch);
    let switches: Vec<usize> = evs
        .iter()
        .enumerate()
        .filter(|(_, e)| e.event == "shipment.switched")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(switches.len(), 1, "{switch}: one switch: {evs:#?}");
    let at = switches[0];
    let sw = &evs[at].data["data"];
    assert_eq!(sw["previous"]["id"], old_id(&switch).as_str());
    assert_eq!(sw["current"]["id"], current_id(&switch));
    assert_eq!(sw["previous_status"], "in_transit");
    let old = h.sim.previous_shipment(&switch).unwrap();
    assert_eq!(
        checkpoints(&evs[..at]),
        journey_of(&old),
        "{switch}: before the switch, the old shipment"
    );
    let current = h.sim.journey(&switch).unwrap();
    let want = journey_checkpoints(&current);
    assert_eq!(
        checkpoints(&evs[at..]),
        want,
        "{switch}: after the switch, the current journey only"
    );
    // The status moves on to the other shipment; no correction, one completion.
    assert!(evs.iter().all(|e| e.event != "status.corrected"));
    assert_eq!(final_status(&evs, &switch), "delivered");
    let completions: Vec<&Value> = evs
        .iter()
        .filter(|e| e.event == "tracker.completed")
        .map(|e| &e.data)
        .collect();
    assert_eq!(completions.len(), 1, "{switch}: completed once");
    assert_eq!(evs.last().unwrap().event, "tracker.completed");
    h.stop().await;
}
