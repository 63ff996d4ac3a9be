//! The backend trait, [`CacheBackend`] (the seed's `CacheBehaviour`), and its implementations.
//!
//! | file        | backend                                                         |
//! |-------------|-----------------------------------------------------------------|
//! | `memory.rs` | [`MemoryBackend`]: the embedded ETS-style table (the default)   |
//! | `noop.rs`   | [`NoopBackend`]: caching disabled                               |
//! | `redis.rs`  | [`RedisBackend`]: a Redis server shared by many nodes           |
//! | `tiered.rs` | [`TieredBackend`]: a per-node L1 over Redis, kept coherent      |
//!
//! Backends see encoded values ([`Bytes`] from the shared [codec](crate::codec)), namespaces
//! and keys as plain strings, and [`Ttl`]s: nothing in the trait assumes the data lives in this
//! process, so a networked backend (Redis) implements the same trait.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::CacheResult;
use crate::glob::Glob;
use crate::ttl::Ttl;

mod memory;
mod noop;
mod redis;
mod tiered;

pub use memory::{
    ENTRY_OVERHEAD_BYTES, EXPIRY_BUCKET_MS, Eviction, EvictionListener, EvictionReason,
    MemoryBackend, MemoryTable, NamespaceUsage, TableUsage,
};
pub use noop::NoopBackend;
pub use redis::{BreakerState, RedisBackend};
pub use tiered::TieredBackend;

/// The operations every backend implements. Object-safe: the adapter holds
/// `Arc<dyn CacheBackend>`.
///
/// Contract shared by all implementations (the behavioural tests check it on each):
/// - an expired entry is absent on every path, whether or not it was swept;
/// - counters are stored as ASCII decimal integers, so `get` decodes them as `i64`;
/// - a failed operation leaves the stored data as it was.
#[async_trait]
pub trait CacheBackend: Send + Sync + fmt::Debug + 'static {
    /// Short backend name for logs and metric labels (`memory`, `noop`, ...).
    fn name(&self) -> &'static str;

    /// The in-process table behind this backend, if it is one. The hot requests (`Get`,
    /// `Put`, `Delete`, `Increment` in [`crate::ops`]) then call the table's synchronous
    /// operations and skip the boxed future every `async fn` of this trait costs.
    fn memory_table(&self) -> Option<&MemoryTable> {
        None
    }

    /// Per-tier figures, for a backend with tiers (the tiered backend).
    fn tier_stats(&self) -> Option<crate::stats::TierStats> {
        None
    }

    /// Stops the backend's own background work (connections it watches, tasks it runs);
    /// called once by the cache's `shutdown()`. Calls after it may fail.
    fn stop(&self) {}

    /// The encoded value, or `None` when absent or expired.
    ///
    /// # Errors
    /// [`WrongType`](crate::CacheError::WrongType) when the key holds a set.
    async fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>>;

    /// Stores (or overwrites) a value.
    ///
    /// # Errors
    /// [`ValueTooLarge`](crate::CacheError::ValueTooLarge) past the backend's size limit.
    async fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()>;

    /// Removes a key; `true` when a live entry was removed.
    async fn delete(&self, ns: &str, key: &str) -> CacheResult<bool>;

    /// Whether a live entry exists.
    async fn exists(&self, ns: &str, key: &str) -> CacheResult<bool>;

    /// Remaining time to live: `None` when absent, `Some(Ttl::Never)` when it never expires.
    async fn ttl(&self, ns: &str, key: &str) -> CacheResult<Option<Ttl>>;

    /// Atomically adds `delta` to the integer at `key` (a missing or expired key counts as 0,
    /// and `ttl_on_create` applies when the counter is created). Returns the new value.
    ///
    /// # Errors
    /// [`NotAnInteger`](crate::CacheError::NotAnInteger) and
    /// [`Overflow`](crate::CacheError::Overflow), leaving the value unchanged.
    async fn increment(
        &self,
        ns: &str,
        key: &str,
        delta: i64,
        ttl_on_create: Ttl,
    ) -> CacheResult<i64>;

    /// Adds an encoded member to the set at `key` (created with `ttl_on_create` when missing);
    /// `true` when the member was not there before.
    async fn add_to_set(
        &self,
        ns: &str,
        key: &str,
        member: Bytes,
        ttl_on_create: Ttl,
    ) -> CacheResult<bool>;

    /// Removes a member; `true` when it was there.
    async fn remove_from_set(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool>;

    /// All members of the set (empty when the key is absent), in no particular order.
    async fn set_members(&self, ns: &str, key: &str) -> CacheResult<Vec<Bytes>>;

    /// Whether `member` is in the set.
    async fn is_member(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool>;

    /// Removes every entry of one namespace, or of the whole cache for `None`; returns the
    /// number of live entries removed.
    async fn clear(&self, ns: Option<&str>) -> CacheResult<u64>;

    /// Removes the keys of `ns` matching `pattern`; returns how many live entries went.
    async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> CacheResult<u64>;

    /// Takes the distributed lease of `(ns, key)` for `ttl_ms` unless it is held:
    /// `Some(true)` taken, `Some(false)` held elsewhere, `None` (the default) for a backend
    /// whose data no other node shares.
    async fn take_lease(
        &self,
        _ns: &str,
        _key: &str,
        _token: u64,
        _ttl_ms: u64,
    ) -> CacheResult<Option<bool>> {
        Ok(None)
    }

    /// Releases the lease of `(ns, key)` if `token` still holds it.
    async fn release_lease(&self, _ns: &str, _key: &str, _token: u64) -> CacheResult<()> {
        Ok(())
    }

    /// Whether the lease of `(ns, key)` is held (`None` without leases).
    async fn lease_held(&self, _ns: &str, _key: &str) -> CacheResult<Option<bool>> {
        Ok(None)
    }
}
