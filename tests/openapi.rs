//! The OpenAPI document (docs/openapi.json, served at /v1/openapi.json) is held
//! to the code: every served route and method is documented and nothing else is,
//! its enums are the code's, and the answers of a live daemon validate against it.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;
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
    let mut h = Harness::start(Options {
        write_tokens: vec!["w-token"],
        read_tokens: vec!["r-token"],
        ..Options::default()
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
    ] {
        assert!(kinds.contains(k), "{k} among {kinds:?}");
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

    // Every operation was seen answering successfully.
    assert_eq!(*c.seen.lock().unwrap(), served_operations());
    h.stop().await;
}
