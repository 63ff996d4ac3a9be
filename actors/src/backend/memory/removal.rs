//! What happens when an entry leaves the map: the bookkeeping every removal goes through
//! ([`MemoryTable::forget`]: entry and byte counts, expiry index, policy node), the counter it
//! goes to ([`Removal`]), and the events told to the [`EvictionListener`] for the removals the
//! table makes on its own (collected in [`Events`] under the table's locks, handed over after
//! them).
//!
//! Called by `delete` (`reads_writes.rs`), `clear` and `delete_pattern` (`clear.rs`), eviction
//! (`eviction.rs`) and the sweep (`sweep.rs`); writes that replace an expired entry push its
//! `ttl` event here too. The public types ([`Eviction`], [`EvictionReason`],
//! [`EvictionListener`]) are re-exported by the crate; the service installs the listener with
//! [`MemoryTable::set_eviction_listener`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::MemoryTable;
use super::entry::Entry;
use super::expiry::NO_BUCKET;
use super::namespaces::NsTable;
use super::policy::Policy;

/// Why an entry left the table on its own, as told to an [`EvictionListener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum EvictionReason {
    /// It expired (removed by a sweep, or found expired by a write or an eviction).
    Ttl,
    /// Evicted by the `lru` policy to respect a limit.
    Lru,
    /// Evicted by the `lfu` policy to respect a limit.
    Lfu,
}

impl EvictionReason {
    /// The `reason` label value of `deeper_hub_core_cache_evictions_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionReason::Ttl => "ttl",
            EvictionReason::Lru => "lru",
            EvictionReason::Lfu => "lfu",
        }
    }
}

/// One entry the table removed on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its key.
    pub key: Arc<str>,
    /// Why it went.
    pub reason: EvictionReason,
}

/// A callback told of every entry the table removes on its own (expiry and eviction; not
/// deletes, clears or overwrites, which the application does itself). It runs in the thread
/// whose operation caused the removal, after the table's locks are released, so it may call
/// the cache; keep it short (send to a channel for slow work).
pub type EvictionListener = Arc<dyn Fn(&Eviction) + Send + Sync>;

pub(super) struct ListenerSlot(EvictionListener);

impl std::fmt::Debug for ListenerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvictionListener")
    }
}

/// How an entry left: the counter it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    Manual,
    Ttl,
    Lru,
    Lfu,
}

/// Evictions collected under the locks and handed to the listener after them.
pub(super) struct Events {
    listener: Option<Arc<ListenerSlot>>,
    list: Vec<Eviction>,
}

impl Events {
    pub(super) fn new(table: &MemoryTable) -> Self {
        Events {
            listener: table.listener.load_full(),
            list: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, t: &NsTable, key: &Arc<str>, reason: EvictionReason) {
        if self.listener.is_some() {
            self.list.push(Eviction {
                namespace: t.name.clone(),
                key: key.clone(),
                reason,
            });
        }
    }

    pub(super) fn emit(self) {
        if let Some(l) = self.listener {
            for e in &self.list {
                (l.0)(e);
            }
        }
    }
}

impl MemoryTable {
    /// Sets (or, with `None`, removes) the eviction listener.
    pub fn set_eviction_listener(&self, listener: Option<EvictionListener>) {
        self.listener
            .store(listener.map(|l| Arc::new(ListenerSlot(l))));
    }

    /// Bookkeeping of an entry that left the map: bytes, expiry index, policy, counters,
    /// listener.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forget(
        &self,
        policy: Option<&mut Policy>,
        t: &NsTable,
        key: &Arc<str>,
        e: &Entry,
        how: Removal,
        unindex: bool,
        events: &mut Events,
    ) {
        t.entries.fetch_sub(1, Ordering::Relaxed);
        self.settle(t, -e.size(key), 0);
        if unindex && e.indexed != NO_BUCKET {
            self.expiry.remove(e.indexed, &self.item(t.id, key));
        }
        if let Some(p) = policy {
            p.remove(e.node);
        }
        t.count(how);
        let reason = match how {
            Removal::Manual => return,
            Removal::Ttl => EvictionReason::Ttl,
            Removal::Lru => EvictionReason::Lru,
            Removal::Lfu => EvictionReason::Lfu,
        };
        events.push(t, key, reason);
    }
}
