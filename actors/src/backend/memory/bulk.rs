//! Bulk operations on the table: `get_many`, `put_many`, `delete_many`. Each is the
//! single-key operation applied to every key in order, in the caller's task, with nothing
//! per key beyond what the table's own operation costs (no future, message or lookup of the
//! backend per key): the request reaches the table once (`ops/bulk.rs`).
//!
//! Called by the bulk requests through [`CacheBackend::memory_table`](super::super::CacheBackend::memory_table),
//! and by [`MemoryBackend`](super::MemoryBackend) for the tiered backend's L1.

use bytes::Bytes;

use super::MemoryTable;
use crate::batch::{EntryList, KeyList};
use crate::error::CacheResult;

impl MemoryTable {
    /// The value of every key in order: `None` when absent or expired, and for a key that
    /// holds a set (as Redis `MGET` answers). Each hit counts for the eviction policy and
    /// restarts an idle timer, as a `get` does.
    pub fn get_many(&self, keys: &KeyList) -> Vec<Option<Bytes>> {
        keys.iter()
            .map(|(ns, key)| self.get(ns, key).unwrap_or(None))
            .collect()
    }

    /// Writes every entry in order (a key given twice: the later value wins), each as a `put`
    /// (limits and eviction apply to each).
    ///
    /// # Errors
    /// The first entry's error ([`ValueTooLarge`](crate::CacheError::ValueTooLarge),
    /// [`CapacityExceeded`](crate::CacheError::CapacityExceeded)); the entries before it stay
    /// written, the ones after it are not attempted.
    pub fn put_many(&self, entries: &EntryList) -> CacheResult<()> {
        for (ns, key, value, ttl) in entries.iter() {
            self.put(ns, key, value.clone(), ttl)?;
        }
        Ok(())
    }

    /// Removes every key; returns how many live entries went (a key listed twice counts
    /// once: the second finds nothing).
    pub fn delete_many(&self, keys: &KeyList) -> u64 {
        keys.iter()
            .map(|(ns, key)| u64::from(self.delete(ns, key)))
            .sum()
    }
}
