//! A real HTTP webhook receiver on a loopback port: records every request and
//! answers from a script (then a default answer), so tests can make it fail,
//! rate-limit, redirect or vanish and see what trackd does.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

impl Receipt {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook bodies are JSON")
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: vec![],
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Answer {
        self.delay = d;
        self
    }
}

struct Inner {
    receipts: Vec<Receipt>,
    script: VecDeque<Answer>,
    default: Answer,
}

/// A running receiver; clones share it.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let answer = {
        let mut g = inner.lock().unwrap();
        let answer = g.script.pop_front().unwrap_or_else(|| g.default.clone());
        g.receipts.push(Receipt {
            id: h("webhook-id"),
            timestamp: h("webhook-timestamp"),
            signature: h("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            status: answer.status,
        });
        answer
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut resp = (StatusCode::from_u16(answer.status).unwrap(), "ok").into_response();
    for (name, value) in answer.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

impl Receiver {
    /// Starts on 127.0.0.1 with an OS-chosen port, answering `default` after the script.
    pub async fn start(default: Answer) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            receipts: vec![],
            script: VecDeque::new(),
            default,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            inner,
        }
    }

    /// Queues answers for the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn set_default(&self, answer: Answer) {
        self.inner.lock().unwrap().default = answer;
    }

    pub fn receipts(&self) -> Vec<Receipt> {
        self.inner.lock().unwrap().receipts.clone()
    }

    /// Waits until `n` distinct messages (by `webhook-id`) were answered 2xx.
    pub async fn wait_distinct(&self, n: usize, what: &str) {
        super::wait_until(std::time::Duration::from_secs(120), what, || {
            let got = self
                .accepted()
                .iter()
                .map(|r| r.id.clone())
                .collect::<BTreeSet<_>>()
                .len();
            async move { got >= n }
        })
        .await;
    }

    /// Requests answered 2xx.
    pub fn accepted(&self) -> Vec<Receipt> {
        self.receipts()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

/// Whether the independent `standardwebhooks` crate accepts a delivery with `secret`.
pub fn reference_verifies(secret: &str, r: &Receipt) -> Result<(), standardwebhooks::WebhookError> {
    let wh = standardwebhooks::Webhook::new(secret)?;
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("webhook-id", r.id.parse().unwrap());
    headers.insert("webhook-timestamp", r.timestamp.parse().unwrap());
    headers.insert("webhook-signature", r.signature.parse().unwrap());
    wh.verify(r.body.as_bytes(), &headers)
}

/// Verifies a delivery with the independent `standardwebhooks` crate.
pub fn verify_symmetric(secret: &str, r: &Receipt) {
    reference_verifies(secret, r)
        .unwrap_or_else(|e| panic!("delivery {} fails verification: {e:?}", r.id));
}

/// Checks what one endpoint received against the log: every wanted event arrived
/// with its exact stream JSON, each tracker's events in order (first receipts),
/// with consecutive sequences and a previous-id chain; duplicates only as retries
/// of the same message.
pub fn check_deliveries(receipts: &[Receipt], log: &[Value], wanted: impl Fn(&Value) -> bool) {
    let by_id: HashMap<u64, &Value> = log.iter().map(|e| (e["id"].as_u64().unwrap(), e)).collect();
    let mut first: BTreeMap<String, Vec<(u64, u64, Option<u64>)>> = BTreeMap::new();
    let mut bodies: HashMap<String, String> = HashMap::new();
    for r in receipts {
        let body = r.json();
        let id: u64 = r.id.parse().expect("webhook-id is the event id");
        assert_eq!(
            body["data"]["id"].as_u64(),
            Some(id),
            "webhook-id is the event's id"
        );
        if let Some(b) = bodies.get(&r.id) {
            assert_eq!(b, &r.body, "a resent message is the same message");
            continue;
        }
        bodies.insert(r.id.clone(), r.body.clone());
        let event = by_id[&id];
        assert_eq!(
            &body["data"], event,
            "the payload is the event as in the stream"
        );
        assert_eq!(body["type"], event["type"]);
        assert_eq!(body["timestamp"], event["emitted_at"]);
        assert_eq!(body["schema_version"], 1);
        first
            .entry(event["tracker_id"].as_str().unwrap().to_string())
            .or_default()
            .push((
                id,
                body["sequence"].as_u64().unwrap(),
                body["previous_event_id"].as_u64(),
            ));
    }
    let want: BTreeSet<u64> = log
        .iter()
        .filter(|e| wanted(e))
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    let got: BTreeSet<u64> = bodies.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(got, want, "exactly the matching events were delivered");
    for (tracker, seq) in &first {
        let mut previous = None;
        for (i, (id, sequence, prev)) in seq.iter().enumerate() {
            assert_eq!(*sequence, i as u64 + 1, "{tracker}: sequence of event {id}");
            assert_eq!(
                *prev, previous,
                "{tracker}: previous_event_id of event {id}"
            );
            previous = Some(*id);
        }
    }
}
