//! The namespace map ([`Namespaces`]): each namespace's own map of entries ([`NsTable`]) with
//! its entry, byte and removal counters, created on the first write to the namespace (O(1)
//! amortized at any count) and dropped again when it is empty at a sweep
//! ([`MemoryTable::reclaim_empty_namespaces`], with a grace period so no write lands in a
//! dropped table); the lookups by name (lock-free for established namespaces) and by id; and
//! the usage report built from the counters ([`MemoryTable::usage`]).
//!
//! Every operation starts here: reads, deletes and clears look the namespace up (a missing
//! namespace is a miss), writes create it on first use ([`MemoryTable::with_ns_or_create`]),
//! and eviction and the sweep find it by id. The Store actor and the eviction tests read
//! [`MemoryTable::usage`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use serde::Serialize;

use super::entry::Entry;
use super::grace;
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
    /// Set by the reclaimer on a table it is about to drop; a write that sees it goes to a
    /// fresh table instead (see [`Namespaces::reclaim_empty`]).
    pub(super) retired: AtomicBool,
    /// Sum of [`Entry::size`] over the map; adjusted on every mutation.
    pub(super) bytes: AtomicI64,
    /// The namespace's time to idle in milliseconds, 0 for none (`memory/idle.rs`).
    pub(super) tti: u64,
    evicted_ttl: AtomicU64,
    evicted_manual: AtomicU64,
    evicted_lru: AtomicU64,
    evicted_lfu: AtomicU64,
    evicted_capacity: AtomicU64,
}

impl NsTable {
    fn new(id: u32, name: &str, tti: u64) -> Self {
        NsTable {
            id,
            name: Arc::from(name),
            map: DashMap::default(),
            entries: AtomicI64::new(0),
            retired: AtomicBool::new(false),
            bytes: AtomicI64::new(0),
            tti,
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

/// The namespace map: name → table and id → table.
///
/// Reads look a name up lock-free in a copy-on-write snapshot; a namespace created since the
/// snapshot was last rebuilt is found in `recent` (a concurrent map) until the next rebuild.
/// The snapshot is rebuilt when `recent` holds more than an eighth of it
/// ([`REBUILD_FRACTION`]), so creating a namespace costs O(1) amortized at any count. Ids are
/// never reused.
#[derive(Debug)]
pub(super) struct Namespaces {
    snapshot: ArcSwap<HashMap<Arc<str>, Arc<NsTable>, Hasher>>,
    recent: DashMap<Arc<str>, Arc<NsTable>, Hasher>,
    by_id: DashMap<u32, Arc<NsTable>, Hasher>,
    next_id: AtomicU32,
    /// Serialises creation, rebuilds and reclamation (never held by a read or an ordinary
    /// write).
    lock: Mutex<()>,
}

/// `recent` is folded into the snapshot once it holds more than 1/`REBUILD_FRACTION` of the
/// snapshot's namespaces: a rebuild copies n entries after n/8 creations (8 pointer copies per
/// creation, amortized), and a namespace waits at most that long for the lock-free path. The
/// first namespaces go into the snapshot at once (an empty or small snapshot is rebuilt on
/// every creation), so the namespaces a typical application uses are never looked up in
/// `recent`, whose lookup costs a shard lock and a reference count (measured: the `default`
/// namespace left in `recent` made a `direct` get 15–20 % slower, `benches/dataplane.rs`).
/// `benches/namespaces.rs` measures first-put latency from 1 to 100,000 namespaces.
const REBUILD_FRACTION: usize = 8;

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            snapshot: ArcSwap::from_pointee(HashMap::default()),
            recent: DashMap::default(),
            by_id: DashMap::default(),
            next_id: AtomicU32::new(0),
            lock: Mutex::new(()),
        }
    }
}

impl Namespaces {
    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table of `ns`, if it exists.
    pub(super) fn get(&self, ns: &str) -> Option<Arc<NsTable>> {
        loop {
            let snap = self.snapshot.load();
            if let Some(t) = snap.get(ns) {
                return Some(t.clone());
            }
            if let Some(t) = self.recent.get(ns) {
                return Some(t.clone());
            }
            // A rebuild may have moved it from `recent` into a snapshot newer than ours.
            if Arc::ptr_eq(&snap, &self.snapshot.load()) {
                return None;
            }
        }
    }

    /// Runs `f` on the table of `ns` if it exists, borrowed from the snapshot when it is
    /// there (no reference count touched on the hot path).
    #[inline]
    pub(super) fn with<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> Option<R> {
        // One call site for `f`, so it inlines as it did when the snapshot was the whole map.
        let snap = self.snapshot.load();
        let recent;
        let t = match snap.get(ns) {
            Some(t) => &**t,
            None => {
                recent = self.get(ns)?;
                &*recent
            }
        };
        Some(f(t))
    }

    /// The table by id (eviction and the sweep find entries this way).
    pub(super) fn by_id(&self, id: u32) -> Option<Arc<NsTable>> {
        self.by_id.get(&id).map(|t| t.clone())
    }

    /// Every table, by name.
    pub(super) fn all(&self) -> Vec<Arc<NsTable>> {
        let mut v: Vec<Arc<NsTable>> = self.by_id.iter().map(|t| t.clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Creates the table of `ns` (with time to idle `tti` ms, 0 for none), or returns the
    /// one a racing writer created first.
    fn create(&self, ns: &str, tti: u64) -> Arc<NsTable> {
        let _guard = self.lock();
        if let Some(t) = self.get(ns) {
            return t;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let t = Arc::new(NsTable::new(id, ns, tti));
        self.by_id.insert(id, t.clone());
        self.recent.insert(Arc::from(ns), t.clone());
        let snap_len = self.snapshot.load().len();
        if self.recent.len() * REBUILD_FRACTION > snap_len {
            self.rebuild(|_| true);
        }
        t
    }

    /// Publishes a snapshot of every namespace `keep` accepts (from the snapshot and
    /// `recent`), then empties `recent`. Called with the lock held.
    fn rebuild(&self, keep: impl Fn(&NsTable) -> bool) {
        let old = self.snapshot.load_full();
        let mut next: HashMap<Arc<str>, Arc<NsTable>, Hasher> =
            HashMap::with_capacity_and_hasher(old.len() + self.recent.len(), Hasher::default());
        for (name, t) in old.iter() {
            if keep(t) {
                next.insert(name.clone(), t.clone());
            }
        }
        for e in self.recent.iter() {
            if keep(e.value()) {
                next.insert(e.key().clone(), e.value().clone());
            }
        }
        // The new snapshot first: a reader that misses `recent` after it is emptied then sees
        // a snapshot other than the one it started with, and looks again.
        self.snapshot.store(Arc::new(next));
        self.recent.clear();
    }

    /// Drops the tables that are empty: marks them retired, waits until every write that
    /// might not have seen the mark is over (`grace.rs`), and then drops those still empty
    /// (a table a write reached meanwhile is kept). Returns how many were dropped.
    pub(super) fn reclaim_empty(&self) -> usize {
        let candidates: Vec<Arc<NsTable>> = self
            .by_id
            .iter()
            .filter(|t| t.entries.load(Ordering::SeqCst) == 0)
            .map(|t| t.clone())
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let _guard = self.lock();
        for t in &candidates {
            t.retired.store(true, Ordering::SeqCst);
        }
        grace::wait();
        let mut dropped = std::collections::HashSet::new();
        for t in &candidates {
            if t.entries.load(Ordering::SeqCst) == 0 {
                dropped.insert(t.id);
            } else {
                t.retired.store(false, Ordering::SeqCst);
            }
        }
        if !dropped.is_empty() {
            self.rebuild(|t| !dropped.contains(&t.id));
            for id in &dropped {
                self.by_id.remove(id);
            }
        }
        dropped.len()
    }

    /// Waits until the reclaimer is done with retired table `t` (dropped, or kept because a
    /// write reached it).
    fn wait_retired(&self, t: &NsTable) {
        let _ = t;
        drop(self.lock());
    }
}

impl MemoryTable {
    /// Runs `f` on a namespace's table if it exists.
    #[inline]
    pub(super) fn with_ns<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> Option<R> {
        self.spaces.with(ns, f)
    }

    /// Runs `f` (a write) on the namespace's table, created on first use. The table is
    /// borrowed from the current snapshot, not cloned: a clone would bump one shared
    /// reference count on every write, a cache line that two writing cores would pass back and
    /// forth. The write runs inside a grace-period guard, and goes to a fresh table if the
    /// reclaimer retired this one meanwhile (see [`Namespaces::reclaim_empty`]).
    pub(super) fn with_ns_or_create<R>(&self, ns: &str, f: impl FnOnce(&NsTable) -> R) -> R {
        loop {
            {
                let snap = self.spaces.snapshot.load();
                if let Some(t) = snap.get(ns) {
                    let writing = grace::enter();
                    if !t.retired.load(Ordering::SeqCst) {
                        let r = f(t);
                        drop(writing);
                        return r;
                    }
                    drop(writing);
                    self.spaces.wait_retired(t);
                    continue;
                }
            }
            let t = match self.spaces.get(ns) {
                Some(t) => t,
                None => self.spaces.create(ns, self.idle.of(ns).unwrap_or(0)),
            };
            let writing = grace::enter();
            if !t.retired.load(Ordering::SeqCst) {
                let r = f(&t);
                drop(writing);
                return r;
            }
            drop(writing);
            self.spaces.wait_retired(&t);
        }
    }

    /// The table of `ns`, if it exists.
    pub(super) fn lookup_ns(&self, ns: &str) -> Option<Arc<NsTable>> {
        self.spaces.get(ns)
    }

    /// The table with id `id`, if it still exists.
    pub(super) fn ns_by_id(&self, id: u32) -> Option<Arc<NsTable>> {
        self.spaces.by_id(id)
    }

    /// Drops the namespaces that hold no entries (the Cleanup actor calls this after each
    /// sweep); returns how many went. A namespace written again later is created afresh, with
    /// its removal counters from zero.
    pub fn reclaim_empty_namespaces(&self) -> usize {
        self.spaces.reclaim_empty()
    }

    /// Namespaces currently held.
    pub fn namespace_count(&self) -> usize {
        self.spaces.by_id.len()
    }

    pub(super) fn all_namespaces(&self) -> Vec<Arc<NsTable>> {
        self.spaces.all()
    }

    /// Entry and byte counts per namespace. Counts include expired entries not yet swept.
    ///
    /// The per-namespace figures are read one after another, not as one snapshot, so under
    /// concurrent writes their sum may differ from the totals for a moment. The totals of a
    /// bounded table are its global counts ([`MemoryTable::held`]), the figures its limits
    /// are enforced on; an unbounded table's totals are the sum of its namespaces.
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
        if self.policy.is_some() {
            (usage.entries, usage.bytes) = self.held();
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bytes::Bytes;

    use crate::backend::MemoryTable;
    use crate::clock::Clock;
    use crate::ttl::Ttl;

    /// Writers race a reclaimer that runs flat out: every write is read back. Without the
    /// retired mark and the grace period this loses writes within a few thousand rounds.
    #[test]
    fn reclamation_never_loses_a_racing_write() {
        let table = Arc::new(MemoryTable::new(Clock::system(), 1024));
        let stop = Arc::new(AtomicBool::new(false));
        let reclaimer = {
            let (table, stop) = (table.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut dropped = 0;
                while !stop.load(Ordering::Relaxed) {
                    dropped += table.reclaim_empty_namespaces();
                }
                dropped
            })
        };
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for i in 0..100_000u32 {
                        let ns = if i % 2 == 0 { "a" } else { "b" };
                        let key = format!("w{w}");
                        table
                            .put(ns, &key, Bytes::from(i.to_string()), Ttl::Never)
                            .unwrap();
                        assert!(
                            table.get(ns, &key).unwrap().is_some(),
                            "writer {w} round {i}: an acknowledged write was lost"
                        );
                        assert!(table.delete(ns, &key));
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let dropped = reclaimer.join().unwrap();
        assert!(dropped > 0, "the reclaimer never dropped a namespace");
        assert_eq!(table.usage().entries, 0);
    }
}
