//! Daemon configuration: embedded defaults, an optional TOML file, then `TRACKD_*` variables.
//!
//! Layers, later wins:
//! 1. `config/trackd.toml`, compiled in: every key with its default and a comment, so the
//!    defaults live in exactly one place;
//! 2. the operator's file, which only needs the keys it changes;
//! 3. environment variables `TRACKD_<SECTION>__<KEY>`: path segments joined by a double
//!    underscore (keys contain single underscores), lower-cased, the value parsed as the key's
//!    type; lists are comma-separated and an empty value unsets an optional key. Variables
//!    without a double underscore (`TRACKD_CONFIG`, ...) are left to the command line.
//!
//! The merged table is read by a small typed walker rather than serde so that
//! `trackd check-config` can report every bad value and every unknown key at once, each with
//! its full key, instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};
use toml::{Table, Value};

/// The embedded defaults: the base layer, and the reference operators copy from.
const DEFAULT_TOML: &str = include_str!("../config/trackd.toml");
/// Prefix of the environment variables that override config keys.
const ENV_PREFIX: &str = "TRACKD_";
/// Separator of path segments in an override variable's name.
const ENV_SEPARATOR: &str = "__";
/// What secrets print as, everywhere.
const REDACTED: &str = "<redacted>";

/// Everything the daemon reads from its configuration, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Where the HTTP API listens and how it shuts down.
    pub server: ServerConfig,
    /// Where events and trackers are kept, and for how long.
    pub storage: StorageConfig,
    /// Who may call the API and how much one call may do.
    pub api: ApiConfig,
    /// How logs look and how much is logged.
    pub log: LogConfig,
    /// How often and how carefully carriers are polled.
    pub poll: PollConfig,
    /// How several instances on one PostgreSQL database share the work.
    pub fleet: FleetConfig,
    /// The optional NATS JetStream mirror of the event log.
    pub mirror: MirrorConfig,
    /// In-memory caches in front of storage.
    pub cache: CacheConfig,
    /// Pushing the event log to consumers' HTTP endpoints.
    pub webhooks: WebhooksConfig,
    pub risk: RiskConfig,
    /// Per-carrier settings by slug; slugs are checked against the carrier registry by the daemon.
    pub carriers: BTreeMap<String, CarrierConfig>,
}

/// HTTP listener settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    /// Address of the API and /metrics (default 127.0.0.1:8080).
    pub listen: SocketAddr,
    /// How long in-flight polls may run after SIGTERM (default 10s; zero = do not wait).
    #[serde(serialize_with = "ser_duration")]
    pub shutdown_grace: Duration,
}

/// Which engine holds trackers, snapshots, the event log and quota ledgers.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageBackend {
    /// The embedded default: one SQLite file under `data_dir`, no service needed.
    Sqlite,
    /// PostgreSQL as the system of record (`postgres_url`, a secret: it may hold a password).
    Postgres { url: Secret },
}

/// The effective config names the engine only: the URL is a secret.
fn ser_backend<S: serde::Serializer>(b: &StorageBackend, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match b {
        StorageBackend::Sqlite => "sqlite",
        StorageBackend::Postgres { .. } => "postgres",
    })
}

/// Storage settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageConfig {
    /// `sqlite` (default, embedded) or `postgres` (needs `postgres_url`).
    #[serde(serialize_with = "ser_backend")]
    pub backend: StorageBackend,
    /// Directory of the embedded database (default ./data).
    pub data_dir: PathBuf,
    /// How long events stay readable by stream consumers (default 30d).
    #[serde(serialize_with = "ser_duration")]
    pub event_retention: Duration,
    /// How often expired events are deleted (default 10m).
    #[serde(serialize_with = "ser_duration")]
    pub retention_sweep_interval: Duration,
    /// When a commit counts as durable (default full: fsync'd before any event is streamed).
    pub synchronous: crate::store::Synchronous,
}

/// API access and limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiConfig {
    /// Bearer tokens for reads and the stream; empty = reads need no token.
    pub read_tokens: Vec<Secret>,
    /// Bearer tokens for writes; empty = writes need no token.
    pub write_tokens: Vec<Secret>,
    /// Most trackers in one batch registration (default 10000, 1..=100000).
    pub max_batch: usize,
    /// Keep-alive interval on an idle event stream (default 15s).
    #[serde(serialize_with = "ser_duration")]
    pub stream_heartbeat: Duration,
    /// Largest `limit` a client may request on a page (default 10000).
    pub page_limit_max: usize,
    /// Largest request body accepted, in bytes (default 16 MiB; a 10000-tracker batch is ~5 MB).
    pub max_body_bytes: usize,
    /// Time allowed for a whole request except the endless event stream (default 30s).
    #[serde(serialize_with = "ser_duration")]
    pub request_timeout: Duration,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogConfig {
    /// Text for people, JSON for log shippers (default text).
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, already checked to parse (default "info").
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Carrier polling settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PollConfig {
    /// Delay between polls of a tracker, by its current status.
    pub intervals: PollIntervals,
    /// Random spread of each delay as a fraction of it (default 0.1, 0..=0.5).
    pub jitter: f64,
    /// How much later than the promised ETA a new one may be before `eta.slipped` (default 2h).
    #[serde(serialize_with = "ser_duration")]
    pub eta_slip_tolerance: Duration,
    /// A tracker without a new carrier event for this long expires (default 30d).
    #[serde(serialize_with = "ser_duration")]
    pub expire_after: Duration,
    /// Time to connect to a carrier API (default 3s).
    #[serde(serialize_with = "ser_duration")]
    pub connect_timeout: Duration,
    /// Time for one whole carrier request (default 10s).
    #[serde(serialize_with = "ser_duration")]
    pub request_timeout: Duration,
    /// Retries of a failed carrier request (default 3; zero = none).
    pub max_retries: u32,
    /// First retry delay, doubled per retry (default 500ms).
    #[serde(serialize_with = "ser_duration")]
    pub retry_base_delay: Duration,
    /// Cap on one retry delay, at least `retry_base_delay` (default 30s).
    #[serde(serialize_with = "ser_duration")]
    pub retry_max_delay: Duration,
    /// Requests in flight at once per carrier (default 8).
    pub max_in_flight: usize,
    /// Largest carrier answer body read, in bytes, so a huge or endless answer cannot
    /// exhaust memory (default 4 MiB, 1 KiB..=1 GiB).
    pub max_response_bytes: usize,
}

/// Poll delay for each non-terminal status; terminal statuses are not polled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PollIntervals {
    /// Registered, no carrier data yet (default 15m).
    #[serde(serialize_with = "ser_duration")]
    pub pending: Duration,
    /// Label created (default 2h).
    #[serde(serialize_with = "ser_duration")]
    pub info_received: Duration,
    /// Moving between facilities (default 1h).
    #[serde(serialize_with = "ser_duration")]
    pub in_transit: Duration,
    /// On the vehicle today (default 15m).
    #[serde(serialize_with = "ser_duration")]
    pub out_for_delivery: Duration,
    /// Waiting at a pickup point (default 2h).
    #[serde(serialize_with = "ser_duration")]
    pub available_for_pickup: Duration,
    /// A delivery attempt failed (default 30m).
    #[serde(serialize_with = "ser_duration")]
    pub attempt_failed: Duration,
    /// Held, damaged, customs, address problem (default 30m).
    #[serde(serialize_with = "ser_duration")]
    pub exception: Duration,
    /// On its way back to the sender (default 2h).
    #[serde(serialize_with = "ser_duration")]
    pub returning: Duration,
    /// A carrier code with no mapping (default 1h).
    #[serde(serialize_with = "ser_duration")]
    pub unknown: Duration,
    /// The carrier does not know the number (default 6h).
    #[serde(serialize_with = "ser_duration")]
    pub invalid: Duration,
}

impl PollIntervals {
    /// The `[poll.intervals]` keys, in the file's order (one per polled status).
    pub const KEYS: [&'static str; 10] = [
        "pending",
        "info_received",
        "in_transit",
        "out_for_delivery",
        "available_for_pickup",
        "attempt_failed",
        "exception",
        "returning",
        "unknown",
        "invalid",
    ];
}

/// Fleet mode (PostgreSQL backend): shard leases and shared quotas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetConfig {
    /// Shards trackers are spread over, fixed when the database is first used (default 256).
    pub shards: u32,
    /// How long a lease lasts without renewal (default 10s).
    #[serde(serialize_with = "ser_duration")]
    pub lease_ttl: Duration,
    /// How often leases are renewed and rebalanced (default 2s).
    #[serde(serialize_with = "ser_duration")]
    pub heartbeat: Duration,
    /// Redis for fleet-wide pacing (a secret: it may hold a password); `None`:
    /// each instance paces itself to its share (held shards / all shards).
    pub redis_url: Option<Secret>,
    /// Names this fleet's keys in Redis, so several fleets can share a server (default trackd).
    pub redis_prefix: String,
}

/// The NATS JetStream mirror of the event log (off unless `nats_url` is set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MirrorConfig {
    /// NATS server URL (a secret: it may hold credentials); `None`: no mirror.
    pub nats_url: Option<Secret>,
    /// JetStream stream name (default TRACKD_EVENTS), created if missing.
    pub stream: String,
    /// Subject the events are published on (default trackd.events).
    pub subject: String,
}

/// Webhook deliveries: where they may go, how long they are retried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhooksConfig {
    /// Whether this instance delivers webhooks at all (the API still manages endpoints).
    pub enabled: bool,
    /// Allows `http://` endpoint URLs; off by default so signatures and payloads never travel in clear.
    pub allow_http: bool,
    /// Networks endpoints may resolve into although they are not public (loopback, private, ...):
    /// a self-hosted daemon posting inside its own network says so here, deliberately.
    #[serde(serialize_with = "ser_displayed")]
    pub allow_networks: Vec<ipnet::IpNet>,
    /// Time allowed to open a connection to an endpoint.
    #[serde(serialize_with = "ser_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for one whole delivery attempt.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Delay before each retry of a failed delivery; after the last one it is marked failed.
    #[serde(serialize_with = "ser_durations")]
    pub retry_schedule: Vec<Duration>,
    /// Random spread of each retry delay, as a fraction of it (0..=0.5).
    pub retry_jitter: f64,
    /// An endpoint failing every attempt this long is reported (metric and delivery log).
    #[serde(serialize_with = "ser_duration")]
    pub failing_after: Duration,
    /// An endpoint failing every attempt this long is disabled.
    #[serde(serialize_with = "ser_duration")]
    pub disable_after: Duration,
    /// Deliveries in flight at once per endpoint.
    pub max_in_flight: usize,
    /// Events held in memory per endpoint before reading the log pauses.
    pub max_pending: usize,
    /// How long the previous key keeps signing after a rotation, unless the request says otherwise.
    #[serde(serialize_with = "ser_duration")]
    pub rotation_overlap: Duration,
}

/// What trackd infers from carriers' silence: stalled, forgotten and at-risk parcels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskConfig {
    /// Scan gap after which a parcel is stalled while too little history is known for its carrier and status.
    #[serde(serialize_with = "ser_duration")]
    pub stalled_after: Duration,
    /// Gaps a carrier and status must have shown before the learnt threshold replaces `stalled_after`.
    pub learn_min_samples: u32,
    /// Which share of observed gaps counts as usual (0.5..=0.999).
    pub learn_quantile: f64,
    /// The learnt threshold is that quantile times this margin (1.0..=10.0).
    pub learn_margin: f64,
    /// A label with no first scan for this long (business time) is forgotten.
    #[serde(serialize_with = "ser_duration")]
    pub forgotten_after: Duration,
    /// Days that do not count towards stalled and forgotten, in the carrier's zone.
    #[serde(serialize_with = "ser_weekdays")]
    pub weekend: Vec<chrono::Weekday>,
    /// The expected window ends within this and the parcel is not out for delivery: at risk.
    #[serde(serialize_with = "ser_duration")]
    pub out_for_delivery_lead: Duration,
}

fn ser_weekdays<S: serde::Serializer>(days: &[chrono::Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(days.iter().map(|d| weekday_name(*d)))
}

fn weekday_name(d: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match d {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

/// In-memory cache settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheConfig {
    /// Most tracker snapshots kept in memory (default 100000).
    pub snapshot_capacity: u64,
    /// How long a cached API answer may be served (default 30s).
    #[serde(serialize_with = "ser_duration")]
    pub answer_ttl: Duration,
}

/// One carrier's settings; `None` means the plugin's own default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarrierConfig {
    /// Whether the carrier is polled and accepts trackers (default true).
    pub enabled: bool,
    /// API root (sandbox, simulator); `None` = the plugin's production URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Client id, user name or API key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Secret>,
    /// Client secret, password or API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Account or customer number some carriers require beside the key
    /// (Australia Post `account-number`); handed to the plugin as `extra["account"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Secret>,
    /// Request rate cap; `None` = the plugin's documented quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_second: Option<u32>,
    /// Rolling-minute request cap; `None` = the plugin's documented quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    /// Rolling-hour request cap; `None` = the plugin's documented quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
    /// Daily request cap; `None` = the plugin's documented quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// Tracking numbers per request; `None` = the plugin's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

impl Default for CarrierConfig {
    /// Enabled, everything else from the plugin.
    fn default() -> Self {
        CarrierConfig {
            enabled: true,
            base_url: None,
            client_id: None,
            client_secret: None,
            account: None,
            per_second: None,
            per_minute: None,
            per_hour: None,
            per_day: None,
            batch_size: None,
        }
    }
}

/// A token or credential; Debug, Display and Serialize print `<redacted>` so it never reaches logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained elsewhere (tests, other sources).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for building requests and checking tokens; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with a presented token without stopping at the first differing byte.
    pub fn matches(&self, candidate: &str) -> bool {
        let (ours, theirs) = (self.0.as_bytes(), candidate.as_bytes());
        ours.len() == theirs.len()
            && ours.iter().zip(theirs).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(&other.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// One problem in the configuration, tied to the full key (or file, or variable) it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Dotted key (`poll.intervals.in_transit`), config file path, or environment variable name.
    pub key: String,
    /// What is wrong; never contains a secret's value.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every problem found, so `check-config` can list them all in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Loads defaults, then the file at `path` if any, then `TRACKD_*` overrides from `env`;
    /// `env` is also where `env:VAR` secrets are looked up, so tests need not touch the process.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let file = path.map(|path| {
            let source =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read config file: {e}"));
            (path.display().to_string(), source)
        });
        Self::load_layers(file, env.into_iter().collect())
    }

    /// Like `load` with the operator's file given as text: the same layering and
    /// checks without reading a config file, so fuzzing and tests can feed any text.
    pub fn load_str(
        source: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let file = Some(("<config>".to_owned(), Ok(source.to_owned())));
        Self::load_layers(file, env.into_iter().collect())
    }

    /// The layering itself: defaults, then `file` as (error key, text or read error), then `env`.
    fn load_layers(
        file: Option<(String, Result<String, String>)>,
        env: BTreeMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let mut table = parse_toml(DEFAULT_TOML).unwrap_or_else(|message| {
            errors.push(ConfigError::new("<embedded defaults>", message));
            Table::new()
        });
        if let Some((key, source)) = file {
            match source.and_then(|source| parse_toml(&source)) {
                Ok(overlay) => merge(&mut table, overlay),
                Err(message) => errors.push(ConfigError::new(key, message)),
            }
        }
        let origins = apply_env(&mut table, &env, &mut errors);
        let mut cx = Ctx {
            env: &env,
            origins: &origins,
            errors,
        };
        let config = read_config(&mut cx, &table);
        match config {
            Some(config) if cx.errors.is_empty() => Ok(config),
            _ => Err(ConfigErrors(cx.errors)),
        }
    }

    /// Loads with the process environment (non-UTF-8 values are kept lossily, not a panic).
    pub fn from_env_and_file(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let env = std::env::vars_os().map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        });
        Self::load(path, env)
    }

    /// The embedded defaults file, for `trackd` to print as a starting point.
    pub fn default_toml() -> &'static str {
        DEFAULT_TOML
    }
}

/// Parses TOML, turning a syntax error into one line with its position.
fn parse_toml(source: &str) -> Result<Table, String> {
    source.parse::<Table>().map_err(|e| {
        let message = e.message().trim_end();
        match e.span() {
            Some(span) => {
                let before = source.get(..span.start).unwrap_or(source);
                let line = before.matches('\n').count() + 1;
                let column = before
                    .rsplit('\n')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .count()
                    + 1;
                format!("TOML syntax error at line {line}, column {column}: {message}")
            }
            None => format!("TOML syntax error: {message}"),
        }
    })
}

/// Layers `overlay` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base)), Value::Table(overlay)) => merge(base, overlay),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Writes `TRACKD_A__B=v` into `table` as `a.b = "v"`; returns which variable set which key.
fn apply_env(
    table: &mut Table,
    env: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let mut origins = BTreeMap::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if !rest.contains(ENV_SEPARATOR) {
            continue;
        }
        let segments: Vec<String> = rest
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        if segments.iter().any(String::is_empty) {
            errors.push(ConfigError::new(
                var,
                "empty key segment (a double underscore separates keys)",
            ));
            continue;
        }
        match set_path(table, &segments, value) {
            Ok(()) => {
                origins.insert(segments.join("."), var.clone());
            }
            Err(message) => errors.push(ConfigError::new(var, message)),
        }
    }
    origins
}

/// Sets the string `value` at `segments`, creating tables on the way.
fn set_path(table: &mut Table, segments: &[String], value: &str) -> Result<(), String> {
    let Some((last, parents)) = segments.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "cannot set {}: {} is a {}, not a table",
                    segments.join("."),
                    segments[..=depth].join("."),
                    other.type_str()
                ));
            }
        };
    }
    current.insert(last.clone(), Value::String(value.to_owned()));
    Ok(())
}

/// State shared by the whole read: where values came from, and the errors so far.
struct Ctx<'a> {
    /// The environment, for `env:VAR` secrets.
    env: &'a BTreeMap<String, String>,
    /// Dotted key -> the variable that set it; such values are strings parsed as the key's type.
    origins: &'a BTreeMap<String, String>,
    errors: Vec<ConfigError>,
}

/// A raw value: native TOML, or an environment string still to be parsed as the key's type.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Toml(&'a Value),
    Env(&'a str),
}

/// One table being read: records the keys asked for, and errors under the table's path.
struct Section<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    path: String,
    table: &'a Table,
    used: BTreeSet<String>,
}

impl<'a> Section<'_, 'a> {
    fn key(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Records an error at `name`, naming the variable that set it, if any.
    fn error(&mut self, name: &str, message: impl Into<String>) {
        let key = self.key(name);
        let mut message = message.into();
        let origin = self.cx.origins.iter().find(|(k, _)| {
            k.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        });
        if let Some((_, var)) = origin {
            message = format!("{message} (set by {var})");
        }
        self.cx.errors.push(ConfigError { key, message });
    }

    fn lookup(&mut self, name: &str) -> Option<Raw<'a>> {
        self.used.insert(name.to_owned());
        let table: &'a Table = self.table;
        let value = table.get(name)?;
        Some(match value {
            Value::String(s) if self.cx.origins.contains_key(&self.key(name)) => Raw::Env(s),
            value => Raw::Toml(value),
        })
    }

    /// Reads a required key with `convert`; `None` once the error is recorded.
    fn get<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(Raw<'a>) -> Result<T, String>,
    ) -> Option<T> {
        match self.lookup(name) {
            Some(raw) => convert(raw)
                .map_err(|message| self.error(name, message))
                .ok(),
            None => {
                self.error(name, "missing");
                None
            }
        }
    }

    /// Reads an optional key; absent, or empty from the environment, is `Some(None)`.
    fn get_opt<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(Raw<'a>) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.lookup(name) {
            None | Some(Raw::Env("")) => Some(None),
            Some(raw) => convert(raw)
                .map(Some)
                .map_err(|message| self.error(name, message))
                .ok(),
        }
    }

    /// Reads the sub-table `name` with `read`, then reports its unknown keys.
    fn section<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Section<'_, 'a>) -> Option<T>,
    ) -> Option<T> {
        self.used.insert(name.to_owned());
        let table: &'a Table = self.table;
        match table.get(name) {
            Some(Value::Table(table)) => {
                let path = self.key(name);
                let mut child = Section {
                    cx: &mut *self.cx,
                    path,
                    table,
                    used: BTreeSet::new(),
                };
                let value = read(&mut child);
                child.finish();
                value
            }
            Some(other) => {
                self.error(
                    name,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
            None => {
                self.error(name, "missing table");
                None
            }
        }
    }

    /// Reports every key of the table that nobody asked for (typos, removed keys).
    fn finish(mut self) {
        let table: &'a Table = self.table;
        let unknown: Vec<&String> = table.keys().filter(|k| !self.used.contains(*k)).collect();
        for name in unknown {
            let hint = self.used.iter().find(|known| looks_like(name, known));
            let message = match hint {
                Some(known) => format!("unknown key (did you mean {known}?)"),
                None => "unknown key".to_owned(),
            };
            self.error(name, message);
        }
    }
}

/// Whether an unknown key is probably a typo of `known`: contained in it, or within two edits.
fn looks_like(unknown: &str, known: &str) -> bool {
    let long_enough = unknown.len() >= 4 && known.len() >= 4;
    if long_enough && (known.contains(unknown) || unknown.contains(known)) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (unknown.chars().collect(), known.chars().collect());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()] <= 2
}

fn read_config<'a>(cx: &mut Ctx<'a>, root: &'a Table) -> Option<Config> {
    let mut s = Section {
        cx,
        path: String::new(),
        table: root,
        used: BTreeSet::new(),
    };
    let server = s.section("server", |s| {
        let listen = s.get("listen", socket_addr);
        let shutdown_grace = s.get("shutdown_grace", duration);
        Some(ServerConfig {
            listen: listen?,
            shutdown_grace: shutdown_grace?,
        })
    });
    let storage = s.section("storage", |s| {
        let data_dir = s.get("data_dir", |r| non_empty(r).map(PathBuf::from));
        let event_retention = s.get("event_retention", positive_duration);
        let retention_sweep_interval = s.get("retention_sweep_interval", positive_duration);
        let synchronous = s.get("synchronous", synchronous);
        let env = s.cx.env;
        let postgres_url = s.get_opt("postgres_url", |r| secret(r, env));
        let backend = s.get("backend", |r| {
            let name = text(r)?;
            match name.trim().to_ascii_lowercase().as_str() {
                "sqlite" => Ok(None),
                "postgres" | "postgresql" => Ok(Some(())),
                _ => Err(format!("expected \"sqlite\" or \"postgres\", found {name:?}")),
            }
        });
        let backend = match (backend?, postgres_url?) {
            (None, _) => StorageBackend::Sqlite,
            (Some(()), Some(url)) => StorageBackend::Postgres { url },
            (Some(()), None) => {
                s.error(
                    "postgres_url",
                    "missing: backend = \"postgres\" needs a connection URL (postgres://user@host:port/db, or env:VAR / file:/path)",
                );
                return None;
            }
        };
        Some(StorageConfig {
            backend,
            data_dir: data_dir?,
            event_retention: event_retention?,
            retention_sweep_interval: retention_sweep_interval?,
            synchronous: synchronous?,
        })
    });
    let api = s.section("api", |s| {
        let env = s.cx.env;
        let read_tokens = s.get("read_tokens", |r| list(r, |item| secret(item, env)));
        let write_tokens = s.get("write_tokens", |r| list(r, |item| secret(item, env)));
        let max_batch = s.get("max_batch", |r| int_in(r, 1..=100_000));
        let stream_heartbeat = s.get("stream_heartbeat", positive_duration);
        let page_limit_max = s.get("page_limit_max", |r| int_in(r, 1..=i64::MAX));
        let max_body_bytes = s.get("max_body_bytes", |r| int_in(r, 1024..=1 << 30));
        let request_timeout = s.get("request_timeout", positive_duration);
        Some(ApiConfig {
            read_tokens: read_tokens?,
            write_tokens: write_tokens?,
            max_batch: max_batch?,
            stream_heartbeat: stream_heartbeat?,
            page_limit_max: page_limit_max?,
            max_body_bytes: max_body_bytes?,
            request_timeout: request_timeout?,
        })
    });
    let log = s.section("log", |s| {
        let format = s.get("format", log_format);
        let level = s.get("level", log_level);
        Some(LogConfig {
            format: format?,
            level: level?,
        })
    });
    let poll = s.section("poll", read_poll);
    let sole = matches!(
        storage.as_ref().map(|st| &st.backend),
        Some(StorageBackend::Sqlite)
    );
    let fleet = s.section("fleet", |s| {
        let shards = s.get("shards", |r| int_in(r, 1..=65_536));
        let lease_ttl = s.get("lease_ttl", positive_duration);
        let heartbeat = s.get("heartbeat", positive_duration);
        let env = s.cx.env;
        let redis_url = s.get_opt("redis_url", |r| secret(r, env));
        let redis_prefix = s.get("redis_prefix", |r| {
            let p = non_empty(r)?;
            if p.contains(['{', '}', ' ']) {
                Err(format!("letters, digits and punctuation other than braces, found {p:?}"))
            } else {
                Ok(p)
            }
        });
        if sole && matches!(redis_url, Some(Some(_))) {
            s.error(
                "redis_url",
                "only used in fleet mode: set storage.backend = \"postgres\" (one instance paces itself)",
            );
            return None;
        }
        let (lease_ttl, heartbeat) = (lease_ttl?, heartbeat?);
        if heartbeat.saturating_mul(3) > lease_ttl {
            s.error(
                "heartbeat",
                format!(
                    "must be at most a third of fleet.lease_ttl ({lease_ttl:?}), so a lease is renewed before it lapses"
                ),
            );
            return None;
        }
        Some(FleetConfig {
            shards: shards?,
            lease_ttl,
            heartbeat,
            redis_url: redis_url?,
            redis_prefix: redis_prefix?,
        })
    });
    let mirror = s.section("mirror", |s| {
        let env = s.cx.env;
        let nats_url = s.get_opt("nats_url", |r| secret(r, env));
        let stream = s.get("stream", |r| {
            let name = non_empty(r)?;
            if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                Ok(name)
            } else {
                Err(format!(
                    "a JetStream stream name is letters, digits, '_' and '-' only, found {name:?}"
                ))
            }
        });
        let subject = s.get("subject", |r| {
            let subject = non_empty(r)?;
            if subject.contains(['*', '>', ' ']) {
                Err(format!(
                    "a concrete subject is needed (no wildcards or spaces), found {subject:?}"
                ))
            } else {
                Ok(subject)
            }
        });
        Some(MirrorConfig {
            nats_url: nats_url?,
            stream: stream?,
            subject: subject?,
        })
    });
    let cache = s.section("cache", |s| {
        let snapshot_capacity = s.get("snapshot_capacity", |r| int_in(r, 1..=i64::MAX));
        let answer_ttl = s.get("answer_ttl", positive_duration);
        Some(CacheConfig {
            snapshot_capacity: snapshot_capacity?,
            answer_ttl: answer_ttl?,
        })
    });
    let webhooks = s.section("webhooks", read_webhooks);
    let risk = s.section("risk", read_risk);
    let carriers = s.section("carriers", |s| {
        let table: &Table = s.table;
        let mut carriers = BTreeMap::new();
        let mut complete = true;
        for slug in table.keys() {
            match s.section(slug, read_carrier) {
                Some(carrier) => {
                    carriers.insert(slug.clone(), carrier);
                }
                None => complete = false,
            }
        }
        complete.then_some(carriers)
    });
    s.finish();
    Some(Config {
        server: server?,
        storage: storage?,
        api: api?,
        log: log?,
        poll: poll?,
        fleet: fleet?,
        mirror: mirror?,
        cache: cache?,
        webhooks: webhooks?,
        risk: risk?,
        carriers: carriers?,
    })
}

fn read_risk(s: &mut Section<'_, '_>) -> Option<RiskConfig> {
    use chrono::Weekday::*;
    let stalled_after = s.get("stalled_after", positive_duration);
    let learn_min_samples = s.get("learn_min_samples", |r| int_in(r, 1..=1_000_000));
    let learn_quantile = s.get("learn_quantile", |r| float_in(r, 0.5..=0.999));
    let learn_margin = s.get("learn_margin", |r| float_in(r, 1.0..=10.0));
    let forgotten_after = s.get("forgotten_after", positive_duration);
    let weekend = s.get("weekend", |r| {
        let days = list(r, |item| {
            let name = text(item)?;
            [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
                .into_iter()
                .find(|d| weekday_name(*d).eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    format!("a day as mon, tue, wed, thu, fri, sat or sun, found {name:?}")
                })
        })?;
        if days.len() >= 7 {
            Err("at least one day of the week must count as a business day".to_string())
        } else {
            Ok(days)
        }
    });
    let out_for_delivery_lead = s.get("out_for_delivery_lead", duration);
    Some(RiskConfig {
        stalled_after: stalled_after?,
        learn_min_samples: learn_min_samples?,
        learn_quantile: learn_quantile?,
        learn_margin: learn_margin?,
        forgotten_after: forgotten_after?,
        weekend: weekend?,
        out_for_delivery_lead: out_for_delivery_lead?,
    })
}

fn read_webhooks(s: &mut Section<'_, '_>) -> Option<WebhooksConfig> {
    let enabled = s.get("enabled", boolean);
    let allow_http = s.get("allow_http", boolean);
    let allow_networks = s.get("allow_networks", |r| {
        list(r, |item| {
            let text = text(item)?;
            text.trim()
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("a network in CIDR form (\"10.0.0.0/8\", \"fd00::/8\") or an address, found {text:?}"))
        })
    });
    let connect_timeout = s.get("connect_timeout", positive_duration);
    let timeout = s.get("timeout", positive_duration);
    let retry_schedule = s.get("retry_schedule", |r| list(r, positive_duration));
    let retry_jitter = s.get("retry_jitter", |r| float_in(r, 0.0..=0.5));
    let failing_after = s.get("failing_after", positive_duration);
    let disable_after = s.get("disable_after", positive_duration);
    let max_in_flight = s.get("max_in_flight", |r| int_in(r, 1..=1024));
    let max_pending = s.get("max_pending", |r| int_in(r, 16..=10_000_000));
    let rotation_overlap = s.get("rotation_overlap", duration);
    let (failing_after, disable_after) = (failing_after?, disable_after?);
    if disable_after < failing_after {
        s.error(
            "disable_after",
            format!("must be at least webhooks.failing_after ({}): an endpoint is reported failing before it is disabled", humantime::format_duration(failing_after)),
        );
        return None;
    }
    Some(WebhooksConfig {
        enabled: enabled?,
        allow_http: allow_http?,
        allow_networks: allow_networks?,
        connect_timeout: connect_timeout?,
        timeout: timeout?,
        retry_schedule: retry_schedule?,
        retry_jitter: retry_jitter?,
        failing_after,
        disable_after,
        max_in_flight: max_in_flight?,
        max_pending: max_pending?,
        rotation_overlap: rotation_overlap?,
    })
}

fn read_poll(s: &mut Section<'_, '_>) -> Option<PollConfig> {
    let intervals = s.section("intervals", |s| {
        // Read every key before combining, so one bad value does not hide the others.
        let [
            pending,
            info_received,
            in_transit,
            out_for_delivery,
            available_for_pickup,
            attempt_failed,
            exception,
            returning,
            unknown,
            invalid,
        ] = PollIntervals::KEYS.map(|name| s.get(name, positive_duration));
        Some(PollIntervals {
            pending: pending?,
            info_received: info_received?,
            in_transit: in_transit?,
            out_for_delivery: out_for_delivery?,
            available_for_pickup: available_for_pickup?,
            attempt_failed: attempt_failed?,
            exception: exception?,
            returning: returning?,
            unknown: unknown?,
            invalid: invalid?,
        })
    });
    let jitter = s.get("jitter", |r| float_in(r, 0.0..=0.5));
    let eta_slip_tolerance = s.get("eta_slip_tolerance", duration);
    let expire_after = s.get("expire_after", positive_duration);
    let connect_timeout = s.get("connect_timeout", positive_duration);
    let request_timeout = s.get("request_timeout", positive_duration);
    let max_retries = s.get("max_retries", |r| int_in(r, 0..=i64::from(u32::MAX)));
    let retry_base_delay = s.get("retry_base_delay", positive_duration);
    let mut retry_max_delay = s.get("retry_max_delay", positive_duration);
    if let Some(base) =
        retry_base_delay.filter(|base| retry_max_delay.is_some_and(|max| max < *base))
    {
        let base = humantime::format_duration(base);
        s.error(
            "retry_max_delay",
            format!("must be >= retry_base_delay ({base})"),
        );
        retry_max_delay = None;
    }
    let max_in_flight = s.get("max_in_flight", |r| int_in(r, 1..=i64::MAX));
    let max_response_bytes = s.get("max_response_bytes", |r| int_in(r, 1024..=1 << 30));
    Some(PollConfig {
        intervals: intervals?,
        jitter: jitter?,
        eta_slip_tolerance: eta_slip_tolerance?,
        expire_after: expire_after?,
        connect_timeout: connect_timeout?,
        request_timeout: request_timeout?,
        max_retries: max_retries?,
        retry_base_delay: retry_base_delay?,
        retry_max_delay: retry_max_delay?,
        max_in_flight: max_in_flight?,
        max_response_bytes: max_response_bytes?,
    })
}

fn read_carrier(s: &mut Section<'_, '_>) -> Option<CarrierConfig> {
    let env = s.cx.env;
    let enabled = s.get_opt("enabled", boolean);
    let base_url = s.get_opt("base_url", http_url);
    let client_id = s.get_opt("client_id", |r| secret(r, env));
    let client_secret = s.get_opt("client_secret", |r| secret(r, env));
    let account = s.get_opt("account", |r| secret(r, env));
    let per_second = s.get_opt("per_second", |r| int_in(r, 1..=i64::from(u32::MAX)));
    let per_minute = s.get_opt("per_minute", |r| int_in(r, 1..=i64::from(u32::MAX)));
    let per_hour = s.get_opt("per_hour", |r| int_in(r, 1..=i64::from(u32::MAX)));
    let per_day = s.get_opt("per_day", |r| int_in(r, 1..=i64::from(u32::MAX)));
    let batch_size = s.get_opt("batch_size", |r| int_in(r, 1..=i64::MAX));
    Some(CarrierConfig {
        enabled: enabled?.unwrap_or(true),
        base_url: base_url?,
        client_id: client_id?,
        client_secret: client_secret?,
        account: account?,
        per_second: per_second?,
        per_minute: per_minute?,
        per_hour: per_hour?,
        per_day: per_day?,
        batch_size: batch_size?,
    })
}

fn expected(what: &str, found: &Value) -> String {
    format!("expected {what}, found {}", found.type_str())
}

fn text(raw: Raw<'_>) -> Result<&str, String> {
    match raw {
        Raw::Env(s) => Ok(s),
        Raw::Toml(Value::String(s)) => Ok(s),
        Raw::Toml(other) => Err(expected("a string", other)),
    }
}

fn non_empty(raw: Raw<'_>) -> Result<String, String> {
    match text(raw)?.trim() {
        "" => Err("must not be empty".to_owned()),
        s => Ok(s.to_owned()),
    }
}

fn boolean(raw: Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Toml(Value::Boolean(b)) => Ok(*b),
        Raw::Env(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Raw::Env(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Raw::Env(s) => Err(format!("invalid boolean {s:?}: expected true or false")),
        Raw::Toml(other) => Err(expected("a boolean", other)),
    }
}

/// An integer within `range`, converted to the field's type.
fn int_in<T: TryFrom<i64>>(raw: Raw<'_>, range: RangeInclusive<i64>) -> Result<T, String> {
    let n = match raw {
        Raw::Toml(Value::Integer(n)) => *n,
        Raw::Env(s) => s
            .trim()
            .parse()
            .map_err(|e| format!("invalid integer {s:?}: {e}"))?,
        Raw::Toml(other) => return Err(expected("an integer", other)),
    };
    if n < *range.start() {
        return Err(match range.start() {
            1 => format!("must be > 0 (got {n})"),
            min => format!("must be >= {min} (got {n})"),
        });
    }
    if n > *range.end() {
        return Err(format!("must be <= {} (got {n})", range.end()));
    }
    T::try_from(n).map_err(|_| format!("out of range (got {n})"))
}

fn float_in(raw: Raw<'_>, range: RangeInclusive<f64>) -> Result<f64, String> {
    let x = match raw {
        Raw::Toml(Value::Float(x)) => *x,
        Raw::Toml(Value::Integer(n)) => *n as f64,
        Raw::Env(s) => s
            .trim()
            .parse()
            .map_err(|e| format!("invalid number {s:?}: {e}"))?,
        Raw::Toml(other) => return Err(expected("a number", other)),
    };
    if range.contains(&x) {
        Ok(x)
    } else {
        Err(format!(
            "must be between {} and {} (got {x})",
            range.start(),
            range.end()
        ))
    }
}

fn duration(raw: Raw<'_>) -> Result<Duration, String> {
    let s = match raw {
        Raw::Toml(other) if !other.is_str() => {
            return Err(expected("a duration string such as \"15m\"", other));
        }
        raw => text(raw)?,
    };
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn positive_duration(raw: Raw<'_>) -> Result<Duration, String> {
    match duration(raw)? {
        Duration::ZERO => Err("must be > 0".to_owned()),
        d => Ok(d),
    }
}

fn socket_addr(raw: Raw<'_>) -> Result<SocketAddr, String> {
    let s = text(raw)?;
    s.trim().parse().map_err(|e| {
        format!("invalid socket address {s:?} (expected IP:port such as 0.0.0.0:8080): {e}")
    })
}

fn log_format(raw: Raw<'_>) -> Result<LogFormat, String> {
    let s = text(raw)?;
    match s.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "invalid log format {s:?}: expected \"text\" or \"json\""
        )),
    }
}

fn synchronous(raw: Raw<'_>) -> Result<crate::store::Synchronous, String> {
    let s = text(raw)?;
    crate::store::Synchronous::parse(s)
        .ok_or_else(|| format!("invalid synchronous mode {s:?}: expected \"full\" or \"normal\""))
}

fn log_level(raw: Raw<'_>) -> Result<String, String> {
    let level = non_empty(raw)?;
    match tracing_subscriber::EnvFilter::try_new(&level) {
        Ok(_) => Ok(level),
        Err(e) => Err(format!("invalid filter directive {level:?}: {e}")),
    }
}

/// An `http://` or `https://` URL with a non-empty host and, if given, a valid port.
fn http_url(raw: Raw<'_>) -> Result<String, String> {
    let url = text(raw)?.trim();
    let invalid = |why: &str| format!("invalid URL {url:?}: {why}");
    let scheme_len = ["http://", "https://"]
        .iter()
        .find(|scheme| {
            url.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        })
        .map(|scheme| scheme.len())
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    if url.chars().any(char::is_whitespace) {
        return Err(invalid("contains whitespace"));
    }
    let authority = url[scheme_len..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host_port)| host_port);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(invalid("unexpected text after the IPv6 address")),
            },
            None => return Err(invalid("unclosed '[' in the host")),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(invalid("has no host"));
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(invalid("the port must be a number from 0 to 65535"));
    }
    Ok(url.to_owned())
}

/// A secret given literally, as `env:VAR`, or as `file:/path` (trimmed); errors never show it.
fn secret(raw: Raw<'_>, env: &BTreeMap<String, String>) -> Result<Secret, String> {
    let spec = text(raw)?;
    let (value, source) = if let Some(var) = spec.strip_prefix("env:") {
        let var = var.trim();
        let value = env
            .get(var)
            .ok_or_else(|| format!("environment variable {var} is not set"))?;
        (value.clone(), format!("environment variable {var}"))
    } else if let Some(path) = spec.strip_prefix("file:") {
        let path = path.trim();
        let value = read_secret_file(path)?;
        (value.trim().to_owned(), format!("secret file {path}"))
    } else {
        (spec.to_owned(), "the secret".to_owned())
    };
    if value.is_empty() {
        return Err(format!("{source} is empty"));
    }
    Ok(Secret(value))
}

/// Largest secret file read: a token or key is a few KiB at most, and a
/// mistaken `file:/dev/zero` must fail rather than hang or fill memory.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

fn read_secret_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read secret file {path}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read secret file {path}: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "secret file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("secret file {path} is not UTF-8 text"))
}

/// A TOML array, or a comma-separated environment value, each item read with `item`.
fn list<'a, T>(
    raw: Raw<'a>,
    mut item: impl FnMut(Raw<'a>) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let raws: Vec<Raw<'a>> = match raw {
        Raw::Env(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Raw::Env)
            .collect(),
        Raw::Toml(Value::Array(items)) => items.iter().map(Raw::Toml).collect(),
        Raw::Toml(other) => return Err(expected("an array", other)),
    };
    let mut values = Vec::with_capacity(raws.len());
    let mut errors = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        match item(raw) {
            Ok(value) => values.push(value),
            Err(e) => errors.push(format!("item {i}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors.join("; "))
    }
}

fn ser_durations<S: Serializer>(durations: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(
        durations
            .iter()
            .map(|d| humantime::format_duration(*d).to_string()),
    )
}

fn ser_displayed<S: Serializer, T: fmt::Display>(
    items: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(items.iter().map(ToString::to_string))
}

fn ser_duration<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_str(toml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(toml.as_bytes()).expect("write temp file");
        Config::load(Some(file.path()), env(pairs))
    }

    fn errors_of(result: Result<Config, ConfigErrors>) -> Vec<ConfigError> {
        match result {
            Ok(config) => panic!("expected errors, got {config:#?}"),
            Err(ConfigErrors(errors)) => errors,
        }
    }

    fn message_for<'e>(errors: &'e [ConfigError], key: &str) -> &'e str {
        match errors.iter().find(|e| e.key == key) {
            Some(e) => &e.message,
            None => panic!("no error for {key} in {errors:#?}"),
        }
    }

    #[test]
    fn storage_synchronous_takes_full_or_normal() {
        let cfg = load_str("[storage]\nsynchronous = \"NORMAL\"\n", &[]).expect("loads");
        assert_eq!(cfg.storage.synchronous, crate::store::Synchronous::Normal);
        let errors = errors_of(load_str("[storage]\nsynchronous = \"off\"\n", &[]));
        assert_eq!(
            message_for(&errors, "storage.synchronous"),
            "invalid synchronous mode \"off\": expected \"full\" or \"normal\""
        );
    }

    #[test]
    fn storage_backend_postgres_needs_a_url_and_keeps_it_secret() {
        let errors = errors_of(load_str("[storage]\nbackend = \"postgres\"\n", &[]));
        assert!(
            message_for(&errors, "storage.postgres_url").starts_with("missing"),
            "{errors:?}"
        );
        let errors = errors_of(load_str("[storage]\nbackend = \"mysql\"\n", &[]));
        assert_eq!(
            message_for(&errors, "storage.backend"),
            "expected \"sqlite\" or \"postgres\", found \"mysql\""
        );
        let cfg = load_str(
            "[storage]\nbackend = \"postgres\"\npostgres_url = \"env:PGURL\"\n",
            &[("PGURL", "postgres://trackd:hunter2@127.0.0.1/trackd")],
        )
        .expect("loads");
        match &cfg.storage.backend {
            StorageBackend::Postgres { url } => {
                assert_eq!(url.expose(), "postgres://trackd:hunter2@127.0.0.1/trackd");
            }
            other => panic!("expected postgres, got {other:?}"),
        }
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let cfg = load_str("[storage]\nbackend = \"sqlite\"\n", &[]).expect("loads");
        assert_eq!(cfg.storage.backend, StorageBackend::Sqlite);
    }

    #[test]
    fn fleet_heartbeat_must_renew_a_lease_before_it_lapses() {
        let errors = errors_of(load_str(
            "[fleet]\nlease_ttl = \"5s\"\nheartbeat = \"2s\"\n",
            &[],
        ));
        assert!(
            message_for(&errors, "fleet.heartbeat").starts_with("must be at most a third"),
            "{errors:?}"
        );
        let errors = errors_of(load_str("[fleet]\nshards = 0\n", &[]));
        assert!(
            !message_for(&errors, "fleet.shards").is_empty(),
            "{errors:?}"
        );
        let cfg = load_str(
            "[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://db/trackd\"\n\
             [fleet]\nshards = 16\nlease_ttl = \"3s\"\nheartbeat = \"1s\"\n\
             redis_url = \"env:REDIS\"\nredis_prefix = \"eu\"\n",
            &[("REDIS", "redis://:pw@127.0.0.1:6379/0")],
        )
        .expect("loads");
        assert_eq!(cfg.fleet.shards, 16);
        assert_eq!(
            cfg.fleet.redis_url.as_ref().map(|u| u.expose()),
            Some("redis://:pw@127.0.0.1:6379/0")
        );
        assert_eq!(cfg.fleet.redis_prefix, "eu");
        assert!(defaults().fleet.redis_url.is_none(), "no Redis by default");
        let errors = errors_of(load_str(
            "[fleet]\nredis_url = \"redis://127.0.0.1:6379\"\n",
            &[],
        ));
        assert!(
            message_for(&errors, "fleet.redis_url").starts_with("only used in fleet mode"),
            "{errors:?}"
        );
    }

    #[test]
    fn mirror_needs_a_plain_stream_name_and_a_concrete_subject() {
        let errors = errors_of(load_str(
            "[mirror]\nnats_url = \"nats://127.0.0.1:4222\"\nstream = \"a.b\"\nsubject = \"trackd.>\"\n",
            &[],
        ));
        assert!(
            message_for(&errors, "mirror.stream").starts_with("a JetStream stream name"),
            "{errors:?}"
        );
        assert!(
            message_for(&errors, "mirror.subject").starts_with("a concrete subject"),
            "{errors:?}"
        );
        let cfg = load_str(
            "[mirror]\nnats_url = \"env:NATS\"\n",
            &[("NATS", "nats://user:hunter2@127.0.0.1:4222")],
        )
        .expect("loads");
        assert_eq!(
            cfg.mirror.nats_url.as_ref().map(|u| u.expose()),
            Some("nats://user:hunter2@127.0.0.1:4222")
        );
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(defaults().mirror.nats_url.is_none(), "no mirror by default");
    }

    fn defaults() -> Config {
        Config::load(None, Vec::new()).expect("defaults load")
    }

    const fn mins(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    const fn hours(n: u64) -> Duration {
        Duration::from_secs(n * 3600)
    }

    #[test]
    fn defaults_equal_the_documented_values() {
        let carrier = CarrierConfig::default();
        let expected = Config {
            server: ServerConfig {
                listen: "127.0.0.1:8080".parse().expect("addr"),
                shutdown_grace: Duration::from_secs(10),
            },
            storage: StorageConfig {
                backend: StorageBackend::Sqlite,
                data_dir: PathBuf::from("./data"),
                event_retention: hours(30 * 24),
                retention_sweep_interval: mins(10),
                synchronous: crate::store::Synchronous::Full,
            },
            api: ApiConfig {
                read_tokens: vec![],
                write_tokens: vec![],
                max_batch: 10_000,
                stream_heartbeat: Duration::from_secs(15),
                page_limit_max: 10_000,
                max_body_bytes: 16 * 1024 * 1024,
                request_timeout: Duration::from_secs(30),
            },
            log: LogConfig {
                format: LogFormat::Text,
                level: "info".into(),
            },
            poll: PollConfig {
                intervals: PollIntervals {
                    pending: mins(15),
                    info_received: hours(2),
                    in_transit: hours(1),
                    out_for_delivery: mins(15),
                    available_for_pickup: hours(2),
                    attempt_failed: mins(30),
                    exception: mins(30),
                    returning: hours(2),
                    unknown: hours(1),
                    invalid: hours(6),
                },
                jitter: 0.1,
                eta_slip_tolerance: hours(2),
                expire_after: hours(30 * 24),
                connect_timeout: Duration::from_secs(3),
                request_timeout: Duration::from_secs(10),
                max_retries: 3,
                retry_base_delay: Duration::from_millis(500),
                retry_max_delay: Duration::from_secs(30),
                max_in_flight: 8,
                max_response_bytes: 4 * 1024 * 1024,
            },
            fleet: FleetConfig {
                shards: 256,
                lease_ttl: Duration::from_secs(10),
                heartbeat: Duration::from_secs(2),
                redis_url: None,
                redis_prefix: "trackd".into(),
            },
            mirror: MirrorConfig {
                nats_url: None,
                stream: "TRACKD_EVENTS".into(),
                subject: "trackd.events".into(),
            },
            cache: CacheConfig {
                snapshot_capacity: 100_000,
                answer_ttl: Duration::from_secs(30),
            },
            webhooks: WebhooksConfig {
                enabled: true,
                allow_http: false,
                allow_networks: vec![],
                connect_timeout: Duration::from_secs(5),
                timeout: Duration::from_secs(15),
                retry_schedule: [
                    "5s", "5m", "30m", "2h", "5h", "10h", "10h", "12h", "12h", "12h", "12h",
                ]
                .map(|d| humantime::parse_duration(d).unwrap())
                .to_vec(),
                retry_jitter: 0.2,
                failing_after: Duration::from_secs(86_400),
                disable_after: Duration::from_secs(5 * 86_400),
                max_in_flight: 16,
                max_pending: 10_000,
                rotation_overlap: Duration::from_secs(86_400),
            },
            risk: RiskConfig {
                stalled_after: Duration::from_secs(2 * 86_400),
                learn_min_samples: 50,
                learn_quantile: 0.95,
                learn_margin: 1.5,
                forgotten_after: Duration::from_secs(3 * 86_400),
                weekend: vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
                out_for_delivery_lead: Duration::from_secs(6 * 3600),
            },
            // Every built-in carrier has a table, enabled, with plugin defaults.
            carriers: crate::carriers::builtin()
                .iter()
                .map(|c| (c.descriptor().slug.to_string(), carrier.clone()))
                .collect(),
        };
        assert_eq!(defaults(), expected);
    }

    #[test]
    fn every_default_key_is_consumed_and_commented() {
        // Loading the defaults alone reports no unknown key, so every key in the file is read.
        defaults();
        let lines: Vec<&str> = Config::default_toml().lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains(" = ") && !line.starts_with('#') {
                let previous = i.checked_sub(1).map(|p| lines[p]).unwrap_or_default();
                assert!(
                    previous.starts_with('#'),
                    "key without a comment line above it: {line}"
                );
            }
        }
    }

    #[test]
    fn commented_carrier_examples_are_valid_keys() {
        let uncommented: String = Config::default_toml()
            .lines()
            .map(|line| {
                let key = line.strip_prefix("# ").filter(|rest| {
                    [
                        "base_url",
                        "client_id",
                        "client_secret",
                        "account",
                        "per_second",
                        "per_minute",
                        "per_hour",
                        "per_day",
                        "batch_size",
                    ]
                    .iter()
                    .any(|k| rest.starts_with(&format!("{k} = ")))
                });
                format!("{}\n", key.unwrap_or(line))
            })
            .collect();
        assert_ne!(
            uncommented,
            Config::default_toml(),
            "the examples should be commented out"
        );
        let mut vars: Vec<(String, String)> = vec![
            ("UPS_CLIENT_ID".into(), "id".into()),
            ("UPS_CLIENT_SECRET".into(), "s3cret".into()),
            ("CANADAPOST_USERNAME".into(), "user".into()),
            ("CANADAPOST_PASSWORD".into(), "pass".into()),
        ];
        // Every other `env:VAR` the examples name gets a value too.
        for part in uncommented.split("\"env:").skip(1) {
            let var = part.split('"').next().unwrap_or_default().to_string();
            if !vars.iter().any(|(k, _)| *k == var) {
                vars.push((var, "x".into()));
            }
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = load_str(&uncommented, &vars).expect("examples load");
        let ups = &config.carriers["ups"];
        assert_eq!(ups.base_url.as_deref(), Some("http://127.0.0.1:8090/ups"));
        assert_eq!(
            ups.client_secret.as_ref().map(Secret::expose),
            Some("s3cret")
        );
        assert_eq!(ups.per_second, Some(5));
        assert_eq!(
            config.carriers["canadapost"]
                .client_id
                .as_ref()
                .map(Secret::expose),
            Some("user")
        );
    }

    #[test]
    fn file_overrides_defaults_key_by_key() {
        let config = load_str(
            r#"
            [server]
            listen = "0.0.0.0:9000"
            [poll]
            jitter = 0
            [poll.intervals]
            in_transit = "30m"
            [log]
            format = "json"
            [carriers.ups]
            enabled = false
            per_day = 1000
            [carriers.dhl]
            base_url = "https://sim.example:8443/dhl"
            "#,
            &[],
        )
        .expect("loads");
        let defaults = defaults();
        assert_eq!(config.server.listen, "0.0.0.0:9000".parse().expect("addr"));
        assert_eq!(config.server.shutdown_grace, defaults.server.shutdown_grace);
        assert_eq!(config.poll.jitter, 0.0);
        assert_eq!(config.poll.intervals.in_transit, mins(30));
        assert_eq!(
            config.poll.intervals.pending,
            defaults.poll.intervals.pending
        );
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(!config.carriers["ups"].enabled);
        assert_eq!(config.carriers["ups"].per_day, Some(1000));
        assert!(config.carriers["canadapost"].enabled);
        assert!(
            config.carriers["dhl"].enabled,
            "a carrier table without `enabled` is enabled"
        );
        assert_eq!(
            config.carriers["dhl"].base_url.as_deref(),
            Some("https://sim.example:8443/dhl")
        );
    }

    #[test]
    fn env_overrides_defaults_and_file() {
        let config = load_str(
            "[server]\nlisten = \"0.0.0.0:9000\"\n[api]\nread_tokens = [\"from-file\"]\n",
            &[
                ("TRACKD_SERVER__LISTEN", "0.0.0.0:9100"),
                ("TRACKD_POLL__INTERVALS__IN_TRANSIT", "30m"),
                ("TRACKD_POLL__JITTER", "0.25"),
                ("TRACKD_POLL__MAX_RETRIES", "5"),
                ("TRACKD_LOG__FORMAT", "json"),
                ("TRACKD_API__READ_TOKENS", "a, b,"),
                ("TRACKD_CARRIERS__UPS__CLIENT_SECRET", "ups-secret"),
                ("TRACKD_CARRIERS__UPS__PER_SECOND", "3"),
                ("TRACKD_CARRIERS__DHL__ENABLED", "true"),
                ("TRACKD_CARRIERS__DHL__BATCH_SIZE", "10"),
                ("TRACKD_CONFIG", "/not/a/key"),
                ("OTHER", "ignored"),
            ],
        )
        .expect("loads");
        assert_eq!(config.server.listen, "0.0.0.0:9100".parse().expect("addr"));
        assert_eq!(config.poll.intervals.in_transit, mins(30));
        assert_eq!(config.poll.jitter, 0.25);
        assert_eq!(config.poll.max_retries, 5);
        assert_eq!(config.log.format, LogFormat::Json);
        let tokens: Vec<&str> = config.api.read_tokens.iter().map(Secret::expose).collect();
        assert_eq!(tokens, ["a", "b"]);
        let ups = &config.carriers["ups"];
        assert_eq!(
            ups.client_secret.as_ref().map(Secret::expose),
            Some("ups-secret")
        );
        assert_eq!(ups.per_second, Some(3));
        let dhl = &config.carriers["dhl"];
        assert!(dhl.enabled);
        assert_eq!(dhl.batch_size, Some(10));
    }

    #[test]
    fn empty_env_value_empties_a_list_and_unsets_an_optional_key() {
        let config = load_str(
            "[api]\nwrite_tokens = [\"w\"]\n[carriers.ups]\nbase_url = \"http://sim:8090\"\n",
            &[
                ("TRACKD_API__WRITE_TOKENS", ""),
                ("TRACKD_CARRIERS__UPS__BASE_URL", ""),
            ],
        )
        .expect("loads");
        assert!(config.api.write_tokens.is_empty());
        assert_eq!(config.carriers["ups"].base_url, None);
    }

    #[test]
    fn every_error_is_reported_at_once_with_its_key() {
        let errors = errors_of(load_str(
            r#"
            [server]
            listen = "localhost"
            [storage]
            retention = "7d"
            [api]
            max_batch = 0
            [poll]
            jitter = 0.9
            retry_base_delay = "1m"
            [poll.intervals]
            in_transit = "1 fortnight"
            pending = "0s"
            [carriers.ups]
            per_second = 0
            base_url = "ftp://example.com"
            "#,
            &[("TRACKD_CACHE__SNAPSHOT_CAPACITY", "lots")],
        ));
        let keys: BTreeSet<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        let expected = BTreeSet::from([
            "server.listen",
            "storage.retention",
            "api.max_batch",
            "poll.jitter",
            "poll.retry_max_delay",
            "poll.intervals.in_transit",
            "poll.intervals.pending",
            "carriers.ups.per_second",
            "carriers.ups.base_url",
            "cache.snapshot_capacity",
        ]);
        assert_eq!(keys, expected, "{errors:#?}");
        assert!(
            message_for(&errors, "poll.intervals.in_transit")
                .starts_with("invalid duration \"1 fortnight\": ")
        );
        assert!(message_for(&errors, "storage.retention").starts_with("unknown key"));
        assert!(message_for(&errors, "carriers.ups.per_second").starts_with("must be > 0"));
        assert!(message_for(&errors, "poll.intervals.pending").starts_with("must be > 0"));
        assert!(message_for(&errors, "api.max_batch").contains("must be > 0"));
        assert!(message_for(&errors, "poll.jitter").contains("between 0 and 0.5"));
        assert!(message_for(&errors, "poll.retry_max_delay").contains(">= retry_base_delay (1m)"));
        assert!(message_for(&errors, "carriers.ups.base_url").contains("http:// or https://"));
        let capacity = message_for(&errors, "cache.snapshot_capacity");
        assert!(
            capacity.contains("invalid integer \"lots\"")
                && capacity.ends_with("(set by TRACKD_CACHE__SNAPSHOT_CAPACITY)")
        );
        let text = ConfigErrors(errors.clone()).to_string();
        assert_eq!(text.lines().count(), errors.len());
        assert!(
            text.lines()
                .any(|l| l.starts_with("server.listen: invalid socket address \"localhost\""))
        );
    }

    #[test]
    fn max_response_bytes_is_bounded_and_overridable() {
        let config = load_str("[poll]\nmax_response_bytes = 65536\n", &[]).expect("loads");
        assert_eq!(config.poll.max_response_bytes, 65_536);
        let config = load_str("", &[("TRACKD_POLL__MAX_RESPONSE_BYTES", "2048")]).expect("loads");
        assert_eq!(config.poll.max_response_bytes, 2048);
        for (value, want) in [
            ("1023", "must be >= 1024 (got 1023)"),
            ("1073741825", "must be <= 1073741824 (got 1073741825)"),
            ("\"4MiB\"", "expected an integer, found string"),
        ] {
            let errors = errors_of(load_str(
                &format!("[poll]\nmax_response_bytes = {value}\n"),
                &[],
            ));
            assert_eq!(
                message_for(&errors, "poll.max_response_bytes"),
                want,
                "{value}"
            );
        }
    }

    /// The text entry point (used by the fuzzer) layers and checks exactly like a file.
    #[test]
    fn load_str_matches_loading_a_file() {
        let toml = "[poll]\nmax_in_flight = 3\n[carriers.ups]\nper_second = 0\n";
        let vars = [("TRACKD_API__MAX_BATCH", "7")];
        let via_text = Config::load_str("[poll]\nmax_in_flight = 3\n", env(&vars)).expect("loads");
        let via_file = load_str("[poll]\nmax_in_flight = 3\n", &vars).expect("loads");
        assert_eq!(via_text, via_file);
        assert_eq!(
            (via_text.poll.max_in_flight, via_text.api.max_batch),
            (3, 7)
        );
        let text_errors = errors_of(Config::load_str(toml, env(&vars)));
        assert_eq!(text_errors, errors_of(load_str(toml, &vars)));
        assert_eq!(
            errors_of(Config::load_str("[poll\n", Vec::new()))[0].key,
            "<config>"
        );
    }

    #[test]
    fn unknown_keys_are_reported_everywhere_with_hints() {
        let errors = errors_of(load_str(
            "sever = 1\n[storage]\nretention = \"7d\"\n[poll.intervals]\nin_transt = \"1h\"\n[carriers.ups]\nclient_secrte = \"x\"\n",
            &[("TRACKD_API__TOKENS", "a"), ("TRACKD_NOPE__KEY", "1")],
        ));
        let keys: BTreeSet<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        let expected = BTreeSet::from([
            "sever",
            "nope",
            "storage.retention",
            "poll.intervals.in_transt",
            "carriers.ups.client_secrte",
            "api.tokens",
        ]);
        assert_eq!(keys, expected, "{errors:#?}");
        assert_eq!(
            message_for(&errors, "sever"),
            "unknown key (did you mean server?)"
        );
        assert_eq!(
            message_for(&errors, "storage.retention"),
            "unknown key (did you mean event_retention?)"
        );
        assert_eq!(
            message_for(&errors, "poll.intervals.in_transt"),
            "unknown key (did you mean in_transit?)"
        );
        assert_eq!(
            message_for(&errors, "carriers.ups.client_secrte"),
            "unknown key (did you mean client_secret?)"
        );
        assert_eq!(
            message_for(&errors, "nope"),
            "unknown key (set by TRACKD_NOPE__KEY)"
        );
        assert!(message_for(&errors, "api.tokens").ends_with("(set by TRACKD_API__TOKENS)"));
    }

    #[test]
    fn toml_syntax_error_is_reported_with_its_position() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"[server]\nlisten = \"0.0.0.0:1\"\nshutdown_grace = 10s\n")
            .expect("write");
        let path = file.path().display().to_string();
        // The environment is still checked alongside the broken file.
        let errors = errors_of(Config::load(
            Some(file.path()),
            env(&[("TRACKD_LOG__FORMAT", "xml")]),
        ));
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(errors[0].key, path);
        assert!(
            errors[0]
                .message
                .starts_with("TOML syntax error at line 3, column 18: "),
            "{}",
            errors[0].message
        );
        assert_eq!(errors[1].key, "log.format");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let errors = errors_of(Config::load(
            Some(Path::new("/nonexistent/trackd.toml")),
            Vec::new(),
        ));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "/nonexistent/trackd.toml");
        assert!(errors[0].message.starts_with("cannot read config file: "));
    }

    #[test]
    fn bad_env_paths_are_reported_by_variable() {
        let errors = errors_of(load_str(
            "",
            &[
                ("TRACKD_SERVER__LISTEN__PORT", "1"),
                ("TRACKD_SERVER____LISTEN", "x"),
                ("TRACKD_POLL__INTERVALS", "5m"),
                ("TRACKD_POLL__JITTER", "lots"),
                ("TRACKD_CARRIERS__UPS__ENABLED", "yes"),
            ],
        ));
        let keys: BTreeSet<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        let expected = BTreeSet::from([
            "TRACKD_SERVER__LISTEN__PORT",
            "TRACKD_SERVER____LISTEN",
            "poll.intervals",
            "poll.jitter",
            "carriers.ups.enabled",
        ]);
        assert_eq!(keys, expected, "{errors:#?}");
        assert_eq!(
            message_for(&errors, "TRACKD_SERVER__LISTEN__PORT"),
            "cannot set server.listen.port: server.listen is a string, not a table"
        );
        assert_eq!(
            message_for(&errors, "poll.intervals"),
            "expected a table, found string (set by TRACKD_POLL__INTERVALS)"
        );
        assert!(
            message_for(&errors, "carriers.ups.enabled").starts_with("invalid boolean \"yes\"")
        );
    }

    #[test]
    fn an_endless_secret_file_is_refused_not_read_forever() {
        let errors = errors_of(load_str(
            "[carriers.ups]\nclient_secret = \"file:/dev/zero\"\n",
            &[],
        ));
        assert_eq!(
            message_for(&errors, "carriers.ups.client_secret"),
            "secret file /dev/zero is larger than 65536 bytes"
        );
    }

    #[test]
    fn secrets_come_from_literals_env_and_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret_file = dir.path().join("ups_secret");
        std::fs::write(&secret_file, "  from-file\n").expect("write secret");
        let config = load_str(
            &format!(
                "[api]\nread_tokens = [\"literal\", \"env:READ_TOKEN\"]\n[carriers.ups]\nclient_id = \"env:UPS_ID\"\nclient_secret = \"file:{}\"\n",
                secret_file.display()
            ),
            &[("READ_TOKEN", "from-env"), ("UPS_ID", "id-from-env"), ("TRACKD_API__WRITE_TOKENS", "env:READ_TOKEN,w2")],
        )
        .expect("loads");
        let reads: Vec<&str> = config.api.read_tokens.iter().map(Secret::expose).collect();
        assert_eq!(reads, ["literal", "from-env"]);
        let writes: Vec<&str> = config.api.write_tokens.iter().map(Secret::expose).collect();
        assert_eq!(writes, ["from-env", "w2"]);
        let ups = &config.carriers["ups"];
        assert_eq!(
            ups.client_id.as_ref().map(Secret::expose),
            Some("id-from-env")
        );
        assert_eq!(
            ups.client_secret.as_ref().map(Secret::expose),
            Some("from-file")
        );
    }

    #[test]
    fn unresolvable_secrets_are_errors_with_their_key() {
        let errors = errors_of(load_str(
            "[api]\nread_tokens = [\"ok\", \"env:MISSING_TOKEN\"]\n[carriers.ups]\nclient_secret = \"file:/nonexistent/secret\"\nclient_id = \"env:EMPTY\"\n",
            &[
                ("EMPTY", ""),
                (
                    "TRACKD_CARRIERS__CANADAPOST__CLIENT_SECRET",
                    "env:ALSO_MISSING",
                ),
            ],
        ));
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert_eq!(
            message_for(&errors, "api.read_tokens"),
            "item 1: environment variable MISSING_TOKEN is not set"
        );
        assert!(
            message_for(&errors, "carriers.ups.client_secret")
                .starts_with("cannot read secret file /nonexistent/secret: ")
        );
        assert_eq!(
            message_for(&errors, "carriers.ups.client_id"),
            "environment variable EMPTY is empty"
        );
        assert_eq!(
            message_for(&errors, "carriers.canadapost.client_secret"),
            "environment variable ALSO_MISSING is not set (set by TRACKD_CARRIERS__CANADAPOST__CLIENT_SECRET)"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_serialize_or_errors() {
        let config = load_str(
            "[api]\nread_tokens = [\"hunter2-read\"]\nwrite_tokens = [\"env:W\"]\n[carriers.ups]\nclient_id = \"hunter2-id\"\nclient_secret = \"hunter2-secret\"\n",
            &[("W", "hunter2-write")],
        )
        .expect("loads");
        let debug = format!("{config:?} {config:#?}");
        let toml = toml::to_string(&config).expect("serializes");
        for shown in [&debug, &toml] {
            assert!(!shown.contains("hunter2"), "secret leaked: {shown}");
            assert!(shown.contains(REDACTED));
        }
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
        assert_eq!(Secret::new("x").to_string(), "<redacted>");
        // A secret that fails some other check is not echoed either.
        let errors = errors_of(load_str(
            "[carriers.ups]\nclient_secret = \"\"\nbase_url = \"hunter2\"\n",
            &[],
        ));
        assert!(
            errors
                .iter()
                .all(|e| !e.message.contains("hunter2") || e.key == "carriers.ups.base_url")
        );
        assert_eq!(
            message_for(&errors, "carriers.ups.client_secret"),
            "the secret is empty"
        );
    }

    #[test]
    fn secret_matches_compares_whole_values() {
        let s = Secret::new("token-1");
        assert!(s.matches("token-1"));
        assert!(!s.matches("token-2"));
        assert!(!s.matches("token-1x"));
        assert!(!s.matches(""));
        assert_eq!(s, Secret::new("token-1"));
    }

    #[test]
    fn base_url_must_be_http_with_a_host() {
        let check = |url: &str| http_url(Raw::Env(url));
        for ok in [
            "http://127.0.0.1:8090/ups",
            "https://onlinetools.ups.com",
            "HTTPS://example.com/",
            "http://[::1]:8080/x",
            "http://user:pw@host:1/path?q=1",
        ] {
            assert_eq!(check(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "example.com",
            "ftp://x",
            "http://",
            "http:///path",
            "http://host:99999",
            "http://[::1",
            "http://a b",
        ] {
            assert!(check(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn effective_config_serializes_to_toml_that_loads_back() {
        let config = load_str(
            "[carriers.ups]\nbase_url = \"http://sim:8090\"\nper_second = 2\n",
            &[("TRACKD_POLL__RETRY_BASE_DELAY", "750ms")],
        )
        .expect("loads");
        let rendered = toml::to_string(&config).expect("serializes");
        assert!(
            rendered.contains("retry_base_delay = \"750ms\""),
            "{rendered}"
        );
        assert!(
            rendered.contains("event_retention = \"30days\""),
            "{rendered}"
        );
        assert_eq!(load_str(&rendered, &[]).expect("reloads"), config);
    }

    #[test]
    fn log_level_is_checked_as_an_env_filter() {
        let config = load_str("[log]\nlevel = \"info,trackd=debug\"\n", &[]).expect("loads");
        assert_eq!(config.log.level, "info,trackd=debug");
        let errors = errors_of(load_str(
            "[log]\nlevel = \"trackd=loud\"\n",
            &[("TRACKD_LOG__FORMAT", "JSON")],
        ));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            message_for(&errors, "log.level")
                .starts_with("invalid filter directive \"trackd=loud\"")
        );
    }

    #[test]
    fn type_mismatches_in_the_file_name_the_expected_type() {
        let errors = errors_of(load_str(
            "[server]\nshutdown_grace = 10\n[api]\nread_tokens = \"a\"\n[cache]\nsnapshot_capacity = \"many\"\n[poll]\nintervals = 3\n",
            &[],
        ));
        assert_eq!(
            message_for(&errors, "server.shutdown_grace"),
            "expected a duration string such as \"15m\", found integer"
        );
        assert_eq!(
            message_for(&errors, "api.read_tokens"),
            "expected an array, found string"
        );
        assert_eq!(
            message_for(&errors, "cache.snapshot_capacity"),
            "expected an integer, found string"
        );
        assert_eq!(
            message_for(&errors, "poll.intervals"),
            "expected a table, found integer"
        );
        assert_eq!(errors.len(), 4, "{errors:#?}");
    }

    #[test]
    fn api_body_limit_and_request_timeout_are_validated() {
        let errors = errors_of(load_str(
            "[api]\nmax_body_bytes = 100\nrequest_timeout = \"0s\"\n",
            &[],
        ));
        assert_eq!(
            message_for(&errors, "api.max_body_bytes"),
            "must be >= 1024 (got 100)"
        );
        assert_eq!(message_for(&errors, "api.request_timeout"), "must be > 0");
        let config = load_str(
            "",
            &[
                ("TRACKD_API__MAX_BODY_BYTES", "2048"),
                ("TRACKD_API__REQUEST_TIMEOUT", "250ms"),
            ],
        )
        .expect("valid overrides");
        assert_eq!(config.api.max_body_bytes, 2048);
        assert_eq!(config.api.request_timeout, Duration::from_millis(250));
    }
}
