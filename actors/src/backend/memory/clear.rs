//! Removing many entries at once: `clear` (one namespace, or all of them) and
//! `delete_pattern` (the keys of one namespace matching a glob), both through
//! [`MemoryTable::remove_where`], which holds the policy mutex (when the table is bounded) for
//! the whole pass over the namespace and counts each removal as `manual` (live) or `ttl`
//! (expired).
//!
//! Called by [`MemoryBackend`](super::MemoryBackend).

use std::sync::Arc;

use super::MemoryTable;
use super::namespaces::NsTable;
use super::removal::{Events, Removal};
use crate::glob::Glob;

impl MemoryTable {
    /// Removes every entry of `t` for which `remove` says so, counting removals; returns the
    /// number of live entries removed.
    fn remove_where(&self, t: &NsTable, now: u64, mut remove: impl FnMut(&str) -> bool) -> u64 {
        let mut events = Events::new(self);
        let mut p = self.lock_policy();
        let mut live = 0u64;
        t.map.retain(|k, e| {
            if !remove(k) {
                return true;
            }
            let how = if e.is_live(now) {
                live += 1;
                Removal::Manual
            } else {
                Removal::Ttl
            };
            self.forget(p.as_deref_mut(), t, k, e, how, true, &mut events);
            false
        });
        drop(p);
        events.emit();
        live
    }

    pub(super) fn clear(&self, ns: Option<&str>) -> u64 {
        let now = self.clock.now_ms();
        let tables: Vec<Arc<NsTable>> = match ns {
            Some(ns) => self
                .namespaces
                .load()
                .get(ns)
                .cloned()
                .into_iter()
                .collect(),
            None => self.all_namespaces(),
        };
        tables
            .iter()
            .map(|t| self.remove_where(t, now, |_| true))
            .sum()
    }

    pub(super) fn delete_pattern(&self, ns: &str, pattern: &Glob) -> u64 {
        let now = self.clock.now_ms();
        let Some(t) = self.namespaces.load().get(ns).cloned() else {
            return 0;
        };
        self.remove_where(&t, now, |k| pattern.matches(k))
    }
}
