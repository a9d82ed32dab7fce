//! The fuzz targets' bodies: how raw fuzzer bytes become a carrier answer, a
//! config file or a typed tracking number, and what the daemon does with each.
//! The targets in `fuzz_targets/` are one line each so every carrier gets its
//! own corpus, coverage map and time budget. The seed script
//! (`fuzz/seed_corpus.py`) writes fixtures in the same input layout.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::{Arc, OnceLock};
use trackd::diff::{self, DiffPolicy};
use trackd_carrier_sdk::{Carrier, HttpResponse, Snapshot};

/// Statuses an out-of-range status word maps to (any 100..=999 is used as is).
const COMMON_STATUSES: [u16; 16] = [
    200, 201, 204, 301, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504,
];

/// Content types a selector byte picks from; `None` sends no content-type header.
pub const CONTENT_TYPES: [Option<&str>; 10] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/xml"),
    Some("text/xml; charset=utf-8"),
    Some("application/soap+xml; charset=utf-8"),
    Some("application/problem+json"),
    Some("text/html"),
    Some("text/plain"),
    Some("application/octet-stream"),
    None,
];

/// Length of the fixed header in front of a parse input.
pub const HEADER_LEN: usize = 4;

/// The same plugin instances the daemon registers, built once per process.
fn plugins() -> &'static [Arc<dyn Carrier>] {
    static PLUGINS: OnceLock<Vec<Arc<dyn Carrier>>> = OnceLock::new();
    PLUGINS.get_or_init(trackd::carriers::builtin)
}

fn plugin(slug: &str) -> &'static Arc<dyn Carrier> {
    plugins()
        .iter()
        .find(|p| p.descriptor().slug == slug)
        .unwrap_or_else(|| panic!("no built-in carrier {slug}: fix the fuzz target"))
}

/// A fuzz input read as a carrier answer.
#[derive(Debug)]
pub struct Answer {
    /// The tracking numbers the poll asked for (empty = report all, as `trackd normalize`).
    pub numbers: Vec<String>,
    pub response: HttpResponse,
}

/// Decodes the parse input layout:
///
/// | bytes | meaning |
/// |---|---|
/// | 0..2 | HTTP status, big-endian; 100..=999 as is, anything else one of `COMMON_STATUSES` |
/// | 2 | content type, an index into `CONTENT_TYPES` (modulo) |
/// | 3 | bits 0-1: how many tracking-number lines follow; bit 2: a `retry-after` line follows |
/// | ... | those lines, each ending in `\n` (numbers normalized as the daemon does) |
/// | rest | the body |
///
/// Shorter inputs read missing header bytes as zero (HTTP 200, JSON, no numbers).
pub fn decode_answer(data: &[u8]) -> Answer {
    let mut header = [0u8; HEADER_LEN];
    let split = data.len().min(HEADER_LEN);
    header[..split].copy_from_slice(&data[..split]);
    let mut rest = &data[split..];
    let raw_status = u16::from_be_bytes([header[0], header[1]]);
    let status = if (100..=999).contains(&raw_status) {
        raw_status
    } else {
        COMMON_STATUSES[usize::from(raw_status) % COMMON_STATUSES.len()]
    };
    let mut headers = Vec::new();
    if let Some(ct) = CONTENT_TYPES[usize::from(header[2]) % CONTENT_TYPES.len()] {
        headers.push(("content-type".to_owned(), ct.to_owned()));
    }
    let mut line = || -> String {
        let (taken, after) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        String::from_utf8_lossy(taken).into_owned()
    };
    let numbers: Vec<String> = (0..header[3] & 0b11)
        .map(|_| trackd::carriers::normalize_number(&line()))
        .filter(|n| !n.is_empty())
        .collect();
    if header[3] & 0b100 != 0 {
        headers.push(("retry-after".to_owned(), line()));
    }
    Answer {
        numbers,
        response: HttpResponse {
            status,
            headers,
            body: rest.to_vec(),
        },
    }
}

/// A fixed "now", so a crashing input replays the same way any day.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// What the daemon does with one answer of `slug`'s: classify it, parse it (and
/// the token endpoint's reading of it), then ingest every snapshot it yields.
/// With no number requested, parses again asking for every number reported,
/// as a poll of those trackers would.
pub fn parse(slug: &str, data: &[u8]) {
    let plugin = plugin(slug);
    let Answer { numbers, response } = decode_answer(data);
    let _ = plugin.classify_error(&response);
    if plugin.descriptor().auth.uses_token() {
        let _ = plugin.parse_token(&response);
    }
    let asked: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let Ok(results) = plugin.parse_track(&asked, &response) else {
        return;
    };
    for r in &results {
        if let Ok(snapshot) = &r.outcome {
            ingest(snapshot);
        }
    }
    if asked.is_empty() {
        let batch = plugin.descriptor().batch_size.max(1);
        let reported: Vec<String> = results
            .iter()
            .map(|r| trackd::carriers::normalize_number(&r.tracking_number))
            .filter(|n| !n.is_empty())
            .take(batch)
            .collect();
        if !reported.is_empty() {
            let reported: Vec<&str> = reported.iter().map(String::as_str).collect();
            let _ = plugin.parse_track(&reported, &response);
        }
    }
}

/// The poller's path for a parsed snapshot: diff against a new tracker, then
/// against itself (a re-poll), the ETA deadline check, and the store's JSON
/// round trip, which must give back the same snapshot.
fn ingest(snapshot: &Snapshot) {
    let policy = DiffPolicy {
        eta_slip_tolerance_secs: 7200,
    };
    let first = diff::apply(&Snapshot::pending(), snapshot.clone(), now(), &policy);
    let later = now() + chrono::Duration::hours(1);
    let second = diff::apply(&first.snapshot, snapshot.clone(), later, &policy);
    assert!(
        second.events.is_empty(),
        "the same answer twice gave events: {:?}",
        second.events
    );
    let _ = diff::eta_missed(&second.snapshot, later + chrono::Duration::days(30));
    let stored = serde_json::to_string(&first.snapshot).expect("snapshots serialize");
    let loaded: Snapshot = serde_json::from_str(&stored).expect("stored snapshots load back");
    assert_eq!(
        loaded, first.snapshot,
        "the store's JSON round trip changed a snapshot"
    );
}

/// The config loader on arbitrary text: bytes up to the first NUL are the
/// operator's TOML file, the rest `KEY=VALUE` lines of environment. `file:`
/// is rewritten to `file_` so a `file:/path` secret becomes a literal one and
/// a run never reads the fuzzing host's files (/dev/zero would exhaust memory;
/// that branch is unit-tested in src/config.rs).
pub fn config_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.replace("file:", "file_");
    let (toml, env) = text.split_once('\0').unwrap_or((&text, ""));
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    match trackd::config::Config::load_str(toml, env) {
        Ok(config) => {
            let _ = serde_json::to_string(&config).expect("a loaded config serializes");
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failed load names no error");
            let _ = errors.to_string();
        }
    }
}

/// Detection as the API and `trackd detect` run it: the offline data set, every
/// plugin's own `detect`, and the single-carrier verdict.
pub fn detect_number(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let detected = trackd::detection::detect(&raw);
    let number = trackd::carriers::normalize_number(&raw);
    assert_eq!(detected.number, number, "detection normalizes like the API");
    let _ = (detected.carrier(), detected.confidence());
    let _ = trackd::carriers::detect(plugins(), &number);
    let _ = trackd::carriers::detect_one(plugins(), &number);
}

/// Runs the target `name` (as listed by `cargo fuzz list`) on one input.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "config_load" => config_load(data),
        "detect_number" => detect_number(data),
        other => match other.strip_prefix("parse_") {
            Some(slug) => parse(slug, data),
            None => panic!("no fuzz target {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input the fuzzer once crashed on (`regressions/<target>/`) now passes.
    #[test]
    fn regressions_replay_cleanly() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let mut replayed = 0;
        for target in std::fs::read_dir(&root).expect("fuzz/regressions") {
            let target = target.expect("entry").path();
            let name = target
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            for input in std::fs::read_dir(&target).expect("target dir") {
                let input = input.expect("entry").path();
                run_target(&name, &std::fs::read(&input).expect("readable"));
                replayed += 1;
            }
        }
        assert!(replayed >= 3, "{replayed} regression inputs");
    }

    #[test]
    fn header_layout_decodes() {
        let mut input = vec![0x01, 0xAD, 3, 0b101];
        input.extend_from_slice(b"1z 999-aa1\n120\n{\"a\":1}");
        let a = decode_answer(&input);
        assert_eq!(a.response.status, 429);
        assert_eq!(
            a.response.header_value("content-type"),
            Some("text/xml; charset=utf-8")
        );
        assert_eq!(a.numbers, vec!["1Z999AA1".to_owned()]);
        assert_eq!(a.response.header_value("retry-after"), Some("120"));
        assert_eq!(a.response.body, b"{\"a\":1}");
        let short = decode_answer(&[]);
        assert_eq!(short.response.status, 200);
        assert!(short.numbers.is_empty() && short.response.body.is_empty());
        assert_eq!(
            decode_answer(&[0xFF, 0xFF, 9])
                .response
                .header_value("content-type"),
            None
        );
    }
}
