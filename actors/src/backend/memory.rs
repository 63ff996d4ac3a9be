//! The in-memory backend: an ETS-style concurrent table that outlives the actors using it.
//!
//! Layout: a copy-on-write map of namespaces (read lock-free through `arc-swap`; a namespace is
//! created once, on its first write) whose values are per-namespace [`DashMap`]s. Per-namespace
//! maps make `clear()` of one namespace and `delete_pattern` touch only that namespace. DashMap
//! was picked over `scc` and `papaya` by the `table_maps` benchmark (see `docs/PERFORMANCE.md`).
//!
//! Every read path checks expiry against the [`Clock`], so an expired entry is a miss whether
//! or not the Cleanup actor has swept it yet. Atomic read-modify-write operations (counters,
//! sets) run under DashMap's per-key entry lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use serde::Serialize;

use super::CacheBackend;
use crate::clock::{Clock, remaining};
use crate::codec;
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::ttl::Ttl;

/// Estimated bookkeeping bytes per entry (map slot, entry header, expiry), added to the key and
/// value lengths in the table's byte count. An estimate, stated so byte figures are comparable.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;

/// One stored entry: the encoded value and its absolute expiry (clock milliseconds).
#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    expires_at: Option<u64>,
}

#[derive(Debug, Clone)]
enum Value {
    Bytes(Bytes),
    Set(HashSet<Bytes>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Bytes(_) => "a value",
            Value::Set(_) => "a set",
        }
    }

    fn len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Set(s) => s.iter().map(Bytes::len).sum(),
        }
    }
}

impl Entry {
    #[inline]
    fn is_live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    fn size(&self, key: &str) -> i64 {
        (key.len() + self.value.len() + ENTRY_OVERHEAD_BYTES) as i64
    }
}

/// Hasher of the table's maps: foldhash (fast, DoS-resistant per-process seed), measured
/// faster than the default SipHash on short keys.
type Hasher = foldhash::fast::RandomState;

/// One namespace's entries and its byte count.
#[derive(Debug, Default)]
struct NsTable {
    map: DashMap<Box<str>, Entry, Hasher>,
    /// Sum of [`Entry::size`] over the map; adjusted on every mutation.
    bytes: AtomicI64,
    /// Expired entries removed (swept, cleared, or replaced after expiry).
    evicted_ttl: AtomicU64,
    /// Live entries removed by delete, clear or delete_pattern.
    evicted_manual: AtomicU64,
}

impl NsTable {
    fn add_bytes(&self, delta: i64) {
        if delta != 0 {
            self.bytes.fetch_add(delta, Ordering::Relaxed);
        }
    }

    fn count_ttl(&self, n: u64) {
        if n > 0 {
            self.evicted_ttl.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn count_manual(&self, n: u64) {
        if n > 0 {
            self.evicted_manual.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Removes every entry for which `remove` says so, counting evictions; returns the number
    /// of live entries removed.
    fn remove_where(&self, now: u64, mut remove: impl FnMut(&str) -> bool) -> u64 {
        let (mut live, mut expired, mut freed) = (0u64, 0u64, 0i64);
        self.map.retain(|k, e| {
            if !remove(k) {
                return true;
            }
            freed += e.size(k);
            if e.is_live(now) {
                live += 1;
            } else {
                expired += 1;
            }
            false
        });
        self.add_bytes(-freed);
        self.count_manual(live);
        self.count_ttl(expired);
        live
    }
}

/// Entry and byte counts of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceUsage {
    /// Namespace name.
    pub namespace: String,
    /// Entries held, including expired ones not yet swept.
    pub entries: u64,
    /// Estimated bytes: keys + encoded values + [`ENTRY_OVERHEAD_BYTES`] per entry.
    pub bytes: u64,
    /// Expired entries removed so far.
    pub evicted_ttl: u64,
    /// Live entries removed by delete, clear or delete_pattern so far.
    pub evicted_manual: u64,
}

/// Entry and byte counts of the whole table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableUsage {
    /// Entries held, including expired ones not yet swept.
    pub entries: u64,
    /// Estimated bytes (see [`NamespaceUsage::bytes`]).
    pub bytes: u64,
    /// Per-namespace figures, sorted by name.
    pub namespaces: Vec<NamespaceUsage>,
}

/// The shared in-memory table. The supervisor keeps it in an `Arc` and hands it to each
/// incarnation of the Store, Cleanup and Adapter actors, so no child's crash loses an entry
/// (the ETS heir idea).
#[derive(Debug)]
pub struct MemoryTable {
    /// Namespace name → its map. Copy-on-write: reads never lock; creating a namespace (rare)
    /// swaps in a new map.
    namespaces: ArcSwap<HashMap<Arc<str>, Arc<NsTable>, Hasher>>,
    clock: Clock,
    max_value_bytes: usize,
}

impl MemoryTable {
    /// An empty table reading time from `clock` and refusing values over `max_value_bytes`.
    pub fn new(clock: Clock, max_value_bytes: usize) -> Self {
        MemoryTable {
            namespaces: ArcSwap::from_pointee(HashMap::default()),
            clock,
            max_value_bytes,
        }
    }

    /// The clock this table expires entries by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` on a namespace's table if it exists.
    #[inline]
    fn with_ns<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> Option<R> {
        self.namespaces.load().get(ns).map(|t| f(t))
    }

    /// The namespace's table, created on first use.
    fn ns_or_create(&self, ns: &str) -> Arc<NsTable> {
        if let Some(t) = self.namespaces.load().get(ns) {
            return t.clone();
        }
        self.namespaces.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.entry(Arc::from(ns)).or_default();
            next
        });
        self.namespaces
            .load()
            .get(ns)
            .cloned()
            .unwrap_or_else(|| Arc::new(NsTable::default()))
    }

    fn all_namespaces(&self) -> Vec<(Arc<str>, Arc<NsTable>)> {
        let map = self.namespaces.load();
        let mut v: Vec<_> = map.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn check_size(&self, len: usize) -> CacheResult<()> {
        if len > self.max_value_bytes {
            return Err(CacheError::ValueTooLarge {
                size: len,
                limit: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// Entry and byte counts per namespace. Counts include expired entries not yet swept.
    pub fn usage(&self) -> TableUsage {
        let mut usage = TableUsage::default();
        for (name, t) in self.all_namespaces() {
            let entries = t.map.len() as u64;
            let bytes = t.bytes.load(Ordering::Relaxed).max(0) as u64;
            usage.entries += entries;
            usage.bytes += bytes;
            usage.namespaces.push(NamespaceUsage {
                namespace: name.to_string(),
                entries,
                bytes,
                evicted_ttl: t.evicted_ttl.load(Ordering::Relaxed),
                evicted_manual: t.evicted_manual.load(Ordering::Relaxed),
            });
        }
        usage
    }

    /// Removes expired entries, namespace by namespace, `batch` entries at a time, yielding to
    /// the runtime between batches so no reader or writer waits behind a whole sweep. Entries
    /// that expire while the sweep runs are left for the next one. `after_batch` runs after each
    /// batch with the running total. Returns the number removed.
    ///
    /// Finding the expired keys reads each DashMap shard under its read lock (writers to that
    /// shard wait for the scan of that shard only, never for the whole table).
    pub async fn sweep_expired(&self, batch: usize, mut after_batch: impl FnMut(u64)) -> u64 {
        let now = self.clock.now_ms();
        let batch = batch.max(1);
        let mut removed = 0u64;
        for (_, t) in self.all_namespaces() {
            let expired: Vec<Box<str>> = t
                .map
                .iter()
                .filter(|e| !e.value().is_live(now))
                .map(|e| e.key().clone())
                .collect();
            for chunk in expired.chunks(batch) {
                let mut in_batch = 0;
                for key in chunk {
                    if let Some((k, e)) = t.map.remove_if(key, |_, e| !e.is_live(now)) {
                        t.add_bytes(-e.size(&k));
                        in_batch += 1;
                    }
                }
                t.count_ttl(in_batch);
                removed += in_batch;
                after_batch(removed);
                tokio::task::yield_now().await;
            }
        }
        removed
    }

    fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| match t.map.get(key) {
            Some(e) if e.is_live(now) => match &e.value {
                Value::Bytes(b) => Ok(Some(b.clone())),
                other => Err(CacheError::WrongType {
                    expected: "a value",
                    found: other.kind(),
                }),
            },
            _ => Ok(None),
        })
        .unwrap_or(Ok(None))
    }

    fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.check_size(value.len())?;
        let now = self.clock.now_ms();
        let entry = Entry {
            value: Value::Bytes(value),
            expires_at: ttl.expires_at(now),
        };
        let t = self.ns_or_create(ns);
        let size = entry.size(key);
        let old = t.map.insert(Box::from(key), entry);
        let old_size = old.as_ref().map_or(0, |e| e.size(key));
        if old.is_some_and(|e| !e.is_live(now)) {
            t.count_ttl(1);
        }
        t.add_bytes(size - old_size);
        Ok(())
    }

    fn delete(&self, ns: &str, key: &str) -> bool {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| match t.map.remove(key) {
            Some((k, e)) => {
                t.add_bytes(-e.size(&k));
                if e.is_live(now) {
                    t.count_manual(1);
                    true
                } else {
                    t.count_ttl(1);
                    false
                }
            }
            None => false,
        })
        .unwrap_or(false)
    }

    fn ttl(&self, ns: &str, key: &str) -> Option<Ttl> {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| {
            t.map.get(key).and_then(|e| match e.expires_at {
                None => Some(Ttl::Never),
                Some(at) if at > now => Some(Ttl::After(remaining(now, at))),
                Some(_) => None,
            })
        })
        .flatten()
    }

    /// Runs `f` on the live entry at `key` under its entry lock, creating it with `create` when
    /// absent or expired. `f` returns the result and whether the entry's size changed.
    fn update<R>(
        &self,
        ns: &str,
        key: &str,
        create: impl FnOnce(u64) -> Entry,
        f: impl FnOnce(&mut Entry) -> CacheResult<R>,
    ) -> CacheResult<R> {
        let now = self.clock.now_ms();
        let t = self.ns_or_create(ns);
        match t.map.entry(Box::from(key)) {
            MapEntry::Occupied(mut o) => {
                let before = o.get().size(key);
                if !o.get().is_live(now) {
                    t.count_ttl(1);
                    o.insert(create(now));
                }
                let out = f(o.get_mut());
                t.add_bytes(o.get().size(key) - before);
                out
            }
            MapEntry::Vacant(v) => {
                let mut entry = create(now);
                let out = f(&mut entry);
                // A failed first operation leaves no trace.
                if out.is_ok() {
                    t.add_bytes(entry.size(key));
                    v.insert(entry);
                }
                out
            }
        }
    }

    fn increment(&self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> CacheResult<i64> {
        self.update(
            ns,
            key,
            |now| Entry {
                value: Value::Bytes(codec::counter_bytes(0)),
                expires_at: ttl.expires_at(now),
            },
            |e| match &mut e.value {
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
        f: impl FnOnce(&mut HashSet<Bytes>) -> R,
    ) -> CacheResult<R> {
        self.update(
            ns,
            key,
            |now| Entry {
                value: Value::Set(HashSet::new()),
                expires_at: ttl.expires_at(now),
            },
            |e| match &mut e.value {
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
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| match t.map.get(key) {
            Some(e) if e.is_live(now) => match &e.value {
                Value::Set(s) => Ok(Some(f(s))),
                other => Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                }),
            },
            _ => Ok(None),
        })
        .unwrap_or(Ok(None))
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
        t.add_bytes(after - before);
        if now_empty {
            // An empty set is an absent key, as in Redis.
            if let Some((k, e)) = t.map.remove_if(
                key,
                |_, e| matches!(&e.value, Value::Set(s) if s.is_empty()),
            ) {
                t.add_bytes(-e.size(&k));
            }
        }
        Ok(removed)
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
            None => self.all_namespaces().into_iter().map(|(_, t)| t).collect(),
        };
        tables.iter().map(|t| t.remove_where(now, |_| true)).sum()
    }

    fn delete_pattern(&self, ns: &str, pattern: &Glob) -> u64 {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| t.remove_where(now, |k| pattern.matches(k)))
            .unwrap_or(0)
    }
}

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
        self.table.set_op(ns, key, ttl, |s| s.insert(member))
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
