//! The OpenAPI document (docs/openapi.json, served at /v1/openapi.json) is held
//! to the code: every served route and method is documented and nothing else is,
//! its enums are the code's, and the answers of a live daemon validate against it.

mod common;

use common::receiver::{Answer, Receipt, Receiver, verify_symmetric};
use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use trackd::webhooks::AttemptOutcome;
use trackd_carrier_sdk::Status;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(trackd::api::OPENAPI_JSON).expect("docs/openapi.json is JSON")
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, _) in item.as_object().unwrap() {
            if METHODS.contains(&key.as_str()) {
                ops.insert((path.clone(), key.to_ascii_uppercase()));
            }
        }
    }
    ops
}

fn served_operations() -> BTreeSet<(String, String)> {
    trackd::api::route_table()
        .into_iter()
        .map(|(p, m)| (p.to_string(), m.as_str().to_string()))
        .collect()
}

#[test]
fn every_served_route_is_documented_and_nothing_else() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(documented_operations(&doc), served_operations());
    // What trackd POSTs to webhook endpoints is the top-level `webhooks` object
    // (OpenAPI 3.1), which describes requests trackd makes, not routes it serves.
    assert!(
        doc["webhooks"]["event"]["post"]["requestBody"].is_object(),
        "the webhooks object describes the delivered message"
    );
}

fn enum_of(doc: &Value, schema: &str) -> Vec<String> {
    doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema} has an enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_documents_enums_are_the_codes() {
    let doc = doc();
    let statuses: Vec<String> = Status::ALL.iter().map(|s| s.as_str().into()).collect();
    assert_eq!(enum_of(&doc, "Status"), statuses);
    let types: Vec<String> = trackd::events::EventType::ALL
        .iter()
        .map(|t| t.as_str().into())
        .collect();
    assert_eq!(enum_of(&doc, "EventType"), types);
    let states: Vec<String> = trackd::trackers::TrackerState::ALL
        .iter()
        .map(|s| s.as_str().into())
        .collect();
    assert_eq!(enum_of(&doc, "TrackerState"), states);
    let slugs: Vec<String> = trackd::carriers::builtin()
        .iter()
        .map(|p| p.descriptor().slug.into())
        .collect();
    assert_eq!(enum_of(&doc, "CarrierSlug"), slugs);
    let outcomes: Vec<String> = AttemptOutcome::ATTEMPTS
        .into_iter()
        .chain([
            AttemptOutcome::EndpointFailing,
            AttemptOutcome::EndpointDisabled,
        ])
        .map(|o| {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str(), "{o:?}");
            assert_eq!(AttemptOutcome::parse(o.as_str()), Some(o));
            o.as_str().to_string()
        })
        .collect();
    assert_eq!(enum_of(&doc, "WebhookAttemptOutcome"), outcomes);
    assert_eq!(enum_of(&doc, "WebhookSigning"), ["symmetric", "ed25519"]);
    // An event type glob can only match if its characters are the types' (and `*`).
    let glob = regex_lite(&doc["components"]["schemas"]["WebhookEventTypeGlob"]["pattern"]);
    for t in trackd::events::EventType::ALL {
        assert!(glob(t.as_str()), "{} fits WebhookEventTypeGlob", t.as_str());
    }
    // Every $ref points at something.
    fn walk(v: &Value, doc: &Value) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    let ptr = r.strip_prefix('#').expect("local refs only");
                    assert!(doc.pointer(ptr).is_some(), "dangling $ref {r}");
                }
                o.values().for_each(|x| walk(x, doc));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

/// A matcher for a JSON Schema `pattern` (through the validator, which has the regex engine).
fn regex_lite(pattern: &Value) -> impl Fn(&str) -> bool {
    let v = jsonschema::draft202012::new(&json!({ "type": "string", "pattern": pattern }))
        .expect("the pattern compiles");
    move |s| v.is_valid(&json!(s))
}

/// Validates live answers against the document, remembering which operations
/// were exercised.
struct Checker {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
    seen: Mutex<BTreeSet<(String, String)>>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            doc: doc(),
            validators: Mutex::new(HashMap::new()),
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Follows a `$ref` to a component (responses are referenced by `$ref` too).
    fn deref<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self.doc.pointer(&r[1..]).unwrap(),
            None => v,
        }
    }

    fn validate(&self, key: &str, schema: &Value, instance: &Value) {
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key.to_string())
                .or_insert_with(|| {
                    // The schema inlined under a root that carries the components, so
                    // its `#/components/...` references resolve.
                    let root = json!({ "components": self.doc["components"], "allOf": [schema] });
                    std::sync::Arc::new(
                        jsonschema::draft202012::options()
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("{key}: schema does not compile: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key}: the answer does not match the document:\n{}\n{instance:#}",
            errors.join("\n")
        );
    }

    /// Checks one answer of `METHOD template` against the document; returns its body as JSON
    /// (`Value::Null` for an empty body, an array of lines for NDJSON).
    async fn check(&self, method: &str, template: &str, resp: reqwest::Response) -> (u16, Value) {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let ct = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        let key = format!("{method} {template} {status}");
        let body = self.check_parts(op, &key, status, &ct, &headers, &text);
        if (200..300).contains(&status) {
            self.seen
                .lock()
                .unwrap()
                .insert((template.to_string(), method.to_string()));
        }
        (status, body)
    }

    /// Checks one message trackd POSTed to an endpoint against the top-level
    /// `webhooks` object: its headers and its body.
    fn check_webhook(&self, r: &Receipt) -> Value {
        let op = &self.doc["webhooks"]["event"]["post"];
        let headers = [
            ("webhook-id", &r.id),
            ("webhook-timestamp", &r.timestamp),
            ("webhook-signature", &r.signature),
        ];
        let params = op["parameters"].as_array().unwrap();
        for p in params.iter().filter(|p| p["in"] == "header") {
            let name = p["name"].as_str().unwrap();
            let (_, value) = headers
                .iter()
                .find(|(h, _)| *h == name)
                .unwrap_or_else(|| panic!("documented header {name} is not sent"));
            self.validate(
                &format!("webhook header {name}"),
                &p["schema"],
                &json!(value),
            );
        }
        assert_eq!(
            params.len(),
            headers.len(),
            "every header trackd signs with is documented"
        );
        let body = r.json();
        self.validate(
            "webhook body",
            &op["requestBody"]["content"]["application/json"]["schema"],
            &body,
        );
        body
    }

    fn check_parts(
        &self,
        op: &Value,
        key: &str,
        status: u16,
        ct: &str,
        headers: &reqwest::header::HeaderMap,
        text: &str,
    ) -> Value {
        if op.is_null() {
            // Undocumented operations (405s, unknown routes) answer the Error schema.
            assert!(
                status >= 400,
                "{key}: undocumented operation answered {status}"
            );
            let body: Value = serde_json::from_str(text).unwrap();
            self.validate(
                "Error",
                &json!({ "$ref": "#/components/schemas/Error" }),
                &body,
            );
            return body;
        }
        let resp = op["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{key}: status not documented; body {text}"));
        let resp = self.deref(resp);
        for (name, h) in resp["headers"].as_object().into_iter().flatten() {
            if h["required"] == true {
                let v = headers
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("{key}: required header {name} missing"));
                self.validate(
                    &format!("{key} header {name}"),
                    &h["schema"],
                    &json!(v.to_str().unwrap()),
                );
            }
        }
        let Some(content) = resp["content"].as_object() else {
            assert!(text.is_empty(), "{key}: documented without a body: {text}");
            return Value::Null;
        };
        let media = ct.split(';').next().unwrap().trim();
        let entry = content
            .get(media)
            .unwrap_or_else(|| panic!("{key}: content type {ct:?} not documented"));
        match media {
            "application/json" => {
                let body: Value = serde_json::from_str(text).unwrap();
                self.validate(key, &entry["schema"], &body);
                body
            }
            "application/x-ndjson" => {
                let lines: Vec<Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                for l in &lines {
                    self.validate(&format!("{key} line"), &entry["x-item-schema"], l);
                }
                Value::Array(lines)
            }
            _ => Value::String(text.to_string()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_daemon_answers_as_documented() {
    let opts = Options {
        write_tokens: vec!["w-token"],
        read_tokens: vec!["r-token"],
        ..Options::default()
    };
    // Webhook endpoints on this test's loopback receiver; 10.0.0.0/8 stays refused.
    let mut h = Harness::start_with(opts, |cfg| {
        cfg.webhooks.allow_http = true;
        cfg.webhooks.allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert("authorization", "Bearer w-token".parse().unwrap());
    h.http = reqwest::Client::builder()
        .default_headers(auth)
        .build()
        .unwrap();
    let (http, url) = (h.http.clone(), h.url.clone());
    let c = Checker::new();
    let get = |path: &str| http.get(format!("{url}{path}")).send();
    let post = |path: &str, body: Value| http.post(format!("{url}{path}")).json(&body).send();
    let patch = |path: &str, body: Value| http.patch(format!("{url}{path}")).json(&body).send();
    let text_body = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{url}{path}"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
    };

    // The document itself, served without a token.
    let r = reqwest::get(format!("{url}/v1/openapi.json"))
        .await
        .unwrap();
    let (s, served) = c.check("GET", "/v1/openapi.json", r).await;
    assert_eq!((s, &served), (200, &c.doc));

    // Registration: single, batch forms, idempotent, and rejections.
    let ups = h.sim.create_parcels("ups", 3).unwrap();
    let fedex = h.sim.create_parcels("fedex", 4).unwrap();
    let (s, one) = c
        .check(
            "POST",
            "/v1/trackers",
            post(
                "/v1/trackers",
                json!({ "tracking_number": ups[0], "reference": "o-1", "labels": ["vip"] }),
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 201);
    let id = one["id"].as_str().unwrap().to_string();
    let (s, _) = c
        .check(
            "POST",
            "/v1/trackers",
            post("/v1/trackers", json!({ "tracking_number": ups[0] }))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    let batch: Vec<Value> = ups[1..]
        .iter()
        .map(|n| json!({ "tracking_number": n, "carrier": "ups" }))
        .collect();
    let (s, b) = c
        .check(
            "POST",
            "/v1/trackers",
            post("/v1/trackers", json!(batch)).await.unwrap(),
        )
        .await;
    assert_eq!((s, b["created"].as_u64()), (201, Some(2)));
    let batch: Vec<Value> = fedex
        .iter()
        .map(|n| json!({ "tracking_number": n }))
        .collect();
    let (s, _) = c
        .check(
            "POST",
            "/v1/trackers",
            post("/v1/trackers", json!({ "trackers": batch }))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(s, 201);
    for (body, want) in [
        (json!({ "tracking_number": "!!" }), 422),
        (json!({ "trackers": [], "extra": 1 }), 422),
        (json!(42), 400),
    ] {
        let (s, _) = c
            .check(
                "POST",
                "/v1/trackers",
                post("/v1/trackers", body).await.unwrap(),
            )
            .await;
        assert_eq!(s, want);
    }
    let r = http
        .post(format!("{url}/v1/trackers"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/trackers", r).await.0, 415);
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/trackers"))
        .json(&json!({ "tracking_number": ups[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/trackers", r).await.0, 401);
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/trackers"))
        .bearer_auth("r-token")
        .json(&json!({ "tracking_number": ups[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/trackers", r).await.0, 403);

    // Wait until parcels have moved: snapshots with checkpoints, many event types,
    // and at least one tracker completed.
    wait_until(
        Duration::from_secs(300),
        "a tracker completed and another in transit with checkpoints",
        || {
            let r = get("/v1/trackers?limit=1000");
            async move {
                let v: Value = r.await.unwrap().json().await.unwrap();
                let ts = v["trackers"].as_array().unwrap();
                ts.iter().any(|t| t["state"] == "completed")
            }
        },
    )
    .await;

    // Trackers: list with filters and pagination, one by one, refresh, delete.
    let (s, page) = c
        .check(
            "GET",
            "/v1/trackers",
            get("/v1/trackers?limit=2").await.unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (s, _) = c
        .check(
            "GET",
            "/v1/trackers",
            get(&format!(
                "/v1/trackers?cursor={cursor}&carrier=fedex&status=delivered"
            ))
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    for (q, want) in [("status=lost", 422), ("limit=abc", 422)] {
        let r = get(&format!("/v1/trackers?{q}")).await.unwrap();
        assert_eq!(c.check("GET", "/v1/trackers", r).await.0, want);
    }
    let (_, all) = c
        .check(
            "GET",
            "/v1/trackers",
            get("/v1/trackers?limit=1000").await.unwrap(),
        )
        .await;
    let all = all["trackers"].as_array().unwrap().clone();
    for t in &all {
        let (s, full) = c
            .check(
                "GET",
                "/v1/trackers/{id}",
                get(&format!("/v1/trackers/{}", t["id"].as_str().unwrap()))
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!(s, 200);
        assert!(full["snapshot"]["checkpoints"].is_array());
    }
    for (p, want) in [("trk_ffffff", 404), ("%FF", 400)] {
        let r = get(&format!("/v1/trackers/{p}")).await.unwrap();
        assert_eq!(c.check("GET", "/v1/trackers/{id}", r).await.0, want);
    }
    let completed = all
        .iter()
        .find(|t| t["state"] == "completed")
        .unwrap()
        .clone();
    // Summaries: every tracker in every language, one order, and the refusals.
    for t in &all {
        for lang in ["en", "fr", "de", "nl"] {
            let id = t["id"].as_str().unwrap();
            let (s, v) = c
                .check(
                    "GET",
                    "/v1/trackers/{id}/summary",
                    get(&format!(
                        "/v1/trackers/{id}/summary?lang={lang}&tz=Europe/Paris"
                    ))
                    .await
                    .unwrap(),
                )
                .await;
            assert_eq!((s, v["lang"].as_str()), (200, Some(lang)), "{v}");
            assert!(v["sentence"].as_str().unwrap().chars().count() <= 160);
            assert_eq!(v["facts"][0]["field"], "snapshot.status", "{v}");
        }
    }
    let done_id = completed["id"].as_str().unwrap();
    let (_, v) = c
        .check(
            "GET",
            "/v1/trackers/{id}/summary",
            get(&format!("/v1/trackers/{done_id}/summary"))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(
        (v["verdict"].as_str(), v["lang"].as_str()),
        (Some("delivered"), Some("en")),
        "{v}"
    );
    for (q, want) in [
        ("lang=xx", 422),
        ("tz=Mars/Olympus", 422),
        ("colour=blue", 422),
    ] {
        let r = get(&format!("/v1/trackers/{done_id}/summary?{q}"))
            .await
            .unwrap();
        assert_eq!(
            c.check("GET", "/v1/trackers/{id}/summary", r).await.0,
            want,
            "{q}"
        );
    }
    let r = get("/v1/trackers/trk_ffffff/summary").await.unwrap();
    assert_eq!(c.check("GET", "/v1/trackers/{id}/summary", r).await.0, 404);
    let (s, order) = c
        .check(
            "GET",
            "/v1/orders/{reference}/summary",
            get("/v1/orders/o-1/summary?lang=de").await.unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{order}");
    assert_eq!(
        order["parcels"].as_u64(),
        Some(order["trackers"].as_array().unwrap().len() as u64)
    );
    let r = get("/v1/orders/no-such-order/summary").await.unwrap();
    assert_eq!(
        c.check("GET", "/v1/orders/{reference}/summary", r).await.0,
        404
    );
    let refresh = |id: &str| http.post(format!("{url}/v1/trackers/{id}/refresh")).send();
    let (s, _) = c
        .check(
            "POST",
            "/v1/trackers/{id}/refresh",
            refresh(completed["id"].as_str().unwrap()).await.unwrap(),
        )
        .await;
    assert_eq!(s, 409);
    if let Some(active) = all.iter().find(|t| t["state"] == "active") {
        let (s, _) = c
            .check(
                "POST",
                "/v1/trackers/{id}/refresh",
                refresh(active["id"].as_str().unwrap()).await.unwrap(),
            )
            .await;
        assert_eq!(s, 202);
    } else {
        // Everything already completed: refresh a new tracker (pending, active).
        let n = h.sim.create_parcels("dhl", 1).unwrap().remove(0);
        let (_, t) = c
            .check(
                "POST",
                "/v1/trackers",
                post(
                    "/v1/trackers",
                    json!({ "tracking_number": n, "carrier": "dhl" }),
                )
                .await
                .unwrap(),
            )
            .await;
        let (s, _) = c
            .check(
                "POST",
                "/v1/trackers/{id}/refresh",
                refresh(t["id"].as_str().unwrap()).await.unwrap(),
            )
            .await;
        assert_eq!(s, 202);
    }
    let r = refresh("trk_ffffff").await.unwrap();
    assert_eq!(c.check("POST", "/v1/trackers/{id}/refresh", r).await.0, 404);

    // Returns: a return tracker for the first parcel, listed by direction, its
    // milestones posted, repeated, conflicting and refused, and its summary.
    let ret_number = h.sim.create_parcels("ups", 1).unwrap().remove(0);
    let (s, ret) = c
        .check(
            "POST",
            "/v1/trackers",
            post(
                "/v1/trackers",
                json!({ "tracking_number": ret_number, "direction": "return", "return_for": id }),
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(
        (s, &ret["direction"], &ret["return_for"]),
        (201, &json!("return"), &json!(id))
    );
    let ret_id = ret["id"].as_str().unwrap().to_string();
    let (s, page) = c
        .check(
            "GET",
            "/v1/trackers",
            get("/v1/trackers?direction=return").await.unwrap(),
        )
        .await;
    assert_eq!(
        (s, page["trackers"][0]["id"].as_str()),
        (200, Some(ret_id.as_str()))
    );
    let milestones = format!("/v1/trackers/{ret_id}/milestones");
    let body = json!({ "kind": "received", "at": "2026-12-09T10:00:00Z", "note": "dock 3" });
    let (s, m) = c
        .check(
            "POST",
            "/v1/trackers/{id}/milestones",
            post(&milestones, body.clone()).await.unwrap(),
        )
        .await;
    assert_eq!((s, &m["at"]), (201, &json!("2026-12-09T10:00:00.000Z")));
    let (s, again) = c
        .check(
            "POST",
            "/v1/trackers/{id}/milestones",
            post(&milestones, body).await.unwrap(),
        )
        .await;
    assert_eq!((s, again), (200, m));
    for (path, body, want) in [
        (milestones.clone(), json!({ "kind": "received" }), 409),
        (
            format!("/v1/trackers/{id}/milestones"),
            json!({ "kind": "received" }),
            409,
        ),
        (milestones.clone(), json!({ "kind": "lost" }), 422),
        (
            milestones.clone(),
            json!({ "kind": "refunded", "note": "x".repeat(501) }),
            422,
        ),
        (
            "/v1/trackers/trk_ffffff/milestones".to_string(),
            json!({ "kind": "received" }),
            404,
        ),
    ] {
        let r = post(&path, body).await.unwrap();
        assert_eq!(
            c.check("POST", "/v1/trackers/{id}/milestones", r).await.0,
            want,
            "{path}"
        );
    }
    let r = text_body(reqwest::Method::POST, &milestones).await.unwrap();
    assert_eq!(
        c.check("POST", "/v1/trackers/{id}/milestones", r).await.0,
        415
    );
    let (s, summary) = c
        .check(
            "GET",
            "/v1/trackers/{id}/summary",
            get(&format!("/v1/trackers/{ret_id}/summary"))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, &summary["headline"], &summary["verdict"]),
        (200, &json!("Return received"), &json!("returned"))
    );

    // Events: NDJSON pages (every line an Event), filters, bad cursors.
    let (s, lines) = c
        .check(
            "GET",
            "/v1/events",
            get("/v1/events?after=0").await.unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    let kinds: BTreeSet<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for k in [
        "tracker.created",
        "status.changed",
        "checkpoint.added",
        "tracker.completed",
        "summary.changed",
    ] {
        assert!(kinds.contains(k), "{k} among {kinds:?}");
    }
    // Types whose payload the document describes: every such event's `data` matches.
    let typed = [
        ("summary.changed", "SummaryChangedData"),
        ("tracker.stalled", "TrackerStalledData"),
        ("tracker.forgotten", "TrackerForgottenData"),
        ("eta.at_risk", "EtaAtRiskData"),
        ("eta.at_risk_cleared", "EtaAtRiskClearedData"),
        ("return.detected", "ReturnDetectedData"),
        ("return.milestone", "ReturnMilestoneData"),
    ];
    for e in lines.as_array().unwrap() {
        if let Some((_, schema)) = typed.iter().find(|(t, _)| e["type"] == *t) {
            c.validate(
                schema,
                &json!({ "$ref": format!("#/components/schemas/{schema}") }),
                &e["data"],
            );
        }
    }
    let (s, _) = c
        .check(
            "GET",
            "/v1/events",
            get(&format!(
                "/v1/events?after=1&limit=5&type=status.changed,checkpoint.added&carrier=ups&tracker_id={id}&reference=o-1"
            ))
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    for (q, want) in [
        ("after=99999999", 400),
        ("type=parcel.exploded", 422),
        ("limit=0", 422),
    ] {
        let r = get(&format!("/v1/events?{q}")).await.unwrap();
        assert_eq!(c.check("GET", "/v1/events", r).await.0, want);
    }

    // The stream: its first event's data is an Event.
    let r = get("/v1/events/stream?after=0").await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let stream_doc = &c.doc["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"];
    assert!(
        stream_doc.get(ct.split(';').next().unwrap()).is_some(),
        "{ct}"
    );
    let mut events = eventsource_stream::Eventsource::eventsource(r.bytes_stream());
    let first = tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The message as schemathesis reads it (the `schema` of a text/event-stream
    // answer describes each message), and its `data:` against the contentSchema,
    // which JSON Schema validators treat as an annotation only.
    let message_schema = c.deref(&stream_doc["text/event-stream"]["schema"]).clone();
    c.validate(
        "stream message",
        &message_schema,
        &json!({ "event": first.event, "id": first.id, "data": first.data }),
    );
    let data: Value = serde_json::from_str(&first.data).unwrap();
    c.validate(
        "stream message data",
        &message_schema["properties"]["data"]["contentSchema"],
        &data,
    );
    assert_eq!(
        data.get("type").and_then(Value::as_str),
        Some("tracker.created"),
        "a change event, the oldest first: {data}"
    );
    assert_eq!(first.event, data["type"].as_str().unwrap());
    assert_eq!(first.id, data["id"].to_string());
    c.seen
        .lock()
        .unwrap()
        .insert(("/v1/events/stream".into(), "GET".into()));
    drop(events);
    let r = http
        .get(format!("{url}/v1/events/stream"))
        .header("Last-Event-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("GET", "/v1/events/stream", r).await.0, 422);

    // Operations.
    for path in ["/v1/carriers", "/healthz", "/readyz", "/metrics"] {
        let (s, _) = c.check("GET", path, get(path).await.unwrap()).await;
        assert_eq!(s, 200, "{path}");
    }

    // Webhooks: endpoints on a loopback receiver, every operation, and their refusals.
    let receiver = Receiver::start(Answer::status(200)).await;
    const ONE: &str = "/v1/webhooks/{id}";
    let (s, created) = c
        .check(
            "POST",
            "/v1/webhooks",
            post(
                "/v1/webhooks",
                json!({
                    "url": receiver.url,
                    "description": "openapi test",
                    "event_types": ["status.*", "tracker.*", "checkpoint.added"],
                }),
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 201);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["public_key"], Value::Null);
    let wh = created["id"].as_str().unwrap().to_string();
    let (s, ed) = c
        .check(
            "POST",
            "/v1/webhooks",
            post(
                "/v1/webhooks",
                json!({
                    "url": receiver.url,
                    "signing": "ed25519",
                    "carriers": ["ups", "fedex"],
                    "labels": ["vip"],
                    "reference_prefix": "o-",
                    "rate_limit_per_second": 5,
                }),
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 201);
    assert!(ed["public_key"].as_str().unwrap().starts_with("whpk_"));
    assert!(ed.get("secret").is_none());
    let ed = ed["id"].as_str().unwrap().to_string();
    for (body, want, code) in [
        (
            json!({ "url": "http://10.0.0.1/" }),
            422,
            "forbidden_address",
        ),
        (
            json!({ "url": "ftp://example.com/" }),
            422,
            "unsupported_scheme",
        ),
        (
            json!({ "url": receiver.url, "event_types": ["nope.*"] }),
            422,
            "invalid_field",
        ),
        (json!({ "description": "no url" }), 422, "invalid_field"),
        (json!([receiver.url]), 400, "invalid_body"),
    ] {
        let (s, e) = c
            .check(
                "POST",
                "/v1/webhooks",
                post("/v1/webhooks", body.clone()).await.unwrap(),
            )
            .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (want, Some(code)),
            "{body}"
        );
    }
    let r = text_body(reqwest::Method::POST, "/v1/webhooks")
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/webhooks", r).await.0, 415);
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/webhooks"))
        .bearer_auth("r-token")
        .json(&json!({ "url": receiver.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/webhooks", r).await.0, 403);

    // The list, a page at a time.
    let (s, page) = c
        .check(
            "GET",
            "/v1/webhooks",
            get("/v1/webhooks?limit=1").await.unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    // Pages run in id order.
    let (first, second) = if wh < ed { (&wh, &ed) } else { (&ed, &wh) };
    assert_eq!(page["next_cursor"], json!(first));
    let (s, page) = c
        .check(
            "GET",
            "/v1/webhooks",
            get(&format!("/v1/webhooks?limit=1&cursor={first}"))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!((s, &page["webhooks"][0]["id"]), (200, &json!(second)));
    assert_eq!(page["next_cursor"], Value::Null);
    for q in ["limit=0", "colour=blue"] {
        let r = get(&format!("/v1/webhooks?{q}")).await.unwrap();
        assert_eq!(c.check("GET", "/v1/webhooks", r).await.0, 422, "{q}");
    }

    // One endpoint; updates.
    let (s, one) = c
        .check(
            "GET",
            ONE,
            get(&format!("/v1/webhooks/{wh}")).await.unwrap(),
        )
        .await;
    assert_eq!((s, &one["replays"]), (200, &json!([])));
    for (p, want) in [("whe_0000000000000000", 404), ("trk_1", 404), ("%FF", 400)] {
        let r = get(&format!("/v1/webhooks/{p}")).await.unwrap();
        assert_eq!(c.check("GET", ONE, r).await.0, want, "{p}");
    }
    for (body, want) in [
        (
            json!({ "description": "changed", "rate_limit_per_second": null }),
            true,
        ),
        (json!({ "enabled": false }), false),
        (json!({ "enabled": true }), true),
    ] {
        let (s, v) = c
            .check(
                "PATCH",
                ONE,
                patch(&format!("/v1/webhooks/{wh}"), body.clone())
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!((s, v["enabled"].as_bool()), (200, Some(want)), "{body}");
        assert!(v.get("secret").is_none());
    }
    for (body, want, code) in [
        (json!({ "event_types": ["nope.*"] }), 422, "invalid_field"),
        (json!({ "signing": "ed25519" }), 422, "invalid_field"),
        (
            json!({ "url": "http://10.0.0.1/" }),
            422,
            "forbidden_address",
        ),
        (json!({ "enabled": "yes" }), 422, "invalid_field"),
        (json!("enabled"), 400, "invalid_body"),
    ] {
        let r = patch(&format!("/v1/webhooks/{wh}"), body.clone())
            .await
            .unwrap();
        let (s, e) = c.check("PATCH", ONE, r).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (want, Some(code)),
            "{body}"
        );
    }
    let r = text_body(reqwest::Method::PATCH, &format!("/v1/webhooks/{wh}"))
        .await
        .unwrap();
    assert_eq!(c.check("PATCH", ONE, r).await.0, 415);
    let r = patch("/v1/webhooks/whe_0000000000000000", json!({}))
        .await
        .unwrap();
    assert_eq!(c.check("PATCH", ONE, r).await.0, 404);

    // Key rotation: a body, none, and a bad overlap.
    const ROTATE: &str = "/v1/webhooks/{id}/rotate";
    let (s, rotated) = c
        .check(
            "POST",
            ROTATE,
            post(
                &format!("/v1/webhooks/{wh}/rotate"),
                json!({ "overlap": "1h" }),
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!((s, rotated["keys"].as_array().unwrap().len()), (200, 2));
    let secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(secret, created["secret"].as_str().unwrap());
    let r = http
        .post(format!("{url}/v1/webhooks/{ed}/rotate"))
        .send()
        .await
        .unwrap();
    let (s, v) = c.check("POST", ROTATE, r).await;
    assert!(s == 200 && v["public_key"].as_str().unwrap().starts_with("whpk_"));
    for body in [json!({ "overlap": "forever" }), json!({ "overlap": "31d" })] {
        let r = post(&format!("/v1/webhooks/{wh}/rotate"), body)
            .await
            .unwrap();
        assert_eq!(c.check("POST", ROTATE, r).await.0, 422);
    }
    let r = text_body(reqwest::Method::POST, &format!("/v1/webhooks/{wh}/rotate"))
        .await
        .unwrap();
    assert_eq!(c.check("POST", ROTATE, r).await.0, 415);
    let r = post("/v1/webhooks/whe_0000000000000000/rotate", json!({}))
        .await
        .unwrap();
    assert_eq!(c.check("POST", ROTATE, r).await.0, 404);

    // A test message, signed by the old and the new key.
    const TEST: &str = "/v1/webhooks/{id}/test";
    let r = http
        .post(format!("{url}/v1/webhooks/{wh}/test"))
        .send()
        .await
        .unwrap();
    let (s, tested) = c.check("POST", TEST, r).await;
    assert_eq!(
        (s, &tested["delivered"], &tested["status"]),
        (200, &json!(true), &json!(200))
    );
    let test_receipt = receiver
        .receipts()
        .into_iter()
        .find(|r| Some(r.id.as_str()) == tested["webhook_id"].as_str())
        .expect("the receiver got the test message");
    let body = c.check_webhook(&test_receipt);
    assert_eq!(
        (&body["type"], &body["endpoint_id"]),
        (&json!("webhook.test"), &json!(wh))
    );
    assert_eq!(
        test_receipt.signature.split(' ').count(),
        2,
        "two keys sign in the overlap"
    );
    verify_symmetric(&secret, &test_receipt);
    let r = http
        .post(format!("{url}/v1/webhooks/whe_0000000000000000/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", TEST, r).await.0, 404);

    // Replays: each range form as a dry run, a real one, and refusals.
    const REPLAY: &str = "/v1/webhooks/{id}/replay";
    for (id, body) in [
        (&wh, json!({ "after": 0, "dry_run": true })),
        (
            &wh,
            json!({ "since": "2000-01-01T00:00:00Z", "before": "2100-01-01T00:00:00+02:00", "dry_run": true }),
        ),
        (&wh, json!({ "event_ids": [1, 2, 3, 2], "dry_run": true })),
        (&ed, json!({ "until": 5, "dry_run": true })),
    ] {
        let (s, v) = c
            .check(
                "POST",
                REPLAY,
                post(&format!("/v1/webhooks/{id}/replay"), body.clone())
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!((s, &v["dry_run"]), (200, &json!(true)), "{body}");
    }
    let (s, replay) = c
        .check(
            "POST",
            REPLAY,
            post(&format!("/v1/webhooks/{wh}/replay"), json!({ "after": 0 }))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(s, 202);
    let matched = replay["matched"].as_u64().unwrap();
    let replay_id = replay["replay_id"].as_u64().unwrap();
    assert!(matched > 0, "the replay matches events: {replay}");
    for (body, want) in [
        (json!({ "until": 99_999_999 }), 400),
        (json!({ "dry_run": true }), 422),
        (json!({ "after": 1, "event_ids": [2] }), 422),
        (json!({ "after": 5, "until": 4 }), 422),
        (json!({ "since": "yesterday" }), 422),
        (json!({ "event_ids": [] }), 422),
    ] {
        let r = post(&format!("/v1/webhooks/{wh}/replay"), body.clone())
            .await
            .unwrap();
        assert_eq!(c.check("POST", REPLAY, r).await.0, want, "{body}");
    }
    let r = http
        .post(format!("{url}/v1/webhooks/{wh}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("POST", REPLAY, r).await.0, 400, "an empty body");
    let r = text_body(reqwest::Method::POST, &format!("/v1/webhooks/{wh}/replay"))
        .await
        .unwrap();
    assert_eq!(c.check("POST", REPLAY, r).await.0, 415);
    let r = post(
        "/v1/webhooks/whe_0000000000000000/replay",
        json!({ "after": 0 }),
    )
    .await
    .unwrap();
    assert_eq!(c.check("POST", REPLAY, r).await.0, 404);
    // The endpoint's view while (or after) the replay runs.
    let (s, _) = c
        .check(
            "GET",
            ONE,
            get(&format!("/v1/webhooks/{wh}")).await.unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    wait_until(
        Duration::from_secs(120),
        "the replayed events were delivered",
        || {
            let n = receiver
                .accepted()
                .iter()
                .filter(|r| !r.id.starts_with("test_"))
                .count() as u64;
            async move { n >= matched }
        },
    )
    .await;
    // Every message the receiver got is the documented message.
    for r in receiver.receipts() {
        c.check_webhook(&r);
    }

    // The delivery log (written every 200 ms), a page at a time.
    const DELIVERIES: &str = "/v1/webhooks/{id}/deliveries";
    wait_until(
        Duration::from_secs(30),
        "the replay's attempts are in the delivery log",
        || {
            let r = get(&format!("/v1/webhooks/{wh}/deliveries?limit=1000"));
            async move {
                let v: Value = r.await.unwrap().json().await.unwrap();
                v["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| d["replay_id"] == replay_id)
                    .count() as u64
                    >= matched
            }
        },
    )
    .await;
    let (s, first) = c
        .check(
            "GET",
            DELIVERIES,
            get(&format!("/v1/webhooks/{wh}/deliveries?limit=2"))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    let next = first["next_cursor"].as_str().unwrap().to_string();
    let (s, rest) = c
        .check(
            "GET",
            DELIVERIES,
            get(&format!(
                "/v1/webhooks/{wh}/deliveries?cursor={next}&limit=1000"
            ))
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(s, 200);
    let rows: Vec<&Value> = [&first, &rest]
        .iter()
        .flat_map(|p| p["deliveries"].as_array().unwrap())
        .collect();
    let kinds: BTreeSet<&str> = rows.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains("test") && kinds.contains("delivery"),
        "{kinds:?}"
    );
    let event_id = rows.iter().find_map(|d| d["event_id"].as_u64()).unwrap();
    let (s, log) = c
        .check(
            "GET",
            DELIVERIES,
            get(&format!("/v1/webhooks/{wh}/deliveries?event_id={event_id}"))
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, &log["deliveries"][0]["event_id"]),
        (200, &json!(event_id))
    );
    for q in ["limit=0", "cursor=-1", "event_id=x", "after=1"] {
        let r = get(&format!("/v1/webhooks/{wh}/deliveries?{q}"))
            .await
            .unwrap();
        assert_eq!(c.check("GET", DELIVERIES, r).await.0, 422, "{q}");
    }
    let r = get("/v1/webhooks/whe_0000000000000000/deliveries")
        .await
        .unwrap();
    assert_eq!(c.check("GET", DELIVERIES, r).await.0, 404);

    // Delete, then it is gone.
    let del_wh = |id: &str| http.delete(format!("{url}/v1/webhooks/{id}")).send();
    let (s, _) = c.check("DELETE", ONE, del_wh(&ed).await.unwrap()).await;
    assert_eq!(s, 204);
    let (s, _) = c.check("DELETE", ONE, del_wh(&ed).await.unwrap()).await;
    assert_eq!(s, 404);
    let (s, _) = c
        .check(
            "GET",
            ONE,
            get(&format!("/v1/webhooks/{ed}")).await.unwrap(),
        )
        .await;
    assert_eq!(s, 404);

    // Delete, then it is gone.
    let del = |id: &str| http.delete(format!("{url}/v1/trackers/{id}")).send();
    let (s, _) = c
        .check("DELETE", "/v1/trackers/{id}", del(&id).await.unwrap())
        .await;
    assert_eq!(s, 204);
    let (s, _) = c
        .check("DELETE", "/v1/trackers/{id}", del(&id).await.unwrap())
        .await;
    assert_eq!(s, 404);

    // Undocumented methods and routes answer the Error schema.
    let r = http
        .patch(format!("{url}/v1/trackers/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("PATCH", "/v1/trackers/{id}", r).await.0, 405);
    let r = get("/v2/anything").await.unwrap();
    assert_eq!(c.check("GET", "/v2/anything", r).await.0, 404);

    // Retention: an expired cursor is a documented 410.
    let core = h.daemon().core().clone();
    core.store
        .apply_retention(chrono::Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let r = get("/v1/events?after=0").await.unwrap();
    assert_eq!(c.check("GET", "/v1/events", r).await.0, 410);
    let r = post(&format!("/v1/webhooks/{wh}/replay"), json!({ "after": 0 }))
        .await
        .unwrap();
    assert_eq!(c.check("POST", "/v1/webhooks/{id}/replay", r).await.0, 410);

    // Every operation was seen answering successfully.
    assert_eq!(*c.seen.lock().unwrap(), served_operations());
    h.stop().await;
}
