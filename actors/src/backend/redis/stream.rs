//! An invalidation stream: one RESP3 connection with `CLIENT TRACKING ON BCAST PREFIX …`,
//! over which Redis pushes the name of every key under the prefixes that any client changes
//! (a write, a delete, an expiry, an eviction).
//!
//! The stream's task owns the connection; a [`StreamHandler`] decides what a push means. Used
//! by the tiered backend (its L1, `tiered/tracking.rs`) and by the Redis backend's namespace
//! generations (`redis/generations.rs`).
//!
//! - **connected and tracking**: [`StreamHandler::established`] (anything cached may have
//!   missed invalidations while the stream was down);
//! - each pushed key list goes to [`StreamHandler::keys`] as it is read off the socket, in the
//!   connection's own task; a null list (`FLUSHDB`/`FLUSHALL`) to
//!   [`StreamHandler::server_flush`];
//! - **lost** (the connection reports a disconnect, or a `PING` every `check_every` gets no
//!   answer within `redis.command_timeout_ms`): [`StreamHandler::lost`], then the task
//!   reconnects with backoff (50 ms doubling to 1 s).
//!
//! Stopped by [`Stream::stop`] or when the [`Stream`] is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::scrub;

/// First wait before reconnecting the stream; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts: a stream back within a second of Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where a stream connects: a RESP3 client for the backend's server (its own connection,
/// not the backend's: the stream's task must not keep the backend alive).
#[derive(Clone)]
pub(crate) struct StreamSource {
    pub(super) client: ::redis::Client,
    pub(super) timeout: Duration,
    pub(super) secrets: Vec<String>,
}

/// What a stream's pushes and state changes do.
#[async_trait]
pub(crate) trait StreamHandler: Send + Sync + 'static {
    /// Keys Redis says changed (raw names, any layout), called in the connection's task.
    fn keys(&self, keys: &[&[u8]]);
    /// The stream is connected and tracking.
    async fn established(&self);
    /// The stream was lost (`why` for the log).
    async fn lost(&self, why: &'static str);
    /// The server flushed its data.
    async fn server_flush(&self);
}

/// What the connection tells the stream's task.
#[derive(Debug)]
enum Event {
    /// The connection closed.
    Lost,
    /// The server flushed its data (`FLUSHDB`/`FLUSHALL`).
    ServerFlush,
}

/// The stream's task: stopping it (or dropping it) aborts the task and closes the connection.
#[derive(Debug)]
pub(crate) struct Stream {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Stream {
    /// Starts a stream over `source`'s server tracking every key that starts with one of
    /// `prefixes`, checked every `check_every`; `what` names it in logs.
    pub(crate) fn start(
        what: &'static str,
        cache: &str,
        source: StreamSource,
        prefixes: Vec<String>,
        check_every: Duration,
        handler: Arc<dyn StreamHandler>,
    ) -> Stream {
        let ctx = Context {
            what,
            cache: cache.to_string(),
            source,
            prefixes,
            check_every,
            handler,
        };
        Stream {
            task: Mutex::new(Some(tokio::spawn(run(ctx)))),
        }
    }

    /// Stops the stream (idempotent).
    pub(crate) fn stop(&self) {
        let task = match self.task.lock() {
            Ok(mut t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Context {
    what: &'static str,
    cache: String,
    source: StreamSource,
    prefixes: Vec<String>,
    check_every: Duration,
    handler: Arc<dyn StreamHandler>,
}

async fn run(ctx: Context) {
    let mut backoff = MIN_BACKOFF;
    let mut logged_failure = false;
    loop {
        match connect(&ctx).await {
            Ok((mut conn, mut events)) => {
                backoff = MIN_BACKOFF;
                logged_failure = false;
                ctx.handler.established().await;
                tracing::debug!(cache = %ctx.cache, stream = ctx.what, "invalidation stream live");
                let why = watch(&ctx, &mut conn, &mut events).await;
                ctx.handler.lost(why).await;
            }
            Err(why) => {
                if !logged_failure {
                    tracing::warn!(cache = %ctx.cache, stream = ctx.what, error = %why, "invalidation stream cannot start; retrying");
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
    let timeout = ctx.source.timeout;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(Event::ServerFlush) => ctx.handler.server_flush().await,
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
    ctx: &Context,
) -> Result<(MultiplexedConnection, mpsc::UnboundedReceiver<Event>), String> {
    let source = &ctx.source;
    let client = &source.client;
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = {
        let handler = ctx.handler.clone();
        move |push: PushInfo| -> Result<(), ()> {
            match push.kind {
                PushKind::Invalidate => match push.data.first() {
                    Some(Value::Array(keys)) => {
                        let names: Vec<&[u8]> = keys
                            .iter()
                            .filter_map(|k| match k {
                                Value::BulkString(b) => Some(b.as_slice()),
                                Value::SimpleString(s) => Some(s.as_bytes()),
                                _ => None,
                            })
                            .collect();
                        handler.keys(&names);
                    }
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
    let timeout = source.timeout;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(handler);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| scrub(&source.secrets, e.to_string()))?;
    let mut tracking = ::redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("BCAST");
    for p in &ctx.prefixes {
        tracking.arg("PREFIX").arg(p);
    }
    tracking
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| scrub(&source.secrets, e.to_string()))?;
    Ok((conn, rx))
}
