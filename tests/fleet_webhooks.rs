//! Webhooks in fleet mode: two `trackd run` processes on one PostgreSQL database.
//! The instance delivering (it holds shard 0) is SIGKILLed mid-delivery; the other
//! takes shard 0 over and continues from the same stored cursor: every event
//! delivered, signed, per tracker in order, nothing lost.

mod common;

use common::receiver::{Answer, Receiver, check_deliveries, verify_symmetric};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_continues_deliveries_from_the_same_cursor() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let opts = Options {
        time_scale: 8_000.0,
        ..Options::default()
    };
    let (sim, running) = start_sim(&opts).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trackd.toml");
    let toml = format!(
        "[storage]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n\n[fleet]\nshards = 8\nlease_ttl = \"3s\"\nheartbeat = \"1s\"\n\n[webhooks]\nallow_http = true\nallow_networks = [\"127.0.0.0/8\"]\nretry_schedule = [\"100ms\", \"200ms\", \"400ms\", \"800ms\", \"1s\", \"1s\", \"1s\", \"1s\"]\ntimeout = \"5s\"\n\n{}{}",
        db.url,
        fast_poll_toml("300ms"),
        simulated_carriers_toml(&running, opts.per_second)
    );
    std::fs::write(&config, toml).unwrap();
    let mut instances = Vec::new();
    for i in 0..2 {
        instances.push(spawn_daemon(&config, &dir.path().join(format!("data{i}"))).await);
    }
    let urls: Vec<String> = instances.iter().map(|(_, u)| u.clone()).collect();
    let http = reqwest::Client::new();
    let rx = Receiver::start(Answer::status(200).delay(Duration::from_millis(10))).await;
    // Created through instance 1; whichever holds shard 0 delivers.
    let created: Value = http
        .post(format!("{}/v1/webhooks", urls[1]))
        .json(&json!({ "url": rx.url }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    );
    let mut body = Vec::new();
    for slug in running.base_urls.keys() {
        for n in sim.create_parcels(slug, 15).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug }));
        }
    }
    let registered = body.len();
    let resp = http
        .post(format!("{}/v1/trackers", urls[0]))
        .json(&json!({ "trackers": body }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    wait_until(Duration::from_secs(300), "200 deliveries", || {
        let n = rx.accepted().len();
        async move { n >= 200 }
    })
    .await;

    // The delivering instance is the one exporting the endpoint's backlog.
    let backlog = format!("trackd_webhook_backlog_events{{endpoint=\"{id}\"}}");
    let mut delivering = None;
    for (i, url) in urls.iter().enumerate() {
        if metrics(url).await.contains(&backlog) {
            delivering = Some(i);
        }
    }
    let delivering = delivering.expect("one instance delivers");
    let survivor = urls[1 - delivering].clone();
    let (mut killed, _) = instances.remove(delivering);
    killed.start_kill().unwrap(); // SIGKILL mid-delivery
    killed.wait().await.unwrap();
    let before = rx.accepted().len();

    wait_until(Duration::from_secs(300), "the survivor delivers", || {
        let (url, backlog) = (survivor.clone(), backlog.clone());
        async move { metrics(&url).await.contains(&backlog) }
    })
    .await;
    wait_until(Duration::from_secs(600), "every tracker completed", || {
        let (http, url) = (http.clone(), survivor.clone());
        async move {
            let mut n = 0;
            let mut cursor = String::new();
            loop {
                let v: Value = http
                    .get(format!("{url}/v1/trackers?limit=1000{cursor}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let page = v["trackers"].as_array().cloned().unwrap_or_default();
                if !page.iter().all(|t| t["state"] == "completed") {
                    return false;
                }
                n += page.len();
                match v["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            n == registered
        }
    })
    .await;
    let log = event_log(&survivor).await;
    let total = log.len();
    rx.wait_distinct(total, "every event delivered").await;
    let got = rx.accepted();
    for r in &got {
        verify_symmetric(&secret, r);
    }
    check_deliveries(&got, &log, |_| true);
    eprintln!(
        "{before} delivered before the kill, {} after, {total} events",
        got.len() - before
    );
    db.drop_now().await;
}
