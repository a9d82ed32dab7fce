//! The NATS JetStream mirror: every committed event is published to a stream so
//! other consumers can read the log through NATS. The store stays the system of
//! record; the mirror is derived from it and can always be rebuilt from it.
//!
//! Each event is published with `Nats-Msg-Id` = its id and
//! `Nats-Expected-Last-Sequence` = id − 1, so the stream's sequence equals the
//! event id: a re-publish after a crash, or by a second relay, is refused by the
//! server instead of stored twice, and the relay resumes from the stream's last
//! sequence. In fleet mode the instance that holds shard 0 relays.

use crate::daemon::{Core, stopped};
use crate::store::EventFilter;
use anyhow::{Context, bail};
use futures::{FutureExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;

/// Most publishes in flight before their acknowledgements are awaited.
const IN_FLIGHT: usize = 256;

/// Relays until shutdown; reconnects and resumes after any failure.
pub async fn run(core: Arc<Core>) {
    let mut stop = core.shutdown.subscribe();
    let mut backoff = Duration::from_millis(200);
    loop {
        if core.is_shutting_down() {
            return;
        }
        if !core.ownership.holds_shard(0) {
            // Another instance relays; check again shortly (it may hand over).
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        match relay(&core).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                core.metrics.mirror_failures.inc();
                tracing::warn!(
                    error = format!("{e:#}"),
                    "JetStream mirror interrupted; resuming from the stream's last sequence"
                );
                tokio::select! {
                    _ = stopped(&mut stop) => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One connection's worth of relaying; `Ok` on shutdown or when shard 0 moved away.
async fn relay(core: &Arc<Core>) -> anyhow::Result<()> {
    let cfg = &core.config.mirror;
    let Some(url) = &cfg.nats_url else {
        return Ok(());
    };
    let client = async_nats::connect(url.expose())
        .await
        .context("connecting to NATS (mirror.nats_url)")?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![cfg.subject.clone()],
            ..Default::default()
        })
        .await
        .with_context(|| format!("opening the JetStream stream {}", cfg.stream))?;
    let last = stream
        .info()
        .await
        .context("reading the stream's last sequence")?
        .state
        .last_sequence;
    let events = core
        .hub
        .subscribe(core.store.clone(), last, EventFilter::default())
        .await
        .with_context(|| {
            format!(
                "the stream {} ends at sequence {last}, which the event log cannot continue from",
                cfg.stream
            )
        })?;
    tracing::info!(stream = %cfg.stream, from = last + 1, "JetStream mirror relaying");
    let mut events = std::pin::pin!(events);
    let mut stop = core.shutdown.subscribe();
    loop {
        let first = tokio::select! {
            _ = stopped(&mut stop) => return Ok(()),
            e = events.next() => match e {
                Some(e) => e,
                None => bail!("the event subscription ended"),
            },
        };
        if !core.ownership.holds_shard(0) {
            tracing::info!("shard 0 moved to another instance; it relays from now on");
            return Ok(());
        }
        let mut batch = vec![first];
        while batch.len() < IN_FLIGHT {
            match events.next().now_or_never() {
                Some(Some(e)) => batch.push(e),
                _ => break,
            }
        }
        let mut acks = Vec::with_capacity(batch.len());
        for e in &batch {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", e.id.to_string().as_str());
            headers.insert(
                "Nats-Expected-Last-Sequence",
                (e.id - 1).to_string().as_str(),
            );
            let ack = js
                .publish_with_headers(
                    cfg.subject.clone(),
                    headers,
                    bytes::Bytes::copy_from_slice(e.json.as_bytes()),
                )
                .await
                .with_context(|| format!("publishing event {}", e.id))?;
            acks.push((e.id, ack));
        }
        for (id, ack) in acks {
            let ack = ack
                .await
                .with_context(|| format!("JetStream refused event {id}"))?;
            // A duplicate at its own sequence was mirrored before (a re-publish
            // after a handover or a lost acknowledgement): nothing to do.
            if ack.sequence != id {
                bail!(
                    "event {id} landed at stream sequence {} (duplicate: {}): the stream is not this log's mirror",
                    ack.sequence,
                    ack.duplicate
                );
            }
            core.metrics.mirror_published.inc();
            core.metrics.mirror_last_id.set(id as i64);
        }
    }
}
