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

use crate::batch::{EntryList, KeyList};
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::ttl::Ttl;

pub mod browse;
mod memory;
mod noop;
mod redis;
mod tiered;

pub use memory::{
    ENTRY_OVERHEAD_BYTES, EXPIRY_BUCKET_MS, Eviction, EvictionListener, EvictionReason,
    MemoryBackend, MemoryTable, NamespaceUsage, RestoreReport, SnapshotReport, TableUsage,
};
pub use noop::NoopBackend;
pub use redis::{BreakerState, RedisBackend};
pub use tiered::TieredBackend;

pub use browse::{EntryInfo, EntryKind, KeyPage, L1Copy, NamespaceKeys, NamespaceList};

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

    // Bulk operations and the entry lifecycle (`ops/bulk.rs`, `ops/lifecycle.rs`).

    /// The encoded value of every key, in the list's order: `None` when absent or expired,
    /// and for a key that holds a set (Redis `MGET` answers nil there, and every backend
    /// agrees). The defaults call [`CacheBackend::get`] per key; backends override them
    /// with one pass over the table (memory) or one round trip per connection (Redis).
    ///
    /// # Errors
    /// The backend's errors (`BackendUnavailable`); no per-key errors.
    async fn get_many(&self, keys: &KeyList) -> CacheResult<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        for (ns, key) in keys.iter() {
            out.push(match self.get(ns, key).await {
                Err(CacheError::WrongType { .. }) => None,
                other => other?,
            });
        }
        Ok(out)
    }

    /// Stores every entry, in order (a key given twice: the later value wins). The values
    /// and TTLs were validated by the caller before the call.
    ///
    /// # Errors
    /// The first failure (`ValueTooLarge`, `CapacityExceeded`, `BackendUnavailable`); entries
    /// before it may have been written (on Redis, the entries of other connections).
    async fn put_many(&self, entries: &EntryList) -> CacheResult<()> {
        for (ns, key, value, ttl) in entries.iter() {
            self.put(ns, key, value.clone(), ttl).await?;
        }
        Ok(())
    }

    /// Removes every key; returns how many live entries went (a key listed twice counts
    /// once).
    ///
    /// # Errors
    /// The backend's errors; keys before the failure may have been removed.
    async fn delete_many(&self, keys: &KeyList) -> CacheResult<u64> {
        let mut removed = 0;
        for (ns, key) in keys.iter() {
            removed += u64::from(self.delete(ns, key).await?);
        }
        Ok(removed)
    }

    /// Gives a live entry a new TTL, counted from now, without rewriting its value
    /// ([`Ttl::Never`]: it no longer expires; Redis `PEXPIRE` / `PERSIST`). `true` when there
    /// was a live entry.
    ///
    /// # Errors
    /// [`InvalidTtl`](crate::CacheError::InvalidTtl); the backend's errors.
    async fn expire(&self, ns: &str, key: &str, ttl: Ttl) -> CacheResult<bool>;

    /// Marks a live entry as used now without reading it: in a namespace with a time to idle
    /// its idle timer restarts; the eviction policy counts a use (memory `lru`/`lfu`, Redis's
    /// own through `TOUCH`). Its TTL is otherwise unchanged. `true` when there was a live
    /// entry.
    ///
    /// # Errors
    /// The backend's errors.
    async fn touch(&self, ns: &str, key: &str) -> CacheResult<bool>;

    // What the admin interface reads (`ops/admin.rs`, types in `browse.rs`).

    /// One page of at most `limit` live keys of `ns` that match `pattern` (all keys for
    /// `None`), starting at `cursor` (`None`: the first page). See [`browse`] for the order
    /// and the guarantees.
    ///
    /// # Errors
    /// [`InvalidCursor`](crate::CacheError::InvalidCursor) for a cursor this backend did not
    /// make; the backend's own failures.
    async fn list_keys(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage>;

    /// Metadata of the live entry at `key` (`None` when absent or expired), with the first
    /// `value_bytes` bytes of its value when asked for. Reading it is not a hit: it changes
    /// nothing an eviction policy sees.
    async fn inspect(
        &self,
        ns: &str,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>>;

    /// The namespaces this backend holds and their key counts. A networked backend walks its
    /// keyspace for this and stops after `scan_limit` keys (then
    /// [`NamespaceList::complete`] is `false`).
    async fn namespaces(&self, scan_limit: u64) -> CacheResult<NamespaceList>;

    /// Whether the backend answers (Redis: a `PING` through the circuit breaker). In-process
    /// backends always do.
    ///
    /// # Errors
    /// [`BackendUnavailable`](crate::CacheError::BackendUnavailable) when it does not.
    async fn ping(&self) -> CacheResult<()> {
        Ok(())
    }

    /// The circuit breaker's state, for a backend that has one (Redis, tiered).
    fn breaker_state(&self) -> Option<BreakerState> {
        None
    }

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
