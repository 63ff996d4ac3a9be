//! Counters and sets: the atomic read-modify-write of one entry under its map entry lock
//! ([`MemoryTable::update`], which creates the entry when absent or expired, and
//! [`MemoryTable::apply`] on an existing one) that `increment` and the set writes are built
//! on; the set reads; and the removal of a set member (an emptied set is removed, as in
//! Redis).
//!
//! Called by [`MemoryBackend`](super::MemoryBackend) and by the unboxed `increment_fast` path
//! of the backend trait (`backend/mod.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use dashmap::mapref::entry::Entry as MapEntry;

use super::MemoryTable;
use super::entry::{Entry, NEVER, Value, entry_size};
use super::eviction::Touch;
use super::expiry::NO_BUCKET;
use super::namespaces::NsTable;
use super::removal::{Events, EvictionReason, Removal};
use crate::codec;
use crate::error::{CacheError, CacheResult};
use crate::ttl::Ttl;

impl MemoryTable {
    /// Runs `f` on the live value at `key` under its entry lock, creating it with `create`
    /// (expiring at `expires_at`) when absent or expired. `grow` tells, without changing it,
    /// how many bytes `f` will add to a value (or the error `f` would return): under `reject`
    /// exactly that growth is reserved beforehand, so a write that does not grow the table is
    /// never refused for capacity, and an error `f` would return comes first.
    fn update<R>(
        &self,
        ns: &str,
        key: &str,
        grow: impl Fn(&Value) -> CacheResult<i64>,
        create: impl Fn() -> Value,
        expires_at: impl Fn(u64) -> u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
    ) -> CacheResult<R> {
        let mut events = Events::new(self);
        let r = self.with_ns_or_create(ns, |t| {
            // In a namespace with a time to idle, a created entry expires when idle.
            let expires_at = |now| t.expiry_of_write(now, expires_at(now));
            self.update_in(t, key, &grow, &create, &expires_at, f, &mut events)
        });
        events.emit();
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn update_in<R>(
        &self,
        t: &NsTable,
        key: &str,
        grow: &dyn Fn(&Value) -> CacheResult<i64>,
        create: &dyn Fn() -> Value,
        expires_at: &dyn Fn(u64) -> u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
        events: &mut Events,
    ) -> CacheResult<R> {
        let now = self.clock.now_ms();
        let Some(mut p) = self.lock_policy() else {
            // Unbounded: one atomic entry operation.
            let key: Arc<str> = Arc::from(key);
            return match t.map.entry(key.clone()) {
                MapEntry::Occupied(mut o) => {
                    let out = self.apply(
                        t,
                        &key,
                        o.get_mut(),
                        grow,
                        create,
                        expires_at,
                        now,
                        f,
                        events,
                    );
                    out.map(|(r, _, _)| r)
                }
                MapEntry::Vacant(v) => {
                    let mut value = create();
                    let out = f(&mut value)?;
                    let mut e = Entry::new(value, expires_at(now));
                    let size = e.size(&key);
                    self.schedule(t.id, &key, &mut e);
                    t.entries.fetch_add(1, Ordering::Relaxed);
                    v.insert(e);
                    self.settle(t, size, 0);
                    Ok(out)
                }
            };
        };
        // Bounded: an existing entry is updated in place (the mutex is not needed for that,
        // but keeps this rare path simple); a new one is created under the mutex.
        if let Some(mut r) = t.map.get_mut(key) {
            let (k, e) = r.pair_mut();
            let k = k.clone();
            let (out, shrink, _touch) =
                self.apply(t, &k, e, grow, create, expires_at, now, f, events)?;
            drop(r);
            if shrink {
                while self.over_bytes() && self.evict_one(&mut p, events) {}
            }
            return Ok(out);
        }
        let mut value = create();
        let out = f(&mut value)?;
        let size = entry_size(key.len(), value.len());
        self.check_fits(t, size)?;
        self.make_room(&mut p, t, size, events)?;
        let reserved = self.reserve(t, size as i64)?;
        let key: Arc<str> = Arc::from(key);
        let mut e = Entry::new(value, expires_at(now));
        let hash = self.item_hash(t.id, &key);
        e.node = p.insert(t.id, &key, hash);
        e.sampled = p.shadow_sampled(hash);
        self.schedule(t.id, &key, &mut e);
        self.settle(t, size as i64, reserved);
        t.entries.fetch_add(1, Ordering::Relaxed);
        t.map.insert(key, e);
        Ok(out)
    }

    /// Applies `f` to an existing entry (replacing it first if it expired). Returns the
    /// result, whether the table went over `max_bytes`, and an `lru` hit.
    #[allow(clippy::too_many_arguments)]
    fn apply<R>(
        &self,
        t: &NsTable,
        key: &Arc<str>,
        e: &mut Entry,
        grow: &dyn Fn(&Value) -> CacheResult<i64>,
        create: &dyn Fn() -> Value,
        expires_at: &dyn Fn(u64) -> u64,
        now: u64,
        f: impl FnOnce(&mut Value) -> CacheResult<R>,
        events: &mut Events,
    ) -> CacheResult<(R, bool, Touch)> {
        let before = e.size(key);
        // An expired entry starts over from `create()`: the growth is judged on what `f` will
        // see, and nothing changes before it is reserved.
        let mut fresh = (!e.is_live(now)).then(create);
        let reserved = if self.reserves_growth() {
            let base = fresh.as_ref().unwrap_or(&e.value);
            let after = entry_size(key.len(), base.len()) as i64 + grow(base)?;
            self.reserve(t, after - before)?
        } else {
            0
        };
        let touch = match fresh.take() {
            None => {
                // An update is a use: a namespace's idle timer restarts.
                self.idle_used(t, key, e, now);
                self.note_hit(key, e)
            }
            Some(value) => {
                t.count(Removal::Ttl);
                events.push(t, key, EvictionReason::Ttl);
                e.value = value;
                e.expires_at = expires_at(now);
                e.hits.store(0, Ordering::Relaxed);
                self.schedule(t.id, key, e);
                None
            }
        };
        let out = f(&mut e.value);
        let delta = e.size(key) - before;
        self.settle(t, delta, reserved);
        out.map(|r| (r, delta > 0 && self.over_bytes(), touch))
    }

    /// Atomically adds `delta` to the counter at `key` (created at 0, expiring after `ttl`,
    /// when absent or expired); returns the new value.
    ///
    /// # Errors
    /// [`CacheError::NotAnInteger`], [`CacheError::Overflow`], [`CacheError::WrongType`],
    /// and [`CacheError::CapacityExceeded`] as for [`MemoryTable::put`].
    #[inline]
    pub fn increment(&self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> CacheResult<i64> {
        let next = |v: &Value| match v {
            Value::Bytes(b) => {
                let current = codec::parse_counter(b)?;
                current.checked_add(delta).ok_or(CacheError::Overflow)
            }
            other => Err(CacheError::WrongType {
                expected: "a value",
                found: other.kind(),
            }),
        };
        self.update(
            ns,
            key,
            |v| Ok(decimal_len(next(v)?) as i64 - v.len() as i64),
            || Value::Bytes(codec::counter_bytes(0)),
            |now| ttl.expires_at(now).unwrap_or(NEVER),
            |v| {
                let n = next(v)?;
                *v = Value::Bytes(codec::counter_bytes(n));
                Ok(n)
            },
        )
    }

    /// Runs `f` on the set at `key` (created empty, expiring after `ttl`, when absent or
    /// expired); `grow` is how many bytes `f` adds to a given set.
    pub(super) fn set_op<R>(
        &self,
        ns: &str,
        key: &str,
        ttl: Ttl,
        grow: impl Fn(&HashSet<Bytes>) -> i64,
        f: impl FnOnce(&mut HashSet<Bytes>) -> R,
    ) -> CacheResult<R> {
        self.update(
            ns,
            key,
            |v| match v {
                Value::Set(s) => Ok(grow(s)),
                other => Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                }),
            },
            || Value::Set(Box::default()),
            |now| ttl.expires_at(now).unwrap_or(NEVER),
            |v| match v {
                Value::Set(s) => Ok(f(s)),
                other => Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                }),
            },
        )
    }

    pub(super) fn read_set<R>(
        &self,
        ns: &str,
        key: &str,
        f: impl FnOnce(&HashSet<Bytes>) -> R,
    ) -> CacheResult<Option<R>> {
        self.read_live(ns, key, "a set", |v| match v {
            Value::Set(set) => Some(f(set)),
            _ => None,
        })
    }

    pub(super) fn remove_from_set(&self, ns: &str, key: &str, member: &[u8]) -> CacheResult<bool> {
        let now = self.clock.now_ms();
        let Some(t) = self.lookup_ns(ns) else {
            return Ok(false);
        };
        let Some(mut e) = t.map.get_mut(key) else {
            return Ok(false);
        };
        if !e.is_live(now) {
            return Ok(false);
        }
        let before = e.size(key);
        if t.tti != 0 {
            let (k, entry) = e.pair_mut();
            self.idle_used(&t, k, entry, now);
        }
        let removed = match &mut e.value {
            Value::Set(s) => s.remove(member),
            other => {
                return Err(CacheError::WrongType {
                    expected: "a set",
                    found: other.kind(),
                });
            }
        };
        let after = e.size(key);
        let now_empty = matches!(&e.value, Value::Set(s) if s.is_empty());
        drop(e);
        self.settle(&t, after - before, 0);
        if now_empty {
            // An empty set is an absent key, as in Redis.
            let mut p = self.lock_policy();
            if let Some((k, e)) = t.map.remove_if(
                key,
                |_, e| matches!(&e.value, Value::Set(s) if s.is_empty()),
            ) {
                t.entries.fetch_sub(1, Ordering::Relaxed);
                self.settle(&t, -e.size(&k), 0);
                if e.indexed != NO_BUCKET {
                    self.expiry.remove(e.indexed, &self.item(t.id, &k));
                }
                if let Some(p) = p.as_deref_mut() {
                    p.remove(e.node);
                }
            }
            drop(p);
        }
        Ok(removed)
    }
}

/// Length of `n` written in decimal (a counter's stored size).
fn decimal_len(n: i64) -> usize {
    let sign = usize::from(n < 0);
    let mut m = n.unsigned_abs();
    let mut digits = 1;
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    sign + digits
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_len_matches_the_codec() {
        for n in [
            0,
            9,
            10,
            -1,
            -10,
            99,
            100,
            i64::MAX,
            i64::MIN,
            1_000_000_007,
        ] {
            assert_eq!(
                super::decimal_len(n),
                crate::codec::counter_bytes(n).len(),
                "{n}"
            );
        }
    }
}
