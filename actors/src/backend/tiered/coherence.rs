//! What keeps one node's L1 coherent with Redis: whether the invalidation stream is live, and
//! the fill tokens that stop a read of L2 from putting a value back into L1 after that key was
//! invalidated.
//!
//! # The fill race and how it is closed
//! A read that misses L1 asks L2 and then fills L1 with the answer. If another client changes
//! the key after L2 answered but before the fill, the invalidation may be handled *before* the
//! fill (the invalidation arrives on another connection than the reply), and the fill would
//! then leave the old value in L1 for good (Redis's client-side-caching docs, "race
//! condition"). So a read takes a [`FillToken`] **before** it sends its L2 read: the
//! invalidation counter of the key's stripe and the global epoch. Every invalidation bumps its
//! stripe's counter before it drops the key from L1; every flush and every change of the
//! stream's state bumps the epoch. The fill goes into L1 only if the token is still current,
//! and is dropped again if the token changed while it was being inserted:
//!
//! - invalidation handled before the check: the counter moved, no fill;
//! - between the check and the insert: the second check sees it and removes the fill;
//! - after the insert: the invalidation's own drop removes it.
//!
//! Stripes are shared by keys whose hashes collide, which only costs a skipped fill.
//!
//! Called by the tiered backend (`tiered.rs`) on every L1 miss and write, and by the
//! invalidation tracker (`tracking.rs`) for every invalidated key, flush and state change.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Stripes of the invalidation counters. 4,096 × 8 B = 32 KiB per cache: two keys in flight at
/// once share a stripe with probability 1/4,096, which only costs the later one a skipped fill.
const STRIPES: usize = 4096;

/// Hashes a `(namespace, key)` to its stripe (fixed seed: stable for the process).
static STRIPE_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x71e3);

/// The L1's coherence state, shared by the backend and its tracker.
#[derive(Debug)]
pub(super) struct Coherence {
    /// Whether the invalidation stream is live: only then does L1 serve reads and take fills.
    live: AtomicBool,
    /// Bumped by every flush and every change of `live`.
    epoch: AtomicU64,
    /// Invalidation counters, by stripe.
    stripes: Box<[AtomicU64]>,
}

/// What a read saw before it asked L2: a fill is valid only while all of it is unchanged.
#[derive(Debug, Clone, Copy)]
pub(super) struct FillToken {
    epoch: u64,
    stripe: usize,
    count: u64,
}

impl Coherence {
    /// A coherence state whose stream is not live yet (L1 bypassed until it is).
    pub(super) fn new() -> Self {
        Coherence {
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether L1 may serve reads now.
    #[inline]
    pub(super) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn stripe(ns: &str, key: &str) -> usize {
        (STRIPE_HASH.hash_one((ns, key)) % STRIPES as u64) as usize
    }

    /// The token a read takes before it sends its L2 read; `None` while the stream is down
    /// (no fill then).
    pub(super) fn token(&self, ns: &str, key: &str) -> Option<FillToken> {
        // SeqCst throughout: the orders of these counters against the L1 insert and the
        // invalidation's drop are what makes the protocol above hold.
        let epoch = self.epoch.load(Ordering::SeqCst);
        if !self.live.load(Ordering::SeqCst) {
            return None;
        }
        let stripe = Self::stripe(ns, key);
        Some(FillToken {
            epoch,
            stripe,
            count: self.stripes[stripe].load(Ordering::SeqCst),
        })
    }

    /// Whether nothing that invalidates `token` happened since it was taken.
    pub(super) fn is_current(&self, token: &FillToken) -> bool {
        self.live.load(Ordering::SeqCst)
            && self.epoch.load(Ordering::SeqCst) == token.epoch
            && self.stripes[token.stripe].load(Ordering::SeqCst) == token.count
    }

    /// Marks `(ns, key)` invalidated: fills of it begun before now will not land. The caller
    /// drops the key from L1 after this.
    pub(super) fn invalidate(&self, ns: &str, key: &str) {
        self.stripes[Self::stripe(ns, key)].fetch_add(1, Ordering::SeqCst);
    }

    /// Invalidates every fill begun before now (a flush, a namespace cleared).
    pub(super) fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets whether the stream is live (and bumps the epoch: no fill crosses a change).
    pub(super) fn set_live(&self, live: bool) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.live.store(live, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_die_with_invalidations_flushes_and_state_changes() {
        let c = Coherence::new();
        assert!(c.token("ns", "k").is_none(), "not live yet");
        c.set_live(true);
        let t = c.token("ns", "k").unwrap();
        assert!(c.is_current(&t));
        c.invalidate("ns", "other-key-in-most-likely-another-stripe");
        c.invalidate("ns", "k");
        assert!(!c.is_current(&t));
        let t = c.token("ns", "k").unwrap();
        c.bump_epoch();
        assert!(!c.is_current(&t));
        let t = c.token("ns", "k").unwrap();
        c.set_live(false);
        assert!(!c.is_current(&t));
        c.set_live(true);
        assert!(!c.is_current(&t), "a token never survives a down period");
    }
}
