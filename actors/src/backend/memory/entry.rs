//! One stored entry: its [`Value`] (a plain value or a set), its expiry, its links into the
//! expiry index and the eviction policy, and its size as the byte counts and limits see it.
//!
//! Used by every path of the table that touches an entry: reads and writes
//! (`reads_writes.rs`), counters and sets (`counters_sets.rs`), removals, eviction and the
//! sweep. [`Entry::is_live`] is the check that makes an expired entry a miss before the sweep
//! has removed it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;

use super::expiry::NO_BUCKET;
use super::policy::{MAX_HITS, NO_NODE};

/// Estimated bookkeeping bytes per entry (map slot, entry header, expiry, policy node), added
/// to the key and value lengths in the table's byte count and in `memory.max_bytes`. An
/// estimate, stated so byte figures are comparable; `docs/PERFORMANCE.md` has the measured
/// resident memory per entry.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;

/// `Entry::expires_at` of an entry that never expires.
pub(super) const NEVER: u64 = u64::MAX;

/// One stored entry.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) value: Value,
    /// Absolute expiry in clock milliseconds, [`NEVER`] for none.
    pub(super) expires_at: u64,
    /// Bucket of this entry's expiry-index item, [`NO_BUCKET`] when it has none.
    pub(super) indexed: u32,
    /// Policy node ([`NO_NODE`] when the table is unbounded or the policy is `reject`).
    pub(super) node: u32,
    /// Hits since the policy last looked (saturating at [`MAX_HITS`]); `lfu` only.
    pub(super) hits: AtomicU8,
    /// Whether the window selector follows this key (`lfu`; one key in `R` by hash): its
    /// hits are reported to the policy. Fits in the entry's padding.
    pub(super) sampled: bool,
}

#[derive(Debug)]
pub(super) enum Value {
    Bytes(Bytes),
    // Boxed so a plain value's entry stays small (a `HashSet` is 48 bytes inline).
    #[allow(clippy::box_collection)]
    Set(Box<HashSet<Bytes>>),
}

impl Value {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Value::Bytes(_) => "a value",
            Value::Set(_) => "a set",
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Set(s) => s.iter().map(Bytes::len).sum(),
        }
    }
}

impl Entry {
    pub(super) fn new(value: Value, expires_at: u64) -> Self {
        Entry {
            value,
            expires_at,
            indexed: NO_BUCKET,
            node: NO_NODE,
            hits: AtomicU8::new(0),
            sampled: false,
        }
    }

    #[inline]
    pub(super) fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }

    pub(super) fn size(&self, key: &str) -> i64 {
        entry_size(key.len(), self.value.len()) as i64
    }

    /// Counts a hit for the frequency policy: a relaxed load, and a store only below the cap,
    /// so a hot entry stops writing its cache line once saturated.
    #[inline]
    pub(super) fn hit(&self) {
        let h = self.hits.load(Ordering::Relaxed);
        if h < MAX_HITS {
            self.hits.store(h + 1, Ordering::Relaxed);
        }
    }
}

/// Bytes an entry counts for: key, encoded value and [`ENTRY_OVERHEAD_BYTES`].
#[inline]
pub(super) fn entry_size(key_len: usize, value_len: usize) -> u64 {
    (key_len + value_len + ENTRY_OVERHEAD_BYTES) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampled_flag_fits_in_the_entry_padding() {
        // value 32 B, expiry 8, expiry bucket 4, policy node 4, hit counter 1: 49 B, padded to
        // 56 whether or not the selector's flag takes one of the spare bytes.
        assert!(
            std::mem::size_of::<Entry>() <= 56,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
