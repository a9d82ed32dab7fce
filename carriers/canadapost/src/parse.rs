//! Streaming reader for the two documents the tracking endpoint answers with:
//! `<tracking-detail>` (track namespace) and `<messages>` (errors).
//!
//! One pass over quick-xml's borrowing reader: text is kept as `Cow` slices of
//! the body (no copy unless the XML splits it around a character reference), and
//! every structural problem — truncation, a wrong root, a mismatched tag,
//! invalid UTF-8 — becomes `CarrierError::Malformed`, never a panic.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};
use std::borrow::Cow;
use trackd_carrier_sdk::CarrierError;
use trackd_carrier_sdk::xml::PlainBody;

/// Text of one element; empty when the element was empty or absent.
pub type Text<'a> = Cow<'a, str>;

/// The fields of `<tracking-detail>` the normalized model uses.
#[derive(Debug, Default)]
pub struct RawDetail<'a> {
    /// `<pin>`, as Canada Post echoes it.
    pub pin: Text<'a>,
    /// `<changed-expected-date>`: the revised delivery date, if moved.
    pub changed_expected_date: Text<'a>,
    /// `<destination-postal-id>`.
    pub destination_postal_id: Text<'a>,
    /// `<expected-delivery-date>`: the original promise.
    pub expected_delivery_date: Text<'a>,
    /// `<changed-expected-delivery-reason>`: why the date moved.
    pub changed_expected_delivery_reason: Text<'a>,
    /// `<service-name>` (English).
    pub service_name: Text<'a>,
    /// In document order (Canada Post lists the newest first).
    pub events: Vec<RawEvent<'a>>,
}

/// One `<significant-events><occurrence>`.
#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    /// `<event-identifier>`, possibly zero-padded.
    pub identifier: Text<'a>,
    /// `<event-date>` (`YYYY-MM-DD`, local).
    pub date: Text<'a>,
    /// `<event-time>` (`HH:MM:SS`, local).
    pub time: Text<'a>,
    /// `<event-time-zone>` abbreviation (`EST`), possibly empty.
    pub zone: Text<'a>,
    /// `<event-description>`.
    pub description: Text<'a>,
    /// `<signatory-name>`.
    pub signatory: Text<'a>,
    /// `<event-site>`: the city.
    pub site: Text<'a>,
    /// `<event-province>`: the region code.
    pub province: Text<'a>,
}

/// One `<messages><message>`.
#[derive(Debug, Default)]
pub struct RawMessage<'a> {
    /// `<code>` (`004`, `E002`, `Server`...).
    pub code: Text<'a>,
    /// `<description>`: the human-readable text.
    pub description: Text<'a>,
}

/// A parsed answer body.
#[derive(Debug)]
pub enum Document<'a> {
    /// A `<tracking-detail>` answer.
    Detail(RawDetail<'a>),
    /// A `<messages>` error answer.
    Messages(Vec<RawMessage<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Pin,
    ChangedDate,
    DestPostal,
    ExpectedDate,
    ChangedReason,
    Service,
    EvId,
    EvDate,
    EvTime,
    EvZone,
    EvDesc,
    EvSignatory,
    EvSite,
    EvProvince,
    MsgCode,
    MsgDesc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Detail,
    Events,
    Occurrence,
    Messages,
    Message,
    Leaf(Field),
    /// An element we do not read (delivery-options, customer refs...).
    Other,
}

fn malformed(msg: impl std::fmt::Display) -> CarrierError {
    CarrierError::malformed(format!("canadapost: {msg}"))
}

fn name_str(name: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(name)
}

/// `name == lit` with the length known at compile time, so that the comparison
/// is a few word loads instead of a `memcmp` call: classification runs on every
/// element, and a slice pattern compares through `memcmp`.
#[inline]
fn is<const N: usize>(name: &[u8], lit: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(name).is_ok_and(|a| a == lit)
}

/// What an element named `name` is, given its parent (`None`: the root).
///
/// Out of line: it runs once per document (the root) or to report an error, and
/// keeping its formatting out of `classify_qname` lets that one be inlined.
#[inline(never)]
fn classify(parent: Option<Ctx>, name: &[u8]) -> Result<Ctx, CarrierError> {
    match parent {
        None => match name {
            b"tracking-detail" => Ok(Ctx::Detail),
            b"messages" => Ok(Ctx::Messages),
            other => Err(malformed(format!(
                "unexpected root element <{}> (want <tracking-detail> or <messages>)",
                name_str(other)
            ))),
        },
        Some(Ctx::Leaf(f)) => Err(malformed(format!(
            "element <{}> inside text field {f:?}",
            name_str(name)
        ))),
        Some(parent) => Ok(child(parent, name)),
    }
}

/// What a child named `name` of a container element `parent` is.
#[inline]
fn child(parent: Ctx, name: &[u8]) -> Ctx {
    match parent {
        Ctx::Detail => match name {
            n if is(n, b"pin") => Ctx::Leaf(Field::Pin),
            n if is(n, b"changed-expected-date") => Ctx::Leaf(Field::ChangedDate),
            n if is(n, b"destination-postal-id") => Ctx::Leaf(Field::DestPostal),
            n if is(n, b"expected-delivery-date") => Ctx::Leaf(Field::ExpectedDate),
            n if is(n, b"changed-expected-delivery-reason") => Ctx::Leaf(Field::ChangedReason),
            n if is(n, b"service-name") => Ctx::Leaf(Field::Service),
            n if is(n, b"significant-events") => Ctx::Events,
            _ => Ctx::Other,
        },
        Ctx::Events => match name {
            n if is(n, b"occurrence") => Ctx::Occurrence,
            _ => Ctx::Other,
        },
        Ctx::Occurrence => match name {
            n if is(n, b"event-identifier") => Ctx::Leaf(Field::EvId),
            n if is(n, b"event-date") => Ctx::Leaf(Field::EvDate),
            n if is(n, b"event-time") => Ctx::Leaf(Field::EvTime),
            n if is(n, b"event-time-zone") => Ctx::Leaf(Field::EvZone),
            n if is(n, b"event-description") => Ctx::Leaf(Field::EvDesc),
            n if is(n, b"signatory-name") => Ctx::Leaf(Field::EvSignatory),
            n if is(n, b"event-site") => Ctx::Leaf(Field::EvSite),
            n if is(n, b"event-province") => Ctx::Leaf(Field::EvProvince),
            _ => Ctx::Other,
        },
        Ctx::Messages => match name {
            n if is(n, b"message") => Ctx::Message,
            _ => Ctx::Other,
        },
        Ctx::Message => match name {
            n if is(n, b"code") => Ctx::Leaf(Field::MsgCode),
            n if is(n, b"description") => Ctx::Leaf(Field::MsgDesc),
            _ => Ctx::Other,
        },
        // Elements we do not read (`classify` turns a leaf parent into an error).
        Ctx::Other | Ctx::Leaf(_) => Ctx::Other,
    }
}

/// `name` without its namespace prefix (all up to the first `:`), as quick-xml's
/// `local_name` gives it. Not `trackd_carrier_sdk::xml::local_name`: its
/// eight-bytes-at-a-time search costs this parser 2% more on Canada Post's
/// short names (callgrind), where this byte loop ends sooner.
fn local_name(name: &[u8]) -> &[u8] {
    name.iter()
        .position(|&b| b == b':')
        .map_or(name, |i| &name[i + 1..])
}

/// `classify` of the local part of the qualified name `qname`.
///
/// Why this is fast: quick-xml's `local_name` calls `memchr` on every name, which
/// costs more than classifying it. Children of unread elements need no name at
/// all, and a name classified as one we read contains no `:` (none of ours does),
/// so it is its own local part: only names we do not read are searched for a
/// prefix (with a `fold`, which has no early exit and so compiles to a vector
/// loop), and classified again without it.
#[inline]
fn classify_qname(parent: Option<Ctx>, qname: &[u8]) -> Result<Ctx, CarrierError> {
    match parent {
        Some(Ctx::Other) => Ok(Ctx::Other),
        None | Some(Ctx::Leaf(_)) => classify(parent, local_name(qname)),
        Some(parent) => Ok(match child(parent, qname) {
            Ctx::Other if qname.iter().fold(false, |colon, &b| colon | (b == b':')) => {
                child(parent, local_name(qname))
            }
            ctx => ctx,
        }),
    }
}

/// Accumulates the parsed document while the reader walks it.
#[derive(Default)]
struct Builder<'a> {
    detail: RawDetail<'a>,
    messages: Vec<RawMessage<'a>>,
}

impl<'a> Builder<'a> {
    /// Called when an element opens (or is empty): records new list items.
    #[inline]
    fn open(&mut self, ctx: Ctx) {
        // Tested here so that only list items pay for the (not inlined) push.
        if matches!(ctx, Ctx::Occurrence | Ctx::Message) {
            self.push_item(ctx);
        }
    }

    /// Starts a new occurrence or message.
    #[inline(never)]
    fn push_item(&mut self, ctx: Ctx) {
        if ctx == Ctx::Occurrence {
            self.detail.events.push(RawEvent::default());
        } else {
            self.messages.push(RawMessage::default());
        }
    }

    #[inline]
    fn set(&mut self, field: Field, value: Text<'a>) {
        let d = &mut self.detail;
        let slot = match field {
            Field::Pin => &mut d.pin,
            Field::ChangedDate => &mut d.changed_expected_date,
            Field::DestPostal => &mut d.destination_postal_id,
            Field::ExpectedDate => &mut d.expected_delivery_date,
            Field::ChangedReason => &mut d.changed_expected_delivery_reason,
            Field::Service => &mut d.service_name,
            Field::EvId
            | Field::EvDate
            | Field::EvTime
            | Field::EvZone
            | Field::EvDesc
            | Field::EvSignatory
            | Field::EvSite
            | Field::EvProvince => {
                // `classify` only yields event fields inside an occurrence,
                // whose opening pushed the event.
                let Some(ev) = d.events.last_mut() else {
                    return;
                };
                match field {
                    Field::EvId => &mut ev.identifier,
                    Field::EvDate => &mut ev.date,
                    Field::EvTime => &mut ev.time,
                    Field::EvZone => &mut ev.zone,
                    Field::EvDesc => &mut ev.description,
                    Field::EvSignatory => &mut ev.signatory,
                    Field::EvSite => &mut ev.site,
                    _ => &mut ev.province,
                }
            }
            Field::MsgCode | Field::MsgDesc => {
                let Some(m) = self.messages.last_mut() else {
                    return;
                };
                if field == Field::MsgCode {
                    &mut m.code
                } else {
                    &mut m.description
                }
            }
        };
        *slot = value;
    }
}

/// Adds a piece of an element's text (a text node, CDATA or a reference).
#[inline]
fn append<'a>(acc: &mut Option<Text<'a>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(existing) => extend(existing, &piece),
    }
}

/// The rare case of `append` (text split by a reference), out of line so that
/// the common one is inlined.
#[inline(never)]
fn extend(text: &mut Text<'_>, piece: &str) {
    text.to_mut().push_str(piece);
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, CarrierError> {
    if let Some(ch) = r
        .resolve_char_ref()
        .map_err(|e| malformed(format!("bad character reference: {e}")))?
    {
        return Ok(Cow::Owned(ch.to_string()));
    }
    let name = r
        .decode()
        .map_err(|e| malformed(format!("bad entity reference: {e}")))?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(Cow::Borrowed)
        .ok_or_else(|| malformed(format!("unknown entity &{name};")))
}

/// Parses a tracking answer body into its raw document.
pub fn parse(body: &[u8]) -> Result<Document<'_>, CarrierError> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Ctx> = Vec::with_capacity(8);
    let mut root: Option<Ctx> = None;
    let mut closed = false;
    let mut text: Option<Text<'_>> = None;
    let mut b = Builder::default();
    // A typical answer has a dozen events: one allocation instead of five.
    b.detail.events.reserve(16);
    // Why this is fast: one UTF-8 check and one `\r` search over the whole body
    // (word-at-a-time) instead of a validation and a `memchr` call per text node,
    // which cost more than quick-xml's own tokenizing. When the body has no `\r`,
    // XML 1.0 end-of-line normalization never changes a text, so a text node is
    // exactly its slice of this `str`. Otherwise (or for invalid UTF-8) every
    // text takes quick-xml's own decoding, errors included (see `PlainBody`).
    let plain = PlainBody::new(body);
    let xml_err = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        malformed(format!(
            "invalid XML near byte {}: {e}",
            reader.error_position()
        ))
    };

    loop {
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => return Err(xml_err(&reader, &e)),
        };
        match event {
            Event::Start(e) => {
                let ctx = classify_qname(stack.last().copied(), e.name().as_ref())?;
                if root.is_none() {
                    root = Some(ctx);
                }
                b.open(ctx);
                stack.push(ctx);
                text = None;
            }
            Event::Empty(e) => {
                let ctx = classify_qname(stack.last().copied(), e.name().as_ref())?;
                b.open(ctx);
                if let Ctx::Leaf(f) = ctx {
                    b.set(f, Cow::Borrowed(""));
                }
                if root.is_none() {
                    root = Some(ctx);
                    closed = true;
                    break;
                }
            }
            Event::Text(t) => {
                if let Some(Ctx::Leaf(_)) = stack.last() {
                    let piece = match plain.text(&t) {
                        Some(s) => Cow::Borrowed(s),
                        None => t.xml10_content().map_err(|e| xml_err(&reader, &e))?,
                    };
                    append(&mut text, piece);
                }
            }
            Event::CData(c) => {
                if let Some(Ctx::Leaf(_)) = stack.last() {
                    let piece = c.decode().map_err(|e| xml_err(&reader, &e))?;
                    append(&mut text, piece);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(Ctx::Leaf(_)) = stack.last() {
                    append(&mut text, resolve_ref(&r)?);
                }
            }
            Event::End(_) => {
                if let Some(Ctx::Leaf(f)) = stack.pop() {
                    b.set(f, text.take().unwrap_or_default());
                }
                if stack.is_empty() {
                    closed = true;
                    break;
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }

    match (root, closed) {
        (None, _) => Err(malformed("empty body or no XML root element")),
        (Some(r), false) => Err(malformed(format!(
            "truncated document: {} not closed (stopped at byte {})",
            if r == Ctx::Detail {
                "<tracking-detail>"
            } else {
                "<messages>"
            },
            reader.buffer_position()
        ))),
        (Some(Ctx::Messages), true) => Ok(Document::Messages(b.messages)),
        (Some(_), true) => Ok(Document::Detail(b.detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entities_and_cdata() {
        let xml = br#"<tracking-detail xmlns="http://www.canadapost.ca/ws/track"><pin>1</pin><service-name>Colis acc&#233;l&#233;r&#233;s &amp; <![CDATA[x]]></service-name><significant-events/></tracking-detail>"#;
        let Ok(Document::Detail(d)) = parse(xml) else {
            panic!("not a detail")
        };
        assert_eq!(d.service_name, "Colis accélérés & x");
        assert!(d.events.is_empty());
    }

    #[test]
    fn truncation_and_wrong_roots_are_malformed() {
        for body in [
            &b""[..],
            b"<tracking-detail><pin>1</pin>",
            b"<html/>",
            b"<a><b/></a>",
            b"<pin>",
        ] {
            assert!(
                matches!(parse(body), Err(CarrierError::Malformed { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn element_inside_text_field_is_malformed() {
        let xml = b"<tracking-detail><pin><b/></pin></tracking-detail>";
        assert!(matches!(parse(xml), Err(CarrierError::Malformed { .. })));
    }
}
