//! A webhook endpoint: where events go, which ones, and the keys that sign them.

use super::signature::SigningKey;
use crate::events::StoredEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// External endpoint id prefix (`whe_…`), so ids are recognisable in logs and URLs.
pub const ID_PREFIX: &str = "whe_";

/// Makes a fresh, unguessable endpoint id.
pub fn new_id() -> String {
    format!("{ID_PREFIX}{:016x}", rand::random::<u64>())
}

/// Which events an endpoint receives; every given filter must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EndpointFilter {
    /// Event type globs (`*` matches any run of characters): `["status.*", "eta.slipped"]`; empty = all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Carrier slugs; empty = all.
    #[serde(default)]
    pub carriers: Vec<String>,
    /// The tracker's reference must start with this.
    #[serde(default)]
    pub reference_prefix: Option<String>,
    /// Labels the tracker must all carry.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Whether `s` has the form of an endpoint id (`whe_` and 16 hex digits).
pub fn is_id(s: &str) -> bool {
    s.strip_prefix(ID_PREFIX)
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Matches `text` against a glob where `*` is any run of characters.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

impl EndpointFilter {
    /// Whether an event type passes the type globs.
    pub fn matches_type(&self, kind: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|g| glob_matches(g, kind))
    }

    /// Whether the filters depend on the tracker's labels (which events do not carry).
    pub fn needs_labels(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Whether the event passes; `labels` are the tracker's (ignored when no label filter).
    pub fn matches(&self, e: &StoredEvent, labels: &[String]) -> bool {
        self.matches_type(e.kind.as_str())
            && (self.carriers.is_empty() || self.carriers.iter().any(|c| **c == *e.carrier))
            && self
                .reference_prefix
                .as_deref()
                .is_none_or(|p| e.reference.as_deref().is_some_and(|r| r.starts_with(p)))
            && self.labels.iter().all(|l| labels.contains(l))
    }
}

/// One signing key of an endpoint; during a rotation overlap two of them sign.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySlot {
    /// The key in its stored form (`whsec_…` or `whsk_…`).
    pub key: String,
    pub created_at: DateTime<Utc>,
    /// When this key stops signing (set on the previous key by a rotation).
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySlot")
            .field("key", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl KeySlot {
    /// Whether this key still signs at `now`.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// What a consumer sets on an endpoint (stored as one JSON document).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointConfig {
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub filter: EndpointFilter,
    /// Most deliveries per second to this endpoint; `None`: as fast as it answers.
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    /// "symmetric" (`v1`, HMAC-SHA256) or "ed25519" (`v1a`).
    pub signing: String,
    /// Newest first.
    pub keys: Vec<KeySlot>,
}

/// An endpoint as stored: its config plus the state the deliverer and the API change.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub config: EndpointConfig,
    pub enabled: bool,
    /// Why it is disabled: "manual", "gone" (it answered 410) or "failing".
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (cleared by a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Whether the failure was reported (`webhook.endpoint_failing`).
    pub failing_reported: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change of config or enabled state, so deliverers notice.
    pub version: u64,
}

impl Endpoint {
    /// The keys that sign a delivery made at `now`, parsed (unparseable stored keys are skipped and logged).
    pub fn signing_keys(&self, now: DateTime<Utc>) -> Vec<SigningKey> {
        self.config
            .keys
            .iter()
            .filter(|k| k.live(now))
            .filter_map(|k| match SigningKey::parse(&k.key) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(endpoint = %self.id, error = %e, "a stored webhook key is unreadable; it does not sign");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;

    fn event(kind: EventType, carrier: &str, reference: Option<&str>) -> StoredEvent {
        StoredEvent {
            id: 1,
            kind,
            tracker_id: 1,
            carrier: carrier.into(),
            reference: reference.map(Into::into),
            json: "{}".into(),
        }
    }

    #[test]
    fn globs_match_like_shell_stars() {
        assert!(glob_matches("*", "status.changed"));
        assert!(glob_matches("status.*", "status.changed"));
        assert!(glob_matches("*.changed", "eta.changed"));
        assert!(glob_matches("e*a.*d", "eta.slipped"));
        assert!(glob_matches("eta.slipped", "eta.slipped"));
        assert!(!glob_matches("eta.slipped", "eta.slippedx"));
        assert!(!glob_matches("status.*", "eta.changed"));
        assert!(!glob_matches("a*a", "a"));
        assert!(glob_matches("a**", "a"));
    }

    #[test]
    fn every_filter_must_match() {
        let f = EndpointFilter {
            event_types: vec!["status.*".into()],
            carriers: vec!["ups".into()],
            reference_prefix: Some("order-".into()),
            labels: vec!["vip".into()],
        };
        let vip = vec!["vip".to_string(), "eu".to_string()];
        assert!(f.matches(
            &event(EventType::StatusChanged, "ups", Some("order-1")),
            &vip
        ));
        assert!(!f.matches(&event(EventType::EtaChanged, "ups", Some("order-1")), &vip));
        assert!(!f.matches(
            &event(EventType::StatusChanged, "dhl", Some("order-1")),
            &vip
        ));
        assert!(!f.matches(&event(EventType::StatusChanged, "ups", Some("x-1")), &vip));
        assert!(!f.matches(&event(EventType::StatusChanged, "ups", None), &vip));
        assert!(!f.matches(
            &event(EventType::StatusChanged, "ups", Some("order-1")),
            &[]
        ));
        assert!(EndpointFilter::default().matches(&event(EventType::CarrierError, "x", None), &[]));
    }

    #[test]
    fn key_slots_never_print_their_key() {
        let slot = KeySlot {
            key: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
            created_at: Utc::now(),
            expires_at: None,
        };
        assert!(!format!("{slot:?}").contains("whsec_"));
    }
}
