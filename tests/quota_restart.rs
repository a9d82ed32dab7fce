//! Quotas survive restarts: the daemon is killed (SIGKILL, sometimes SIGTERM)
//! again and again while its carriers' hourly and daily budgets are tiny. The
//! simulated carriers, which enforce those budgets in real time, must never see
//! one request too many, and the budget must still be spent (not starved).

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use trackd_carrier_sdk::Quota;
use trackd_simulator::{CarrierSetup, SimConfig, Simulator};

/// Carriers under test with (per_hour, per_day): Canada Post's hour and DHL's
/// day are the binding windows. Both authenticate without a token call, so
/// every request the daemon counts is one the simulator counts.
const BUDGETS: [(&str, u32, u32); 2] = [("canadapost", 6, 1_000), ("dhl", 1_000, 8)];
const PER_SECOND: u32 = 5;
const RESTARTS: usize = 14;

fn quota(per_hour: u32, per_day: u32) -> Quota {
    Quota {
        per_second: PER_SECOND,
        per_minute: None,
        per_hour: Some(per_hour),
        per_day: Some(per_day),
    }
}

fn write_config(path: &std::path::Path, running: &trackd_simulator::RunningSim) {
    let mut toml = String::from("[poll.intervals]\n");
    for k in trackd::config::PollIntervals::KEYS {
        toml.push_str(&format!("{k} = \"200ms\"\n"));
    }
    for slug in trackd::carriers::builtin()
        .iter()
        .map(|p| p.descriptor().slug)
    {
        match BUDGETS.iter().find(|(s, _, _)| *s == slug) {
            Some((_, per_hour, per_day)) => toml.push_str(&format!(
                "\n[carriers.{slug}]\nenabled = true\nbase_url = \"{}\"\nclient_id = \"test-client\"\nclient_secret = \"env:TEST_CARRIER_SECRET\"\nper_second = {PER_SECOND}\nper_hour = {per_hour}\nper_day = {per_day}\n",
                running.base_urls[slug]
            )),
            None => toml.push_str(&format!("\n[carriers.{slug}]\nenabled = false\n")),
        }
    }
    std::fs::write(path, toml).unwrap();
}

/// Whether this process sent `carrier` a request, or was refused by the
/// durable ledger because a capped window is full (pacing waits do not count:
/// a poll that waits may still send).
fn asked_for_quota(metrics: &str, carrier: &str) -> bool {
    let carrier = format!("carrier=\"{carrier}\"");
    let sent = metric_sum(metrics, "trackd_carrier_requests_total", &[&carrier]);
    let refused = metric_sum(metrics, "trackd_quota_refusals_total", &[&carrier]);
    sent + refused >= 1.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_of_restarts_exceeds_a_quota_window() {
    let plugins = trackd::carriers::builtin();
    let creds = creds();
    let setups = BUDGETS
        .iter()
        .map(|(slug, per_hour, per_day)| {
            let plugin = plugins
                .iter()
                .find(|p| p.descriptor().slug == *slug)
                .unwrap()
                .clone();
            let mut s = CarrierSetup::new(plugin, creds.clone());
            s.quota = quota(*per_hour, *per_day);
            s
        })
        .collect();
    let sim = Simulator::new(
        SimConfig {
            seed: 5,
            time_scale: 600.0,
            start: chrono::Utc::now(),
            token_ttl: Duration::from_secs(3600),
            control_listen: None,
            number_filter: Some(trackd::demo::unambiguous_numbers()),
        },
        setups,
    );
    let running = sim.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trackd.toml");
    let data = dir.path().join("data");
    write_config(&config, &running);

    for round in 0..RESTARTS {
        let (mut child, url) = spawn_daemon(&config, &data).await;
        if round == 0 {
            let mut body = Vec::new();
            for (slug, _, _) in BUDGETS {
                for n in sim.create_parcels(slug, 6).unwrap() {
                    body.push(json!({ "tracking_number": n, "carrier": slug }));
                }
            }
            let resp = reqwest::Client::new()
                .post(format!("{url}/v1/trackers"))
                .json(&json!({ "trackers": body }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
        }
        // Each process gets to ask for quota on every carrier: it either sent a
        // request or was held back by a window, and only then is it killed.
        wait_until(
            Duration::from_secs(60),
            &format!("round {round}: every carrier asked for quota"),
            || {
                let url = url.clone();
                async move {
                    let Ok(resp) = reqwest::get(format!("{url}/metrics")).await else {
                        return false;
                    };
                    let metrics = resp.text().await.unwrap_or_default();
                    BUDGETS
                        .iter()
                        .all(|(slug, _, _)| asked_for_quota(&metrics, slug))
                }
            },
        )
        .await;
        if round % 4 == 3 {
            let pid = child.id().unwrap().to_string();
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap();
            assert!(status.success());
            tokio::time::timeout(Duration::from_secs(60), child.wait())
                .await
                .expect("exits after SIGTERM")
                .unwrap();
        } else {
            child.start_kill().unwrap(); // SIGKILL: no flush, no goodbye
            child.wait().await.unwrap();
        }
    }

    let stats = sim.stats();
    for (slug, per_hour, per_day) in BUDGETS {
        let s = &stats.carriers[slug];
        eprintln!("{slug}: {s:?}");
        assert_eq!(
            s.quota_violations_per_window, 0,
            "{slug}: hourly cap exceeded"
        );
        assert_eq!(s.quota_violations_per_day, 0, "{slug}: daily cap exceeded");
        assert_eq!(
            s.quota_violations_per_second, 0,
            "{slug}: per-second rate exceeded"
        );
        let cap = per_hour.min(per_day) as u64;
        assert!(
            s.track_requests <= cap,
            "{slug}: {} requests against a cap of {cap}",
            s.track_requests
        );
        // Not starved: a crash may waste the one request it had reserved, but
        // most of the budget is still spent across the restarts.
        assert!(
            s.track_requests * 2 >= cap,
            "{slug}: only {} of {cap} requests spent",
            s.track_requests
        );
    }
    running.shutdown().await;
}
