//! The tiered backend's counts: reads per tier and outcome, invalidations, flushes. Reads add
//! to per-thread stripes (an L1 hit must stay as cheap as a memory-table read); the
//! MetricsReporter publishes the totals (`deeper_hub_core_cache_tier_reads_total`,
//! `..._invalidations_total`, `..._l1_flushes_total`) and `Cache::stats()` returns them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::stats::{StripedCount, TierStats};

/// Counts of one tiered backend.
#[derive(Debug, Default)]
pub(super) struct TierCounters {
    l1_hits: StripedCount,
    l1_misses: StripedCount,
    l2_hits: StripedCount,
    l2_misses: StripedCount,
    l2_errors: AtomicU64,
    stale_served: AtomicU64,
    invalidations_tracking: AtomicU64,
    invalidations_flush: AtomicU64,
    flushes: AtomicU64,
    tracking_losses: AtomicU64,
}

impl TierCounters {
    pub(super) fn l1_hit(&self) {
        self.l1_hits.add_one();
    }
    pub(super) fn l1_miss(&self) {
        self.l1_misses.add_one();
    }
    pub(super) fn l2_hit(&self) {
        self.l2_hits.add_one();
    }
    pub(super) fn l2_miss(&self) {
        self.l2_misses.add_one();
    }
    pub(super) fn l2_error(&self) {
        self.l2_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(super) fn stale_served(&self) {
        self.stale_served.fetch_add(1, Ordering::Relaxed);
    }
    pub(super) fn invalidated(&self, keys: u64) {
        self.invalidations_tracking
            .fetch_add(keys, Ordering::Relaxed);
    }
    /// One whole-L1 flush that dropped `keys` entries.
    pub(super) fn flushed(&self, keys: u64) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.invalidations_flush.fetch_add(keys, Ordering::Relaxed);
    }
    pub(super) fn tracking_lost(&self) {
        self.tracking_losses.fetch_add(1, Ordering::Relaxed);
    }

    /// The totals now.
    pub(super) fn snapshot(&self, tracking_live: bool) -> TierStats {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TierStats {
            l1_hits: self.l1_hits.total(),
            l1_misses: self.l1_misses.total(),
            l2_hits: self.l2_hits.total(),
            l2_misses: self.l2_misses.total(),
            l2_errors: n(&self.l2_errors),
            stale_served: n(&self.stale_served),
            invalidations_tracking: n(&self.invalidations_tracking),
            invalidations_flush: n(&self.invalidations_flush),
            flushes: n(&self.flushes),
            tracking_losses: n(&self.tracking_losses),
            tracking_live,
        }
    }
}
