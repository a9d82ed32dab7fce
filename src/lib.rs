//! trackd: polls carrier tracking APIs under their quotas, normalizes every answer
//! into one model, diffs it against the last one, and streams the changes.
//!
//! Module map (one concern each):
//! - `config`: the TOML file + `TRACKD_*` overrides, validated all at once
//! - `carriers`: the plugin registry and number detection
//! - `carrier_client`: HTTP to one carrier (quotas, OAuth, retries, 429 pauses)
//! - `quota`: rolling minute/hour/day windows made durable, so restarts never exceed a cap;
//!   pacing (`governor` alone, a fleet share, or Redis) and the gates holding the hard caps
//! - `scheduler`: per-carrier due-time queues
//! - `poller`: workers that fetch, then ingest (diff → store → stream)
//! - `diff`: the pure change engine (events of design §3)
//! - `events`: the event contract
//! - `store`: the storage seam (trackers, snapshots, event log, quota ledger): SQLite by default, PostgreSQL by config
//! - `stream`: fan-out hub and resumable subscriptions
//! - `risk`: what carriers do not say: stalled, forgotten and at-risk parcels, summary changes
//! - `summary`: WISMO answers (verdict, localized sentence, next step, the facts behind them)
//! - `webhooks`: the event log pushed to consumers' endpoints, signed, ordered, retried, replayable
//! - `trackers`: the in-memory tracker registry
//! - `ownership`: which shards of trackers this instance may poll and write (sole owner, or leases)
//! - `mirror`: the optional NATS JetStream mirror of the event log (stream sequence = event id)
//! - `fleet`: the lease keeper and owner messages of fleet mode (several instances on PostgreSQL)
//! - `api`: HTTP routes; `metrics`: Prometheus series; `clock`: injectable time
//! - `daemon`: wiring and graceful shutdown; `demo`: daemon + simulator; `cli`: commands

pub mod api;
pub mod carrier_client;
pub mod carriers;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod detection;
pub mod diff;
pub mod events;
pub mod fleet;
pub mod metrics;
pub mod mirror;
pub mod ownership;
pub mod poller;
pub mod quota;
pub mod returns;
pub mod risk;
pub mod scheduler;
pub mod store;
pub mod stream;
pub mod summary;
pub mod trackers;
pub mod webhooks;
