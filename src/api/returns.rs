//! Returns: `POST /v1/trackers/{id}/milestones`, where the retailer reports what
//! the carrier cannot see (received, inspected, refunded), so the stream and
//! the summary carry a return through to the refund.

use super::{ApiError, IdPath, JsonBody, Shared, parse_body, stored_tracker, tracker_id};
use crate::events::{EventDraft, tracker_id_string};
use crate::returns::{Direction, Milestone, MilestoneKind, MilestoneOutcome};
use crate::summary::{Lang, SummaryInput};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// Longest note a milestone keeps, in characters.
const MAX_NOTE_CHARS: usize = 500;

/// A milestone as the API shows it.
pub(super) fn milestone_json(tracker: u64, m: &Milestone) -> Value {
    json!({
        "tracker_id": tracker_id_string(tracker),
        "kind": m.kind,
        "at": m.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "note": m.note,
    })
}

/// The milestone a request body describes, or the field at fault.
fn milestone_of(body: &Value, now: chrono::DateTime<chrono::Utc>) -> Result<Milestone, ApiError> {
    let obj = body.as_object().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body must be a JSON object {kind, at?, note?}",
        )
    })?;
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "kind" | "at" | "note"))
    {
        return Err(ApiError::bad(key.clone(), format!("unknown field {key:?}")));
    }
    let kind_error = || {
        ApiError::bad(
            "kind",
            "kind must be one of \"received\", \"inspected\", \"refunded\"",
        )
    };
    let kind = match obj.get("kind") {
        None | Some(Value::Null) => return Err(ApiError::bad("kind", "kind is required")),
        Some(v) => v
            .as_str()
            .and_then(MilestoneKind::parse)
            .ok_or_else(kind_error)?,
    };
    let at = match obj.get("at") {
        None | Some(Value::Null) => now,
        Some(v) => v
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| ApiError::bad("at", "at must be an RFC 3339 time"))?,
    };
    let note = match obj.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_NOTE_CHARS => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad(
                "note",
                format!("note must be a string of at most {MAX_NOTE_CHARS} characters"),
            ));
        }
    };
    Ok(Milestone::new(kind, at, note))
}

/// `POST /v1/trackers/{id}/milestones`: 201 with the stored milestone, 200 when
/// the same one was posted before, 409 for a conflicting repeat or an outbound tracker.
pub(super) async fn post_milestone(
    State(core): State<Shared>,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = tracker_id(&id)?;
    let value = parse_body(&body)?;
    let milestone = milestone_of(&value, core.clock.now())?;
    let row = stored_tracker(&core, id).await?;
    if row.direction != Direction::Return {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_return",
            format!(
                "tracker {} is outbound; milestones are only posted on trackers registered with direction \"return\"",
                tracker_id_string(id)
            ),
        ));
    }
    let follow = summary_after(&core, &row, &milestone).await?;
    match core
        .store
        .add_milestone(id, milestone, follow.into_iter().collect())
        .await
        .map_err(ApiError::internal)?
    {
        MilestoneOutcome::Added(m) => {
            // The owner reads what was announced back from the log at its next poll.
            core.registry.update(id, |e| {
                e.risk = None;
                e.risk_due = i64::MIN;
            });
            Ok((StatusCode::CREATED, Json(milestone_json(id, &m))))
        }
        MilestoneOutcome::Unchanged(m) => Ok((StatusCode::OK, Json(milestone_json(id, &m)))),
        MilestoneOutcome::Conflict(m) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "milestone_conflict",
            format!(
                "a {} milestone was already posted on this tracker at {} with other content; each kind is posted once",
                m.kind.as_str(),
                m.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        )
        .field("kind")),
        MilestoneOutcome::NoTracker => Err(ApiError::not_found("tracker")),
    }
}

/// The `summary.changed` a new milestone brings, decided as the poller decides
/// it (same wording, same key), so a delivered-back return that is no longer
/// polled still tells the customer "received", "inspected", "refunded" once each.
async fn summary_after(
    core: &crate::daemon::Core,
    row: &crate::store::TrackerRow,
    milestone: &Milestone,
) -> Result<Option<EventDraft>, ApiError> {
    let Some(mut ret) = core
        .store
        .return_context(row)
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    if ret.milestones.iter().any(|m| m.kind == milestone.kind) {
        return Ok(None); // a repeat or a conflict: nothing is stored
    }
    ret.milestones.push(milestone.clone());
    ret.milestones.sort_by_key(|m| m.kind);
    let announced = crate::poller::announced_risk(core, row.id)
        .await
        .map_err(ApiError::internal)?;
    let snapshot = crate::poller::current_snapshot(core, row.id)
        .await
        .map_err(ApiError::internal)?;
    let input = SummaryInput {
        snapshot: &snapshot,
        promised_by: row.promised_by.as_ref(),
        now: core.clock.now(),
        lang: Lang::En,
        tz: chrono_tz::UTC,
        risk: announced.at_risk.for_summary(),
        ret: Some(&ret),
    };
    Ok(crate::risk::summary_change(row.id, announced.summary, &input).1)
}
