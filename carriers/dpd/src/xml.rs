//! A small streaming walker over quick-xml: reports element starts and leaf texts
//! by their path of local names (namespaces ignored, as DPD's prefixes vary), and
//! turns every structural problem into `CarrierError::Malformed`, never a panic.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};
use std::borrow::Cow;
use trackd_carrier_sdk::CarrierError;

/// Receives what the walker sees, in document order.
pub trait Sink<'a> {
    /// An element opened (also called for empty elements); `path` ends with it.
    fn start(&mut self, path: &[String]);
    /// A leaf element (no child elements) closed with its decoded text.
    fn leaf(&mut self, path: &[String], text: Cow<'a, str>);
}

/// Builds a `Malformed` error prefixed with the carrier slug.
pub fn malformed(msg: impl std::fmt::Display) -> CarrierError {
    CarrierError::malformed(format!("dpd: {msg}"))
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

fn append<'a>(acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match acc {
        None => *acc = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    }
}

/// The open elements' local names. The `String`s are kept when an element
/// closes and refilled by the next one at that depth, so walking a document
/// allocates a name only once per depth, not once per element.
struct Path {
    names: Vec<String>,
    depth: usize,
}

impl Path {
    fn push(&mut self, name: &[u8]) {
        if self.names.len() == self.depth {
            self.names.push(String::new());
        }
        let slot = &mut self.names[self.depth];
        slot.clear();
        slot.push_str(&String::from_utf8_lossy(name));
        self.depth += 1;
    }
    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    fn get(&self) -> &[String] {
        &self.names[..self.depth]
    }
    fn is_empty(&self) -> bool {
        self.depth == 0
    }
}

/// Walks `body` once; returns the root element's local name.
pub fn walk<'a>(body: &'a [u8], sink: &mut impl Sink<'a>) -> Result<String, CarrierError> {
    let mut reader = Reader::from_reader(body);
    let mut path = Path {
        names: Vec::with_capacity(16),
        depth: 0,
    };
    // Per open element: whether it had a child element.
    let mut has_child: Vec<bool> = Vec::with_capacity(16);
    let mut root: Option<String> = None;
    let mut closed = false;
    let mut text: Option<Cow<'a, str>> = None;
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
                if closed {
                    return Err(malformed("content after the root element"));
                }
                if let Some(parent) = has_child.last_mut() {
                    *parent = true;
                }
                path.push(e.local_name().as_ref());
                if root.is_none() {
                    root = path.get().last().cloned();
                }
                has_child.push(false);
                sink.start(path.get());
                text = None;
            }
            Event::Empty(e) => {
                if closed {
                    return Err(malformed("content after the root element"));
                }
                if let Some(parent) = has_child.last_mut() {
                    *parent = true;
                }
                path.push(e.local_name().as_ref());
                sink.start(path.get());
                sink.leaf(path.get(), Cow::Borrowed(""));
                if root.is_none() {
                    root = path.get().last().cloned();
                    closed = true;
                }
                path.pop();
            }
            Event::Text(t) => {
                if !path.is_empty() {
                    let piece = t.xml10_content().map_err(|e| xml_err(&reader, &e))?;
                    append(&mut text, piece);
                } else if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(malformed("text outside the root element"));
                }
            }
            Event::CData(c) => {
                let piece = c.decode().map_err(|e| xml_err(&reader, &e))?;
                append(&mut text, piece);
            }
            Event::GeneralRef(r) => {
                append(&mut text, resolve_ref(&r)?);
            }
            Event::End(_) => {
                let leaf = matches!(has_child.pop(), Some(false));
                let t = text.take().unwrap_or_default();
                if leaf {
                    sink.leaf(path.get(), t);
                }
                path.pop();
                if path.is_empty() {
                    closed = true;
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    match (root, closed) {
        (None, _) => Err(malformed("empty body or no XML root element")),
        (Some(r), false) => Err(malformed(format!(
            "truncated document: <{r}> not closed (stopped at byte {})",
            reader.buffer_position()
        ))),
        (Some(r), true) => Ok(r),
    }
}

/// Escapes text for an XML element body or attribute.
pub fn esc(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// Index of the element named `name` in `path`, if any.
pub fn find(path: &[String], name: &str) -> Option<usize> {
    path.iter().position(|p| p == name)
}

/// The part of `path` after the element at `idx`, as `&str`s to match on.
pub fn rel(path: &[String], idx: usize) -> Rel<'_> {
    let tail = path.get(idx + 1..).unwrap_or_default();
    let mut rel = Rel {
        inline: [""; REL_INLINE],
        len: tail.len(),
        spill: Vec::new(),
    };
    match rel.inline.get_mut(..tail.len()) {
        Some(head) => {
            for (slot, name) in head.iter_mut().zip(tail) {
                *slot = name;
            }
        }
        None => rel.spill = tail.iter().map(String::as_str).collect(),
    }
    rel
}

const REL_INLINE: usize = 8;

/// `rel`'s answer: on the stack for the usual depths (it is built for every
/// element and leaf), in a `Vec` beyond.
pub struct Rel<'p> {
    inline: [&'p str; REL_INLINE],
    len: usize,
    spill: Vec<&'p str>,
}

impl<'p> Rel<'p> {
    /// The names, outermost first.
    pub fn as_slice(&self) -> &[&'p str] {
        if self.len > REL_INLINE {
            &self.spill
        } else {
            &self.inline[..self.len]
        }
    }
}

/// Collects every leaf as (path joined by `/`, text): fine for small documents
/// (requests, the login answer, faults).
#[derive(Debug, Default)]
pub struct Leaves {
    /// Leaves in document order.
    pub items: Vec<(String, String)>,
}

impl Leaves {
    /// Text of the first leaf whose path ends with `suffix` (`/`-separated).
    pub fn get(&self, suffix: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(p, _)| p == suffix || p.ends_with(&format!("/{suffix}")))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any element path contains the element `name`.
    pub fn has(&self, name: &str) -> bool {
        self.items
            .iter()
            .any(|(p, _)| p.split('/').any(|seg| seg == name))
    }
}

impl<'a> Sink<'a> for Leaves {
    fn start(&mut self, _path: &[String]) {}
    fn leaf(&mut self, path: &[String], text: Cow<'a, str>) {
        self.items.push((path.join("/"), text.into_owned()));
    }
}

/// Parses a small document into its leaves and root name.
pub fn leaves(body: &[u8]) -> Result<(String, Leaves), CarrierError> {
    let mut l = Leaves::default();
    let root = walk(body, &mut l)?;
    Ok((root, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_malformed() {
        for body in [&b""[..], b"<a><b>x</b>", b"<a>", b"x<a/>", b"<a/><b/>"] {
            assert!(
                matches!(leaves(body), Err(CarrierError::Malformed { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn rel_is_the_tail_at_any_depth() {
        for n in 0..12 {
            let path: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
            for idx in 0..n {
                let expected: Vec<&str> = path[idx + 1..].iter().map(String::as_str).collect();
                assert_eq!(rel(&path, idx).as_slice(), expected.as_slice());
            }
        }
    }

    #[test]
    fn paths_reuse_names_across_siblings() {
        let (root, l) = leaves(b"<r><longname><x>1</x></longname><b><y>2</y><z/></b></r>").unwrap();
        assert_eq!(root, "r");
        let got: Vec<(&str, &str)> = l.items.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
        assert_eq!(got, [("r/longname/x", "1"), ("r/b/y", "2"), ("r/b/z", "")]);
    }

    #[test]
    fn entities_and_namespaces() {
        let (root, l) = leaves(
            br#"<s:E xmlns:s="x"><s:B><c>a &amp; &#233;<![CDATA[<z>]]></c><d/></s:B></s:E>"#,
        )
        .unwrap();
        assert_eq!(root, "E");
        assert_eq!(l.get("B/c"), Some("a & é<z>"));
        assert_eq!(l.get("d"), Some(""));
        assert!(l.has("B"));
    }
}
