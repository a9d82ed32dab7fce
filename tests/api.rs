//! Bad input never half-applies and always gets a clear JSON error; bad carrier
//! answers (malformed bodies, 5xx, 429) are errors, not losses.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use trackd_simulator::FaultConfig;

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str, field: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{body}");
    }
}

async fn raw_post(h: &Harness, path: &str, body: &'static str) -> (u16, Value) {
    let r = h
        .http
        .post(format!("{}{path}", h.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let h = Harness::start(Options {
        time_scale: 1.0,
        ..Options::default()
    })
    .await;
    let ups = h.sim.create_parcels("ups", 2).unwrap();

    let (s, b) = raw_post(&h, "/v1/trackers", "{not json").await;
    assert_error(s, &b, 400, "invalid_json", None);
    let (s, b) = raw_post(&h, "/v1/trackers", "").await;
    assert_error(s, &b, 400, "empty_body", None);
    let (s, b) = raw_post(&h, "/v1/trackers", "42").await;
    assert_error(s, &b, 400, "invalid_body", None);
    let (s, b) = h.post("/v1/trackers", &json!({ "carrier": "ups" })).await;
    assert_error(s, &b, 422, "invalid_field", Some("tracking_number"));
    let (s, b) = h
        .post("/v1/trackers", &json!({ "tracking_number": "1Z!!" }))
        .await;
    assert_error(s, &b, 422, "invalid_field", Some("tracking_number"));
    let (s, b) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": "123", "colour": "red" }),
        )
        .await;
    assert_error(s, &b, 422, "invalid_field", Some(".colour"));
    let (s, b) = h
        .post("/v1/trackers", &json!({ "tracking_number": "XYZ123" }))
        .await;
    assert_error(s, &b, 422, "invalid_field", Some("carrier"));
    let (s, b) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": ups[0], "carrier": "pigeon" }),
        )
        .await;
    assert_error(s, &b, 422, "invalid_field", Some("carrier"));
    let (s, b) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": ups[0], "labels": "vip" }),
        )
        .await;
    assert_error(s, &b, 422, "invalid_field", Some("labels"));

    // One bad item in a batch: 422 naming it, and nothing registered at all.
    let batch = json!({ "trackers": [
        { "tracking_number": ups[0], "carrier": "ups" },
        { "tracking_number": ups[1], "carrier": "nope" },
    ]});
    let (s, b) = h.post("/v1/trackers", &batch).await;
    assert_error(s, &b, 422, "invalid_field", Some("trackers[1].carrier"));
    let (s, b) = h.get("/v1/trackers").await;
    assert_eq!(s, 200);
    assert_eq!(
        b["trackers"].as_array().unwrap().len(),
        0,
        "nothing half-applied: {b}"
    );
    let (s, b) = h.get("/v1/events?after=0").await;
    assert_eq!(
        (s, b),
        (200, Value::String(String::new())),
        "no event for a rejected batch"
    );

    // Too large a batch.
    let big: Vec<Value> = (0..10_001)
        .map(|i| json!({ "tracking_number": format!("X{i}"), "carrier": "ups" }))
        .collect();
    let (s, b) = h.post("/v1/trackers", &json!({ "trackers": big })).await;
    assert_error(s, &b, 413, "batch_too_large", Some("trackers"));

    // Idempotent registration.
    let (s, first) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": ups[0].to_lowercase(), "reference": "o-1" }),
        )
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["carrier"], "ups", "detected from the number");
    assert_eq!(
        first["tracking_number"],
        ups[0].as_str(),
        "normalized to upper case"
    );
    let (s, again) = h
        .post(
            "/v1/trackers",
            &json!({ "tracking_number": ups[0], "carrier": "ups" }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["created"], false);
    let id = first["id"].as_str().unwrap().to_string();

    // Trackers: lookups and filters.
    let (s, b) = h.get(&format!("/v1/trackers/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(b["reference"], "o-1");
    let (s, b) = h.get("/v1/trackers/trk_ffffff").await;
    assert_error(s, &b, 404, "not_found", None);
    let (s, b) = h.get("/v1/trackers/nonsense").await;
    assert_error(s, &b, 404, "not_found", Some("id"));
    let (s, b) = h.get("/v1/trackers?status=lost").await;
    assert_error(s, &b, 422, "invalid_field", Some("status"));
    let (s, b) = h.get("/v1/trackers?reference=o-1").await;
    assert_eq!(s, 200);
    assert_eq!(b["trackers"].as_array().unwrap().len(), 1);

    // Events: bad cursors and filters.
    let (s, b) = h.get("/v1/events?after=abc").await;
    assert_error(s, &b, 422, "invalid_field", Some("after"));
    let (s, b) = h.get("/v1/events?type=parcel.exploded").await;
    assert_error(s, &b, 422, "invalid_field", Some("type"));
    let (s, b) = h.get("/v1/events?colour=red").await;
    assert_error(s, &b, 422, "invalid_field", Some("colour"));
    let (s, b) = h.get("/v1/events?after=999999").await;
    assert_error(s, &b, 400, "cursor_ahead", Some("after"));
    let r = h
        .http
        .get(format!("{}/v1/events/stream", h.url))
        .header("Last-Event-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let (s, b) = h.get("/v1/nothing").await;
    assert_error(s, &b, 404, "no_route", None);

    // Refresh and delete.
    let r = h
        .http
        .post(format!("{}/v1/trackers/{id}/refresh", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = h
        .http
        .delete(format!("{}/v1/trackers/{id}", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = h
        .http
        .delete(format!("{}/v1/trackers/{id}", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Retention: a cursor older than what is kept is a clear 410, not silence.
    let core = h.daemon().core().clone();
    let deleted = core
        .store
        .apply_retention(chrono::Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(deleted > 0);
    let (s, b) = h.get("/v1/events?after=0").await;
    assert_error(s, &b, 410, "cursor_expired", Some("after"));
    let (_, floor) = core.store.cursors().await.unwrap();
    let (s, _) = h.get(&format!("/v1/events?after={floor}")).await;
    assert_eq!(s, 200);

    // Health endpoints.
    assert_eq!(h.get("/healthz").await.0, 200);
    let (s, b) = h.get("/readyz").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ready")));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_reads_and_writes() {
    let h = Harness::start(Options {
        time_scale: 1.0,
        write_tokens: vec!["w-token"],
        read_tokens: vec!["r-token"],
        ..Options::default()
    })
    .await;
    let n = h.sim.create_parcels("canadapost", 1).unwrap().remove(0);
    let body = json!({ "tracking_number": n });
    let post = |tok: Option<&'static str>| {
        let mut r = h.http.post(format!("{}/v1/trackers", h.url)).json(&body);
        if let Some(t) = tok {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some("r-token")).await.unwrap().status(), 403);
    assert_eq!(post(Some("nope")).await.unwrap().status(), 403);
    assert_eq!(post(Some("w-token")).await.unwrap().status(), 201);
    let get = |tok: Option<&'static str>| {
        let mut r = h.http.get(format!("{}/v1/events?after=0", h.url));
        if let Some(t) = tok {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("r-token")).await.unwrap().status(), 200);
    assert_eq!(get(Some("w-token")).await.unwrap().status(), 200);
    assert_eq!(h.get("/healthz").await.0, 200, "health stays open");
    assert_eq!(
        h.http
            .get(format!("{}/metrics", h.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_carrier_answers_are_typed_errors_and_lose_nothing() {
    let h = Harness::start(Options::default()).await;
    // Every UPS answer is truncated garbage; Canada Post answers 5xx half the time and 429 sometimes.
    h.sim
        .set_faults(
            "ups",
            FaultConfig {
                malformed: 1.0,
                ..FaultConfig::default()
            },
        )
        .unwrap();
    h.sim
        .set_faults(
            "canadapost",
            FaultConfig {
                server_error: 0.4,
                rate_limited: 0.1,
                ..FaultConfig::default()
            },
        )
        .unwrap();
    let mut numbers = Vec::new();
    let mut body = Vec::new();
    for slug in ["ups", "canadapost"] {
        for n in h.sim.create_parcels(slug, 10).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug }));
            numbers.push(n);
        }
    }
    let (s, b) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(s, 201, "{b}");
    let consumer = Consumer::connect(&h.url, None, "").await;

    // Malformed UPS answers become one carrier.error per tracker, and are counted.
    wait_until(
        Duration::from_secs(120),
        "malformed errors reported for every UPS tracker",
        || {
            let evs = consumer.snapshot();
            async move {
                evs.iter()
                    .filter(|e| e.event == "carrier.error" && e.data["data"]["kind"] == "malformed")
                    .count()
                    >= 10
            }
        },
    )
    .await;
    let metrics = h.text("/metrics").await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("trackd_parse_errors_total{carrier=\"ups\"}") && !l.ends_with(" 0")
        ),
        "parse errors counted"
    );
    let (_, t) = h.get("/v1/trackers?carrier=ups").await;
    assert!(
        t["trackers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["last_error"] == "malformed" && t["status"] == "pending")
    );

    // The carrier recovers: everything it says is delivered, nothing lost.
    h.sim.set_faults("ups", FaultConfig::default()).unwrap();
    let last_event_time = numbers
        .iter()
        .map(|n| h.sim.journey(n).unwrap().events.last().unwrap().event.at)
        .max()
        .unwrap();
    wait_until(
        Duration::from_secs(600),
        "all trackers completed despite faults",
        || {
            let u = h.url.clone();
            let sim_now = h.sim.clock().now();
            async move {
                let v: Value = reqwest::get(format!("{u}/v1/trackers?limit=100"))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                sim_now > last_event_time
                    && v["trackers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|t| t["state"] == "completed")
            }
        },
    )
    .await;
    h.wait_consumer_caught_up(&consumer).await;
    let events = consumer.snapshot();
    for n in &numbers {
        let cps = events
            .iter()
            .filter(|e| e.event == "checkpoint.added" && e.data["tracking_number"] == n.as_str())
            .count();
        assert_eq!(
            cps,
            h.sim.journey(n).unwrap().events.len(),
            "{n}: every checkpoint delivered once"
        );
    }
    let metrics = h.text("/metrics").await;
    assert!(
        metrics.contains("trackd_carrier_rate_limited_total{carrier=\"canadapost\"}"),
        "429s counted"
    );
    for (slug, s) in h.sim.stats().carriers {
        assert_eq!(s.quota_violations_per_second, 0, "{slug}");
        if ["ups", "canadapost"].contains(&slug.as_str()) {
            assert!(s.faults_injected > 0, "{slug}: faults were exercised");
        }
    }
    h.stop().await;
}

/// A daemon with a small body limit and a short request deadline, so both
/// rejections can be provoked cheaply.
async fn limited_daemon(
    max_body_bytes: usize,
    request_timeout: Duration,
) -> (
    trackd_simulator::Simulator,
    trackd_simulator::RunningSim,
    trackd::daemon::Daemon,
    tempfile::TempDir,
) {
    let opts = Options {
        time_scale: 1.0,
        ..Options::default()
    };
    let (sim, running) = start_sim(&opts).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(&running, dir.path(), &opts);
    cfg.api.max_body_bytes = max_body_bytes;
    cfg.api.request_timeout = request_timeout;
    cfg.api.stream_heartbeat = Duration::from_millis(300);
    let daemon = trackd::daemon::Daemon::start(cfg, std::sync::Arc::new(sim.clock()))
        .await
        .unwrap();
    (sim, running, daemon, dir)
}

async fn json_of(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    assert_eq!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        "application/json",
        "status {status}: every error is JSON"
    );
    (status, headers, r.json().await.unwrap())
}

/// Sends raw bytes on one connection and reads the whole answer (the server
/// closes the connection after it answers an unfinished request).
async fn raw_exchange(url: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), conn.read_to_end(&mut answer))
        .await
        .expect("the daemon answers and closes within the deadline")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// `raw_exchange`, checked to be a JSON answer: its status and body.
async fn raw_json_answer(url: &str, request: &[u8]) -> (u16, Value) {
    let answer = raw_exchange(url, request).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line in {head}"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_are_the_json_error_contract() {
    let (_sim, running, daemon, _dir) = limited_daemon(1024, Duration::from_millis(500)).await;
    let url = daemon.url();
    let http = reqwest::Client::new();

    // Wrong method: 405 with its Allow header, in the contract.
    let (s, h, b) = json_of(http.put(format!("{url}/v1/trackers")).send().await.unwrap()).await;
    assert_error(s, &b, 405, "method_not_allowed", None);
    let allow = h["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let (s, _, b) = json_of(http.post(format!("{url}/healthz")).send().await.unwrap()).await;
    assert_error(s, &b, 405, "method_not_allowed", None);

    // Body over api.max_body_bytes, announced by Content-Length (refused before it is
    // read) or streamed in chunks (cut while it is read). Raw requests written at once
    // and small enough for the server's first read, so it never closes on unread bytes.
    let body = format!(
        "{{\"trackers\": [{}]}}",
        vec!["{\"tracking_number\": \"1Z0000000000000000\"}"; 60].join(",")
    );
    assert!(body.len() > 1024 && body.len() < 4096);
    let by_length = format!(
        "POST /v1/trackers HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let chunked = format!(
        "POST /v1/trackers HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    for request in [by_length, chunked] {
        let (s, b) = raw_json_answer(&url, request.as_bytes()).await;
        assert_error(s, &b, 413, "body_too_large", None);
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("api.max_body_bytes (1024 bytes)"),
            "{b}"
        );
    }

    // Not JSON, or no content type at all: 415.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = http
            .post(format!("{url}/v1/trackers"))
            .body("{\"tracking_number\": \"1Z\"}");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (s, _, b) = json_of(req.send().await.unwrap()).await;
        assert_error(s, &b, 415, "unsupported_media_type", None);
    }

    // A path segment that does not decode: 400 naming it.
    let (s, _, b) = json_of(
        http.get(format!("{url}/v1/trackers/%FF"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 400, "invalid_path", Some("id"));
    // Query strings decode leniently (bad UTF-8 becomes U+FFFD); their values are
    // then checked by the handlers, field by field.
    let (s, _, b) = json_of(
        http.get(format!("{url}/v1/trackers?status=%FF"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 422, "invalid_field", Some("status"));
    let (s, _, b) = json_of(
        http.get(format!("{url}/v1/events?limit=abc"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 422, "invalid_field", Some("limit"));

    // Unknown route, unknown nested route.
    for path in ["/nothing", "/v1/trackers/trk_1/nothing"] {
        let (s, _, b) = json_of(http.get(format!("{url}{path}")).send().await.unwrap()).await;
        assert_error(s, &b, 404, "no_route", None);
    }

    // A client that never finishes its body: 408 after api.request_timeout.
    let (s, b) = raw_json_answer(
        &url,
        b"POST /v1/trackers HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"tracking",
    )
    .await;
    assert_error(s, &b, 408, "request_timeout", None);

    // The stream outlives api.request_timeout: heartbeats keep coming long after it.
    let resp = http
        .get(format!("{url}/v1/events/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let opened = tokio::time::Instant::now();
    let mut heartbeats = 0;
    while heartbeats < 5 {
        let chunk = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("the stream keeps sending")
            .expect("the stream stays open")
            .unwrap();
        heartbeats += String::from_utf8_lossy(&chunk).matches("heartbeat").count();
    }
    assert!(
        opened.elapsed() > Duration::from_millis(500),
        "5 heartbeats 300ms apart span more than the 500ms request timeout"
    );

    // Successful non-JSON answers are left alone.
    let r = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    daemon.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_with_long_fields_fits_the_default_body_limit() {
    let h = Harness::start(Options {
        time_scale: 1.0,
        ..Options::default()
    })
    .await;
    let core = h.daemon().core().clone();
    let max = core.config.api.max_batch;
    assert_eq!(max, 10_000, "the default max_batch");
    // max_batch trackers with full-length numbers, references and a few labels,
    // the last one naming an unknown carrier so nothing is registered (and polled).
    let mut items: Vec<Value> = (0..max)
        .map(|i| {
            json!({
                "tracking_number": format!("{i:0>64}"),
                "carrier": "ups",
                "reference": format!("{i:x<256}"),
                "labels": ["priority", "customer-42", format!("{i:y<64}")],
            })
        })
        .collect();
    items[max - 1]["carrier"] = json!("pigeon");
    let body = json!({ "trackers": items }).to_string();
    assert!(
        body.len() > 2 * 1024 * 1024,
        "larger than axum's 2 MB default"
    );
    assert!(body.len() < core.config.api.max_body_bytes);
    let r = h
        .http
        .post(format!("{}/v1/trackers", h.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let b: Value = r.json().await.unwrap();
    // Read and validated to the last item: the body was not cut.
    assert_error(
        status,
        &b,
        422,
        "invalid_field",
        Some(&format!("trackers[{}].carrier", max - 1)),
    );
    h.stop().await;
}
