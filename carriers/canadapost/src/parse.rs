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

/// What an element named `name` is, given its parent (`None`: the root).
fn classify(parent: Option<Ctx>, name: &[u8]) -> Result<Ctx, CarrierError> {
    let ctx = match parent {
        None => match name {
            b"tracking-detail" => Ctx::Detail,
            b"messages" => Ctx::Messages,
            other => {
                return Err(malformed(format!(
                    "unexpected root element <{}> (want <tracking-detail> or <messages>)",
                    name_str(other)
                )));
            }
        },
        Some(Ctx::Detail) => match name {
            b"pin" => Ctx::Leaf(Field::Pin),
            b"changed-expected-date" => Ctx::Leaf(Field::ChangedDate),
            b"destination-postal-id" => Ctx::Leaf(Field::DestPostal),
            b"expected-delivery-date" => Ctx::Leaf(Field::ExpectedDate),
            b"changed-expected-delivery-reason" => Ctx::Leaf(Field::ChangedReason),
            b"service-name" => Ctx::Leaf(Field::Service),
            b"significant-events" => Ctx::Events,
            _ => Ctx::Other,
        },
        Some(Ctx::Events) => match name {
            b"occurrence" => Ctx::Occurrence,
            _ => Ctx::Other,
        },
        Some(Ctx::Occurrence) => match name {
            b"event-identifier" => Ctx::Leaf(Field::EvId),
            b"event-date" => Ctx::Leaf(Field::EvDate),
            b"event-time" => Ctx::Leaf(Field::EvTime),
            b"event-time-zone" => Ctx::Leaf(Field::EvZone),
            b"event-description" => Ctx::Leaf(Field::EvDesc),
            b"signatory-name" => Ctx::Leaf(Field::EvSignatory),
            b"event-site" => Ctx::Leaf(Field::EvSite),
            b"event-province" => Ctx::Leaf(Field::EvProvince),
            _ => Ctx::Other,
        },
        Some(Ctx::Messages) => match name {
            b"message" => Ctx::Message,
            _ => Ctx::Other,
        },
        Some(Ctx::Message) => match name {
            b"code" => Ctx::Leaf(Field::MsgCode),
            b"description" => Ctx::Leaf(Field::MsgDesc),
            _ => Ctx::Other,
        },
        Some(Ctx::Leaf(f)) => {
            return Err(malformed(format!(
                "element <{}> inside text field {f:?}",
                name_str(name)
            )));
        }
        Some(Ctx::Other) => Ctx::Other,
    };
    Ok(ctx)
}

/// Accumulates the parsed document while the reader walks it.
#[derive(Default)]
struct Builder<'a> {
    detail: RawDetail<'a>,
    messages: Vec<RawMessage<'a>>,
}

impl<'a> Builder<'a> {
    /// Called when an element opens (or is empty): records new list items.
    fn open(&mut self, ctx: Ctx) {
        match ctx {
            Ctx::Occurrence => self.detail.events.push(RawEvent::default()),
            Ctx::Message => self.messages.push(RawMessage::default()),
            _ => {}
        }
    }

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

fn append<'a>(acc: &mut Option<Text<'a>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    }
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
                let ctx = classify(stack.last().copied(), e.local_name().as_ref())?;
                if root.is_none() {
                    root = Some(ctx);
                }
                b.open(ctx);
                stack.push(ctx);
                text = None;
            }
            Event::Empty(e) => {
                let ctx = classify(stack.last().copied(), e.local_name().as_ref())?;
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
                    let piece = t.xml10_content().map_err(|e| xml_err(&reader, &e))?;
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
