//! Every Prometheus series trackd exports, in one place, so names and labels stay
//! consistent and `promtool check metrics` clean. No tracking number or tracker id
//! is ever a label.

use crate::events::StoredEvent;
use crate::stream::HubObserver;
use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Handles to all metrics; cheap to share behind an `Arc`.
pub struct Metrics {
    pub registry: Registry,
    pub carrier_requests: IntCounterVec,
    pub carrier_request_duration: HistogramVec,
    pub rate_limit_waits: IntCounterVec,
    pub quota_refusals: IntCounterVec,
    pub quota_ledger_writes: IntCounterVec,
    pub rate_limit_wait_seconds: HistogramVec,
    pub carrier_rate_limited: IntCounterVec,
    pub carrier_paused_seconds: CounterVec,
    pub carrier_paused: IntGaugeVec,
    pub carrier_pause_remaining: GaugeVec,
    pub quota_limit: IntGaugeVec,
    pub quota_used: IntGaugeVec,
    pub quota_remaining: IntGaugeVec,
    pub parse_errors: IntCounterVec,
    pub unmapped_codes: IntCounterVec,
    pub trackers: IntGaugeVec,
    pub poll_lag: HistogramVec,
    pub poll_queue: IntGaugeVec,
    pub poll_overdue: GaugeVec,
    pub staleness: HistogramVec,
    pub polls: IntCounterVec,
    pub unchanged_answers: IntCounterVec,
    pub events: IntCounterVec,
    pub eta_slips: IntCounterVec,
    pub eta_slip_seconds: HistogramVec,
    pub stream_subscribers: IntGauge,
    pub stream_consumer_lag: IntGauge,
    pub stream_events_sent: IntCounter,
    pub stream_refills: IntCounter,
    pub cache_requests: IntCounterVec,
    pub cache_entries: IntGaugeVec,
    pub store_commit_seconds: Histogram,
    pub last_event_id: Gauge,
    pub build_info: IntGaugeVec,
    pub fleet_shards: IntGaugeVec,
    pub fleet_instances_live: IntGauge,
    pub fleet_lease_changes: IntCounterVec,
    pub fleet_heartbeat_failures: IntCounter,
    pub fenced_writes: IntCounter,
    pub quota_share: GaugeVec,
    pub quota_backend: IntGaugeVec,
    pub quota_redis_failures: IntCounterVec,
    pub mirror_published: IntCounter,
    pub mirror_last_id: IntGauge,
    pub mirror_failures: IntCounter,
    pub webhook_endpoints: IntGaugeVec,
    pub webhook_attempts: IntCounterVec,
    pub webhook_deliveries: IntCounterVec,
    pub webhook_attempt_seconds: Histogram,
    pub webhook_delivery_latency: Histogram,
    pub webhook_backlog: IntGaugeVec,
    pub webhook_oldest_pending: GaugeVec,
    pub webhook_endpoint_failing: IntGaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn fgauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn int_gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("static metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn int_counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("static metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("static metric definition");
    r.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let latency = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let lag = vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];
        let m = Metrics {
            carrier_requests: counter(
                &r,
                "trackd_carrier_requests_total",
                "HTTP requests sent to carriers, by outcome.",
                &["carrier", "kind", "outcome"],
            ),
            carrier_request_duration: histogram(
                &r,
                "trackd_carrier_request_duration_seconds",
                "Carrier HTTP request latency.",
                &["carrier", "kind"],
                latency.clone(),
            ),
            rate_limit_waits: counter(
                &r,
                "trackd_rate_limit_waits_total",
                "Requests that had to wait for the per-carrier quota.",
                &["carrier", "window"],
            ),
            quota_refusals: counter(
                &r,
                "trackd_quota_refusals_total",
                "Polls deferred because a durable rolling window (minute, hour, day) was at its cap, or its usage could not be recorded (window=\"ledger\").",
                &["carrier", "window"],
            ),
            quota_ledger_writes: counter(
                &r,
                "trackd_quota_ledger_writes_total",
                "Durable quota reservations written to the store (one per few requests, never per request).",
                &["carrier"],
            ),
            rate_limit_wait_seconds: histogram(
                &r,
                "trackd_rate_limit_wait_seconds",
                "Time spent waiting for the per-carrier quota.",
                &["carrier"],
                lag.clone(),
            ),
            carrier_rate_limited: counter(
                &r,
                "trackd_carrier_rate_limited_total",
                "429 answers received from carriers.",
                &["carrier"],
            ),
            carrier_paused_seconds: {
                let c = CounterVec::new(
                    Opts::new(
                        "trackd_carrier_backoff_seconds_total",
                        "Seconds a carrier was paused by Retry-After or back-off.",
                    ),
                    &["carrier"],
                )
                .expect("static metric definition");
                r.register(Box::new(c.clone()))
                    .expect("metric registered once");
                c
            },
            carrier_paused: gauge(
                &r,
                "trackd_carrier_paused",
                "1 while every request to the carrier is paused (429 Retry-After), else 0.",
                &["carrier"],
            ),
            carrier_pause_remaining: fgauge(
                &r,
                "trackd_carrier_pause_remaining_seconds",
                "Seconds until a paused carrier is called again (0 when not paused).",
                &["carrier"],
            ),
            quota_limit: gauge(
                &r,
                "trackd_quota_limit",
                "Configured request quota per window (second, minute, hour, day); no series for a window the carrier does not limit.",
                &["carrier", "window"],
            ),
            quota_used: gauge(
                &r,
                "trackd_quota_used",
                "Quota spent: busiest whole second of the last 10s (window=second), requests in the trailing 24h (window=day).",
                &["carrier", "window"],
            ),
            quota_remaining: gauge(
                &r,
                "trackd_quota_remaining",
                "Quota left in the window: limit minus used, floored at 0.",
                &["carrier", "window"],
            ),
            parse_errors: counter(
                &r,
                "trackd_parse_errors_total",
                "Carrier answers that could not be parsed.",
                &["carrier"],
            ),
            unmapped_codes: counter(
                &r,
                "trackd_unmapped_codes_total",
                "Carrier status codes with no taxonomy mapping.",
                &["carrier", "code"],
            ),
            trackers: gauge(
                &r,
                "trackd_trackers",
                "Registered trackers by state and status.",
                &["state", "status"],
            ),
            poll_lag: histogram(
                &r,
                "trackd_poll_lag_seconds",
                "How late polls start against their schedule.",
                &["carrier"],
                lag,
            ),
            poll_queue: gauge(
                &r,
                "trackd_poll_queue_trackers",
                "Trackers waiting in the carrier's poll queue (due or not).",
                &["carrier"],
            ),
            poll_overdue: fgauge(
                &r,
                "trackd_poll_queue_overdue_seconds",
                "How far past its due time the most overdue queued tracker is right now.",
                &["carrier"],
            ),
            staleness: histogram(
                &r,
                "trackd_tracker_staleness_seconds",
                "Age of a tracker's last successful poll, observed each time it is polled again.",
                &["carrier"],
                vec![
                    0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
                    86400.0,
                ],
            ),
            polls: counter(
                &r,
                "trackd_polls_total",
                "Per-tracker poll outcomes.",
                &["carrier", "outcome"],
            ),
            unchanged_answers: counter(
                &r,
                "trackd_unchanged_answers_total",
                "Answers identical to the last one (skipped cheaply).",
                &["carrier"],
            ),
            events: counter(
                &r,
                "trackd_events_total",
                "Change events committed, by type.",
                &["type"],
            ),
            eta_slips: counter(
                &r,
                "trackd_eta_slips_total",
                "eta.slipped events by carrier.",
                &["carrier"],
            ),
            eta_slip_seconds: histogram(
                &r,
                "trackd_eta_slip_seconds",
                "Size of ETA slips against the promise.",
                &["carrier"],
                vec![
                    3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 172800.0, 345600.0, 604800.0,
                ],
            ),
            stream_subscribers: int_gauge(
                &r,
                "trackd_stream_subscribers",
                "Connected event stream subscribers.",
            ),
            stream_consumer_lag: int_gauge(
                &r,
                "trackd_stream_consumer_lag_events",
                "Events committed but not yet sent to the slowest connected subscriber.",
            ),
            stream_events_sent: int_counter(
                &r,
                "trackd_stream_events_sent_total",
                "Events sent to stream subscribers (one per subscriber and event).",
            ),
            stream_refills: int_counter(
                &r,
                "trackd_stream_refills_total",
                "Times a slow subscriber fell off the live channel and was refilled from the log.",
            ),
            cache_requests: counter(
                &r,
                "trackd_cache_requests_total",
                "Cache lookups by cache and result.",
                &["cache", "result"],
            ),
            cache_entries: gauge(
                &r,
                "trackd_cache_entries",
                "Entries held by each in-memory cache.",
                &["cache"],
            ),
            store_commit_seconds: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "trackd_store_commit_seconds",
                        "Duration of one group commit.",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                    ]),
                )
                .expect("static metric definition");
                r.register(Box::new(h.clone()))
                    .expect("metric registered once");
                h
            },
            last_event_id: {
                let g = Gauge::new(
                    "trackd_last_event_id",
                    "Highest committed event id (the stream's live edge).",
                )
                .expect("static metric definition");
                r.register(Box::new(g.clone()))
                    .expect("metric registered once");
                g
            },
            build_info: gauge(&r, "trackd_build_info", "Build information.", &["version"]),
            fleet_shards: gauge(
                &r,
                "trackd_fleet_shards",
                "Shards of trackers: all of the cluster (state=\"total\") and those this instance holds a lease on (state=\"owned\"). The embedded default owns its one shard.",
                &["state"],
            ),
            fleet_instances_live: int_gauge(
                &r,
                "trackd_fleet_instances_live",
                "Instances whose lease heartbeat is within one lease period, as seen by this instance's last heartbeat (1 for the embedded default).",
            ),
            fleet_lease_changes: counter(
                &r,
                "trackd_fleet_lease_changes_total",
                "Shard leases this instance acquired (taken over from an expired or absent owner, or released to it), released to balance the fleet, or lost (expired or taken by another instance).",
                &["change"],
            ),
            fleet_heartbeat_failures: int_counter(
                &r,
                "trackd_fleet_heartbeat_failures_total",
                "Lease heartbeats that failed (store unreachable): polling stops on each shard once its lease can no longer be trusted.",
            ),
            fenced_writes: int_counter(
                &r,
                "trackd_fleet_fenced_writes_total",
                "Poll results the store rejected because their shard's lease had moved to another instance (a paused or partitioned former owner).",
            ),
            quota_share: fgauge(
                &r,
                "trackd_quota_share",
                "Part of the carrier's per-second and minute quota this instance paces itself to when the fleet cannot share one limiter (held shards / all shards).",
                &["carrier"],
            ),
            quota_backend: gauge(
                &r,
                "trackd_quota_backend",
                "Where the carrier's requests are paced: 1 for the backend in use (local: one instance; split: its share of the fleet; redis: fleet-wide; redis_fallback: Redis unreachable, paced at the share).",
                &["carrier", "backend"],
            ),
            quota_redis_failures: counter(
                &r,
                "trackd_quota_redis_failures_total",
                "Redis quota calls that failed or timed out (each one paced locally at the share, failing closed).",
                &["carrier"],
            ),
            mirror_published: int_counter(
                &r,
                "trackd_mirror_published_total",
                "Events this instance published to the NATS JetStream mirror (acknowledged by the server).",
            ),
            mirror_last_id: int_gauge(
                &r,
                "trackd_mirror_last_event_id",
                "Highest event id this instance saw acknowledged by the JetStream mirror (compare with trackd_last_event_id).",
            ),
            mirror_failures: int_counter(
                &r,
                "trackd_mirror_failures_total",
                "Times the JetStream mirror relay was interrupted (NATS unreachable, refused publish); it resumes from the stream's last sequence.",
            ),
            webhook_endpoints: gauge(
                &r,
                "trackd_webhook_endpoints",
                "Webhook endpoints by state (enabled, disabled, failing: enabled but failing every attempt for webhooks.failing_after).",
                &["state"],
            ),
            webhook_attempts: counter(
                &r,
                "trackd_webhook_attempts_total",
                "Webhook delivery attempts by outcome (success, http_error, redirect, timeout, connect_error, rate_limited, gone).",
                &["outcome"],
            ),
            webhook_deliveries: counter(
                &r,
                "trackd_webhook_deliveries_total",
                "Webhook deliveries settled: delivered, or failed (given up after the last retry; kept in the delivery log, replayable).",
                &["outcome"],
            ),
            webhook_attempt_seconds: histogram(
                &r,
                "trackd_webhook_attempt_duration_seconds",
                "Time of one webhook delivery attempt (connect, send, answer).",
                &[],
                latency.clone(),
            )
            .with_label_values(&[] as &[&str]),
            webhook_delivery_latency: histogram(
                &r,
                "trackd_webhook_delivery_latency_seconds",
                "Time from an event's commit to its 2xx receipt by the endpoint (retries included).",
                &[],
                vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0, 3600.0, 86400.0],
            )
            .with_label_values(&[] as &[&str]),
            webhook_backlog: gauge(
                &r,
                "trackd_webhook_backlog_events",
                "Events an endpoint matched that are not yet delivered or given up (held by this instance's deliverer).",
                &["endpoint"],
            ),
            webhook_oldest_pending: fgauge(
                &r,
                "trackd_webhook_oldest_pending_seconds",
                "Age of the oldest event an endpoint has not yet received (0 when none is pending).",
                &["endpoint"],
            ),
            webhook_endpoint_failing: gauge(
                &r,
                "trackd_webhook_endpoint_failing",
                "1 when the endpoint has failed every attempt for longer than webhooks.failing_after (it is disabled after webhooks.disable_after).",
                &["endpoint"],
            ),
            registry: r,
        };
        for o in crate::webhooks::AttemptOutcome::ATTEMPTS {
            m.webhook_attempts.with_label_values(&[o.as_str()]);
        }
        for o in ["delivered", "failed"] {
            m.webhook_deliveries.with_label_values(&[o]);
        }
        for s in ["enabled", "disabled", "failing"] {
            m.webhook_endpoints.with_label_values(&[s]);
        }
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for t in crate::events::EventType::ALL {
            m.events.with_label_values(&[t.as_str()]);
        }
        for change in ["acquired", "released", "lost"] {
            m.fleet_lease_changes.with_label_values(&[change]);
        }
        m
    }

    /// Creates a carrier's counters at zero, so `rate()` and `increase()` see the
    /// first 429, parse error or quota wait instead of a series that appears late.
    pub fn init_carrier(&self, carrier: &str) {
        self.carrier_rate_limited.with_label_values(&[carrier]);
        self.carrier_paused_seconds.with_label_values(&[carrier]);
        self.parse_errors.with_label_values(&[carrier]);
        self.unchanged_answers.with_label_values(&[carrier]);
        self.eta_slips.with_label_values(&[carrier]);
        for h in [
            &self.rate_limit_wait_seconds,
            &self.eta_slip_seconds,
            &self.poll_lag,
            &self.staleness,
        ] {
            h.with_label_values(&[carrier]);
        }
        for window in ["second", "day"] {
            self.rate_limit_waits.with_label_values(&[carrier, window]);
        }
        for window in ["minute", "hour", "day", "ledger"] {
            self.quota_refusals.with_label_values(&[carrier, window]);
        }
        self.quota_ledger_writes.with_label_values(&[carrier]);
        self.quota_redis_failures.with_label_values(&[carrier]);
        self.set_paused(carrier, std::time::Duration::ZERO);
    }

    /// Publishes one carrier's quota window: its limit (`None` = unlimited, no
    /// limit/remaining series) and what was spent in it.
    pub fn set_quota(&self, carrier: &str, window: &str, limit: Option<u64>, used: u64) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.quota_used
            .with_label_values(&[carrier, window])
            .set(clamp(used));
        if let Some(limit) = limit {
            self.quota_limit
                .with_label_values(&[carrier, window])
                .set(clamp(limit));
            self.quota_remaining
                .with_label_values(&[carrier, window])
                .set(clamp(limit.saturating_sub(used)));
        }
    }

    /// Marks `backend` as the one pacing `carrier` (the others read 0).
    pub fn set_quota_backend(&self, carrier: &str, backend: &str) {
        for b in ["local", "split", "redis", "redis_fallback"] {
            self.quota_backend
                .with_label_values(&[carrier, b])
                .set(i64::from(b == backend));
        }
    }

    /// Publishes one carrier's pause (429 Retry-After) state.
    pub fn set_paused(&self, carrier: &str, remaining: std::time::Duration) {
        self.carrier_paused
            .with_label_values(&[carrier])
            .set(i64::from(!remaining.is_zero()));
        self.carrier_pause_remaining
            .with_label_values(&[carrier])
            .set(remaining.as_secs_f64());
    }

    /// Text exposition for `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        if let Err(e) = enc.encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl HubObserver for Metrics {
    fn published(&self, events: &[StoredEvent]) {
        for e in events {
            self.events.with_label_values(&[e.kind.as_str()]).inc();
        }
        if let Some(last) = events.last() {
            self.last_event_id.set(last.id as f64);
        }
    }

    fn commit(&self, seconds: f64, _units: usize) {
        self.store_commit_seconds.observe(seconds);
    }

    fn refilled(&self) {
        self.stream_refills.inc();
    }
}
