//! The namespace map: each namespace's own map of entries ([`NsTable`]) with its entry, byte
//! and removal counters, created on the first write to the namespace and never dropped; the
//! lookups by name (lock-free, through the copy-on-write map) and by id; and the usage report
//! built from the counters ([`MemoryTable::usage`]).
//!
//! Every operation starts here: reads, deletes and clears look the namespace up (a missing
//! namespace is a miss), writes create it on first use ([`MemoryTable::with_ns_or_create`]),
//! and eviction and the sweep find it by id. The Store actor and the eviction tests read
//! [`MemoryTable::usage`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;
use serde::Serialize;

use super::entry::Entry;
use super::removal::Removal;
use super::{Hasher, MemoryTable};
use crate::error::CacheError;

/// One namespace's entries and its counters.
#[derive(Debug)]
pub(super) struct NsTable {
    pub(super) id: u32,
    pub(super) name: Arc<str>,
    pub(super) map: DashMap<Arc<str>, Entry, Hasher>,
    /// Entries in the map: raised before an insert, lowered after a removal, so it is never
    /// below the map's size (`DashMap::len` sums its shards one by one, which is not a
    /// consistent count under concurrent inserts and removals).
    pub(super) entries: AtomicI64,
    /// Sum of [`Entry::size`] over the map; adjusted on every mutation.
    pub(super) bytes: AtomicI64,
    evicted_ttl: AtomicU64,
    evicted_manual: AtomicU64,
    evicted_lru: AtomicU64,
    evicted_lfu: AtomicU64,
    evicted_capacity: AtomicU64,
}

impl NsTable {
    fn new(id: u32, name: &str) -> Self {
        NsTable {
            id,
            name: Arc::from(name),
            map: DashMap::default(),
            entries: AtomicI64::new(0),
            bytes: AtomicI64::new(0),
            evicted_ttl: AtomicU64::new(0),
            evicted_manual: AtomicU64::new(0),
            evicted_lru: AtomicU64::new(0),
            evicted_lfu: AtomicU64::new(0),
            evicted_capacity: AtomicU64::new(0),
        }
    }

    pub(super) fn count(&self, how: Removal) {
        let c = match how {
            Removal::Manual => &self.evicted_manual,
            Removal::Ttl => &self.evicted_ttl,
            Removal::Lru => &self.evicted_lru,
            Removal::Lfu => &self.evicted_lfu,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn refuse(&self, limit: &'static str, max: u64, needed: u64) -> CacheError {
        self.evicted_capacity.fetch_add(1, Ordering::Relaxed);
        CacheError::CapacityExceeded { limit, max, needed }
    }
}

/// Entry and byte counts of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceUsage {
    /// Namespace name.
    pub namespace: String,
    /// Entries held, including expired ones not yet swept.
    pub entries: u64,
    /// Estimated bytes: keys + encoded values +
    /// [`ENTRY_OVERHEAD_BYTES`](super::ENTRY_OVERHEAD_BYTES) per entry.
    pub bytes: u64,
    /// Expired entries removed so far (`reason="ttl"`).
    pub evicted_ttl: u64,
    /// Live entries removed by delete, clear or delete_pattern so far (`reason="manual"`).
    pub evicted_manual: u64,
    /// Live entries evicted by the `lru` policy (`reason="lru"`).
    pub evicted_lru: u64,
    /// Live entries evicted by the `lfu` policy (`reason="lfu"`).
    pub evicted_lfu: u64,
    /// Writes refused for capacity: by the `reject` policy, or an entry larger than
    /// `memory.max_bytes` (`reason="capacity"`).
    pub evicted_capacity: u64,
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

impl MemoryTable {
    /// Runs `f` on a namespace's table if it exists.
    #[inline]
    pub(super) fn with_ns<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> Option<R> {
        self.namespaces.load().get(ns).map(|t| f(t))
    }

    /// Runs `f` on the namespace's table, created on first use. The table is borrowed from
    /// the current namespace map, not cloned: a clone would bump one shared reference count
    /// on every write, a cache line that two writing cores would pass back and forth.
    pub(super) fn with_ns_or_create<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> R {
        let map = self.namespaces.load();
        if let Some(t) = map.get(ns) {
            return f(t);
        }
        drop(map);
        f(&self.create_ns(ns))
    }

    /// Creates the namespace's table (the slow path of [`Self::with_ns_or_create`]), or
    /// returns the one a racing writer created first.
    fn create_ns(&self, ns: &str) -> Arc<NsTable> {
        let _guard = self
            .create_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(t) = self.namespaces.load().get(ns) {
            return t.clone();
        }
        let ids = self.by_id.load_full();
        let t = Arc::new(NsTable::new(ids.len() as u32, ns));
        let mut next_ids = Vec::clone(&ids);
        next_ids.push(t.clone());
        self.by_id.store(Arc::new(next_ids));
        let mut next = HashMap::clone(&self.namespaces.load());
        next.insert(Arc::from(ns), t.clone());
        self.namespaces.store(Arc::new(next));
        t
    }

    pub(super) fn all_namespaces(&self) -> Vec<Arc<NsTable>> {
        let mut v = Vec::clone(&self.by_id.load());
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Entry and byte counts per namespace. Counts include expired entries not yet swept.
    pub fn usage(&self) -> TableUsage {
        let mut usage = TableUsage::default();
        for t in self.all_namespaces() {
            let entries = t.entries.load(Ordering::Relaxed).max(0) as u64;
            let bytes = t.bytes.load(Ordering::Relaxed).max(0) as u64;
            usage.entries += entries;
            usage.bytes += bytes;
            let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
            usage.namespaces.push(NamespaceUsage {
                namespace: t.name.to_string(),
                entries,
                bytes,
                evicted_ttl: n(&t.evicted_ttl),
                evicted_manual: n(&t.evicted_manual),
                evicted_lru: n(&t.evicted_lru),
                evicted_lfu: n(&t.evicted_lfu),
                evicted_capacity: n(&t.evicted_capacity),
            });
        }
        usage
    }
}
