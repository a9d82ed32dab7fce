//! Streaming readers (quick-xml) for the SOAP 1.1 documents the Tracking
//! service exchanges: the `TrackPackagesByPinResponse` answer, a `soap:Fault`,
//! and (simulator side) the `TrackPackagesByPinRequest`.
//!
//! Elements are matched by local name along their path, so any namespace prefix
//! (`s:`, `soap:`, `v1:`, default namespaces) is accepted. Every structural
//! problem — truncation, a wrong root, mismatched tags, bad UTF-8 — is an error
//! value, never a panic.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use std::borrow::Cow;
use trackd_carrier_sdk::xml::{PlainBody, in_body, local_name};

/// Text of one element, borrowed from the body unless the XML split it
/// (entity or character references, CDATA, line-end normalization).
pub type Text<'a> = Cow<'a, str>;

/// One `ResponseInformation/Errors/Error`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawError<'a> {
    /// `Code` (Purolator's numeric error code, as text).
    pub code: Text<'a>,
    /// `Description`.
    pub description: Text<'a>,
    /// `AdditionalInformation` ("Tracking Error"...).
    pub additional: Text<'a>,
}

/// One `Scans/Scan` (any subtype).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawScan<'a> {
    /// `ScanType` text.
    pub scan_type: Text<'a>,
    /// The `xsi:type` attribute (`DeliveryScan`...), if any.
    pub xsi_type: Text<'a>,
    /// `Depot/Name`.
    pub depot: Text<'a>,
    /// `ScanDate` (`YYYY-MM-DD`, local).
    pub date: Text<'a>,
    /// `ScanTime` (`HHMMSS`, local).
    pub time: Text<'a>,
    /// `Description`.
    pub description: Text<'a>,
    /// `Comment`.
    pub comment: Text<'a>,
    /// `SummaryScanIndicator`.
    pub summary: Text<'a>,
    /// `ScanDetails/DeliverySignature` (delivery scans).
    pub signature: Text<'a>,
    /// `ScanDetails/CommitedDeliveryDate` (proof-of-pickup scans; sic).
    pub committed_date: Text<'a>,
}

/// One `TrackingInformationList/TrackingInformation`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawInfo<'a> {
    /// `PIN/Value` as Purolator echoes it (upper-cased).
    pub pin: Text<'a>,
    /// Scans in document order (Purolator lists the newest first).
    pub scans: Vec<RawScan<'a>>,
    /// This PIN's own `ResponseInformation/Errors`.
    pub errors: Vec<RawError<'a>>,
}

/// A `TrackPackagesByPinResponse`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawResponse<'a> {
    /// The response-level `ResponseInformation/Errors`.
    pub errors: Vec<RawError<'a>>,
    /// Every `TrackingInformation`, in document order.
    pub infos: Vec<RawInfo<'a>>,
}

/// A SOAP 1.1 `Fault`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawFault<'a> {
    /// `faultcode` (`s:Client`, `s:Server`, `a:InternalServiceFault`...).
    pub code: Text<'a>,
    /// `faultstring`.
    pub string: Text<'a>,
}

/// A parsed answer body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document<'a> {
    /// The tracking answer.
    Response(RawResponse<'a>),
    /// A SOAP fault.
    Fault(RawFault<'a>),
}

/// A parsed `TrackPackagesByPinRequest` (simulator side).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// `RequestContext/Version`.
    pub version: String,
    /// `RequestContext/Language`.
    pub language: String,
    /// Whether a `RequestContext` header was present.
    pub has_context: bool,
    /// Whether the body holds a `TrackPackagesByPinRequest`.
    pub has_request: bool,
    /// `PINs/PIN/Value`, in order.
    pub pins: Vec<String>,
}

/// The open elements' local names, outermost first, borrowed from the body.
type Path<'a> = [&'a [u8]];

/// True when the element path ends with `suffix` (local names).
fn ends(path: &Path<'_>, suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| *a == b.as_bytes())
}

/// Callbacks of the path-tracking walker.
trait Visitor<'a> {
    /// An element opened; `path` ends with it.
    fn start(&mut self, path: &Path<'a>, e: &BytesStart<'_>) -> Result<(), String>;
    /// An element closed with its (leaf) text; `path` ends with it.
    fn end(&mut self, path: &Path<'a>, text: Text<'a>);
}

fn append<'a>(acc: &mut Option<Text<'a>>, piece: Text<'a>) {
    match acc {
        None => *acc = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<String, String> {
    if let Some(ch) = r
        .resolve_char_ref()
        .map_err(|e| format!("bad character reference: {e}"))?
    {
        return Ok(ch.to_string());
    }
    let name = r
        .decode()
        .map_err(|e| format!("bad entity reference: {e}"))?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("unknown entity &{name};"))
}

/// The open elements' local names, borrowed from the body.
struct Names<'a> {
    body: &'a [u8],
    names: Vec<&'a [u8]>,
}

impl<'a> Names<'a> {
    fn push(&mut self, name: &[u8]) -> Result<&'a [u8], String> {
        let name = in_body(self.body, name)
            .ok_or_else(|| "element name outside the document buffer".to_string())?;
        self.names.push(name);
        Ok(name)
    }
    fn pop(&mut self) {
        self.names.pop();
    }
    fn path(&self) -> &Path<'a> {
        &self.names
    }
}

/// Walks the document; returns the root's local name once the root closed.
fn walk<'a, V: Visitor<'a>>(body: &'a [u8], v: &mut V) -> Result<&'a [u8], String> {
    let mut reader = Reader::from_reader(body);
    let plain = PlainBody::new(body);
    let mut path = Names {
        body,
        names: Vec::with_capacity(12),
    };
    let mut root: Option<&'a [u8]> = None;
    // The open element's text so far: a borrowed slice of the body unless
    // the XML splits it.
    let mut text: Option<Text<'a>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML near byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = path.push(local_name(e.name().as_ref()))?;
                if root.is_none() {
                    root = Some(name);
                }
                v.start(path.path(), &e)?;
                text = None;
            }
            Event::Empty(e) => {
                let name = path.push(local_name(e.name().as_ref()))?;
                v.start(path.path(), &e)?;
                v.end(path.path(), Cow::Borrowed(""));
                path.pop();
                text = None;
                if root.is_none() {
                    return Ok(name);
                }
            }
            Event::Text(t) => {
                if !path.names.is_empty() {
                    let piece = match plain.text(&t) {
                        Some(s) => Cow::Borrowed(s),
                        None => t.xml10_content().map_err(|e| {
                            format!("bad text near byte {}: {e}", reader.buffer_position())
                        })?,
                    };
                    append(&mut text, piece);
                }
            }
            Event::CData(c) => {
                if !path.names.is_empty() {
                    let piece = c.decode().map_err(|e| {
                        format!("bad CDATA near byte {}: {e}", reader.buffer_position())
                    })?;
                    append(&mut text, piece);
                }
            }
            Event::GeneralRef(r) => {
                if !path.names.is_empty() {
                    append(&mut text, Cow::Owned(resolve_ref(&r)?));
                }
            }
            Event::End(_) => {
                v.end(path.path(), text.take().unwrap_or_default());
                path.pop();
                if path.names.is_empty() {
                    return root.ok_or_else(|| "end tag without a root element".to_string());
                }
            }
            Event::Eof => {
                return Err(match root {
                    None => "empty body or no XML root element".to_string(),
                    Some(r) => format!(
                        "truncated document: <{}> not closed (stopped at byte {})",
                        String::from_utf8_lossy(r),
                        reader.buffer_position()
                    ),
                });
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

#[inline]
fn check_root(path: &Path<'_>) -> Result<(), String> {
    match path {
        [root] if *root != b"Envelope" => Err(format!(
            "unexpected root element <{}> (want a SOAP <Envelope>)",
            String::from_utf8_lossy(root)
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
enum ErrorTarget {
    Top,
    Pin,
}

/// The element names the answer reader acts on. Each element's name is
/// classified once, when it opens, and kept on a stack: the callbacks then
/// compare small integers along the path instead of names at every open and
/// close (an answer has hundreds of elements, few of which are read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Other,
    Envelope,
    Body,
    TrackPackagesByPinResponse,
    Fault,
    TrackingInformationList,
    TrackingInformation,
    Scans,
    Scan,
    ResponseInformation,
    Errors,
    Error,
    Pin,
    Value,
    ScanType,
    ScanDate,
    ScanTime,
    Description,
    Comment,
    SummaryScanIndicator,
    Depot,
    Name,
    ScanDetails,
    DeliverySignature,
    /// `CommitedDeliveryDate` (Purolator's spelling) or `CommittedDeliveryDate`.
    CommittedDeliveryDate,
    Code,
    AdditionalInformation,
    FaultCode,
    FaultString,
}

impl Tag {
    /// The tag of a local name (exact, case-sensitive, as the names were
    /// compared before).
    fn of(name: &[u8]) -> Tag {
        match name {
            b"Envelope" => Tag::Envelope,
            b"Body" => Tag::Body,
            b"TrackPackagesByPinResponse" => Tag::TrackPackagesByPinResponse,
            b"Fault" => Tag::Fault,
            b"TrackingInformationList" => Tag::TrackingInformationList,
            b"TrackingInformation" => Tag::TrackingInformation,
            b"Scans" => Tag::Scans,
            b"Scan" => Tag::Scan,
            b"ResponseInformation" => Tag::ResponseInformation,
            b"Errors" => Tag::Errors,
            b"Error" => Tag::Error,
            b"PIN" => Tag::Pin,
            b"Value" => Tag::Value,
            b"ScanType" => Tag::ScanType,
            b"ScanDate" => Tag::ScanDate,
            b"ScanTime" => Tag::ScanTime,
            b"Description" => Tag::Description,
            b"Comment" => Tag::Comment,
            b"SummaryScanIndicator" => Tag::SummaryScanIndicator,
            b"Depot" => Tag::Depot,
            b"Name" => Tag::Name,
            b"ScanDetails" => Tag::ScanDetails,
            b"DeliverySignature" => Tag::DeliverySignature,
            b"CommitedDeliveryDate" | b"CommittedDeliveryDate" => Tag::CommittedDeliveryDate,
            b"Code" => Tag::Code,
            b"AdditionalInformation" => Tag::AdditionalInformation,
            b"faultcode" => Tag::FaultCode,
            b"faultstring" => Tag::FaultString,
            _ => Tag::Other,
        }
    }
}

struct ResponseVisitor<'a> {
    body: &'a [u8],
    /// The open elements' tags, outermost first (pushed in `start`, popped
    /// in `end`, which the walker calls in pairs).
    tags: Vec<Tag>,
    response: Option<RawResponse<'a>>,
    fault: Option<RawFault<'a>>,
    other_body: Option<String>,
    target: Option<ErrorTarget>,
}

impl<'a> ResponseVisitor<'a> {
    fn new(body: &'a [u8]) -> ResponseVisitor<'a> {
        ResponseVisitor {
            body,
            tags: Vec::with_capacity(12),
            response: None,
            fault: None,
            other_body: None,
            target: None,
        }
    }

    /// The tag `back` elements above the innermost open one (0: itself).
    fn up(&self, back: usize) -> Option<Tag> {
        let i = self.tags.len().checked_sub(back + 1)?;
        self.tags.get(i).copied()
    }

    fn scan(&mut self) -> Option<&mut RawScan<'a>> {
        self.response.as_mut()?.infos.last_mut()?.scans.last_mut()
    }

    fn error(&mut self) -> Option<&mut RawError<'a>> {
        let r = self.response.as_mut()?;
        match self.target? {
            ErrorTarget::Top => r.errors.last_mut(),
            ErrorTarget::Pin => r.infos.last_mut()?.errors.last_mut(),
        }
    }
}

/// The attributes of a start tag when they are none (`Some(None)`) or a
/// single `name="value"` with a plain name (`Some(Some((name, value)))`);
/// `None` for any other shape, which goes to quick-xml's attribute iterator.
/// For these two shapes that iterator yields exactly this (one key cannot be
/// a duplicate), and skipping it saves its setup and byte-by-byte state
/// machine on every scan of an answer.
fn single_attribute(raw: &[u8]) -> Option<Option<(&[u8], &[u8])>> {
    // quick-xml's whitespace between attributes.
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let Some(start) = raw.iter().position(|b| !ws(b)) else {
        return Some(None);
    };
    let rest = raw.get(start..)?;
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-');
    let (key, rest) = rest.split_at_checked(rest.iter().position(|b| !plain(b))?)?;
    if key.is_empty() {
        return None;
    }
    let rest = rest.strip_prefix(b"=\"")?;
    let (value, tail) = rest.split_at_checked(rest.iter().position(|&b| b == b'"')?)?;
    let tail = tail.get(1..)?;
    tail.iter().all(ws).then_some(Some((key, value)))
}

/// The `xsi:type` attribute's raw value, borrowed from `body` when it lies in it.
fn xsi_type_attr<'a>(body: &'a [u8], e: &BytesStart<'_>) -> Text<'a> {
    let found = match single_attribute(e.attributes_raw()) {
        Some(one) => one
            .filter(|(key, _)| local_name(key) == b"type")
            .map(|(_, value)| Cow::Borrowed(value)),
        None => e
            .attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == b"type")
            .map(|a| a.value),
    };
    found
        .map(|value| match in_body(body, &value) {
            Some(value) => String::from_utf8_lossy(value),
            None => Cow::Owned(String::from_utf8_lossy(&value).into_owned()),
        })
        .unwrap_or_default()
}

impl<'a> Visitor<'a> for ResponseVisitor<'a> {
    fn start(&mut self, path: &Path<'a>, e: &BytesStart<'_>) -> Result<(), String> {
        check_root(path)?;
        let tag = path.last().map_or(Tag::Other, |last| Tag::of(last));
        self.tags.push(tag);
        let depth3 = |v: &Self, parents: [Tag; 2]| {
            v.tags.len() == 3 && v.tags.get(..2) == Some(&parents[..])
        };
        match tag {
            Tag::TrackPackagesByPinResponse if depth3(self, [Tag::Envelope, Tag::Body]) => {
                self.response.get_or_insert_with(RawResponse::default);
            }
            Tag::Fault if depth3(self, [Tag::Envelope, Tag::Body]) => {
                self.fault.get_or_insert_with(RawFault::default);
            }
            // (Any root, then) `Envelope/Body` at depth 3, as matched before.
            Tag::Body if self.tags.len() == 3 && self.up(1) == Some(Tag::Envelope) => {
                let name = path.last().map(|n| String::from_utf8_lossy(n).into_owned());
                self.other_body = self.other_body.take().or(name);
            }
            Tag::TrackingInformation if self.up(1) == Some(Tag::TrackingInformationList) => {
                if let Some(r) = self.response.as_mut() {
                    r.infos.push(RawInfo::default());
                }
            }
            Tag::Scan
                if self.up(1) == Some(Tag::Scans)
                    && self.up(2) == Some(Tag::TrackingInformation) =>
            {
                let xsi_type = xsi_type_attr(self.body, e);
                if let Some(info) = self.response.as_mut().and_then(|r| r.infos.last_mut()) {
                    // Room for a long journey at once: growing a Vec of these
                    // 240-byte records 4 → 8 → 16 cost three copying reallocs.
                    if info.scans.capacity() == 0 {
                        info.scans.reserve(16);
                    }
                    info.scans.push(RawScan {
                        xsi_type,
                        ..RawScan::default()
                    });
                }
            }
            Tag::Error
                if self.up(1) == Some(Tag::Errors)
                    && self.up(2) == Some(Tag::ResponseInformation) =>
            {
                let per_pin = self.up(3) == Some(Tag::TrackingInformation);
                if let Some(r) = self.response.as_mut() {
                    if per_pin {
                        if let Some(info) = r.infos.last_mut() {
                            info.errors.push(RawError::default());
                            self.target = Some(ErrorTarget::Pin);
                        }
                    } else {
                        r.errors.push(RawError::default());
                        self.target = Some(ErrorTarget::Top);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, _path: &Path<'a>, text: Text<'a>) {
        let (last, parent, grandparent) = (self.up(0), self.up(1), self.up(2));
        self.tags.pop();
        let (Some(last), Some(parent)) = (last, parent) else {
            return;
        };
        match parent {
            Tag::Pin if last == Tag::Value && grandparent == Some(Tag::TrackingInformation) => {
                if let Some(info) = self.response.as_mut().and_then(|r| r.infos.last_mut()) {
                    info.pin = text;
                }
            }
            Tag::Scan if grandparent == Some(Tag::Scans) => {
                let Some(scan) = self.scan() else { return };
                let slot = match last {
                    Tag::ScanType => &mut scan.scan_type,
                    Tag::ScanDate => &mut scan.date,
                    Tag::ScanTime => &mut scan.time,
                    Tag::Description => &mut scan.description,
                    Tag::Comment => &mut scan.comment,
                    Tag::SummaryScanIndicator => &mut scan.summary,
                    _ => return,
                };
                *slot = text;
            }
            Tag::Depot if last == Tag::Name && grandparent == Some(Tag::Scan) => {
                if let Some(scan) = self.scan() {
                    scan.depot = text;
                }
            }
            Tag::ScanDetails if grandparent == Some(Tag::Scan) => {
                let Some(scan) = self.scan() else { return };
                match last {
                    Tag::DeliverySignature => scan.signature = text,
                    Tag::CommittedDeliveryDate => scan.committed_date = text,
                    _ => {}
                }
            }
            Tag::Error if grandparent == Some(Tag::Errors) => {
                let Some(err) = self.error() else { return };
                match last {
                    Tag::Code => err.code = text,
                    Tag::Description => err.description = text,
                    Tag::AdditionalInformation => err.additional = text,
                    _ => {}
                }
            }
            Tag::Fault => {
                let Some(f) = self.fault.as_mut() else { return };
                match last {
                    Tag::FaultCode => f.code = text,
                    Tag::FaultString => f.string = text,
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Parses an answer body (tracking response or SOAP fault).
pub fn parse(body: &[u8]) -> Result<Document<'_>, String> {
    let mut v = ResponseVisitor::new(body);
    let root = walk(body, &mut v)?;
    if root != b"Envelope" {
        return Err(format!(
            "unexpected root element <{}> (want a SOAP <Envelope>)",
            String::from_utf8_lossy(root)
        ));
    }
    if let Some(f) = v.fault {
        return Ok(Document::Fault(f));
    }
    if let Some(r) = v.response {
        return Ok(Document::Response(r));
    }
    Err(match v.other_body {
        Some(name) => {
            format!("SOAP Body holds <{name}>, neither <TrackPackagesByPinResponse> nor <Fault>")
        }
        None => "SOAP Envelope without a <Body> answer".to_string(),
    })
}

#[derive(Default)]
struct RequestVisitor {
    req: RawRequest,
}

impl<'a> Visitor<'a> for RequestVisitor {
    fn start(&mut self, path: &Path<'a>, _e: &BytesStart<'_>) -> Result<(), String> {
        check_root(path)?;
        if path.len() == 3 && ends(path, &["Envelope", "Header", "RequestContext"]) {
            self.req.has_context = true;
        }
        if path.len() == 3 && ends(path, &["Envelope", "Body", "TrackPackagesByPinRequest"]) {
            self.req.has_request = true;
        }
        Ok(())
    }

    fn end(&mut self, path: &Path<'a>, text: Text<'a>) {
        if ends(path, &["TrackPackagesByPinRequest", "PINs", "PIN", "Value"]) {
            self.req.pins.push(text.trim().to_string());
        } else if ends(path, &["Header", "RequestContext", "Version"]) {
            self.req.version = text.trim().to_string();
        } else if ends(path, &["Header", "RequestContext", "Language"]) {
            self.req.language = text.trim().to_string();
        }
    }
}

/// Parses a `TrackPackagesByPinRequest` envelope (simulator side).
pub fn parse_request(body: &[u8]) -> Result<RawRequest, String> {
    let mut v = RequestVisitor::default();
    let root = walk(body, &mut v)?;
    if root != b"Envelope" {
        return Err(format!(
            "unexpected root element <{}> (want a SOAP <Envelope>)",
            String::from_utf8_lossy(root)
        ));
    }
    Ok(v.req)
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

    /// Renders `n`; lists every element close as the copying walker saw it:
    /// local names joined by `/`, and the text (empty for parents).
    fn render(n: &Node, path: &mut Vec<String>, xml: &mut String, out: &mut Vec<(String, String)>) {
        match n {
            Node::Leaf(name, text) => {
                path.push(local(name).to_string());
                let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
                xml.push_str(&format!("<{name}>{escaped}</{name}>"));
                out.push((path.join("/"), text.clone()));
                path.pop();
            }
            Node::Parent(name, children) => {
                path.push(local(name).to_string());
                xml.push_str(&format!("<{name}>"));
                for c in children {
                    render(c, path, xml, out);
                }
                xml.push_str(&format!("</{name}>"));
                out.push((path.join("/"), String::new()));
                path.pop();
            }
        }
    }

    #[derive(Default)]
    struct Closes(Vec<(String, String)>);

    impl<'a> Visitor<'a> for Closes {
        fn start(&mut self, _path: &Path<'a>, _e: &BytesStart<'_>) -> Result<(), String> {
            Ok(())
        }
        fn end(&mut self, path: &Path<'a>, text: Text<'a>) {
            let names: Vec<String> = path
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            self.0.push((names.join("/"), text.into_owned()));
        }
    }

    proptest! {
        #[test]
        fn single_attribute_agrees_with_quick_xml(
            raw in "[ \t]{0,2}([a-z:]{1,3}[ =]{0,2}[\"']?[a-z<>&]{0,3}[\"']?[ \t/]{0,2}){0,2}",
        ) {
            let xml = format!("<Scan{raw}>");
            let mut reader = Reader::from_reader(xml.as_bytes());
            let Ok(Event::Start(e)) = reader.read_event() else {
                return Ok(());
            };
            if let Some(fast) = single_attribute(e.attributes_raw()) {
                let all: Vec<_> = e.attributes().collect();
                let want: Vec<_> = fast
                    .into_iter()
                    .map(|(k, v)| {
                        Ok(quick_xml::events::attributes::Attribute {
                            key: quick_xml::name::QName(k),
                            value: Cow::Borrowed(v),
                        })
                    })
                    .collect();
                prop_assert_eq!(all, want);
            }
        }

        #[test]
        fn local_name_agrees_with_qname(name in "[a:é]{0,6}") {
            let q = quick_xml::name::QName(name.as_bytes());
            let expected = q.local_name();
            prop_assert_eq!(local_name(name.as_bytes()), expected.as_ref());
        }

        #[test]
        fn borrowed_paths_match_copied_names(root in node()) {
            let (mut xml, mut expected) = (String::new(), Vec::new());
            render(&root, &mut Vec::new(), &mut xml, &mut expected);
            let mut v = Closes::default();
            let name = walk(xml.as_bytes(), &mut v).unwrap();
            let root_name = match &root {
                Node::Leaf(n, _) | Node::Parent(n, _) => local(n).to_string(),
            };
            prop_assert_eq!(String::from_utf8_lossy(name).into_owned(), root_name);
            prop_assert_eq!(v.0, expected);
        }
    }

    #[test]
    fn single_attributes_take_the_fast_path() {
        assert_eq!(single_attribute(b""), Some(None));
        assert_eq!(single_attribute(b" \n"), Some(None));
        let one: Option<Option<(&[u8], &[u8])>> = Some(Some((b"i:type", b"DeliveryScan")));
        assert_eq!(single_attribute(b" i:type=\"DeliveryScan\""), one);
        assert_eq!(single_attribute(b" i:type=\"DeliveryScan\" "), one);
        assert_eq!(single_attribute(b" a=\"1\" b=\"2\""), None);
        assert_eq!(single_attribute(b" a='1'"), None);
        assert_eq!(single_attribute(b" a =\"1\""), None);
    }

    #[test]
    fn reads_prefixed_and_default_namespaces() {
        let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><TrackPackagesByPinResponse xmlns="http://purolator.com/pws/datatypes/v1" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ResponseInformation><Errors/></ResponseInformation><TrackingInformationList><TrackingInformation><PIN><Value>M123</Value></PIN><Scans><Scan i:type="DeliveryScan"><ScanType>Delivery</ScanType><PIN><Value>M123</Value></PIN><Depot><Name>A &amp; B</Name></Depot><ScanDate>2004-01-13</ScanDate><ScanTime>172300</ScanTime><Description>x<![CDATA[y]]></Description><ScanDetails><DeliverySignature>ME</DeliverySignature></ScanDetails></Scan></Scans><ResponseInformation i:nil="true"/></TrackingInformation></TrackingInformationList></TrackPackagesByPinResponse></s:Body></s:Envelope>"#;
        let Ok(Document::Response(r)) = parse(xml) else {
            panic!("not a response")
        };
        assert!(r.errors.is_empty());
        assert_eq!(r.infos.len(), 1);
        let info = &r.infos[0];
        assert_eq!(info.pin, "M123");
        let s = &info.scans[0];
        assert_eq!(s.xsi_type, "DeliveryScan");
        assert_eq!(s.depot, "A & B");
        assert_eq!(s.description, "xy");
        assert_eq!(s.signature, "ME");
        assert_eq!(s.time, "172300");
    }

    #[test]
    fn texts_outside_the_plain_fast_path_are_decoded() {
        // A `\r` anywhere: every text goes through `xml10_content`.
        let mut v = Closes::default();
        walk(b"<r><a>x\r\ny\rz</a><b>\xc3\xa9</b></r>", &mut v).unwrap();
        assert_eq!(v.0[0], ("r/a".to_string(), "x\ny\nz".to_string()));
        assert_eq!(v.0[1], ("r/b".to_string(), "é".to_string()));
        // Not UTF-8: the text is an error, where it is.
        let err = walk(b"<r><a>ok</a><b>\xff</b></r>", &mut Closes::default()).unwrap_err();
        assert!(err.starts_with("bad text near byte"), "{err}");
        let (bad, cr) = (b"<r>\xff</r>", b"<r>\r</r>");
        assert_eq!(PlainBody::new(bad).text(&bad[3..4]), None);
        assert_eq!(PlainBody::new(cr).text(&cr[3..4]), None);
    }

    #[test]
    fn truncation_and_wrong_roots_are_errors() {
        for body in [
            &b""[..],
            b"<s:Envelope><s:Body>",
            b"<html/>",
            b"<html><body/></html>",
            b"null",
            b"<Envelope><Body><Other/></Body></Envelope>",
            b"<Envelope/>",
        ] {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn reads_faults() {
        let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang="en-US">Bad</faultstring></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            parse(xml),
            Ok(Document::Fault(RawFault {
                code: "s:Client".into(),
                string: "Bad".into()
            }))
        );
    }
}
