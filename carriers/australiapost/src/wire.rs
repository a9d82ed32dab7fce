//! Serde shapes of the Track Items answer, shared by the parser and the
//! simulator renderer. Every field is optional: Australia Post drops empty ones
//! (an event without `location`, a result with only `errors`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use trackd_carrier_sdk::json::opt_text;

/// `GET /shipping/v1/track` answer (and the top-level error envelope).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrackAnswer<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tracking_results: Option<Vec<WireResult<'a>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WireError>,
}

/// One requested id: either found (`trackable_items`, `consignment`) or `errors`.
/// Ids, statuses and products borrow from the answer too (unless escaped).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireResult<'a> {
    #[serde(default, borrow)]
    pub tracking_id: Cow<'a, str>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WireError>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub trackable_items: Option<Vec<WireItem<'a>>>,
    /// StarTrack consignment view: an object in live answers, an array in
    /// karrio's schema sample; both are accepted.
    #[serde(
        default,
        borrow,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub consignment: Vec<WireItem<'a>>,
}

/// An article (`article_id`, `events`) or a consignment of articles
/// (`consignment_id`, `items`); the same struct holds both shapes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireItem<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub article_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub consignment_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_items: Option<Value>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<WireEvent<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<WireItem<'a>>,
}

/// One scan: free-text description, optional place, ISO 8601 time with offset.
/// The texts borrow from the answer (unless escaped): events are most of it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WireEvent<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub description: Cow<'a, str>,
    #[serde(default, borrow)]
    pub date: Cow<'a, str>,
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
fn one_or_many<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Vec<WireItem<'a>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<'a> {
        Many(#[serde(borrow)] Vec<WireItem<'a>>),
        One(#[serde(borrow)] Box<WireItem<'a>>),
    }
    Ok(match Option::<OneOrMany<'de>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(one)) => vec![*one],
    })
}
