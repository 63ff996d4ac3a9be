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
//! # Expiry (`memory/expiry.rs`)
//! Entries with a TTL are indexed in one-second buckets by expiry time; a sweep takes the due
//! buckets and removes what expired, in batches with yields, so its cost is proportional to
//! what expired, not to the table's size. Each item is checked against the entry's current
//! expiry before removal (a rewrite with a new TTL is never removed by an old item).
//!
//! # Limits (`memory.max_entries`, `memory.max_bytes`) and policies (`memory/policy.rs`)
//! Off by default: an unbounded table has no policy and takes no global lock. When a limit is
//! set, a policy mutex serialises the creation of new keys and removals; the bound on entries
//! is exact and the bound on bytes has a bounded slack under `lfu` and `lru`.
//! `memory/eviction.rs` states these guarantees in full.
//!
//! Removals are counted per namespace and reason: `ttl` (expired entries removed by sweeps,
//! overwrites, deletes or evictions), `manual` (live entries removed by delete, clear or
//! delete_pattern), `lru` / `lfu` (live entries evicted by that policy) and `capacity` (writes
//! refused by `reject` or for being larger than `max_bytes`). An [`EvictionListener`] receives
//! every `ttl`, `lru` and `lfu` removal once, after the table's locks are released.

mod entry;
mod eviction;
mod expiry;
mod namespaces;
mod policy;
mod reads_writes;
mod removal;
mod sweep;

pub use self::entry::ENTRY_OVERHEAD_BYTES;
pub use self::namespaces::{NamespaceUsage, TableUsage};
pub use self::removal::{Eviction, EvictionListener, EvictionReason};

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};
use async_trait::async_trait;
use bytes::Bytes;
use dashmap::mapref::entry::Entry as MapEntry;

use self::entry::{Entry, NEVER, Value, entry_size};
use self::eviction::{Limits, ReadMode, Touch};
use self::expiry::{BUCKET_MS, ExpiryIndex, NO_BUCKET};
use self::namespaces::NsTable;
use self::policy::Policy;
use self::removal::{Events, ListenerSlot, Removal};
use super::CacheBackend;
use crate::clock::Clock;
use crate::codec;
use crate::config::{EvictionPolicy, MemoryConfig};
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::stats::StripedCount;
use crate::ttl::Ttl;

/// Hasher of the table's maps: foldhash (fast, DoS-resistant per-process seed), measured
/// faster than the default SipHash on short keys.
type Hasher = foldhash::fast::RandomState;

/// The shared in-memory table. The supervisor keeps it in an `Arc` and hands it to each
/// incarnation of the Store, Cleanup and Adapter actors, so no child's crash loses an entry
/// (the ETS heir idea). See the module documentation for limits, policies and expiry.
#[derive(Debug)]
pub struct MemoryTable {
    /// Namespace name → its map. Copy-on-write: reads never lock; creating a namespace (rare)
    /// swaps in a new map.
    namespaces: ArcSwap<HashMap<Arc<str>, Arc<NsTable>, Hasher>>,
    /// Namespace id → its map (ids are indices; namespaces are never dropped).
    by_id: ArcSwap<Vec<Arc<NsTable>>>,
    create_lock: Mutex<()>,
    clock: Clock,
    max_value_bytes: usize,
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
            namespaces: ArcSwap::from_pointee(HashMap::default()),
            by_id: ArcSwap::from_pointee(Vec::new()),
            create_lock: Mutex::new(()),
            clock,
            max_value_bytes: config.max_value_bytes,
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
        }
    }

    /// The clock this table expires entries by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    #[inline]
    fn item_hash(&self, ns: u32, key: &str) -> u64 {
        self.item_hasher.hash_one((ns, key))
    }

    /// Runs `f` on the live value at `key` under its entry lock, creating it with `create`
    /// (expiring at `expires_at`) when absent or expired. `grow` bounds how many bytes `f` can
    /// add (reserved beforehand under `reject`).
    fn update<R>(
        &self,
        ns: &str,
        key: &str,
        grow: usize,
        create: impl Fn() -> Value,
        expires_at: impl Fn(u64) -> u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
    ) -> CacheResult<R> {
        let mut events = Events::new(self);
        let r = self.with_ns_or_create(ns, |t| {
            self.update_in(t, key, grow as i64, &create, &expires_at, f, &mut events)
        });
        events.emit();
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn update_in<R>(
        &self,
        t: &NsTable,
        key: &str,
        grow: i64,
        create: &dyn Fn() -> Value,
        expires_at: &dyn Fn(u64) -> u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
        events: &mut Events,
    ) -> CacheResult<R> {
        let now = self.clock.now_ms();
        let Some(mut p) = self.lock_policy() else {
            // Unbounded: one atomic entry operation.
            let key: Arc<str> = Arc::from(key);
            return match t.map.entry(key.clone()) {
                MapEntry::Occupied(mut o) => {
                    let out = self.apply(
                        t,
                        &key,
                        o.get_mut(),
                        grow,
                        create,
                        expires_at,
                        now,
                        f,
                        events,
                    );
                    out.map(|(r, _, _)| r)
                }
                MapEntry::Vacant(v) => {
                    let mut value = create();
                    let out = f(&mut value)?;
                    let mut e = Entry::new(value, expires_at(now));
                    let size = e.size(&key);
                    self.schedule(t.id, &key, &mut e);
                    t.entries.fetch_add(1, Ordering::Relaxed);
                    v.insert(e);
                    self.settle(t, size, 0);
                    Ok(out)
                }
            };
        };
        // Bounded: an existing entry is updated in place (the mutex is not needed for that,
        // but keeps this rare path simple); a new one is created under the mutex.
        if let Some(mut r) = t.map.get_mut(key) {
            let (k, e) = r.pair_mut();
            let k = k.clone();
            let (out, shrink, _touch) =
                self.apply(t, &k, e, grow, create, expires_at, now, f, events)?;
            drop(r);
            if shrink {
                while self.over_bytes() && self.evict_one(&mut p, events) {}
            }
            return Ok(out);
        }
        let mut value = create();
        let out = f(&mut value)?;
        let size = entry_size(key.len(), value.len());
        self.check_fits(t, size)?;
        self.make_room(&mut p, t, size, events)?;
        let reserved = self.reserve(t, size as i64)?;
        let key: Arc<str> = Arc::from(key);
        let mut e = Entry::new(value, expires_at(now));
        e.node = p.insert(t.id, &key, self.item_hash(t.id, &key));
        self.schedule(t.id, &key, &mut e);
        self.settle(t, size as i64, reserved);
        t.entries.fetch_add(1, Ordering::Relaxed);
        t.map.insert(key, e);
        Ok(out)
    }

    /// Applies `f` to an existing entry (replacing it first if it expired). Returns the
    /// result, whether the table went over `max_bytes`, and an `lru` hit.
    #[allow(clippy::too_many_arguments)]
    fn apply<R>(
        &self,
        t: &NsTable,
        key: &Arc<str>,
        e: &mut Entry,
        grow: i64,
        create: &dyn Fn() -> Value,
        expires_at: &dyn Fn(u64) -> u64,
        now: u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
        events: &mut Events,
    ) -> CacheResult<(R, bool, Touch)> {
        let reserved = self.reserve(t, grow)?;
        let before = e.size(key);
        let touch = if e.is_live(now) {
            self.note_hit(key, e)
        } else {
            t.count(Removal::Ttl);
            events.push(t, key, EvictionReason::Ttl);
            e.value = create();
            e.expires_at = expires_at(now);
            e.hits.store(0, Ordering::Relaxed);
            self.schedule(t.id, key, e);
            None
        };
        let out = f(&mut e.value);
        let delta = e.size(key) - before;
        self.settle(t, delta, reserved);
        out.map(|r| (r, delta > 0 && self.over_bytes(), touch))
    }

    /// Atomically adds `delta` to the counter at `key` (created at 0, expiring after `ttl`,
    /// when absent or expired); returns the new value.
    ///
    /// # Errors
    /// [`CacheError::NotAnInteger`], [`CacheError::Overflow`], [`CacheError::WrongType`],
    /// and [`CacheError::CapacityExceeded`] as for [`MemoryTable::put`].
    pub fn increment(&self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> CacheResult<i64> {
        self.update(
            ns,
            key,
            21,
            || Value::Bytes(codec::counter_bytes(0)),
            |now| ttl.expires_at(now).unwrap_or(NEVER),
            |v| match v {
                Value::Bytes(b) => {
                    let current = codec::parse_counter(b)?;
                    let next = current.checked_add(delta).ok_or(CacheError::Overflow)?;
                    *b = codec::counter_bytes(next);
                    Ok(next)
                }
                other => Err(CacheError::WrongType {
                    expected: "a value",
                    found: other.kind(),
                }),
            },
        )
    }

    fn set_op<R>(
        &self,
        ns: &str,
        key: &str,
        ttl: Ttl,
        grow: usize,
        f: impl FnOnce(&mut HashSet<Bytes>) -> R,
    ) -> CacheResult<R> {
        self.update(
            ns,
            key,
            grow,
            || Value::Set(Box::default()),
            |now| ttl.expires_at(now).unwrap_or(NEVER),
            |v| match v {
                Value::Set(s) => Ok(f(s)),
                other => Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                }),
            },
        )
    }

    fn read_set<R>(
        &self,
        ns: &str,
        key: &str,
        f: impl FnOnce(&HashSet<Bytes>) -> R,
    ) -> CacheResult<Option<R>> {
        self.read_live(ns, key, "a set", |v| match v {
            Value::Set(set) => Some(f(set)),
            _ => None,
        })
    }

    fn remove_from_set(&self, ns: &str, key: &str, member: &[u8]) -> CacheResult<bool> {
        let now = self.clock.now_ms();
        let Some(t) = self.namespaces.load().get(ns).cloned() else {
            return Ok(false);
        };
        let Some(mut e) = t.map.get_mut(key) else {
            return Ok(false);
        };
        if !e.is_live(now) {
            return Ok(false);
        }
        let before = e.size(key);
        let removed = match &mut e.value {
            Value::Set(s) => s.remove(member),
            other => {
                return Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                });
            }
        };
        let after = e.size(key);
        let now_empty = matches!(&e.value, Value::Set(s) if s.is_empty());
        drop(e);
        self.settle(&t, after - before, 0);
        if now_empty {
            // An empty set is an absent key, as in Redis.
            let mut p = self.lock_policy();
            if let Some((k, e)) = t.map.remove_if(
                key,
                |_, e| matches!(&e.value, Value::Set(s) if s.is_empty()),
            ) {
                t.entries.fetch_sub(1, Ordering::Relaxed);
                self.settle(&t, -e.size(&k), 0);
                if e.indexed != NO_BUCKET {
                    self.expiry.remove(e.indexed, &self.item(t.id, &k));
                }
                if let Some(p) = p.as_deref_mut() {
                    p.remove(e.node);
                }
            }
            drop(p);
        }
        Ok(removed)
    }

    /// Removes every entry of `t` for which `remove` says so, counting removals; returns the
    /// number of live entries removed.
    fn remove_where(&self, t: &NsTable, now: u64, mut remove: impl FnMut(&str) -> bool) -> u64 {
        let mut events = Events::new(self);
        let mut p = self.lock_policy();
        let mut live = 0u64;
        t.map.retain(|k, e| {
            if !remove(k) {
                return true;
            }
            let how = if e.is_live(now) {
                live += 1;
                Removal::Manual
            } else {
                Removal::Ttl
            };
            self.forget(p.as_deref_mut(), t, k, e, how, true, &mut events);
            false
        });
        drop(p);
        events.emit();
        live
    }

    fn clear(&self, ns: Option<&str>) -> u64 {
        let now = self.clock.now_ms();
        let tables: Vec<Arc<NsTable>> = match ns {
            Some(ns) => self
                .namespaces
                .load()
                .get(ns)
                .cloned()
                .into_iter()
                .collect(),
            None => self.all_namespaces(),
        };
        tables
            .iter()
            .map(|t| self.remove_where(t, now, |_| true))
            .sum()
    }

    fn delete_pattern(&self, ns: &str, pattern: &Glob) -> u64 {
        let now = self.clock.now_ms();
        let Some(t) = self.namespaces.load().get(ns).cloned() else {
            return 0;
        };
        self.remove_where(&t, now, |k| pattern.matches(k))
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
        let grow = member.len();
        self.table.set_op(ns, key, ttl, grow, |s| s.insert(member))
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
        Ok(self.table.clear(ns))
    }
    async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> CacheResult<u64> {
        Ok(self.table.delete_pattern(ns, pattern))
    }
}
