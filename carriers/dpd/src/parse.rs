//! One streaming pass over a DPD SOAP answer (tracking result, login result or
//! SOAP fault) into raw fields, then the mapping into the normalized model.

use crate::codes;
use crate::xml::{self, Sink, malformed};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use std::borrow::Cow;
use trackd_carrier_sdk::model::clean;
use trackd_carrier_sdk::{
    Address, Checkpoint, Eta, HttpResponse, RetryAfter, Snapshot, Status, Timestamp,
};

/// Text of one field, borrowed from the body unless the XML split it
/// (entity or character references, CDATA, line-end normalization).
pub type Text<'a> = Cow<'a, str>;

/// One `statusInfo` entry as DPD sent it.
#[derive(Debug, Default, Clone)]
pub struct RawStatus<'a> {
    /// `status`: the code (`Delivered`, `ON_THE_ROAD`...).
    pub code: Text<'a>,
    /// `label/content`: the short headline.
    pub label: Text<'a>,
    /// `description/content/content` lines.
    pub description: Vec<Text<'a>>,
    /// `statusHasBeenReached`; `None` when absent.
    pub reached: Option<bool>,
    /// `isCurrentStatus`.
    pub current: bool,
    /// `location/content` (`Mechelen (BE)`).
    pub location: Text<'a>,
    /// `date/content`: display text, format depends on `messageLanguage`.
    pub date: Text<'a>,
    /// `errorItems` lines (delivery problems).
    pub errors: Vec<Text<'a>>,
}

/// One `scanInfo/scan` entry (detailed scans, when DPD sends them).
#[derive(Debug, Default, Clone)]
pub struct RawScan<'a> {
    /// `date` (xs:dateTime, with or without offset).
    pub date: Text<'a>,
    /// `scanData/location` or `location`.
    pub location: Text<'a>,
    /// `scanType/code` (or `scanType/name` when no code).
    pub code: Text<'a>,
    /// `scanDescription` content lines.
    pub description: Vec<Text<'a>>,
}

/// A `getTrackingDataResponse/trackingresult`.
#[derive(Debug, Default, Clone)]
pub struct RawResult<'a> {
    /// `shipmentInfo` was present.
    pub has_shipment_info: bool,
    /// `shipmentInfo/status` (`SHIPMENT`).
    pub shipment_status: Text<'a>,
    /// `shipmentInfo/serviceDescription` content lines.
    pub service: Vec<Text<'a>>,
    /// `shipmentInfo/predictInformation` label and content lines.
    pub predict: Vec<Text<'a>>,
    /// `statusInfo` entries in document order.
    pub statuses: Vec<RawStatus<'a>>,
    /// `scanInfo/scan` entries in document order.
    pub scans: Vec<RawScan<'a>>,
}

/// A SOAP fault with DPD's detail (`authenticationFault` or `faults`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawFault {
    /// `faultcode` (`soap:Server`, `soap:Client`).
    pub faultcode: String,
    /// `faultstring`.
    pub faultstring: String,
    /// `errorCode` or `faultCode` from the detail.
    pub code: String,
    /// `errorMessage` or `message` from the detail.
    pub message: String,
    /// The detail was an `authenticationFault`.
    pub auth: bool,
}

/// A parsed DPD answer.
#[derive(Debug, Clone)]
pub enum Document<'a> {
    /// A tracking result.
    Track(RawResult<'a>),
    /// A `getAuthResponse/return`.
    Login {
        /// `authToken`.
        token: String,
        /// `authTokenExpires` as sent.
        expires: String,
    },
    /// A SOAP fault.
    Fault(RawFault),
}

#[derive(Default)]
struct Builder<'a> {
    result: Option<RawResult<'a>>,
    fault: Option<RawFault>,
    login: Option<(String, String)>,
}

/// `text` trimmed, still borrowed from the body when it was.
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
        Cow::Owned(t) if t.trim().len() == t.len() => Cow::Owned(t),
        Cow::Owned(t) => Cow::Owned(t.trim().to_string()),
    }
}

/// Keeps `text`, trimmed, when it is not blank (as `clean` did).
fn push_line<'a>(v: &mut Vec<Text<'a>>, text: Cow<'a, str>) {
    let t = trimmed(text);
    if !t.is_empty() {
        v.push(t);
    }
}

impl<'a> Sink<'a> for Builder<'a> {
    fn start(&mut self, path: &[&'a str]) {
        let Some(&last) = path.last() else { return };
        match last {
            "trackingresult" if self.result.is_none() => self.result = Some(RawResult::default()),
            "Fault" if self.fault.is_none() => self.fault = Some(RawFault::default()),
            "authenticationFault" => {
                if let Some(f) = self.fault.as_mut() {
                    f.auth = true;
                }
            }
            "getAuthResponse" if self.login.is_none() => self.login = Some(Default::default()),
            _ => {}
        }
        // Only these elements open a record below `trackingresult`; skip the
        // path search for every other element.
        if !matches!(last, "statusInfo" | "scan" | "shipmentInfo") {
            return;
        }
        let Some(i) = xml::find(path, "trackingresult") else {
            return;
        };
        let Some(r) = self.result.as_mut() else {
            return;
        };
        match xml::rel(path, i) {
            ["statusInfo"] => r.statuses.push(RawStatus::default()),
            ["scanInfo", "scan"] => r.scans.push(RawScan::default()),
            ["shipmentInfo"] => r.has_shipment_info = true,
            _ => {}
        }
    }

    fn leaf(&mut self, path: &[&'a str], text: Cow<'a, str>) {
        // Every field below ends in one of these names; other leaves are not
        // read, so they skip the path searches.
        if !path.last().is_some_and(|last| {
            matches!(
                *last,
                "faultcode"
                    | "faultstring"
                    | "errorCode"
                    | "faultCode"
                    | "errorMessage"
                    | "message"
                    | "authToken"
                    | "authTokenExpires"
                    | "status"
                    | "content"
                    | "label"
                    | "statusHasBeenReached"
                    | "isCurrentStatus"
                    | "location"
                    | "date"
                    | "code"
                    | "name"
            )
        }) {
            return;
        }
        if xml::find(path, "Fault").is_some() {
            if let Some(f) = self.fault.as_mut() {
                let slot = match path.last().copied() {
                    Some("faultcode") => &mut f.faultcode,
                    Some("faultstring") => &mut f.faultstring,
                    Some("errorCode" | "faultCode") => &mut f.code,
                    Some("errorMessage" | "message") => &mut f.message,
                    _ => return,
                };
                *slot = text.trim().to_string();
            }
            return;
        }
        if xml::find(path, "getAuthResponse").is_some() {
            if let Some((token, expires)) = self.login.as_mut() {
                match path.last().copied() {
                    Some("authToken") => *token = text.trim().to_string(),
                    Some("authTokenExpires") => *expires = text.trim().to_string(),
                    _ => {}
                }
            }
            return;
        }
        let Some(i) = xml::find(path, "trackingresult") else {
            return;
        };
        let Some(r) = self.result.as_mut() else {
            return;
        };
        let rel = xml::rel(path, i);
        match rel {
            ["shipmentInfo", "status"] => r.shipment_status = trimmed(text),
            ["shipmentInfo", "serviceDescription", "content"]
            | ["shipmentInfo", "serviceDescription", "content", "content"] => {
                push_line(&mut r.service, text)
            }
            ["shipmentInfo", "predictInformation", "label" | "content"]
            | [
                "shipmentInfo",
                "predictInformation",
                "label" | "content",
                "content",
            ] => push_line(&mut r.predict, text),
            ["statusInfo", rest @ ..] => {
                let Some(s) = r.statuses.last_mut() else {
                    return;
                };
                match rest {
                    ["status"] => s.code = trimmed(text),
                    ["label"] | ["label", "content"] => s.label = trimmed(text),
                    ["description", "content"] | ["description", "content", "content"] => {
                        push_line(&mut s.description, text)
                    }
                    ["statusHasBeenReached"] => s.reached = Some(text.trim() == "true"),
                    ["isCurrentStatus"] => s.current = text.trim() == "true",
                    ["location"] | ["location", "content"] => s.location = trimmed(text),
                    ["date"] | ["date", "content"] => s.date = trimmed(text),
                    ["errorItems", "content"] | ["errorItems", "content", "content"] => {
                        push_line(&mut s.errors, text)
                    }
                    _ => {}
                }
            }
            ["scanInfo", "scan", rest @ ..] => {
                let Some(s) = r.scans.last_mut() else { return };
                match rest {
                    ["date"] => s.date = trimmed(text),
                    ["location"] | ["scanData", "location"] => s.location = trimmed(text),
                    ["scanType", "code"] | ["scanData", "scanType", "code"] => {
                        s.code = trimmed(text)
                    }
                    ["scanType", "name"] | ["scanData", "scanType", "name"]
                        if s.code.is_empty() =>
                    {
                        s.code = trimmed(text)
                    }
                    ["scanDescription", .., "content"] => push_line(&mut s.description, text),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Parses a DPD SOAP answer body.
pub fn parse(body: &[u8]) -> Result<Document<'_>, CarrierError> {
    let mut b = Builder::default();
    let root = xml::walk(body, &mut b)?;
    if root != "Envelope" {
        return Err(malformed(format!(
            "expected a SOAP <Envelope>, got <{root}>"
        )));
    }
    if let Some(f) = b.fault {
        return Ok(Document::Fault(f));
    }
    if let Some((token, expires)) = b.login {
        return Ok(Document::Login { token, expires });
    }
    b.result.map(Document::Track).ok_or_else(|| {
        malformed("SOAP body holds neither a trackingresult, a getAuthResponse nor a Fault")
    })
}

use trackd_carrier_sdk::CarrierError;

/// The typed error a DPD SOAP fault stands for.
pub enum FaultKind {
    /// Applies to the whole call.
    Whole(CarrierError),
    /// The asked number is unknown to DPD.
    NotFound(CarrierError),
}

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    let h = haystack.to_ascii_lowercase();
    needles.iter().any(|n| h.contains(n))
}

/// Maps a fault (and the HTTP answer it came in) to a typed error. Authentication
/// problems (`authenticationFault`, `LOGIN_*`, `DELICOM_ERR_AUTHENTICATION`) are
/// `Auth` so the daemon fetches a new token.
pub fn fault_error(f: &RawFault, resp: &HttpResponse) -> FaultKind {
    let code = if f.code.is_empty() {
        f.faultcode.clone()
    } else {
        f.code.clone()
    };
    let text = match (f.message.is_empty(), f.faultstring.is_empty()) {
        (false, false) => format!("{} ({})", f.message, f.faultstring),
        (false, true) => f.message.clone(),
        (true, _) => f.faultstring.clone(),
    };
    let message = if text.is_empty() {
        format!("SOAP fault {code}")
    } else {
        format!("{code}: {text}")
    };
    let upper = f.code.to_ascii_uppercase();
    if f.auth
        || upper.starts_with("LOGIN_")
        || upper.contains("AUTH")
        || contains_any(
            &f.message,
            &["authentication", "authtoken", "not authorized"],
        )
    {
        return FaultKind::Whole(CarrierError::Auth { message });
    }
    if resp.status == 429 || upper.contains("RATE") || upper.contains("QUOTA") {
        return FaultKind::Whole(CarrierError::RateLimited {
            retry_after: resp.retry_after(),
        });
    }
    if upper.contains("NOT_FOUND")
        || upper.contains("NOTFOUND")
        || contains_any(
            &f.message,
            &["not found", "no data", "unknown parcel", "no tracking"],
        )
    {
        return FaultKind::NotFound(CarrierError::NotFound {
            code: clean(&f.code),
            message,
        });
    }
    let server = f.faultcode.ends_with("Server") || f.faultcode.ends_with("Receiver");
    if server && f.code.is_empty() {
        return FaultKind::Whole(CarrierError::Unavailable {
            status: resp.status,
            message,
        });
    }
    FaultKind::Whole(CarrierError::Rejected { code, message })
}

/// Parses a DPD date/time display text. Offsets are kept only when DPD wrote
/// one; everything else stays naive (DPD's display times are the depot's local
/// time, whose zone it does not state).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Some(t) = english_display_time(s)
        .or_else(|| german_display_time(s))
        .or_else(|| naive_iso_time(s))
    {
        return Some(t);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::Zoned(dt));
    }
    // A format without a `/` literal cannot read a text that has one (no
    // field consumes it), so DPD's English display time (`8/17/2021 7:11:26
    // PM`, on every status) goes straight to the `/` formats, in their order.
    let slashed = s.contains('/');
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
        if slashed {
            break;
        }
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(Timestamp::Zoned(dt));
        }
    }
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%d.%m.%Y, %H:%M:%S",
        "%d.%m.%Y, %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    NAIVE
        .iter()
        .filter(|f| !slashed || f.contains('/'))
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(Timestamp::Naive)
}

/// A run of 1..=`max` ASCII digits at the start of `b`: (value, rest).
fn lead_digits(b: &[u8], max: usize) -> Option<(u32, &[u8])> {
    let n = b
        .iter()
        .take(max)
        .take_while(|d| d.is_ascii_digit())
        .count();
    if n == 0 || b.get(n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let v = b[..n]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((v, &b[n..]))
}

/// The fast path for DPD's English display time, `M/D/YYYY h:MM:SS AM|PM`
/// (on every status), read without format strings. `Some` only where the
/// first matching format, `%m/%d/%Y %I:%M:%S %p`, reads the same time;
/// anything else goes through the formats.
fn english_display_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let (month, b) = lead_digits(b, 2)?;
    let b = b.strip_prefix(b"/")?;
    let (day, b) = lead_digits(b, 2)?;
    let b = b.strip_prefix(b"/")?;
    let (year, b) = lead_digits(b, 4)?;
    let b = b.strip_prefix(b" ")?;
    let (hour, b) = lead_digits(b, 2)?;
    let b = b.strip_prefix(b":")?;
    let [m1, m2, b':', s1, s2, b' ', p, m] = b else {
        return None;
    };
    let two = |a: u8, b: u8| {
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
    };
    let (minute, second) = (two(*m1, *m2)?, two(*s1, *s2)?);
    let pm = match (p.to_ascii_uppercase(), m.to_ascii_uppercase()) {
        (b'A', b'M') => false,
        (b'P', b'M') => true,
        _ => return None,
    };
    if year < 1000 || !(1..=12).contains(&hour) || second > 59 {
        return None;
    }
    let hour = hour % 12 + if pm { 12 } else { 0 };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    Some(Timestamp::naive(date, time))
}

/// Two ASCII digits as a number.
fn two_digits(a: u8, b: u8) -> Option<u32> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
}

/// Four ASCII digits as a number.
fn four_digits(b: &[u8; 4]) -> Option<i32> {
    let [a, b2, c, d] = *b;
    i32::try_from(two_digits(a, b2)? * 100 + two_digits(c, d)?).ok()
}

/// The fast path for DPD's German display time, `DD.MM.YYYY, HH:MM[:SS]`
/// (exactly these digits), read without format strings. Every format before
/// `%d.%m.%Y, %H:%M:%S` / `%d.%m.%Y, %H:%M` fails on this shape (they need a
/// `-`, `/` or `T` after the first number), and those two read the same time;
/// `Some` only for a valid time without leap second, anything else goes
/// through the formats.
fn german_display_time(s: &str) -> Option<Timestamp> {
    let (date, time) = match s.as_bytes() {
        [
            d1,
            d2,
            b'.',
            m1,
            m2,
            b'.',
            y @ ..,
            b',',
            b' ',
            h1,
            h2,
            b':',
            n1,
            n2,
        ] => (([*d1, *d2], [*m1, *m2], y), (*h1, *h2, *n1, *n2, None)),
        [
            d1,
            d2,
            b'.',
            m1,
            m2,
            b'.',
            y @ ..,
            b',',
            b' ',
            h1,
            h2,
            b':',
            n1,
            n2,
            b':',
            s1,
            s2,
        ] => (
            ([*d1, *d2], [*m1, *m2], y),
            (*h1, *h2, *n1, *n2, Some((*s1, *s2))),
        ),
        _ => return None,
    };
    let ((d, m, y), (h1, h2, n1, n2, sec)) = (date, time);
    let year = four_digits(<&[u8; 4]>::try_from(y).ok()?)?;
    let date = NaiveDate::from_ymd_opt(year, two_digits(m[0], m[1])?, two_digits(d[0], d[1])?)?;
    let second = match sec {
        Some((a, b)) => two_digits(a, b).filter(|s| *s <= 59)?,
        None => 0,
    };
    let time = NaiveTime::from_hms_opt(two_digits(h1, h2)?, two_digits(n1, n2)?, second)?;
    Some(Timestamp::naive(date, time))
}

/// The fast path for a scan's naive `YYYY-MM-DDTHH:MM:SS` (exactly these
/// digits, no fraction, no offset): RFC 3339 and the zoned formats fail on it
/// (no offset), and the first naive format, `%Y-%m-%dT%H:%M:%S%.f`, reads the
/// same time. `Some` only for a valid time without leap second.
fn naive_iso_time(s: &str) -> Option<Timestamp> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        m1,
        m2,
        b'-',
        d1,
        d2,
        b'T',
        h1,
        h2,
        b':',
        n1,
        n2,
        b':',
        s1,
        s2,
    ] = *s.as_bytes()
    else {
        return None;
    };
    let year = four_digits(&[y1, y2, y3, y4])?;
    let date = NaiveDate::from_ymd_opt(year, two_digits(m1, m2)?, two_digits(d1, d2)?)?;
    let second = two_digits(s1, s2).filter(|s| *s <= 59)?;
    let time = NaiveTime::from_hms_opt(two_digits(h1, h2)?, two_digits(n1, n2)?, second)?;
    Some(Timestamp::naive(date, time))
}

fn parse_date(token: &str) -> Option<NaiveDate> {
    let t = token.trim_end_matches(['.', ',', ';']);
    // Each format starts with a number, and a number needs a digit: a word
    // without one (most of a Predict sentence) skips the three parses.
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    ["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
}

fn parse_hm(token: &str) -> Option<NaiveTime> {
    let t = token.trim_end_matches(['.', ',', ';', ')']);
    let t = t.trim_start_matches('(');
    // `%H` needs a digit (see `parse_date`).
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::parse_from_str(t, "%H:%M").ok()
}

/// Reads DPD Predict text ("… on 08/19/2021 between 10:30 and 11:30"): a date
/// and an optional hh:mm window, both local (naive).
pub fn parse_predict(lines: &[Text<'_>]) -> Option<Eta> {
    let text = lines.join(" ");
    let mut date = None;
    let mut times = Vec::with_capacity(2);
    for word in text.split([' ', '\t', '\n']) {
        if date.is_none()
            && let Some(d) = parse_date(word)
        {
            date = Some(d);
            continue;
        }
        for part in word.split('-') {
            if times.len() < 2
                && let Some(t) = parse_hm(part)
            {
                times.push(t);
            }
        }
    }
    let date = date?;
    match times.as_slice() {
        [start, end] if start <= end => Some(Eta::Window {
            start: Timestamp::naive(date, *start),
            end: Timestamp::naive(date, *end),
        }),
        _ => Some(Eta::Date { date }),
    }
}

/// Splits DPD's `City (CC)` location text.
pub fn parse_location(s: &str) -> Option<Address> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(open) = s.rfind('(')
        && s.ends_with(')')
    {
        let inner = s.get(open + 1..s.len() - 1).unwrap_or("").trim();
        if inner.len() == 2 && inner.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Address {
                city: clean(s.get(..open).unwrap_or("")),
                country: Some(inner.to_ascii_uppercase()),
                ..Address::default()
            }
            .non_empty();
        }
    }
    Address {
        city: clean(s),
        ..Address::default()
    }
    .non_empty()
}

fn status_checkpoint(s: &RawStatus) -> Result<Option<Checkpoint>, CarrierError> {
    if s.reached == Some(false) || s.date.is_empty() {
        return Ok(None);
    }
    let occurred_at = parse_time(&s.date).ok_or_else(|| {
        malformed(format!(
            "status {} has an unreadable date {:?}",
            s.code, s.date
        ))
    })?;
    let description = if s.description.is_empty() {
        clean(&s.label).unwrap_or_else(|| s.code.to_string())
    } else {
        s.description.join(" ")
    };
    Ok(Some(Checkpoint {
        occurred_at,
        status: codes::status_of(&s.code).unwrap_or(Status::Unknown),
        status_detail: (!s.errors.is_empty()).then(|| s.errors.join(" ")),
        code: s.code.to_string(),
        description,
        location: parse_location(&s.location),
    }))
}

fn scan_checkpoint(s: &RawScan) -> Result<Checkpoint, CarrierError> {
    let occurred_at = parse_time(&s.date)
        .ok_or_else(|| malformed(format!("scan has an unreadable date {:?}", s.date)))?;
    let code = clean(&s.code).unwrap_or_else(|| "SCAN".into());
    Ok(Checkpoint {
        occurred_at,
        status: codes::status_of(&code).unwrap_or(Status::Unknown),
        status_detail: None,
        description: if s.description.is_empty() {
            code.clone()
        } else {
            s.description.join(" ")
        },
        code,
        location: parse_location(&s.location),
    })
}

/// Whether DPD knows the parcel at all: an empty `trackingresult` means not.
pub fn is_empty(r: &RawResult) -> bool {
    !r.has_shipment_info && r.statuses.is_empty() && r.scans.is_empty()
}

/// Maps a tracking result into a snapshot.
pub fn snapshot(r: &RawResult) -> Result<Snapshot, CarrierError> {
    let mut snap = Snapshot::pending();
    let mut checkpoints = Vec::with_capacity(r.statuses.len() + r.scans.len());
    for s in &r.statuses {
        if let Some(cp) = status_checkpoint(s)? {
            checkpoints.push(cp);
        }
    }
    for s in &r.scans {
        checkpoints.push(scan_checkpoint(s)?);
    }
    let current = r
        .statuses
        .iter()
        .rev()
        .find(|s| s.current)
        .or_else(|| r.statuses.iter().rev().find(|s| s.reached == Some(true)));
    match current {
        Some(cur) => {
            let status = codes::status_of(&cur.code).unwrap_or(Status::Unknown);
            snap.status = status;
            snap.status_rule = if status == Status::Unknown {
                format!("dpd:unmapped={}", cur.code)
            } else {
                format!("dpd:status={}", cur.code)
            };
            snap.carrier_status_code = clean(&cur.code);
            snap.carrier_status_text =
                clean(&cur.label).or_else(|| cur.description.first().map(|d| d.to_string()));
            snap.status_detail = if cur.errors.is_empty() {
                clean(cur.description.join(" "))
            } else {
                Some(cur.errors.join(" "))
            };
            if status == Status::Delivered {
                snap.delivered_at = parse_time(&cur.date).or_else(|| {
                    checkpoints
                        .iter()
                        .rev()
                        .find(|c| c.status == Status::Delivered)
                        .map(|c| c.occurred_at)
                });
            }
            snap.updated_at = parse_time(&cur.date);
        }
        None => {
            // DPD has the parcel data but no milestone is reached yet.
            snap.status = Status::InfoReceived;
            snap.status_rule = "dpd:no-status-reached".into();
            snap.carrier_status_code = clean(&r.shipment_status);
        }
    }
    snap.service = clean(r.service.join(" "));
    snap.estimated_delivery = parse_predict(&r.predict);
    snap.checkpoints = checkpoints;
    Ok(finish(snap))
}

/// Sorts by instant only when every time has an offset; naive times keep DPD's
/// document order (journeys cross zones, so wall clocks cannot be compared).
fn finish(mut snap: Snapshot) -> Snapshot {
    if !snap.checkpoints.is_empty()
        && snap
            .checkpoints
            .iter()
            .all(|c| c.occurred_at.offset_known())
    {
        return snap.finish();
    }
    if snap.updated_at.is_none() {
        snap.updated_at = snap.checkpoints.last().map(|c| c.occurred_at);
    }
    snap
}

/// Token lifetime when nothing better is known: conservative, re-login hourly.
pub const DEFAULT_TOKEN_SECS: u64 = 3_600;
/// DPD documents a token validity of one day; never cache longer.
pub const MAX_TOKEN_SECS: u64 = 86_400;
/// Floor so a nearly expired token does not cause a login per track call.
pub const MIN_TOKEN_SECS: u64 = 60;

/// Seconds the token lives, from `authTokenExpires` and the answer's `Date`
/// header. With an offset the difference is exact; a naive expiry is read as
/// the earliest instant it can denote (UTC+14), so the cache never outlives the
/// token; with no `Date` header the conservative default applies.
pub fn token_lifetime(expires: &str, resp: &HttpResponse) -> u64 {
    let now = match date_header(resp) {
        Some(d) => d,
        None => return DEFAULT_TOKEN_SECS,
    };
    let Some(exp) = parse_time(expires) else {
        return DEFAULT_TOKEN_SECS;
    };
    let end = exp.earliest_instant();
    let secs = (end - now).num_seconds();
    u64::try_from(secs)
        .unwrap_or(0)
        .clamp(MIN_TOKEN_SECS, MAX_TOKEN_SECS)
}

/// The `Date` header of an answer (RFC 2822), the only clock a pure plugin sees.
fn date_header(resp: &HttpResponse) -> Option<chrono::DateTime<chrono::Utc>> {
    match RetryAfter::parse(resp.header_value("date")?) {
        Some(RetryAfter::At(d)) => Some(d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `parse_time` before the `/` shortcut: every format, in order.
    fn parse_time_ref(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp::Zoned(dt));
        }
        for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
            if let Ok(dt) = DateTime::parse_from_str(s, f) {
                return Some(Timestamp::Zoned(dt));
            }
        }
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %I:%M %p",
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
            "%d.%m.%Y, %H:%M:%S",
            "%d.%m.%Y, %H:%M",
            "%d.%m.%Y %H:%M:%S",
            "%d.%m.%Y %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(Timestamp::Naive)
    }

    #[test]
    fn english_display_times() {
        for s in [
            "8/17/2021 7:11:26 PM",
            "08/07/2021 12:00:00 AM",
            "12/31/2021 12:59:59 pm",
            "1/1/2022 1:00:00 am",
        ] {
            let fast = english_display_time(s).map(|t| format!("{t:?}"));
            assert!(fast.is_some(), "{s}");
            assert_eq!(fast, parse_time_ref(s).map(|t| format!("{t:?}")), "{s}");
        }
        for s in [
            "8/17/2021 0:11:26 PM",
            "8/17/2021 13:11:26 PM",
            "2/30/2021 7:11:26 PM",
            "8/17/2021 7:11 PM",
            "8/17/2021 7:11:26",
            "8/17/21 7:11:26 PM",
            "8/17/2021 7:11:26 PM ",
        ] {
            assert_eq!(english_display_time(s), None, "{s}");
        }
    }

    #[test]
    fn fixed_layout_times() {
        for s in [
            "05.03.2019, 19:30",
            "31.12.2019, 23:59:59",
            "29.02.2020, 00:00",
            "2019-03-06T09:12:40",
            "2020-02-29T23:59:59",
        ] {
            let fast = german_display_time(s)
                .or_else(|| naive_iso_time(s))
                .map(|t| format!("{t:?}"));
            assert!(fast.is_some(), "{s}");
            assert_eq!(fast, parse_time_ref(s).map(|t| format!("{t:?}")), "{s}");
        }
        for s in [
            "29.02.2019, 19:30",
            "05.03.2019, 24:00",
            "05.03.2019, 19:30:60",
            "5.03.2019, 19:30",
            "05.03.2019 19:30",
            "2019-03-06T09:12:60",
            "2019-03-06T09:12:40Z",
            "2019-03-06T09:12",
        ] {
            assert_eq!(
                german_display_time(s).or_else(|| naive_iso_time(s)),
                None,
                "{s}"
            );
        }
    }

    proptest! {
        #[test]
        fn fixed_layout_times_agree_with_the_formats(
            s in "[0-9]{2}\\.[0-9]{2}\\.[0-9]{4}, [0-9]{2}:[0-9]{2}(:[0-9]{2})?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}",
        ) {
            let fmt = |t: Option<Timestamp>| t.map(|t| format!("{t:?}"));
            let fast = fmt(german_display_time(&s).or_else(|| naive_iso_time(&s)));
            if fast.is_some() {
                prop_assert_eq!(fast, fmt(parse_time_ref(&s)));
            }
            prop_assert_eq!(fmt(parse_time(&s)), fmt(parse_time_ref(&s)));
        }

        #[test]
        fn predict_words_agree_with_the_formats(w in "[0-9a-zA-Z.:,;()/ \\-]{0,12}") {
            prop_assert_eq!(
                parse_date(&w),
                ["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d"]
                    .iter()
                    .find_map(|f| NaiveDate::parse_from_str(w.trim_end_matches(['.', ',', ';']), f).ok())
            );
            let t = w.trim_end_matches(['.', ',', ';', ')']).trim_start_matches('(');
            prop_assert_eq!(parse_hm(&w), NaiveTime::parse_from_str(t, "%H:%M").ok());
        }

        #[test]
        fn english_display_time_agrees_with_the_formats(
            s in "[0-9]{1,3}/[0-9]{1,3}/[0-9]{3,5} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3} [AaPp][Mm]",
        ) {
            let fmt = |t: Option<Timestamp>| t.map(|t| format!("{t:?}"));
            let fast = fmt(english_display_time(&s));
            if fast.is_some() {
                prop_assert_eq!(fast, fmt(parse_time_ref(&s)));
            }
        }

        #[test]
        fn time_agrees_with_every_format_in_order(
            s in "[0-9]{1,4}[/.\\-][0-9]{1,2}[/.\\-][0-9]{1,4}[ ,T]{1,2}[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\\.[0-9]{1,3})?( ?[AP]M)?([+-][0-9]{2}:?[0-9]{2}|Z)?",
        ) {
            let fmt = |t: Option<Timestamp>| t.map(|t| format!("{t:?}"));
            prop_assert_eq!(fmt(parse_time(&s)), fmt(parse_time_ref(&s)));
        }
    }

    #[test]
    fn time_forms() {
        let t = |s| parse_time(s).map(|t| (t.to_wire(), t.offset_known()));
        assert_eq!(
            t("8/17/2021 7:11:26 PM"),
            Some(("2021-08-17T19:11:26".into(), false))
        );
        assert_eq!(
            t("05.03.2019, 19:30"),
            Some(("2019-03-05T19:30:00".into(), false))
        );
        assert_eq!(
            t("2019-03-05T19:30:00.06"),
            Some(("2019-03-05T19:30:00.060".into(), false))
        );
        assert_eq!(
            t("2019-03-05T19:30:00+01:00"),
            Some(("2019-03-05T19:30:00+01:00".into(), true))
        );
        assert_eq!(t("yesterday"), None);
    }

    #[test]
    fn predict_forms() {
        let lines =
            vec!["Your parcel will be delivered on 08/19/2021 between 10:30 and 11:30.".into()];
        assert!(matches!(parse_predict(&lines), Some(Eta::Window { .. })));
        let lines = vec!["19.08.2021".into(), "10:30 - 11:30".into()];
        assert!(matches!(parse_predict(&lines), Some(Eta::Window { .. })));
        let lines = vec!["Expected on 19.08.2021.".into()];
        assert!(matches!(parse_predict(&lines), Some(Eta::Date { .. })));
        assert_eq!(parse_predict(&["no date".into()]), None);
    }

    #[test]
    fn locations() {
        let a = parse_location("Mechelen (BE)").unwrap();
        assert_eq!(a.city.as_deref(), Some("Mechelen"));
        assert_eq!(a.country.as_deref(), Some("BE"));
        let a = parse_location("Hub 3").unwrap();
        assert_eq!(a.city.as_deref(), Some("Hub 3"));
        assert_eq!(parse_location(" "), None);
    }
}
