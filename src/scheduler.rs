//! Due-time queues: one ordered set per carrier (not a task or timer per tracker),
//! so a million trackers cost a few dozen bytes each and a worker finds the next
//! due batch in O(log n).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The poll queue of one carrier.
pub struct DueQueue {
    inner: Mutex<QueueInner>,
    notify: Notify,
    epoch: Instant,
}

#[derive(Default)]
struct QueueInner {
    by_due: BTreeSet<(u64, u64)>,
    due_of: HashMap<u64, u64>,
}

impl Default for DueQueue {
    fn default() -> Self {
        DueQueue::new()
    }
}

impl DueQueue {
    pub fn new() -> DueQueue {
        DueQueue {
            inner: Mutex::new(QueueInner::default()),
            notify: Notify::new(),
            epoch: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Schedules (or reschedules) `id` at `at`; wakes the worker if it is now first.
    pub fn schedule(&self, id: u64, at: Instant) {
        let due = self.ms(at);
        let mut g = self.lock();
        if let Some(old) = g.due_of.insert(id, due) {
            g.by_due.remove(&(old, id));
        }
        g.by_due.insert((due, id));
        let first = g.by_due.first().is_some_and(|f| f.1 == id);
        drop(g);
        if first {
            self.notify.notify_one();
        }
    }

    /// Stops polling `id`.
    pub fn remove(&self, id: u64) {
        let mut g = self.lock();
        if let Some(old) = g.due_of.remove(&id) {
            g.by_due.remove(&(old, id));
        }
    }

    /// Takes up to `max` ids due at `now` (they leave the queue until rescheduled).
    pub fn pop_due(&self, now: Instant, max: usize) -> Vec<u64> {
        let now_ms = self.ms(now);
        let mut g = self.lock();
        let mut out = Vec::with_capacity(max.min(64));
        while out.len() < max {
            match g.by_due.first().copied() {
                Some((due, id)) if due <= now_ms => {
                    g.by_due.pop_first();
                    g.due_of.remove(&id);
                    out.push(id);
                }
                _ => break,
            }
        }
        out
    }

    /// When the earliest tracker is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.lock()
            .by_due
            .first()
            .map(|(due, _)| self.epoch + Duration::from_millis(*due))
    }

    /// How late the earliest due tracker is at `now` (poll lag).
    pub fn lag(&self, now: Instant) -> Duration {
        self.next_due()
            .map_or(Duration::ZERO, |d| now.saturating_duration_since(d))
    }

    pub fn len(&self) -> usize {
        self.lock().by_due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until something may be due: the earliest due time, or a new
    /// schedule that moved ahead of it.
    pub async fn wait(&self) {
        let notified = self.notify.notified();
        match self.next_due() {
            Some(at) if at <= Instant::now() => {}
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pops_in_due_order_and_reschedules() {
        let q = DueQueue::new();
        let now = Instant::now();
        q.schedule(1, now + Duration::from_secs(5));
        q.schedule(2, now);
        q.schedule(3, now + Duration::from_millis(1));
        assert_eq!(q.pop_due(now + Duration::from_millis(10), 10), vec![2, 3]);
        q.schedule(1, now); // moved earlier
        assert_eq!(q.pop_due(now + Duration::from_millis(10), 10), vec![1]);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn respects_batch_limit_and_remove() {
        let q = DueQueue::new();
        let now = Instant::now();
        for id in 0..10 {
            q.schedule(id, now);
        }
        q.remove(0);
        assert_eq!(q.pop_due(now, 3), vec![1, 2, 3]);
        assert_eq!(q.len(), 6);
    }

    #[tokio::test]
    async fn wait_wakes_on_earlier_schedule() {
        let q = std::sync::Arc::new(DueQueue::new());
        q.schedule(1, Instant::now() + Duration::from_secs(3600));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.wait().await });
        tokio::task::yield_now().await;
        q.schedule(2, Instant::now());
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("wait() must wake when an earlier tracker is scheduled")
            .unwrap();
    }
}
