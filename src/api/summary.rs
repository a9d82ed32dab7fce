//! WISMO answers: `GET /v1/trackers/{id}/summary` and the order-level
//! `GET /v1/orders/{reference}/summary` (every tracker sharing a reference).

use super::{ApiError, IdPath, Params, Shared, stored_tracker, tracker_id, unknown_param};
use crate::events::tracker_id_string;
use crate::store::TrackerFilter;
use crate::summary::order::summarize_order;
use crate::summary::{Lang, SummaryInput, summarize};
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

/// Most trackers one order summary reads.
const MAX_ORDER_PARCELS: usize = 1000;

/// The `lang` and `tz` a summary is written for: the query, else `Accept-Language`, else English in UTC.
fn language_and_zone(
    q: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(Lang, chrono_tz::Tz), ApiError> {
    let mut lang = None;
    let mut tz = chrono_tz::UTC;
    for (k, v) in q {
        match k.as_str() {
            "lang" => {
                lang = Some(Lang::parse(v).ok_or_else(|| {
                    ApiError::bad("lang", "lang must be one of en, fr, de, nl (a tag such as fr-CA is read by its language)")
                })?)
            }
            "tz" => {
                tz = v.parse().map_err(|_| {
                    ApiError::bad("tz", "tz must be an IANA time zone name such as Europe/Paris or UTC")
                })?
            }
            other => return Err(unknown_param(other)),
        }
    }
    let lang = lang
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split(',')
                        .filter_map(|t| Lang::parse(t.split(';').next().unwrap_or_default()))
                        .next()
                })
        })
        .unwrap_or(Lang::En);
    Ok((lang, tz))
}

pub(super) async fn tracker(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    headers: HeaderMap,
    Params(q): Params,
) -> Result<Json<Value>, ApiError> {
    let (lang, tz) = language_and_zone(&q, &headers)?;
    let id = tracker_id(&id)?;
    let row = stored_tracker(&core, id).await?;
    let snap = crate::poller::current_snapshot(&core, id)
        .await
        .map_err(ApiError::internal)?;
    let ret = core
        .store
        .return_context(&row)
        .await
        .map_err(ApiError::internal)?;
    let risk = crate::poller::announced_risk(&core, id)
        .await
        .map_err(ApiError::internal)?;
    let summary = summarize(&SummaryInput {
        snapshot: &snap,
        promised_by: row.promised_by.as_ref(),
        now: core.clock.now(),
        lang,
        tz,
        risk: risk.at_risk.for_summary(),
        ret: ret.as_ref(),
    });
    let mut v = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert("tracker_id".into(), json!(tracker_id_string(id)));
    }
    Ok(Json(v))
}

/// The order's `{reference}` path segment, whose rejection is the error contract.
pub(super) struct ReferencePath(String);

impl<S: Send + Sync> FromRequestParts<S> for ReferencePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(r)| ReferencePath(r))
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text())
                    .field("reference")
            })
    }
}

pub(super) async fn order(
    State(core): State<Shared>,
    ReferencePath(reference): ReferencePath,
    headers: HeaderMap,
    Params(q): Params,
) -> Result<Json<Value>, ApiError> {
    let (lang, tz) = language_and_zone(&q, &headers)?;
    let rows = core
        .store
        .list_trackers(
            TrackerFilter {
                reference: Some(reference.clone()),
                ..Default::default()
            },
            0,
            MAX_ORDER_PARCELS,
        )
        .await
        .map_err(ApiError::internal)?;
    if rows.is_empty() {
        return Err(ApiError::not_found("order (no tracker has this reference)").field("reference"));
    }
    let now = core.clock.now();
    let mut parcels = Vec::with_capacity(rows.len());
    let mut returns = Vec::new();
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        let snap = crate::poller::current_snapshot(&core, row.id)
            .await
            .map_err(ApiError::internal)?;
        let ret = core
            .store
            .return_context(row)
            .await
            .map_err(ApiError::internal)?;
        let risk = crate::poller::announced_risk(&core, row.id)
            .await
            .map_err(ApiError::internal)?;
        let s = summarize(&SummaryInput {
            snapshot: &snap,
            promised_by: row.promised_by.as_ref(),
            now,
            lang,
            tz,
            risk: risk.at_risk.for_summary(),
            ret: ret.as_ref(),
        });
        let mut v = serde_json::to_value(&s).map_err(ApiError::internal)?;
        if let Value::Object(m) = &mut v {
            m.insert("tracker_id".into(), json!(tracker_id_string(row.id)));
            m.insert("carrier".into(), json!(row.carrier));
            m.insert("tracking_number".into(), json!(row.tracking_number));
        }
        views.push(v);
        if row.direction == crate::returns::Direction::Return {
            returns.push(s);
        } else {
            parcels.push(s);
        }
    }
    let order = summarize_order(&parcels, &returns, lang);
    let mut v = serde_json::to_value(&order).map_err(ApiError::internal)?;
    if let Value::Object(m) = &mut v {
        m.insert("reference".into(), json!(reference));
        m.insert("lang".into(), json!(lang.as_str()));
        m.insert("tz".into(), json!(tz.name()));
        m.insert("trackers".into(), Value::Array(views));
    }
    Ok(Json(v))
}
