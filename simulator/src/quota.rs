//! Carrier quotas as the real APIs enforce them: a per-second token bucket and a
//! rolling 24 h budget, in real time, so the daemon's own limiter is held to them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use trackd_carrier_sdk::Quota;

const DAY: Duration = Duration::from_secs(86_400);

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The token bucket was empty.
    PerSecond,
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

/// Quota state for one carrier; the caller passes the instant, so the math is
/// unit-tested without sleeping.
#[derive(Debug)]
pub struct QuotaState {
    per_second: u32,
    per_day: Option<u32>,
    tokens: f64,
    last_refill: Instant,
    /// Accepted requests of the last 24 h, grouped by whole second since `epoch`.
    day_log: VecDeque<(u64, u32)>,
    day_count: u64,
    epoch: Instant,
}

impl QuotaState {
    /// A full bucket at `now`; `per_second == 0` means no per-second limit and
    /// `per_day == Some(0)` refuses everything.
    pub fn new(quota: Quota, now: Instant) -> QuotaState {
        QuotaState {
            per_second: quota.per_second,
            per_day: quota.per_day,
            tokens: f64::from(quota.per_second),
            last_refill: now,
            day_log: VecDeque::new(),
            day_count: 0,
            epoch: now,
        }
    }

    /// Takes one request's worth of quota at `now`, or says how long to wait.
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
        if let Some(limit) = self.per_day {
            let sec = now.saturating_duration_since(self.epoch).as_secs();
            // A request made in second s leaves the window at s + 86 400; never later
            // than 24 h after it was made, so a compliant client is never refused.
            while let Some(&(s, n)) = self.day_log.front() {
                if s + DAY.as_secs() <= sec {
                    self.day_log.pop_front();
                    self.day_count -= u64::from(n);
                } else {
                    break;
                }
            }
            if self.day_count >= u64::from(limit) {
                let wait = match self.day_log.front() {
                    Some(&(s, _)) => {
                        (self.epoch + Duration::from_secs(s) + DAY).saturating_duration_since(now)
                    }
                    None => DAY,
                };
                return Err(Denied {
                    limit: Limit::PerDay,
                    wait,
                });
            }
            match self.day_log.back_mut() {
                Some((s, n)) if *s == sec => *n += 1,
                _ => self.day_log.push_back((sec, 1)),
            }
            self.day_count += 1;
        }
        if self.per_second > 0 {
            self.tokens -= 1.0;
        }
        Ok(())
    }

    /// Requests counted in the current 24 h window (for stats and tests).
    pub fn day_count(&self) -> u64 {
        self.day_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(per_second: u32, per_day: Option<u32>) -> Quota {
        Quota {
            per_second,
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
}
