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
//! # Time to idle
//! In a namespace with a `tti` every read goes to L2 (`GETEX … PX tti`) and nothing of it is
//! kept in L1: an L1 hit would be a use Redis never sees, and the entry would idle out there
//! while being read here.
//!
//! # Bulk calls
//! `get_many` answers what L1 holds (while the stream is live) and reads every miss from L2 in
//! one round trip (a pipeline of `GET` + `PTTL`), filling L1 as a `get` does. `put_many` and
//! `delete_many` are one L2 round trip, then this node's L1 drops every key, as a single
//! write does.
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
//! # What the admin interface sees
//! Key pages and namespaces are L2's (the fleet's data); an entry's metadata is L2's, with
//! what this node's L1 holds of it beside it ([`EntryInfo::l1`]), to debug a node that serves
//! something other than Redis holds.
//!
//! The L1 is a [`MemoryTable`] of its own, bounded (`tiered.l1.*`); the Store and Cleanup
//! actors own and sweep it as they do the memory backend's table. Each L1 value carries the
//! wall-clock time it was filled, for `stale_if_error_ms`, and the namespace generation it was
//! read in (16 bytes before the value): with `redis.namespace_generations`, an L1 entry is
//! served only while its generation is the namespace's current one, so a `clear()` on any
//! node stops every node's L1 from serving the namespace as soon as the generation counter's
//! invalidation arrives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Buf, Bytes};

use super::CacheBackend;
use super::browse::{EntryInfo, KeyPage, L1Copy, NamespaceList};
use super::memory::{MemoryBackend, MemoryTable};
use super::redis::BreakerState;
use super::redis::RedisBackend;
use crate::batch::{EntryList, KeyList};
use crate::config::TieredConfig;
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::stats::TierStats;
use crate::ttl::Ttl;

mod coherence;
mod counters;
mod tracking;

use super::redis::stream::Stream;
use coherence::{Coherence, FillToken};
use counters::TierCounters;

/// Backend name in errors, logs and metric labels.
const NAME: &str = "tiered";

/// Bytes of the stamp before each L1 value: the fill time (wall clock, ms) and the namespace
/// generation the value was read in (0 without `redis.namespace_generations`).
const STAMP: usize = 16;

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
    tracker: Stream,
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
        let tracker = tracking::start(
            cache,
            l2.clone(),
            table.clone(),
            coherence.clone(),
            counters.clone(),
            config,
        )?;
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
    fn fill(
        &self,
        ns: &str,
        key: &str,
        value: &Bytes,
        (l2_ttl, generation): (Ttl, u64),
        token: FillToken,
    ) {
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
        stamped.extend_from_slice(&generation.to_le_bytes());
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
        v.advance(STAMP - 8);
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

/// The generation in an L1 value's stamp.
#[inline]
fn stamp_generation(stamped: &Bytes) -> u64 {
    let mut g = [0u8; 8];
    g.copy_from_slice(&stamped[8..16]);
    u64::from_le_bytes(g)
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
        if inner.l2.tti_ms(ns).is_some() {
            // A namespace with a time to idle: every read is a use Redis must see.
            return inner.l2.get(ns, key).await;
        }
        if inner.coherence.is_live()
            && let Ok(Some(mut v)) = inner.table.get(ns, key)
            && v.len() >= STAMP
            && inner.l2.generations().cached(ns) == Some(stamp_generation(&v))
        {
            inner.counters.l1_hit();
            v.advance(STAMP);
            return Ok(Some(v));
        }
        inner.counters.l1_miss();
        let token = inner.coherence.token(ns, key);
        match inner.l2.get_with_ttl(ns, key).await {
            Ok(Some((v, ttl, generation))) => {
                inner.counters.l2_hit();
                if let Some(token) = token {
                    self.fill(ns, key, &v, (ttl, generation), token);
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

    async fn get_many(&self, keys: &KeyList) -> CacheResult<Vec<Option<Bytes>>> {
        let inner = &*self.inner;
        let live = inner.coherence.is_live();
        let mut out: Vec<Option<Bytes>> = Vec::with_capacity(keys.len());
        // L1 first; the misses (positions, keys, fill tokens taken before the L2 read) go to
        // L2 in one round trip.
        let mut misses = Vec::new();
        for (i, (ns, key)) in keys.iter().enumerate() {
            let idle = inner.l2.tti_ms(ns).is_some();
            if live
                && !idle
                && let Ok(Some(mut v)) = inner.table.get(ns, key)
                && v.len() >= STAMP
                && inner.l2.generations().cached(ns) == Some(stamp_generation(&v))
            {
                inner.counters.l1_hit();
                v.advance(STAMP);
                out.push(Some(v));
                continue;
            }
            inner.counters.l1_miss();
            out.push(None);
            // Keys of a namespace with a time to idle are read from L2 (GETEX), never filled.
            let token = if idle {
                None
            } else {
                inner.coherence.token(ns, key)
            };
            misses.push((i, ns, key, token));
        }
        if misses.is_empty() {
            return Ok(out);
        }
        let wanted: Vec<(&str, &str)> = misses.iter().map(|(_, ns, k, _)| (*ns, *k)).collect();
        match inner.l2.get_many_with_ttl(&wanted).await {
            Ok(found) => {
                for ((i, ns, key, token), got) in misses.into_iter().zip(found) {
                    match got {
                        Some((v, ttl, generation)) => {
                            inner.counters.l2_hit();
                            if let Some(token) = token {
                                self.fill(ns, key, &v, (ttl, generation), token);
                            }
                            out[i] = Some(v);
                        }
                        None => inner.counters.l2_miss(),
                    }
                }
                Ok(out)
            }
            Err(e) => {
                inner.counters.l2_error();
                if !e.is_unavailable() {
                    return Err(e);
                }
                // Redis unreachable: what `stale_if_error_ms` allows, as for `get`; without
                // it the call fails like `get` (which the facade turns into misses).
                let mut any = false;
                for (i, ns, key, _) in misses {
                    if let Some(v) = self.stale(ns, key) {
                        inner.counters.stale_served();
                        out[i] = Some(v);
                        any = true;
                    }
                }
                if any || inner.stale_if_error_ms > 0 {
                    Ok(out)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put_many(&self, entries: &EntryList) -> CacheResult<()> {
        let r = self.inner.l2.put_many(entries).await;
        for (ns, key) in entries.keys().iter() {
            self.forget(ns, key);
        }
        r
    }

    async fn delete_many(&self, keys: &KeyList) -> CacheResult<u64> {
        let r = self.inner.l2.delete_many(keys).await;
        for (ns, key) in keys.iter() {
            self.forget(ns, key);
        }
        r
    }

    async fn expire(&self, ns: &str, key: &str, ttl: Ttl) -> CacheResult<bool> {
        // L1 copies carry the old expiry (capped by l1_ttl_max_ms): drop them, as a write does.
        self.write(ns, key, self.inner.l2.expire(ns, key, ttl))
            .await
    }

    async fn touch(&self, ns: &str, key: &str) -> CacheResult<bool> {
        self.inner.l2.touch(ns, key).await
    }

    async fn list_keys(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        self.inner.l2.list_keys(ns, pattern, cursor, limit).await
    }

    async fn inspect(
        &self,
        ns: &str,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>> {
        let l2 = self.inner.l2.inspect(ns, key, value_bytes).await?;
        let l1 = self.inner.table.inspect(ns, key, None);
        Ok(l2.map(|mut info| {
            info.l1 = Some(L1Copy {
                held: l1.is_some(),
                ttl: l1.map(|e| e.ttl),
                tracking: self.is_tracking(),
            });
            info
        }))
    }

    async fn namespaces(&self, scan_limit: u64) -> CacheResult<NamespaceList> {
        self.inner.l2.namespaces(scan_limit).await
    }

    async fn ping(&self) -> CacheResult<()> {
        self.inner.l2.ping().await
    }

    fn breaker_state(&self) -> Option<BreakerState> {
        Some(self.inner.l2.breaker_state())
    }
}
