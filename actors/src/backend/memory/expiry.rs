//! The expiry index: entries with a TTL, grouped in one-second buckets by expiry time, so a
//! sweep visits what is due instead of scanning the table.
//!
//! Each entry with a TTL has exactly one index item (namespace id and key, sharing the key's
//! allocation with the map); the entry remembers the bucket of its item (`Entry::indexed`).
//! - A write whose expiry lands in the item's bucket or a later one leaves the item where it
//!   is (the common case of rewriting a key with the same TTL costs nothing here); when the
//!   sweep reaches the item and finds the entry not yet expired, it moves the item to the
//!   entry's current bucket. A write with an earlier expiry moves the item at once; a write
//!   with no TTL removes it.
//! - Removing an entry (delete, clear, eviction) removes its item, so the index never holds
//!   more items than the table holds entries with a TTL (plus, transiently, items of entries
//!   removed while a sweep had their bucket in hand, dropped by that sweep).
//! - A sweep at time `now` takes every bucket that has started (`bucket ≤ now / 1 s`) out of
//!   the index and checks each item against the entry's *current* expiry before removing, so
//!   an entry rewritten with a new TTL is never removed by an old item. Its cost is the number
//!   of expired entries plus the entries of the current, partly elapsed second and any items
//!   moved by later rewrites — never the size of the table.
//!
//! Items live in `SHARDS` mutex-protected shards chosen by the key's hash (each a `BTreeMap`
//! from bucket to a hash set of items); the shard locks are leaves: nothing else is locked
//! while one is held, so writers and the sweep can take them under a map shard lock.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Width of one bucket, in clock milliseconds.
pub(crate) const BUCKET_MS: u64 = 1_000;

/// `Entry::indexed` of an entry without an index item.
pub(crate) const NO_BUCKET: u32 = u32::MAX;

/// Number of index shards.
const SHARDS: usize = 16;

/// The bucket of an absolute expiry (saturating far in the future).
#[inline]
pub(crate) fn bucket_of(expires_at: u64) -> u32 {
    (expires_at / BUCKET_MS).min(u64::from(NO_BUCKET - 1)) as u32
}

/// One index item: an entry by namespace id and key, with the key's hash precomputed.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) hash: u64,
    pub(crate) ns: u32,
    pub(crate) key: Arc<str>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.ns == other.ns && (Arc::ptr_eq(&self.key, &other.key) || self.key == other.key)
    }
}

impl Eq for Item {}

impl Hash for Item {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes the precomputed hash through.
#[derive(Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ItemSet = HashSet<Item, BuildHasherDefault<PassThrough>>;
type Shard = BTreeMap<u32, ItemSet>;

/// The buckets a sweep took out of the index.
pub(crate) type Due = Vec<(u32, Vec<Item>)>;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ExpiryIndex {
    shards: Box<[Mutex<Shard>]>,
    items: AtomicUsize,
}

impl Default for ExpiryIndex {
    fn default() -> Self {
        ExpiryIndex {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            items: AtomicUsize::new(0),
        }
    }
}

impl ExpiryIndex {
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        let i = (hash >> 58) as usize % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Items held (for tests and the footprint report).
    pub(crate) fn len(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// Adds `item` to `bucket`.
    pub(crate) fn insert(&self, bucket: u32, item: Item) {
        let mut shard = self.shard(item.hash);
        if shard.entry(bucket).or_default().insert(item) {
            self.items.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes `item` from `bucket` (absent: nothing happens).
    pub(crate) fn remove(&self, bucket: u32, item: &Item) {
        let mut shard = self.shard(item.hash);
        if let Some(set) = shard.get_mut(&bucket)
            && set.remove(item)
        {
            self.items.fetch_sub(1, Ordering::Relaxed);
            if set.is_empty() {
                shard.remove(&bucket);
            }
        }
    }

    /// Takes every bucket up to and including `last` out of the index.
    pub(crate) fn take_due(&self, last: u32) -> Due {
        let mut due = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let rest = match last.checked_add(1) {
                Some(next) => shard.split_off(&next),
                None => Shard::new(),
            };
            let taken = std::mem::replace(&mut *shard, rest);
            drop(shard);
            for (bucket, set) in taken {
                self.items.fetch_sub(set.len(), Ordering::Relaxed);
                due.push((bucket, set.into_iter().collect()));
            }
        }
        due.sort_by_key(|(bucket, _)| *bucket);
        due
    }
}
