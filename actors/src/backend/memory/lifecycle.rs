//! The entry lifecycle: `expire` gives a live entry a new expiry (or none) and `touch` marks
//! it used, both without rewriting its value. The expiry-index item follows the new expiry
//! as on a rewrite (`MemoryTable::schedule`): an earlier expiry moves it, none removes it, a
//! later one leaves it for the sweep to move.
//!
//! Called by [`MemoryBackend`](super::MemoryBackend).

use super::MemoryTable;
use super::entry::NEVER;
use crate::ttl::Ttl;

impl MemoryTable {
    /// Gives the live entry at `key` the expiry `ttl` from now (`Ttl::Never`: none); `true`
    /// when there was one. In a namespace with a time to idle this is the deadline of the
    /// current idle period: the next use sets `now + tti` again. Not a use itself.
    pub fn expire(&self, ns: &str, key: &str, ttl: Ttl) -> bool {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| {
            let Some(mut r) = t.map.get_mut(key) else {
                return false;
            };
            let (k, e) = r.pair_mut();
            if !e.is_live(now) {
                return false;
            }
            e.expires_at = ttl.expires_at(now).unwrap_or(NEVER);
            self.schedule(t.id, k, e);
            true
        })
        .unwrap_or(false)
    }

    /// Marks the live entry at `key` used now, without reading it: its idle timer restarts in
    /// a namespace with a time to idle, and the eviction policy counts a hit. `true` when
    /// there was a live entry.
    pub fn touch_key(&self, ns: &str, key: &str) -> bool {
        matches!(
            self.read_live(ns, key, "an entry", |_| Some(())),
            Ok(Some(()))
        )
    }
}
