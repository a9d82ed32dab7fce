//! Fleet-wide pacing in Redis: one GCRA per window of every carrier, shared by
//! all instances, checked atomically on the Redis server's clock (`gcra.lua`),
//! and 429 pauses that reach every instance (`pause.lua`).
//!
//! Redis unreachable: the pacer fails closed to this instance's share of the
//! quota ([`SplitPacer`]), with a metric and a log line, and tries Redis again
//! every second. A carrier quota is a contract, so neither switch may add a
//! request to any window: going local, the split pacer waits one of its own
//! intervals first; coming back, the scripts' schedule is pushed one burst and
//! one interval per live instance ahead, covering what the local pacers sent.

use super::Refused;
use super::pacing::{EffectiveQuota, MAX_INLINE_WAIT, PaceWindow, Pacer, ShareSource, SplitPacer};
use crate::metrics::Metrics;
use redis::aio::ConnectionManager;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

static GCRA: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));
static PAUSE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("pause.lua")));

/// How long a Redis call may take before the pacer goes local.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// How often a pacer that went local tries Redis again.
const RETRY_REDIS: Duration = Duration::from_secs(1);

/// Opens the connection every carrier's pacer shares. Lazy: Redis down at
/// start is the same as Redis down later (local pacing), not a failed start.
pub fn connect(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// Which limiter a Redis pacer uses now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Redis,
    /// Paced locally at the split; ask Redis again at `retry_at`.
    Local {
        retry_at: Instant,
    },
}

/// Paces one carrier for the whole fleet through Redis.
pub struct RedisPacer {
    slug: &'static str,
    conn: ConnectionManager,
    /// born, pause, then one key per window.
    keys: Vec<String>,
    windows: Vec<PaceWindow>,
    fleet: ShareSource,
    local: SplitPacer,
    backend: Mutex<Backend>,
    /// This instance paced locally since it last reached Redis.
    unseen_requests: std::sync::atomic::AtomicBool,
    /// How long after losing Redis the other instances know (four heartbeats and a second).
    announce: Duration,
    metrics: Arc<Metrics>,
}

/// What the script answered.
enum Verdict {
    Granted,
    Paused(Duration),
    Wait(&'static str, Duration),
}

impl RedisPacer {
    /// `prefix` names the fleet in Redis (several fleets may share one server).
    pub fn new(
        slug: &'static str,
        quota: EffectiveQuota,
        conn: ConnectionManager,
        prefix: &str,
        fleet: ShareSource,
        announce: Duration,
        metrics: Arc<Metrics>,
    ) -> RedisPacer {
        let windows = PaceWindow::for_quota(&quota, 1.0).unwrap_or_default();
        // One hash tag per carrier: every key of a script lives in one slot (Redis Cluster).
        let key = |what: &str| format!("{prefix}:{{{slug}}}:{what}");
        let mut keys = vec![key("born"), key("pause")];
        keys.extend(windows.iter().map(|w| key(w.name)));
        metrics.set_quota_backend(slug, "redis");
        RedisPacer {
            slug,
            conn,
            keys,
            windows,
            // A shard taken while off Redis counts towards this instance's part
            // only once the others have heard of it (they leave its part free).
            local: SplitPacer::new(
                slug,
                quota,
                Arc::new(super::pacing::SettledShare {
                    fleet: fleet.clone(),
                    held_for: announce,
                }),
                metrics.clone(),
            ),
            fleet,
            backend: Mutex::new(Backend::Redis),
            unseen_requests: std::sync::atomic::AtomicBool::new(false),
            announce,
            metrics,
        }
    }

    async fn ask(&self) -> Result<Verdict, redis::RedisError> {
        let mut inv = GCRA.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        let coming_back = self
            .unseen_requests
            .load(std::sync::atomic::Ordering::Relaxed);
        // Every live instance may have sent one request per window beyond the
        // steady rate while pacing locally, and Redis saw none of them.
        let unseen = if coming_back {
            self.fleet.live_instances().max(1) + 1
        } else {
            0
        };
        inv.arg(unseen);
        // Instances that cannot reach Redis pace to their own share: the fleet
        // on Redis spaces its requests to leave that part free. The tolerance
        // (the burst) stays as configured, the same for every caller, so a
        // schedule floored by one caller is read alike by all.
        let part = self.fleet.redis_part().clamp(0.01, 1.0);
        for w in &self.windows {
            inv.arg(w.interval.div_f64(part).as_micros() as u64);
            inv.arg(w.tolerance().as_micros() as u64);
        }
        let mut conn = self.conn.clone();
        let (granted, wait_us, which): (i64, i64, i64) =
            tokio::time::timeout(REDIS_TIMEOUT * 2, inv.invoke_async(&mut conn))
                .await
                .map_err(|_| {
                    redis::RedisError::from((redis::ErrorKind::Io, "Redis did not answer in time"))
                })??;
        if granted == 1 {
            return Ok(Verdict::Granted);
        }
        let wait = Duration::from_micros(wait_us.max(1) as u64);
        Ok(match which {
            0 => Verdict::Paused(wait),
            k => Verdict::Wait(
                self.windows
                    .get((k - 1) as usize)
                    .map_or("second", |w| w.name),
                wait,
            ),
        })
    }

    fn go_local(&self, e: &redis::RedisError) {
        let mut b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
        self.metrics
            .quota_redis_failures
            .with_label_values(&[self.slug])
            .inc();
        if *b == Backend::Redis {
            tracing::error!(carrier = self.slug, error = %e, "Redis quota limiter unreachable; pacing this carrier at this instance's share of its quota until it is back");
            // No request until the others leave this instance's share free.
            self.local.reset(self.announce);
            self.fleet.set_fallback(true);
            self.metrics.set_quota_backend(self.slug, "redis_fallback");
        }
        *b = Backend::Local {
            retry_at: Instant::now() + RETRY_REDIS,
        };
    }

    fn back_on_redis(&self) {
        let mut b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
        if *b != Backend::Redis {
            tracing::info!(
                carrier = self.slug,
                "Redis quota limiter reachable again; pacing this carrier for the whole fleet"
            );
            self.metrics.set_quota_backend(self.slug, "redis");
            self.fleet.set_fallback(false);
            *b = Backend::Redis;
        }
        self.unseen_requests
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl Pacer for RedisPacer {
    async fn acquire(&self) -> Result<(), Refused> {
        let started = Instant::now();
        loop {
            let backend = *self.backend.lock().unwrap_or_else(|p| p.into_inner());
            if let Backend::Local { retry_at } = backend
                && Instant::now() < retry_at
            {
                let got = self.local.acquire().await;
                if got.is_ok() {
                    self.unseen_requests
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                return got;
            }
            let verdict = self.ask().await;
            if verdict.is_ok() {
                // Redis has seen this instance's floor: from now on it counts all.
                self.back_on_redis();
            }
            let (window, wait) = match verdict {
                Ok(Verdict::Granted) => {
                    if started.elapsed() > Duration::from_millis(1) {
                        self.metrics
                            .rate_limit_wait_seconds
                            .with_label_values(&[self.slug])
                            .observe(started.elapsed().as_secs_f64());
                    }
                    return Ok(());
                }
                Ok(Verdict::Paused(wait)) => ("paused", wait),
                Ok(Verdict::Wait(window, wait)) => (window, wait),
                Err(e) => {
                    self.go_local(&e);
                    continue;
                }
            };
            self.metrics
                .rate_limit_waits
                .with_label_values(&[self.slug, window])
                .inc();
            if wait > MAX_INLINE_WAIT {
                return Err(Refused { window, wait });
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn pause(&self, wait: Duration) {
        let conn = self.conn.clone();
        let key = self.keys[1].clone();
        let slug = self.slug;
        tokio::spawn(async move {
            let mut conn = conn;
            let told = tokio::time::timeout(
                REDIS_TIMEOUT * 2,
                PAUSE
                    .key(key)
                    .arg(wait.as_micros() as u64)
                    .invoke_async::<i64>(&mut conn),
            )
            .await;
            if !matches!(told, Ok(Ok(_))) {
                // This instance is paused anyway; the others find the 429 themselves.
                tracing::warn!(
                    carrier = slug,
                    "could not tell the fleet about a 429 pause (Redis unreachable)"
                );
            }
        });
    }
}
