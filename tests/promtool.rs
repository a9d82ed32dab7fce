//! `/metrics` passes a real Prometheus `promtool check metrics` (CI installs
//! Debian's `prometheus` package; locally the test says so when promtool is absent).

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn promtool() -> Option<&'static str> {
    Command::new("promtool")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "promtool")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let Some(tool) = promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool must be installed in CI (.ci/run installs it)"
        );
        eprintln!(
            "promtool not installed: install Debian's `prometheus` package to run this check"
        );
        return;
    };
    let h = Harness::start(Options::default()).await;
    let mut body = Vec::new();
    for slug in ["ups", "canadapost"] {
        for n in h.sim.create_parcels(slug, 5).unwrap() {
            body.push(json!({ "tracking_number": n }));
        }
    }
    let (s, _) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(s, 201);
    let url = h.url.clone();
    wait_until(
        Duration::from_secs(120),
        "checkpoint events counted",
        || {
            let u = url.clone();
            async move {
                let m = reqwest::get(format!("{u}/metrics"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                m.contains("trackd_events_total{type=\"checkpoint.added\"}")
                    && m.contains("trackd_carrier_request_duration_seconds_bucket")
            }
        },
    )
    .await;
    let metrics = reqwest::get(format!("{}/metrics", h.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut child = Command::new(tool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
    // No tracking number or tracker id ever becomes a label.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("trk_") && !line.contains("1Z"),
            "identifier in a metric label: {line}"
        );
    }
    h.stop().await;
}
