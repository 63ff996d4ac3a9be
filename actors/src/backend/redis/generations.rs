//! Namespace generations (`redis.namespace_generations`): `clear()` of a namespace in one
//! `INCR`, whatever the namespace holds.
//!
//! Each namespace has a counter in Redis (`{prefix}::gen:{namespace}`, absent = 0) and its keys
//! carry it (`keys.rs`): clearing a namespace increments the counter, after which no node reads
//! or writes the old generation's keys again; a background task then unlinks them in batches
//! (`RedisBackend::clear`).
//!
//! Every node keeps the counters it has read in this cache, so an operation costs no extra
//! round trip. A cached counter is trusted only while an invalidation stream
//! (`CLIENT TRACKING … BCAST PREFIX {prefix}::gen:`) is live: Redis pushes the counter's name
//! to every node when any node increments it, and the push drops it here. The stream belongs
//! to the Redis backend (`RedisBackend::start_generation_stream`), or, under the tiered
//! backend, to its L1 stream, which tracks the whole prefix. While no stream is live every
//! operation reads the counter first (one more round trip, never a stale generation).
//!
//! A read that raced an increment cannot store the old value: each invalidation bumps an
//! epoch, and a value read from Redis is kept only if the epoch did not move meanwhile.
//!
//! The backend's side lives here too: reading a namespace's generation
//! (`RedisBackend::generation`), the `INCR` and background unlink of `clear()`
//! (`RedisBackend::next_generation`), and the generation stream's handler.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;

use super::keys::KeyLayout;
use super::stream::{Stream, StreamHandler};
use super::{Kind, NAME, RedisBackend};
use crate::error::CacheResult;

/// The generations this node has read, trusted while the stream is live.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    enabled: bool,
    cached: DashMap<String, u64>,
    epoch: AtomicU64,
    live: AtomicBool,
}

impl Generations {
    /// A cache of generations; `enabled = false` keeps every namespace at generation 0.
    pub(crate) fn new(enabled: bool) -> Generations {
        Generations {
            enabled,
            ..Generations::default()
        }
    }

    /// Whether namespaces have generations.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The cached generation of `ns`, if one may be trusted now.
    #[inline]
    pub(crate) fn cached(&self, ns: &str) -> Option<u64> {
        if !self.enabled {
            return Some(0);
        }
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        self.cached.get(ns).map(|g| *g)
    }

    /// The epoch to pass to [`Generations::remember`] for a value about to be read.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `generation` of `ns`, read from Redis after [`Generations::epoch`] returned
    /// `epoch`, unless an invalidation arrived meanwhile or no stream is live.
    pub(crate) fn remember(&self, ns: &str, generation: u64, epoch: u64) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        self.cached.insert(ns.to_string(), generation);
        // An invalidation that ran between the epoch check and the insert may have missed
        // the entry: drop it again then.
        if self.epoch.load(Ordering::Acquire) != epoch {
            self.cached.remove(ns);
        }
    }

    /// Redis said `ns`'s counter changed.
    pub(crate) fn invalidate(&self, ns: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cached.remove(ns);
    }

    /// Every cached generation dropped (a server flush, a stream that connected or was lost).
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cached.clear();
    }

    /// The stream went live (`true`) or was lost: either way nothing cached before is kept.
    pub(crate) fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.invalidate_all();
        if live {
            self.live.store(true, Ordering::Release);
        }
    }
}

impl RedisBackend {
    /// With `redis.namespace_generations`, starts the stream that tells this node when
    /// another one cleared a namespace (the tiered backend does not call it: its L1 stream
    /// covers the generation counters too). Stopped by
    /// [`CacheBackend::stop`](crate::backend::CacheBackend::stop).
    ///
    /// # Errors
    /// [`CacheError::BackendUnavailable`](crate::error::CacheError::BackendUnavailable) when no
    /// client can be made for the URL.
    pub fn start_generation_stream(&self, cache: &str) -> CacheResult<()> {
        if !self.inner.generations.enabled() || self.inner.source.standalone_client().is_none() {
            // Cluster and sentinel: no stream, each call reads its namespace's generation.
            return Ok(());
        }
        let handler = Arc::new(GenerationHandler {
            cache: cache.to_string(),
            keys: self.inner.keys.clone(),
            generations: self.inner.generations.clone(),
        });
        let stream = Stream::start(
            "namespace generations",
            cache,
            self.stream_source()?,
            vec![self.inner.keys.generation_start()],
            GENERATION_CHECK,
            handler,
        );
        let mut slot = match self.inner.generation_stream.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Some(stream);
        Ok(())
    }

    /// The current generation of `ns`: the cached one, else read from Redis (and cached
    /// while a stream is live).
    pub(super) async fn generation(&self, ns: &str) -> CacheResult<u64> {
        let generations = &self.inner.generations;
        if let Some(g) = generations.cached(ns) {
            return Ok(g);
        }
        let epoch = generations.epoch();
        let k = &self.inner.keys.generation_key(ns);
        let g: Option<u64> = self
            .call(
                "generation",
                Kind::Value,
                true,
                Some(k.as_str()),
                |mut c| async move { ::redis::cmd("GET").arg(k).query_async(&mut c).await },
            )
            .await?;
        let g = g.unwrap_or(0);
        generations.remember(ns, g, epoch);
        Ok(g)
    }
}

/// How often the generation stream checks its connection with a `PING`: a stream that died
/// silently is noticed (and every cached generation distrusted) within this period plus
/// `redis.command_timeout_ms`. The tiered backend's `tracking_check_ms` default, for the same
/// reason.
const GENERATION_CHECK: Duration = Duration::from_secs(1);

/// Keeps a node's cached generations current from the generation stream's pushes.
struct GenerationHandler {
    cache: String,
    keys: KeyLayout,
    generations: Arc<Generations>,
}

#[async_trait]
impl StreamHandler for GenerationHandler {
    fn keys(&self, keys: &[&[u8]]) {
        for k in keys {
            if let Some(ns) = self.keys.parse_generation_key(k) {
                self.generations.invalidate(&ns);
            }
        }
    }

    async fn established(&self) {
        self.generations.set_live(true);
        tracing::info!(cache = %self.cache, backend = NAME, "namespace generation stream live: generations cached");
    }

    async fn lost(&self, why: &'static str) {
        self.generations.set_live(false);
        tracing::warn!(cache = %self.cache, backend = NAME, reason = why, "namespace generation stream lost: every call reads its namespace's generation until it is back");
    }

    async fn server_flush(&self) {
        self.generations.invalidate_all();
    }
}

impl RedisBackend {
    /// `clear()` of `ns` with generations: one `INCR` of its counter, then its older
    /// generations unlinked in the background. Returns 0: the entries are unreachable at
    /// once, but how many there were is known only when the background unlink is done (it
    /// logs and counts them).
    pub(super) async fn next_generation(&self, ns: &str) -> CacheResult<u64> {
        let generations = &self.inner.generations;
        let k = &self.inner.keys.generation_key(ns);
        let epoch = generations.epoch();
        let generation: u64 = self
            .call(
                "clear",
                Kind::Value,
                false,
                Some(k.as_str()),
                |mut c| async move { ::redis::cmd("INCR").arg(k).query_async(&mut c).await },
            )
            .await?;
        // This node reads the new generation at once, whatever its stream says and when.
        generations.invalidate(ns);
        generations.remember(ns, generation, epoch.wrapping_add(1));
        let this = self.clone();
        let ns = ns.to_string();
        tokio::spawn(async move { this.unlink_older_generations(&ns, generation).await });
        Ok(0)
    }

    /// Unlinks every key of `ns` in a generation below `current`, in `scan_batch_size`
    /// batches (one `SCAN` step and at most one `UNLINK` per round trip, as `clear()`).
    /// Older generations an earlier cleanup left (its node stopped) go too.
    async fn unlink_older_generations(&self, ns: &str, current: u64) {
        let keys = &self.inner.keys;
        let started = std::time::Instant::now();
        let result = self
            .scan_unlink("clear", keys.namespace_family_pattern(ns), |k| {
                keys.parse_at(k)
                    .is_some_and(|(n, g, _)| g < current && n == ns)
            })
            .await;
        match result {
            Ok(n) => {
                metrics::counter!("deeper_cache_generation_keys_unlinked_total", "backend" => NAME)
                    .increment(n);
                tracing::info!(
                    backend = NAME,
                    unlinked = n,
                    generation = current,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "old namespace generations unlinked"
                );
            }
            Err(e) => {
                tracing::warn!(backend = NAME, generation = current, error = %e, "unlinking old namespace generations stopped; the next clear() of the namespace resumes it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_is_always_generation_zero() {
        let g = Generations::new(false);
        assert_eq!(g.cached("a"), Some(0));
    }

    #[test]
    fn nothing_is_trusted_without_a_live_stream() {
        let g = Generations::new(true);
        let e = g.epoch();
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), None);
        g.set_live(true);
        let e = g.epoch();
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), Some(3));
        g.set_live(false);
        assert_eq!(g.cached("a"), None);
    }

    #[test]
    fn a_read_racing_an_invalidation_is_not_kept() {
        let g = Generations::new(true);
        g.set_live(true);
        let e = g.epoch();
        g.invalidate("a"); // pushed while the GET was in flight
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), None);
        let e = g.epoch();
        g.remember("a", 4, e);
        assert_eq!(g.cached("a"), Some(4));
        g.invalidate("a");
        assert_eq!(g.cached("a"), None);
    }
}
