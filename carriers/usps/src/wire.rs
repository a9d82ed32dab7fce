//! Typed, borrowed views of a USPS tracking answer (v3.2 and v3 spellings).
//!
//! Why not a generic tree: building a [`Node`] per value and looking members
//! up by name cost as much as the normalizing itself. Here every member is
//! matched once as its key is read, strings stay borrowed from the body, and
//! members the parser never reads are only validated.
//!
//! The views read exactly what a [`Node`] tree would give the parser:
//! - every value goes through `deserialize_any`, so the same bodies are
//!   accepted (same numbers, escapes and nesting limit) as with `Node`;
//! - a repeated member: the last one wins, whatever its type;
//! - a text member ([`Text`]) is a string trimmed and non-empty, a number or a
//!   boolean as text, and `None` for anything else.

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use trackd_carrier_sdk::json::Node;

/// A text member as the parser reads it: trimmed and non-empty, or `None`.
pub type Text<'a> = Option<Cow<'a, str>>;

/// Deserializes any value, keeping nothing (for members the parser ignores).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        // `deserialize_any`, not `IgnoredAny`: serde_json's ignore path
        // accepts numbers (`1e400`) that a full parse rejects.
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Key>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// An object key, borrowed unless escaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A [`Text`] member being read.
struct Txt<'a>(Text<'a>);

impl<'de> Deserialize<'de> for Txt<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Txt<'de>, D::Error> {
        d.deserialize_any(TxtVisitor)
    }
}

struct TxtVisitor;

fn trimmed(s: Cow<'_, str>) -> Text<'_> {
    // Most fields start and end with a visible ASCII character: `trim` (a
    // Unicode whitespace scan from both ends) would return them unchanged.
    if let (Some(&first), Some(&last)) = (s.as_bytes().first(), s.as_bytes().last())
        && first.is_ascii_graphic()
        && last.is_ascii_graphic()
    {
        return Some(s);
    }
    match s {
        Cow::Borrowed(b) => Some(Cow::Borrowed(b.trim())),
        Cow::Owned(o) if o.trim().len() == o.len() => Some(Cow::Owned(o)),
        Cow::Owned(o) => Some(Cow::Owned(o.trim().to_owned())),
    }
    .filter(|t| !t.is_empty())
}

/// Numbers as text exactly as `serde_json::Number` prints them.
fn number<'a>(n: serde_json::Number) -> Text<'a> {
    Some(Cow::Owned(n.to_string()))
}

impl<'de> Visitor<'de> for TxtVisitor {
    type Value = Txt<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Txt<'de>, E> {
        Ok(Txt(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Txt<'de>, E> {
        Ok(Txt(number(v.into())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Txt<'de>, E> {
        Ok(Txt(number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Txt<'de>, E> {
        // As `Node`/`Value`: a non-finite float is null, so no text.
        Ok(Txt(serde_json::Number::from_f64(v).and_then(number)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Txt<'de>, E> {
        Ok(Txt(trimmed(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Txt<'de>, E> {
        Ok(Txt(trimmed(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Txt<'de>, E> {
        Ok(Txt(trimmed(Cow::Owned(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Txt<'de>, E> {
        Ok(Txt(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Txt<'de>, E> {
        Ok(Txt(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Txt<'de>, D::Error> {
        Txt::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Txt<'de>, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| Txt(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Txt<'de>, A::Error> {
        SkipVisitor.visit_map(map).map(|_| Txt(None))
    }
}

/// Reads the next value into `slot` as [`Text`] (the last repeat wins).
fn read_text<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut Text<'de>) -> Result<(), A::Error> {
    *slot = map.next_value::<Txt>()?.0;
    Ok(())
}

/// Types read from a JSON object member by member.
trait FromMembers<'de>: Default {
    /// Reads the value of `key` (the map is positioned on it).
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Reads an object's members into `t`.
fn read_members<'de, T: FromMembers<'de>, A: MapAccess<'de>>(
    mut map: A,
    t: &mut T,
) -> Result<(), A::Error> {
    while let Some(Key(k)) = map.next_key()? {
        t.member(&k, &mut map)?;
    }
    Ok(())
}

/// Reads a value into its slot: `Some(T)` when it is an object, `None` for any
/// other value. The `T` is filled where it lies because items and events are
/// hundreds of bytes: returned by value, each was copied several times.
struct Fill<'s, T>(&'s mut Option<T>);

impl<'de, T: FromMembers<'de>> DeserializeSeed<'de> for Fill<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: FromMembers<'de>> Visitor<'de> for Fill<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        DeserializeSeed::deserialize(self, d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        *self.0 = None;
        SkipVisitor.visit_seq(seq).map(drop)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        read_members(map, self.0.insert(T::default()))
    }
}

/// Reads the rest of an array into `list`, each entry filled in place (`None`
/// for an entry that is not an object).
fn fill_list<'de, T: FromMembers<'de>, A: SeqAccess<'de>>(
    mut seq: A,
    list: &mut Vec<Option<T>>,
) -> Result<(), A::Error> {
    loop {
        let i = list.len();
        list.push(None);
        if seq.next_element_seed(Fill(&mut list[i]))?.is_none() {
            list.pop();
            return Ok(());
        }
    }
}

/// The delivery-promise members, found flat (v3) or in
/// `deliveryDateExpectation` (v3.2).
#[derive(Debug, Default)]
pub struct EtaFields<'a>([Text<'a>; EtaKey::COUNT]);

/// The delivery-promise member names the parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtaKey {
    PredictedDate,
    ExpectedDate,
    ExpectedTimeStamp,
    WindowStart,
    WindowEnd,
    EndOfDay,
    PredictedTimeStamp,
    GuaranteedDate,
    GuaranteedTimeStamp,
}

impl EtaKey {
    const COUNT: usize = 9;

    fn of(name: &str) -> Option<EtaKey> {
        Some(match name {
            "predictedDeliveryDate" => EtaKey::PredictedDate,
            "expectedDeliveryDate" => EtaKey::ExpectedDate,
            "expectedDeliveryTimeStamp" => EtaKey::ExpectedTimeStamp,
            "predictedDeliveryWindowStartTime" => EtaKey::WindowStart,
            "predictedDeliveryWindowEndTime" => EtaKey::WindowEnd,
            "endOfDay" => EtaKey::EndOfDay,
            "predictedDeliveryTimeStamp" => EtaKey::PredictedTimeStamp,
            "guaranteedDeliveryDate" => EtaKey::GuaranteedDate,
            "guaranteedDeliveryTimeStamp" => EtaKey::GuaranteedTimeStamp,
            _ => return None,
        })
    }
}

impl<'a> EtaFields<'a> {
    /// The text of one delivery-promise member.
    pub fn get(&self, key: EtaKey) -> Option<&str> {
        self.0[key as usize].as_deref()
    }
}

impl<'de> FromMembers<'de> for EtaFields<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match EtaKey::of(key) {
            Some(k) => read_text(map, &mut self.0[k as usize]),
            None => map.next_value::<Skip>().map(drop),
        }
    }
}

/// One `trackingEvents` entry.
#[derive(Debug, Default)]
pub struct Event<'a> {
    pub code: Text<'a>,
    pub event_type: Text<'a>,
    pub timestamp: Text<'a>,
    pub gmt_timestamp: Text<'a>,
    pub gmt_offset: Text<'a>,
    pub city: Text<'a>,
    pub state: Text<'a>,
    /// v3.2 `eventZIPCode`.
    pub zip_code: Text<'a>,
    /// v3 `eventZIP`.
    pub zip: Text<'a>,
    pub country: Text<'a>,
    pub recipient_name: Text<'a>,
    /// v3's spelling of `recipientName`.
    pub name: Text<'a>,
}

impl<'de> FromMembers<'de> for Event<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            "eventCode" => &mut self.code,
            "eventType" => &mut self.event_type,
            "eventTimestamp" => &mut self.timestamp,
            "GMTTimestamp" => &mut self.gmt_timestamp,
            "GMTOffset" => &mut self.gmt_offset,
            "eventCity" => &mut self.city,
            "eventState" => &mut self.state,
            "eventZIPCode" => &mut self.zip_code,
            "eventZIP" => &mut self.zip,
            "eventCountry" => &mut self.country,
            "recipientName" => &mut self.recipient_name,
            "name" => &mut self.name,
            _ => return map.next_value::<Skip>().map(drop),
        };
        read_text(map, slot)
    }
}

/// The `trackingEvents` member.
#[derive(Debug)]
pub enum Events<'a> {
    Null,
    /// The entries; `None` for one that is not an object.
    List(Vec<Option<Event<'a>>>),
    /// Neither an array nor null, kept for the error message.
    Other(Node<'a>),
}

impl<'de> Deserialize<'de> for Events<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Events<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Events<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Events<'de>, E> {
                Ok(Events::Other(Node::Bool(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Events<'de>, E> {
                Ok(Events::Other(Node::Number(v.into())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Events<'de>, E> {
                Ok(Events::Other(Node::Number(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Events<'de>, E> {
                // A non-finite float is null, as in `Node`.
                Ok(serde_json::Number::from_f64(v)
                    .map_or(Events::Null, |n| Events::Other(Node::Number(n))))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Events<'de>, E> {
                Ok(Events::Other(Node::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Events<'de>, E> {
                Ok(Events::Other(Node::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Events<'de>, E> {
                Ok(Events::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Events<'de>, E> {
                Ok(Events::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Events<'de>, D::Error> {
                Events::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Events<'de>, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                fill_list(seq, &mut list)?;
                Ok(Events::List(list))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Events<'de>, A::Error> {
                Node::deserialize(MapAccessDeserializer::new(map)).map(Events::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// The `error` member of an item or of a whole-answer envelope.
#[derive(Debug)]
pub enum ErrorValue<'a> {
    /// The OAuth flavour, `"error": "invalid_client"`: the string as sent.
    Code(Cow<'a, str>),
    /// USPS's `{code, message, errors: [{code, detail, title}, …]}`.
    Object(ErrorObject<'a>),
    /// Any other value.
    Other,
}

/// An `error` object.
#[derive(Debug, Default)]
pub struct ErrorObject<'a> {
    pub code: Text<'a>,
    pub message: Text<'a>,
    /// The first entry of `errors`, when that is an array opening with an object.
    pub first: Option<ErrorDetail<'a>>,
}

/// An entry of `errors`.
#[derive(Debug, Default)]
pub struct ErrorDetail<'a> {
    pub code: Text<'a>,
    pub detail: Text<'a>,
    pub title: Text<'a>,
}

impl<'de> FromMembers<'de> for ErrorObject<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "code" => read_text(map, &mut self.code),
            "message" => read_text(map, &mut self.message),
            "errors" => {
                self.first = map.next_value::<FirstObject<ErrorDetail>>()?.0;
                Ok(())
            }
            _ => map.next_value::<Skip>().map(drop),
        }
    }
}

impl<'de> FromMembers<'de> for ErrorDetail<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            "code" => &mut self.code,
            "detail" => &mut self.detail,
            "title" => &mut self.title,
            _ => return map.next_value::<Skip>().map(drop),
        };
        read_text(map, slot)
    }
}

/// The first entry of an array when it is an object of type `T`; `None` for
/// any other value.
struct FirstObject<T>(Option<T>);

impl<'de, T: FromMembers<'de>> Deserialize<'de> for FirstObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FirstObject<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromMembers<'de>> Visitor<'de> for V<T> {
            type Value = FirstObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<FirstObject<T>, E> {
                Ok(FirstObject(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FirstObject<T>, D::Error> {
                FirstObject::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstObject<T>, A::Error> {
                let mut first = None;
                seq.next_element_seed(Fill(&mut first))?;
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(FirstObject(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FirstObject<T>, A::Error> {
                SkipVisitor.visit_map(map).map(|_| FirstObject(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for ErrorValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorValue<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Code(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Code(Cow::Owned(v.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<ErrorValue<'de>, E> {
                Ok(ErrorValue::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ErrorValue<'de>, D::Error> {
                ErrorValue::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ErrorValue<'de>, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| ErrorValue::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorValue<'de>, A::Error> {
                let mut e = ErrorObject::default();
                read_members(map, &mut e)?;
                Ok(ErrorValue::Object(e))
            }
        }
        d.deserialize_any(V)
    }
}

/// One item of the answer: a tracking detail or a per-number error.
#[derive(Debug, Default)]
pub struct Item<'a> {
    /// `error`, whatever its value (its presence makes the item an error).
    pub error: Option<ErrorValue<'a>>,
    pub error_description: Text<'a>,
    pub status_code: Text<'a>,
    /// `trackingNumber`: `Some` when present (even when not text).
    pub tracking_number: Option<Text<'a>>,
    /// `trackingEvents`: `Some` when present.
    pub tracking_events: Option<Events<'a>>,
    pub status_category: Text<'a>,
    pub status: Text<'a>,
    pub mail_class: Text<'a>,
    pub mailing_date: Text<'a>,
    pub origin: Place<'a>,
    pub destination: Place<'a>,
    /// v3.2 `deliveryDateExpectation` when it is an object.
    pub expectation: Option<EtaFields<'a>>,
    /// The delivery-promise members at the item's own level (v3).
    pub eta: EtaFields<'a>,
}

/// An origin or destination: `{prefix}City`, `{prefix}State`, …
#[derive(Debug, Default)]
pub struct Place<'a> {
    pub city: Text<'a>,
    pub state: Text<'a>,
    /// v3.2 `…ZIPCode`.
    pub zip_code: Text<'a>,
    /// v3 `…ZIP`.
    pub zip: Text<'a>,
    pub country: Text<'a>,
    pub country_code: Text<'a>,
}

impl<'a> Place<'a> {
    /// The slot of a member name without its prefix (`City`, `ZIPCode`, …).
    fn slot(&mut self, suffix: &str) -> Option<&mut Text<'a>> {
        Some(match suffix {
            "City" => &mut self.city,
            "State" => &mut self.state,
            "ZIPCode" => &mut self.zip_code,
            "ZIP" => &mut self.zip,
            "Country" => &mut self.country,
            "CountryCode" => &mut self.country_code,
            _ => return None,
        })
    }
}

impl<'de> FromMembers<'de> for Item<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = match key {
            "error" => {
                self.error = Some(map.next_value()?);
                return Ok(());
            }
            "trackingNumber" => {
                self.tracking_number = Some(map.next_value::<Txt>()?.0);
                return Ok(());
            }
            "trackingEvents" => {
                self.tracking_events = Some(map.next_value()?);
                return Ok(());
            }
            "deliveryDateExpectation" => {
                // Filled afresh: the last repeat wins, an earlier one is dropped.
                return map.next_value_seed(Fill(&mut self.expectation));
            }
            "error_description" => &mut self.error_description,
            "statusCode" => &mut self.status_code,
            "statusCategory" => &mut self.status_category,
            "status" => &mut self.status,
            "mailClass" => &mut self.mail_class,
            "mailingDate" => &mut self.mailing_date,
            _ => {
                let place = if let Some(s) = key.strip_prefix("origin") {
                    self.origin.slot(s)
                } else if let Some(s) = key.strip_prefix("destination") {
                    self.destination.slot(s)
                } else {
                    None
                };
                match place {
                    Some(slot) => slot,
                    None => return self.eta.member(key, map),
                }
            }
        };
        read_text(map, slot)
    }
}

/// A whole answer body.
#[derive(Debug)]
pub enum Answer<'a> {
    /// An array of items; `None` for an entry that is not an object.
    Items(Vec<Option<Item<'a>>>),
    /// One object (the v3 single-number answer, or an error envelope).
    One(Box<Item<'a>>),
    /// Any other JSON value.
    Other,
}

impl<'de> Deserialize<'de> for Answer<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Answer<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Answer<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Answer<'de>, E> {
                Ok(Answer::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Answer<'de>, D::Error> {
                Answer::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Answer<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                fill_list(seq, &mut items)?;
                Ok(Answer::Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Answer<'de>, A::Error> {
                let mut item = Box::<Item>::default();
                read_members(map, &mut *item)?;
                Ok(Answer::One(item))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads an answer body; `None` when it is not JSON (what `Node` rejects).
pub fn read_answer(body: &[u8]) -> Option<Answer<'_>> {
    // UTF-8 is checked once for the whole body: serde_json's `from_str` then
    // skips the per-string check `from_slice` makes (same bodies accepted, as
    // `from_slice` rejects exactly the bodies with invalid UTF-8 in strings,
    // and any non-ASCII byte outside a string is a syntax error anyway).
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str(text).ok()
}
