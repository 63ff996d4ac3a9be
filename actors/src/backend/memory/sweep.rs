//! The table's side of expiry: keeping each entry's item in the expiry index
//! (`memory/expiry.rs`) in step with the entry's expiry ([`MemoryTable::schedule`], called by
//! every write), and the sweep that removes what expired ([`MemoryTable::sweep_expired`], run
//! periodically by the Cleanup actor) in batches, with a [`Pending`] guard that puts the
//! buckets it had not reached back when a sweep is dropped midway.
//!
//! Reads do not need the sweep: they check [`Entry::is_live`](super::entry::Entry::is_live)
//! themselves, so an expired entry is a miss before it is swept.

use std::sync::Arc;

use super::MemoryTable;
use super::entry::{Entry, NEVER};
use super::expiry::{Due, ExpiryIndex, Item, NO_BUCKET, bucket_of};
use super::removal::{Events, Removal};

impl MemoryTable {
    /// Items in the expiry index (one per entry with a TTL, see `memory/expiry.rs`).
    pub fn expiry_index_len(&self) -> usize {
        self.expiry.len()
    }

    #[inline]
    pub(super) fn item(&self, ns: u32, key: &Arc<str>) -> Item {
        Item {
            hash: self.item_hash(ns, key),
            ns,
            key: key.clone(),
        }
    }

    /// Makes sure `e`'s expiry is indexed (see `memory/expiry.rs`).
    #[inline]
    pub(super) fn schedule(&self, ns: u32, key: &Arc<str>, e: &mut Entry) {
        if e.expires_at == NEVER {
            if e.indexed != NO_BUCKET {
                self.expiry.remove(e.indexed, &self.item(ns, key));
                e.indexed = NO_BUCKET;
            }
            return;
        }
        let b = bucket_of(e.expires_at);
        if e.indexed != NO_BUCKET {
            if e.indexed <= b {
                return;
            }
            self.expiry.remove(e.indexed, &self.item(ns, key));
        }
        e.indexed = b;
        self.expiry.insert(b, self.item(ns, key));
    }

    /// Removes expired entries found through the expiry index, `batch` index items at a time,
    /// yielding to the runtime between batches so no reader or writer waits behind a whole
    /// sweep. Entries that expire while the sweep runs are left for the next one. `after_batch`
    /// runs after each batch with the running total. Returns the number removed.
    ///
    /// Cost: the items of the buckets that have started (expired entries, entries due later in
    /// the current second, and items of entries rewritten with a later expiry, which move to
    /// their new bucket) — not the size of the table. If the sweep is dropped midway (its actor
    /// crashed), the items it had not reached go back to the index.
    pub async fn sweep_expired(&self, batch: usize, mut after_batch: impl FnMut(u64)) -> u64 {
        let now = self.clock.now_ms();
        let batch = batch.max(1);
        let mut due = self.expiry.take_due(bucket_of(now));
        due.reverse();
        let mut pending = Pending {
            index: &self.expiry,
            due,
        };
        let mut removed = 0u64;
        while let Some(chunk) = pending.next_chunk(batch) {
            removed += self.sweep_chunk(chunk, now);
            after_batch(removed);
            tokio::task::yield_now().await;
        }
        removed
    }

    fn sweep_chunk(&self, items: Vec<(u32, Item)>, now: u64) -> u64 {
        let mut policy = self.lock_policy();
        let mut events = Events::new(self);
        let mut removed = 0;
        for (bucket, item) in items {
            let Some(t) = self.ns_by_id(item.ns) else {
                continue;
            };
            let gone = t.map.remove_if_mut(&*item.key, |k, e| {
                if e.indexed != bucket {
                    return false; // the entry's item is elsewhere
                }
                if !e.is_live(now) {
                    return true;
                }
                // Rewritten with a later expiry: move the item to the entry's bucket.
                e.indexed = NO_BUCKET;
                if e.expires_at != NEVER {
                    let b = bucket_of(e.expires_at);
                    e.indexed = b;
                    self.expiry.insert(
                        b,
                        Item {
                            hash: item.hash,
                            ns: item.ns,
                            key: k.clone(),
                        },
                    );
                }
                false
            });
            if let Some((k, e)) = gone {
                self.forget(
                    policy.as_deref_mut(),
                    &t,
                    &k,
                    &e,
                    Removal::Ttl,
                    false,
                    &mut events,
                );
                removed += 1;
            }
        }
        drop(policy);
        events.emit();
        removed
    }
}

/// The buckets a sweep took out of the index and has not finished; whatever is left when it
/// drops (the sweep was cancelled) goes back to the index.
struct Pending<'a> {
    index: &'a ExpiryIndex,
    /// Latest bucket first (processed from the end).
    due: Due,
}

impl Pending<'_> {
    /// Up to `batch` items with their buckets, earliest bucket first.
    fn next_chunk(&mut self, batch: usize) -> Option<Vec<(u32, Item)>> {
        let mut chunk = Vec::new();
        while chunk.len() < batch {
            let Some((bucket, items)) = self.due.last_mut() else {
                break;
            };
            let bucket = *bucket;
            let at = items.len().saturating_sub(batch - chunk.len());
            chunk.extend(items.drain(at..).map(|item| (bucket, item)));
            if items.is_empty() {
                self.due.pop();
            }
        }
        (!chunk.is_empty()).then_some(chunk)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        for (bucket, items) in self.due.drain(..) {
            for item in items {
                self.index.insert(bucket, item);
            }
        }
    }
}
