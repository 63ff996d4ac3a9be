//! Time to idle: a namespace configured with a `tti` (`[namespaces.<name>] tti = "30m"`)
//! expires an entry once it has gone that long without being read or written.
//!
//! The entry's expiry is its idle deadline: every write in the namespace sets it to
//! `now + tti` (whatever TTL the write passes: idleness alone decides, as on Redis, which
//! keeps one expiry per key), and every use — a read hit (`get`, `get_many`, the set reads),
//! a counter or set update, a `touch` — moves it to `now + tti` again. A read in such a
//! namespace therefore takes the entry's write lock (`DashMap::get_mut`) instead of a read
//! lock; namespaces without a `tti` read as before, for the price of one branch.
//!
//! The sweep needs nothing new: a use moves the deadline later and leaves the entry's
//! expiry-index item where it is (as a rewrite with a later TTL does), and when the sweep
//! reaches that item and finds the entry still live it moves the item to the entry's current
//! bucket (`memory/sweep.rs`). An entry used more often than its `tti` is therefore visited
//! by the sweep about once per `tti`, never removed while in use; one left alone is removed
//! by the first sweep after its deadline, and is a miss before that.
//!
//! `expire` sets the deadline for the current idle period (until the next use), `Ttl::Never`
//! included; `exists` and `ttl` are not uses.
//!
//! Compared with moka's `time_to_idle`: the same clock (reads and writes both count), but
//! moka applies `time_to_live` and `time_to_idle` together (whichever comes first), while a
//! namespace here has one or the other — a TTL given to a write in a `tti` namespace does not
//! cap the entry's life. An application that needs an absolute cap keeps a creation time in
//! the value. moka's idle expiry is approximate (checked by its maintenance tasks, served
//! stale until then is impossible as reads check it too); here a read at or after the
//! deadline is a miss, to the millisecond of the cache's clock.

use std::sync::Arc;

use super::MemoryTable;
use super::entry::{Entry, Value};
use super::eviction::Touch;
use super::namespaces::NsTable;
use crate::error::{CacheError, CacheResult};

impl NsTable {
    /// The expiry of an entry written or used at `now`: `now + tti` in a namespace with a
    /// time to idle, else `ttl_expiry` (the write's own).
    #[inline]
    pub(super) fn expiry_of_write(&self, now: u64, ttl_expiry: u64) -> u64 {
        if self.tti == 0 {
            ttl_expiry
        } else {
            now.saturating_add(self.tti)
        }
    }
}

impl MemoryTable {
    /// The read of [`MemoryTable::read_live`] in a namespace with a time to idle: under the
    /// entry's write lock, a hit restarts the idle timer.
    pub(super) fn read_idle<R>(
        &self,
        t: &NsTable,
        key: &str,
        now: u64,
        expected: &'static str,
        pick: impl FnOnce(&Value) -> Option<R>,
        touch: &mut Touch,
    ) -> CacheResult<Option<R>> {
        let Some(mut r) = t.map.get_mut(key) else {
            return Ok(None);
        };
        let (k, e) = r.pair_mut();
        if !e.is_live(now) {
            return Ok(None);
        }
        match pick(&e.value) {
            Some(out) => {
                *touch = self.note_hit(k, e);
                self.idle_used(t, k, e, now);
                Ok(Some(out))
            }
            None => Err(CacheError::WrongType {
                expected,
                found: e.value.kind(),
            }),
        }
    }

    /// A use of live entry `e` at `now` (under its write lock): in a namespace with a time to
    /// idle, its deadline moves to `now + tti` (and it is indexed, should `expire` have made
    /// it eternal). Elsewhere nothing changes.
    #[inline]
    pub(super) fn idle_used(&self, t: &NsTable, key: &Arc<str>, e: &mut Entry, now: u64) {
        if t.tti != 0 {
            e.expires_at = now.saturating_add(t.tti);
            self.schedule(t.id, key, e);
        }
    }
}
