//! Injected faults: the daemon must survive slow, failing, garbled and throttling
//! carriers, so the simulator produces each on demand with a seeded RNG.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

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
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            timeout: 0.0,
            server_error: 0.0,
            malformed: 0.0,
            rate_limited: 0.0,
            timeout_hold: Duration::from_secs(30),
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
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Timeout => "timeout",
            Fault::ServerError => "server_error",
            Fault::Malformed => "malformed",
            Fault::RateLimited => "rate_limited",
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
