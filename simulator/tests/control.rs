//! The control API (`/_sim/...`) used by `trackd sim` and humans.

mod common;

use common::{FakeCarrier, client, t0};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use trackd_carrier_sdk::Credentials;
use trackd_carrier_sdk::carrier::AuthKind;
use trackd_simulator::{CarrierSetup, RunningSim, SimConfig, Simulator};

async fn start() -> (Simulator, RunningSim, String) {
    let setup = CarrierSetup::new(
        Arc::new(FakeCarrier::new("fake", AuthKind::ApiKey)),
        Credentials::new("id", "secret"),
    );
    let sim = Simulator::new(
        SimConfig {
            seed: 3,
            time_scale: 0.0,
            start: t0(),
            token_ttl: Duration::from_secs(60),
            control_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            number_filter: None,
        },
        vec![setup],
    );
    let running = sim.start().await.expect("starts");
    let url = running.control_url.clone().expect("control API configured");
    (sim, running, url)
}

async fn call(method: reqwest::Method, url: String, body: Option<&str>) -> (u16, Value) {
    let mut rb = client().request(method, url);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = rb.send().await.expect("reachable");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body expected ({e}): {text}"))
    };
    (status, v)
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

#[tokio::test]
async fn create_inspect_and_count_parcels() {
    let (sim, running, url) = start().await;
    let (status, v) = call(
        reqwest::Method::POST,
        format!("{url}/_sim/parcels"),
        Some(r#"{"carrier":"fake","count":3}"#),
    )
    .await;
    assert_eq!(status, 201);
    let numbers: Vec<String> =
        serde_json::from_value(v["tracking_numbers"].clone()).expect("list of numbers");
    assert_eq!(numbers.len(), 3);
    assert!(numbers.iter().all(|n| sim.journey(n).is_some()));

    let (status, j) = call(
        reqwest::Method::GET,
        format!("{url}/_sim/parcels/{}", numbers[0]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let journey = sim.journey(&numbers[0]).expect("known");
    assert_eq!(j["tracking_number"], numbers[0]);
    assert_eq!(j["carrier"], "fake");
    assert_eq!(j["scenario"], journey.scenario.as_str());
    assert_eq!(j["status"], "info_received");
    assert_eq!(j["step"], "label_created");
    let events = j["events"].as_array().expect("events");
    assert_eq!(events.len(), journey.events.len());
    assert_eq!(events[0]["step"], "label_created");
    assert_eq!(events[0]["visible"], true);
    assert_eq!(events[1]["visible"], false);
    for e in events {
        let at = e["at"].as_str().expect("time");
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }
    assert!(j["eta"]["start"].as_str().is_some() && j["eta"]["end"].as_str().is_some());

    let (status, v) = call(
        reqwest::Method::POST,
        format!("{url}/_sim/parcels"),
        Some(r#"{"carrier":"fake","count":2,"scenario":"late_without_update"}"#),
    )
    .await;
    assert_eq!(status, 201);
    let late = v["tracking_numbers"][0].as_str().expect("number");
    let (_, j) = call(
        reqwest::Method::GET,
        format!("{url}/_sim/parcels/{late}"),
        None,
    )
    .await;
    assert_eq!(j["scenario"], "late_without_update");

    let (status, stats) = call(reqwest::Method::GET, format!("{url}/_sim/stats"), None).await;
    assert_eq!(status, 200);
    assert_eq!(stats["carriers"]["fake"]["requests"], 0);
    assert_eq!(stats["carriers"]["fake"]["quota_violations_per_second"], 0);

    let (status, clock) = call(reqwest::Method::GET, format!("{url}/_sim/clock"), None).await;
    assert_eq!(status, 200);
    assert_eq!(clock["now"], "2025-03-03T14:00:00Z");
    running.shutdown().await;
}

#[tokio::test]
async fn faults_can_be_changed_and_read_back() {
    let (sim, running, url) = start().await;
    let (status, v) = call(
        reqwest::Method::PUT,
        format!("{url}/_sim/faults/fake"),
        Some(r#"{"server_error":0.25,"timeout":0.1,"timeout_hold_ms":1500}"#),
    )
    .await;
    assert_eq!((status, v), (204, Value::Null));
    let f = sim.faults("fake").expect("known");
    assert_eq!(f.server_error, 0.25);
    assert_eq!(f.timeout_hold, Duration::from_millis(1500));
    let (status, v) = call(
        reqwest::Method::GET,
        format!("{url}/_sim/faults/fake"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"timeout":0.1,"server_error":0.25,"malformed":0.0,"rate_limited":0.0,"timeout_hold_ms":1500,"huge_body":0.0,"huge_body_bytes":null})
    );
    running.shutdown().await;
}

#[tokio::test]
async fn huge_body_fault_is_set_through_the_control_api() {
    let (sim, running, url) = start().await;
    let put = |body: &'static str| {
        call(
            reqwest::Method::PUT,
            format!("{url}/_sim/faults/fake"),
            Some(body),
        )
    };
    let (status, _) = put(r#"{"huge_body":1.0,"huge_body_bytes":5000000}"#).await;
    assert_eq!(status, 204);
    let f = sim.faults("fake").expect("known");
    assert_eq!((f.huge_body, f.huge_body_bytes), (1.0, Some(5_000_000)));
    let (_, v) = call(
        reqwest::Method::GET,
        format!("{url}/_sim/faults/fake"),
        None,
    )
    .await;
    assert_eq!(
        (v["huge_body"].clone(), v["huge_body_bytes"].clone()),
        (json!(1.0), json!(5_000_000))
    );
    // No size: endless.
    let (status, _) = put(r#"{"huge_body":0.5}"#).await;
    assert_eq!(status, 204);
    let f = sim.faults("fake").expect("known");
    assert_eq!((f.huge_body, f.huge_body_bytes), (0.5, None));
    let (status, v) = put(r#"{"huge_body":0.5,"malformed":0.6}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "invalid_faults");
    running.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let (_sim, running, url) = start().await;
    let post = |body: &'static str| {
        call(
            reqwest::Method::POST,
            format!("{url}/_sim/parcels"),
            Some(body),
        )
    };
    let (status, v) = post("{not json").await;
    assert_eq!(status, 400);
    assert_error(&v, "bad_json");
    let (status, v) = post(r#"{"carrier":"fake"}"#).await;
    assert_eq!(status, 400, "missing count");
    assert_error(&v, "bad_json");
    let (status, v) = post(r#"{"carrier":"fake","count":-1}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "bad_json");
    let (status, v) = post(r#"{"carrier":"fake","count":0}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "invalid_count");
    let (status, v) = post(r#"{"carrier":"fake","count":1,"scenario":"teleported"}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "unknown_scenario");
    let (status, v) = post(r#"{"carrier":"dhl","count":1}"#).await;
    assert_eq!(status, 404);
    assert_error(&v, "unknown_carrier");

    let put = |carrier: &'static str, body: &'static str| {
        call(
            reqwest::Method::PUT,
            format!("{url}/_sim/faults/{carrier}"),
            Some(body),
        )
    };
    let (status, v) = put("fake", "[]").await;
    assert_eq!(status, 400);
    assert_error(&v, "bad_json");
    let (status, v) = put("fake", r#"{"server_error":2}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "invalid_faults");
    let (status, v) = put("fake", r#"{"explode":1}"#).await;
    assert_eq!(status, 400, "unknown fields are rejected");
    assert_error(&v, "bad_json");
    let (status, v) = put("dhl", "{}").await;
    assert_eq!(status, 404);
    assert_error(&v, "unknown_carrier");

    let (status, v) = call(
        reqwest::Method::GET,
        format!("{url}/_sim/parcels/NOPE"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_error(&v, "unknown_parcel");
    let (status, v) = call(reqwest::Method::GET, format!("{url}/elsewhere"), None).await;
    assert_eq!(status, 404);
    assert_error(&v, "not_found");
    let (status, v) = call(reqwest::Method::DELETE, format!("{url}/_sim/stats"), None).await;
    assert_eq!(status, 405);
    assert_error(&v, "method_not_allowed");
    running.shutdown().await;
}

#[tokio::test]
async fn recycled_parcels_list_an_older_shipment() {
    let (sim, running, url) = start().await;
    let post = |body: &'static str| {
        call(
            reqwest::Method::POST,
            format!("{url}/_sim/parcels"),
            Some(body),
        )
    };
    let (status, v) =
        post(r#"{"carrier":"fake","count":2,"recycled":{"previous":"stuck","label_in_hours":48}}"#)
            .await;
    assert_eq!(status, 201, "{v}");
    let numbers: Vec<String> = v["tracking_numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    for n in &numbers {
        let old = sim.previous_shipment(n).expect("an older shipment");
        assert_eq!(&old.tracking_number, n);
        let cur = sim.journey(n).unwrap();
        // Long before the current one, which starts 48 h after creation.
        assert!(old.events.last().unwrap().at.to_utc() < t0() - chrono::Duration::days(300));
        assert_eq!(cur.created_at, t0() + chrono::Duration::hours(48));
        // Stuck: its record stops mid-journey.
        assert!(!old.current().unwrap().step.status().is_terminal());
    }
    let (status, v) = post(r#"{"carrier":"fake","count":1,"recycled":{}}"#).await;
    assert_eq!(status, 201, "{v}");
    let n = v["tracking_numbers"][0].as_str().unwrap();
    let old = sim.previous_shipment(n).unwrap();
    assert!(
        old.current().unwrap().step.status().is_terminal(),
        "delivered by default"
    );
    let (status, v) = post(r#"{"carrier":"fake","count":1,"recycled":{"previous":"lost"}}"#).await;
    assert_eq!(status, 400);
    assert_error(&v, "unknown_previous");
    let (status, v) = post(r#"{"carrier":"fake","count":1,"recycled":{"again":true}}"#).await;
    assert_eq!(status, 400, "unknown fields are rejected");
    assert_error(&v, "bad_json");
    // Ordinary parcels have none.
    let plain = sim.create_parcels("fake", 1).unwrap();
    assert!(sim.previous_shipment(&plain[0]).is_none());
    running.shutdown().await;
}
