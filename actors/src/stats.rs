//! Operation counters shared by the adapters and the MetricsReporter.
//!
//! The counts live here, outside every actor, so an actor's crash loses none of them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::error::CacheResult;

/// Monotonic operation counters of one cache instance.
#[derive(Debug, Default)]
pub struct OpCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
}

/// A point-in-time copy of [`OpCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OpSnapshot {
    /// Reads that found a live entry.
    pub hits: u64,
    /// Reads that found nothing (absent or expired).
    pub misses: u64,
    /// Successful writes (put, increment, set additions and removals).
    pub writes: u64,
    /// Successful deletions, clears and pattern deletions.
    pub deletes: u64,
    /// Operations that returned an error.
    pub errors: u64,
}

impl OpSnapshot {
    /// hits / (hits + misses), or 0 when nothing was read.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }
}

impl OpCounters {
    /// Records the outcome of a read: hit, miss or error.
    pub(crate) fn read<T>(&self, r: &CacheResult<Option<T>>) {
        let c = match r {
            Ok(Some(_)) => &self.hits,
            Ok(None) => &self.misses,
            Err(_) => &self.errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a read whose answer is a yes/no (exists, ttl, membership).
    pub(crate) fn probe(&self, found: &CacheResult<bool>) {
        let c = match found {
            Ok(true) => &self.hits,
            Ok(false) => &self.misses,
            Err(_) => &self.errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a set read: a non-empty set is a hit.
    pub(crate) fn members<T>(&self, r: &CacheResult<Vec<T>>) {
        let c = match r {
            Ok(m) if !m.is_empty() => &self.hits,
            Ok(_) => &self.misses,
            Err(_) => &self.errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a write.
    pub(crate) fn write<T>(&self, r: &CacheResult<T>) {
        let c = if r.is_ok() {
            &self.writes
        } else {
            &self.errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a deletion.
    pub(crate) fn delete<T>(&self, r: &CacheResult<T>) {
        let c = if r.is_ok() {
            &self.deletes
        } else {
            &self.errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy of the counters (each read is atomic; the set is not).
    pub fn snapshot(&self) -> OpSnapshot {
        OpSnapshot {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}
