//! The delivery state machine of one endpoint, pure (no I/O, time passed in):
//! per-tracker FIFO queues whose heads are due at a time, retries on a schedule
//! with jitter, a pause for `Retry-After`, and each lane's position (every event
//! at or below it is settled), which is what the store keeps.

use crate::events::StoredEvent;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

/// How deliveries are retried and how many run at once.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Delay before each retry; after the last one the delivery is given up.
    pub schedule: Vec<Duration>,
    /// Spread of each delay, as a fraction of it.
    pub jitter: f64,
    pub max_in_flight: usize,
}

/// One event waiting for (or in) delivery.
#[derive(Debug, Clone)]
pub struct Item {
    pub lane: u64,
    pub event: StoredEvent,
    /// When the event was committed (epoch ms).
    pub emitted_at_ms: i64,
    /// Attempts made so far (a restart resumes the count from the delivery log).
    pub attempts: u32,
    /// This endpoint's count of the tracker's matched events, this one included.
    pub sequence: u64,
    pub previous_event_id: Option<u64>,
}

/// What an attempt came to, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Failed; `retry_after` is the receiver's `Retry-After` (the whole endpoint waits).
    Failed {
        retry_after: Option<Duration>,
    },
}

/// The result of [`Outbox::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// The attempt's number (1 = first try).
    pub attempt: u32,
    /// "delivered" or "failed" (given up) when this attempt settled the event.
    pub settled: Option<&'static str>,
}

#[derive(Debug, Default)]
struct LaneProgress {
    scanned: u64,
    unsettled: BTreeSet<u64>,
}

type QueueKey = (u64, u64);

/// All pending deliveries of one endpoint.
#[derive(Debug)]
pub struct Outbox {
    policy: Policy,
    lanes: BTreeMap<u64, LaneProgress>,
    queues: HashMap<QueueKey, VecDeque<Item>>,
    /// Heads waiting for their time: (due ms, lane, tracker).
    due: BTreeSet<(i64, u64, u64)>,
    in_flight: usize,
    paused_until_ms: i64,
    len: usize,
}

impl Outbox {
    pub fn new(policy: Policy) -> Outbox {
        Outbox {
            policy,
            lanes: BTreeMap::new(),
            queues: HashMap::new(),
            due: BTreeSet::new(),
            in_flight: 0,
            paused_until_ms: 0,
            len: 0,
        }
    }

    /// Starts tracking a lane whose events up to `position` are settled.
    pub fn add_lane(&mut self, lane: u64, position: u64) {
        self.lanes.entry(lane).or_default().scanned = position;
    }

    /// Events held (waiting, retrying or in flight).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Events of `lane` up to `id` were read (matching or not).
    pub fn scanned(&mut self, lane: u64, id: u64) {
        let p = self.lanes.entry(lane).or_default();
        p.scanned = p.scanned.max(id);
    }

    /// The sequence and id of the last event queued for this tracker in this lane, if any.
    pub fn last_queued(&self, lane: u64, tracker: u64) -> Option<(u64, u64)> {
        self.queues
            .get(&(lane, tracker))
            .and_then(|q| q.back())
            .map(|i| (i.sequence, i.event.id))
    }

    /// Queues an event behind the tracker's earlier ones. `last_attempt_ms`: when a
    /// resumed delivery was last tried (its retry waits the schedule from then).
    pub fn push(
        &mut self,
        item: Item,
        now_ms: i64,
        last_attempt_ms: Option<i64>,
        rng: &mut impl Rng,
    ) {
        let key = (item.lane, item.event.tracker_id);
        let progress = self.lanes.entry(item.lane).or_default();
        progress.scanned = progress.scanned.max(item.event.id);
        progress.unsettled.insert(item.event.id);
        let due = match (item.attempts, last_attempt_ms) {
            (0, _) | (_, None) => now_ms,
            (n, Some(at)) => at + self.delay_ms(n, rng),
        };
        let queue = self.queues.entry(key).or_default();
        queue.push_back(item);
        self.len += 1;
        if queue.len() == 1 {
            self.due.insert((due, key.0, key.1));
        }
    }

    fn delay_ms(&self, attempts: u32, rng: &mut impl Rng) -> i64 {
        let base = self
            .policy
            .schedule
            .get(attempts.saturating_sub(1) as usize)
            .or(self.policy.schedule.last())
            .copied()
            .unwrap_or(Duration::from_secs(60));
        let spread = if self.policy.jitter > 0.0 {
            1.0 + self.policy.jitter * rng.random_range(-1.0..=1.0)
        } else {
            1.0
        };
        (base.as_secs_f64() * spread * 1000.0) as i64
    }

    /// The next head whose time has come, marked in flight; `None` when nothing is
    /// due, the endpoint is paused, or `max_in_flight` are out.
    pub fn pop_due(&mut self, now_ms: i64) -> Option<Item> {
        if self.in_flight >= self.policy.max_in_flight || now_ms < self.paused_until_ms {
            return None;
        }
        let &(at, lane, tracker) = self.due.first()?;
        if at > now_ms {
            return None;
        }
        self.due.pop_first();
        self.in_flight += 1;
        self.queues
            .get(&(lane, tracker))
            .and_then(|q| q.front())
            .cloned()
    }

    /// When [`pop_due`](Self::pop_due) may next return something (epoch ms).
    pub fn next_wake_ms(&self) -> Option<i64> {
        if self.in_flight >= self.policy.max_in_flight {
            return None;
        }
        self.due.first().map(|d| d.0.max(self.paused_until_ms))
    }

    /// Holds every delivery of the endpoint until `until_ms` (a receiver's `Retry-After`).
    pub fn pause_until(&mut self, until_ms: i64) {
        self.paused_until_ms = self.paused_until_ms.max(until_ms);
    }

    /// Records the verdict on the in-flight head of (lane, tracker).
    pub fn finish(
        &mut self,
        lane: u64,
        tracker: u64,
        verdict: Verdict,
        now_ms: i64,
        rng: &mut impl Rng,
    ) -> Finished {
        self.in_flight = self.in_flight.saturating_sub(1);
        let key = (lane, tracker);
        let Some(head) = self.queues.get_mut(&key).and_then(|q| q.front_mut()) else {
            return Finished {
                attempt: 0,
                settled: None,
            };
        };
        head.attempts += 1;
        let attempt = head.attempts;
        let settled = match verdict {
            Verdict::Delivered => Some("delivered"),
            Verdict::Failed { .. } if attempt as usize > self.policy.schedule.len() => {
                Some("failed")
            }
            Verdict::Failed { retry_after } => {
                let mut due = now_ms + self.delay_ms(attempt, rng);
                if let Some(wait) = retry_after {
                    let until = now_ms + wait.as_millis() as i64;
                    self.pause_until(until);
                    due = due.max(until);
                }
                self.due.insert((due, lane, tracker));
                None
            }
        };
        if settled.is_some() {
            self.settle_head(key, now_ms);
        }
        Finished { attempt, settled }
    }

    fn settle_head(&mut self, key: QueueKey, now_ms: i64) {
        let Some(queue) = self.queues.get_mut(&key) else {
            return;
        };
        if let Some(done) = queue.pop_front() {
            self.len -= 1;
            if let Some(p) = self.lanes.get_mut(&done.lane) {
                p.unsettled.remove(&done.event.id);
            }
        }
        if queue.is_empty() {
            self.queues.remove(&key);
        } else {
            self.due.insert((now_ms, key.0, key.1));
        }
    }

    /// Each lane's position: every matching event at or below it is settled.
    pub fn positions(&self) -> Vec<(u64, u64)> {
        self.lanes
            .iter()
            .map(|(&lane, p)| {
                let position = p
                    .unsettled
                    .first()
                    .map_or(p.scanned, |first| first.saturating_sub(1).min(p.scanned));
                (lane, position)
            })
            .collect()
    }

    /// Events held for one lane.
    pub fn lane_len(&self, lane: u64) -> usize {
        self.lanes.get(&lane).map_or(0, |p| p.unsettled.len())
    }

    /// Forgets a finished lane.
    pub fn remove_lane(&mut self, lane: u64) {
        self.lanes.remove(&lane);
    }

    /// When the oldest held event was committed (epoch ms).
    pub fn oldest_emitted_ms(&self) -> Option<i64> {
        self.queues
            .values()
            .filter_map(|q| q.front())
            .map(|i| i.emitted_at_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn item(lane: u64, id: u64, tracker: u64) -> Item {
        Item {
            lane,
            event: StoredEvent {
                id,
                kind: EventType::StatusChanged,
                tracker_id: tracker,
                carrier: "ups".into(),
                reference: None,
                json: "{}".into(),
            },
            emitted_at_ms: id as i64,
            attempts: 0,
            sequence: 1,
            previous_event_id: None,
        }
    }

    fn policy(tries: usize, max_in_flight: usize) -> Policy {
        Policy {
            schedule: vec![Duration::from_secs(1); tries],
            jitter: 0.2,
            max_in_flight,
        }
    }

    #[test]
    fn one_tracker_waits_while_others_flow() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut o = Outbox::new(policy(3, 8));
        o.add_lane(0, 0);
        for (id, tracker) in [(1, 7), (2, 7), (3, 8)] {
            o.push(item(0, id, tracker), 0, None, &mut rng);
        }
        let a = o.pop_due(0).unwrap();
        let b = o.pop_due(0).unwrap();
        assert_eq!((a.event.id, b.event.id), (1, 3));
        assert!(o.pop_due(0).is_none(), "event 2 waits for event 1");
        o.finish(0, 8, Verdict::Delivered, 0, &mut rng);
        o.finish(0, 7, Verdict::Failed { retry_after: None }, 0, &mut rng);
        assert_eq!(o.positions(), vec![(0, 0)]);
        assert!(o.pop_due(500).is_none(), "retry not before 0.8 s");
        assert_eq!(o.pop_due(1200).unwrap().event.id, 1);
        let f = o.finish(0, 7, Verdict::Delivered, 1200, &mut rng);
        assert_eq!(
            f,
            Finished {
                attempt: 2,
                settled: Some("delivered")
            }
        );
        assert_eq!(o.positions(), vec![(0, 1)]);
        assert_eq!(o.pop_due(1200).unwrap().event.id, 2);
    }

    #[test]
    fn gives_up_after_the_schedule_and_moves_on() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut o = Outbox::new(policy(2, 1));
        o.add_lane(0, 10);
        o.push(item(0, 11, 1), 0, None, &mut rng);
        o.push(item(0, 12, 1), 0, None, &mut rng);
        let mut now = 0;
        let mut results = vec![];
        while let Some(next) = o.next_wake_ms() {
            now = now.max(next);
            let it = o.pop_due(now).unwrap();
            let verdict = if it.event.id == 11 {
                Verdict::Failed { retry_after: None }
            } else {
                Verdict::Delivered
            };
            results.push((it.event.id, o.finish(0, 1, verdict, now, &mut rng)));
        }
        assert_eq!(results.len(), 4);
        assert_eq!(
            results[2].1,
            Finished {
                attempt: 3,
                settled: Some("failed")
            }
        );
        assert_eq!(
            results[3],
            (
                12,
                Finished {
                    attempt: 1,
                    settled: Some("delivered")
                }
            )
        );
        assert_eq!(o.positions(), vec![(0, 12)]);
        assert!(o.is_empty());
    }

    #[test]
    fn retry_after_pauses_the_whole_endpoint() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut o = Outbox::new(policy(5, 4));
        o.push(item(0, 1, 1), 0, None, &mut rng);
        o.push(item(0, 2, 2), 0, None, &mut rng);
        o.pop_due(0).unwrap();
        o.finish(
            0,
            1,
            Verdict::Failed {
                retry_after: Some(Duration::from_secs(30)),
            },
            0,
            &mut rng,
        );
        assert!(
            o.pop_due(29_000).is_none(),
            "tracker 2 is held by the pause too"
        );
        assert_eq!(o.next_wake_ms(), Some(30_000));
        assert!(o.pop_due(30_000).is_some());
    }

    #[test]
    fn resumed_deliveries_keep_their_count_and_schedule() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut o = Outbox::new(Policy {
            schedule: vec![Duration::from_secs(10), Duration::from_secs(100)],
            jitter: 0.0,
            max_in_flight: 1,
        });
        let mut it = item(0, 5, 1);
        it.attempts = 2;
        o.push(it, 1_000, Some(500), &mut rng);
        assert_eq!(o.next_wake_ms(), Some(100_500));
        let f = {
            o.pop_due(100_500).unwrap();
            o.finish(
                0,
                1,
                Verdict::Failed { retry_after: None },
                100_500,
                &mut rng,
            )
        };
        assert_eq!(f.settled, Some("failed"), "the third try was the last");
    }

    proptest! {
        /// Whatever the receiver answers, each tracker's events are attempted in
        /// id order (never the next before the previous settled), everything
        /// settles, and no lane position passes an unsettled event.
        #[test]
        fn per_tracker_order_and_positions_hold(
            events in proptest::collection::vec((0u64..2, 0u64..5), 1..60),
            answers in proptest::collection::vec(0u8..4, 1..200),
            seed in any::<u64>(),
        ) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut o = Outbox::new(policy(3, 3));
            o.add_lane(0, 0);
            o.add_lane(1, 0);
            let mut per_lane_tracker: HashMap<(u64, u64), Vec<u64>> = HashMap::new();
            for (i, (lane, tracker)) in events.iter().enumerate() {
                let id = i as u64 + 1;
                o.push(item(*lane, id, *tracker), 0, None, &mut rng);
                per_lane_tracker.entry((*lane, *tracker)).or_default().push(id);
            }
            let mut settled: HashMap<(u64, u64), Vec<u64>> = HashMap::new();
            let mut flying: Vec<Item> = vec![];
            let mut now = 0i64;
            let mut k = 0usize;
            loop {
                while let Some(it) = o.pop_due(now) {
                    let key = (it.lane, it.event.tracker_id);
                    let done = settled.get(&key).map_or(0, Vec::len);
                    prop_assert_eq!(per_lane_tracker[&key][done], it.event.id, "head order");
                    prop_assert!(!flying.iter().any(|f| (f.lane, f.event.tracker_id) == key));
                    flying.push(it);
                }
                if flying.is_empty() {
                    match o.next_wake_ms() {
                        Some(t) => { now = now.max(t); continue; }
                        None => break,
                    }
                }
                let it = flying.remove(answers[k % answers.len()] as usize % flying.len());
                let verdict = if answers[k % answers.len()] == 0 { Verdict::Failed { retry_after: None } } else { Verdict::Delivered };
                k += 1;
                let f = o.finish(it.lane, it.event.tracker_id, verdict, now, &mut rng);
                if f.settled.is_some() {
                    settled.entry((it.lane, it.event.tracker_id)).or_default().push(it.event.id);
                }
                for (lane, position) in o.positions() {
                    for ((l, _), ids) in &per_lane_tracker {
                        for id in ids {
                            let is_settled = settled.values().any(|s| s.contains(id));
                            if *l == lane && *id <= position {
                                prop_assert!(is_settled, "position {} passed unsettled {}", position, id);
                            }
                        }
                    }
                }
            }
            prop_assert!(o.is_empty());
            prop_assert_eq!(settled, per_lane_tracker);
        }
    }
}
