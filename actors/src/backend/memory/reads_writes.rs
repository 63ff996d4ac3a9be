//! Plain values: `get`, `put` (an in-place overwrite of an existing key, or the insert of a
//! new one, under the policy mutex when the table is bounded), `delete` and `ttl`, and the
//! `max_value_bytes` check that every stored value and set member passes.
//!
//! Called by [`MemoryBackend`](super::MemoryBackend) and by the unboxed `get_fast`,
//! `put_fast` and `delete_fast` paths of the backend trait (`backend/mod.rs`); `read_live`
//! also serves the set reads (`counters_sets.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use dashmap::mapref::entry::Entry as MapEntry;

use super::MemoryTable;
use super::entry::{Entry, NEVER, Value, entry_size};
use super::eviction::Touch;
use super::namespaces::NsTable;
use super::removal::{Events, EvictionReason, Removal};
use crate::clock::remaining;
use crate::error::{CacheError, CacheResult};
use crate::ttl::Ttl;

impl MemoryTable {
    #[inline]
    pub(super) fn check_size(&self, len: usize) -> CacheResult<()> {
        if len > self.max_value_bytes {
            return Err(CacheError::ValueTooLarge {
                size: len,
                limit: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// The encoded value, or `None` when absent or expired.
    ///
    /// # Errors
    /// [`CacheError::WrongType`] when the key holds a set.
    #[inline]
    pub fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        self.read_live(ns, key, "a value", |v| match v {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        })
    }

    /// Reads the live entry at `key` as the kind `expected` names: `pick` returns `None` for
    /// another kind (a [`CacheError::WrongType`]). A hit is noted for the eviction policy.
    pub(super) fn read_live<R>(
        &self,
        ns: &str,
        key: &str,
        expected: &'static str,
        pick: impl FnOnce(&Value) -> Option<R>,
    ) -> CacheResult<Option<R>> {
        let now = self.clock.now_ms();
        let mut touch = None;
        let r = self
            .with_ns(ns, |t| {
                if t.tti != 0 {
                    // A namespace with a time to idle: the hit restarts the idle timer.
                    return self.read_idle(t, key, now, expected, pick, &mut touch);
                }
                match t.map.get(key) {
                    Some(e) if e.is_live(now) => match pick(&e.value) {
                        Some(out) => {
                            touch = self.note_hit(e.key(), &e);
                            Ok(Some(out))
                        }
                        None => Err(CacheError::WrongType {
                            expected,
                            found: e.value.kind(),
                        }),
                    },
                    _ => Ok(None),
                }
            })
            .unwrap_or(Ok(None));
        self.touch(touch);
        r
    }

    /// Stores (or overwrites) a value.
    ///
    /// # Errors
    /// [`CacheError::ValueTooLarge`] past `max_value_bytes`; [`CacheError::CapacityExceeded`]
    /// for an entry larger than `max_bytes`, or at a limit under the `reject` policy.
    #[inline]
    pub fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.check_size(value.len())?;
        let now = self.clock.now_ms();
        let expires_at = ttl.expires_at(now).unwrap_or(NEVER);
        let size = entry_size(key.len(), value.len());
        let mut events = Events::new(self);
        let r = self.with_ns_or_create(ns, |t| {
            self.check_fits(t, size)?;
            let expires_at = t.expiry_of_write(now, expires_at);
            self.put_in(t, key, value, expires_at, now, &mut events)
        });
        events.emit();
        r
    }

    #[inline]
    fn put_in(
        &self,
        t: &NsTable,
        key: &str,
        value: Bytes,
        expires_at: u64,
        now: u64,
        events: &mut Events,
    ) -> CacheResult<()> {
        let mut value = match self.overwrite(t, key, value, expires_at, now, events)? {
            Overwrite::Done { touch, shrink } => {
                self.after_write(touch, shrink, events);
                return Ok(());
            }
            Overwrite::Absent(v) => v,
        };
        let Some(mut p) = self.lock_policy() else {
            // Unbounded: insert, or overwrite what a racing writer created meanwhile.
            let key: Arc<str> = Arc::from(key);
            loop {
                if let MapEntry::Vacant(v) = t.map.entry(key.clone()) {
                    let size = entry_size(key.len(), value.len()) as i64;
                    let mut e = Entry::new(Value::Bytes(value), expires_at);
                    self.schedule(t.id, &key, &mut e);
                    t.entries.fetch_add(1, Ordering::Relaxed);
                    v.insert(e);
                    self.settle(t, size, 0);
                    return Ok(());
                }
                match self.overwrite(t, &key, value, expires_at, now, events)? {
                    Overwrite::Done { .. } => return Ok(()),
                    Overwrite::Absent(v) => value = v,
                }
            }
        };
        // Bounded: only inserts under this mutex create keys, so after this check the key
        // stays absent until we insert it.
        let value = match self.overwrite(t, key, value, expires_at, now, events)? {
            Overwrite::Done { touch, shrink } => {
                if shrink {
                    while self.over_bytes() && self.evict_one(&mut p, events) {}
                }
                if let Some((node, k)) = touch {
                    p.touch(node, k);
                }
                return Ok(());
            }
            Overwrite::Absent(v) => v,
        };
        let size = entry_size(key.len(), value.len());
        self.make_room(&mut p, t, size, events)?;
        // Under `reject` the bytes are reserved atomically, like an overwrite's growth (which
        // reserves outside the policy mutex): a check here and an add later could together
        // pass the limit.
        let reserved = self.reserve(t, size as i64)?;
        let key: Arc<str> = Arc::from(key);
        let mut e = Entry::new(Value::Bytes(value), expires_at);
        let hash = self.item_hash(t.id, &key);
        e.node = p.insert(t.id, &key, hash);
        e.sampled = p.shadow_sampled(hash);
        self.schedule(t.id, &key, &mut e);
        self.settle(t, size as i64, reserved);
        t.entries.fetch_add(1, Ordering::Relaxed);
        t.map.insert(key, e);
        Ok(())
    }

    /// Overwrites an existing entry in place (no policy mutex), or hands the value back.
    #[inline]
    fn overwrite(
        &self,
        t: &NsTable,
        key: &str,
        value: Bytes,
        expires_at: u64,
        now: u64,
        events: &mut Events,
    ) -> CacheResult<Overwrite> {
        let Some(mut r) = t.map.get_mut(key) else {
            return Ok(Overwrite::Absent(value));
        };
        let (k, e) = r.pair_mut();
        let delta = entry_size(k.len(), value.len()) as i64 - e.size(k);
        let reserved = self.reserve(t, delta)?;
        let touch = if e.is_live(now) {
            self.note_hit(k, e)
        } else {
            // The expired entry is replaced: it counts as expired.
            t.count(Removal::Ttl);
            events.push(t, k, EvictionReason::Ttl);
            e.hits.store(0, Ordering::Relaxed);
            None
        };
        // The old value is freed after the shard lock is released, not under it.
        let old = std::mem::replace(&mut e.value, Value::Bytes(value));
        e.expires_at = expires_at;
        self.schedule(t.id, k, e);
        drop(r);
        drop(old);
        self.settle(t, delta, reserved);
        Ok(Overwrite::Done {
            touch,
            shrink: delta > 0 && self.over_bytes(),
        })
    }

    /// Removes a key; `true` when a live entry was removed.
    #[inline]
    pub fn delete(&self, ns: &str, key: &str) -> bool {
        let now = self.clock.now_ms();
        let Some(t) = self.lookup_ns(ns) else {
            return false;
        };
        if self.policy.is_some() && !t.map.contains_key(key) {
            return false;
        }
        let mut events = Events::new(self);
        let mut p = self.lock_policy();
        let live = match t.map.remove(key) {
            Some((k, e)) => {
                let live = e.is_live(now);
                let how = if live { Removal::Manual } else { Removal::Ttl };
                self.forget(p.as_deref_mut(), &t, &k, &e, how, true, &mut events);
                live
            }
            None => false,
        };
        drop(p);
        events.emit();
        live
    }

    /// Remaining time to live: `None` when absent or expired.
    pub fn ttl(&self, ns: &str, key: &str) -> Option<Ttl> {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| {
            t.map.get(key).and_then(|e| match e.expires_at {
                NEVER => Some(Ttl::Never),
                at if at > now => Some(Ttl::After(remaining(now, at))),
                _ => None,
            })
        })
        .flatten()
    }
}

/// What [`MemoryTable::overwrite`] did.
enum Overwrite {
    /// The key was absent: the value comes back.
    Absent(Bytes),
    /// Overwritten; maybe an `lru` hit to record and growth to evict.
    Done { touch: Touch, shrink: bool },
}
