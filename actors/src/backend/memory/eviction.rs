//! Limits and eviction: the byte accounting every mutation goes through (`reserve` before an
//! entry grows, `settle` after), the checks against `memory.max_entries` and
//! `memory.max_bytes`, making room for a new key under the policy mutex (`make_room`,
//! `evict_one`), and the hooks through which reads and writes tell the policy
//! (`memory/policy.rs`) of hits (`note_hit`, `touch`, `after_write`). The policy asks the table
//! about an entry through the [`Resident`] impl at the end of this file.
//!
//! Called by the write paths (`reads_writes.rs`, `counters_sets.rs`), the read path (hits) and
//! every removal (byte counts); [`MemoryTable::held`] and
//! [`MemoryTable::policy_metadata_bytes`] are read by the eviction tests and the benchmarks.
//!
//! # Limits (`memory.max_entries`, `memory.max_bytes`) and policies (`memory/policy.rs`)
//! Off by default: an unbounded table has no policy and takes no global lock. When a limit is
//! set, the table keeps an exact entry count and a global byte count, and a policy mutex
//! serialises the *creation of new keys* and *removals*; reads and in-place overwrites do not
//! take it (except the exact `lru` policy, whose hits do).
//!
//! - **Inserting a new key** happens under the policy mutex: the writer first evicts (`lfu`,
//!   `lru`) or fails with
//!   [`CacheError::CapacityExceeded`](crate::error::CacheError::CapacityExceeded) (`reject`)
//!   until the new entry fits, then inserts. Eviction is amortised O(1) per write: the policy
//!   names its victim from the end of a queue, never by scanning the table.
//! - **The bound on entries is exact**: the count never exceeds `max_entries`, at any moment,
//!   under any concurrency (only inserts of new keys add entries, and they are serialised).
//! - **The bound on bytes has a bounded slack** under `lfu` and `lru`: an overwrite that grows
//!   an entry (a longer value, a set member, a counter's extra digit) charges the global byte
//!   count first and evicts right after releasing the entry's lock. Between the two the table
//!   can be over `max_bytes` by at most the growth of the overwrites in flight — at most one
//!   per writing thread, each at most `max_value_bytes` plus the key. Under `reject` the growth
//!   is reserved before the entry changes, so the byte bound is exact there too.
//! - An entry larger than `max_bytes` by itself is refused with `CapacityExceeded` under every
//!   policy.

use std::sync::Arc;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use super::MemoryTable;
use super::entry::Entry;
use super::namespaces::NsTable;
use super::policy::{EXPIRED, Policy, Resident};
use super::removal::{Events, Removal};
use crate::config::EvictionPolicy;
use crate::error::CacheResult;

#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_entries: u64,
    pub(super) max_bytes: u64,
    pub(super) policy: EvictionPolicy,
}

/// What a read does besides reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadMode {
    /// Nothing (unbounded, or `reject`).
    Plain,
    /// Bump the entry's hit counter (`lfu`).
    Hits,
    /// Move the entry to the front under the policy mutex (`lru`).
    Lru,
}

/// An `lru` hit to record once the map's lock is released: the node and the key's address.
pub(super) type Touch = Option<(u32, usize)>;

impl MemoryTable {
    /// Entries and bytes held by the whole table, as the limits see them. For a bounded
    /// table both are exact global counts (the entry count under the policy mutex); for an
    /// unbounded one they are summed over the namespaces.
    pub fn held(&self) -> (u64, u64) {
        match self.lock_policy() {
            Some(p) => (p.len(), self.bytes.load(Ordering::Relaxed).max(0) as u64),
            None => {
                let u = self.usage();
                (u.entries, u.bytes)
            }
        }
    }

    /// Bytes held by the eviction policy's own structures (node slab and frequency sketch;
    /// 0 for an unbounded table).
    pub fn policy_metadata_bytes(&self) -> usize {
        self.lock_policy().map_or(0, |p| p.metadata_bytes())
    }

    #[inline]
    pub(super) fn lock_policy(&self) -> Option<MutexGuard<'_, Policy>> {
        self.policy
            .as_ref()
            .map(|p| p.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Refuses an entry larger than `max_bytes` by itself.
    #[inline]
    pub(super) fn check_fits(&self, t: &NsTable, size: u64) -> CacheResult<()> {
        let max = self.limits.max_bytes;
        if max > 0 && size > max {
            return Err(t.refuse("memory.max_bytes", max, size));
        }
        Ok(())
    }

    fn bounded_bytes(&self) -> bool {
        self.policy.is_some()
    }

    /// Whether growth is reserved before an entry changes (`reject` with a byte limit).
    pub(super) fn reserves_growth(&self) -> bool {
        self.limits.max_bytes > 0 && self.limits.policy == EvictionPolicy::Reject
    }

    /// Before an entry grows by `n` bytes: under `reject` with a byte limit, reserves them in
    /// the global count or refuses the write. Returns what was reserved.
    pub(super) fn reserve(&self, t: &NsTable, n: i64) -> CacheResult<i64> {
        let max = self.limits.max_bytes;
        if n <= 0 || max == 0 || self.limits.policy != EvictionPolicy::Reject {
            return Ok(0);
        }
        let mut cur = self.bytes.load(Ordering::Relaxed);
        loop {
            let next = cur + n;
            if next as u64 > max {
                return Err(t.refuse("memory.max_bytes", max, next as u64));
            }
            match self
                .bytes
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(n),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Records an entry's size change of `delta` bytes of which `reserved` were reserved.
    #[inline]
    pub(super) fn settle(&self, t: &NsTable, delta: i64, reserved: i64) {
        if delta != 0 {
            t.bytes.fetch_add(delta, Ordering::Relaxed);
        }
        if self.bounded_bytes() && delta != reserved {
            self.bytes.fetch_add(delta - reserved, Ordering::Relaxed);
        }
    }

    /// Whether the table is over `max_bytes` (growth in flight): evict after the write.
    pub(super) fn over_bytes(&self) -> bool {
        let max = self.limits.max_bytes;
        max > 0 && self.bytes.load(Ordering::Relaxed).max(0) as u64 > max
    }

    /// Evicts the policy's victim; `false` when there is nothing to evict.
    pub(super) fn evict_one(&self, p: &mut Policy, events: &mut Events) -> bool {
        let Some((node, ns, key)) = p.victim(self) else {
            return false;
        };
        let removed = self.ns_by_id(ns).and_then(|t| {
            let (k, e) = t.map.remove(&*key)?;
            (e.node == node).then_some((t, k, e))
        });
        match removed {
            Some((t, k, e)) => {
                let how = if !e.is_live(self.clock.now_ms()) {
                    Removal::Ttl
                } else if self.limits.policy == EvictionPolicy::Lru {
                    Removal::Lru
                } else {
                    Removal::Lfu
                };
                self.forget(Some(p), &t, &k, &e, how, true, events);
            }
            // Not reachable while every insert and removal runs under the policy mutex; drop
            // the node rather than loop on it.
            None => p.remove(node),
        }
        true
    }

    /// Under the policy mutex: evicts (or refuses, under `reject`) until one more entry of
    /// `size` bytes fits.
    pub(super) fn make_room(
        &self,
        p: &mut Policy,
        t: &NsTable,
        size: u64,
        events: &mut Events,
    ) -> CacheResult<()> {
        let Limits {
            max_entries,
            max_bytes,
            policy,
        } = self.limits;
        p.replay_sampled_hits(&self.sampled_hits, self);
        loop {
            let entries = p.len() + 1;
            let bytes = self.bytes.load(Ordering::Relaxed).max(0) as u64 + size;
            let over_entries = max_entries > 0 && entries > max_entries;
            let over_bytes = max_bytes > 0 && bytes > max_bytes;
            if !over_entries && !over_bytes {
                return Ok(());
            }
            if policy == EvictionPolicy::Reject {
                return Err(if over_entries {
                    t.refuse("memory.max_entries", max_entries, entries)
                } else {
                    t.refuse("memory.max_bytes", max_bytes, bytes)
                });
            }
            if !self.evict_one(p, events) {
                // Nothing left to evict: only other writers' in-flight growth is over the
                // limit (the documented slack); they evict after themselves.
                return Ok(());
            }
        }
    }

    /// After a write outside the policy mutex: evict growth in flight, record an `lru` hit.
    #[inline]
    pub(super) fn after_write(&self, touch: Touch, shrink: bool, events: &mut Events) {
        if !shrink && touch.is_none() {
            return;
        }
        if let Some(mut p) = self.lock_policy() {
            if shrink {
                while self.over_bytes() && self.evict_one(&mut p, events) {}
            }
            if let Some((node, key)) = touch {
                p.touch(node, key);
            }
        }
    }

    #[inline]
    pub(super) fn note_hit(&self, key: &Arc<str>, e: &Entry) -> Touch {
        match self.read_mode {
            ReadMode::Plain => None,
            ReadMode::Hits => {
                e.hit();
                self.hits.add_one();
                if e.sampled {
                    self.sampled_hits.push(e.node);
                }
                None
            }
            ReadMode::Lru => Some((e.node, Arc::as_ptr(key) as *const u8 as usize)),
        }
    }

    #[inline]
    pub(super) fn touch(&self, touch: Touch) {
        if let Some((node, key)) = touch
            && let Some(mut p) = self.lock_policy()
        {
            p.touch(node, key);
        }
    }
}

impl Resident for MemoryTable {
    fn take_hits(&self, ns: u32, key: &str) -> u8 {
        let Some(t) = self.ns_by_id(ns) else {
            return EXPIRED;
        };
        match t.map.get(key) {
            Some(e) if e.is_live(self.clock.now_ms()) => e.hits.swap(0, Ordering::Relaxed),
            _ => EXPIRED,
        }
    }

    fn hash(&self, ns: u32, key: &str) -> u64 {
        self.item_hash(ns, key)
    }

    fn hits_total(&self) -> u64 {
        self.hits.total()
    }
}
