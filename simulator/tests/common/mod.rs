//! Shared test helpers: a tiny JSON carrier (so the simulator's HTTP behaviour is
//! tested independently of the real plugins) and a reqwest bridge for SDK requests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, Instant};
use trackd_carrier_sdk::carrier::{
    AccessToken, AuthKind, CarrierDescriptor, Detection, NumberResult, Quota,
};
use trackd_carrier_sdk::sim::{SimCall, SimCredential, SimFault};
use trackd_carrier_sdk::{
    Carrier, CarrierError, Credentials, HttpRequest, HttpResponse, Method, SimReply,
    SimRequestError, Snapshot, Status,
};

/// A monday morning, so journeys are comparable across runs.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 14, 0, 0)
        .single()
        .expect("valid time")
}

/// A minimal carrier with a JSON wire format and a choice of auth scheme.
pub struct FakeCarrier {
    desc: CarrierDescriptor,
}

impl FakeCarrier {
    pub fn new(slug: &'static str, auth: AuthKind) -> FakeCarrier {
        FakeCarrier {
            desc: CarrierDescriptor {
                slug,
                name: "Fake",
                auth,
                batch_size: 5,
                quota: Quota {
                    per_second: 1000,
                    per_minute: None,
                    per_hour: None,
                    per_day: None,
                },
                default_base_url: "http://fake.invalid",
                format: "json",
            },
        }
    }
}

pub fn step_from_name(name: &str) -> Option<trackd_carrier_sdk::JourneyStep> {
    trackd_carrier_sdk::JourneyStep::ALL
        .into_iter()
        .find(|s| trackd_simulator::step_name(*s) == name)
}

impl Carrier for FakeCarrier {
    fn descriptor(&self) -> &CarrierDescriptor {
        &self.desc
    }

    fn detect(&self, number: &str) -> Detection {
        if number.starts_with("FK") {
            Detection::Pattern
        } else {
            Detection::No
        }
    }

    fn token_request(&self, creds: &Credentials) -> Result<Option<HttpRequest>, CarrierError> {
        if self.desc.auth != AuthKind::OAuth2ClientCredentials {
            return Ok(None);
        }
        let body = format!(
            "client_id={}&client_secret={}",
            creds.require_id("client id")?,
            creds.require_secret("client secret")?
        );
        Ok(Some(HttpRequest::post("/oauth/token", body)))
    }

    fn parse_token(&self, resp: &HttpResponse) -> Result<AccessToken, CarrierError> {
        if let Some(e) = CarrierError::from_http_status(resp) {
            return Err(e);
        }
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| CarrierError::malformed(e.to_string()))?;
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| CarrierError::malformed("no token"))?;
        let expires = v["expires_in"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(AccessToken {
            token: token.to_string(),
            expires_in_secs: expires,
        })
    }

    fn track_request(
        &self,
        numbers: &[&str],
        creds: &Credentials,
        token: Option<&str>,
    ) -> Result<HttpRequest, CarrierError> {
        let req = HttpRequest::get(format!("/track?numbers={}", numbers.join(",")));
        Ok(match self.desc.auth {
            AuthKind::OAuth2ClientCredentials | AuthKind::SessionToken => {
                req.header("authorization", format!("Bearer {}", token.unwrap_or("")))
            }
            AuthKind::Basic => req.header(
                "authorization",
                format!(
                    "Basic {}:{}",
                    creds.id.as_deref().unwrap_or(""),
                    creds.secret.as_deref().unwrap_or("")
                ),
            ),
            AuthKind::ApiKey => req.header("x-api-key", creds.secret.as_deref().unwrap_or("")),
        })
    }

    fn parse_track(
        &self,
        numbers: &[&str],
        resp: &HttpResponse,
    ) -> Result<Vec<NumberResult>, CarrierError> {
        if let Some(e) = CarrierError::from_http_status(resp) {
            return Err(e);
        }
        if resp.status != 200 {
            return Err(CarrierError::Rejected {
                code: resp.status.to_string(),
                message: resp.body_excerpt(),
            });
        }
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| CarrierError::malformed(e.to_string()))?;
        let results = v["results"]
            .as_array()
            .ok_or_else(|| CarrierError::malformed("no results"))?;
        let mut out = Vec::new();
        for (r, n) in results.iter().zip(numbers) {
            let outcome = match r["step"].as_str().and_then(step_from_name) {
                Some(step) => {
                    let mut s = Snapshot::pending();
                    s.status = step.status();
                    s.status_rule = "fake:step".into();
                    s.signed_by = r["signed_by"].as_str().map(str::to_string);
                    Ok(s)
                }
                None => Err(CarrierError::NotFound {
                    code: None,
                    message: "unknown".into(),
                }),
            };
            out.push(NumberResult {
                tracking_number: n.to_string(),
                outcome,
            });
        }
        Ok(out)
    }

    fn sim_mint_number(&self, serial: u64) -> String {
        format!("FK{serial:012}")
    }

    fn sim_route(&self, req: &HttpRequest) -> Result<SimCall, SimRequestError> {
        match (req.method, req.path()) {
            (Method::Post, "/oauth/token") => {
                let body = String::from_utf8_lossy(&req.body).into_owned();
                let mut id = None;
                let mut secret = None;
                for kv in body.split('&') {
                    match kv.split_once('=') {
                        Some(("client_id", v)) => id = Some(v.to_string()),
                        Some(("client_secret", v)) => secret = Some(v.to_string()),
                        _ => {}
                    }
                }
                match (id, secret) {
                    (Some(client_id), Some(client_secret)) => Ok(SimCall::Token {
                        client_id,
                        client_secret,
                    }),
                    _ => Err(SimRequestError::BadRequest(
                        "client_id and client_secret required".into(),
                    )),
                }
            }
            (Method::Get, "/track") => {
                let numbers: Vec<String> = req
                    .query_pairs()
                    .into_iter()
                    .find(|(k, _)| k == "numbers")
                    .map(|(_, v)| {
                        v.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .ok_or_else(|| {
                        SimRequestError::BadRequest("numbers parameter required".into())
                    })?;
                let credential = if let Some(auth) = req.header_value("authorization") {
                    match auth.split_once(' ') {
                        Some(("Bearer", t)) => SimCredential::Bearer(t.to_string()),
                        Some(("Basic", up)) => match up.split_once(':') {
                            Some((u, p)) => SimCredential::Basic {
                                user: u.to_string(),
                                password: p.to_string(),
                            },
                            None => SimCredential::None,
                        },
                        _ => SimCredential::None,
                    }
                } else if let Some(k) = req.header_value("x-api-key") {
                    SimCredential::ApiKey(k.to_string())
                } else {
                    SimCredential::None
                };
                Ok(SimCall::Track {
                    numbers,
                    credential,
                })
            }
            (_, path) => Err(SimRequestError::NotFound(path.to_string())),
        }
    }

    fn sim_render_track(&self, replies: &[SimReply<'_>]) -> HttpResponse {
        let results: Vec<Value> = replies
            .iter()
            .map(|r| match r {
                SimReply::Known(p) => json!({
                    "number": p.tracking_number,
                    "step": p.current().map(|e| trackd_simulator::step_name(e.step)),
                    "events": p.events.len(),
                    "signed_by": p.signed_by,
                }),
                SimReply::Unknown(n) => json!({"number": n, "error": "not found"}),
            })
            .collect();
        HttpResponse::new(
            200,
            "application/json",
            json!({ "results": results }).to_string(),
        )
    }

    fn sim_render_fault(&self, fault: &SimFault) -> HttpResponse {
        match fault {
            SimFault::Unauthorized => {
                HttpResponse::new(401, "application/json", r#"{"error":"unauthorized"}"#)
            }
            SimFault::RateLimited { retry_after_secs } => {
                HttpResponse::new(429, "application/json", r#"{"error":"slow down"}"#)
                    .header("Retry-After", retry_after_secs.to_string())
            }
            SimFault::ServerError => {
                HttpResponse::new(503, "application/json", r#"{"error":"unavailable"}"#)
            }
            SimFault::BadRequest { message } => HttpResponse::new(
                400,
                "application/json",
                json!({ "error": message }).to_string(),
            ),
        }
    }
}

/// Sends an SDK request to `base` and returns the SDK response.
pub async fn send(client: &reqwest::Client, base: &str, req: &HttpRequest) -> HttpResponse {
    let url = format!("{base}{}", req.path_and_query);
    let mut rb = match req.method {
        Method::Get => client.get(&url),
        Method::Post => client.post(&url),
    };
    for (k, v) in &req.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    if !req.body.is_empty() {
        rb = rb.body(req.body.clone());
    }
    let resp = rb.send().await.expect("simulator reachable on loopback");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.bytes().await.expect("body readable").to_vec();
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// A client with a generous timeout (the machine may be busy).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// Polls `cond` until true or panics after `deadline` (never sleep-and-hope).
pub async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The status a parser must report for `number` at the simulator's current time.
pub fn expected_status(sim: &trackd_simulator::Simulator, number: &str) -> Status {
    let p = sim
        .parcel_at(number, sim.clock().now())
        .expect("parcel exists now");
    p.current()
        .expect("known parcels have events")
        .step
        .status()
}
