//! The daemon process is killed abruptly mid-stream (SIGKILL), restarted on the
//! same data dir, and a consumer resumes with `Last-Event-ID`: no gap, no duplicate.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use trackd_carrier_sdk::Timestamp;

fn write_config(path: &Path, running: &trackd_simulator::RunningSim) {
    let toml = fast_poll_toml("300ms") + &simulated_carriers_toml(running, 200);
    std::fs::write(path, toml).unwrap();
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_sigkill_has_no_gap_and_no_duplicate() {
    let opts = Options::default();
    let (sim, running) = start_sim(&opts).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trackd.toml");
    let data = dir.path().join("data");
    write_config(&config, &running);

    let (mut first, url) = spawn_daemon(&config, &data).await;
    let mut numbers = Vec::new();
    let mut body = Vec::new();
    for slug in running.base_urls.keys() {
        for n in sim.create_parcels(slug, 20).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug }));
            numbers.push(n);
        }
    }
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/trackers"))
        .json(&json!({ "trackers": body }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let consumer = Consumer::connect(&url, None, "").await;
    wait_until(
        Duration::from_secs(120),
        "150 events before the crash",
        || {
            let n = consumer.len();
            async move { n >= 150 }
        },
    )
    .await;
    first.start_kill().unwrap(); // SIGKILL: no flush, no goodbye
    first.wait().await.unwrap();
    let before = consumer.abort();
    let last_seen = before.last().and_then(|e| e.id).unwrap();
    for (i, e) in before.iter().enumerate() {
        assert_eq!(e.id, Some(i as u64 + 1), "consecutive ids before the crash");
    }

    let (mut second, url2) = spawn_daemon(&config, &data).await;
    let resumed = Consumer::connect(&url2, Some(last_seen), "").await;
    wait_until(
        Duration::from_secs(600),
        "every tracker completed after restart",
        || {
            let u = url2.clone();
            let registered = numbers.len();
            async move {
                let v = get_json(&format!("{u}/v1/trackers?limit=1000")).await;
                v["trackers"].as_array().is_some_and(|t| {
                    t.len() == registered && t.iter().all(|t| t["state"] == "completed")
                })
            }
        },
    )
    .await;
    let page = reqwest::get(format!("{url2}/v1/events?after=0&limit=10000"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all: Vec<Value> = page
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last_id = all.last().unwrap()["id"].as_u64().unwrap();
    wait_until(
        Duration::from_secs(60),
        "resumed consumer caught up",
        || {
            let got = resumed.snapshot().last().and_then(|e| e.id);
            async move { got == Some(last_id) }
        },
    )
    .await;
    let after = resumed.snapshot();
    assert_eq!(
        after.first().and_then(|e| e.id),
        Some(last_seen + 1),
        "resume starts right after the cursor"
    );
    let ids: Vec<u64> = before
        .iter()
        .chain(after.iter())
        .filter_map(|e| e.id)
        .collect();
    let want: Vec<u64> = (1..=last_id).collect();
    assert_eq!(ids, want, "no gap and no duplicate across the crash");
    let page_ids: Vec<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(page_ids, want, "the log holds exactly what was streamed");

    // No carrier fact was announced twice across the crash, and none is missing.
    let mut cps: BTreeMap<String, Vec<chrono::NaiveDateTime>> = BTreeMap::new();
    for e in before
        .iter()
        .chain(after.iter())
        .filter(|e| e.event == "checkpoint.added")
    {
        let at = Timestamp::from_wire(
            e.data["data"]["checkpoint"]["occurred_at"]["at"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        cps.entry(e.data["tracking_number"].as_str().unwrap().to_string())
            .or_default()
            .push(at.local());
    }
    for n in &numbers {
        let want: Vec<_> = sim
            .journey(n)
            .unwrap()
            .events
            .iter()
            .map(|p| p.event.at.naive_local())
            .collect();
        assert_eq!(
            cps.get(n),
            Some(&want),
            "{n}: checkpoints across the restart"
        );
    }

    // Graceful stop: SIGTERM ends the stream with a final cursor and exit code 0.
    let pid = second.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(60), second.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "graceful exit, got {exit:?}");
    wait_until(Duration::from_secs(30), "final shutdown message", || {
        let last = resumed.snapshot().last().cloned();
        async move { last.is_some_and(|e| e.event == "shutdown" && e.data["last_event_id"] == last_id) }
    })
    .await;
    for (slug, s) in sim.stats().carriers {
        assert_eq!(s.quota_violations_per_second, 0, "{slug}");
    }
    running.shutdown().await;
}
