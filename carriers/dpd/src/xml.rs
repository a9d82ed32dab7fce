//! A small streaming walker over quick-xml: reports element starts and leaf texts
//! by their path of local names (namespaces ignored, as DPD's prefixes vary), and
//! turns every structural problem into `CarrierError::Malformed`, never a panic.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};
use std::borrow::Cow;
use trackd_carrier_sdk::CarrierError;
use trackd_carrier_sdk::xml::{PlainBody, in_body, local_name};

/// Receives what the walker sees, in document order.
pub trait Sink<'a> {
    /// An element opened (also called for empty elements); `path` ends with it.
    fn start(&mut self, path: &[&'a str]);
    /// A leaf element (no child elements) closed with its decoded text.
    fn leaf(&mut self, path: &[&'a str], text: Cow<'a, str>);
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

/// The open elements' local names, borrowed from the body.
struct Path<'a> {
    body: &'a [u8],
    names: Vec<&'a str>,
}

impl<'a> Path<'a> {
    /// Opens `name`; returns it as borrowed from the body.
    fn push(&mut self, plain: &PlainBody<'a>, name: &[u8]) -> Result<&'a str, CarrierError> {
        let name = match plain.str(name) {
            Some(name) => name,
            None => {
                let bytes = in_body(self.body, name)
                    .ok_or_else(|| malformed("element name outside the document buffer"))?;
                // A name that is not UTF-8 matches no element DPD documents.
                std::str::from_utf8(bytes).unwrap_or("\u{FFFD}")
            }
        };
        self.names.push(name);
        Ok(name)
    }
    fn pop(&mut self) {
        self.names.pop();
    }
    fn get(&self) -> &[&'a str] {
        &self.names
    }
    fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// `bytes.iter().all(u8::is_ascii_whitespace)` as a fold without early exit,
/// which is vectorized: indentation runs are long (half of an indented answer).
fn all_ascii_whitespace(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |all, &b| {
        all & matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
    })
}

fn root_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Walks `body` once; returns the root element's local name.
pub fn walk<'a>(body: &'a [u8], sink: &mut impl Sink<'a>) -> Result<String, CarrierError> {
    let mut reader = Reader::from_reader(body);
    let plain = PlainBody::new(body);
    let mut path = Path {
        body,
        names: Vec::with_capacity(16),
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
                let name = local_name(e.name().into_inner());
                path.push(&plain, name)?;
                if root.is_none() {
                    root = Some(root_name(name));
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
                let name = local_name(e.name().into_inner());
                path.push(&plain, name)?;
                sink.start(path.get());
                sink.leaf(path.get(), Cow::Borrowed(""));
                if root.is_none() {
                    root = Some(root_name(name));
                    closed = true;
                }
                path.pop();
            }
            Event::Text(t) => {
                // After a child element the open element is no leaf, so its
                // text is dropped at its end: indentation there (ASCII
                // whitespace, which cannot fail to decode) is not decoded.
                if has_child.last() == Some(&true) && all_ascii_whitespace(&t) {
                    continue;
                }
                if !path.is_empty() {
                    let piece = match plain.text(&t) {
                        Some(s) => Cow::Borrowed(s),
                        None => t.xml10_content().map_err(|e| xml_err(&reader, &e))?,
                    };
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
pub fn find(path: &[&str], name: &str) -> Option<usize> {
    path.iter().position(|p| *p == name)
}

/// The part of `path` after the element at `idx`, to match on.
pub fn rel<'s, 'p>(path: &'s [&'p str], idx: usize) -> &'s [&'p str] {
    path.get(idx + 1..).unwrap_or_default()
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
    fn start(&mut self, _path: &[&'a str]) {}
    fn leaf(&mut self, path: &[&'a str], text: Cow<'a, str>) {
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
    use proptest::prelude::*;

    /// A generated element: prefixed or not, with text or children.
    #[derive(Debug, Clone)]
    enum Node {
        Leaf(String, String),
        Parent(String, Vec<Node>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let name = "(ns:)?[a-zé][a-zA-Z0-9é]{0,6}";
        let leaf = (name, "[a-z é<&]{0,6}").prop_map(|(n, t)| Node::Leaf(n, t));
        leaf.prop_recursive(4, 24, 4, move |inner| {
            (name, prop::collection::vec(inner, 1..4)).prop_map(|(n, c)| Node::Parent(n, c))
        })
    }

    fn local(name: &str) -> &str {
        name.rsplit(':').next().unwrap_or(name)
    }

    /// Renders `n` and lists its leaves as the copying path walker did:
    /// local names joined by `/`, decoded text.
    fn render(n: &Node, path: &mut Vec<String>, xml: &mut String, out: &mut Vec<(String, String)>) {
        match n {
            Node::Leaf(name, text) => {
                path.push(local(name).to_string());
                xml.push_str(&format!("<{name}>{}</{name}>", esc(text)));
                out.push((path.join("/"), text.clone()));
                path.pop();
            }
            Node::Parent(name, children) => {
                path.push(local(name).to_string());
                xml.push_str(&format!("<{name}>"));
                for c in children {
                    render(c, path, xml, out);
                    // Indentation after a child: never part of a leaf.
                    xml.push_str("\n  ");
                }
                xml.push_str(&format!("</{name}>"));
                path.pop();
            }
        }
    }

    proptest! {
        #[test]
        fn borrowed_paths_match_copied_names(root in node()) {
            let (mut xml, mut expected) = (String::new(), Vec::new());
            render(&root, &mut Vec::new(), &mut xml, &mut expected);
            let (name, l) = leaves(xml.as_bytes()).unwrap();
            let root_name = match &root {
                Node::Leaf(n, _) | Node::Parent(n, _) => local(n).to_string(),
            };
            prop_assert_eq!(name, root_name);
            prop_assert_eq!(l.items, expected);
        }
    }

    #[test]
    fn texts_and_names_outside_the_plain_fast_path() {
        // A `\r` anywhere: texts are decoded (line ends normalized).
        let (_, l) = leaves(b"<r><a>x\r\ny\rz</a><b>\xc3\xa9</b></r>").unwrap();
        assert_eq!(l.get("a"), Some("x\ny\nz"));
        assert_eq!(l.get("b"), Some("\u{e9}"));
        // Not UTF-8: a bad name matches nothing, a bad text is an error.
        let (_, l) = leaves(b"<r><\xff>1</\xff><c>2</c></r>").unwrap();
        assert_eq!(l.get("r/\u{FFFD}"), Some("1"));
        assert_eq!(l.get("c"), Some("2"));
        assert!(matches!(
            leaves(b"<r><a>\xff</a></r>"),
            Err(CarrierError::Malformed { .. })
        ));
    }

    proptest! {
        #[test]
        fn whitespace_fold_agrees_with_all(b in prop::collection::vec(prop::sample::select(&b" \t\n\x0B\x0C\rax\xa0"[..]), 0..40)) {
            prop_assert_eq!(all_ascii_whitespace(&b), b.iter().all(u8::is_ascii_whitespace));
        }
    }

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
                let borrowed: Vec<&str> = path.iter().map(String::as_str).collect();
                assert_eq!(rel(&borrowed, idx), expected.as_slice());
            }
        }
    }

    #[test]
    fn paths_reuse_names_across_siblings() {
        let (root, l) = leaves(b"<r><longname><x>1</x></longname><b><y>2</y><z/></b></r>").unwrap();
        assert_eq!(root, "r");
        let got: Vec<(&str, &str)> = l
            .items
            .iter()
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect();
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
