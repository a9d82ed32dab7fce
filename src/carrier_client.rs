//! Talking to one carrier: quotas (per second and per day), OAuth token cache,
//! timeouts, retries with back-off and jitter, and carrier-wide pauses on 429.
//! The plugin decides what to send and what it means; this module sends it.

use crate::metrics::Metrics;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota as GovQuota, RateLimiter};
use rand::Rng;
use std::num::NonZeroU32;
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

/// Effective quota after config overrides.
#[derive(Debug, Clone, Copy)]
pub struct EffectiveQuota {
    pub per_second: u32,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
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
    per_second: DefaultDirectRateLimiter,
    /// Rolling minute and hour caps (short waits, taken in line like the per-second one).
    per_window: Vec<DefaultDirectRateLimiter>,
    per_day: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
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

/// Headroom kept under a carrier's quota so network jitter never pushes two
/// requests into one of the carrier's windows.
const QUOTA_HEADROOM: f64 = 1.05;

/// A limiter that never lets more than `n` requests into any rolling window of
/// `secs`: a burst of `n / burst_divisor`, the rest spread evenly (GCRA allows
/// burst + window / period in any window, and that sum is `n`), with headroom.
fn rolling_window(n: u32, secs: u64, burst_divisor: u32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(rolling_quota(n, secs, burst_divisor))
}

fn rolling_quota(n: u32, secs: u64, burst_divisor: u32) -> GovQuota {
    let burst = (n / burst_divisor).max(1);
    let spread = n.saturating_sub(burst).max(1);
    let period = Duration::from_secs_f64(secs as f64 * QUOTA_HEADROOM / f64::from(spread));
    GovQuota::with_period(period)
        .unwrap_or(GovQuota::per_hour(nz(1)))
        .allow_burst(nz(burst))
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl CarrierClient {
    pub fn new(
        plugin: Arc<dyn Carrier>,
        base_url: String,
        creds: Credentials,
        http: reqwest::Client,
        quota: EffectiveQuota,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> CarrierClient {
        let slug = plugin.descriptor().slug;
        let period = Duration::from_secs_f64(QUOTA_HEADROOM / f64::from(quota.per_second.max(1)));
        let burst = nz(quota.per_second / 2);
        let per_second = RateLimiter::direct(
            GovQuota::with_period(period)
                .unwrap_or(GovQuota::per_second(nz(1)))
                .allow_burst(burst),
        );
        // Never more than `per_day` in any rolling day: an hour's worth of burst,
        // the rest spread evenly.
        let per_day = quota.per_day.map(|n| rolling_window(n, 86_400, 24));
        // Minute and hour caps the same way, with a tenth of the window as
        // burst: steady polling matters more here than a burst at start-up.
        let per_window = [(quota.per_minute, 60), (quota.per_hour, 3_600)]
            .into_iter()
            .filter_map(|(n, secs)| n.map(|n| rolling_window(n, secs, 10)))
            .collect();
        metrics.init_carrier(slug);
        CarrierClient {
            plugin,
            slug,
            base_url: base_url.trim_end_matches('/').to_string(),
            creds,
            http,
            token: tokio::sync::Mutex::new(None),
            per_second,
            per_window,
            per_day,
            paused_until: Mutex::new(None),
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

    /// Pauses every request to this carrier until `until` (429 Retry-After).
    fn pause(&self, d: Duration) {
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

    /// Quota spent in each window.
    pub fn quota_used(&self) -> QuotaUsed {
        self.usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .used(Instant::now())
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

    /// Waits for one request's worth of quota. Returns `Err(wait)` when the daily
    /// budget is spent, so the caller reschedules instead of holding a slot for hours.
    pub async fn acquire(&self) -> Result<(), Duration> {
        self.wait_unpaused().await;
        if let Some(day) = &self.per_day
            && let Err(not_until) = day.check()
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.metrics
                .rate_limit_waits
                .with_label_values(&[self.slug, "day"])
                .inc();
            return Err(wait);
        }
        let started = Instant::now();
        let mut waited = false;
        for (window, limiter) in self.windows() {
            if limiter.check().is_err() {
                waited = true;
                self.metrics
                    .rate_limit_waits
                    .with_label_values(&[self.slug, window])
                    .inc();
                limiter.until_ready().await;
            }
        }
        if waited {
            self.metrics
                .rate_limit_wait_seconds
                .with_label_values(&[self.slug])
                .observe(started.elapsed().as_secs_f64());
        }
        self.usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(Instant::now());
        Ok(())
    }

    /// The short-window limiters, widest first: a request takes a minute or hour
    /// slot before its per-second one, so it never holds a second slot while
    /// waiting for the minute.
    fn windows(&self) -> impl Iterator<Item = (&'static str, &DefaultDirectRateLimiter)> {
        let names = match (self.quota.per_minute, self.quota.per_hour) {
            (Some(_), Some(_)) => &["minute", "hour"][..],
            (Some(_), None) => &["minute"][..],
            (None, Some(_)) => &["hour"][..],
            (None, None) => &[][..],
        };
        names
            .iter()
            .copied()
            .zip(&self.per_window)
            .rev()
            .chain(std::iter::once(("second", &self.per_second)))
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
        self.acquire().await.map_err(FetchError::DailyQuotaSpent)?;
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
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if let Err(wait) = self.acquire().await {
                return Err(FetchError::DailyQuotaSpent(wait));
            }
            let token = self.bearer(false).await?;
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

/// Requests admitted by the quota, counted per second (last hour) and per
/// minute (last 24 h) for the quota gauges.
struct QuotaUsage {
    epoch: Instant,
    seconds: std::collections::VecDeque<(u64, u64)>,
    minutes: std::collections::VecDeque<(u64, u64)>,
}

impl QuotaUsage {
    fn new() -> QuotaUsage {
        QuotaUsage {
            epoch: Instant::now(),
            seconds: Default::default(),
            minutes: Default::default(),
        }
    }

    fn bump(q: &mut std::collections::VecDeque<(u64, u64)>, slot: u64, keep: u64) {
        match q.back_mut() {
            Some((s, n)) if *s == slot => *n += 1,
            _ => q.push_back((slot, 1)),
        }
        while q.front().is_some_and(|(s, _)| *s + keep <= slot) {
            q.pop_front();
        }
    }

    fn record(&mut self, now: Instant) {
        let sec = now.saturating_duration_since(self.epoch).as_secs();
        Self::bump(&mut self.seconds, sec, 3_600);
        Self::bump(&mut self.minutes, sec / 60, 1440);
    }

    fn used(&self, now: Instant) -> QuotaUsed {
        let sec = now.saturating_duration_since(self.epoch).as_secs();
        let within = |window: u64| -> u64 {
            self.seconds
                .iter()
                .filter(|(s, _)| s + window > sec)
                .map(|(_, n)| *n)
                .sum()
        };
        QuotaUsed {
            second: self
                .seconds
                .iter()
                .filter(|(s, _)| s + 10 > sec)
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0),
            minute: within(60),
            hour: within(3_600),
            day: self
                .minutes
                .iter()
                .filter(|(m, _)| m + 1440 > sec / 60)
                .map(|(_, n)| *n)
                .sum(),
        }
    }
}

/// Requests spent per quota window, for the quota gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsed {
    /// Busiest whole second of the last 10 s.
    pub second: u64,
    /// Requests in the trailing 60 s.
    pub minute: u64,
    /// Requests in the trailing hour.
    pub hour: u64,
    /// Requests in the trailing 24 h.
    pub day: u64,
}

/// Why a fetch produced no carrier answer.
#[derive(Debug, Clone)]
pub enum FetchError {
    Carrier(CarrierError),
    /// Our own daily budget is spent; try again after this long.
    DailyQuotaSpent(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    /// A client taking every slot the limiter grants never puts more than `n`
    /// requests into any rolling window, and still gets most of the budget.
    #[test]
    fn rolling_windows_never_exceed_their_budget() {
        for (n, secs, divisor) in [
            (20, 60, 10),
            (10, 60, 10),
            (60, 3_600, 10),
            (1, 60, 10),
            (250, 86_400, 24),
        ] {
            let clock = FakeRelativeClock::default();
            let limiter =
                RateLimiter::direct_with_clock(rolling_quota(n, secs, divisor), clock.clone());
            let step = Duration::from_millis(secs * 1000 / 600);
            let mut granted: Vec<Duration> = Vec::new();
            let mut t = Duration::ZERO;
            while t < Duration::from_secs(secs * 6) {
                while limiter.check().is_ok() {
                    granted.push(t);
                }
                clock.advance(step);
                t += step;
            }
            let window = Duration::from_secs(secs);
            for (i, start) in granted.iter().enumerate() {
                let inside = granted[i..]
                    .iter()
                    .take_while(|g| **g < *start + window)
                    .count();
                assert!(
                    inside <= n as usize,
                    "{n}/{secs}s: {inside} requests in one window"
                );
            }
            // Over six windows the client still got at least 75% of the budget
            // (the burst is spent once; the steady rate keeps 5% headroom).
            assert!(
                granted.len() as f64 >= f64::from(n) * 6.0 * 0.75,
                "{n}/{secs}s: only {}",
                granted.len()
            );
        }
    }
}
