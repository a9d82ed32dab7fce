//! A borrowed JSON tree for plugins whose answers must be read generically:
//! what `serde_json::Value` gives a parser, without an owned `String` per
//! string and key or a `BTreeMap` per object, at a fraction of its cost. USPS
//! (field names change between v3 and v3.2, JSON types vary) and PostNL (`{}`
//! for absent values, a bare object for a one-element list) read through it.
//!
//! Lookups behave as on `Value`: a missing key or a non-object is `None`, and
//! of duplicate keys the last one wins.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One JSON value; strings and keys borrow from the body unless escaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Members in document order (duplicates kept; `member` takes the last).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The member `key` of an object (the last one when repeated, as in `Value`).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.as_object().and_then(|o| o.member(key))
    }

    /// True for an object (of any size).
    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    /// The members of an object.
    pub fn as_object(&self) -> Option<&Obj<'a>> {
        match self {
            Node::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The same value as `serde_json::Value` (for error messages only).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(x) => Value::Number(x.clone()),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            // Collected into a map: the last duplicate wins, as in `Value`.
            Node::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// An object's members in document order.
pub type Obj<'a> = [(Cow<'a, str>, Node<'a>)];

/// `Value`-like lookups on an object's members.
pub trait ObjExt<'a> {
    /// The member `key` (the last one when repeated, as in `Value`).
    fn member(&self, key: &str) -> Option<&Node<'a>>;
    /// Whether the object has a member `key`.
    fn contains_key(&self, key: &str) -> bool {
        self.member(key).is_some()
    }
}

impl<'a> ObjExt<'a> for Obj<'a> {
    fn member(&self, key: &str) -> Option<&Node<'a>> {
        self.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node<'de>, E> {
        // As `Value`: a non-finite float is null.
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        // serde_json gives no size hint; carrier events have about a dozen members.
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
        while let Some(Key(k)) = map.next_key()? {
            members.push((k, map.next_value()?));
        }
        Ok(Node::Object(members))
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// An object key, borrowed when the body allows it.
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

/// A string that borrows from the body when it can.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// `deserialize_with` for `Option<Cow<str>>` fields, which serde's own impl always copies.
#[inline]
pub fn opt_text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}

/// `serde_json::from_slice` with UTF-8 checked once for the whole body, so serde_json skips its per-string check.
#[inline]
pub fn read_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    // Any other body goes through `from_slice`, for the same result and the
    // same error.
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn same(json: &str) {
        let node = serde_json::from_str::<Node>(json)
            .map(|n| n.to_value())
            .ok();
        assert_eq!(node, serde_json::from_str::<Value>(json).ok(), "{json}");
    }

    #[test]
    fn reads_like_value() {
        for json in [
            r#"{"a":1,"b":[true,null,-2,1.5e300],"c":{"d":"x\"y\u00e9"},"a":{"z":{}}}"#,
            r#"[{}, [], "", 18446744073709551616]"#,
            r#"{"a" : 1,}"#,
            "",
            "[1,",
        ] {
            same(json);
        }
        let n: Node = serde_json::from_str(r#"{"k":1,"k":"last","e":"a\nb"}"#).unwrap();
        let o = n.as_object().unwrap();
        assert_eq!(o.member("k"), Some(&Node::Str(Cow::Borrowed("last"))));
        assert!(matches!(o.member("e"), Some(Node::Str(Cow::Owned(s))) if s == "a\nb"));
        assert_eq!(o.member("missing"), None);
        assert!(o.contains_key("e") && !o.contains_key("missing"));
        assert_eq!(Node::Bool(true).as_object(), None);
        assert_eq!(n.get("k"), o.member("k"));
        assert_eq!(Node::Bool(true).get("k"), None);
        assert!(n.is_object() && !Node::Null.is_object());
        assert_eq!(n.as_array(), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z\"\\\\é\n ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-c\"]{1,2}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn both<'a, T: Deserialize<'a> + fmt::Debug + PartialEq>(
        body: &'a [u8],
    ) -> (Result<T, String>, Result<T, String>) {
        (
            read_json::<T>(body).map_err(|e| e.to_string()),
            serde_json::from_slice::<T>(body).map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn read_json_is_from_slice() {
        for body in [
            &br#"{"a":"x\u00e9\"","b":[1,2.5,null]}"#[..],
            br#"{"a":"\ud800"}"#,
            b"{\"a\":\"\xff\"}",
            b"{\"unknown\":\"\xff\",\"b\":1}",
            b"",
            b"[1,",
        ] {
            let (fast, slow) = both::<Value>(body);
            assert_eq!(fast, slow, "{body:?}");
            let (fast, slow) = both::<Node>(body);
            assert_eq!(fast, slow, "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn read_json_agrees_with_from_slice(
            body in prop::collection::vec(prop::sample::select(
                b"{}[]\":,\\u0aZ \n\xc3\xa9\xff\x80".to_vec()), 0..40)
        ) {
            let (fast, slow) = both::<Value>(&body);
            prop_assert_eq!(fast, slow);
            let (fast, slow) = both::<Node>(&body);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn trees_agree_with_value(v in arb_json()) {
            same(&serde_json::to_string(&v).unwrap());
            same(&serde_json::to_string_pretty(&v).unwrap());
        }

        #[test]
        fn agrees_with_value(json in r#"[\[\]{}",:a-c0-9 .\-tnrue\\]{0,40}"#) {
            same(&json);
        }
    }
}
