//! Injected faults: the daemon must survive slow, failing, garbled and throttling
//! carriers, so the simulator produces each on demand with a seeded RNG.

use axum::body::{Body, Bytes};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;

/// Probabilities (0..=1, summing to at most 1) of each fault per track request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultConfig {
    /// Hold the response for `timeout_hold`, then answer normally.
    pub timeout: f64,
    /// Answer with the carrier's documented 5xx.
    pub server_error: f64,
    /// Answer normally, but truncate the body and append junk.
    pub malformed: f64,
    /// Answer 429 with `Retry-After: 1` (not counted as a quota violation).
    pub rate_limited: f64,
    /// How long a timeout fault holds the response.
    pub timeout_hold: Duration,
    /// Answer normally, then pad the body with whitespace to `huge_body_bytes`,
    /// or without end: the client must cap what it reads.
    pub huge_body: f64,
    /// Total size of a huge body, declared in `Content-Length`; `None` streams a
    /// chunked body that never ends (until the client hangs up or the simulator stops).
    pub huge_body_bytes: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            timeout: 0.0,
            server_error: 0.0,
            malformed: 0.0,
            rate_limited: 0.0,
            timeout_hold: Duration::from_secs(30),
            huge_body: 0.0,
            huge_body_bytes: None,
        }
    }
}

impl FaultConfig {
    /// Checks that every probability is in 0..=1 and that they sum to at most 1
    /// (one draw picks at most one fault per request).
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("timeout", self.timeout),
            ("server_error", self.server_error),
            ("malformed", self.malformed),
            ("rate_limited", self.rate_limited),
            ("huge_body", self.huge_body),
        ];
        for (name, p) in all {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} must be a probability between 0 and 1, got {p}"
                ));
            }
        }
        let sum: f64 = all.iter().map(|(_, p)| p).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("fault probabilities sum to {sum}, more than 1"));
        }
        Ok(())
    }

    /// True when no fault can fire (the request path then skips the RNG lock).
    pub fn is_quiet(&self) -> bool {
        self.timeout <= 0.0
            && self.server_error <= 0.0
            && self.malformed <= 0.0
            && self.rate_limited <= 0.0
            && self.huge_body <= 0.0
    }
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    Timeout,
    ServerError,
    Malformed,
    RateLimited,
    HugeBody,
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Timeout => "timeout",
            Fault::ServerError => "server_error",
            Fault::Malformed => "malformed",
            Fault::RateLimited => "rate_limited",
            Fault::HugeBody => "huge_body",
        }
    }
}

/// One uniform draw against the cumulative probabilities.
pub(crate) fn draw(cfg: &FaultConfig, rng: &mut ChaCha8Rng) -> Fault {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (p, f) in [
        (cfg.rate_limited, Fault::RateLimited),
        (cfg.server_error, Fault::ServerError),
        (cfg.malformed, Fault::Malformed),
        (cfg.timeout, Fault::Timeout),
        (cfg.huge_body, Fault::HugeBody),
    ] {
        acc += p;
        if u < acc {
            return f;
        }
    }
    Fault::None
}

/// Junk appended after the cut: invalid UTF-8, a NUL and stray delimiters, so no
/// JSON or XML parser can read the result as a complete document.
const JUNK: &[u8] = b"\xff\xfe\x00}]><!--#garbled";

/// Truncates `body` at a random point strictly inside it and appends junk.
pub(crate) fn garble(body: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let cut = if body.is_empty() {
        0
    } else {
        rng.random_range(0..body.len())
    };
    body.truncate(cut);
    body.extend_from_slice(JUNK);
}

/// Padding of a huge body: whitespace, which JSON and XML both allow after the
/// document, so the answer stays valid and only its size is wrong.
static PAD: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// The body of a huge-body fault: the rendered `answer`, then padding up to
/// `total` bytes (or the answer alone if it is longer), or padding without end
/// when `total` is `None`. An endless body stops when the simulator shuts down.
pub(crate) fn huge_body(
    answer: Vec<u8>,
    total: Option<u64>,
    shutdown: watch::Receiver<bool>,
) -> Body {
    let padding = total.map(|t| t.saturating_sub(answer.len() as u64));
    let state = (Some(Bytes::from(answer)), padding, shutdown);
    let stream = futures_util::stream::unfold(state, |(first, left, shutdown)| async move {
        if let Some(first) = first {
            return Some((Ok::<_, Infallible>(first), (None, left, shutdown)));
        }
        if *shutdown.borrow() {
            return None;
        }
        let n = match left {
            Some(0) => return None,
            Some(left) => PAD.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => PAD.len(),
        };
        let left = left.map(|l| l - n as u64);
        Some((Ok(Bytes::from_static(&PAD[..n])), (None, left, shutdown)))
    });
    Body::from_stream(stream)
}

/// The `Content-Length` of a sized huge body.
pub(crate) fn huge_body_len(answer_len: usize, total: u64) -> u64 {
    total.max(answer_len as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn validation_rejects_bad_probabilities() {
        assert!(FaultConfig::default().validate().is_ok());
        assert!(FaultConfig::default().is_quiet());
        let bad = FaultConfig {
            timeout: 1.5,
            ..FaultConfig::default()
        };
        assert!(bad.validate().is_err());
        let nan = FaultConfig {
            malformed: f64::NAN,
            ..FaultConfig::default()
        };
        assert!(nan.validate().is_err());
        let too_much = FaultConfig {
            timeout: 0.6,
            server_error: 0.6,
            ..FaultConfig::default()
        };
        assert!(too_much.validate().is_err());
    }

    #[test]
    fn draws_follow_probabilities() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let always = FaultConfig {
            server_error: 1.0,
            ..FaultConfig::default()
        };
        assert!((0..100).all(|_| draw(&always, &mut rng) == Fault::ServerError));
        assert!((0..100).all(|_| draw(&FaultConfig::default(), &mut rng) == Fault::None));
        let half = FaultConfig {
            malformed: 0.5,
            ..FaultConfig::default()
        };
        let hits = (0..10_000)
            .filter(|_| draw(&half, &mut rng) == Fault::Malformed)
            .count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
    }

    #[test]
    fn huge_body_is_a_probability_too() {
        let huge = FaultConfig {
            huge_body: 1.0,
            ..FaultConfig::default()
        };
        assert!(huge.validate().is_ok() && !huge.is_quiet());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert!((0..100).all(|_| draw(&huge, &mut rng) == Fault::HugeBody));
        let too_much = FaultConfig {
            huge_body: 0.5,
            malformed: 0.6,
            ..FaultConfig::default()
        };
        assert!(too_much.validate().is_err());
    }

    async fn collect(body: Body, limit: usize) -> Result<Vec<u8>, String> {
        axum::body::to_bytes(body, limit)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn sized_huge_bodies_are_the_answer_then_whitespace() {
        let (_tx, rx) = watch::channel(false);
        let body = collect(
            huge_body(b"{}".to_vec(), Some(200_000), rx.clone()),
            1 << 20,
        )
        .await
        .expect("ends");
        assert_eq!(body.len(), 200_000);
        assert_eq!(huge_body_len(2, 200_000), 200_000);
        assert!(body.starts_with(b"{} ") && body[2..].iter().all(|b| *b == b' '));
        let body = collect(huge_body(b"{\"a\":1}".to_vec(), Some(3), rx), 1 << 20)
            .await
            .expect("ends");
        assert_eq!(body, b"{\"a\":1}", "never cut the answer");
        assert_eq!(huge_body_len(7, 3), 7);
    }

    #[tokio::test]
    async fn endless_bodies_outgrow_any_limit_and_stop_on_shutdown() {
        let (tx, rx) = watch::channel(false);
        let err = collect(huge_body(b"<a/>".to_vec(), None, rx.clone()), 4 << 20).await;
        assert!(err.is_err(), "an endless body passed a 4 MiB limit");
        tx.send(true).expect("receivers alive");
        let body = collect(huge_body(b"<a/>".to_vec(), None, rx), 1 << 20)
            .await
            .expect("ends at shutdown");
        assert_eq!(body, b"<a/>");
    }

    #[test]
    fn garbled_bodies_are_cut_and_junked() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let mut body = br#"{"ok":true}"#.to_vec();
            garble(&mut body, &mut rng);
            assert!(body.ends_with(JUNK));
            assert!(body.len() < 11 + JUNK.len());
            assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
        }
        let mut empty = Vec::new();
        garble(&mut empty, &mut rng);
        assert_eq!(empty, JUNK);
    }
}
