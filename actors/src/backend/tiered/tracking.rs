//! The L1's invalidation stream: one RESP3 connection per node with
//! `CLIENT TRACKING ON BCAST PREFIX {key_prefix}:` (`redis/stream.rs`), over which Redis pushes
//! the name of every key under the prefix that any client changes (a write, a delete, an
//! expiry, an eviction), namespace generation counters included.
//!
//! Each pushed key is handled as it is read off the socket, in the connection's own task: its
//! fill token is voided and it is dropped from L1 (`coherence.rs`); a pushed generation
//! counter drops the L2's cached generation of that namespace at once (so no L1 entry of the
//! old generation is served again: each carries the generation it was read in) and then the
//! namespace's L1 entries. The stream's states:
//!
//! - **connected and tracking**: L1 is flushed once (anything in it may have missed
//!   invalidations while the stream was down), then marked live;
//! - **lost** (a disconnect, a `PING` every `tiered.tracking_check_ms` unanswered within
//!   `redis.command_timeout_ms`, or a Redis restart): L1 is marked not live at once, so reads
//!   bypass it, and flushed (kept only while `tiered.stale_if_error_ms` may still serve it);
//!   the stream reconnects with backoff;
//! - a server-side flush (`FLUSHDB`/`FLUSHALL`, pushed as a null key list) flushes L1.
//!
//! Owned by the tiered backend: stopped by `CacheBackend::stop` (the cache's `shutdown()`) or
//! when the backend is dropped.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::super::CacheBackend;
use super::super::memory::{MemoryBackend, MemoryTable};
use super::super::redis::RedisBackend;
use super::super::redis::stream::{Stream, StreamHandler};
use super::coherence::Coherence;
use super::counters::TierCounters;
use crate::config::TieredConfig;
use crate::error::CacheResult;

/// What the stream's pushes do to this node's L1.
#[derive(Debug)]
struct L1Handler {
    cache: String,
    l2: RedisBackend,
    table: Arc<MemoryTable>,
    coherence: Arc<Coherence>,
    counters: Arc<TierCounters>,
    keep_for_stale: bool,
}

/// Starts the stream for `table` (the L1) over `l2`'s server.
///
/// # Errors
/// [`crate::error::CacheError::BackendUnavailable`] when no client can be made for the URL.
pub(super) fn start(
    cache: &str,
    l2: RedisBackend,
    table: Arc<MemoryTable>,
    coherence: Arc<Coherence>,
    counters: Arc<TierCounters>,
    config: &TieredConfig,
) -> CacheResult<Stream> {
    let source = l2.stream_source()?;
    let prefixes = vec![l2.keys().prefix_start()];
    let handler = Arc::new(L1Handler {
        cache: cache.to_string(),
        l2,
        table,
        coherence,
        counters,
        keep_for_stale: config.stale_if_error_ms > 0,
    });
    Ok(Stream::start(
        "tiered L1",
        cache,
        source,
        prefixes,
        Duration::from_millis(config.tracking_check_ms),
        handler,
    ))
}

/// Empties `ns` of L1 (all of it for `None`); returns the entries dropped.
pub(super) async fn clear_l1(table: &Arc<MemoryTable>, ns: Option<&str>) -> u64 {
    MemoryBackend::new(table.clone())
        .clear(ns)
        .await
        .unwrap_or(0)
}

impl L1Handler {
    async fn flush(&self, why: &'static str) {
        self.coherence.bump_epoch();
        let n = clear_l1(&self.table, None).await;
        self.counters.flushed(n);
        tracing::debug!(cache = %self.cache, reason = why, dropped = n, "L1 flushed");
    }
}

#[async_trait]
impl StreamHandler for L1Handler {
    /// Drops every pushed key of this cache's layout from L1, voiding fills in flight first.
    fn keys(&self, keys: &[&[u8]]) {
        let layout = self.l2.keys();
        let mut n = 0;
        for k in keys {
            if let Some((ns, key)) = layout.parse(k) {
                self.coherence.invalidate(&ns, &key);
                self.table.delete(&ns, &key);
                n += 1;
            } else if let Some(ns) = layout.parse_generation_key(k) {
                // The generation first: from here no L1 entry of the old one is served.
                self.l2.generations().invalidate(&ns);
                self.coherence.bump_epoch();
                let table = self.table.clone();
                tokio::spawn(async move {
                    clear_l1(&table, Some(&ns)).await;
                });
                n += 1;
            }
        }
        self.counters.invalidated(n);
    }

    async fn established(&self) {
        self.flush("stream established").await;
        self.l2.generations().set_live(true);
        self.coherence.set_live(true);
        tracing::info!(cache = %self.cache, "L1 invalidation stream live: L1 serves reads");
    }

    async fn lost(&self, why: &'static str) {
        self.coherence.set_live(false);
        self.l2.generations().set_live(false);
        self.counters.tracking_lost();
        tracing::warn!(cache = %self.cache, reason = why, "L1 invalidation stream lost: reads go to Redis until it is back");
        if !self.keep_for_stale {
            self.flush("stream lost").await;
        }
    }

    async fn server_flush(&self) {
        self.l2.generations().invalidate_all();
        self.flush("server flush").await;
    }
}
