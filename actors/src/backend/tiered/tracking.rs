//! The invalidation stream: one RESP3 connection per node with
//! `CLIENT TRACKING ON BCAST PREFIX {key_prefix}:`, over which Redis pushes the name of every
//! key under the prefix that any client changes (a write, a delete, an expiry, an eviction).
//!
//! Each pushed key is handled as it is read off the socket, in the connection's own task:
//! its fill token is voided and it is dropped from L1 (`coherence.rs`). The tracker task owns
//! the connection and its state:
//!
//! - **connected and tracking**: L1 is flushed once (anything in it may have missed
//!   invalidations while the stream was down), then marked live;
//! - **lost** (the connection reports a disconnect, a `PING` every `tiered.tracking_check_ms`
//!   fails within `redis.command_timeout_ms`, or Redis restarts): L1 is marked not live at
//!   once, so reads bypass it, and flushed (kept only while `tiered.stale_if_error_ms` may
//!   still serve it); the tracker reconnects with backoff (50 ms doubling to 1 s);
//! - a server-side flush (`FLUSHDB`/`FLUSHALL`, pushed as a null key list) flushes L1.
//!
//! Owned by the tiered backend: stopped by `CacheBackend::stop` (the cache's `shutdown()`) or
//! when the backend is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::CacheBackend;
use super::super::memory::{MemoryBackend, MemoryTable};
use super::super::redis::RedisBackend;
use super::coherence::Coherence;
use super::counters::TierCounters;
use crate::config::TieredConfig;

/// First wait before reconnecting the stream; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts: a stream back within a second of Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What the connection tells the tracker task.
#[derive(Debug)]
enum Event {
    /// The connection closed.
    Lost,
    /// The server flushed its data (`FLUSHDB`/`FLUSHALL`).
    ServerFlush,
}

/// Everything the stream needs, shared with the push handler.
#[derive(Debug)]
struct Context {
    cache: String,
    l2: RedisBackend,
    table: Arc<MemoryTable>,
    coherence: Arc<Coherence>,
    counters: Arc<TierCounters>,
    check_every: Duration,
    keep_for_stale: bool,
}

/// The tracker task's handle: stopping it (or dropping it) aborts the task and closes the
/// connection.
#[derive(Debug)]
pub(super) struct Tracker {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Tracker {
    /// Starts the stream for `table` (the L1) over `l2`'s server.
    pub(super) fn start(
        cache: &str,
        l2: RedisBackend,
        table: Arc<MemoryTable>,
        coherence: Arc<Coherence>,
        counters: Arc<TierCounters>,
        config: &TieredConfig,
    ) -> Tracker {
        let ctx = Arc::new(Context {
            cache: cache.to_string(),
            l2,
            table,
            coherence,
            counters,
            check_every: Duration::from_millis(config.tracking_check_ms),
            keep_for_stale: config.stale_if_error_ms > 0,
        });
        Tracker {
            task: Mutex::new(Some(tokio::spawn(run(ctx)))),
        }
    }

    /// Stops the stream (idempotent).
    pub(super) fn stop(&self) {
        let task = match self.task.lock() {
            Ok(mut t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Empties `ns` of L1 (all of it for `None`); returns the entries dropped.
pub(super) async fn clear_l1(table: &Arc<MemoryTable>, ns: Option<&str>) -> u64 {
    MemoryBackend::new(table.clone())
        .clear(ns)
        .await
        .unwrap_or(0)
}

async fn flush(ctx: &Context, why: &'static str) {
    ctx.coherence.bump_epoch();
    let n = clear_l1(&ctx.table, None).await;
    ctx.counters.flushed(n);
    tracing::debug!(cache = %ctx.cache, reason = why, dropped = n, "L1 flushed");
}

async fn run(ctx: Arc<Context>) {
    let mut backoff = MIN_BACKOFF;
    let mut logged_failure = false;
    loop {
        match connect(&ctx).await {
            Ok((mut conn, mut events)) => {
                backoff = MIN_BACKOFF;
                logged_failure = false;
                flush(&ctx, "stream established").await;
                ctx.coherence.set_live(true);
                tracing::info!(cache = %ctx.cache, "L1 invalidation stream live: L1 serves reads");
                let why = watch(&ctx, &mut conn, &mut events).await;
                ctx.coherence.set_live(false);
                ctx.counters.tracking_lost();
                tracing::warn!(cache = %ctx.cache, reason = why, "L1 invalidation stream lost: reads go to Redis until it is back");
                if !ctx.keep_for_stale {
                    flush(&ctx, "stream lost").await;
                }
            }
            Err(why) => {
                if !logged_failure {
                    tracing::warn!(cache = %ctx.cache, error = %why, "L1 invalidation stream cannot start; retrying");
                    logged_failure = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Serves one connection until it is lost; returns why.
async fn watch(
    ctx: &Context,
    conn: &mut MultiplexedConnection,
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> &'static str {
    let timeout = ctx.l2.command_timeout();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(Event::ServerFlush) => flush(ctx, "server flush").await,
                Some(Event::Lost) | None => return "disconnected",
            },
            () = tokio::time::sleep(ctx.check_every) => {
                let ping = ::redis::cmd("PING");
                let answer = tokio::time::timeout(timeout, ping.query_async::<()>(conn)).await;
                if !matches!(answer, Ok(Ok(()))) {
                    return "no answer to PING";
                }
            }
        }
    }
}

/// Opens the stream's connection and turns tracking on.
async fn connect(
    ctx: &Arc<Context>,
) -> Result<(MultiplexedConnection, mpsc::UnboundedReceiver<Event>), String> {
    let client = ctx.l2.resp3_client().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = {
        let ctx = ctx.clone();
        move |push: PushInfo| -> Result<(), ()> {
            match push.kind {
                PushKind::Invalidate => match push.data.first() {
                    Some(Value::Array(keys)) => invalidate(&ctx, keys),
                    _ => {
                        let _ = tx.send(Event::ServerFlush);
                    }
                },
                PushKind::Disconnection => {
                    let _ = tx.send(Event::Lost);
                }
                _ => {}
            }
            Ok(())
        }
    };
    let timeout = ctx.l2.command_timeout();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(handler);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| ctx.l2.scrub(e.to_string()))?;
    ::redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(ctx.l2.keys().prefix_start())
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| ctx.l2.scrub(e.to_string()))?;
    Ok((conn, rx))
}

/// Drops every pushed key of this cache's layout from L1, voiding fills in flight first.
fn invalidate(ctx: &Context, keys: &[Value]) {
    let mut n = 0;
    for k in keys {
        let bytes: &[u8] = match k {
            Value::BulkString(b) => b,
            Value::SimpleString(s) => s.as_bytes(),
            _ => continue,
        };
        if let Some((ns, key)) = ctx.l2.keys().parse(bytes) {
            ctx.coherence.invalidate(&ns, &key);
            ctx.table.delete(&ns, &key);
            n += 1;
        }
    }
    ctx.counters.invalidated(n);
}
