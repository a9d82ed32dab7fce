//! The webhook deliverer: one task per enabled endpoint reads the event log from
//! its stored cursors (the live lane, and replays), posts each matching event
//! signed, records every attempt in the delivery log with the cursors, and keeps
//! one tracker's events in order. In a fleet the instance holding shard 0 delivers.

use super::endpoint::Endpoint;
use super::outbox::{Item, Outbox, Policy, Verdict};
use super::signature::{self, SigningKey};
use super::ssrf::{Pinned, Refusal, UrlPolicy};
use super::store::{AttemptOutcome, AttemptRecord, Lane, Resume, WebhookStore, excerpt};
use crate::config::WebhooksConfig;
use crate::daemon::{Core, stopped};
use crate::events::StoredEvent;
use crate::store::EventFilter;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Payload schema version, in every body (`schema_version`).
pub const SCHEMA_VERSION: u32 = 1;
/// How long a resolved and checked address is reused before it is resolved again.
const RESOLVE_EVERY: Duration = Duration::from_secs(60);
/// How often attempts and cursors are written (one transaction each time).
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Events read per page from the log for a replay.
const REPLAY_PAGE: usize = 256;

/// The URL policy the config sets.
pub fn url_policy(cfg: &WebhooksConfig) -> UrlPolicy {
    UrlPolicy {
        allow_http: cfg.allow_http,
        allow: cfg.allow_networks.clone(),
    }
}

/// The outcome of one HTTP attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    /// An attempt that never left: the URL's address is not allowed (or no longer resolves).
    pub fn refused(r: &Refusal) -> AttemptResult {
        AttemptResult {
            outcome: AttemptOutcome::ConnectError,
            status: None,
            latency: Duration::ZERO,
            error: Some(format!("refused: {r}")),
            excerpt: None,
            retry_after: None,
        }
    }
}

/// The body trackd posts: the event exactly as the stream has it, wrapped with
/// what a receiver needs to route it and detect a gap.
pub fn body(
    kind: &str,
    emitted_at: &str,
    endpoint_id: &str,
    sequence: u64,
    previous: Option<u64>,
    event_json: &str,
) -> String {
    let previous = previous.map_or("null".to_string(), |p| p.to_string());
    format!(
        r#"{{"type":"{kind}","timestamp":"{emitted_at}","schema_version":{SCHEMA_VERSION},"endpoint_id":"{endpoint_id}","sequence":{sequence},"previous_event_id":{previous},"data":{event_json}}}"#
    )
}

/// The `emitted_at` of a stored event's JSON (trackd writes it, so its form is known).
pub fn emitted_at(json: &str) -> Option<&str> {
    const KEY: &str = r#""emitted_at":""#;
    let start = json.find(KEY)? + KEY.len();
    let len = json[start..].find('"')?;
    Some(&json[start..start + len])
}

fn parse_retry_after(v: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let v = v?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(86_400)));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// Posts one signed message and classifies the answer (2xx only succeeds; redirects are not followed).
pub async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    msg_id: &str,
    keys: &[SigningKey],
    body: String,
) -> AttemptResult {
    let ts = Utc::now().timestamp();
    let refs: Vec<&SigningKey> = keys.iter().collect();
    let sig = signature::signature_header(&refs, msg_id, ts, body.as_bytes());
    let started = Instant::now();
    let sent = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER_ID, msg_id)
        .header(signature::HEADER_TIMESTAMP, ts.to_string())
        .header(signature::HEADER_SIGNATURE, sig)
        .body(body)
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => {
            let outcome = if e.is_timeout() {
                AttemptOutcome::Timeout
            } else {
                AttemptOutcome::ConnectError
            };
            return AttemptResult {
                outcome,
                status: None,
                latency: started.elapsed(),
                error: Some(format!("{e:#}")),
                excerpt: None,
                retry_after: None,
            };
        }
    };
    let status = resp.status();
    let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
    // Read at most an excerpt's worth: a receiver cannot make trackd store or wait for a big body.
    let mut head = Vec::new();
    let mut error = None;
    while head.len() < super::store::EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => head.extend_from_slice(&c),
            Ok(None) => break,
            Err(e) => {
                if e.is_timeout() {
                    error = Some(format!("reading the answer: {e}"));
                }
                break;
            }
        }
    }
    let latency = started.elapsed();
    let outcome = match status.as_u16() {
        200..=299 => AttemptOutcome::Success,
        410 => AttemptOutcome::Gone,
        429 | 503 => AttemptOutcome::RateLimited,
        300..=399 => AttemptOutcome::Redirect,
        _ => AttemptOutcome::HttpError,
    };
    if outcome != AttemptOutcome::Success && error.is_none() {
        error = Some(match outcome {
            AttemptOutcome::Redirect => format!(
                "answered {status} (redirects are not followed{})",
                resp.headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(|l| format!("; Location: {l}"))
                    .unwrap_or_default()
            ),
            _ => format!("answered {status}"),
        });
    }
    AttemptResult {
        outcome,
        status: Some(status.as_u16()),
        latency,
        error,
        excerpt: (!head.is_empty()).then(|| excerpt(&head)),
        retry_after,
    }
}

/// A checked, pinned connection to an endpoint, re-resolved now and then.
pub struct Connection {
    pinned: Pinned,
    client: reqwest::Client,
    resolved_at: Instant,
}

impl Connection {
    /// Checks the URL against the policy, resolves it and pins the client to the permitted address.
    pub async fn open(url: &str, cfg: &WebhooksConfig) -> Result<Connection, Refusal> {
        let policy = url_policy(cfg);
        let url = policy.check_syntax(url)?;
        let pinned = policy.resolve(&url).await?;
        let client = pinned
            .client(cfg.connect_timeout, cfg.timeout)
            .map_err(|e| Refusal::InvalidUrl(format!("building the HTTP client: {e}")))?;
        Ok(Connection {
            pinned,
            client,
            resolved_at: Instant::now(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.pinned.url
    }
}

/// Runs deliveries until shutdown: starts, restarts and stops one task per
/// enabled endpoint as endpoints change, while this instance holds shard 0.
pub async fn run(core: Arc<Core>) {
    let mut stop = core.shutdown.subscribe();
    let ws = core.store.webhooks();
    let labels: moka::sync::Cache<u64, Arc<Vec<String>>> = moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(Duration::from_secs(300))
        .build();
    let mut running: Running = HashMap::new();
    loop {
        // Every instance reports the endpoint counts (from the store), delivering or not.
        let wanted: Option<Vec<Endpoint>> = match ws.endpoints().await {
            Ok(list) => {
                let enabled = list.iter().filter(|e| e.enabled).count();
                let failing = list
                    .iter()
                    .filter(|e| e.enabled && e.failing_reported)
                    .count();
                let m = &core.metrics.webhook_endpoints;
                m.with_label_values(&["enabled"]).set(enabled as i64);
                m.with_label_values(&["disabled"])
                    .set((list.len() - enabled) as i64);
                m.with_label_values(&["failing"]).set(failing as i64);
                let delivers = core.config.webhooks.enabled && core.ownership.holds_shard(0);
                Some(list.into_iter().filter(|e| e.enabled && delivers).collect())
            }
            Err(e) => {
                // Running deliveries go on; changes are picked up once the store answers.
                tracing::warn!(error = %e, "reading webhook endpoints failed; retrying");
                None
            }
        };
        if let Some(wanted) = wanted {
            reconcile(&core, &ws, &labels, &mut running, wanted).await;
        }
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    for (_, (_, tx, task)) in running.drain() {
        let _ = tx.send(true);
        let _ = task.await;
    }
}

type Running = HashMap<String, (u64, watch::Sender<bool>, JoinHandle<()>)>;

/// Starts, restarts (new version) and stops endpoint tasks to match `wanted`.
async fn reconcile(
    core: &Arc<Core>,
    ws: &Arc<dyn WebhookStore>,
    labels: &moka::sync::Cache<u64, Arc<Vec<String>>>,
    running: &mut Running,
    wanted: Vec<Endpoint>,
) {
    {
        // Stop what is no longer wanted or changed (and wait: never two tasks on one endpoint).
        let keep: HashMap<&str, u64> = wanted.iter().map(|e| (e.id.as_str(), e.version)).collect();
        let stale: Vec<String> = running
            .iter()
            .filter(|(id, (version, ..))| keep.get(id.as_str()) != Some(version))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some((_, tx, task)) = running.remove(&id) {
                let _ = tx.send(true);
                let _ = tokio::time::timeout(core.config.webhooks.timeout * 2, task).await;
            }
        }
        for e in wanted {
            if running.contains_key(&e.id) {
                continue;
            }
            let (tx, rx) = watch::channel(false);
            let (id, version) = (e.id.clone(), e.version);
            let task = tokio::spawn(
                EndpointRun::new(core.clone(), ws.clone(), e, labels.clone(), rx).run(),
            );
            running.insert(id, (version, tx, task));
        }
    }
}

/// A replay lane being read from the log.
struct ReplayReader {
    lane: Lane,
    read_to: u64,
}

/// One endpoint's deliveries.
struct EndpointRun {
    core: Arc<Core>,
    ws: Arc<dyn WebhookStore>,
    endpoint: Endpoint,
    labels: moka::sync::Cache<u64, Arc<Vec<String>>>,
    stop: watch::Receiver<bool>,
    outbox: Outbox,
    records: Vec<AttemptRecord>,
    /// Resume facts of events above each lane's position, by (lane, event id).
    resume: HashMap<(u64, u64), Resume>,
    /// The live lane's last (sequence, event id) per tracker.
    sequences: HashMap<u64, (u64, u64)>,
    connection: Option<Connection>,
    keys: Vec<SigningKey>,
    keys_until: DateTime<Utc>,
    limiter: Option<governor::DefaultDirectRateLimiter>,
    failing_since: Option<DateTime<Utc>>,
    failing_reported: bool,
    finished: bool,
}

type Flight = std::pin::Pin<Box<dyn std::future::Future<Output = (Item, AttemptResult)> + Send>>;
type Flights = tokio::task::JoinSet<(Item, AttemptResult)>;

impl EndpointRun {
    fn new(
        core: Arc<Core>,
        ws: Arc<dyn WebhookStore>,
        endpoint: Endpoint,
        labels: moka::sync::Cache<u64, Arc<Vec<String>>>,
        stop: watch::Receiver<bool>,
    ) -> EndpointRun {
        let cfg = &core.config.webhooks;
        let outbox = Outbox::new(Policy {
            schedule: cfg.retry_schedule.clone(),
            jitter: cfg.retry_jitter,
            max_in_flight: cfg.max_in_flight,
        });
        let limiter = endpoint
            .config
            .rate_limit_per_second
            .and_then(std::num::NonZeroU32::new)
            .map(|n| governor::RateLimiter::direct(governor::Quota::per_second(n)));
        EndpointRun {
            failing_since: endpoint.failing_since,
            failing_reported: endpoint.failing_reported,
            core,
            ws,
            endpoint,
            labels,
            stop,
            outbox,
            records: Vec::new(),
            resume: HashMap::new(),
            sequences: HashMap::new(),
            connection: None,
            keys: Vec::new(),
            keys_until: DateTime::<Utc>::MIN_UTC,
            limiter,
            finished: false,
        }
    }

    async fn run(mut self) {
        let id = self.endpoint.id.clone();
        let mut backoff = Duration::from_millis(500);
        while !self.finished && !*self.stop.borrow() {
            match self.deliver().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(endpoint = %id, error = format!("{e:#}"), "webhook deliveries interrupted; resuming from the stored cursor");
                    self.flush().await;
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        _ = stopped(&mut stop) => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    let fresh = EndpointRun::new(
                        self.core.clone(),
                        self.ws.clone(),
                        self.endpoint.clone(),
                        self.labels.clone(),
                        self.stop.clone(),
                    );
                    self = fresh;
                }
            }
        }
        let m = &self.core.metrics;
        let _ = m.webhook_backlog.remove_label_values(&[&id]);
        let _ = m.webhook_oldest_pending.remove_label_values(&[&id]);
        let _ = m.webhook_endpoint_failing.remove_label_values(&[&id]);
    }

    /// Delivers until stopped; an error means the task restarts from the stored cursors.
    async fn deliver(&mut self) -> anyhow::Result<()> {
        let lanes = self.ws.lanes(&self.endpoint.id).await?;
        let live = lanes
            .iter()
            .find(|l| l.id == 0)
            .cloned()
            .unwrap_or_else(|| Lane::live(self.core.hub.last_id()));
        let mut replays = Vec::new();
        for lane in &lanes {
            self.outbox.add_lane(lane.id, lane.position);
            for r in self
                .ws
                .resume_after(&self.endpoint.id, lane.id, lane.position)
                .await?
            {
                self.resume.insert((lane.id, r.event_id), r);
            }
            if lane.id != 0 {
                replays.push(ReplayReader {
                    read_to: lane.position,
                    lane: lane.clone(),
                });
            }
        }
        let start = live.position;
        let events = match self
            .core
            .hub
            .subscribe(self.core.store.clone(), start, EventFilter::default())
            .await
        {
            Ok(s) => s,
            Err(crate::stream::SubscribeError::Expired { floor, .. }) => {
                tracing::error!(endpoint = %self.endpoint.id, cursor = start, floor, "webhook cursor is older than event retention; the events in between were deleted before delivery, continuing after them");
                self.outbox.add_lane(0, floor);
                self.ws
                    .record(&self.endpoint.id, &[], &[(0, floor)])
                    .await?;
                self.core
                    .hub
                    .subscribe(self.core.store.clone(), floor, EventFilter::default())
                    .await?
            }
            Err(e) => return Err(e.into()),
        };
        let mut events = std::pin::pin!(events);
        let mut flights = Flights::new();
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = self.stop.clone();
        let mut shutdown = self.core.shutdown.subscribe();
        let max_pending = self.core.config.webhooks.max_pending;
        loop {
            // Replays are read while there is room, after the live lane's backlog.
            if self.outbox.len() < max_pending {
                self.read_replays(&mut replays).await?;
            }
            let now = Utc::now();
            while let Some(item) = self.next_due(now.timestamp_millis()) {
                flights.spawn(self.send(item).await);
            }
            let wake = self
                .outbox
                .next_wake_ms()
                .map(|ms| ms - Utc::now().timestamp_millis())
                .map(|d| Duration::from_millis(d.clamp(1, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60));
            let room = self.outbox.len() < max_pending;
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => break,
                _ = stopped(&mut shutdown) => break,
                Some(done) = flights.join_next(), if !flights.is_empty() => {
                    let (item, result) = done?;
                    if self.settle(item, result).await? {
                        break;
                    }
                }
                e = events.next(), if room => match e {
                    Some(e) => self.on_event(0, e).await?,
                    None => anyhow::bail!("the event subscription ended"),
                },
                _ = flush.tick() => {
                    self.flush().await;
                    if !self.core.ownership.holds_shard(0) {
                        break;
                    }
                }
                _ = tokio::time::sleep(wake) => {}
            }
        }
        // Let what is in flight finish (bounded by the request timeout), then write it down.
        while let Some(done) = flights.join_next().await {
            let (item, result) = done?;
            self.settle(item, result).await?;
        }
        self.flush().await;
        Ok(())
    }

    fn next_due(&mut self, now_ms: i64) -> Option<Item> {
        if let Some(limiter) = &self.limiter
            && self.outbox.next_wake_ms().is_some_and(|t| t <= now_ms)
            && limiter.check().is_err()
        {
            self.outbox.pause_until(now_ms + 50);
            return None;
        }
        self.outbox.pop_due(now_ms)
    }

    async fn read_replays(&mut self, replays: &mut [ReplayReader]) -> anyhow::Result<()> {
        for r in replays.iter_mut() {
            let Some(until) = r.lane.until else { continue };
            if r.read_to >= until {
                continue;
            }
            let page = self
                .core
                .store
                .events_after(r.read_to, REPLAY_PAGE, EventFilter::default())
                .await?;
            let lane = r.lane.clone();
            let mut last = until;
            for e in page {
                if e.id > until {
                    break;
                }
                last = e.id;
                let wanted = lane
                    .event_ids
                    .as_ref()
                    .is_none_or(|ids| ids.binary_search(&e.id).is_ok())
                    && lane.emitted_between.is_none_or(|(since, before)| {
                        emitted_at(&e.json)
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| (since..before).contains(&t.timestamp_millis()))
                    });
                if wanted {
                    self.on_event(lane.id, e).await?;
                } else {
                    self.outbox.scanned(lane.id, e.id);
                }
            }
            r.read_to = last;
            self.outbox.scanned(lane.id, last);
        }
        Ok(())
    }

    async fn tracker_labels(&self, tracker: u64) -> Arc<Vec<String>> {
        if let Some(l) = self.labels.get(&tracker) {
            return l;
        }
        let labels = match self.core.store.tracker(tracker).await {
            Ok(Some(row)) => Arc::new(row.labels),
            _ => Arc::new(Vec::new()),
        };
        self.labels.insert(tracker, labels.clone());
        labels
    }

    /// Takes one event of a lane: queued when it matches and is not settled yet.
    async fn on_event(&mut self, lane: u64, e: StoredEvent) -> anyhow::Result<()> {
        let filter = &self.endpoint.config.filter;
        let labels = if filter.needs_labels() {
            self.tracker_labels(e.tracker_id).await
        } else {
            Arc::new(Vec::new())
        };
        if !self.endpoint.config.filter.matches(&e, &labels) {
            self.outbox.scanned(lane, e.id);
            return Ok(());
        }
        let (sequence, previous) = self.sequence_of(lane, &e).await?;
        if lane == 0 {
            if self.sequences.len() > 200_000 {
                self.sequences.clear();
            }
            self.sequences.insert(e.tracker_id, (sequence, e.id));
        }
        let resume = self.resume.remove(&(lane, e.id));
        if resume.as_ref().is_some_and(|r| r.settled) {
            self.outbox.scanned(lane, e.id);
            return Ok(());
        }
        let emitted_at_ms = emitted_at(&e.json)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(|| Utc::now().timestamp_millis(), |t| t.timestamp_millis());
        let item = Item {
            lane,
            event: e,
            emitted_at_ms,
            attempts: resume.as_ref().map_or(0, |r| r.attempts),
            sequence,
            previous_event_id: previous,
        };
        self.outbox.push(
            item,
            Utc::now().timestamp_millis(),
            resume.map(|r| r.last_at.timestamp_millis()),
            &mut rand::rng(),
        );
        Ok(())
    }

    /// This endpoint's sequence number of the event among the tracker's matched events, and the previous one's id.
    async fn sequence_of(&self, lane: u64, e: &StoredEvent) -> anyhow::Result<(u64, Option<u64>)> {
        if let Some((seq, id)) = self.outbox.last_queued(lane, e.tracker_id) {
            return Ok((seq + 1, Some(id)));
        }
        // A tracker's log starts with its tracker.created: nothing before it to count.
        if e.kind == crate::events::EventType::TrackerCreated {
            return Ok((1, None));
        }
        if lane == 0
            && let Some(&(seq, id)) = self.sequences.get(&e.tracker_id)
            && id < e.id
        {
            return Ok((seq + 1, Some(id)));
        }
        let earlier = self.ws.tracker_events_before(e.tracker_id, e.id).await?;
        let matched: Vec<u64> = earlier
            .into_iter()
            .filter(|(_, kind)| self.endpoint.config.filter.matches_type(kind))
            .map(|(id, _)| id)
            .collect();
        Ok((matched.len() as u64 + 1, matched.last().copied()))
    }

    fn signing_keys(&mut self) -> Vec<SigningKey> {
        let now = Utc::now();
        if now >= self.keys_until {
            self.keys = self.endpoint.signing_keys(now);
            self.keys_until = self
                .endpoint
                .config
                .keys
                .iter()
                .filter_map(|k| k.expires_at.filter(|t| *t > now))
                .min()
                .unwrap_or(now + chrono::Duration::seconds(60));
        }
        self.keys.clone()
    }

    /// Starts one attempt.
    async fn send(&mut self, item: Item) -> Flight {
        let cfg = &self.core.config.webhooks;
        let stale = self
            .connection
            .as_ref()
            .is_none_or(|c| c.resolved_at.elapsed() > RESOLVE_EVERY);
        if stale {
            match Connection::open(&self.endpoint.config.url, cfg).await {
                Ok(c) => self.connection = Some(c),
                Err(r) => {
                    self.connection = None;
                    tracing::warn!(endpoint = %self.endpoint.id, reason = %r, "webhook endpoint refused");
                    let result = AttemptResult::refused(&r);
                    return Box::pin(async move { (item, result) });
                }
            }
        }
        let Some(conn) = &self.connection else {
            let result = AttemptResult::refused(&Refusal::NoHost);
            return Box::pin(async move { (item, result) });
        };
        let (client, url) = (conn.client.clone(), conn.pinned.url.clone());
        let keys = self.signing_keys();
        let body = body(
            item.event.kind.as_str(),
            emitted_at(&item.event.json).unwrap_or_default(),
            &self.endpoint.id,
            item.sequence,
            item.previous_event_id,
            &item.event.json,
        );
        Box::pin(async move {
            let result = post(&client, &url, &item.event.id.to_string(), &keys, body).await;
            (item, result)
        })
    }

    /// Records one attempt's result; true when the endpoint was disabled (the task ends).
    async fn settle(&mut self, item: Item, result: AttemptResult) -> anyhow::Result<bool> {
        let m = &self.core.metrics;
        m.webhook_attempts
            .with_label_values(&[result.outcome.as_str()])
            .inc();
        m.webhook_attempt_seconds
            .observe(result.latency.as_secs_f64());
        let now = Utc::now();
        let verdict = match result.outcome {
            AttemptOutcome::Success => Verdict::Delivered,
            _ => Verdict::Failed {
                retry_after: result
                    .retry_after
                    .filter(|_| result.outcome == AttemptOutcome::RateLimited),
            },
        };
        if matches!(
            result.outcome,
            AttemptOutcome::ConnectError | AttemptOutcome::Timeout
        ) {
            self.connection = None;
        }
        let finished = self.outbox.finish(
            item.lane,
            item.event.tracker_id,
            verdict,
            now.timestamp_millis(),
            &mut rand::rng(),
        );
        match finished.settled {
            Some("delivered") => {
                m.webhook_deliveries.with_label_values(&["delivered"]).inc();
                m.webhook_delivery_latency.observe(
                    ((now.timestamp_millis() - item.emitted_at_ms).max(0) as f64) / 1000.0,
                );
            }
            Some(_) => {
                m.webhook_deliveries.with_label_values(&["failed"]).inc();
                tracing::warn!(endpoint = %self.endpoint.id, event_id = item.event.id, tracker_id = item.event.tracker_id, attempts = finished.attempt, "webhook delivery given up after the last retry; it stays in the delivery log and can be replayed");
            }
            None => {}
        }
        self.records.push(AttemptRecord {
            lane: item.lane,
            event_id: item.event.id,
            attempt: finished.attempt,
            at: now,
            outcome: result.outcome,
            settled: finished.settled,
            status: result.status,
            latency_ms: Some(result.latency.as_millis().min(u128::from(u32::MAX)) as u32),
            error: result.error.clone(),
            response_excerpt: result.excerpt.clone(),
        });
        if result.outcome == AttemptOutcome::Gone {
            self.disable("gone", "the endpoint answered 410 Gone")
                .await?;
            return Ok(true);
        }
        self.health(result.outcome == AttemptOutcome::Success, now)
            .await
    }

    /// Tracks failing-for-days: reported after `failing_after`, disabled after `disable_after`.
    async fn health(&mut self, ok: bool, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let cfg = &self.core.config.webhooks;
        let id = self.endpoint.id.clone();
        if ok {
            if self.failing_since.is_some() {
                self.failing_since = None;
                self.failing_reported = false;
                self.core
                    .metrics
                    .webhook_endpoint_failing
                    .with_label_values(&[&id])
                    .set(0);
                self.ws.set_health(&id, None, false).await?;
            }
            return Ok(false);
        }
        let Some(since) = self.failing_since else {
            self.failing_since = Some(now);
            self.ws.set_health(&id, Some(now), false).await?;
            return Ok(false);
        };
        let failing_for = (now - since).to_std().unwrap_or_default();
        if failing_for >= cfg.disable_after {
            let why = format!(
                "every attempt failed for {}",
                humantime::format_duration(Duration::from_secs(failing_for.as_secs()))
            );
            self.disable("failing", &why).await?;
            return Ok(true);
        }
        if failing_for >= cfg.failing_after && !self.failing_reported {
            self.failing_reported = true;
            self.core
                .metrics
                .webhook_endpoint_failing
                .with_label_values(&[&id])
                .set(1);
            self.ws.set_health(&id, Some(since), true).await?;
            tracing::warn!(endpoint = %id, failing_since = %since, "webhook endpoint failing: every attempt has failed for longer than webhooks.failing_after");
            self.records.push(notice(AttemptOutcome::EndpointFailing, now, format!(
                "every attempt since {since} failed; the endpoint is disabled if this lasts webhooks.disable_after ({})",
                humantime::format_duration(cfg.disable_after)
            )));
        }
        Ok(false)
    }

    async fn disable(&mut self, reason: &str, why: &str) -> anyhow::Result<()> {
        tracing::warn!(endpoint = %self.endpoint.id, reason, why, "webhook endpoint disabled");
        self.records.push(notice(
            AttemptOutcome::EndpointDisabled,
            Utc::now(),
            why.to_string(),
        ));
        self.flush().await;
        let mut e = self.endpoint.clone();
        e.enabled = false;
        e.disabled_reason = Some(reason.to_string());
        e.updated_at = Utc::now();
        self.ws.update_endpoint(&e).await?;
        self.finished = true;
        Ok(())
    }

    /// Writes attempts and cursors (kept for the next try when the store fails).
    async fn flush(&mut self) {
        let positions = self.outbox.positions();
        let id = self.endpoint.id.clone();
        match self.ws.record(&id, &self.records, &positions).await {
            Ok(()) => self.records.clear(),
            Err(e) => {
                tracing::warn!(endpoint = %id, error = %e, "writing the webhook delivery log failed; retrying")
            }
        }
        let m = &self.core.metrics;
        m.webhook_backlog
            .with_label_values(&[&id])
            .set(self.outbox.len() as i64);
        let age = self.outbox.oldest_emitted_ms().map_or(0.0, |t| {
            ((Utc::now().timestamp_millis() - t).max(0) as f64) / 1000.0
        });
        m.webhook_oldest_pending.with_label_values(&[&id]).set(age);
        m.webhook_endpoint_failing
            .with_label_values(&[&id])
            .set(i64::from(self.failing_reported));
    }
}

fn notice(outcome: AttemptOutcome, at: DateTime<Utc>, message: String) -> AttemptRecord {
    AttemptRecord {
        lane: 0,
        event_id: 0,
        attempt: 0,
        at,
        outcome,
        settled: None,
        status: None,
        latency_ms: None,
        error: Some(message),
        response_excerpt: None,
    }
}
