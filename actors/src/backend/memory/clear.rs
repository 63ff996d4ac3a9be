//! Removing many entries at once: `clear` (one namespace, or all of them) and
//! `delete_pattern` (the keys of one namespace matching a glob).
//!
//! Neither blocks the runtime or the table for the length of the pass: the keys to remove are
//! first listed (on Tokio's blocking pool when there is a runtime, holding each of the
//! namespace map's shards for a read only while that shard is listed), then removed in
//! batches of `memory.cleanup_batch_size`, each under the policy mutex (when the table is
//! bounded) for that batch only, with a yield to the runtime between batches, as the expiry
//! sweep does. A key written while the pass runs may or may not be removed (as on Redis).
//! Each removal is counted as `manual` (live) or `ttl` (expired).
//!
//! Called by [`MemoryBackend`](super::MemoryBackend).

use std::sync::Arc;

use super::MemoryTable;
use super::namespaces::NsTable;
use super::removal::{Events, Removal};
use crate::glob::Glob;

impl MemoryTable {
    /// Removes the entries of `t` whose key `matches` accepts, in batches; returns the number
    /// of live entries removed.
    async fn remove_matching(
        &self,
        t: Arc<NsTable>,
        matches: impl Fn(&str) -> bool + Send + 'static,
    ) -> u64 {
        let mut keys = list_keys(t.clone(), matches).await;
        let batch = self.clear_batch.max(1);
        let mut live = 0u64;
        // From the end, so each batch's keys are freed with the batch (freeing a million keys
        // at once would hold the runtime up as long as removing them).
        while !keys.is_empty() {
            let chunk = keys.split_off(keys.len().saturating_sub(batch));
            live += self.remove_keys(&t, &chunk);
            drop(chunk);
            tokio::task::yield_now().await;
        }
        live
    }

    /// Removes `keys` from `t` under one hold of the policy mutex.
    fn remove_keys(&self, t: &NsTable, keys: &[Arc<str>]) -> u64 {
        let now = self.clock.now_ms();
        let mut events = Events::new(self);
        let mut p = self.lock_policy();
        let mut live = 0u64;
        for key in keys {
            if let Some((k, e)) = t.map.remove(&**key) {
                let how = if e.is_live(now) {
                    live += 1;
                    Removal::Manual
                } else {
                    Removal::Ttl
                };
                self.forget(p.as_deref_mut(), t, &k, &e, how, true, &mut events);
            }
        }
        drop(p);
        events.emit();
        live
    }

    pub(super) async fn clear(&self, ns: Option<&str>) -> u64 {
        let tables: Vec<Arc<NsTable>> = match ns {
            Some(ns) => self.lookup_ns(ns).into_iter().collect(),
            None => self.all_namespaces(),
        };
        let mut live = 0;
        for t in tables {
            live += self.remove_matching(t, |_| true).await;
        }
        live
    }

    pub(super) async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> u64 {
        let Some(t) = self.lookup_ns(ns) else {
            return 0;
        };
        let pattern = pattern.clone();
        self.remove_matching(t, move |k| pattern.matches(k)).await
    }
}

/// The keys of `t` that `matches` accepts: listed on Tokio's blocking pool when a runtime is
/// there (so a million keys do not hold up the runtime's thread), in place otherwise.
async fn list_keys(
    t: Arc<NsTable>,
    matches: impl Fn(&str) -> bool + Send + 'static,
) -> Vec<Arc<str>> {
    let list = move || -> Vec<Arc<str>> {
        t.map
            .iter()
            .filter(|e| matches(e.key()))
            .map(|e| e.key().clone())
            .collect()
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return list();
    }
    // The task cannot be cancelled half-way in a harmful way: it only reads.
    match tokio::task::spawn_blocking(list).await {
        Ok(keys) => keys,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
