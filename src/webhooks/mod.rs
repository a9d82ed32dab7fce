//! Webhooks: the event log pushed to consumers' HTTP endpoints.
//!
//! - `endpoint`: what a consumer registers (URL, filters, keys) and how events match it
//! - `signature`: Standard Webhooks signatures (`v1` HMAC-SHA256, `v1a` ed25519)
//! - `ssrf`: which addresses an endpoint may reach, and the connection pinned to the checked one
//! - `outbox`: the pure delivery state machine of one endpoint (per-tracker order, retries, cursors)
//! - `store`: the seam where deliveries meet storage (endpoints, cursors, the delivery log)
//! - `deliverer`: the tasks that read the log, post, and record every attempt
//!
//! Deliveries are driven from the durable event log by a cursor per endpoint stored
//! with the delivery log, so a restart or failover resumes where the last one stopped:
//! at least once, with the same `webhook-id` on every retry, nothing lost.

pub mod deliverer;
pub mod endpoint;
pub mod outbox;
pub mod signature;
pub mod ssrf;
pub mod store;

pub use endpoint::{Endpoint, EndpointConfig, EndpointFilter, KeySlot};
pub use store::{AttemptOutcome, AttemptRecord, AttemptRow, Lane, WebhookStore};
