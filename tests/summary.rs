//! WISMO summaries end to end over a simulator run: every tracker's summary in
//! four languages, grounded (each fact names a snapshot field holding that
//! value), the client's promise used when given, and order-level summaries.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_follow_the_journeys_in_four_languages() {
    let h = Harness::start(Options::default()).await;
    let mut body = Vec::new();
    let slugs: Vec<String> = h
        .running
        .as_ref()
        .unwrap()
        .base_urls
        .keys()
        .cloned()
        .collect();
    let mut n = 0;
    for slug in &slugs {
        for number in h.sim.create_parcels(slug, 3).unwrap() {
            // Orders of three parcels; every other one carries the shop's promise.
            let promised = (n % 2 == 0).then_some("2099-12-24");
            body.push(json!({ "tracking_number": number, "carrier": slug, "reference": format!("order-{}", n / 3), "promised_by": promised }));
            n += 1;
        }
    }
    let (status, v) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(status, 201, "{v}");
    let registered: Vec<Value> = v["trackers"].as_array().unwrap().clone();
    let (status, v) = h
        .post("/v1/trackers", &json!({ "tracking_number": "1Z999AA10123456784", "carrier": "ups", "promised_by": "soon" }))
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (422, Some("promised_by")),
        "{v}"
    );

    wait_until(
        Duration::from_secs(600),
        "every tracker finished",
        || async {
            let (_, v) = h.get("/v1/trackers?limit=1000").await;
            v["trackers"].as_array().is_some_and(|t| {
                t.len() == registered.len() && t.iter().all(|t| t["state"] != "active")
            })
        },
    )
    .await;

    for (i, t) in registered.iter().enumerate() {
        let id = t["id"].as_str().unwrap();
        assert_eq!(t["promised_by"].is_null(), i % 2 != 0, "{t}");
        let (_, tracker) = h.get(&format!("/v1/trackers/{id}")).await;
        let snapshot = &tracker["snapshot"];
        let status = snapshot["status"].as_str().unwrap();
        let mut sentences = Vec::new();
        for lang in ["en", "fr", "de", "nl"] {
            let (code, s) = h
                .get(&format!(
                    "/v1/trackers/{id}/summary?lang={lang}&tz=America/Toronto"
                ))
                .await;
            assert_eq!(code, 200, "{s}");
            assert_eq!(s["lang"], lang);
            let sentence = s["sentence"].as_str().unwrap();
            assert!(
                !sentence.is_empty() && sentence.chars().count() <= 160,
                "{sentence}"
            );
            let want = match status {
                "delivered" => "delivered",
                "returned" => "returned",
                _ => s["verdict"].as_str().unwrap(),
            };
            assert_eq!(s["verdict"], want, "{id} ({status}): {s}");
            // Every fact names the snapshot field (or the tracker's promise) it comes from.
            for f in s["facts"].as_array().unwrap() {
                let field = f["field"].as_str().unwrap();
                let source = if let Some(path) = field.strip_prefix("snapshot.") {
                    lookup(snapshot, path)
                } else if field == "tracker.promised_by" {
                    Some(tracker["promised_by"].clone())
                } else {
                    None
                };
                assert_eq!(
                    source.as_ref(),
                    Some(&f["value"]),
                    "{id}: fact {field} in {s}"
                );
            }
            if i % 2 == 0 && status != "delivered" && status != "returned" {
                assert_eq!(s["promised"]["source"], "client", "{s}");
            }
            sentences.push(sentence.to_string());
        }
        sentences.dedup();
        assert_eq!(
            sentences.len(),
            4,
            "each language has its own wording: {sentences:?}"
        );
    }

    // Orders: three parcels each.
    let (code, o) = h.get("/v1/orders/order-0/summary?lang=fr").await;
    assert_eq!(code, 200, "{o}");
    assert_eq!(
        (
            o["parcels"].as_u64(),
            o["trackers"].as_array().map(Vec::len)
        ),
        (Some(3), Some(3))
    );
    let delivered = o["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["verdict"] == "delivered")
        .count();
    assert_eq!(o["delivered"].as_u64(), Some(delivered as u64));
    if delivered == 3 {
        assert_eq!(
            (o["verdict"].as_str(), o["headline"].as_str()),
            (Some("delivered"), Some("Tous livrés")),
            "{o}"
        );
    } else {
        assert_eq!(o["headline"], format!("{delivered} sur 3 livrés"), "{o}");
    }
    let (code, _) = h.get("/v1/orders/order-999/summary").await;
    assert_eq!(code, 404);
    h.stop().await;
}

/// The value at a dotted path with `[i]` indexes (`checkpoints[3].location`).
fn lookup(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur.clone())
}
