//! Typed serde model of the UPS Track API v1 JSON (Tracking.yaml), shared by the
//! parser (borrowing, tolerant) and the simulator renderer (owning), so both sides
//! agree on one shape.
//!
//! Tolerance rules, because UPS and its published samples disagree on types:
//! every text field accepts a string, a number, a boolean or `null` ([`Text`]);
//! every array accepts an array, a single object, `null` or a placeholder string
//! ([`Many`]); unknown fields are skipped.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A text field borrowed from the body when possible; numbers and booleans are
/// accepted as their JSON text because UPS samples mix `"1"` and `1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    /// An owned text, for the renderer.
    pub fn owned(s: impl Into<String>) -> Text<'static> {
        Text(Cow::Owned(s.into()))
    }
}

/// The trimmed text of an optional field, `""` when absent.
pub fn txt<'b>(t: &'b Option<Text<'_>>) -> &'b str {
    t.as_ref().map_or("", |t| t.0.trim())
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A JSON array that UPS sometimes sends as a single object (or as `null`, or as
/// a placeholder string in the portal sample); always read as a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Many<T>(pub Vec<T>);

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many(Vec::new())
    }
}

impl<T> Many<T> {
    /// True when the list has no element.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for Many<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in &self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

struct ManyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ManyVisitor<T> {
    type Value = Many<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or a single object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(64));
        while let Some(item) = seq.next_element::<ManyItem<T>>()? {
            if let ManyItem::Item(item) = item {
                out.push(item);
            }
        }
        Ok(Many(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Many(vec![t]))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Many::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Many::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Many::default())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Many<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ManyVisitor(PhantomData))
    }
}

/// One array element: objects are read as `T`; placeholder scalars such as the
/// `[""]` UPS puts in empty lists are skipped.
enum ManyItem<T> {
    Item(T),
    Skip,
}

struct ManyItemVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ManyItemVisitor<T> {
    type Value = ManyItem<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(ManyItem::Item)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            Ok(ManyItem::Skip)
        } else {
            Err(E::invalid_type(de::Unexpected::Str(v), &"an object"))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ManyItem::Skip)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ManyItem<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ManyItemVisitor(PhantomData))
    }
}

/// Top level of a Track API answer: `trackResponse` on success, `response.errors`
/// on failure (UPS uses the same error envelope on every status).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrackApiResponse<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub track_response: Option<TrackResponse<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub response: Option<ErrorResponse<'a>>,
}

/// `trackResponse`: one shipment per inquiry number.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrackResponse<'a> {
    #[serde(borrow)]
    pub shipment: Many<Shipment<'a>>,
}

/// `shipment[]`: the packages found for an inquiry number, or warnings (TW0001).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Shipment<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub inquiry_number: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Many::is_empty")]
    pub package: Many<Package<'a>>,
    #[serde(borrow, skip_serializing_if = "Many::is_empty")]
    pub warnings: Many<Message<'a>>,
}

/// `package[]`: everything trackd normalizes comes from here.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Package<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Many::is_empty")]
    pub delivery_date: Many<DeliveryDate<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub delivery_time: Option<DeliveryTime<'a>>,
    /// Newest first, per the spec.
    #[serde(borrow)]
    pub activity: Many<Activity<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<Status<'a>>,
    #[serde(borrow, skip_serializing_if = "Many::is_empty")]
    pub package_address: Many<PackageAddress<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub delivery_information: Option<DeliveryInformation<'a>>,
    /// Rendered for realism; never read (UPS sends it as a number or a string).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<u32>,
}

/// `deliveryDate[]`: SDD scheduled, RDD rescheduled, DEL delivered (YYYYMMDD).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeliveryDate<'a> {
    #[serde(borrow, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub date: Option<Text<'a>>,
}

/// `deliveryTime`: EOD/CMT/EDW/CDW/IDW/DEL with HHMMSS start and end.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeliveryTime<'a> {
    #[serde(borrow, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Text<'a>>,
}

/// `activity[]`: one scan; local date/time, optionally with GMT date/time/offset.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Activity<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub date: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub time: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub gmt_date: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub gmt_time: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub gmt_offset: Option<Text<'a>>,
}

/// `location`: the scan's address (SLIC is not kept).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Location<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address<'a>>,
}

/// `address`: street lines are not read (trackd keeps city, region, postal code, country).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub city: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub state_province: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub country: Option<Text<'a>>,
}

/// `status` / `currentStatus`: type (D, I, M, X...), activity code, package
/// detail status code (3 digits) and description.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status<'a> {
    #[serde(borrow, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub code: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<Text<'a>>,
}

/// `packageAddress[]`: ORIGIN / DESTINATION addresses.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PackageAddress<'a> {
    #[serde(borrow, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address<'a>>,
}

/// `service`: code and description ("UPS Ground").
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Service<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub code: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text<'a>>,
}

/// `deliveryInformation`: who took the package (signature images are not read).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeliveryInformation<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub location: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub received_by: Option<Text<'a>>,
}

/// `{code, message}`: UPS errors and warnings share this shape.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Message<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub code: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text<'a>>,
}

/// `response`: the error envelope `{"response":{"errors":[...]}}`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ErrorResponse<'a> {
    #[serde(borrow)]
    pub errors: Many<Message<'a>>,
}

/// The OAuth token answer; `expires_in` is a string of seconds in UPS's answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenResponse<'a> {
    #[serde(borrow)]
    pub access_token: Option<Text<'a>>,
    #[serde(borrow)]
    pub expires_in: Option<Text<'a>>,
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_scalars() {
        let v: Vec<Option<Text<'_>>> =
            serde_json::from_str(r#"["a", 12, -3, 1.5, true, null, "x\"y"]"#).unwrap();
        let got: Vec<Option<&str>> = v.iter().map(|t| t.as_ref().map(|t| &*t.0)).collect();
        assert_eq!(
            got,
            vec![
                Some("a"),
                Some("12"),
                Some("-3"),
                Some("1.5"),
                Some("true"),
                None,
                Some("x\"y")
            ]
        );
        assert!(matches!(v[0].as_ref().unwrap().0, Cow::Borrowed(_)));
    }

    #[test]
    fn many_accepts_object_array_null_and_placeholders() {
        let one: Many<Message<'_>> = serde_json::from_str(r#"{"code":"A"}"#).unwrap();
        assert_eq!(one.0.len(), 1);
        let arr: Many<Message<'_>> =
            serde_json::from_str(r#"[{"code":"A"},"",{"code":"B"}]"#).unwrap();
        assert_eq!(arr.0.len(), 2);
        let none: Many<Message<'_>> = serde_json::from_str("null").unwrap();
        assert!(none.is_empty());
        let placeholder: Many<Message<'_>> = serde_json::from_str(r#""DETAIL""#).unwrap();
        assert!(placeholder.is_empty());
        assert!(serde_json::from_str::<Many<Message<'_>>>("[1]").is_err());
    }
}
