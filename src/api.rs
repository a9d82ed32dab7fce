//! The HTTP API (design §4): trackers, the event stream and batch pages, health
//! and metrics. Every bad request gets a 4xx with `{error: {code, message, field}}`
//! and nothing is half-applied.

use crate::daemon::Core;
use crate::events::{EventType, StoredEvent, parse_tracker_id, tracker_id_string};
use crate::returns::{Direction, ReturnFor};
use crate::store::{EventFilter, NewTracker, TrackerFilter, TrackerRow};
use crate::stream::SubscribeError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use trackd_carrier_sdk::Status;

mod returns;
mod summary;
mod webhooks;

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

/// A set of routes whose (path, method) pairs are recorded as they are added, so
/// the OpenAPI test can compare the document with what is really served.
#[derive(Default)]
struct Routes {
    router: Router<Shared>,
    table: Vec<(&'static str, Method)>,
}

impl Routes {
    fn on<H, T>(mut self, path: &'static str, method: Method, handler: H) -> Routes
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} is not a routable method ({path})"));
        self.router = self.router.route(path, on(filter, handler));
        self.table.push((path, method));
        self
    }
}

/// The served routes in three groups whose layers differ.
struct RouteGroups {
    /// Token-guarded requests with a deadline.
    guarded: Routes,
    /// The event stream: token-guarded, and never cut by `api.request_timeout`.
    stream: Routes,
    /// Open to anyone: health, metrics (scraped without a token) and the API document.
    public: Routes,
}

fn route_groups() -> RouteGroups {
    let guarded = Routes::default()
        .on("/v1/trackers", Method::POST, register)
        .on("/v1/trackers", Method::GET, list_trackers)
        .on("/v1/trackers/{id}", Method::GET, get_tracker)
        .on("/v1/trackers/{id}", Method::DELETE, delete_tracker)
        .on("/v1/trackers/{id}/refresh", Method::POST, refresh)
        .on(
            "/v1/trackers/{id}/milestones",
            Method::POST,
            returns::post_milestone,
        )
        .on("/v1/trackers/{id}/summary", Method::GET, summary::tracker)
        .on(
            "/v1/orders/{reference}/summary",
            Method::GET,
            summary::order,
        )
        .on("/v1/events", Method::GET, events_page)
        .on("/v1/carriers", Method::GET, list_carriers)
        .on("/v1/webhooks", Method::POST, webhooks::create)
        .on("/v1/webhooks", Method::GET, webhooks::list)
        .on("/v1/webhooks/{id}", Method::GET, webhooks::get)
        .on("/v1/webhooks/{id}", Method::PATCH, webhooks::update)
        .on("/v1/webhooks/{id}", Method::DELETE, webhooks::delete)
        .on("/v1/webhooks/{id}/rotate", Method::POST, webhooks::rotate)
        .on("/v1/webhooks/{id}/test", Method::POST, webhooks::test)
        .on("/v1/webhooks/{id}/replay", Method::POST, webhooks::replay)
        .on(
            "/v1/webhooks/{id}/deliveries",
            Method::GET,
            webhooks::deliveries,
        );
    let stream = Routes::default().on("/v1/events/stream", Method::GET, events_stream);
    let public = Routes::default()
        .on("/v1/openapi.json", Method::GET, openapi)
        .on("/healthz", Method::GET, healthz)
        .on("/readyz", Method::GET, readyz)
        .on("/metrics", Method::GET, metrics);
    RouteGroups {
        guarded,
        stream,
        public,
    }
}

/// Every (path, method) the router serves (GET also answers HEAD), so a test can
/// hold the OpenAPI document to it.
pub fn route_table() -> Vec<(&'static str, Method)> {
    let g = route_groups();
    [g.guarded.table, g.stream.table, g.public.table].concat()
}

/// The OpenAPI 3.1 document of this API, compiled in and served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../docs/openapi.json");

/// All routes, with bearer-token scopes, body limit, deadline and the error contract applied.
pub fn router(core: Shared) -> Router {
    let api = &core.config.api;
    let g = route_groups();
    let deadline = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, api.request_timeout);
    let guarded = g
        .guarded
        .router
        .layer(deadline)
        .merge(g.stream.router)
        .layer(middleware::from_fn_with_state(core.clone(), authorize));
    g.public
        .router
        .layer(deadline)
        .merge(guarded)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint") })
        .layer(CatchPanicLayer::custom(panic_response))
        // The limit is enforced on the raw body (by Content-Length up front, or while it
        // streams in), replacing axum's 2 MB default so `api.max_body_bytes` is the one limit.
        .layer(RequestBodyLimitLayer::new(api.max_body_bytes))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::map_response_with_state(
            Arc::new(Limits::of(api)),
            error_contract,
        ))
        .with_state(core)
}

/// A panicking handler answers 500 in the error contract instead of dropping the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::http::Response<String> {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = what, "a request handler panicked");
    let mut resp = axum::http::Response::new(String::new());
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

/// The limits the error contract's messages name.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_body_bytes: usize,
    request_timeout: std::time::Duration,
}

impl Limits {
    fn of(api: &crate::config::ApiConfig) -> Limits {
        Limits {
            max_body_bytes: api.max_body_bytes,
            request_timeout: api.request_timeout,
        }
    }
}

/// The one place where answers that did not come from a handler (axum's and
/// tower-http's rejections: 405, 413, 408, 500 after a panic, ...) are turned
/// into the `{"error": {code, message, field}}` contract, keeping their status
/// and headers (`Allow` on a 405).
async fn error_contract(State(limits): State<Arc<Limits>>, resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(resp.headers()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!(
                "the request body is larger than api.max_body_bytes ({} bytes)",
                limits.max_body_bytes
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            format!(
                "the request was not completed within api.request_timeout ({})",
                humantime::format_duration(limits.request_timeout)
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not accept that method (see the Allow header)".to_string(),
        ),
        StatusCode::INTERNAL_SERVER_ERROR => (
            "internal",
            "internal error; see the daemon's log".to_string(),
        ),
        other => {
            let code = match other {
                StatusCode::BAD_REQUEST => "bad_request",
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::NOT_ACCEPTABLE => "not_acceptable",
                StatusCode::CONFLICT => "conflict",
                StatusCode::LENGTH_REQUIRED => "length_required",
                StatusCode::URI_TOO_LONG => "uri_too_long",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
                StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                _ if other.is_client_error() => "bad_request",
                _ => "internal",
            };
            let message = if text.is_empty() {
                other
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_string()
            } else {
                text
            };
            (code, message)
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = json!({ "error": { "code": code, "message": message, "field": null } });
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// `Query` whose rejection is the error contract rather than axum's plain text (rare:
/// bad UTF-8 in a query string decodes leniently; handlers then check each value).
struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Params(q))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// The `{id}` path segment, whose rejection (it does not decode to UTF-8) is the error contract.
struct IdPath(String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| IdPath(id))
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()).field("id")
            })
    }
}

/// A request body that must be JSON when present: a non-empty body without a JSON
/// content type is 415, an unreadable or too large one the error contract.
struct JsonBody(Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than api.max_body_bytes",
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
            }
        })?;
        if !body.is_empty() && !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        Ok(JsonBody(body))
    }
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
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
    promised_by: Option<trackd_carrier_sdk::Eta>,
    direction: Direction,
    return_for: Option<String>,
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
        promised_by: row.promised_by,
        direction: row.direction,
        return_for: row.return_for.as_ref().map(ReturnFor::as_string),
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
const MAX_LABEL_LEN: usize = 64;

fn validate_tracker(core: &Core, v: &Value, path: &str) -> Result<NewTracker, ApiError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad(path, "each tracker must be a JSON object"))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "tracking_number"
                | "carrier"
                | "reference"
                | "labels"
                | "promised_by"
                | "direction"
                | "return_for"
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
        Some(Value::String(s)) if s.chars().count() <= MAX_REFERENCE_LEN => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(ApiError::bad(
                f("reference"),
                format!("reference is longer than {MAX_REFERENCE_LEN} characters"),
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
                Some(s) if !s.is_empty() && s.chars().count() <= MAX_LABEL_LEN => Ok(s.to_string()),
                _ => Err(ApiError::bad(
                    format!("{}[{i}]", f("labels")),
                    format!(
                        "labels must be non-empty strings of at most {MAX_LABEL_LEN} characters"
                    ),
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
    let promised_by = match obj.get("promised_by") {
        None | Some(Value::Null) => None,
        Some(v) => Some(promise(v).ok_or_else(|| {
            ApiError::bad(
                f("promised_by"),
                "promised_by must be a date (\"2026-12-24\"), an RFC 3339 time, or {\"start\", \"end\"} RFC 3339 times with start <= end",
            )
        })?),
    };
    let direction = match obj.get("direction") {
        None | Some(Value::Null) => Direction::Outbound,
        Some(v) => v.as_str().and_then(Direction::parse).ok_or_else(|| {
            ApiError::bad(
                f("direction"),
                "direction must be \"outbound\" or \"return\"",
            )
        })?,
    };
    let return_for = match obj.get("return_for") {
        None | Some(Value::Null) => None,
        Some(_) if direction != Direction::Return => {
            return Err(ApiError::bad(
                f("return_for"),
                "return_for is only allowed with direction \"return\"",
            ));
        }
        Some(Value::String(s)) if s.starts_with("trk_") => Some(ReturnFor::Tracker(
            parse_tracker_id(s).ok_or_else(|| {
                ApiError::bad(
                    f("return_for"),
                    format!("return_for {s:?} starts with trk_ but is not a tracker id"),
                )
            })?,
        )),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_REFERENCE_LEN => {
            Some(ReturnFor::Order(s.clone()))
        }
        Some(_) => {
            return Err(ApiError::bad(
                f("return_for"),
                format!(
                    "return_for must be a tracker id (trk_…) or an order reference of 1-{MAX_REFERENCE_LEN} characters"
                ),
            ));
        }
    };
    Ok(NewTracker {
        carrier,
        tracking_number: number,
        reference,
        labels,
        promised_by,
        direction,
        return_for,
    })
}

/// Refuses a return registered for a tracker that does not exist, before anything is stored.
async fn check_return_for(core: &Core, new: &[NewTracker], paths: &[&str]) -> Result<(), ApiError> {
    // Each named tracker is read once, however many returns of the batch name it.
    let mut found = std::collections::HashSet::new();
    for (t, path) in new.iter().zip(paths) {
        if let Some(ReturnFor::Tracker(id)) = t.return_for
            && !found.contains(&id)
            && core
                .store
                .tracker(id)
                .await
                .map_err(ApiError::internal)?
                .is_none()
        {
            let field = if path.is_empty() {
                "return_for".to_string()
            } else {
                format!("{path}.return_for")
            };
            return Err(ApiError::bad(
                field,
                format!(
                    "return_for names tracker {}, which does not exist",
                    tracker_id_string(id)
                ),
            ));
        }
        if let Some(ReturnFor::Tracker(id)) = t.return_for {
            found.insert(id);
        }
    }
    Ok(())
}

/// The retailer's promise as an ETA: a date, a time, or a window of two times.
fn promise(v: &Value) -> Option<trackd_carrier_sdk::Eta> {
    use trackd_carrier_sdk::{Eta, Timestamp};
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(Timestamp::Zoned)
    };
    match v {
        Value::String(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(date) => Some(Eta::Date { date }),
            Err(_) => time(v).map(|t| Eta::Window { start: t, end: t }),
        },
        Value::Object(o) if o.len() == 2 => {
            let (start, end) = (time(o.get("start")?)?, time(o.get("end")?)?);
            (start.latest_instant() <= end.latest_instant()).then_some(Eta::Window { start, end })
        }
        _ => None,
    }
}

async fn register(
    State(core): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the request body is larger than api.max_body_bytes ({} bytes)",
                    core.config.api.max_body_bytes
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    })?;
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
            _ if !o.is_empty() => {
                let key = o.keys().next().cloned().unwrap_or_default();
                return Err(ApiError::bad(
                    key.clone(),
                    format!("unknown field {key:?} beside \"trackers\""),
                ));
            }
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
    let paths: Vec<&str> = items.iter().map(|(_, p)| p.as_str()).collect();
    check_return_for(&core, &new, &paths).await?;
    let registered = core
        .store
        .register(new, core.clock.now())
        .await
        .map_err(ApiError::internal)?;
    let mut any_created = false;
    let views: Vec<TrackerView> = registered
        .iter()
        .map(|r| {
            any_created |= r.created;
            // In fleet mode a tracker of a shard held elsewhere is polled by its
            // owner, told by the store at commit (this instance's own listener
            // may have loaded it already).
            if r.created
                && core.registry.get(r.row.id).is_none()
                && core.ownership.holds(&r.row.carrier, &r.row.tracking_number)
            {
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

/// A list page size (`limit`): 1-1000.
fn page_limit(v: &str) -> Result<usize, ApiError> {
    v.parse()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| ApiError::bad("limit", "limit must be 1-1000"))
}

/// A query parameter the endpoint does not take.
fn unknown_param(name: &str) -> ApiError {
    ApiError::bad(name, format!("unknown query parameter {name:?}"))
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
    IdPath(id): IdPath,
) -> Result<Json<TrackerView>, ApiError> {
    let id = tracker_id(&id)?;
    let row = stored_tracker(&core, id).await?;
    let snap = crate::poller::current_snapshot(&core, id)
        .await
        .map_err(ApiError::internal)?;
    let mut v = view(&row);
    v.snapshot = serde_json::to_value(&*snap).ok();
    Ok(Json(v))
}

async fn list_trackers(
    State(core): State<Shared>,
    Params(q): Params,
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
            "direction" => {
                filter.direction = Some(Direction::parse(v).ok_or_else(|| {
                    ApiError::bad("direction", "direction must be \"outbound\" or \"return\"")
                })?)
            }
            "cursor" => {
                after = parse_tracker_id(v)
                    .ok_or_else(|| ApiError::bad("cursor", "cursor must be a tracker id"))?
            }
            "limit" => limit = page_limit(v)?,
            other => return Err(unknown_param(other)),
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
    IdPath(id): IdPath,
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
    match core.registry.remove(id) {
        Some(e) => core.forget(id, &e.subject.carrier),
        None => core.snapshots.invalidate(&id),
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh(
    State(core): State<Shared>,
    IdPath(id): IdPath,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = tracker_id(&id)?;
    let Some(entry) = core.registry.get(id) else {
        return refresh_elsewhere(&core, id).await;
    };
    if !entry.state.is_polled() {
        return Err(not_active(entry.state));
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

/// One tracker's stored record, or the API's 404.
async fn stored_tracker(core: &Core, id: u64) -> Result<crate::store::TrackerRow, ApiError> {
    core.store
        .tracker(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("tracker"))
}

fn not_active(state: crate::trackers::TrackerState) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_active",
        format!(
            "tracker is {}; only active trackers are polled",
            state.as_str()
        ),
    )
}

/// A refresh of a tracker this instance does not poll: in fleet mode its owner
/// is asked (through the store); otherwise the tracker does not exist.
async fn refresh_elsewhere(core: &Core, id: u64) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(leases) = &core.leases else {
        return Err(ApiError::not_found("tracker"));
    };
    let row = stored_tracker(core, id).await?;
    if !row.state.is_polled() {
        return Err(not_active(row.state));
    }
    leases
        .tell_owners(crate::ownership::OwnerMessage::Refresh(id))
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "scheduled": true, "via": "owner" })),
    ))
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
            other => return Err(unknown_param(other)),
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

async fn events_page(State(core): State<Shared>, Params(q): Params) -> Result<Response, ApiError> {
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
    Params(q): Params,
) -> Result<Response, ApiError> {
    let filter = event_filter(&q, &["after"])?;
    // Both are checked; the header (set by SSE clients on reconnect) wins.
    let query_cursor = cursor_param(q.get("after").map(String::as_str), "after")?;
    let after = match headers.get("last-event-id") {
        Some(h) => cursor_param(Some(h.to_str().unwrap_or("\u{fffd}")), "Last-Event-ID")?,
        None => query_cursor,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A router with the same outer layers as `router`, and handlers that fail the ways
    /// the real ones cannot be made to on purpose.
    async fn serve_failing() -> String {
        let limits = Arc::new(Limits {
            max_body_bytes: 1024,
            request_timeout: std::time::Duration::from_secs(5),
        });
        let app = Router::new()
            .route(
                "/panic",
                axum::routing::get(|| async {
                    if std::hint::black_box(true) {
                        panic!("handler bug");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/teapot",
                axum::routing::get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
            )
            .route(
                "/unavailable",
                axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
            )
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::map_response_with_state(limits, error_contract));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn error_of(url: &str) -> (u16, Value) {
        let r = reqwest::get(url).await.unwrap();
        let status = r.status().as_u16();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        (status, r.json().await.unwrap())
    }

    #[tokio::test]
    async fn a_panic_answers_500_in_the_error_contract() {
        let url = serve_failing().await;
        let (status, body) = error_of(&format!("{url}/panic")).await;
        assert_eq!(status, 500);
        assert_eq!(
            body,
            json!({ "error": { "code": "internal", "message": "internal error; see the daemon's log", "field": null } })
        );
        // The server survived it.
        let (status, _) = error_of(&format!("{url}/panic")).await;
        assert_eq!(status, 500);
    }

    #[tokio::test]
    async fn other_plain_errors_keep_their_status_and_text() {
        let url = serve_failing().await;
        let (status, body) = error_of(&format!("{url}/teapot")).await;
        assert_eq!(status, 418);
        assert_eq!(body["error"]["code"], "bad_request");
        assert_eq!(body["error"]["message"], "short and stout");
        let (status, body) = error_of(&format!("{url}/unavailable")).await;
        assert_eq!(status, 503);
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(body["error"]["message"], "Service Unavailable");
        let (status, body) = error_of(&format!("{url}/nothing")).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "not_found");
    }
}
