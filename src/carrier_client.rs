//! Talking to one carrier: quotas (per second, minute, hour and day), OAuth
//! token cache, timeouts, retries with back-off and jitter, and carrier-wide
//! pauses on 429. The plugin decides what to send and what it means; this
//! module sends it.

use crate::metrics::Metrics;
use crate::quota::Refused;
use crate::quota::gate::QuotaGate;
pub use crate::quota::pacing::EffectiveQuota;
use crate::quota::pacing::Pacer;
use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use trackd_carrier_sdk::{
    Carrier, CarrierError, Credentials, HttpRequest, HttpResponse, Method, RetryAfter,
};

/// Retry and timeout knobs (from `[poll]`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

struct CachedToken {
    token: String,
    valid_until: Instant,
}

/// One carrier account's connection: everything between the plugin and the wire.
pub struct CarrierClient {
    pub plugin: Arc<dyn Carrier>,
    pub slug: &'static str,
    base_url: String,
    creds: Credentials,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    /// Spreads requests over every window (this process, or the fleet).
    pacer: Arc<dyn Pacer>,
    paused_until: Mutex<Option<Instant>>,
    /// The hard minute/hour/day caps, durable across restarts.
    gate: Arc<dyn QuotaGate>,
    /// The window refusing requests since the last grant, if any.
    refusing: Mutex<Option<&'static str>>,
    usage: Mutex<QuotaUsage>,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    pub quota: EffectiveQuota,
    /// Largest answer body read from the carrier (`poll.max_response_bytes`).
    max_response_bytes: usize,
}

/// Answer size cap until `with_max_response_bytes` sets the configured one
/// (the same 4 MiB as `poll.max_response_bytes` in config/trackd.toml).
const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A client's quota: its limits, how it is paced, and where its hard caps count.
pub struct QuotaSetup {
    pub limits: EffectiveQuota,
    pub pacer: Arc<dyn Pacer>,
    pub gate: Arc<dyn QuotaGate>,
}

impl CarrierClient {
    pub fn new(
        plugin: Arc<dyn Carrier>,
        base_url: String,
        creds: Credentials,
        http: reqwest::Client,
        quota_setup: QuotaSetup,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> CarrierClient {
        let quota = quota_setup.limits;
        let slug = plugin.descriptor().slug;
        metrics.init_carrier(slug);
        CarrierClient {
            plugin,
            slug,
            base_url: base_url.trim_end_matches('/').to_string(),
            creds,
            http,
            token: tokio::sync::Mutex::new(None),
            pacer: quota_setup.pacer,
            paused_until: Mutex::new(None),
            gate: quota_setup.gate,
            refusing: Mutex::new(None),
            usage: Mutex::new(QuotaUsage::new()),
            retry,
            metrics,
            quota,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Caps the answer bodies read from this carrier (`poll.max_response_bytes`).
    pub fn with_max_response_bytes(mut self, max: usize) -> CarrierClient {
        self.max_response_bytes = max;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Pauses every request to this carrier for `d` (429 Retry-After), in the
    /// whole fleet when the pacer is shared.
    fn pause(&self, d: Duration) {
        self.pacer.pause(d);
        let until = Instant::now() + d;
        let mut g = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none_or(|cur| cur < until) {
            *g = Some(until);
        }
        self.metrics
            .carrier_paused_seconds
            .with_label_values(&[self.slug])
            .inc_by(d.as_secs_f64());
    }

    /// How long every request to this carrier stays paused (zero when not paused).
    pub fn paused_for(&self) -> Duration {
        self.paused_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::ZERO, |t| {
                t.saturating_duration_since(Instant::now())
            })
    }

    /// Quota spent in each window (minute, hour and day include what the
    /// previous process spent, restored from the store).
    pub fn quota_used(&self) -> QuotaUsed {
        QuotaUsed {
            second: self
                .usage
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .busiest_second(Instant::now()),
            minute: self.gate.used("minute"),
            hour: self.gate.used("hour"),
            day: self.gate.used("day"),
        }
    }

    async fn wait_unpaused(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Waits for one request's worth of quota. Returns `Err` when the daily
    /// budget is spent or a rolling window's cap is reached, so the caller
    /// reschedules instead of holding a slot for minutes or hours.
    pub async fn acquire(&self) -> Result<(), Refused> {
        self.wait_unpaused().await;
        self.pacer.acquire().await?;
        self.gate.admit().await?;
        self.usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(Instant::now());
        *self.refusing.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Whether a refusal by `window` is the first since the last granted
    /// request, so callers report a spent budget once, not once per tracker.
    pub fn refusal_starts_spell(&self, window: &'static str) -> bool {
        let mut g = self.refusing.lock().unwrap_or_else(|p| p.into_inner());
        g.replace(window) != Some(window)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.retry.max_delay);
        let jitter: f64 = rand::rng().random_range(0.5..1.5);
        capped.mul_f64(jitter)
    }

    async fn send(
        &self,
        req: &HttpRequest,
        kind: &'static str,
    ) -> Result<HttpResponse, CarrierError> {
        /// Why no answer came back: the transport failed, or the body outgrew the cap.
        enum Failure {
            Http(reqwest::Error),
            TooLarge { status: u16, declared: Option<u64> },
        }
        let url = format!("{}{}", self.base_url, req.path_and_query);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut rb = self.http.request(method, &url);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if !req.body.is_empty() {
            rb = rb.body(req.body.clone());
        }
        let cap = self.max_response_bytes;
        let started = Instant::now();
        let result = async {
            let mut resp = rb.send().await.map_err(Failure::Http)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            // A declared length over the cap is refused before reading a byte; an
            // undeclared (chunked, possibly endless) body is read until it passes the cap.
            let declared = resp.content_length();
            if declared.is_some_and(|n| n > cap as u64) {
                return Err(Failure::TooLarge { status, declared });
            }
            let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
            while let Some(chunk) = resp.chunk().await.map_err(Failure::Http)? {
                if chunk.len() > cap - body.len() {
                    return Err(Failure::TooLarge { status, declared });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        self.metrics
            .carrier_request_duration
            .with_label_values(&[self.slug, kind])
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(r) => match r.status {
                200..=299 => "ok",
                401 | 403 => "auth_error",
                429 => "rate_limited",
                400..=499 => "client_error",
                _ => "server_error",
            },
            Err(Failure::TooLarge { .. }) => "too_large",
            Err(Failure::Http(e)) if e.is_timeout() => "timeout",
            Err(Failure::Http(_)) => "transport_error",
        };
        self.metrics
            .carrier_requests
            .with_label_values(&[self.slug, kind, outcome])
            .inc();
        result.map_err(|failure| match failure {
            Failure::TooLarge { status, declared } => {
                tracing::warn!(
                    carrier = self.slug,
                    kind,
                    status,
                    declared_bytes = declared,
                    max_response_bytes = cap,
                    "carrier answer larger than poll.max_response_bytes; dropped"
                );
                CarrierError::Malformed {
                    message: format!(
                        "{kind} answer (HTTP {status}) larger than poll.max_response_bytes \
                         ({cap} bytes); dropped without reading further"
                    ),
                }
            }
            Failure::Http(e) => CarrierError::Unavailable {
                status: 0,
                message: if e.is_timeout() {
                    format!("timed out talking to {url}")
                } else {
                    format!("transport error talking to {url}: {e}")
                },
            },
        })
    }

    async fn bearer(&self, force_refresh: bool) -> Result<Option<String>, FetchError> {
        if !self.plugin.descriptor().auth.uses_token() {
            return Ok(None);
        }
        let mut g = self.token.lock().await;
        if !force_refresh && let Some(t) = g.as_ref().filter(|t| t.valid_until > Instant::now()) {
            return Ok(Some(t.token.clone()));
        }
        let Some(req) = self
            .plugin
            .token_request(&self.creds)
            .map_err(FetchError::Carrier)?
        else {
            return Ok(None);
        };
        // Token calls count against the carrier's quota too (USPS counts them).
        self.acquire().await.map_err(FetchError::QuotaSpent)?;
        let resp = self
            .send(&req, "token")
            .await
            .map_err(FetchError::Carrier)?;
        if let Some(e) = self.plugin.classify_error(&resp) {
            return Err(FetchError::Carrier(e));
        }
        let tok = self
            .plugin
            .parse_token(&resp)
            .map_err(FetchError::Carrier)?;
        // Refresh a minute early (or at half-life for short tokens).
        let life = Duration::from_secs(tok.expires_in_secs);
        let margin = Duration::from_secs(60).min(life / 2);
        *g = Some(CachedToken {
            token: tok.token.clone(),
            valid_until: Instant::now() + life - margin,
        });
        tracing::debug!(
            carrier = self.slug,
            expires_in = tok.expires_in_secs,
            "carrier token refreshed"
        );
        Ok(Some(tok.token))
    }

    /// Fetches a track answer for `numbers`, retrying what is worth retrying.
    /// Non-2xx answers the transport layer cannot classify go to the plugin.
    pub async fn fetch(&self, numbers: &[&str]) -> Result<HttpResponse, FetchError> {
        self.fetch_while(numbers, || true).await
    }

    /// Like [`fetch`](Self::fetch), but asks `still_ours` right before each
    /// request goes out (after quota waits and backoff): a fleet instance whose
    /// lease lapsed meanwhile must not send it.
    pub async fn fetch_while(
        &self,
        numbers: &[&str],
        still_ours: impl Fn() -> bool,
    ) -> Result<HttpResponse, FetchError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if let Err(refused) = self.acquire().await {
                return Err(FetchError::QuotaSpent(refused));
            }
            let token = self.bearer(false).await?;
            if !still_ours() {
                return Err(FetchError::NotOwned);
            }
            let req = self
                .plugin
                .track_request(numbers, &self.creds, token.as_deref())
                .map_err(FetchError::Carrier)?;
            let err = match self.send(&req, "track").await {
                Ok(resp) => match self.plugin.classify_error(&resp) {
                    None => return Ok(resp),
                    Some(CarrierError::Auth { .. }) if token.is_some() && !refreshed => {
                        refreshed = true;
                        *self.token.lock().await = None;
                        continue;
                    }
                    Some(CarrierError::RateLimited { retry_after }) => {
                        self.metrics
                            .carrier_rate_limited
                            .with_label_values(&[self.slug])
                            .inc();
                        let wait = match retry_after {
                            Some(RetryAfter::Seconds(s)) => Duration::from_secs(s),
                            Some(RetryAfter::At(at)) => {
                                (at - chrono::Utc::now()).to_std().unwrap_or_default()
                            }
                            None => self.backoff(attempt),
                        };
                        tracing::warn!(
                            carrier = self.slug,
                            wait_ms = wait.as_millis() as u64,
                            "carrier answered 429; pausing the carrier"
                        );
                        self.pause(wait.max(Duration::from_millis(100)));
                        CarrierError::RateLimited { retry_after }
                    }
                    Some(e @ CarrierError::Unavailable { .. }) => e,
                    Some(_) => return Ok(resp), // let the plugin read the carrier's error body
                },
                Err(e) => e,
            };
            if attempt >= self.retry.max_retries || !err.is_retryable() {
                return Err(FetchError::Carrier(err));
            }
            if !matches!(err, CarrierError::RateLimited { .. }) {
                let d = self.backoff(attempt);
                tracing::debug!(carrier = self.slug, attempt, delay_ms = d.as_millis() as u64, error = %err, "retrying carrier request");
                tokio::time::sleep(d).await;
            }
            attempt += 1;
        }
    }
}

/// Requests admitted per whole second over the last 10 s, for the per-second
/// gauge (the longer windows are counted by the durable [`Ledger`]).
struct QuotaUsage {
    epoch: Instant,
    seconds: std::collections::VecDeque<(u64, u64)>,
}

impl QuotaUsage {
    fn new() -> QuotaUsage {
        QuotaUsage {
            epoch: Instant::now(),
            seconds: Default::default(),
        }
    }

    fn record(&mut self, now: Instant) {
        let sec = now.saturating_duration_since(self.epoch).as_secs();
        match self.seconds.back_mut() {
            Some((s, n)) if *s == sec => *n += 1,
            _ => self.seconds.push_back((sec, 1)),
        }
        while self.seconds.front().is_some_and(|(s, _)| *s + 10 <= sec) {
            self.seconds.pop_front();
        }
    }

    fn busiest_second(&self, now: Instant) -> u64 {
        let sec = now.saturating_duration_since(self.epoch).as_secs();
        self.seconds
            .iter()
            .filter(|(s, _)| s + 10 > sec)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }
}

/// Requests spent per quota window, for the quota gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsed {
    /// Busiest whole second of the last 10 s.
    pub second: u64,
    /// Requests in the trailing 60 s (an upper bound: counted in whole buckets).
    pub minute: u64,
    /// Requests in the trailing hour (upper bound, 30 s buckets).
    pub hour: u64,
    /// Requests in the trailing 24 h (upper bound, 10 min buckets).
    pub day: u64,
}

/// Why a fetch produced no carrier answer.
#[derive(Debug, Clone)]
pub enum FetchError {
    Carrier(CarrierError),
    /// A quota window (the day, a rolling minute or hour) is spent, or its usage
    /// cannot be made durable; try again after `wait`.
    QuotaSpent(Refused),
    /// The trackers' lease lapsed before the request went out (fleet mode).
    NotOwned,
}
