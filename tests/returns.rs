//! Returns end to end against the simulator: a return registered for an outbound
//! tracker, retailer milestones posted through the API and seen in the SSE
//! stream and in the summary, and the refusals of bad input.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// The `return.milestone` events the consumer has seen, as (tracker id, kind).
fn milestones_seen(consumer: &Consumer) -> Vec<(String, String)> {
    consumer
        .snapshot()
        .iter()
        .filter(|r| r.event == "return.milestone")
        .map(|r| {
            (
                r.data["tracker_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r.data["data"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// The `summary.changed` events of one tracker the consumer has seen, as (id, headline).
fn summaries_seen(consumer: &Consumer, tracker: &str) -> Vec<(u64, String)> {
    consumer
        .snapshot()
        .iter()
        .filter(|r| r.event == "summary.changed" && r.data["tracker_id"] == tracker)
        .map(|r| {
            (
                r.id.unwrap_or_default(),
                r.data["data"]["headline"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_carries_its_milestones_to_the_stream_and_the_summary() {
    let h = Harness::start(Options::default()).await;
    let consumer = Consumer::connect(&h.url, None, "?type=return.milestone,summary.changed").await;
    let numbers = h.sim.create_parcels("ups", 2).unwrap();

    let (s, outbound) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": numbers[0], "reference": "order-7" }),
        )
        .await;
    assert_eq!(s, 201, "{outbound}");
    assert_eq!(outbound["direction"], "outbound");
    assert_eq!(outbound["return_for"], Value::Null);
    let out_id = outbound["id"].as_str().unwrap().to_string();

    // Registration refusals, by field, with nothing stored.
    for (body, field) in [
        (
            json!({ "tracking_number": numbers[1], "return_for": out_id }),
            "return_for",
        ),
        (
            json!({ "tracking_number": numbers[1], "direction": "sideways" }),
            "direction",
        ),
        (
            json!({ "tracking_number": numbers[1], "direction": "return", "return_for": "trk_fffffffff" }),
            "return_for",
        ),
        (
            json!({ "tracking_number": numbers[1], "direction": "return", "return_for": "trk_zz" }),
            "return_for",
        ),
        (
            json!({ "tracking_number": numbers[1], "direction": "return", "return_for": "" }),
            "return_for",
        ),
        (
            json!({ "trackers": [{ "tracking_number": numbers[1], "direction": "return", "return_for": 7 }] }),
            "trackers[0].return_for",
        ),
    ] {
        let (s, v) = h.post("/v1/trackers", &body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
            (422, Some("invalid_field"), Some(field)),
            "{body}: {v}"
        );
    }
    let (_, list) = h.get("/v1/trackers?direction=return").await;
    assert_eq!(list["trackers"], json!([]), "nothing was half-registered");

    let (s, ret) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": numbers[1], "reference": "order-7", "direction": "return", "return_for": out_id }),
        )
        .await;
    assert_eq!(s, 201, "{ret}");
    assert_eq!(
        (&ret["direction"], &ret["return_for"]),
        (&json!("return"), &json!(out_id))
    );
    let ret_id = ret["id"].as_str().unwrap().to_string();
    let (_, list) = h.get("/v1/trackers?direction=return").await;
    assert_eq!(list["trackers"][0]["id"], json!(ret_id));
    let (s, v) = h.get("/v1/trackers?direction=both").await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("direction")));

    // The carrier's part reads as a return once the simulator has answered.
    wait_until(
        Duration::from_secs(300),
        "the return tracker polled",
        || async {
            let (_, t) = h.get(&format!("/v1/trackers/{ret_id}")).await;
            t["status"] != "pending"
        },
    )
    .await;
    let (_, t) = h.get(&format!("/v1/trackers/{ret_id}")).await;
    let (s, summary) = h.get(&format!("/v1/trackers/{ret_id}/summary")).await;
    assert_eq!(s, 200, "{summary}");
    let expected = match t["status"].as_str().unwrap() {
        "info_received" => Some("Return label created"),
        "in_transit" => None, // dropped off or on its way back, by the number of scans
        "out_for_delivery" => Some("Return on its way back"),
        "delivered" => Some("Return delivered to the retailer"),
        _ => None,
    };
    if let Some(headline) = expected {
        assert_eq!(summary["headline"], headline, "{summary}");
    }
    if t["status"] == "in_transit" {
        assert!(
            ["Return dropped off", "Return on its way back"]
                .contains(&summary["headline"].as_str().unwrap()),
            "{summary}"
        );
    }

    // Milestones: stored once per kind, a repeat answers the stored one.
    let path = format!("/v1/trackers/{ret_id}/milestones");
    let received =
        json!({ "kind": "received", "at": "2026-12-09T10:00:00+01:00", "note": "dock 3" });
    let (s, m) = h.post(&path, &received).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        m,
        json!({ "tracker_id": ret_id, "kind": "received", "at": "2026-12-09T09:00:00.000Z", "note": "dock 3" })
    );
    let (s, again) = h.post(&path, &received).await;
    assert_eq!((s, &again), (200, &m));

    // Refusals: conflicting repeat, outbound tracker, bad fields, unknown tracker.
    for (target, body, status, code, field) in [
        (
            path.clone(),
            json!({ "kind": "received" }),
            409,
            "milestone_conflict",
            Some("kind"),
        ),
        (
            format!("/v1/trackers/{out_id}/milestones"),
            json!({ "kind": "received" }),
            409,
            "not_a_return",
            None,
        ),
        (
            path.clone(),
            json!({ "kind": "lost" }),
            422,
            "invalid_field",
            Some("kind"),
        ),
        (path.clone(), json!({}), 422, "invalid_field", Some("kind")),
        (
            path.clone(),
            json!({ "kind": "inspected", "at": "yesterday" }),
            422,
            "invalid_field",
            Some("at"),
        ),
        (
            path.clone(),
            json!({ "kind": "inspected", "note": "é".repeat(501) }),
            422,
            "invalid_field",
            Some("note"),
        ),
        (
            path.clone(),
            json!({ "kind": "inspected", "by": "me" }),
            422,
            "invalid_field",
            Some("by"),
        ),
        (path.clone(), json!(["received"]), 400, "invalid_body", None),
        (
            "/v1/trackers/trk_fffffffff/milestones".to_string(),
            json!({ "kind": "received" }),
            404,
            "not_found",
            None,
        ),
    ] {
        let (s, v) = h.post(&target, &body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
            (status, Some(code), field),
            "{target} {body}: {v}"
        );
    }
    // A note of exactly 500 characters is kept.
    let (s, v) = h
        .post(
            &path,
            &json!({ "kind": "inspected", "note": "é".repeat(500) }),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    wait_until(
        Duration::from_secs(60),
        "the received and inspected milestones in the stream",
        || async {
            milestones_seen(&consumer)
                == vec![
                    (ret_id.clone(), "received".to_string()),
                    (ret_id.clone(), "inspected".to_string()),
                ]
        },
    )
    .await;
    let first = consumer
        .snapshot()
        .into_iter()
        .find(|r| r.event == "return.milestone")
        .unwrap();
    assert_eq!(first.data["reference"], "order-7");
    assert_eq!(first.data["data"]["note"], "dock 3");
    assert_eq!(first.data["data"]["at"], "2026-12-09T09:00:00.000Z");

    // The summary reads from the furthest milestone, with the milestone as a fact.
    let (s, summary) = h.get(&format!("/v1/trackers/{ret_id}/summary")).await;
    assert_eq!(s, 200, "{summary}");
    assert_eq!(
        (&summary["headline"], &summary["verdict"]),
        (&json!("Return inspected"), &json!("returned")),
        "{summary}"
    );
    let fields: Vec<&str> = summary["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"tracker.direction"), "{summary}");
    assert!(
        fields.iter().any(|f| f.starts_with("return.milestones[")),
        "{summary}"
    );

    let (s, _) = h
        .post(&path, &json!({ "kind": "refunded", "note": "refund 4711" }))
        .await;
    assert_eq!(s, 201);
    wait_until(
        Duration::from_secs(60),
        "the refund in the stream",
        || async { milestones_seen(&consumer).len() == 3 },
    )
    .await;
    // Each milestone changed the return's summary exactly once, though no carrier
    // fact moved: its summary.changed follows the milestone, with its headline.
    let wanted = ["Return received", "Return inspected", "Refund issued"];
    wait_until(
        Duration::from_secs(60),
        "a summary.changed for each milestone",
        || async {
            let seen = summaries_seen(&consumer, &ret_id);
            wanted.iter().all(|w| seen.iter().any(|(_, h)| h == w))
        },
    )
    .await;
    let seen = summaries_seen(&consumer, &ret_id);
    let stream = consumer.snapshot();
    for (kind, headline) in ["received", "inspected", "refunded"]
        .into_iter()
        .zip(wanted)
    {
        let announced: Vec<u64> = seen
            .iter()
            .filter(|(_, h)| h == headline)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(announced.len(), 1, "{headline} once: {seen:?}");
        let milestone = stream
            .iter()
            .find(|r| r.event == "return.milestone" && r.data["data"]["kind"] == kind)
            .and_then(|r| r.id)
            .unwrap();
        assert!(announced[0] > milestone, "{headline} after its milestone");
    }
    let refund = stream
        .iter()
        .find(|r| r.event == "summary.changed" && r.data["data"]["headline"] == "Refund issued")
        .unwrap();
    assert_eq!(refund.data["data"]["previous_verdict"], "returned");
    assert_eq!(refund.data["data"]["summary"]["tracker_id"], json!(ret_id));
    for (lang, headline) in [
        ("en", "Refund issued"),
        ("fr", "Remboursement effectué"),
        ("de", "Erstattung veranlasst"),
        ("nl", "Terugbetaling uitgevoerd"),
    ] {
        let (s, summary) = h
            .get(&format!(
                "/v1/trackers/{ret_id}/summary?lang={lang}&tz=Europe/Paris"
            ))
            .await;
        assert_eq!(
            (s, &summary["headline"]),
            (200, &json!(headline)),
            "{summary}"
        );
        assert_eq!(summary["next_step"]["kind"], "nothing");
    }
    // The order's summary covers the outbound parcel and its return.
    let (s, order) = h.get("/v1/orders/order-7/summary").await;
    assert_eq!(s, 200, "{order}");
    assert_eq!(
        order["trackers"].as_array().map(Vec::len),
        Some(2),
        "{order}"
    );
    // The refunded return is counted as a return, not as an undelivered parcel.
    assert_eq!(
        (&order["parcels"], &order["returns"], &order["returns_back"]),
        (&json!(1), &json!(1), &json!(1)),
        "{order}"
    );
    assert!(
        order["sentence"]
            .as_str()
            .unwrap()
            .contains("1 return back with the retailer"),
        "{order}"
    );
    h.stop().await;
}
