//! Carrier quotas as the real APIs enforce them: a per-second token bucket and a
//! rolling 24 h budget, in real time, so the daemon's own limiter is held to them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use trackd_carrier_sdk::Quota;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The token bucket was empty.
    PerSecond,
    /// The rolling 60 s budget was spent.
    PerMinute,
    /// The rolling hour budget was spent.
    PerHour,
    /// The rolling 24 h budget was spent.
    PerDay,
}

/// A refusal and how long until a request would be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// The limit that refused.
    pub limit: Limit,
    /// Time until a request would be accepted.
    pub wait: Duration,
}

impl Denied {
    /// `Retry-After` in whole seconds: the wait rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// A rolling-window budget (minute, hour or day): accepted requests grouped by
/// whole second since the epoch.
#[derive(Debug)]
struct Window {
    limit: Limit,
    secs: u64,
    max: u32,
    log: VecDeque<(u64, u32)>,
    count: u64,
}

impl Window {
    fn new(limit: Limit, secs: u64, max: Option<u32>) -> Option<Window> {
        max.map(|max| Window {
            limit,
            secs,
            max,
            log: VecDeque::new(),
            count: 0,
        })
    }

    /// Drops what left the window by second `sec`; refuses when it is full. A
    /// request made in second s leaves at s + len: never later than `len` after
    /// it was made, so a compliant client is never refused.
    fn check(&mut self, sec: u64, epoch: Instant, now: Instant) -> Result<(), Denied> {
        while let Some(&(s, n)) = self.log.front() {
            if s + self.secs <= sec {
                self.log.pop_front();
                self.count -= u64::from(n);
            } else {
                break;
            }
        }
        if self.count >= u64::from(self.max) {
            let len = Duration::from_secs(self.secs);
            let wait = match self.log.front() {
                Some(&(s, _)) => {
                    (epoch + Duration::from_secs(s) + len).saturating_duration_since(now)
                }
                None => len,
            };
            return Err(Denied {
                limit: self.limit,
                wait,
            });
        }
        Ok(())
    }

    fn record(&mut self, sec: u64) {
        match self.log.back_mut() {
            Some((s, n)) if *s == sec => *n += 1,
            _ => self.log.push_back((sec, 1)),
        }
        self.count += 1;
    }
}

/// Quota state for one carrier; the caller passes the instant, so the math is
/// unit-tested without sleeping.
#[derive(Debug)]
pub struct QuotaState {
    per_second: u32,
    tokens: f64,
    last_refill: Instant,
    /// Minute, hour and day budgets the carrier enforces.
    windows: Vec<Window>,
    epoch: Instant,
}

impl QuotaState {
    /// A full bucket at `now`; `per_second == 0` means no per-second limit and
    /// a window of `Some(0)` refuses everything.
    pub fn new(quota: Quota, now: Instant) -> QuotaState {
        QuotaState {
            per_second: quota.per_second,
            tokens: f64::from(quota.per_second),
            last_refill: now,
            windows: [
                Window::new(Limit::PerMinute, 60, quota.per_minute),
                Window::new(Limit::PerHour, 3_600, quota.per_hour),
                Window::new(Limit::PerDay, 86_400, quota.per_day),
            ]
            .into_iter()
            .flatten()
            .collect(),
            epoch: now,
        }
    }

    /// Takes one request's worth of quota at `now`, or says how long to wait.
    /// A refused request consumes nothing.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Denied> {
        if self.per_second > 0 {
            let rate = f64::from(self.per_second);
            let elapsed = now
                .saturating_duration_since(self.last_refill)
                .as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(rate);
            if now > self.last_refill {
                self.last_refill = now;
            }
            // The epsilon absorbs float rounding so a client at exactly the rate passes.
            if self.tokens < 1.0 - 1e-9 {
                let wait = Duration::from_secs_f64(((1.0 - self.tokens) / rate).max(0.0));
                return Err(Denied {
                    limit: Limit::PerSecond,
                    wait,
                });
            }
        }
        let sec = now.saturating_duration_since(self.epoch).as_secs();
        for w in &mut self.windows {
            w.check(sec, self.epoch, now)?;
        }
        for w in &mut self.windows {
            w.record(sec);
        }
        if self.per_second > 0 {
            self.tokens -= 1.0;
        }
        Ok(())
    }

    /// Requests counted in the current 24 h window (for stats and tests).
    pub fn day_count(&self) -> u64 {
        self.windows
            .iter()
            .find(|w| w.limit == Limit::PerDay)
            .map_or(0, |w| w.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn q(per_second: u32, per_day: Option<u32>) -> Quota {
        Quota {
            per_second,
            per_minute: None,
            per_hour: None,
            per_day,
        }
    }

    #[test]
    fn bucket_allows_a_burst_of_capacity_then_refills() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(q(5, None), t0);
        for _ in 0..5 {
            assert_eq!(s.try_acquire(t0), Ok(()));
        }
        let denied = s.try_acquire(t0).expect_err("bucket is empty");
        assert_eq!(denied.limit, Limit::PerSecond);
        assert_eq!(denied.wait, Duration::from_millis(200));
        assert_eq!(denied.retry_after_secs(), 1);
        // 200 ms refills exactly one token.
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!(s.try_acquire(t1), Ok(()));
        assert!(s.try_acquire(t1).is_err());
        // A long pause refills to capacity, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(s.try_acquire(t2), Ok(()));
        }
        assert!(s.try_acquire(t2).is_err());
    }

    #[test]
    fn steady_rate_at_the_limit_is_never_refused() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(q(10, None), t0);
        for i in 0..1000u64 {
            let t = t0 + Duration::from_millis(100 * i);
            assert_eq!(s.try_acquire(t), Ok(()), "request {i}");
        }
    }

    #[test]
    fn refused_requests_consume_nothing() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(q(1, Some(10)), t0);
        assert!(s.try_acquire(t0).is_ok());
        for _ in 0..100 {
            assert!(s.try_acquire(t0).is_err());
        }
        assert_eq!(s.day_count(), 1);
        assert!(s.try_acquire(t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        let d = |ms| Denied {
            limit: Limit::PerSecond,
            wait: Duration::from_millis(ms),
        };
        assert_eq!(d(0).retry_after_secs(), 1);
        assert_eq!(d(1).retry_after_secs(), 1);
        assert_eq!(d(1000).retry_after_secs(), 1);
        assert_eq!(d(1001).retry_after_secs(), 2);
        assert_eq!(d(2500).retry_after_secs(), 3);
    }

    #[test]
    fn daily_budget_is_a_rolling_window() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(q(0, Some(3)), t0);
        assert!(s.try_acquire(t0).is_ok());
        assert!(s.try_acquire(t0 + Duration::from_secs(3600)).is_ok());
        assert!(s.try_acquire(t0 + Duration::from_secs(7200)).is_ok());
        let now = t0 + Duration::from_secs(10_000);
        let denied = s.try_acquire(now).expect_err("budget spent");
        assert_eq!(denied.limit, Limit::PerDay);
        assert_eq!(denied.retry_after_secs(), 86_400 - 10_000);
        // The first request leaves the window 24 h after it was made.
        assert!(s.try_acquire(t0 + DAY - Duration::from_secs(1)).is_err());
        assert!(s.try_acquire(t0 + DAY).is_ok());
        assert!(s.try_acquire(t0 + DAY).is_err());
        assert_eq!(s.day_count(), 3);
    }

    #[test]
    fn zero_per_second_means_unlimited_rate() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(q(0, None), t0);
        for _ in 0..10_000 {
            assert!(s.try_acquire(t0).is_ok());
        }
        let mut none = QuotaState::new(q(0, Some(0)), t0);
        assert_eq!(
            none.try_acquire(t0).map_err(|d| d.limit),
            Err(Limit::PerDay)
        );
    }

    #[test]
    fn minute_and_hour_windows_roll() {
        let t0 = Instant::now();
        let mut s = QuotaState::new(
            Quota {
                per_second: 100,
                per_minute: Some(2),
                per_hour: Some(3),
                per_day: None,
            },
            t0,
        );
        assert!(s.try_acquire(t0).is_ok());
        assert!(s.try_acquire(t0 + Duration::from_secs(1)).is_ok());
        let denied = s.try_acquire(t0 + Duration::from_secs(2)).unwrap_err();
        assert_eq!(denied.limit, Limit::PerMinute);
        assert_eq!(denied.wait, Duration::from_secs(58));
        // A minute later the first request has left the minute window...
        assert!(s.try_acquire(t0 + Duration::from_secs(60)).is_ok());
        // ...but the hour holds three.
        let denied = s.try_acquire(t0 + Duration::from_secs(200)).unwrap_err();
        assert_eq!(denied.limit, Limit::PerHour);
        assert!(s.try_acquire(t0 + Duration::from_secs(3_600)).is_ok());
    }
}
