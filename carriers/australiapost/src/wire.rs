//! Serde shapes of the Track Items answer, shared by the parser and the
//! simulator renderer. Every field is optional: Australia Post drops empty ones
//! (an event without `location`, a result with only `errors`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `GET /shipping/v1/track` answer (and the top-level error envelope).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrackAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_results: Option<Vec<WireResult>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WireError>,
}

/// One requested id: either found (`trackable_items`, `consignment`) or `errors`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireResult {
    #[serde(default)]
    pub tracking_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WireError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trackable_items: Option<Vec<WireItem>>,
    /// StarTrack consignment view: an object in live answers, an array in
    /// karrio's schema sample; both are accepted.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub consignment: Vec<WireItem>,
}

/// An article (`article_id`, `events`) or a consignment of articles
/// (`consignment_id`, `items`); the same struct holds both shapes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consignment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_items: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<WireEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<WireItem>,
}

/// One scan: free-text description, optional place, ISO 8601 time with offset.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub date: String,
}

/// Australia Post's error entries come in several shapes (`code`/`name`,
/// `error_code`/`error_name`, `error`/`error_description`); all are optional.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WireError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

impl WireError {
    /// The error's code, whichever field carries it.
    pub fn code_text(&self) -> String {
        self.code
            .as_ref()
            .and_then(value_text)
            .or_else(|| self.error_code.as_ref().and_then(value_text))
            .or_else(|| self.error.clone().filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// The most helpful human text the entry carries.
    pub fn message_text(&self) -> String {
        [
            &self.message,
            &self.error_description,
            &self.name,
            &self.error_name,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string()
    }
}

/// Accepts an object or an array of objects (or null) for one field.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WireItem>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<WireItem>),
        One(Box<WireItem>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(one)) => vec![*one],
    })
}
