//! `/v1/webhooks`: endpoints (create, list, get, update, delete), key rotation,
//! test messages, replays and the delivery log.

use super::{ApiError, IdPath, JsonBody, Params, Shared, page_limit, parse_body, unknown_param};
use crate::webhooks::deliverer::{self, Connection};
use crate::webhooks::endpoint::{self, EndpointConfig, EndpointFilter, KeySlot};
use crate::webhooks::signature::SigningKey;
use crate::webhooks::{AttemptOutcome, AttemptRecord, AttemptRow, Endpoint, Lane};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::time::Duration;

const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 512;
const MAX_TYPES: usize = 64;
const MAX_REPLAY_IDS: usize = 10_000;
/// Most events one replay may span (ids), so a dry run stays a bounded scan.
const MAX_REPLAY_SPAN: u64 = 1_000_000;
/// How long resolving an endpoint's host may take at creation.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The public view of an endpoint (never a secret key).
fn view(e: &Endpoint) -> Value {
    let c = &e.config;
    let public_key = (c.signing == "ed25519")
        .then(|| c.keys.first())
        .flatten()
        .and_then(|k| SigningKey::parse(&k.key).ok())
        .map(|k| k.receiver_key());
    json!({
        "id": e.id,
        "url": c.url,
        "description": c.description,
        "event_types": c.filter.event_types,
        "carriers": c.filter.carriers,
        "reference_prefix": c.filter.reference_prefix,
        "labels": c.filter.labels,
        "rate_limit_per_second": c.rate_limit_per_second,
        "signing": c.signing,
        "public_key": public_key,
        "keys": c.keys.iter().map(|k| json!({
            "created_at": rfc3339(k.created_at),
            "expires_at": k.expires_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "failing_since": e.failing_since.map(rfc3339),
        "created_at": rfc3339(e.created_at),
        "updated_at": rfc3339(e.updated_at),
    })
}

/// The view plus what the receiver needs to verify (shown at creation and rotation only).
fn view_with_key(e: &Endpoint, key: &SigningKey) -> Value {
    let mut v = view(e);
    if let Value::Object(m) = &mut v {
        match key {
            SigningKey::Symmetric(_) => {
                m.insert("secret".into(), Value::String(key.receiver_key()));
            }
            _ => {
                m.insert("public_key".into(), Value::String(key.receiver_key()));
            }
        }
    }
    v
}

fn object(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body must be a JSON object",
        )
    })
}

fn string_list(
    v: &Value,
    field: &str,
    max: usize,
    max_len: usize,
) -> Result<Vec<String>, ApiError> {
    let items = v
        .as_array()
        .ok_or_else(|| ApiError::bad(field, format!("{field} must be an array of strings")))?;
    if items.len() > max {
        return Err(ApiError::bad(field, format!("at most {max} items")));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let s = item
            .as_str()
            .filter(|s| !s.is_empty() && s.chars().count() <= max_len)
            .ok_or_else(|| {
                ApiError::bad(
                    format!("{field}[{i}]"),
                    format!("a string of 1-{max_len} characters"),
                )
            })?;
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

fn opt_string(v: &Value, field: &str, max_len: usize) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max_len => Ok(Some(s.clone())),
        _ => Err(ApiError::bad(
            field,
            format!("{field} must be a string of at most {max_len} characters, or null"),
        )),
    }
}

/// Checks a URL against `webhooks.*` (scheme, and every address it resolves to); the normalized URL.
async fn checked_url(core: &Shared, v: &Value) -> Result<String, ApiError> {
    let url = v
        .as_str()
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_URL_LEN)
        .ok_or_else(|| {
            ApiError::bad(
                "url",
                format!("url must be a string of 1-{MAX_URL_LEN} characters"),
            )
        })?;
    let policy = deliverer::url_policy(&core.config.webhooks);
    let parsed = policy.check_syntax(url).map_err(|r| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.code(), r.to_string()).field("url")
    })?;
    match tokio::time::timeout(RESOLVE_TIMEOUT, policy.resolve(&parsed)).await {
        Ok(Ok(_)) => Ok(parsed.to_string()),
        Ok(Err(r)) => Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.code(), r.to_string()).field("url"),
        ),
        Err(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unresolvable",
            format!(
                "resolving the URL's host took longer than {}s",
                RESOLVE_TIMEOUT.as_secs()
            ),
        )
        .field("url")),
    }
}

/// Applies the settable fields of a create or update body to `config`.
async fn apply_fields(
    core: &Shared,
    body: &Map<String, Value>,
    config: &mut EndpointConfig,
    allowed_extra: &[&str],
) -> Result<(), ApiError> {
    for (key, v) in body {
        match key.as_str() {
            "url" => config.url = checked_url(core, v).await?,
            "description" => {
                config.description = opt_string(v, "description", MAX_DESCRIPTION_LEN)?
            }
            "event_types" => {
                let globs = string_list(v, "event_types", MAX_TYPES, 64)?;
                for (i, g) in globs.iter().enumerate() {
                    if !crate::events::EventType::ALL
                        .iter()
                        .any(|t| endpoint::glob_matches(g, t.as_str()))
                    {
                        return Err(ApiError::bad(
                            format!("event_types[{i}]"),
                            format!("{g:?} matches no event type"),
                        ));
                    }
                }
                config.filter.event_types = globs;
            }
            "carriers" => {
                let slugs = string_list(v, "carriers", 64, 32)?;
                for (i, s) in slugs.iter().enumerate() {
                    if !core.plugins.iter().any(|p| p.descriptor().slug == s) {
                        return Err(ApiError::bad(
                            format!("carriers[{i}]"),
                            format!("unknown carrier {s:?}"),
                        ));
                    }
                }
                config.filter.carriers = slugs;
            }
            "reference_prefix" => {
                config.filter.reference_prefix =
                    opt_string(v, "reference_prefix", 256)?.filter(|p| !p.is_empty())
            }
            "labels" => config.filter.labels = string_list(v, "labels", 32, 64)?,
            "rate_limit_per_second" => {
                config.rate_limit_per_second = match v {
                    Value::Null => None,
                    v => Some(
                        whole_number(v)
                            .filter(|n| (1..=10_000).contains(n))
                            .ok_or_else(|| {
                                ApiError::bad(
                                    "rate_limit_per_second",
                                    "an integer 1-10000, or null",
                                )
                            })? as u32,
                    ),
                }
            }
            k if allowed_extra.contains(&k) => {}
            other => return Err(ApiError::bad(other, format!("unknown field {other:?}"))),
        }
    }
    Ok(())
}

fn new_key(signing: &str) -> SigningKey {
    if signing == "ed25519" {
        SigningKey::generate_ed25519()
    } else {
        SigningKey::generate_symmetric()
    }
}

pub(super) async fn create(
    State(core): State<Shared>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = parse_body(&body)?;
    let body = object(&v)?;
    if !body.contains_key("url") {
        return Err(ApiError::bad("url", "url is required"));
    }
    let signing = match body.get("signing") {
        None | Some(Value::Null) => "symmetric",
        Some(Value::String(s)) if s == "symmetric" || s == "ed25519" => s.as_str(),
        Some(_) => {
            return Err(ApiError::bad(
                "signing",
                "signing must be \"symmetric\" or \"ed25519\"",
            ));
        }
    };
    let now = Utc::now();
    let key = new_key(signing);
    let mut config = EndpointConfig {
        url: String::new(),
        description: None,
        filter: EndpointFilter::default(),
        rate_limit_per_second: None,
        signing: signing.to_string(),
        keys: vec![KeySlot {
            key: key.to_stored(),
            created_at: now,
            expires_at: None,
        }],
    };
    apply_fields(&core, body, &mut config, &["signing"]).await?;
    let e = Endpoint {
        id: endpoint::new_id(),
        config,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        failing_reported: false,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    // New endpoints receive what is committed from now on; older events can be replayed.
    let (last, _) = core.store.cursors().await.map_err(ApiError::internal)?;
    let start = last.max(core.hub.last_id());
    core.store
        .webhooks()
        .insert_endpoint(&e, start)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(endpoint = %e.id, url = %e.config.url, "webhook endpoint created");
    Ok((StatusCode::CREATED, Json(view_with_key(&e, &key))))
}

async fn load(core: &Shared, id: &str) -> Result<Endpoint, ApiError> {
    if !id.starts_with(endpoint::ID_PREFIX) {
        return Err(ApiError::not_found("webhook endpoint").field("id"));
    }
    core.store
        .webhooks()
        .endpoint(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("webhook endpoint").field("id"))
}

pub(super) async fn list(
    State(core): State<Shared>,
    Params(q): Params,
) -> Result<Json<Value>, ApiError> {
    let mut after = None;
    let mut limit = 100usize;
    for (k, v) in &q {
        match k.as_str() {
            "cursor" if endpoint::is_id(v) => after = Some(v.clone()),
            "cursor" => {
                return Err(ApiError::bad(
                    "cursor",
                    "cursor must be an endpoint id (the next_cursor of the previous page)",
                ));
            }
            "limit" => limit = page_limit(v)?,
            other => return Err(unknown_param(other)),
        }
    }
    let mut all = core
        .store
        .webhooks()
        .endpoints()
        .await
        .map_err(ApiError::internal)?;
    // Pages in id order, after the cursor's id: paging goes on even when the
    // endpoint the cursor names was deleted in between.
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let rest: Vec<&Endpoint> = all
        .iter()
        .filter(|e| after.as_deref().is_none_or(|c| e.id.as_str() > c))
        .collect();
    let page: Vec<&Endpoint> = rest.iter().take(limit).copied().collect();
    let next = (rest.len() > page.len())
        .then(|| page.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(
        json!({ "webhooks": page.into_iter().map(view).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}

pub(super) async fn get(
    State(core): State<Shared>,
    IdPath(id): IdPath,
) -> Result<Json<Value>, ApiError> {
    let e = load(&core, &id).await?;
    let lanes = core
        .store
        .webhooks()
        .lanes(&e.id)
        .await
        .map_err(ApiError::internal)?;
    let mut v = view(&e);
    if let Value::Object(m) = &mut v {
        m.insert(
            "cursor".into(),
            json!(lanes.iter().find(|l| l.id == 0).map_or(0, |l| l.position)),
        );
        m.insert(
            "replays".into(),
            lanes
                .iter()
                .filter(|l| l.id != 0)
                .map(|l| json!({ "replay_id": l.id, "position": l.position, "until": l.until }))
                .collect(),
        );
    }
    Ok(Json(v))
}

pub(super) async fn update(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let mut e = load(&core, &id).await?;
    let v = parse_body(&body)?;
    let body = object(&v)?;
    if body.contains_key("signing") {
        return Err(ApiError::bad(
            "signing",
            "the signing scheme is fixed at creation; create a new endpoint to change it",
        ));
    }
    apply_fields(&core, body, &mut e.config, &["enabled"]).await?;
    let ws = core.store.webhooks();
    match body.get("enabled") {
        Some(Value::Bool(true)) if !e.enabled => {
            e.enabled = true;
            e.disabled_reason = None;
            e.failing_since = None;
            e.failing_reported = false;
            ws.set_health(&e.id, None, false)
                .await
                .map_err(ApiError::internal)?;
        }
        Some(Value::Bool(false)) if e.enabled => {
            e.enabled = false;
            e.disabled_reason = Some("manual".into());
        }
        None | Some(Value::Bool(_)) => {}
        Some(_) => return Err(ApiError::bad("enabled", "enabled must be true or false")),
    }
    e.updated_at = Utc::now();
    if !ws.update_endpoint(&e).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found("webhook endpoint").field("id"));
    }
    e.version += 1;
    Ok(Json(view(&e)))
}

pub(super) async fn delete(
    State(core): State<Shared>,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let e = load(&core, &id).await?;
    if !core
        .store
        .webhooks()
        .delete_endpoint(&e.id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found("webhook endpoint").field("id"));
    }
    tracing::info!(endpoint = %e.id, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// An optional empty body, or a JSON object.
fn optional_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let v = parse_body(body)?;
    Ok(object(&v)?.clone())
}

pub(super) async fn rotate(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let mut e = load(&core, &id).await?;
    let body = optional_object(&body)?;
    let mut overlap = core.config.webhooks.rotation_overlap;
    for (k, v) in &body {
        match k.as_str() {
            "overlap" => {
                overlap = v
                    .as_str()
                    .and_then(|s| humantime::parse_duration(s).ok())
                    .filter(|d| *d <= Duration::from_secs(30 * 86_400))
                    .ok_or_else(|| {
                        ApiError::bad(
                            "overlap",
                            "overlap must be a duration such as \"24h\" or \"0s\", at most 30 days",
                        )
                    })?
            }
            other => return Err(ApiError::bad(other, format!("unknown field {other:?}"))),
        }
    }
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(overlap).unwrap_or_default();
    // The current key keeps signing through the overlap; keys an earlier rotation
    // was retiring stop now, so a header never carries more than two signatures.
    e.config.keys.retain(|k| k.live(now));
    e.config.keys.truncate(1);
    for k in &mut e.config.keys {
        k.expires_at = Some(k.expires_at.map_or(until, |t| t.min(until)));
    }
    let key = new_key(&e.config.signing);
    e.config.keys.insert(
        0,
        KeySlot {
            key: key.to_stored(),
            created_at: now,
            expires_at: None,
        },
    );
    e.updated_at = now;
    if !core
        .store
        .webhooks()
        .update_endpoint(&e)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found("webhook endpoint").field("id"));
    }
    e.version += 1;
    let mut v = view_with_key(&e, &key);
    if let Value::Object(m) = &mut v {
        m.insert("previous_expires_at".into(), json!(rfc3339(until)));
    }
    tracing::info!(endpoint = %e.id, overlap = %humantime::format_duration(overlap), "webhook key rotated");
    Ok(Json(v))
}

pub(super) async fn test(
    State(core): State<Shared>,
    IdPath(id): IdPath,
) -> Result<Json<Value>, ApiError> {
    let e = load(&core, &id).await?;
    let now = Utc::now();
    let msg_id = format!("test_{:016x}", rand::random::<u64>());
    let data = json!({ "message": "trackd webhook test", "endpoint_id": e.id }).to_string();
    let body = deliverer::body("webhook.test", &rfc3339(now), &e.id, 0, None, &data);
    let result = match Connection::open(&e.config.url, &core.config.webhooks).await {
        Ok(conn) => {
            deliverer::post(
                conn.client(),
                conn.url(),
                &msg_id,
                &e.signing_keys(now),
                body,
            )
            .await
        }
        Err(r) => deliverer::AttemptResult::refused(&r),
    };
    let record = AttemptRecord {
        lane: 0,
        event_id: 0,
        attempt: 0,
        at: now,
        outcome: result.outcome,
        settled: None,
        status: result.status,
        latency_ms: Some(result.latency.as_millis().min(u128::from(u32::MAX)) as u32),
        error: result.error.clone(),
        response_excerpt: result.excerpt.clone(),
    };
    core.store
        .webhooks()
        .record(&e.id, &[record], &[])
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "webhook_id": msg_id,
        "delivered": result.outcome == AttemptOutcome::Success,
        "outcome": result.outcome,
        "status": result.status,
        "latency_ms": result.latency.as_millis() as u64,
        "error": result.error,
    })))
}

/// A JSON integer, also when written as `5.0` (JSON Schema's integers include it).
fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(f))
            .map(|f| f as u64)
    })
}

/// A query cursor or id: stored ids are signed 64-bit, so larger values can name nothing.
fn query_id(v: &str, field: &str, what: &str) -> Result<u64, ApiError> {
    v.parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| ApiError::bad(field, format!("{field} must be {what} (0-{})", i64::MAX)))
}

fn id_value(v: &Value, field: &str) -> Result<u64, ApiError> {
    whole_number(v)
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| {
            ApiError::bad(
                field,
                format!("{field} must be a non-negative integer event id"),
            )
        })
}

fn time_value(v: &Value, field: &str) -> Result<i64, ApiError> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| ApiError::bad(field, format!("{field} must be an RFC 3339 time")))
}

pub(super) async fn replay(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut e = load(&core, &id).await?;
    let v = parse_body(&body)?;
    let body = object(&v)?;
    let mut dry_run = false;
    let (mut after, mut until, mut since, mut before, mut ids) = (None, None, None, None, None);
    for (k, v) in body {
        match k.as_str() {
            "dry_run" => {
                dry_run = v
                    .as_bool()
                    .ok_or_else(|| ApiError::bad("dry_run", "dry_run must be true or false"))?
            }
            "after" => after = Some(id_value(v, "after")?),
            "until" => until = Some(id_value(v, "until")?),
            "since" => since = Some(time_value(v, "since")?),
            "before" => before = Some(time_value(v, "before")?),
            "event_ids" => {
                let list = v
                    .as_array()
                    .filter(|a| !a.is_empty() && a.len() <= MAX_REPLAY_IDS)
                    .ok_or_else(|| {
                        ApiError::bad(
                            "event_ids",
                            format!("event_ids must be an array of 1-{MAX_REPLAY_IDS} event ids"),
                        )
                    })?;
                let mut parsed = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        id_value(v, &format!("event_ids[{i}]")).and_then(|n| {
                            if n == 0 {
                                Err(ApiError::bad(
                                    format!("event_ids[{i}]"),
                                    "event ids start at 1",
                                ))
                            } else {
                                Ok(n)
                            }
                        })
                    })
                    .collect::<Result<Vec<u64>, _>>()?;
                parsed.sort_unstable();
                parsed.dedup();
                ids = Some(parsed);
            }
            other => return Err(ApiError::bad(other, format!("unknown field {other:?}"))),
        }
    }
    let forms = [
        after.is_some() || until.is_some(),
        since.is_some() || before.is_some(),
        ids.is_some(),
    ];
    if forms.iter().filter(|f| **f).count() != 1 {
        return Err(ApiError::bad(
            "after",
            "give exactly one range: {after, until} (event ids), {since, before} (times) or {event_ids}",
        ));
    }
    let (last, floor) = core.store.cursors().await.map_err(ApiError::internal)?;
    let ws = core.store.webhooks();
    let mut lane = Lane {
        id: 0,
        position: 0,
        until: None,
        event_ids: None,
        emitted_between: None,
    };
    if let Some(list) = ids {
        lane.position = list[0] - 1;
        lane.until = list.last().copied();
        lane.event_ids = Some(list);
    } else if since.is_some() || before.is_some() {
        let (s, b) = (since.unwrap_or(0), before.unwrap_or(i64::MAX));
        if s >= b {
            return Err(ApiError::bad("before", "before must be later than since"));
        }
        match ws
            .event_ids_between(s, b)
            .await
            .map_err(ApiError::internal)?
        {
            Some((first, last_id)) => {
                lane.position = first - 1;
                lane.until = Some(last_id);
            }
            None => {
                lane.position = last;
                lane.until = Some(last);
            }
        }
        lane.emitted_between = Some((s, b));
    } else {
        lane.position = after.unwrap_or(floor);
        lane.until = Some(until.unwrap_or(last));
    }
    let until = lane.until.unwrap_or(last);
    if until > last {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "cursor_ahead",
            format!("the newest event is {last}"),
        )
        .field("until"));
    }
    if lane.position > last {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "cursor_ahead",
            format!("the newest event is {last}"),
        )
        .field("after"));
    }
    if lane.position > until {
        return Err(ApiError::bad("until", "until must not be before after"));
    }
    if lane.position < floor {
        return Err(ApiError::new(
            StatusCode::GONE,
            "cursor_expired",
            format!("events up to {floor} were deleted by retention; replay from {floor} or later"),
        )
        .field("after"));
    }
    if until - lane.position > MAX_REPLAY_SPAN {
        return Err(ApiError::bad(
            "until",
            format!("a replay spans at most {MAX_REPLAY_SPAN} event ids; split it"),
        ));
    }
    let matched = count_matching(&core, &e, &lane).await?;
    if dry_run {
        return Ok((
            StatusCode::OK,
            Json(json!({ "matched": matched, "dry_run": true })),
        ));
    }
    let replay_id = ws
        .add_lane(&e.id, &lane)
        .await
        .map_err(ApiError::internal)?;
    // A new version makes the deliverer reload the endpoint's lanes.
    e.updated_at = Utc::now();
    ws.update_endpoint(&e).await.map_err(ApiError::internal)?;
    tracing::info!(endpoint = %e.id, replay_id, matched, "webhook replay queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "replay_id": replay_id, "matched": matched, "dry_run": false })),
    ))
}

/// How many events of the replay the endpoint's filters let through.
async fn count_matching(core: &Shared, e: &Endpoint, lane: &Lane) -> Result<u64, ApiError> {
    let until = lane.until.unwrap_or(0);
    let mut cursor = lane.position;
    let mut matched = 0;
    let mut labels: std::collections::HashMap<u64, Vec<String>> = Default::default();
    while cursor < until {
        let page = core
            .store
            .events_after(cursor, 1000, crate::store::EventFilter::default())
            .await
            .map_err(ApiError::internal)?;
        if page.is_empty() {
            break;
        }
        for ev in page {
            if ev.id > until {
                return Ok(matched);
            }
            cursor = ev.id;
            if lane
                .event_ids
                .as_ref()
                .is_some_and(|ids| ids.binary_search(&ev.id).is_err())
            {
                continue;
            }
            if let Some((s, b)) = lane.emitted_between {
                let at = deliverer::emitted_at(&ev.json)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_millis());
                if !at.is_some_and(|t| (s..b).contains(&t)) {
                    continue;
                }
            }
            let l = if e.config.filter.needs_labels() {
                match labels.entry(ev.tracker_id) {
                    std::collections::hash_map::Entry::Occupied(o) => o.get().clone(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let row = core
                            .store
                            .tracker(ev.tracker_id)
                            .await
                            .map_err(ApiError::internal)?;
                        v.insert(row.map(|r| r.labels).unwrap_or_default()).clone()
                    }
                }
            } else {
                Vec::new()
            };
            if e.config.filter.matches(&ev, &l) {
                matched += 1;
            }
        }
    }
    Ok(matched)
}

fn attempt_view(row: &AttemptRow) -> Value {
    let r = &row.record;
    json!({
        "id": row.id,
        "event_id": (r.event_id != 0).then_some(r.event_id),
        "replay_id": (r.lane != 0).then_some(r.lane),
        "kind": match (r.event_id, r.outcome) {
            (_, AttemptOutcome::EndpointFailing | AttemptOutcome::EndpointDisabled) => "notice",
            (0, _) => "test",
            _ => "delivery",
        },
        "attempt": r.attempt,
        "at": rfc3339(r.at),
        "outcome": r.outcome,
        "settled": r.settled,
        "status": r.status,
        "latency_ms": r.latency_ms,
        "error": r.error,
        "response_excerpt": r.response_excerpt,
    })
}

pub(super) async fn deliveries(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    Params(q): Params,
) -> Result<Json<Value>, ApiError> {
    let e = load(&core, &id).await?;
    let (mut before, mut limit, mut event_id) = (None, 100usize, None);
    for (k, v) in &q {
        match k.as_str() {
            "cursor" => before = Some(query_id(v, "cursor", "a delivery log id")?),
            "limit" => limit = page_limit(v)?,
            "event_id" => event_id = Some(query_id(v, "event_id", "an event id")?),
            other => return Err(unknown_param(other)),
        }
    }
    let rows = core
        .store
        .webhooks()
        .attempts(&e.id, before, limit, event_id)
        .await
        .map_err(ApiError::internal)?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(
        json!({ "deliveries": rows.iter().map(attempt_view).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}
