//! Every Prometheus series trackd exports, in one place, so names and labels stay
//! consistent and `promtool check metrics` clean. No tracking number or tracker id
//! is ever a label.

use crate::events::StoredEvent;
use crate::stream::HubObserver;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Handles to all metrics; cheap to share behind an `Arc`.
pub struct Metrics {
    pub registry: Registry,
    pub carrier_requests: IntCounterVec,
    pub carrier_request_duration: HistogramVec,
    pub rate_limit_waits: IntCounterVec,
    pub rate_limit_wait_seconds: HistogramVec,
    pub carrier_rate_limited: IntCounterVec,
    pub carrier_paused_seconds: IntCounterVec,
    pub quota_per_second: IntGaugeVec,
    pub quota_per_day: IntGaugeVec,
    pub parse_errors: IntCounterVec,
    pub unmapped_codes: IntCounterVec,
    pub trackers: IntGaugeVec,
    pub poll_lag: HistogramVec,
    pub polls: IntCounterVec,
    pub unchanged_answers: IntCounterVec,
    pub events: IntCounterVec,
    pub eta_slips: IntCounterVec,
    pub eta_slip_seconds: HistogramVec,
    pub stream_subscribers: IntGauge,
    pub cache_requests: IntCounterVec,
    pub store_commit_seconds: Histogram,
    pub last_event_id: Gauge,
    pub build_info: IntGaugeVec,
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
            carrier_paused_seconds: counter(
                &r,
                "trackd_carrier_backoff_seconds_total",
                "Seconds a carrier was paused by Retry-After or back-off.",
                &["carrier"],
            ),
            quota_per_second: gauge(
                &r,
                "trackd_quota_per_second",
                "Configured per-second request quota.",
                &["carrier"],
            ),
            quota_per_day: gauge(
                &r,
                "trackd_quota_per_day",
                "Configured per-day request quota (0 when unlimited).",
                &["carrier"],
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
            stream_subscribers: {
                let g = IntGauge::new(
                    "trackd_stream_subscribers",
                    "Connected event stream subscribers.",
                )
                .expect("static metric definition");
                r.register(Box::new(g.clone()))
                    .expect("metric registered once");
                g
            },
            cache_requests: counter(
                &r,
                "trackd_cache_requests_total",
                "Cache lookups by cache and result.",
                &["cache", "result"],
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
            registry: r,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
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
}
