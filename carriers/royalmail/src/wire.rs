//! Royal Mail Tracking API v2 JSON shapes (the events operation and the IBM API
//! gateway's error envelope), read leniently: absent, `null`, string or number
//! scalars all read as text, so a field type drift never fails a whole answer.

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A scalar read as trimmed-later text; `None` for null/absent/non-scalars.
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(lenient_text(d)?.map(Cow::into_owned))
}

/// `lenient`, borrowing the text from the body when it can (event fields).
fn lenient_text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    d.deserialize_any(Lenient)
}

/// Reads any JSON value as `lenient` text without building a
/// `serde_json::Value` first (it runs for every field of every event): the
/// same text `Value` would give, strings kept, numbers and booleans printed,
/// everything else (null, objects, arrays) `None`.
struct Lenient;

impl<'de> Visitor<'de> for Lenient {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(serde_json::Number::from(v).to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(serde_json::Number::from(v).to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `Value` turns a non-finite float into null.
        Ok(serde_json::Number::from_f64(v).map(|n| Cow::Owned(n.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// The whole body: a success carries `mailPieces`; a failure carries the
/// gateway's `httpCode`/`httpMessage`/`moreInformation` and `errors[]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub mail_pieces: Option<MailPieces<'a>>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_message: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub more_information: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WireError>>,
}

/// One entry of `errors[]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    #[serde(default, deserialize_with = "lenient")]
    pub error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub error_description: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_cause: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_resolution: Option<String>,
}

/// `mailPieces` of the events operation (one item). Its texts, like the
/// events', borrow from the body when they can.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailPieces<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mail_piece_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_short_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_full_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery: Option<EstimatedDelivery<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event<'a>>>,
    /// Per-item error (the summary operation's shape), read if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// `mailPieces.summary`: Royal Mail's current view of the item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub unique_item_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub one_d_barcode: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_country_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_country_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_event_code: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_event_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_event_date_time: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_event_location_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_description: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_category: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub summary_line: Option<Cow<'a, str>>,
}

/// `mailPieces.signature`: proof-of-delivery metadata.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_name: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub signature_date_time: Option<Cow<'a, str>>,
}

/// `mailPieces.estimatedDelivery`: a date and an optional window of times with
/// offsets (`"08:00:00+01:00"`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimatedDelivery<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_of_estimated_window: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_of_estimated_window: Option<Cow<'a, str>>,
}

/// One entry of `mailPieces.events[]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_text")]
    pub event_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_text")]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_text")]
    pub event_date_time: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_text")]
    pub location_name: Option<Cow<'a, str>>,
}

/// The text of an optional field (owned or borrowed), trimmed ("" when absent).
pub fn txt<S: AsRef<str>>(s: &Option<S>) -> &str {
    s.as_ref().map_or("", |v| v.as_ref().trim())
}

/// `txt` for a borrowed event field.
pub fn ctxt<'a>(s: &'a Option<Cow<'_, str>>) -> &'a str {
    s.as_deref().map_or("", str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition `Lenient` replaces: through `serde_json::Value`.
    fn via_value(json: &str) -> Option<Option<String>> {
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        Some(match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    fn via_lenient(json: &str) -> Option<Option<String>> {
        let mut de = serde_json::Deserializer::from_str(json);
        let v = lenient(&mut de).ok()?;
        de.end().ok()?;
        let mut de = serde_json::Deserializer::from_str(json);
        let borrowed = lenient_text(&mut de).ok()?;
        assert_eq!(borrowed.as_deref(), v.as_deref());
        de.end().ok()?;
        Some(v)
    }

    #[test]
    fn every_json_kind() {
        for json in [
            r#""FQ087430672GB""#,
            r#""a\"b\u00e9""#,
            "12",
            "-7",
            "1.5e3",
            "18446744073709551616",
            "true",
            "null",
            "[1,[2],{}]",
            r#"{"a":{"b":[null]}}"#,
            "",
            "[1,",
        ] {
            assert_eq!(via_lenient(json), via_value(json), "{json}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_value(json in r#"(null|true|false|-?[0-9]{1,22}(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?|"[a-zA-Z0-9 \\"é]{0,8}"|\[[0-9a-z",\[\]{}:]{0,12}\]|\{"k":[0-9"a\[\]]{0,6}\})"#) {
            prop_assert_eq!(via_lenient(&json), via_value(&json));
        }
    }
}
