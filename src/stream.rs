//! The event hub: committed events fan out to every subscriber from one shared,
//! pre-serialized copy; reconnecting consumers resume from a cursor, served from
//! an in-memory window when recent and from the store otherwise.

use crate::events::StoredEvent;
use crate::store::{EventFilter, EventSink, Store, StoreError};
use futures::Stream;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// Hooks the hub reports to (metrics), so the hub stays free of metric names.
pub trait HubObserver: Send + Sync + 'static {
    fn published(&self, events: &[StoredEvent]);
    fn commit(&self, seconds: f64, units: usize);
    /// A subscriber fell off the live channel and is refilled from the log.
    fn refilled(&self) {}
}

/// Fan-out point between the store writer and stream subscribers.
pub struct Hub {
    tx: broadcast::Sender<Arc<[StoredEvent]>>,
    recent: RwLock<VecDeque<StoredEvent>>,
    recent_capacity: usize,
    last_id: AtomicU64,
    observer: RwLock<Option<Arc<dyn HubObserver>>>,
    /// Each live subscription's position in the log (for consumer lag).
    cursors: Mutex<HashMap<u64, Arc<AtomicU64>>>,
    next_subscription: AtomicU64,
}

/// Unregisters a subscription's cursor when its stream is dropped.
struct CursorGuard {
    hub: Arc<Hub>,
    key: u64,
}

impl Drop for CursorGuard {
    fn drop(&mut self) {
        self.hub
            .cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Why a subscription cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error(
        "cursor {requested} is older than retention allows (events up to {floor} were deleted); restart from 0 or a newer cursor"
    )]
    Expired { requested: u64, floor: u64 },
    #[error("cursor {requested} is ahead of the newest event {last}")]
    Ahead { requested: u64, last: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Hub {
    pub fn new(recent_capacity: usize) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(4096);
        Arc::new(Hub {
            tx,
            recent: RwLock::new(VecDeque::with_capacity(recent_capacity.min(1 << 16))),
            recent_capacity,
            last_id: AtomicU64::new(0),
            observer: RwLock::new(None),
            cursors: Mutex::new(HashMap::new()),
            next_subscription: AtomicU64::new(0),
        })
    }

    pub fn set_observer(&self, o: Arc<dyn HubObserver>) {
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = Some(o);
    }

    /// Sets the cursor after startup (the store's highest id).
    pub fn init_last_id(&self, id: u64) {
        self.last_id.fetch_max(id, Ordering::SeqCst);
    }

    pub fn last_id(&self) -> u64 {
        self.last_id.load(Ordering::SeqCst)
    }

    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Events committed but not yet handed to the slowest live subscription.
    pub fn max_consumer_lag(&self) -> u64 {
        let last = self.last_id();
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|c| last.saturating_sub(c.load(Ordering::Relaxed)))
            .max()
            .unwrap_or(0)
    }

    fn observer(&self) -> Option<Arc<dyn HubObserver>> {
        self.observer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Events after `after` from the in-memory window, or `None` when the
    /// window does not reach back that far.
    fn recent_after(
        &self,
        after: u64,
        limit: usize,
        filter: &EventFilter,
    ) -> Option<Vec<StoredEvent>> {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        let first = recent.front()?.id;
        if after + 1 < first {
            return None;
        }
        let start = recent.partition_point(|e| e.id <= after);
        Some(
            recent
                .range(start..)
                .filter(|e| filter.matches(e))
                .take(limit)
                .cloned()
                .collect(),
        )
    }

    /// A page of events after `after` (the batch API and stream catch-up).
    pub async fn page(
        &self,
        store: &Store,
        after: u64,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, SubscribeError> {
        self.check_cursor(store, after).await?;
        // The window holds every published event from its first id to the live
        // edge, so when it reaches back to the cursor it is the complete answer.
        if let Some(events) = self.recent_after(after, limit, filter) {
            return Ok(events);
        }
        Ok(store.events_after(after, limit, filter.clone()).await?)
    }

    /// Like [`page`](Self::page), but a store that cannot answer right now is
    /// retried (with back-off) instead of ending the subscriber's stream; only a
    /// cursor that can never be served (expired, ahead) is an error.
    async fn page_retrying(
        &self,
        store: &Store,
        after: u64,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, SubscribeError> {
        let mut backoff = std::time::Duration::from_millis(200);
        loop {
            match self.page(store, after, limit, filter).await {
                Err(SubscribeError::Store(e)) => {
                    tracing::warn!(error = %e, after, "stream read failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    async fn check_cursor(&self, store: &Store, after: u64) -> Result<(), SubscribeError> {
        let (last, floor) = store.cursors().await?;
        let last = last.max(self.last_id());
        if after > last {
            return Err(SubscribeError::Ahead {
                requested: after,
                last,
            });
        }
        if after < floor {
            return Err(SubscribeError::Expired {
                requested: after,
                floor,
            });
        }
        Ok(())
    }

    /// A live, resumable stream of events after `after` that match `filter`:
    /// backlog first, then live, never a gap nor a duplicate, in id order.
    pub async fn subscribe(
        self: &Arc<Self>,
        store: Store,
        after: u64,
        filter: EventFilter,
    ) -> Result<impl Stream<Item = StoredEvent> + Send + 'static, SubscribeError> {
        self.check_cursor(&store, after).await?;
        // Subscribe before reading the backlog so nothing committed in between is missed.
        let mut rx = self.tx.subscribe();
        let hub = self.clone();
        let position = Arc::new(AtomicU64::new(after));
        let key = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, position.clone());
        let guard = CursorGuard {
            hub: self.clone(),
            key,
        };
        Ok(async_stream::stream! {
            let _guard = guard;
            let mut cursor = after;
            const PAGE: usize = 1000;
            // Catch up to the live edge.
            loop {
                let target = hub.last_id();
                if cursor >= target { break; }
                let batch = match hub.page_retrying(&store, cursor, PAGE, &filter).await {
                    Ok(b) => b,
                    Err(e) => { tracing::warn!(error = %e, "stream catch-up failed"); return; }
                };
                if batch.is_empty() {
                    // Nothing (matching) up to the live edge.
                    cursor = target;
                    break;
                }
                for e in batch {
                    cursor = e.id;
                    yield e;
                }
                position.store(cursor, Ordering::Relaxed);
            }
            loop {
                position.store(cursor, Ordering::Relaxed);
                match rx.recv().await {
                    Ok(batch) => {
                        for e in batch.iter() {
                            if e.id <= cursor { continue; }
                            cursor = e.id;
                            if filter.matches(e) { yield e.clone(); }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow for the live channel: refill from window/store.
                        if let Some(o) = hub.observer() { o.refilled(); }
                        loop {
                            let target = hub.last_id();
                            if cursor >= target { break; }
                            let batch = match hub.page_retrying(&store, cursor, PAGE, &filter).await {
                                Ok(b) => b,
                                Err(e) => { tracing::warn!(error = %e, "stream refill failed"); return; }
                            };
                            if batch.is_empty() { cursor = target; break; }
                            for e in batch { cursor = e.id; yield e; }
                            position.store(cursor, Ordering::Relaxed);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }
}

impl EventSink for Hub {
    fn publish(&self, events: Vec<StoredEvent>) {
        if let Some(last) = events.last() {
            self.last_id.fetch_max(last.id, Ordering::SeqCst);
        }
        {
            let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
            for e in &events {
                if recent.len() == self.recent_capacity {
                    recent.pop_front();
                }
                recent.push_back(e.clone());
            }
        }
        if let Some(o) = self
            .observer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            o.published(&events);
        }
        let _ = self.tx.send(events.into());
    }

    fn observe_commit(&self, seconds: f64, units: usize) {
        if let Some(o) = self
            .observer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            o.commit(seconds, units);
        }
    }
}
