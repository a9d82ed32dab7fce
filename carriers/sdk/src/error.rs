//! Typed carrier errors: the daemon decides retries, back-off and events from the kind.

use crate::http::{HttpResponse, RetryAfter};
use thiserror::Error;

/// What went wrong talking to a carrier, for a whole response or one number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CarrierError {
    /// The carrier does not know this tracking number.
    #[error("tracking number not found: {message}")]
    NotFound {
        code: Option<String>,
        message: String,
    },
    /// Credentials were refused; retrying without new credentials is pointless.
    #[error("authentication failed: {message}")]
    Auth { message: String },
    /// The carrier asked us to slow down; applies to the whole carrier.
    #[error("rate limited by carrier (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<RetryAfter> },
    /// 5xx, maintenance or timeout: worth retrying with back-off.
    #[error("carrier unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// The body does not match the carrier's documented format.
    #[error("malformed carrier response: {message}")]
    Malformed { message: String },
    /// The carrier rejected our request (bad input, unsupported number); not retried.
    #[error("request rejected by carrier ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The plugin cannot build the request (e.g. missing credentials).
    #[error("cannot build carrier request: {message}")]
    Config { message: String },
}

impl CarrierError {
    /// Short stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CarrierError::NotFound { .. } => "not_found",
            CarrierError::Auth { .. } => "auth",
            CarrierError::RateLimited { .. } => "rate_limited",
            CarrierError::Unavailable { .. } => "unavailable",
            CarrierError::Malformed { .. } => "malformed",
            CarrierError::Rejected { .. } => "rejected",
            CarrierError::Config { .. } => "config",
        }
    }

    /// Whether the daemon should retry the same request later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CarrierError::RateLimited { .. } | CarrierError::Unavailable { .. }
        )
    }

    pub fn malformed(message: impl Into<String>) -> CarrierError {
        CarrierError::Malformed {
            message: message.into(),
        }
    }

    /// Generic mapping of transport-level statuses every carrier shares (401/403,
    /// 429, 5xx); returns `None` for 2xx and carrier-specific 4xx bodies.
    pub fn from_http_status(resp: &HttpResponse) -> Option<CarrierError> {
        match resp.status {
            200..=299 => None,
            401 | 403 => Some(CarrierError::Auth {
                message: format!("HTTP {}: {}", resp.status, resp.body_excerpt()),
            }),
            429 => Some(CarrierError::RateLimited {
                retry_after: resp.retry_after(),
            }),
            500..=599 => Some(CarrierError::Unavailable {
                status: resp.status,
                message: resp.body_excerpt(),
            }),
            _ => None,
        }
    }
}
