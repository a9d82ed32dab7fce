//! The control API (`/_sim/...`): lets `trackd sim` users and scripts create
//! parcels, inspect journeys and stats, and change faults without Rust code.

use crate::journey::{Journey, Scenario, step_name};
use crate::server::base_url;
use crate::{FaultConfig, PreviousShipment, Recycled, SimError, Simulator};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most parcels one control call may create (keeps a typo from eating memory).
pub(crate) const MAX_CREATE: usize = 100_000;

/// Binds and spawns the control server; returns its base URL.
pub(crate) async fn serve(
    sim: Simulator,
    addr: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("simulator control API: cannot listen on {addr}: {e}"),
        )
    })?;
    let url = base_url(listener.local_addr()?);
    tracing::info!(%url, "simulator control API listening");
    let app = router(sim);
    let task = tokio::spawn(async move {
        let mut rx = shutdown;
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "simulator control API failed");
        }
    });
    Ok((url, task))
}

fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/_sim/parcels", post(create_parcels))
        .route("/_sim/parcels/{number}", get(get_parcel))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/faults/{carrier}", get(get_faults).put(put_faults))
        .route("/_sim/clock", get(get_clock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

/// `{"error": {"code", "message"}}` with `status`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, axum::Json(body)).into_response()
}

fn sim_error(e: SimError) -> Response {
    match e {
        SimError::UnknownCarrier(_) => {
            error(StatusCode::NOT_FOUND, "unknown_carrier", e.to_string())
        }
        SimError::InvalidFaults(_) => {
            error(StatusCode::BAD_REQUEST, "invalid_faults", e.to_string())
        }
        SimError::NumbersExhausted { .. } => {
            error(StatusCode::CONFLICT, "numbers_exhausted", e.to_string())
        }
    }
}

/// Parses a JSON object body into `T` (arrays and scalars are refused too); the
/// error is the message for a `bad_json` answer.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    if !value.is_object() {
        return Err("the body must be a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| format!("invalid request: {e}"))
}

fn bad_json(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_json", message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateParcels {
    carrier: String,
    count: usize,
    #[serde(default)]
    scenario: Option<String>,
    /// Opt-in: the carrier also lists an older shipment under each number.
    #[serde(default)]
    recycled: Option<RecycledSpec>,
}

/// `"recycled": {"previous": "delivered"|"stuck", "label_in_hours": N}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecycledSpec {
    #[serde(default)]
    previous: Option<String>,
    #[serde(default)]
    label_in_hours: u32,
}

async fn create_parcels(State(sim): State<Simulator>, body: Bytes) -> Response {
    let req: CreateParcels = match parse_json(&body) {
        Ok(r) => r,
        Err(message) => return bad_json(message),
    };
    if req.count == 0 || req.count > MAX_CREATE {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_count",
            format!(
                "count must be between 1 and {MAX_CREATE}, got {}",
                req.count
            ),
        );
    }
    let scenario = match req.scenario.as_deref().map(|s| (s, Scenario::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((name, None)) => {
            let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.as_str()).collect();
            return error(
                StatusCode::BAD_REQUEST,
                "unknown_scenario",
                format!("unknown scenario {name:?}; known: {}", known.join(", ")),
            );
        }
    };
    let recycled = match &req.recycled {
        None => None,
        Some(r) => {
            let previous = match r.previous.as_deref() {
                None | Some("delivered") => PreviousShipment::Delivered,
                Some("stuck") => PreviousShipment::Stuck,
                Some(other) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "unknown_previous",
                        format!("unknown recycled.previous {other:?}; known: delivered, stuck"),
                    );
                }
            };
            Some(Recycled {
                previous,
                label_in: chrono::Duration::hours(i64::from(r.label_in_hours)),
            })
        }
    };
    let created = match (scenario, recycled) {
        (s, Some(r)) => {
            sim.create_recycled_parcels(&req.carrier, req.count, s.unwrap_or(Scenario::OnTime), r)
        }
        (Some(s), None) => sim.create_parcels_with_scenario(&req.carrier, req.count, s),
        (None, None) => sim.create_parcels(&req.carrier, req.count),
    };
    match created {
        Ok(numbers) => (
            StatusCode::CREATED,
            axum::Json(json!({"tracking_numbers": numbers})),
        )
            .into_response(),
        Err(e) => sim_error(e),
    }
}

fn rfc3339<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn eta_json(eta: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>) -> Value {
    match eta {
        Some((s, e)) => json!({"start": rfc3339(&s), "end": rfc3339(&e)}),
        None => Value::Null,
    }
}

/// The journey as JSON, with what is visible at `now`.
pub(crate) fn journey_json(j: &Journey, now: DateTime<Utc>) -> Value {
    let visible = j.visible_count(now);
    let current = visible.checked_sub(1).and_then(|i| j.events.get(i));
    let events: Vec<Value> = j
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "at": rfc3339(&e.event.at),
                "step": step_name(e.event.step),
                "status": e.event.step.status(),
                "place": e.event.place,
                "eta": eta_json(e.eta),
                "eta_change_reason": e.eta_change_reason,
                "visible": i < visible,
            })
        })
        .collect();
    json!({
        "tracking_number": j.number,
        "carrier": j.carrier,
        "scenario": j.scenario,
        "created_at": rfc3339(&j.created_at),
        "service": j.service,
        "origin": j.origin,
        "destination": j.destination,
        "signed_by": j.signed_by,
        "now": rfc3339(&now),
        "status": current.map(|e| e.event.step.status()),
        "step": current.map(|e| step_name(e.event.step)),
        "eta": eta_json(current.and_then(|e| e.eta)),
        "eta_change_reason": current.and_then(|e| e.eta_change_reason.clone()),
        "initial_eta": eta_json(j.initial_eta()),
        "events": events,
    })
}

async fn get_parcel(State(sim): State<Simulator>, Path(number): Path<String>) -> Response {
    match sim.journey(&number) {
        Some(j) => axum::Json(journey_json(&j, sim.clock().now())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "unknown_parcel",
            format!("no simulated parcel {number:?}"),
        ),
    }
}

async fn get_stats(State(sim): State<Simulator>) -> Response {
    axum::Json(sim.stats()).into_response()
}

/// Fault settings as JSON: probabilities and the hold in milliseconds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    #[serde(default)]
    timeout: f64,
    #[serde(default)]
    server_error: f64,
    #[serde(default)]
    malformed: f64,
    #[serde(default)]
    rate_limited: f64,
    #[serde(default)]
    timeout_hold_ms: Option<u64>,
    #[serde(default)]
    huge_body: f64,
    /// Size of a huge body in bytes; absent or null = endless.
    #[serde(default)]
    huge_body_bytes: Option<u64>,
}

fn faults_json(f: &FaultConfig) -> Value {
    json!({
        "timeout": f.timeout,
        "server_error": f.server_error,
        "malformed": f.malformed,
        "rate_limited": f.rate_limited,
        "timeout_hold_ms": u64::try_from(f.timeout_hold.as_millis()).unwrap_or(u64::MAX),
        "huge_body": f.huge_body,
        "huge_body_bytes": f.huge_body_bytes,
    })
}

async fn get_faults(State(sim): State<Simulator>, Path(carrier): Path<String>) -> Response {
    match sim.faults(&carrier) {
        Some(f) => axum::Json(faults_json(&f)).into_response(),
        None => sim_error(SimError::UnknownCarrier(carrier)),
    }
}

async fn put_faults(
    State(sim): State<Simulator>,
    Path(carrier): Path<String>,
    body: Bytes,
) -> Response {
    if sim.faults(&carrier).is_none() {
        return sim_error(SimError::UnknownCarrier(carrier));
    }
    let b: FaultsBody = match parse_json(&body) {
        Ok(b) => b,
        Err(message) => return bad_json(message),
    };
    let cfg = FaultConfig {
        timeout: b.timeout,
        server_error: b.server_error,
        malformed: b.malformed,
        rate_limited: b.rate_limited,
        timeout_hold: b
            .timeout_hold_ms
            .map_or(FaultConfig::default().timeout_hold, Duration::from_millis),
        huge_body: b.huge_body,
        huge_body_bytes: b.huge_body_bytes,
    };
    match sim.set_faults(&carrier, cfg) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(e),
    }
}

async fn get_clock(State(sim): State<Simulator>) -> Response {
    let clock = sim.clock();
    axum::Json(json!({"now": rfc3339(&clock.now()), "scale": clock.scale()})).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such control endpoint",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}
