//! Webhooks end to end, against real HTTP receivers on loopback (allowed through
//! `webhooks.allow_networks`): every event of a simulator run delivered, signed
//! (checked with the independent `standardwebhooks` crate and with ed25519-dalek),
//! per tracker in order with no gap; a receiver that fails, rate-limits and recovers;
//! replays; key rotation; SSRF refusals; failing and gone endpoints disabled.

mod common;

use base64::Engine as _;
use common::receiver::{
    Answer, Receipt, Receiver, check_deliveries, reference_verifies, verify_symmetric,
};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use trackd::config::Config;

/// Loopback receivers allowed, quick retries.
fn allow_loopback(cfg: &mut Config) {
    cfg.webhooks.allow_http = true;
    cfg.webhooks.allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
    cfg.webhooks.retry_schedule = [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000]
        .map(Duration::from_millis)
        .to_vec();
    cfg.webhooks.timeout = Duration::from_secs(5);
}

async fn send(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = h.http.request(method, format!("{}{path}", h.url));
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn register_parcels(h: &Harness, per_carrier: usize) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut body = Vec::new();
    let slugs: Vec<String> = h
        .running
        .as_ref()
        .unwrap()
        .base_urls
        .keys()
        .cloned()
        .collect();
    for slug in slugs {
        for n in h.sim.create_parcels(&slug, per_carrier).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug, "reference": format!("order-{n}"), "labels": ["vip"] }));
            numbers.push(n);
        }
    }
    let (status, v) = h.post("/v1/trackers", &json!({ "trackers": body })).await;
    assert_eq!(status, 201, "{v}");
    numbers
}

async fn wait_all_completed(h: &Harness, registered: usize) {
    wait_until(
        Duration::from_secs(600),
        "every tracker completed",
        || async {
            let (_, v) = h.get("/v1/trackers?limit=1000").await;
            v["trackers"].as_array().is_some_and(|t| {
                t.len() == registered && t.iter().all(|t| t["state"] == "completed")
            })
        },
    )
    .await;
}

/// Every event in the log, as the stream serves it.
async fn log(h: &Harness) -> Vec<Value> {
    h.daemon().core().store.flush().await.unwrap();
    h.text("/v1/events?after=0&limit=10000")
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify_ed25519(public_key: &str, r: &Receipt) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key: [u8; 32] = b64
        .decode(public_key.strip_prefix("whpk_").unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
    let signed = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    let ok = r
        .signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1a,"))
        .any(|sig| {
            let sig: [u8; 64] = b64.decode(sig).unwrap().try_into().unwrap();
            key.verify_strict(
                signed.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&sig),
            )
            .is_ok()
        });
    assert!(ok, "delivery {} has no valid v1a signature", r.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_delivered_signed_in_order_through_failures_and_replays() {
    let h = Harness::start_with(Options::default(), allow_loopback).await;
    let healthy = Receiver::start(Answer::status(200)).await;
    let flaky = Receiver::start(Answer::status(204)).await;
    // The flaky receiver fails, rate-limits the whole endpoint once, then recovers.
    flaky.script((0..30).map(|_| Answer::status(500)));
    flaky.script([
        Answer::status(429).header("retry-after", "1"),
        Answer::status(503),
    ]);

    let (status, a) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": healthy.url, "description": "all events" })),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let secret = a["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (status, b) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": flaky.url, "signing": "ed25519", "event_types": ["status.*", "tracker.completed"], "labels": ["vip"], "reference_prefix": "order-" })),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let public_key = b["public_key"].as_str().unwrap().to_string();
    assert!(
        b.get("secret").is_none(),
        "an ed25519 endpoint has no shared secret"
    );
    let (a_id, b_id) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );

    let numbers = register_parcels(&h, 4).await;
    wait_all_completed(&h, numbers.len()).await;
    let log = log(&h).await;
    let total = log.len();
    let b_wants = |e: &Value| {
        let t = e["type"].as_str().unwrap();
        t.starts_with("status.") || t == "tracker.completed"
    };
    let b_total = log.iter().filter(|e| b_wants(e)).count();
    healthy
        .wait_distinct(total, "endpoint A received everything")
        .await;
    flaky
        .wait_distinct(b_total, "endpoint B received everything")
        .await;

    let a_got = healthy.accepted();
    for r in &a_got {
        verify_symmetric(&secret, r);
    }
    check_deliveries(&a_got, &log, |_| true);
    let b_got = flaky.accepted();
    for r in &flaky.receipts() {
        verify_ed25519(&public_key, r);
    }
    check_deliveries(&b_got, &log, b_wants);
    let statuses: Vec<u16> = flaky.receipts().iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..32].iter().filter(|s| **s == 500).count(), &30);

    // The delivery log shows the failures and the recovery, newest first, paged
    // (once the last attempts are written: they are written every 200 ms).
    wait_until(
        Duration::from_secs(30),
        "the delivery log complete",
        || async {
            let (_, page) = h
                .get(&format!("/v1/webhooks/{b_id}/deliveries?limit=1000"))
                .await;
            page["deliveries"].as_array().is_some_and(|d| {
                d.iter().filter(|d| d["settled"] == "delivered").count() == b_total
            })
        },
    )
    .await;
    let (status, page) = h
        .get(&format!("/v1/webhooks/{b_id}/deliveries?limit=10"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 10);
    let mut all = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let (_, page) = h
            .get(&format!("/v1/webhooks/{b_id}/deliveries?limit=100{q}"))
            .await;
        all.extend(page["deliveries"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let outcomes: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, d| {
        *m.entry(d["outcome"].as_str().unwrap().to_string())
            .or_default() += 1;
        m
    });
    assert_eq!(outcomes.get("http_error"), Some(&30), "{outcomes:?}");
    assert_eq!(outcomes.get("rate_limited"), Some(&2), "{outcomes:?}");
    assert_eq!(
        all.iter().filter(|d| d["settled"] == "delivered").count(),
        b_total
    );
    let ids: Vec<u64> = all.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no row twice across pages"
    );

    // Replays: a dry run counts, a real one re-sends with the same ids and sequences.
    let before = healthy.receipts().len();
    let (status, dry) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{a_id}/replay"),
        Some(&json!({ "after": 0, "until": 10, "dry_run": true })),
    )
    .await;
    assert_eq!((status, dry["matched"].as_u64()), (200, Some(10)), "{dry}");
    assert_eq!(healthy.receipts().len(), before, "a dry run sends nothing");
    let (status, dry) = send(&h, reqwest::Method::POST, &format!("/v1/webhooks/{b_id}/replay"), Some(&json!({ "event_ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], "dry_run": true }))).await;
    let b_in_15 = log.iter().take(15).filter(|e| b_wants(e)).count() as u64;
    assert_eq!(
        (status, dry["matched"].as_u64()),
        (200, Some(b_in_15)),
        "{dry}"
    );
    let first_at = log[0]["emitted_at"].as_str().unwrap();
    let (status, dry) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{a_id}/replay"),
        Some(&json!({ "since": first_at, "dry_run": true })),
    )
    .await;
    assert_eq!(
        (status, dry["matched"].as_u64()),
        (200, Some(total as u64)),
        "{dry}"
    );
    let (status, queued) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{a_id}/replay"),
        Some(&json!({ "after": 0, "until": 10 })),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["matched"], 10);
    wait_until(Duration::from_secs(60), "the replay arrived", || {
        let n = healthy.receipts().len();
        async move { n >= before + 10 }
    })
    .await;
    let original: HashMap<String, String> = a_got
        .iter()
        .map(|r| (r.id.clone(), r.body.clone()))
        .collect();
    let replayed = &healthy.receipts()[before..];
    let mut replayed_ids: Vec<u64> = replayed.iter().map(|r| r.id.parse().unwrap()).collect();
    for r in replayed {
        verify_symmetric(&secret, r);
        assert_eq!(
            original[&r.id], r.body,
            "a replay carries the same message (id, sequence, previous id)"
        );
    }
    replayed_ids.sort_unstable();
    assert_eq!(replayed_ids, (1..=10).collect::<Vec<u64>>());
    // The same replay again is a new replay (its own id), sent again.
    let (status, again) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{a_id}/replay"),
        Some(&json!({ "after": 0, "until": 10 })),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_ne!(again["replay_id"], queued["replay_id"]);
    wait_until(Duration::from_secs(60), "the second replay arrived", || {
        let n = healthy.receipts().len();
        async move { n >= before + 20 }
    })
    .await;

    let m = metrics(&h.url).await;
    assert!(
        metric_sum(
            &m,
            "trackd_webhook_deliveries_total",
            &["outcome=\"delivered\""]
        ) >= (total + b_total + 10) as f64
    );
    assert_eq!(
        metric_sum(
            &m,
            "trackd_webhook_attempts_total",
            &["outcome=\"http_error\""]
        ),
        30.0
    );
    assert_eq!(
        metric_sum(&m, "trackd_webhook_endpoints", &["state=\"enabled\""]),
        2.0
    );
    let label = format!("endpoint=\"{a_id}\"");
    wait_metric(
        &h.url,
        "trackd_webhook_backlog_events",
        &label,
        0.0,
        "endpoint A's backlog drained",
    )
    .await;
    // The replay lanes finish and are gone; the live cursor is at the log's end.
    wait_until(Duration::from_secs(30), "the replays finished", || async {
        let (_, got) = h.get(&format!("/v1/webhooks/{a_id}")).await;
        got["cursor"].as_u64() == Some(total as u64) && got["replays"] == json!([])
    })
    .await;
    h.stop().await;
}

/// The `[webhooks]` table of a child daemon's config file: loopback allowed, quick retries.
const WEBHOOKS_TOML: &str = "\n[webhooks]\nallow_http = true\nallow_networks = [\"127.0.0.0/8\"]\nretry_schedule = [\"100ms\", \"200ms\", \"400ms\", \"800ms\", \"1s\", \"1s\", \"1s\", \"1s\"]\ntimeout = \"5s\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_nothing_and_resumes_from_the_cursor() {
    let opts = Options::default();
    let (sim, running) = start_sim(&opts).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trackd.toml");
    let data = dir.path().join("data");
    let toml = fast_poll_toml("300ms") + &simulated_carriers_toml(&running, 200) + WEBHOOKS_TOML;
    std::fs::write(&config, toml).unwrap();
    // A slow receiver, so the kill lands with deliveries in flight and a backlog.
    let rx = Receiver::start(Answer::status(200).delay(Duration::from_millis(15))).await;
    let http = reqwest::Client::new();

    let (mut first, url) = spawn_daemon(&config, &data).await;
    let created: Value = http
        .post(format!("{url}/v1/webhooks"))
        .json(&json!({ "url": rx.url }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let mut body = Vec::new();
    let mut registered = 0;
    for slug in running.base_urls.keys() {
        for n in sim.create_parcels(slug, 10).unwrap() {
            body.push(json!({ "tracking_number": n, "carrier": slug }));
            registered += 1;
        }
    }
    let resp = http
        .post(format!("{url}/v1/trackers"))
        .json(&json!({ "trackers": body }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    wait_until(
        Duration::from_secs(120),
        "300 deliveries before the crash",
        || {
            let n = rx.accepted().len();
            async move { n >= 300 }
        },
    )
    .await;
    first.start_kill().unwrap(); // SIGKILL: nothing flushed, deliveries in flight
    first.wait().await.unwrap();
    let before_kill = rx.accepted().len();

    let (_second, url) = spawn_daemon(&config, &data).await;
    wait_until(
        Duration::from_secs(600),
        "every tracker completed after the restart",
        || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let v: Value = http
                    .get(format!("{url}/v1/trackers?limit=1000"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v["trackers"].as_array().is_some_and(|t| {
                    t.len() == registered && t.iter().all(|t| t["state"] == "completed")
                })
            }
        },
    )
    .await;
    let log = event_log(&url).await;
    let total = log.len();
    rx.wait_distinct(total, "every event delivered after the restart")
        .await;
    let got = rx.accepted();
    for r in &got {
        verify_symmetric(&secret, r);
    }
    // Nothing lost; anything sent twice is the same message (at least once, same webhook-id).
    check_deliveries(&got, &log, |_| true);
    let resent = got.len() - got.iter().map(|r| &r.id).collect::<BTreeSet<_>>().len();
    eprintln!(
        "{before_kill} delivered before the kill, {total} events in all, {resent} sent again after it"
    );
    assert!(
        resent <= 16 + 200,
        "a restart resends at most what was in flight or not yet recorded ({resent})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_signs_with_both_keys_during_the_overlap_only() {
    let h = Harness::start_with(Options::default(), allow_loopback).await;
    let rx = Receiver::start(Answer::status(200)).await;
    let (_, e) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": rx.url })),
    )
    .await;
    let (id, old) = (
        e["id"].as_str().unwrap().to_string(),
        e["secret"].as_str().unwrap().to_string(),
    );
    let (status, t) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!((status, &t["delivered"]), (200, &json!(true)), "{t}");
    assert_eq!(rx.receipts()[0].signature.split(' ').count(), 1);

    let (status, r) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/rotate"),
        Some(&json!({ "overlap": "1h" })),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let new = r["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(r["previous_expires_at"].is_string());
    send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    let during = rx.receipts()[1].clone();
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "old and new keys both sign during the overlap"
    );
    verify_symmetric(&old, &during);
    verify_symmetric(&new, &during);
    assert_eq!(during.json()["type"], "webhook.test");
    assert!(during.id.starts_with("test_"));

    // A rotation without overlap retires every previous key at once.
    let (_, r) = send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/rotate"),
        Some(&json!({ "overlap": "0s" })),
    )
    .await;
    let newest = r["secret"].as_str().unwrap().to_string();
    send(
        &h,
        reqwest::Method::POST,
        &format!("/v1/webhooks/{id}/test"),
        None,
    )
    .await;
    let after = rx.receipts()[2].clone();
    assert_eq!(after.signature.split(' ').count(), 1);
    verify_symmetric(&newest, &after);
    assert!(
        reference_verifies(&new, &after).is_err(),
        "the retired key no longer signs"
    );
    let (_, got) = h.get(&format!("/v1/webhooks/{id}")).await;
    assert!(
        got.get("secret").is_none(),
        "a secret is shown at creation and rotation only"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_into_private_networks_are_refused_unless_allowed() {
    // allow_http only: no network is allowed, so loopback and private addresses are refused.
    let h = Harness::start_with(Options::default(), |c| c.webhooks.allow_http = true).await;
    let rx = Receiver::start(Answer::status(200)).await;
    let refused = [
        (rx.url.clone(), "forbidden_address"),
        (
            format!("http://localhost:{}/hook", rx.port),
            "forbidden_address",
        ),
        ("http://10.1.2.3/hook".into(), "forbidden_address"),
        (
            "http://169.254.169.254/latest/meta-data".into(),
            "forbidden_address",
        ),
        ("http://[::1]:8080/".into(), "forbidden_address"),
        ("http://[::ffff:127.0.0.1]/".into(), "forbidden_address"),
        ("http://100.64.0.1/".into(), "forbidden_address"),
        ("https://user:pw@example.com/".into(), "credentials_in_url"),
        ("ftp://example.com/".into(), "unsupported_scheme"),
        ("not a url".into(), "invalid_url"),
    ];
    for (url, code) in refused {
        let (status, v) = send(
            &h,
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(&json!({ "url": url })),
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{url}: {v}"
        );
        assert_eq!(v["error"]["field"], "url");
    }
    let (_, list) = h.get("/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]), "nothing refused was stored");
    h.stop().await;

    // https is required unless allow_http is set.
    let h = Harness::start_with(Options::default(), |_| {}).await;
    let (status, v) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": "http://example.com/hook" })),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("https_required")),
        "{v}"
    );
    h.stop().await;

    // With loopback allowed, a redirect (here to a private address) is a failed attempt, never followed.
    let h = Harness::start_with(Options::default(), allow_loopback).await;
    let target = Receiver::start(Answer::status(200)).await;
    let rx = Receiver::start(Answer::status(302).header("location", "http://10.0.0.1/steal")).await;
    rx.script([Answer::status(307).header("location", target.url.clone())]);
    let (_, e) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": rx.url })),
    )
    .await;
    let id = e["id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, t) = send(
            &h,
            reqwest::Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(t["delivered"], false, "{t}");
        assert_eq!(t["outcome"], "redirect", "{t}");
    }
    assert!(
        target.receipts().is_empty(),
        "the redirect target never got a request"
    );
    let (_, log) = h.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    let first = &log["deliveries"][0];
    assert_eq!(
        (first["kind"].as_str(), first["status"].as_u64()),
        (Some("test"), Some(302)),
        "{log}"
    );
    assert!(
        first["error"].as_str().unwrap().contains("not followed"),
        "{log}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_validates_pages_updates_and_deletes() {
    let h = Harness::start_with(Options::default(), allow_loopback).await;
    let rx = Receiver::start(Answer::status(200)).await;
    let bad = [
        (json!({}), "url"),
        (
            json!({ "url": rx.url, "event_types": ["nope.*"] }),
            "event_types[0]",
        ),
        (
            json!({ "url": rx.url, "carriers": ["acme"] }),
            "carriers[0]",
        ),
        (json!({ "url": rx.url, "signing": "rsa" }), "signing"),
        (
            json!({ "url": rx.url, "rate_limit_per_second": 0 }),
            "rate_limit_per_second",
        ),
        (json!({ "url": rx.url, "colour": "blue" }), "colour"),
        (json!({ "url": rx.url, "labels": "vip" }), "labels"),
    ];
    for (body, field) in bad {
        let (status, v) = send(&h, reqwest::Method::POST, "/v1/webhooks", Some(&body)).await;
        assert_eq!(
            (status, v["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {v}"
        );
    }
    let r = h
        .http
        .post(format!("{}/v1/webhooks", h.url))
        .header("content-type", "text/plain")
        .body("url=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let mut ids = vec![];
    for i in 0..3 {
        let (status, v) = send(
            &h,
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(
                &json!({ "url": rx.url, "description": format!("n{i}"), "event_types": ["eta.*"] }),
            ),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (_, p1) = h.get("/v1/webhooks?limit=2").await;
    let next = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = h.get(&format!("/v1/webhooks?limit=2&cursor={next}")).await;
    let listed: Vec<&str> = p1["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["webhooks"].as_array().unwrap())
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "pages in id order, each endpoint once");
    // Paging goes on after the cursor's endpoint is deleted.
    let (status, _) = send(
        &h,
        reqwest::Method::DELETE,
        &format!("/v1/webhooks/{next}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, p2) = h.get(&format!("/v1/webhooks?limit=2&cursor={next}")).await;
    assert_eq!(status, 200);
    assert_eq!(p2["webhooks"].as_array().unwrap().len(), 1);
    ids.retain(|i| i != next);
    assert!(p2["next_cursor"].is_null());
    assert!(p1["webhooks"][0].get("secret").is_none());

    let id = &ids[0];
    let (status, v) = send(
        &h,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(&json!({ "enabled": false, "description": "paused" })),
    )
    .await;
    assert_eq!(
        (status, &v["enabled"], v["disabled_reason"].as_str()),
        (200, &json!(false), Some("manual")),
        "{v}"
    );
    let (status, v) = send(
        &h,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(&json!({ "signing": "ed25519" })),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (422, Some("signing")),
        "{v}"
    );
    let (_, v) = send(
        &h,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(&json!({ "enabled": true })),
    )
    .await;
    assert_eq!(
        (&v["enabled"], &v["disabled_reason"], &v["description"]),
        (&json!(true), &json!(null), &json!("paused")),
        "{v}"
    );
    let (status, _) = send(
        &h,
        reqwest::Method::DELETE,
        &format!("/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for path in [
        format!("/v1/webhooks/{id}"),
        "/v1/webhooks/whe_0000000000000000".into(),
        "/v1/webhooks/trk_1".into(),
        format!("/v1/webhooks/{id}/deliveries"),
    ] {
        let (status, v) = h.get(&path).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}: {v}"
        );
    }
    let id = &ids[1];
    let last = h.daemon().core().hub.last_id();
    for (body, status, code) in [
        (
            json!({ "after": 0, "until": last + 5 }),
            400,
            "cursor_ahead",
        ),
        (
            json!({ "after": 3, "since": "2026-01-01T00:00:00Z" }),
            422,
            "invalid_field",
        ),
        (json!({ "event_ids": [] }), 422, "invalid_field"),
        (json!({ "after": "x" }), 422, "invalid_field"),
        (
            json!({ "since": "2026-01-02T00:00:00Z", "before": "2026-01-01T00:00:00Z" }),
            422,
            "invalid_field",
        ),
    ] {
        let (s, v) = send(
            &h,
            reqwest::Method::POST,
            &format!("/v1/webhooks/{id}/replay"),
            Some(&body),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {v}"
        );
    }
    for q in ["limit=0", "cursor=x", "event_id=-1", "colour=blue"] {
        let (s, _) = h.get(&format!("/v1/webhooks/{id}/deliveries?{q}")).await;
        assert_eq!(s, 422, "{q}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_at_once_and_failing_endpoints_are_reported_then_disabled() {
    let h = Harness::start_with(Options::default(), |c| {
        allow_loopback(c);
        c.webhooks.retry_schedule = vec![Duration::from_millis(100); 1000];
        c.webhooks.failing_after = Duration::from_secs(2);
        c.webhooks.disable_after = Duration::from_secs(6);
    })
    .await;
    let gone = Receiver::start(Answer::status(410)).await;
    let failing = Receiver::start(Answer::status(500)).await;
    let (_, g) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": gone.url })),
    )
    .await;
    let (_, f) = send(
        &h,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(&json!({ "url": failing.url })),
    )
    .await;
    let (g, f) = (
        g["id"].as_str().unwrap().to_string(),
        f["id"].as_str().unwrap().to_string(),
    );
    register_parcels(&h, 1).await;

    wait_until(
        Duration::from_secs(60),
        "the 410 endpoint disabled",
        || async {
            let (_, v) = h.get(&format!("/v1/webhooks/{g}")).await;
            v["enabled"] == false
        },
    )
    .await;
    let (_, v) = h.get(&format!("/v1/webhooks/{g}")).await;
    assert_eq!(v["disabled_reason"], "gone");
    let gone_answers = gone.receipts().len();
    assert!(
        gone_answers <= 16,
        "one 410 stops deliveries; only those already in flight finish ({gone_answers})"
    );

    let label = format!("endpoint=\"{f}\"");
    wait_metric(
        &h.url,
        "trackd_webhook_endpoint_failing",
        &label,
        1.0,
        "the failing endpoint reported",
    )
    .await;
    let (_, v) = h.get(&format!("/v1/webhooks/{f}")).await;
    assert_eq!(v["enabled"], true, "reported, not yet disabled: {v}");
    assert!(v["failing_since"].is_string());
    wait_until(
        Duration::from_secs(60),
        "the failing endpoint disabled",
        || async {
            let (_, v) = h.get(&format!("/v1/webhooks/{f}")).await;
            v["enabled"] == false
        },
    )
    .await;
    let (_, v) = h.get(&format!("/v1/webhooks/{f}")).await;
    assert_eq!(v["disabled_reason"], "failing");
    let (_, dlog) = h
        .get(&format!("/v1/webhooks/{f}/deliveries?limit=1000"))
        .await;
    let kinds: Vec<&str> = dlog["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "endpoint_disabled", "{kinds:?}");
    assert!(kinds.contains(&"endpoint_failing"), "{kinds:?}");
    // Endpoint counts are refreshed every second.
    wait_metric(
        &h.url,
        "trackd_webhook_endpoints",
        "state=\"disabled\"",
        2.0,
        "two endpoints counted disabled",
    )
    .await;
    assert_eq!(
        gone.receipts().len(),
        gone_answers,
        "a gone endpoint gets nothing more"
    );

    // Re-enabled with a receiver that answers again: it resumes from its cursor, nothing lost.
    failing.set_default(Answer::status(200));
    let (_, v) = send(
        &h,
        reqwest::Method::PATCH,
        &format!("/v1/webhooks/{f}"),
        Some(&json!({ "enabled": true })),
    )
    .await;
    assert_eq!(v["failing_since"], json!(null));
    let log_now = log(&h).await;
    let want = log_now.len();
    failing
        .wait_distinct(want, "the re-enabled endpoint caught up")
        .await;
    h.stop().await;
}
