//! Where webhook deliveries meet storage: endpoints, per-endpoint cursors ("lanes")
//! and the delivery log. SQLite and PostgreSQL implement it alike
//! (`tests/webhook_store_contract.rs` runs the contract on both).

use super::endpoint::Endpoint;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest response-body excerpt kept per attempt: enough to read an error, never a stored payload.
pub const EXCERPT_BYTES: usize = 256;

/// Cuts a response body to [`EXCERPT_BYTES`] on a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES)]);
    let mut s = text.into_owned();
    while s.len() > EXCERPT_BYTES {
        s.pop();
    }
    s
}

/// A cursor of one endpoint over the log: lane 0 follows the live log for ever,
/// other lanes are replays that end at `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub id: u64,
    /// Every matching event with an id ≤ position was delivered or given up.
    pub position: u64,
    /// A replay's last event id; `None` for the live lane.
    pub until: Option<u64>,
    /// A replay of these ids only (sorted); `None`: every matching id in the range.
    pub event_ids: Option<Vec<u64>>,
    /// A replay limited to events emitted in [since, before) (epoch ms).
    pub emitted_between: Option<(i64, i64)>,
}

impl Lane {
    /// The live lane starting after `position`.
    pub fn live(position: u64) -> Lane {
        Lane {
            id: 0,
            position,
            until: None,
            event_ids: None,
            emitted_between: None,
        }
    }
}

/// What one attempt (or one notice about the endpoint) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Success,
    HttpError,
    Redirect,
    Timeout,
    ConnectError,
    RateLimited,
    Gone,
    /// Notice: the endpoint has failed every attempt for `webhooks.failing_after`.
    EndpointFailing,
    /// Notice: the endpoint was disabled (410, or failing past `webhooks.disable_after`).
    EndpointDisabled,
}

impl AttemptOutcome {
    /// Every attempt outcome (metrics labels are created for each up front).
    pub const ATTEMPTS: [AttemptOutcome; 7] = [
        AttemptOutcome::Success,
        AttemptOutcome::HttpError,
        AttemptOutcome::Redirect,
        AttemptOutcome::Timeout,
        AttemptOutcome::ConnectError,
        AttemptOutcome::RateLimited,
        AttemptOutcome::Gone,
    ];

    /// Stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Success => "success",
            AttemptOutcome::HttpError => "http_error",
            AttemptOutcome::Redirect => "redirect",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::ConnectError => "connect_error",
            AttemptOutcome::RateLimited => "rate_limited",
            AttemptOutcome::Gone => "gone",
            AttemptOutcome::EndpointFailing => "endpoint_failing",
            AttemptOutcome::EndpointDisabled => "endpoint_disabled",
        }
    }

    /// Reads a stored name back.
    pub fn parse(s: &str) -> Option<AttemptOutcome> {
        [
            AttemptOutcome::EndpointFailing,
            AttemptOutcome::EndpointDisabled,
        ]
        .into_iter()
        .chain(AttemptOutcome::ATTEMPTS)
        .find(|o| o.as_str() == s)
    }
}

/// One row of the delivery log, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub lane: u64,
    /// The event delivered; 0 for a test message or a notice.
    pub event_id: u64,
    /// 1 for the first try of this event in this lane.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// Set when this attempt settled the delivery: "delivered" or "failed" (given up).
    pub settled: Option<&'static str>,
    pub status: Option<u16>,
    pub latency_ms: Option<u32>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// A delivery log row with its id (newest rows have the highest ids).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub id: u64,
    pub record: AttemptRecord,
}

/// What the log says about one event of a lane beyond the lane's position (a restart resumes from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub event_id: u64,
    pub attempts: u32,
    pub last_at: DateTime<Utc>,
    pub settled: bool,
}

/// What deliveries need from a storage engine.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a new endpoint with its live lane starting after `live_position`.
    async fn insert_endpoint(&self, e: &Endpoint, live_position: u64) -> Result<(), StoreError>;
    /// Every endpoint, oldest first.
    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;
    async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// Saves config, enabled and disabled_reason, bumping the version; false when it does not exist.
    async fn update_endpoint(&self, e: &Endpoint) -> Result<bool, StoreError>;
    /// Saves the failing state (no version bump: deliverers need not restart for it).
    async fn set_health(
        &self,
        id: &str,
        failing_since: Option<DateTime<Utc>>,
        reported: bool,
    ) -> Result<(), StoreError>;
    /// Deletes an endpoint with its lanes and delivery log; false when it did not exist.
    async fn delete_endpoint(&self, id: &str) -> Result<bool, StoreError>;
    /// The endpoint's lanes, live first.
    async fn lanes(&self, id: &str) -> Result<Vec<Lane>, StoreError>;
    /// Adds a replay lane (its id is assigned); returns the id.
    async fn add_lane(&self, id: &str, lane: &Lane) -> Result<u64, StoreError>;
    /// Appends attempts and moves lane positions forward (never back) in one
    /// transaction; a replay lane whose position reached `until` is removed.
    async fn record(
        &self,
        id: &str,
        attempts: &[AttemptRecord],
        positions: &[(u64, u64)],
    ) -> Result<(), StoreError>;
    /// Per event of `lane` with an id above `position`: attempts so far, the last one's
    /// time, and whether one settled it.
    async fn resume_after(
        &self,
        id: &str,
        lane: u64,
        position: u64,
    ) -> Result<Vec<Resume>, StoreError>;
    /// The delivery log newest first: rows with an id below `before` (all when `None`).
    async fn attempts(
        &self,
        id: &str,
        before: Option<u64>,
        limit: usize,
        event_id: Option<u64>,
    ) -> Result<Vec<AttemptRow>, StoreError>;
    /// Deletes delivery log rows older than `older_than`; returns how many.
    async fn prune_attempts(&self, older_than: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The first and last event ids emitted in [since, before) (epoch ms), if any.
    async fn event_ids_between(
        &self,
        since_ms: i64,
        before_ms: i64,
    ) -> Result<Option<(u64, u64)>, StoreError>;
    /// A tracker's events with an id below `before`, oldest first: (id, type).
    async fn tracker_events_before(
        &self,
        tracker_id: u64,
        before: u64,
    ) -> Result<Vec<(u64, String)>, StoreError>;
}

/// An endpoint's stored columns, as every backend reads them back.
pub(crate) struct EndpointColumns {
    pub id: String,
    pub config: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since_ms: Option<i64>,
    pub failing_reported: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub version: i64,
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl EndpointColumns {
    /// The columns of an endpoint, for writing.
    pub(crate) fn of(e: &Endpoint) -> Result<EndpointColumns, StoreError> {
        Ok(EndpointColumns {
            id: e.id.clone(),
            config: serde_json::to_string(&e.config)
                .map_err(|err| StoreError::CorruptWebhook(e.id.clone(), err.to_string()))?,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since_ms: e.failing_since.map(|t| t.timestamp_millis()),
            failing_reported: e.failing_reported,
            created_at_ms: e.created_at.timestamp_millis(),
            updated_at_ms: e.updated_at.timestamp_millis(),
            version: e.version as i64,
        })
    }

    pub(crate) fn into_endpoint(self) -> Result<Endpoint, StoreError> {
        let config = serde_json::from_str(&self.config)
            .map_err(|err| StoreError::CorruptWebhook(self.id.clone(), err.to_string()))?;
        Ok(Endpoint {
            id: self.id,
            config,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since_ms.map(from_ms),
            failing_reported: self.failing_reported,
            created_at: from_ms(self.created_at_ms),
            updated_at: from_ms(self.updated_at_ms),
            version: self.version as u64,
        })
    }
}

/// A delivery log row's stored columns, as every backend reads them back.
pub(crate) struct AttemptColumns {
    pub id: i64,
    pub lane: i64,
    pub event_id: i64,
    pub attempt: i64,
    pub at_ms: i64,
    pub outcome: String,
    pub settled: Option<String>,
    pub status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub excerpt: Option<String>,
}

impl From<AttemptColumns> for AttemptRow {
    fn from(c: AttemptColumns) -> AttemptRow {
        AttemptRow {
            id: c.id as u64,
            record: AttemptRecord {
                lane: c.lane as u64,
                event_id: c.event_id as u64,
                attempt: c.attempt as u32,
                at: from_ms(c.at_ms),
                outcome: AttemptOutcome::parse(&c.outcome).unwrap_or(AttemptOutcome::HttpError),
                settled: match c.settled.as_deref() {
                    Some("delivered") => Some("delivered"),
                    Some("failed") => Some("failed"),
                    _ => None,
                },
                status: c.status.and_then(|s| u16::try_from(s).ok()),
                latency_ms: c.latency_ms.and_then(|s| u32::try_from(s).ok()),
                error: c.error,
                response_excerpt: c.excerpt,
            },
        }
    }
}

/// A lane's stored columns, as every backend reads them back.
pub(crate) struct LaneColumns {
    pub lane: i64,
    pub position: i64,
    pub until: Option<i64>,
    pub event_ids: Option<String>,
    pub since_ms: Option<i64>,
    pub before_ms: Option<i64>,
}

impl From<LaneColumns> for Lane {
    fn from(c: LaneColumns) -> Lane {
        Lane {
            id: c.lane as u64,
            position: c.position as u64,
            until: c.until.map(|u| u as u64),
            event_ids: c.event_ids.and_then(|j| serde_json::from_str(&j).ok()),
            emitted_between: c.since_ms.zip(c.before_ms),
        }
    }
}

impl Lane {
    /// The replay's id list as stored (JSON), if any.
    pub(crate) fn event_ids_json(&self) -> Option<String> {
        self.event_ids
            .as_ref()
            .map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
    }
}
