//! The command line: normalize saved carrier answers, detect numbers, check configs.

use serde_json::Value;
use std::process::Command;

fn trackd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(args)
        .output()
        .expect("trackd runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(path: &str) -> String {
    format!("{}/carriers/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn normalize_prints_the_normalized_snapshot() {
    let (code, out, err) = trackd(&[
        "normalize",
        "--carrier",
        "ups",
        &fixture("ups/fixtures/track_v1_details_delivered.karrio.json"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["tracking_number"], "1Z1442YY7229014688");
    assert_eq!(v[0]["snapshot"]["status"], "delivered");
    assert_eq!(
        v[0]["snapshot"]["checkpoints"][0]["occurred_at"]["offset"], "unknown",
        "UPS local times stay naive"
    );

    let (code, out, err) = trackd(&[
        "normalize",
        "--carrier",
        "canadapost",
        &fixture("canadapost/fixtures/documented_example_delivered.xml"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["snapshot"]["status"], "delivered");
    assert_eq!(
        v[0]["snapshot"]["checkpoints"][0]["occurred_at"]["offset"], "known",
        "EST/EDT give offsets"
    );
}

#[test]
fn normalize_reports_not_found_per_number() {
    let (code, out, err) = trackd(&[
        "normalize",
        "--carrier",
        "ups",
        "--number",
        "1Z5R89390357567127",
        &fixture("ups/fixtures/warning_TW0001_not_found.karrio.json"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["error"]["kind"], "not_found");
}

#[test]
fn normalize_rejects_malformed_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"trackResponse\": {\"shipment\": [").unwrap();
    let (code, _, err) = trackd(&["normalize", "--carrier", "ups", bad_json.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("malformed"), "{err}");
    let bad_xml = dir.path().join("bad.xml");
    std::fs::write(
        &bad_xml,
        "<tracking-detail><pin>1</pin><significant-events><occurrence>",
    )
    .unwrap();
    let (code, _, err) = trackd(&[
        "normalize",
        "--carrier",
        "canadapost",
        "--number",
        "1",
        bad_xml.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("malformed"), "{err}");
    let (code, _, err) = trackd(&[
        "normalize",
        "--carrier",
        "pigeon",
        bad_xml.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown carrier"), "{err}");
    let (code, _, err) = trackd(&["normalize", "--carrier", "ups", "/nonexistent/file"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn detect_names_the_carrier_or_says_why_not() {
    let (code, out, _) = trackd(&["detect", "1z5r 8939 0357 5671 27"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["carrier"], "ups");
    assert_eq!(v["matches"][0]["confidence"], "checksum");
    let (code, out, _) = trackd(&["detect", "1Z5R89390357567128"]);
    assert_eq!(code, 1, "bad check digit: {out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["carrier"].is_null());
}

#[test]
fn check_config_reports_every_error_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.toml");
    std::fs::write(&f, "[server]\nlisten = \"nope\"\n[poll]\njitter = 3\ncolour = 1\n[poll.intervals]\nin_transit = \"1 fortnight\"\n[carriers.pigeon]\nenabled = true\n").unwrap();
    let (code, _, err) = trackd(&["check-config", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    for key in [
        "server.listen",
        "poll.jitter",
        "poll.colour",
        "poll.intervals.in_transit",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
    let ok = dir.path().join("ok.toml");
    std::fs::write(&ok, "[server]\nlisten = \"127.0.0.1:9999\"\n").unwrap();
    let (code, out, err) = trackd(&["check-config", ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration OK"));
    let (code, _, err) = trackd(&[
        "check-config",
        f.to_str()
            .unwrap()
            .replace("t.toml", "missing.toml")
            .as_str(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn shipped_config_file_is_valid() {
    let (code, out, err) = trackd(&[
        "check-config",
        &format!("{}/config/trackd.toml", env!("CARGO_MANIFEST_DIR")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration OK"));
}

/// `trackd demo` registers its parcels in requests of at most `api.max_batch`
/// (with the write token when one is configured), and every parcel is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_registers_in_batches_of_max_batch() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_trackd"))
        .args(["demo", "--listen", "127.0.0.1:0", "--parcels", "250"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("TRACKD_API__MAX_BATCH", "100")
        .env("TRACKD_API__WRITE_TOKENS", "demo-write")
        .env("TRACKD_API__READ_TOKENS", "demo-read")
        .env("TRACKD_LOG__LEVEL", "error")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut progress = Vec::new();
    let mut url = None;
    let mut announced = None;
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(p) = line.strip_prefix("registered ") {
                let (done, total) = p.split_once('/').unwrap();
                progress.push((
                    done.parse::<usize>().unwrap(),
                    total.parse::<usize>().unwrap(),
                ));
            } else if let Some(rest) = line.strip_prefix("trackd demo: ") {
                announced = Some(rest.split(' ').next().unwrap().parse::<usize>().unwrap());
            } else if let Some(u) = line.trim().strip_prefix("event stream:  curl -N ") {
                url = Some(u.trim_end_matches("/v1/events/stream").to_string());
            } else if line.starts_with("Press Ctrl-C") {
                return;
            }
        }
        panic!("the demo ended before it was ready");
    };
    tokio::time::timeout(std::time::Duration::from_secs(300), read)
        .await
        .expect("the demo is ready within the deadline");
    // 250 parcels over 11 carriers: 22 each, plus 3 unknown numbers each.
    let total = 11 * (22 + 3);
    assert_eq!(announced, Some(total));
    let expected: Vec<(usize, usize)> = [100, 200, total].iter().map(|d| (*d, total)).collect();
    assert_eq!(progress, expected, "one line per request of at most 100");

    let url = url.expect("the demo prints its URL");
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/v1/trackers?limit=1000"))
        .bearer_auth("demo-read")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trackers = v["trackers"].as_array().unwrap();
    assert_eq!(trackers.len(), total, "every parcel is registered");
    let refs: std::collections::BTreeSet<&str> = trackers
        .iter()
        .map(|t| t["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), total, "each parcel once");
    assert!(refs.contains("order-ups-0") && refs.contains("typo-gls-2"));

    // SIGTERM: the demo shuts down cleanly.
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait())
        .await
        .expect("the demo stops after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
