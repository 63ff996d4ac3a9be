//! The tiered backend: a bounded in-memory L1 on every node in front of the Redis L2, kept
//! coherent across nodes by Redis server-assisted client-side caching.
//!
//! # Reads
//! An L1 hit answers at once (while the invalidation stream is live). A miss reads L2 (`GET` +
//! `PTTL` in one round trip) and fills L1 with the value for the L2 entry's remaining TTL,
//! capped by `tiered.l1_ttl_max_ms`, guarded by a fill token against the fill race
//! (`tiered/coherence.rs`). `get_or_store` / `get_or_refresh` go through the same read, so
//! their single flight covers L1, then L2, then the generator.
//!
//! # Writes
//! Every write (`put`, `delete`, counters, sets, `clear`, `delete_pattern`) goes to L2 first
//! and is acknowledged only after L2 acknowledged it; then this node drops the key (or the
//! namespace, or everything a pattern matched) from its own L1, so it reads its own write at
//! once. Other nodes drop it when Redis tells them (`tiered/tracking.rs`).
//!
//! **Counters and sets** live in L2 only: `increment` and the set operations always go to
//! Redis (atomic across nodes), and `set_members` / `is_member` are always answered by Redis.
//! A `get` of a counter may be answered from L1 like any value; every change of it, by any
//! node, invalidates it, so it is exact up to the propagation bound.
//!
//! # What a reader can see
//! | state | reads | writes |
//! |---|---|---|
//! | stream live | L1, else L2 (then filled): at most the propagation bound behind the last acknowledged write | L2, then own L1 dropped |
//! | stream lost, Redis answering | L2 only (L1 bypassed, flushed) | as above |
//! | Redis unreachable | a miss (`get`) or `BackendUnavailable`; with `stale_if_error_ms` > 0, an L1 entry filled at most that long ago | `BackendUnavailable`, nothing written |
//! | stream back | L1 flushed once more, then filled again | as above |
//!
//! The L1 is a [`MemoryTable`] of its own, bounded (`tiered.l1.*`); the Store and Cleanup
//! actors own and sweep it as they do the memory backend's table. Each L1 value carries the
//! wall-clock time it was filled (8 bytes before the value), for `stale_if_error_ms`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Buf, Bytes};

use super::CacheBackend;
use super::memory::{MemoryBackend, MemoryTable};
use super::redis::RedisBackend;
use crate::config::TieredConfig;
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::stats::TierStats;
use crate::ttl::Ttl;

mod coherence;
mod counters;
mod tracking;

use coherence::{Coherence, FillToken};
use counters::TierCounters;
use tracking::Tracker;

/// Backend name in errors, logs and metric labels.
const NAME: &str = "tiered";

/// Bytes of the fill-time stamp before each L1 value.
const STAMP: usize = 8;

/// [`CacheBackend`] with a per-node L1 over the Redis L2. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TieredBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// This node's L1 (shared with the Store and Cleanup actors).
    table: Arc<MemoryTable>,
    /// The same table behind the backend trait, for its namespace-wide operations.
    l1: MemoryBackend,
    l2: RedisBackend,
    coherence: Arc<Coherence>,
    counters: Arc<TierCounters>,
    /// Longest an entry stays in L1.
    ttl_max: Ttl,
    /// How old a fill may be to be served while Redis is unreachable (0 = never).
    stale_if_error_ms: u64,
    /// The invalidation stream's task; stopped by [`CacheBackend::stop`] or when the last
    /// handle goes.
    tracker: Tracker,
}

impl TieredBackend {
    /// A tiered backend over `l2` with `table` as its L1, for cache `cache` (metric labels).
    /// Starts the invalidation stream in the background: L1 serves reads once Redis confirmed
    /// the tracking, and L2 serves everything until then.
    ///
    /// # Errors
    /// [`CacheError::Start`] outside a Tokio runtime.
    pub fn new(
        cache: &str,
        table: Arc<MemoryTable>,
        l2: RedisBackend,
        config: &TieredConfig,
    ) -> CacheResult<TieredBackend> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CacheError::Start {
                reason: "the tiered backend must be created inside a Tokio runtime".into(),
            });
        }
        let coherence = Arc::new(Coherence::new());
        let counters = Arc::new(TierCounters::default());
        let tracker = Tracker::start(
            cache,
            l2.clone(),
            table.clone(),
            coherence.clone(),
            counters.clone(),
            config,
        );
        Ok(TieredBackend {
            inner: Arc::new(Inner {
                l1: MemoryBackend::new(table.clone()),
                table,
                l2,
                coherence,
                counters,
                ttl_max: Ttl::After(Duration::from_millis(config.l1_ttl_max_ms)),
                stale_if_error_ms: config.stale_if_error_ms,
                tracker,
            }),
        })
    }

    /// The L2 backend.
    pub fn l2(&self) -> &RedisBackend {
        &self.inner.l2
    }

    /// Whether the invalidation stream is live (L1 serving reads).
    pub fn is_tracking(&self) -> bool {
        self.inner.coherence.is_live()
    }

    /// This node's L1 value of `(ns, key)` if it holds one, whatever the stream's state
    /// (for tests and tools; reads use [`CacheBackend::get`]).
    pub fn l1_peek(&self, ns: &str, key: &str) -> Option<Bytes> {
        let mut v = self.inner.table.get(ns, key).ok().flatten()?;
        (v.len() >= STAMP).then(|| {
            v.advance(STAMP);
            v
        })
    }

    /// Fills L1 with `value` if `token` is still current (see `tiered/coherence.rs`).
    fn fill(&self, ns: &str, key: &str, value: &Bytes, l2_ttl: Ttl, token: FillToken) {
        let c = &self.inner.coherence;
        if !c.is_current(&token) {
            return;
        }
        let ttl = match (l2_ttl, self.inner.ttl_max) {
            (Ttl::After(a), Ttl::After(b)) => Ttl::After(a.min(b)),
            (_, cap) => cap,
        };
        let mut stamped = Vec::with_capacity(STAMP + value.len());
        stamped.extend_from_slice(&self.inner.table.clock().epoch_ms().to_le_bytes());
        stamped.extend_from_slice(value);
        // A fill that does not fit (a value over the L1's own limits) is simply not cached.
        if self.inner.table.put(ns, key, stamped.into(), ttl).is_ok() && !c.is_current(&token) {
            self.inner.table.delete(ns, key);
        }
    }

    /// Drops `(ns, key)` from this node's L1 after a write (and stops fills begun before it).
    fn forget(&self, ns: &str, key: &str) {
        self.inner.coherence.invalidate(ns, key);
        self.inner.table.delete(ns, key);
    }

    /// While Redis is unreachable: an L1 entry filled at most `stale_if_error_ms` ago.
    fn stale(&self, ns: &str, key: &str) -> Option<Bytes> {
        let limit = self.inner.stale_if_error_ms;
        if limit == 0 {
            return None;
        }
        let mut v = self.inner.table.get(ns, key).ok().flatten()?;
        if v.len() < STAMP {
            return None;
        }
        let filled = v.get_u64_le();
        let age = self.inner.table.clock().epoch_ms().saturating_sub(filled);
        (age <= limit).then_some(v)
    }

    /// A write to L2, then this node's L1 dropped for the key whatever the outcome (a write
    /// that timed out may have been applied).
    async fn write<T>(
        &self,
        ns: &str,
        key: &str,
        l2: impl std::future::Future<Output = CacheResult<T>>,
    ) -> CacheResult<T> {
        let r = l2.await;
        self.forget(ns, key);
        r
    }

    /// Everything L1 holds of `ns` (of every namespace for `None`) dropped, and every fill in
    /// flight voided.
    async fn flush_l1(&self, ns: Option<&str>) {
        self.inner.coherence.bump_epoch();
        tracking::clear_l1(&self.inner.table, ns).await;
    }
}

#[async_trait]
impl CacheBackend for TieredBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tier_stats(&self) -> Option<TierStats> {
        Some(self.inner.counters.snapshot(self.is_tracking()))
    }

    fn stop(&self) {
        self.inner.tracker.stop();
    }

    async fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        let inner = &*self.inner;
        if inner.coherence.is_live()
            && let Ok(Some(mut v)) = inner.table.get(ns, key)
            && v.len() >= STAMP
        {
            inner.counters.l1_hit();
            v.advance(STAMP);
            return Ok(Some(v));
        }
        inner.counters.l1_miss();
        let token = inner.coherence.token(ns, key);
        match inner.l2.get_with_ttl(ns, key).await {
            Ok(Some((v, ttl))) => {
                inner.counters.l2_hit();
                if let Some(token) = token {
                    self.fill(ns, key, &v, ttl, token);
                }
                Ok(Some(v))
            }
            Ok(None) => {
                inner.counters.l2_miss();
                Ok(None)
            }
            Err(e) => {
                inner.counters.l2_error();
                if e.is_unavailable()
                    && let Some(v) = self.stale(ns, key)
                {
                    inner.counters.stale_served();
                    return Ok(Some(v));
                }
                Err(e)
            }
        }
    }

    async fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.write(ns, key, self.inner.l2.put(ns, key, value, ttl))
            .await
    }

    async fn delete(&self, ns: &str, key: &str) -> CacheResult<bool> {
        self.write(ns, key, self.inner.l2.delete(ns, key)).await
    }

    async fn exists(&self, ns: &str, key: &str) -> CacheResult<bool> {
        self.inner.l2.exists(ns, key).await
    }

    async fn ttl(&self, ns: &str, key: &str) -> CacheResult<Option<Ttl>> {
        self.inner.l2.ttl(ns, key).await
    }

    async fn increment(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        ttl_on_create: Ttl,
    ) -> CacheResult<i64> {
        self.write(
            ns,
            key,
            self.inner.l2.increment(ns, key, delta, ttl_on_create),
        )
        .await
    }

    async fn add_to_set(
        &self,
        ns: &str,
        key: &str,
        member: Bytes,
        ttl_on_create: Ttl,
    ) -> CacheResult<bool> {
        self.write(
            ns,
            key,
            self.inner.l2.add_to_set(ns, key, member, ttl_on_create),
        )
        .await
    }

    async fn remove_from_set(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        self.write(ns, key, self.inner.l2.remove_from_set(ns, key, member))
            .await
    }

    async fn set_members(&self, ns: &str, key: &str) -> CacheResult<Vec<Bytes>> {
        self.inner.l2.set_members(ns, key).await
    }

    async fn is_member(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        self.inner.l2.is_member(ns, key, member).await
    }

    async fn clear(&self, ns: Option<&str>) -> CacheResult<u64> {
        let r = self.inner.l2.clear(ns).await;
        self.flush_l1(ns).await;
        r
    }

    async fn take_lease(
        &self,
        ns: &str,
        key: &str,
        token: u64,
        ttl_ms: u64,
    ) -> CacheResult<Option<bool>> {
        self.inner.l2.take_lease(ns, key, token, ttl_ms).await
    }

    async fn release_lease(&self, ns: &str, key: &str, token: u64) -> CacheResult<()> {
        self.inner.l2.release_lease(ns, key, token).await
    }

    async fn lease_held(&self, ns: &str, key: &str) -> CacheResult<Option<bool>> {
        self.inner.l2.lease_held(ns, key).await
    }

    async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> CacheResult<u64> {
        let r = self.inner.l2.delete_pattern(ns, pattern).await;
        self.inner.coherence.bump_epoch();
        let _ = self.inner.l1.delete_pattern(ns, pattern).await;
        r
    }
}
