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

/// One `ResponseInformation/Errors/Error`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawError {
    /// `Code` (Purolator's numeric error code, as text).
    pub code: String,
    /// `Description`.
    pub description: String,
    /// `AdditionalInformation` ("Tracking Error"...).
    pub additional: String,
}

/// One `Scans/Scan` (any subtype).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawScan {
    /// `ScanType` text.
    pub scan_type: String,
    /// The `xsi:type` attribute (`DeliveryScan`...), if any.
    pub xsi_type: String,
    /// `Depot/Name`.
    pub depot: String,
    /// `ScanDate` (`YYYY-MM-DD`, local).
    pub date: String,
    /// `ScanTime` (`HHMMSS`, local).
    pub time: String,
    /// `Description`.
    pub description: String,
    /// `Comment`.
    pub comment: String,
    /// `SummaryScanIndicator`.
    pub summary: String,
    /// `ScanDetails/DeliverySignature` (delivery scans).
    pub signature: String,
    /// `ScanDetails/CommitedDeliveryDate` (proof-of-pickup scans; sic).
    pub committed_date: String,
}

/// One `TrackingInformationList/TrackingInformation`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawInfo {
    /// `PIN/Value` as Purolator echoes it (upper-cased).
    pub pin: String,
    /// Scans in document order (Purolator lists the newest first).
    pub scans: Vec<RawScan>,
    /// This PIN's own `ResponseInformation/Errors`.
    pub errors: Vec<RawError>,
}

/// A `TrackPackagesByPinResponse`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The response-level `ResponseInformation/Errors`.
    pub errors: Vec<RawError>,
    /// Every `TrackingInformation`, in document order.
    pub infos: Vec<RawInfo>,
}

/// A SOAP 1.1 `Fault`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawFault {
    /// `faultcode` (`s:Client`, `s:Server`, `a:InternalServiceFault`...).
    pub code: String,
    /// `faultstring`.
    pub string: String,
}

/// A parsed answer body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// The tracking answer.
    Response(RawResponse),
    /// A SOAP fault.
    Fault(RawFault),
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

type Path = [Vec<u8>];

/// True when the element path ends with `suffix` (local names).
fn ends(path: &Path, suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| a.as_slice() == b.as_bytes())
}

/// Callbacks of the path-tracking walker.
trait Visitor {
    /// An element opened; `path` ends with it.
    fn start(&mut self, path: &Path, e: &BytesStart<'_>) -> Result<(), String>;
    /// An element closed with its (leaf) text; `path` ends with it.
    fn end(&mut self, path: &Path, text: &str);
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

/// The open elements' local names; a closed element's buffer is refilled by
/// the next element at that depth, so names are allocated once per depth.
struct Names {
    names: Vec<Vec<u8>>,
    depth: usize,
}

impl Names {
    fn push(&mut self, name: &[u8]) {
        if self.names.len() == self.depth {
            self.names.push(Vec::new());
        }
        let slot = &mut self.names[self.depth];
        slot.clear();
        slot.extend_from_slice(name);
        self.depth += 1;
    }
    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    fn path(&self) -> &Path {
        &self.names[..self.depth]
    }
}

/// Walks the document; returns the root's local name once the root closed.
fn walk<V: Visitor>(body: &[u8], v: &mut V) -> Result<Vec<u8>, String> {
    let mut reader = Reader::from_reader(body);
    let mut path = Names {
        names: Vec::with_capacity(12),
        depth: 0,
    };
    let mut root: Option<Vec<u8>> = None;
    // One text buffer for the whole walk: visitors copy what they keep.
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML near byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                path.push(e.local_name().as_ref());
                if root.is_none() {
                    root = Some(e.local_name().as_ref().to_vec());
                }
                v.start(path.path(), &e)?;
                text.clear();
            }
            Event::Empty(e) => {
                path.push(e.local_name().as_ref());
                v.start(path.path(), &e)?;
                v.end(path.path(), "");
                path.pop();
                text.clear();
                if root.is_none() {
                    return Ok(e.local_name().as_ref().to_vec());
                }
            }
            Event::Text(t) => {
                if path.depth > 0 {
                    let piece = t.xml10_content().map_err(|e| {
                        format!("bad text near byte {}: {e}", reader.buffer_position())
                    })?;
                    text.push_str(&piece);
                }
            }
            Event::CData(c) => {
                if path.depth > 0 {
                    let piece = c.decode().map_err(|e| {
                        format!("bad CDATA near byte {}: {e}", reader.buffer_position())
                    })?;
                    text.push_str(&piece);
                }
            }
            Event::GeneralRef(r) => {
                if path.depth > 0 {
                    text.push_str(&resolve_ref(&r)?);
                }
            }
            Event::End(_) => {
                v.end(path.path(), &text);
                text.clear();
                path.pop();
                if path.depth == 0 {
                    return root.ok_or_else(|| "end tag without a root element".to_string());
                }
            }
            Event::Eof => {
                return Err(match root {
                    None => "empty body or no XML root element".to_string(),
                    Some(r) => format!(
                        "truncated document: <{}> not closed (stopped at byte {})",
                        String::from_utf8_lossy(&r),
                        reader.buffer_position()
                    ),
                });
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn check_root(path: &Path) -> Result<(), String> {
    match path {
        [root] if root.as_slice() != b"Envelope" => Err(format!(
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

#[derive(Default)]
struct ResponseVisitor {
    response: Option<RawResponse>,
    fault: Option<RawFault>,
    other_body: Option<String>,
    target: Option<ErrorTarget>,
}

impl ResponseVisitor {
    fn scan(&mut self) -> Option<&mut RawScan> {
        self.response.as_mut()?.infos.last_mut()?.scans.last_mut()
    }

    fn error(&mut self) -> Option<&mut RawError> {
        let r = self.response.as_mut()?;
        match self.target? {
            ErrorTarget::Top => r.errors.last_mut(),
            ErrorTarget::Pin => r.infos.last_mut()?.errors.last_mut(),
        }
    }
}

fn xsi_type_attr(e: &BytesStart<'_>) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == b"type")
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
        .unwrap_or_default()
}

impl Visitor for ResponseVisitor {
    fn start(&mut self, path: &Path, e: &BytesStart<'_>) -> Result<(), String> {
        check_root(path)?;
        // Only a few element names open something; the rest skip the suffix
        // comparisons below, which every branch starts with the last name of.
        let opens = |last: &[u8]| match path.len() {
            3 => matches!(last, b"TrackPackagesByPinResponse" | b"Fault" | b"Body"),
            _ => false,
        } || matches!(last, b"TrackingInformation" | b"Scan" | b"Error");
        if !path.last().is_some_and(|last| opens(last)) {
            return Ok(());
        }
        if path.len() == 3 && ends(path, &["Envelope", "Body", "TrackPackagesByPinResponse"]) {
            self.response.get_or_insert_with(RawResponse::default);
        } else if path.len() == 3 && ends(path, &["Envelope", "Body", "Fault"]) {
            self.fault.get_or_insert_with(RawFault::default);
        } else if path.len() == 3 && ends(path, &["Envelope", "Body"]) {
            let name = path.last().map(|n| String::from_utf8_lossy(n).into_owned());
            self.other_body = self.other_body.take().or(name);
        } else if ends(path, &["TrackingInformationList", "TrackingInformation"]) {
            if let Some(r) = self.response.as_mut() {
                r.infos.push(RawInfo::default());
            }
        } else if ends(path, &["TrackingInformation", "Scans", "Scan"]) {
            if let Some(info) = self.response.as_mut().and_then(|r| r.infos.last_mut()) {
                info.scans.push(RawScan {
                    xsi_type: xsi_type_attr(e),
                    ..RawScan::default()
                });
            }
        } else if ends(path, &["ResponseInformation", "Errors", "Error"]) {
            let per_pin =
                path.len() >= 4 && path[path.len() - 4].as_slice() == b"TrackingInformation";
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
        Ok(())
    }

    fn end(&mut self, path: &Path, text: &str) {
        let Some(last) = path.last() else { return };
        let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
        match parent.map(Vec::as_slice) {
            Some(b"PIN") if ends(path, &["TrackingInformation", "PIN", "Value"]) => {
                if let Some(info) = self.response.as_mut().and_then(|r| r.infos.last_mut()) {
                    info.pin = text.to_string();
                }
            }
            Some(b"Scan") if ends(&path[..path.len() - 1], &["Scans", "Scan"]) => {
                let Some(scan) = self.scan() else { return };
                let slot = match last.as_slice() {
                    b"ScanType" => &mut scan.scan_type,
                    b"ScanDate" => &mut scan.date,
                    b"ScanTime" => &mut scan.time,
                    b"Description" => &mut scan.description,
                    b"Comment" => &mut scan.comment,
                    b"SummaryScanIndicator" => &mut scan.summary,
                    _ => return,
                };
                *slot = text.to_string();
            }
            Some(b"Depot") if ends(path, &["Scan", "Depot", "Name"]) => {
                if let Some(scan) = self.scan() {
                    scan.depot = text.to_string();
                }
            }
            Some(b"ScanDetails") if ends(&path[..path.len() - 1], &["Scan", "ScanDetails"]) => {
                let Some(scan) = self.scan() else { return };
                match last.as_slice() {
                    b"DeliverySignature" => scan.signature = text.to_string(),
                    b"CommitedDeliveryDate" | b"CommittedDeliveryDate" => {
                        scan.committed_date = text.to_string()
                    }
                    _ => {}
                }
            }
            Some(b"Error") if ends(&path[..path.len() - 1], &["Errors", "Error"]) => {
                let Some(err) = self.error() else { return };
                match last.as_slice() {
                    b"Code" => err.code = text.to_string(),
                    b"Description" => err.description = text.to_string(),
                    b"AdditionalInformation" => err.additional = text.to_string(),
                    _ => {}
                }
            }
            Some(b"Fault") => {
                let Some(f) = self.fault.as_mut() else { return };
                match last.as_slice() {
                    b"faultcode" => f.code = text.to_string(),
                    b"faultstring" => f.string = text.to_string(),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Parses an answer body (tracking response or SOAP fault).
pub fn parse(body: &[u8]) -> Result<Document, String> {
    let mut v = ResponseVisitor::default();
    let root = walk(body, &mut v)?;
    if root.as_slice() != b"Envelope" {
        return Err(format!(
            "unexpected root element <{}> (want a SOAP <Envelope>)",
            String::from_utf8_lossy(&root)
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

impl Visitor for RequestVisitor {
    fn start(&mut self, path: &Path, _e: &BytesStart<'_>) -> Result<(), String> {
        check_root(path)?;
        if path.len() == 3 && ends(path, &["Envelope", "Header", "RequestContext"]) {
            self.req.has_context = true;
        }
        if path.len() == 3 && ends(path, &["Envelope", "Body", "TrackPackagesByPinRequest"]) {
            self.req.has_request = true;
        }
        Ok(())
    }

    fn end(&mut self, path: &Path, text: &str) {
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
    if root.as_slice() != b"Envelope" {
        return Err(format!(
            "unexpected root element <{}> (want a SOAP <Envelope>)",
            String::from_utf8_lossy(&root)
        ));
    }
    Ok(v.req)
}

#[cfg(test)]
mod tests {
    use super::*;

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
