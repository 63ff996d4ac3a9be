//! The in-memory backend: an ETS-style concurrent table that outlives the actors using it,
//! optionally bounded, with an expiry index.
//!
//! # Layout
//! A copy-on-write map of namespaces (read lock-free through `arc-swap`; a namespace is created
//! once, on its first write, and gets a small numeric id) whose values are per-namespace
//! [`DashMap`](dashmap::DashMap)s keyed by `Arc<str>`. Per-namespace maps make `clear()` of one
//! namespace and `delete_pattern` touch only that namespace. DashMap was picked over `scc` and
//! `papaya` by the `table_maps` benchmark (see `docs/PERFORMANCE.md`). The key's allocation is
//! shared by the map, the expiry index and the eviction policy, so neither copies keys.
//!
//! Every read path checks expiry against the [`Clock`], so an expired entry is a miss whether
//! or not the Cleanup actor has swept it yet. Atomic read-modify-write operations (counters,
//! sets) run under DashMap's per-key entry lock.
//!
//! # Files
//! | file                      | owns                                                        |
//! |---------------------------|-------------------------------------------------------------|
//! | `memory.rs`               | [`MemoryTable`] (fields, constructor) and [`MemoryBackend`] |
//! | `memory/namespaces.rs`    | the namespace map, per-namespace counters, [`TableUsage`]   |
//! | `memory/entry.rs`         | one entry: its value, expiry, size and liveness             |
//! | `memory/reads_writes.rs`  | `get`, `put` (overwrite or insert), `delete`, `ttl`         |
//! | `memory/counters_sets.rs` | `increment` and the set operations (read-modify-write)      |
//! | `memory/clear.rs`         | `clear` and `delete_pattern`                                |
//! | `memory/removal.rs`       | bookkeeping of every removal, eviction events, listener     |
//! | `memory/eviction.rs`      | limits, byte accounting, making room, the policy's hooks    |
//! | `memory/policy.rs`        | the eviction policies (`lru`, `lfu`, `reject`)              |
//! | `memory/expiry.rs`        | the expiry index                                            |
//! | `memory/sweep.rs`         | keeping entries indexed; the sweep of what expired          |
//! | `memory/bulk.rs`          | `get_many`, `put_many`, `delete_many`                       |
//! | `memory/lifecycle.rs`     | `expire` and `touch`: a new expiry without a new value      |
//! | `memory/idle.rs`          | time to idle: namespaces whose entries expire when unused   |
//! | `memory/snapshot.rs`      | saving the table to a file and restoring it                 |
//! | `memory/snapshot_format.rs` | the snapshot file format: header, checksummed blocks, records |
//! | `memory/browse.rs`        | the admin reads: key pages in key order, entry metadata     |
//!
//! # Expiry (`memory/expiry.rs`, `memory/sweep.rs`)
//! Entries with a TTL are indexed in one-second buckets by expiry time; a sweep takes the due
//! buckets and removes what expired, in batches with yields, so its cost is proportional to
//! what expired, not to the table's size. Each item is checked against the entry's current
//! expiry before removal (a rewrite with a new TTL is never removed by an old item).
//!
//! # Limits and policies (`memory/eviction.rs`, `memory/policy.rs`)
//! `memory.max_entries` and `memory.max_bytes` are off by default: an unbounded table has no
//! policy and takes no global lock. When a limit is set, a policy mutex serialises the
//! creation of new keys and removals; the bound on entries is exact and the bound on bytes has
//! a bounded slack under `lfu` and `lru`. `memory/eviction.rs` states these guarantees in full.
//!
//! Removals are counted per namespace and reason: `ttl` (expired entries removed by sweeps,
//! overwrites, deletes or evictions), `manual` (live entries removed by delete, clear or
//! delete_pattern), `lru` / `lfu` (live entries evicted by that policy) and `capacity` (writes
//! refused by `reject` or for being larger than `max_bytes`). An [`EvictionListener`] receives
//! every `ttl`, `lru` and `lfu` removal once, after the table's locks are released.

mod browse;
mod bulk;
mod clear;
mod counters_sets;
mod entry;
mod eviction;
mod expiry;
mod grace;
mod idle;
mod lifecycle;
mod namespaces;
mod policy;
mod reads_writes;
mod removal;
mod snapshot;
mod snapshot_format;
mod sweep;

pub use self::entry::ENTRY_OVERHEAD_BYTES;
pub use self::namespaces::{NamespaceUsage, TableUsage};
pub use self::removal::{Eviction, EvictionListener, EvictionReason};
pub use self::snapshot::{RestoreReport, SnapshotReport};

use std::hash::BuildHasher;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use bytes::Bytes;

use self::eviction::{Limits, ReadMode};
use self::expiry::{BUCKET_MS, ExpiryIndex};
use self::namespaces::Namespaces;
use self::policy::{Policy, SampledHits};
use self::removal::ListenerSlot;
use super::CacheBackend;
use super::browse::{EntryInfo, KeyPage, NamespaceList};
use crate::batch::{EntryList, KeyList};
use crate::clock::Clock;
use crate::config::{EvictionPolicy, MemoryConfig};
use crate::error::CacheResult;
use crate::glob::Glob;
use crate::stats::StripedCount;
use crate::ttl::{IdleTimes, Ttl};

/// Hasher of the table's maps: foldhash (fast, DoS-resistant per-process seed), measured
/// faster than the default SipHash on short keys.
type Hasher = foldhash::fast::RandomState;

/// The shared in-memory table. The supervisor keeps it in an `Arc` and hands it to each
/// incarnation of the Store, Cleanup and Adapter actors, so no child's crash loses an entry
/// (the ETS heir idea). See the module documentation for limits, policies and expiry.
#[derive(Debug)]
pub struct MemoryTable {
    /// Namespace name → its table, and id → table (see `memory/namespaces.rs`).
    spaces: Namespaces,
    clock: Clock,
    max_value_bytes: usize,
    /// Entries `clear` and `delete_pattern` remove between yields (`memory.cleanup_batch_size`).
    clear_batch: usize,
    limits: Limits,
    /// Present when a limit is set.
    policy: Option<Mutex<Policy>>,
    read_mode: ReadMode,
    /// Bytes of all namespaces (maintained when a limit is set).
    bytes: AtomicI64,
    expiry: ExpiryIndex,
    listener: ArcSwapOption<ListenerSlot>,
    item_hasher: foldhash::fast::FixedState,
    /// Hits on live entries under `lfu` (striped), the window climber's signal.
    hits: StripedCount,
    /// The namespaces with a time to idle (`memory/idle.rs`), read when a namespace's table
    /// is created.
    idle: IdleTimes,
    /// Key lists of admin listings in progress (`memory/browse.rs`).
    walks: browse::Walks,
    /// Hits on the entries the window selector samples (`lfu`), until the next insert.
    sampled_hits: SampledHits,
}

impl MemoryTable {
    /// An unbounded table reading time from `clock` and refusing values over
    /// `max_value_bytes`.
    pub fn new(clock: Clock, max_value_bytes: usize) -> Self {
        Self::with_config(
            clock,
            &MemoryConfig {
                max_value_bytes,
                ..MemoryConfig::default()
            },
        )
    }

    /// A table with the limits and policy of `config` (`max_entries`, `max_bytes`,
    /// `eviction_policy`, `max_value_bytes`).
    pub fn with_config(clock: Clock, config: &MemoryConfig) -> Self {
        let limits = Limits {
            max_entries: config.max_entries,
            max_bytes: config.max_bytes,
            policy: config.eviction_policy,
        };
        let bounded = config.is_bounded();
        let capacity = if config.max_entries > 0 {
            config.max_entries
        } else {
            config.max_bytes / 256
        };
        MemoryTable {
            spaces: Namespaces::default(),
            clock,
            max_value_bytes: config.max_value_bytes,
            clear_batch: config.cleanup_batch_size,
            limits,
            policy: bounded.then(|| Mutex::new(Policy::new(limits.policy, capacity))),
            read_mode: match (bounded, limits.policy) {
                (true, EvictionPolicy::Lfu) => ReadMode::Hits,
                (true, EvictionPolicy::Lru) => ReadMode::Lru,
                _ => ReadMode::Plain,
            },
            bytes: AtomicI64::new(0),
            expiry: ExpiryIndex::default(),
            listener: ArcSwapOption::empty(),
            item_hasher: foldhash::fast::FixedState::with_seed(0x0e71_c7ed),
            hits: StripedCount::default(),
            idle: IdleTimes::default(),
            walks: browse::Walks::default(),
            sampled_hits: SampledHits::new(bounded && limits.policy == EvictionPolicy::Lfu),
        }
    }

    /// This table with the namespaces' times to idle (`[namespaces.<name>] tti`); call it
    /// before the first write.
    #[must_use]
    pub fn with_idle_times(mut self, idle: IdleTimes) -> Self {
        self.idle = idle;
        self
    }

    /// The clock this table expires entries by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Hash of an entry's namespace id and key, shared by its expiry-index item and its
    /// policy node.
    #[inline]
    fn item_hash(&self, ns: u32, key: &str) -> u64 {
        self.item_hasher.hash_one((ns, key))
    }
}

/// Width of one expiry-index bucket in milliseconds (exposed for documentation and tests).
pub const EXPIRY_BUCKET_MS: u64 = BUCKET_MS;

/// [`CacheBackend`] over a shared [`MemoryTable`].
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    table: Arc<MemoryTable>,
}

impl MemoryBackend {
    /// A backend serving `table`.
    pub fn new(table: Arc<MemoryTable>) -> Self {
        MemoryBackend { table }
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn memory_table(&self) -> Option<&MemoryTable> {
        Some(&self.table)
    }
    async fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        self.table.get(ns, key)
    }
    async fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.table.put(ns, key, value, ttl)
    }
    async fn delete(&self, ns: &str, key: &str) -> CacheResult<bool> {
        Ok(self.table.delete(ns, key))
    }
    async fn exists(&self, ns: &str, key: &str) -> CacheResult<bool> {
        Ok(self.table.ttl(ns, key).is_some())
    }
    async fn ttl(&self, ns: &str, key: &str) -> CacheResult<Option<Ttl>> {
        Ok(self.table.ttl(ns, key))
    }
    async fn increment(&self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> CacheResult<i64> {
        self.table.increment(ns, key, delta, ttl)
    }
    async fn add_to_set(&self, ns: &str, key: &str, member: Bytes, ttl: Ttl) -> CacheResult<bool> {
        self.table.check_size(member.len())?;
        let len = member.len() as i64;
        let grow = |s: &std::collections::HashSet<Bytes>| if s.contains(&member) { 0 } else { len };
        self.table
            .set_op(ns, key, ttl, grow, |s| s.insert(member.clone()))
    }
    async fn remove_from_set(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        self.table.remove_from_set(ns, key, &member)
    }
    async fn set_members(&self, ns: &str, key: &str) -> CacheResult<Vec<Bytes>> {
        Ok(self
            .table
            .read_set(ns, key, |s| s.iter().cloned().collect())?
            .unwrap_or_default())
    }
    async fn is_member(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        Ok(self
            .table
            .read_set(ns, key, |s| s.contains(&member))?
            .unwrap_or(false))
    }
    async fn clear(&self, ns: Option<&str>) -> CacheResult<u64> {
        Ok(self.table.clear(ns).await)
    }
    async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> CacheResult<u64> {
        Ok(self.table.delete_pattern(ns, pattern).await)
    }
    async fn get_many(&self, keys: &KeyList) -> CacheResult<Vec<Option<Bytes>>> {
        Ok(self.table.get_many(keys))
    }
    async fn put_many(&self, entries: &EntryList) -> CacheResult<()> {
        self.table.put_many(entries)
    }
    async fn delete_many(&self, keys: &KeyList) -> CacheResult<u64> {
        Ok(self.table.delete_many(keys))
    }
    async fn expire(&self, ns: &str, key: &str, ttl: Ttl) -> CacheResult<bool> {
        Ok(self.table.expire(ns, key, ttl.validate()?))
    }
    async fn touch(&self, ns: &str, key: &str) -> CacheResult<bool> {
        Ok(self.table.touch_key(ns, key))
    }

    async fn list_keys(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        self.table.list_keys(ns, pattern, cursor, limit).await
    }
    async fn inspect(
        &self,
        ns: &str,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>> {
        Ok(self.table.inspect(ns, key, value_bytes))
    }
    async fn namespaces(&self, _scan_limit: u64) -> CacheResult<NamespaceList> {
        Ok(self.table.namespace_list())
    }
}
