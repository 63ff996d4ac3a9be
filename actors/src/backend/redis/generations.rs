//! Namespace generations (`redis.namespace_generations`): `clear()` of a namespace in one
//! `INCR`, whatever the namespace holds.
//!
//! Each namespace has a counter in Redis (`{prefix}::gen:{namespace}`, absent = 0) and its keys
//! carry it (`keys.rs`): clearing a namespace increments the counter, after which no node reads
//! or writes the old generation's keys again; a background task then unlinks them in batches
//! (`RedisBackend::clear`).
//!
//! Every node keeps the counters it has read in this cache, so an operation costs no extra
//! round trip. A cached counter is trusted only while an invalidation stream
//! (`CLIENT TRACKING … BCAST PREFIX {prefix}::gen:`) is live: Redis pushes the counter's name
//! to every node when any node increments it, and the push drops it here. The stream belongs
//! to the Redis backend (`RedisBackend::start_generation_stream`), or, under the tiered
//! backend, to its L1 stream, which tracks the whole prefix. While no stream is live every
//! operation reads the counter first (one more round trip, never a stale generation).
//!
//! A read that raced an increment cannot store the old value: each invalidation bumps an
//! epoch, and a value read from Redis is kept only if the epoch did not move meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;

/// The generations this node has read, trusted while the stream is live.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    enabled: bool,
    cached: DashMap<String, u64>,
    epoch: AtomicU64,
    live: AtomicBool,
}

impl Generations {
    /// A cache of generations; `enabled = false` keeps every namespace at generation 0.
    pub(crate) fn new(enabled: bool) -> Generations {
        Generations {
            enabled,
            ..Generations::default()
        }
    }

    /// Whether namespaces have generations.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The cached generation of `ns`, if one may be trusted now.
    #[inline]
    pub(crate) fn cached(&self, ns: &str) -> Option<u64> {
        if !self.enabled {
            return Some(0);
        }
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        self.cached.get(ns).map(|g| *g)
    }

    /// The epoch to pass to [`Generations::remember`] for a value about to be read.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `generation` of `ns`, read from Redis after [`Generations::epoch`] returned
    /// `epoch`, unless an invalidation arrived meanwhile or no stream is live.
    pub(crate) fn remember(&self, ns: &str, generation: u64, epoch: u64) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        self.cached.insert(ns.to_string(), generation);
        // An invalidation that ran between the epoch check and the insert may have missed
        // the entry: drop it again then.
        if self.epoch.load(Ordering::Acquire) != epoch {
            self.cached.remove(ns);
        }
    }

    /// Redis said `ns`'s counter changed.
    pub(crate) fn invalidate(&self, ns: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cached.remove(ns);
    }

    /// Every cached generation dropped (a server flush, a stream that connected or was lost).
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cached.clear();
    }

    /// The stream went live (`true`) or was lost: either way nothing cached before is kept.
    pub(crate) fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.invalidate_all();
        if live {
            self.live.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_is_always_generation_zero() {
        let g = Generations::new(false);
        assert_eq!(g.cached("a"), Some(0));
    }

    #[test]
    fn nothing_is_trusted_without_a_live_stream() {
        let g = Generations::new(true);
        let e = g.epoch();
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), None);
        g.set_live(true);
        let e = g.epoch();
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), Some(3));
        g.set_live(false);
        assert_eq!(g.cached("a"), None);
    }

    #[test]
    fn a_read_racing_an_invalidation_is_not_kept() {
        let g = Generations::new(true);
        g.set_live(true);
        let e = g.epoch();
        g.invalidate("a"); // pushed while the GET was in flight
        g.remember("a", 3, e);
        assert_eq!(g.cached("a"), None);
        let e = g.epoch();
        g.remember("a", 4, e);
        assert_eq!(g.cached("a"), Some(4));
        g.invalidate("a");
        assert_eq!(g.cached("a"), None);
    }
}
