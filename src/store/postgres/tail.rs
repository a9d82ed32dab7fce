//! The tail: hands committed events to the sink in id order, for every instance's
//! commits. Woken at once by this instance's writer, by LISTEN/NOTIFY for other
//! instances' commits, and once a second in case a notification was missed.
//! Because ids are taken from one counter row locked until commit, the committed
//! ids always form a prefix: reading `id > last published` never skips one.
//! The same connection receives owner messages (registrations, refreshes, deletes).

use super::{Ctx, EVENTS_CHANNEL, OWNERS_CHANNEL, parse_owner_payload, read_events};
use crate::ownership::OwnerMessage;
use crate::store::{EventFilter, EventSink, StoreError};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

/// Events read per query while catching up.
const PAGE: usize = 5_000;
/// Longest wait without a wake-up before the log is read again anyway.
const IDLE_READ: Duration = Duration::from_secs(1);

pub(super) struct Tail {
    pub config: tokio_postgres::Config,
    pub sink: Arc<dyn EventSink>,
    pub published: watch::Sender<u64>,
    pub committed: watch::Receiver<u64>,
    pub owners: broadcast::Sender<OwnerMessage>,
}

/// Runs until this instance's store is dropped (its writer ends).
pub(super) async fn run(mut tail: Tail) {
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    loop {
        match tail.connect().await {
            Ok((client, mut notes)) => {
                backoff = Duration::from_millis(100);
                if !first {
                    // Owner messages sent while disconnected are lost: owners reload.
                    let _ = tail.owners.send(OwnerMessage::Resync);
                }
                first = false;
                match tail.follow(&client, &mut notes).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event tail lost its connection; reconnecting")
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "event tail cannot connect; retrying"),
        }
        if tail.committed.has_changed().is_err() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

impl Tail {
    async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            mpsc::UnboundedReceiver<Notification>,
        ),
        StoreError,
    > {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .ctx("connecting the event tail")?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "event tail connection failed");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}; LISTEN {OWNERS_CHANNEL}"))
            .await
            .ctx("listening for commits")?;
        Ok((client, rx))
    }

    /// Publishes everything committed, then waits for more; `Ok` once the writer is gone.
    async fn follow(
        &mut self,
        client: &tokio_postgres::Client,
        notes: &mut mpsc::UnboundedReceiver<Notification>,
    ) -> Result<(), StoreError> {
        loop {
            self.catch_up(client).await?;
            tokio::select! {
                note = notes.recv() => match note {
                    Some(note) => {
                        self.handle(&note);
                        while let Ok(note) = notes.try_recv() {
                            self.handle(&note);
                        }
                    }
                    None => {
                        return Err(StoreError::Pool {
                            context: "following the event log",
                            message: "the listening connection closed".into(),
                        })
                    }
                },
                changed = self.committed.changed() => {
                    if changed.is_err() {
                        // The writer is gone: publish its last commits, then stop.
                        self.catch_up(client).await?;
                        return Ok(());
                    }
                }
                _ = tokio::time::sleep(IDLE_READ) => {}
            }
        }
    }

    fn handle(&self, note: &Notification) {
        if note.channel() == OWNERS_CHANNEL {
            match parse_owner_payload(note.payload()) {
                Some(message) => {
                    let _ = self.owners.send(message);
                }
                None => tracing::debug!(
                    payload = note.payload(),
                    "ignoring an unknown owner message"
                ),
            }
        }
    }

    async fn catch_up(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        loop {
            let after = *self.published.borrow();
            let events = read_events(client, after, PAGE, &EventFilter::default()).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            let full = events.len() == PAGE;
            self.sink.publish(events);
            self.published.send_replace(last);
            if !full {
                return Ok(());
            }
        }
    }
}
