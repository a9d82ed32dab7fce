//! The HTTP API (design §4): trackers, the event stream and batch pages, health
//! and metrics. Every bad request gets a 4xx with `{error: {code, message, field}}`
//! and nothing is half-applied.

use crate::daemon::Core;
use crate::events::{EventType, StoredEvent, parse_tracker_id, tracker_id_string};
use crate::store::{EventFilter, NewTracker, TrackerFilter, TrackerRow};
use crate::stream::SubscribeError;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use trackd_carrier_sdk::Status;

type Shared = Arc<Core>;

/// A client-facing error: status, stable code, human message, offending field.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
    fn bad(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).field(field)
    }
    fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error serving a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the daemon's log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({ "error": { "code": self.code, "message": self.message, "field": self.field } });
        (self.status, Json(body)).into_response()
    }
}

impl From<SubscribeError> for ApiError {
    fn from(e: SubscribeError) -> ApiError {
        match e {
            SubscribeError::Expired { .. } => {
                ApiError::new(StatusCode::GONE, "cursor_expired", e.to_string()).field("after")
            }
            SubscribeError::Ahead { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "cursor_ahead", e.to_string()).field("after")
            }
            SubscribeError::Store(e) => ApiError::internal(e),
        }
    }
}

/// All routes, with bearer-token scopes applied.
pub fn router(core: Shared) -> Router {
    let v1 = Router::new()
        .route("/trackers", post(register).get(list_trackers))
        .route("/trackers/{id}", get(get_tracker).delete(delete_tracker))
        .route("/trackers/{id}/refresh", post(refresh))
        .route("/events", get(events_page))
        .route("/events/stream", get(events_stream))
        .route("/carriers", get(list_carriers))
        .layer(middleware::from_fn_with_state(core.clone(), authorize));
    Router::new()
        .nest("/v1", v1)
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint") })
        .with_state(core)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(core): State<Shared>, req: Request, next: Next) -> Response {
    let api = &core.config.api;
    if api.read_tokens.is_empty() && api.write_tokens.is_empty() {
        return next.run(req).await;
    }
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = presented else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token is required",
        )
        .into_response();
    };
    let matches = |list: &Vec<crate::config::Secret>| {
        list.iter()
            .any(|s| constant_time_eq(s.expose().as_bytes(), token.as_bytes()))
    };
    let allowed = if write {
        matches(&api.write_tokens)
    } else {
        matches(&api.read_tokens) || matches(&api.write_tokens)
    };
    if !allowed {
        let scope = if write { "write" } else { "read" };
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token does not grant the {scope} scope"),
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(Serialize)]
struct TrackerView {
    id: String,
    carrier: String,
    tracking_number: String,
    reference: Option<String>,
    labels: Vec<String>,
    created_at: String,
    state: crate::trackers::TrackerState,
    status: Status,
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
}

fn view(row: &TrackerRow) -> TrackerView {
    TrackerView {
        id: tracker_id_string(row.id),
        carrier: row.carrier.clone(),
        tracking_number: row.tracking_number.clone(),
        reference: row.reference.clone(),
        labels: row.labels.clone(),
        created_at: row
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        state: row.state,
        status: row.status,
        last_error: row.error_kind.clone(),
        snapshot: None,
        created: None,
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "a JSON body is required",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )
    })
}

const MAX_NUMBER_LEN: usize = 64;
const MAX_REFERENCE_LEN: usize = 256;
const MAX_LABELS: usize = 32;

fn validate_tracker(core: &Core, v: &Value, path: &str) -> Result<NewTracker, ApiError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad(path, "each tracker must be a JSON object"))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "tracking_number" | "carrier" | "reference" | "labels"
        ) {
            return Err(ApiError::bad(
                format!("{path}.{key}"),
                format!("unknown field {key:?}"),
            ));
        }
    }
    let f = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    let raw = obj
        .get("tracking_number")
        .ok_or_else(|| ApiError::bad(f("tracking_number"), "tracking_number is required"))?
        .as_str()
        .ok_or_else(|| ApiError::bad(f("tracking_number"), "tracking_number must be a string"))?;
    let number = crate::carriers::normalize_number(raw);
    if number.is_empty()
        || number.len() > MAX_NUMBER_LEN
        || !number.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::bad(
            f("tracking_number"),
            format!("tracking_number must be 1-{MAX_NUMBER_LEN} letters and digits"),
        ));
    }
    let carrier = match obj.get("carrier") {
        None | Some(Value::Null) => crate::carriers::detect_one(&core.plugins, &number)
            .map_err(|m| ApiError::bad(f("carrier"), m))?
            .to_string(),
        Some(Value::String(s)) => {
            let s = s.trim().to_ascii_lowercase();
            if !core.plugins.iter().any(|p| p.descriptor().slug == s) {
                return Err(ApiError::bad(
                    f("carrier"),
                    format!("unknown carrier {s:?}"),
                ));
            }
            s
        }
        Some(_) => return Err(ApiError::bad(f("carrier"), "carrier must be a string")),
    };
    if !core.carriers.contains_key(carrier.as_str()) {
        return Err(ApiError::bad(
            f("carrier"),
            format!("carrier {carrier:?} is not enabled in this daemon's config"),
        ));
    }
    let reference = match obj.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_REFERENCE_LEN => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(ApiError::bad(
                f("reference"),
                format!("reference is longer than {MAX_REFERENCE_LEN} bytes"),
            ));
        }
        Some(_) => return Err(ApiError::bad(f("reference"), "reference must be a string")),
    };
    let labels = match obj.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_LABELS => a
            .iter()
            .enumerate()
            .map(|(i, l)| match l.as_str() {
                Some(s) if !s.is_empty() && s.len() <= 64 => Ok(s.to_string()),
                _ => Err(ApiError::bad(
                    format!("{}[{i}]", f("labels")),
                    "labels must be non-empty strings of at most 64 bytes",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::bad(
                f("labels"),
                format!("labels must be an array of at most {MAX_LABELS} strings"),
            ));
        }
    };
    Ok(NewTracker {
        carrier,
        tracking_number: number,
        reference,
        labels,
    })
}

async fn register(State(core): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let value = parse_body(&body)?;
    let (items, single): (Vec<(Value, String)>, bool) = match value {
        Value::Array(a) => (
            a.into_iter()
                .enumerate()
                .map(|(i, v)| (v, format!("[{i}]")))
                .collect(),
            false,
        ),
        Value::Object(mut o) if o.contains_key("trackers") => match o.remove("trackers") {
            Some(Value::Array(a)) => (
                a.into_iter()
                    .enumerate()
                    .map(|(i, v)| (v, format!("trackers[{i}]")))
                    .collect(),
                false,
            ),
            _ => return Err(ApiError::bad("trackers", "trackers must be an array")),
        },
        v @ Value::Object(_) => (vec![(v, String::new())], true),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "expected a tracker object, an array, or {\"trackers\": [...]}",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad(
            "trackers",
            "at least one tracker is required",
        ));
    }
    if items.len() > core.config.api.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("at most {} trackers per request", core.config.api.max_batch),
        )
        .field("trackers"));
    }
    // Validate everything before writing anything.
    let new: Vec<NewTracker> = items
        .iter()
        .map(|(v, p)| validate_tracker(&core, v, p))
        .collect::<Result<_, _>>()?;
    let registered = core
        .store
        .register(new, core.clock.now())
        .await
        .map_err(ApiError::internal)?;
    let mut any_created = false;
    let views: Vec<TrackerView> = registered
        .iter()
        .map(|r| {
            if r.created && core.registry.get(r.row.id).is_none() {
                any_created = true;
                core.registry.insert(Core::entry_for(&r.row));
                core.schedule_soon(&r.row.carrier, r.row.id, std::time::Duration::ZERO);
            }
            let mut v = view(&r.row);
            v.created = Some(r.created);
            v
        })
        .collect();
    let status = if any_created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    if single {
        let v = views
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal("registration returned nothing"))?;
        return Ok((status, Json(v)).into_response());
    }
    let created = registered.iter().filter(|r| r.created).count();
    Ok((
        status,
        Json(json!({ "trackers": views, "created": created })),
    )
        .into_response())
}

fn tracker_id(s: &str) -> Result<u64, ApiError> {
    parse_tracker_id(s).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no tracker with id {s:?}"),
        )
        .field("id")
    })
}

async fn get_tracker(
    State(core): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<TrackerView>, ApiError> {
    let id = tracker_id(&id)?;
    let row = core
        .store
        .tracker(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("tracker"))?;
    let snap = crate::poller::current_snapshot(&core, id).await;
    let mut v = view(&row);
    v.snapshot = serde_json::to_value(&*snap).ok();
    Ok(Json(v))
}

async fn list_trackers(
    State(core): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = TrackerFilter::default();
    let mut after = 0;
    let mut limit = 100usize;
    for (k, v) in &q {
        match k.as_str() {
            "carrier" => filter.carrier = Some(v.clone()),
            "status" => {
                filter.status = Some(
                    Status::parse(v)
                        .ok_or_else(|| ApiError::bad("status", format!("unknown status {v:?}")))?,
                )
            }
            "reference" => filter.reference = Some(v.clone()),
            "cursor" => {
                after = parse_tracker_id(v)
                    .ok_or_else(|| ApiError::bad("cursor", "cursor must be a tracker id"))?
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::bad("limit", "limit must be 1-1000"))?
            }
            other => {
                return Err(ApiError::bad(
                    other,
                    format!("unknown query parameter {other:?}"),
                ));
            }
        }
    }
    let rows = core
        .store
        .list_trackers(filter, after, limit)
        .await
        .map_err(ApiError::internal)?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| tracker_id_string(r.id)))
        .flatten();
    Ok(Json(
        json!({ "trackers": rows.iter().map(view).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}

async fn delete_tracker(
    State(core): State<Shared>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = tracker_id(&id)?;
    if !core
        .store
        .delete_tracker(id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found("tracker"));
    }
    if let Some(e) = core.registry.remove(id)
        && let Some(rt) = core.carriers.get(&*e.subject.carrier)
    {
        rt.queue.remove(id);
        rt.last_ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
    core.snapshots.invalidate(&id);
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh(
    State(core): State<Shared>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = tracker_id(&id)?;
    let entry = core
        .registry
        .get(id)
        .ok_or_else(|| ApiError::not_found("tracker"))?;
    if !entry.state.is_polled() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_active",
            format!(
                "tracker is {}; only active trackers are polled",
                entry.state.as_str()
            ),
        ));
    }
    if core.recently_refreshed.contains_key(&id) {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "scheduled": false, "reason": "refreshed within cache.answer_ttl" })),
        ));
    }
    core.recently_refreshed.insert(id, ());
    core.schedule_soon(&entry.subject.carrier, id, std::time::Duration::ZERO);
    Ok((StatusCode::ACCEPTED, Json(json!({ "scheduled": true }))))
}

fn event_filter(
    q: &HashMap<String, String>,
    allowed_extra: &[&str],
) -> Result<EventFilter, ApiError> {
    let mut f = EventFilter::default();
    for (k, v) in q {
        match k.as_str() {
            "carrier" => f.carrier = Some(v.clone()),
            "reference" => f.reference = Some(v.clone()),
            "tracker_id" => {
                f.tracker_id = Some(parse_tracker_id(v).ok_or_else(|| {
                    ApiError::bad("tracker_id", "tracker_id must be a tracker id (trk_…)")
                })?)
            }
            "type" => {
                for t in v.split(',').filter(|t| !t.is_empty()) {
                    f.types.push(EventType::parse(t).ok_or_else(|| {
                        ApiError::bad("type", format!("unknown event type {t:?}"))
                    })?);
                }
            }
            k if allowed_extra.contains(&k) => {}
            other => {
                return Err(ApiError::bad(
                    other,
                    format!("unknown query parameter {other:?}"),
                ));
            }
        }
    }
    Ok(f)
}

fn cursor_param(v: Option<&str>, field: &str) -> Result<u64, ApiError> {
    match v {
        None => Ok(0),
        Some(s) => s.trim().parse().map_err(|_| {
            ApiError::bad(field, "the cursor must be a non-negative integer event id")
        }),
    }
}

async fn events_page(
    State(core): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let filter = event_filter(&q, &["after", "limit"])?;
    let after = cursor_param(q.get("after").map(String::as_str), "after")?;
    let max = core.config.api.page_limit_max;
    let limit = match q.get("limit") {
        None => 1000.min(max),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad("limit", format!("limit must be 1-{max}")))?,
    };
    let events = core.hub.page(&core.store, after, limit, &filter).await?;
    let next = events.last().map_or(after, |e| e.id);
    let mut body = String::with_capacity(events.iter().map(|e| e.json.len() + 1).sum());
    for e in &events {
        body.push_str(&e.json);
        body.push('\n');
    }
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
        h.insert("trackd-next-after", v);
    }
    Ok(resp)
}

fn sse_event(e: &StoredEvent) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.as_str())
        .data(&*e.json)
}

async fn events_stream(
    State(core): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let filter = event_filter(&q, &["after"])?;
    let header_cursor = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let after = match header_cursor {
        Some(h) => cursor_param(Some(h), "Last-Event-ID")?,
        None => cursor_param(q.get("after").map(String::as_str), "after")?,
    };
    let events = core
        .hub
        .subscribe(core.store.clone(), after, filter)
        .await?;
    let mut stop = core.shutdown.subscribe();
    let metrics = core.metrics.clone();
    let stream = async_stream::stream! {
        let mut events = std::pin::pin!(events);
        let mut last = after;
        loop {
            tokio::select! {
                biased;
                _ = crate::daemon::stopped(&mut stop) => break,
                next = events.next() => match next {
                    Some(e) => {
                        last = e.id;
                        metrics.stream_events_sent.inc();
                        yield Ok::<_, Infallible>(sse_event(&e));
                    }
                    None => break,
                },
            }
        }
        // Final message so a consumer knows where to resume; it has no `id:` so
        // it does not move the client's Last-Event-ID.
        yield Ok(SseEvent::default().event("shutdown").data(json!({ "last_event_id": last }).to_string()));
    };
    let sse = Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(core.config.api.stream_heartbeat)
            .text("heartbeat"),
    );
    let mut resp = sse.into_response();
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

async fn list_carriers(State(core): State<Shared>) -> Json<Value> {
    let list: Vec<Value> = core
        .plugins
        .iter()
        .map(|p| {
            let d = p.descriptor();
            let rt = core.carriers.get(d.slug);
            json!({
                "slug": d.slug,
                "name": d.name,
                "enabled": rt.is_some(),
                "format": d.format,
                "batch_size": rt.map_or(d.batch_size, |r| r.batch_size),
                "quota": rt.map(|r| json!({ "per_second": r.client.quota.per_second, "per_minute": r.client.quota.per_minute, "per_hour": r.client.quota.per_hour, "per_day": r.client.quota.per_day })),
                "queued": rt.map(|r| r.queue.len()),
            })
        })
        .collect();
    Json(json!({ "carriers": list }))
}

async fn readyz(State(core): State<Shared>) -> Response {
    let mut reasons = Vec::new();
    if let Err(e) = core.store.ping().await {
        reasons.push(format!("store unreachable: {e}"));
    }
    if core.carriers.is_empty() {
        reasons.push("no carrier is enabled".to_string());
    }
    if core.is_shutting_down() {
        reasons.push("shutting down".to_string());
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reasons": reasons })),
        )
            .into_response()
    }
}

async fn metrics(State(core): State<Shared>) -> Response {
    let mut resp = core.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
