//! The change-event contract (design §3): types, drafts from the diff engine, and
//! the stored, pre-serialized form that the stream fans out.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use trackd_carrier_sdk::Timestamp;
use trackd_carrier_sdk::model::Fnv;

/// Every event type a consumer can receive; names are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventType {
    #[serde(rename = "tracker.created")]
    TrackerCreated,
    #[serde(rename = "tracker.expired")]
    TrackerExpired,
    #[serde(rename = "tracker.completed")]
    TrackerCompleted,
    #[serde(rename = "status.changed")]
    StatusChanged,
    #[serde(rename = "status.corrected")]
    StatusCorrected,
    #[serde(rename = "checkpoint.added")]
    CheckpointAdded,
    #[serde(rename = "eta.changed")]
    EtaChanged,
    #[serde(rename = "eta.slipped")]
    EtaSlipped,
    #[serde(rename = "eta.missed")]
    EtaMissed,
    #[serde(rename = "carrier.error")]
    CarrierError,
    #[serde(rename = "shipment.switched")]
    ShipmentSwitched,
    #[serde(rename = "summary.changed")]
    SummaryChanged,
    #[serde(rename = "tracker.stalled")]
    TrackerStalled,
    #[serde(rename = "tracker.forgotten")]
    TrackerForgotten,
    #[serde(rename = "eta.at_risk")]
    EtaAtRisk,
    #[serde(rename = "eta.at_risk_cleared")]
    EtaAtRiskCleared,
    #[serde(rename = "return.detected")]
    ReturnDetected,
    #[serde(rename = "return.milestone")]
    ReturnMilestone,
}

impl EventType {
    pub const ALL: [EventType; 18] = [
        EventType::TrackerCreated,
        EventType::TrackerExpired,
        EventType::TrackerCompleted,
        EventType::StatusChanged,
        EventType::StatusCorrected,
        EventType::CheckpointAdded,
        EventType::EtaChanged,
        EventType::EtaSlipped,
        EventType::EtaMissed,
        EventType::CarrierError,
        EventType::ShipmentSwitched,
        EventType::SummaryChanged,
        EventType::TrackerStalled,
        EventType::TrackerForgotten,
        EventType::EtaAtRisk,
        EventType::EtaAtRiskCleared,
        EventType::ReturnDetected,
        EventType::ReturnMilestone,
    ];

    /// Wire name (`event:` field of SSE, `type` in JSON, metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TrackerCreated => "tracker.created",
            EventType::TrackerExpired => "tracker.expired",
            EventType::TrackerCompleted => "tracker.completed",
            EventType::StatusChanged => "status.changed",
            EventType::StatusCorrected => "status.corrected",
            EventType::CheckpointAdded => "checkpoint.added",
            EventType::EtaChanged => "eta.changed",
            EventType::EtaSlipped => "eta.slipped",
            EventType::EtaMissed => "eta.missed",
            EventType::CarrierError => "carrier.error",
            EventType::ShipmentSwitched => "shipment.switched",
            EventType::SummaryChanged => "summary.changed",
            EventType::TrackerStalled => "tracker.stalled",
            EventType::TrackerForgotten => "tracker.forgotten",
            EventType::EtaAtRisk => "eta.at_risk",
            EventType::EtaAtRiskCleared => "eta.at_risk_cleared",
            EventType::ReturnDetected => "return.detected",
            EventType::ReturnMilestone => "return.milestone",
        }
    }

    /// Parses a wire name (API filters).
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == s)
    }
}

/// An event decided by the diff engine, before the store assigns its cursor id.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub kind: EventType,
    /// When the fact happened (carrier time when the carrier gave one).
    pub occurred_at: Timestamp,
    /// Deterministic identity of the carrier fact: the store refuses a second
    /// event with the same (tracker, fact), across re-polls, retries and restarts.
    pub fact: u64,
    pub data: Value,
}

/// Builds a fact identity from its parts (stable across builds and restarts).
pub fn fact(parts: &[&str]) -> u64 {
    let mut h = Fnv::new();
    for p in parts {
        h.write(p.as_bytes());
        h.write(b"\x1f");
    }
    // Keep it positive in SQLite's signed INTEGER without losing uniqueness in practice.
    h.finish() >> 1
}

/// Who an event is about; the envelope fields every event carries.
#[derive(Debug, Clone)]
pub struct Subject {
    pub tracker_id: u64,
    pub carrier: Arc<str>,
    pub tracking_number: Arc<str>,
    pub reference: Option<Arc<str>>,
}

/// A committed event: filter fields plus its JSON, serialized once and shared by
/// every subscriber (so fan-out costs a pointer copy, not a serialization).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: u64,
    pub kind: EventType,
    pub tracker_id: u64,
    pub carrier: Arc<str>,
    pub reference: Option<Arc<str>>,
    pub json: Arc<str>,
}

/// Public JSON shape of an event.
#[derive(Serialize)]
struct EventJson<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: EventType,
    occurred_at: &'a Timestamp,
    emitted_at: String,
    tracker_id: String,
    carrier: &'a str,
    tracking_number: &'a str,
    reference: Option<&'a str>,
    data: &'a Value,
}

/// External tracker id form: opaque, stable, URL-safe.
pub fn tracker_id_string(id: u64) -> String {
    format!("trk_{id:012x}")
}

/// Parses `trk_…` back into the internal id.
pub fn parse_tracker_id(s: &str) -> Option<u64> {
    let hex = s.strip_prefix("trk_")?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

impl StoredEvent {
    /// Serializes a draft with its assigned id into the stored, shareable form.
    pub fn build(
        id: u64,
        subject: &Subject,
        draft: &EventDraft,
        emitted_at: DateTime<Utc>,
    ) -> StoredEvent {
        let json = serde_json::to_string(&EventJson {
            id,
            kind: draft.kind,
            occurred_at: &draft.occurred_at,
            emitted_at: emitted_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            tracker_id: tracker_id_string(subject.tracker_id),
            carrier: &subject.carrier,
            tracking_number: &subject.tracking_number,
            reference: subject.reference.as_deref(),
            data: &draft.data,
        })
        .unwrap_or_else(|e| format!(r#"{{"id":{id},"serialization_error":"{e}"}}"#));
        StoredEvent {
            id,
            kind: draft.kind,
            tracker_id: subject.tracker_id,
            carrier: subject.carrier.clone(),
            reference: subject.reference.clone(),
            json: json.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                Value::String(t.as_str().into())
            );
        }
    }

    #[test]
    fn tracker_ids_round_trip() {
        for id in [1u64, 42, u64::MAX >> 1] {
            assert_eq!(parse_tracker_id(&tracker_id_string(id)), Some(id));
        }
        assert_eq!(parse_tracker_id("trk_"), None);
        assert_eq!(parse_tracker_id("abc"), None);
        assert_eq!(parse_tracker_id("trk_zz"), None);
    }

    #[test]
    fn facts_are_stable_and_distinct() {
        assert_eq!(fact(&["a", "b"]), fact(&["a", "b"]));
        assert_ne!(fact(&["ab", ""]), fact(&["a", "b"]));
    }
}
