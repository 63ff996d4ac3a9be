//! Bulk calls on the [`Cache`] facade: [`get_many`](Cache::get_many),
//! [`get_many_in`](Cache::get_many_in), [`put_many`](Cache::put_many),
//! [`put_many_in`](Cache::put_many_in),
//! [`delete_many`](Cache::delete_many), [`delete_many_in`](Cache::delete_many_in).
//!
//! Each call validates all of its input first (keys, namespaces, value encoding and size,
//! TTL): one bad item rejects the whole call before anything is read or written. Then it is
//! one request (`ops/bulk.rs`): one pass over the table on memory, one round trip on Redis
//! (`MGET`, a `MULTI` pipeline of `SET PX`, `UNLINK`), L1 first then one L2 round trip for
//! the misses on the tiered backend. Per-key semantics are those of the single-key calls
//! (expiry, namespaces, stale `get_or_refresh` values read as misses) and each key is counted
//! in the statistics as its single-key call would be (a `get` hit or miss, a `put`, a
//! `delete`), besides one `get_many` / `put_many` / `delete_many` operation.
//!
//! `get_many` answers a `Vec<Option<T>>` in the order of the keys, not a map: duplicates and
//! order are kept (position `i` answers key `i`), no key is hashed or cloned, and it is what
//! `MGET` returns; a map is one `zip` away for a caller who wants one.

use std::sync::Arc;

use deeper_cache_actors::batch::{self, EntryList, KeyList, KeyListBuilder};
use deeper_cache_actors::{CacheError, CacheResult, NsStats, Op, Status, Ttl, ops};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::Cache;

impl Cache {
    /// Reads every key of this handle's namespace: the decoded values in the keys' order,
    /// `None` for a miss (absent, expired, or a key holding a set). Duplicates are answered
    /// at each position.
    ///
    /// # Example
    /// ```
    /// # use deeper_cache::{Cache, CacheConfig};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), deeper_cache::CacheError> {
    /// let cache = Cache::start(CacheConfig::default()).await?;
    /// cache.put_many(&[("a", 1), ("b", 2)], std::time::Duration::from_secs(60)).await?;
    /// let got: Vec<Option<i32>> = cache.get_many(&["a", "x", "b", "a"]).await?;
    /// assert_eq!(got, [Some(1), None, Some(2), Some(1)]);
    /// # cache.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] for any key (nothing is read); [`CacheError::Codec`] when a
    /// stored value is not a `T`; `Timeout` / `Unavailable` / `ShutDown`. An unreachable
    /// backend is a miss for every key, as for [`Cache::get`].
    pub async fn get_many<T: DeserializeOwned, K: AsRef<str>>(
        &self,
        keys: &[K],
    ) -> CacheResult<Vec<Option<T>>> {
        let mut b = KeyListBuilder::with_capacity(keys.len());
        for k in keys {
            let k = k.as_ref();
            batch::check_key(k)?;
            b.push(self.ns.name(), k);
        }
        self.read_many(b.build()).await
    }

    /// Reads keys of several namespaces: `(namespace, key)` pairs, answered in order as by
    /// [`Cache::get_many`].
    ///
    /// # Errors
    /// As [`Cache::get_many`], plus [`CacheError::InvalidNamespace`].
    pub async fn get_many_in<T: DeserializeOwned, N: AsRef<str>, K: AsRef<str>>(
        &self,
        keys: &[(N, K)],
    ) -> CacheResult<Vec<Option<T>>> {
        self.read_many(key_list(keys)?).await
    }

    async fn read_many<T: DeserializeOwned>(&self, keys: KeyList) -> CacheResult<Vec<Option<T>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let first = keys.get(0).1.to_owned();
        let raw = match self
            .service
            .run(&self.ns, &first, ops::GetMany { keys: keys.clone() })
            .await
        {
            Ok(raw) => raw,
            Err(CacheError::BackendUnavailable { .. }) => vec![None; keys.len()],
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(raw.len());
        for raw in &raw {
            out.push(match raw {
                Some(raw) => self.decode_fresh(raw)?,
                None => None,
            });
        }
        let stats = self.stats_of(&keys);
        for (i, (ns, _)) in keys.iter().enumerate() {
            let status = if out[i].is_some() {
                Status::Hit
            } else {
                Status::Miss
            };
            self.service.record(stats.of(ns), Op::Get, status, None);
        }
        Ok(out)
    }

    /// Stores every `(key, value)` pair in this handle's namespace with `ttl` (spread by
    /// `ttl_jitter` per entry, as for [`Cache::put_with_ttl`]); a key given twice keeps the
    /// later value. Every value is encoded and checked before anything is written. On Redis
    /// the writes are one `MULTI` transaction: all of them or none.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::Codec`], [`CacheError::ValueTooLarge`],
    /// [`CacheError::InvalidTtl`] for any entry (nothing is written); `CapacityExceeded` on
    /// memory under `reject` (the entries before the refused one stay written);
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn put_many<K: AsRef<str>, V: Serialize>(
        &self,
        entries: &[(K, V)],
        ttl: impl Into<Ttl>,
    ) -> CacheResult<()> {
        let ttl = ttl.into().validate()?;
        let mut b = KeyListBuilder::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let k = k.as_ref();
            batch::check_key(k)?;
            b.push(self.ns.name(), k);
            values.push((self.encode(v)?, self.write_ttl(ttl)?));
        }
        self.write_many(EntryList::new(b.build(), values)).await
    }

    /// Stores `(namespace, key, value)` entries of several namespaces with `ttl`, as
    /// [`Cache::put_many`] does.
    ///
    /// # Errors
    /// As [`Cache::put_many`], plus [`CacheError::InvalidNamespace`].
    pub async fn put_many_in<N: AsRef<str>, K: AsRef<str>, V: Serialize>(
        &self,
        entries: &[(N, K, V)],
        ttl: impl Into<Ttl>,
    ) -> CacheResult<()> {
        let ttl = ttl.into().validate()?;
        let mut b = KeyListBuilder::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (ns, k, v) in entries {
            let (ns, k) = (ns.as_ref(), k.as_ref());
            batch::check_namespace(ns)?;
            batch::check_key(k)?;
            b.push(ns, k);
            values.push((self.encode(v)?, self.write_ttl(ttl)?));
        }
        self.write_many(EntryList::new(b.build(), values)).await
    }

    async fn write_many(&self, entries: EntryList) -> CacheResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let first = entries.keys().get(0).1.to_owned();
        let r = self
            .service
            .run(
                &self.ns,
                &first,
                ops::PutMany {
                    entries: entries.clone(),
                },
            )
            .await;
        let status = Status::of_write(&r);
        let stats = self.stats_of(entries.keys());
        for (ns, _) in entries.keys().iter() {
            self.service.record(stats.of(ns), Op::Put, status, None);
        }
        r
    }

    /// Removes every key of this handle's namespace; returns how many live entries went (a
    /// key listed twice counts once).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] for any key (nothing is removed); `Timeout` /
    /// `Unavailable` / `ShutDown`.
    pub async fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> CacheResult<u64> {
        let mut b = KeyListBuilder::with_capacity(keys.len());
        for k in keys {
            let k = k.as_ref();
            batch::check_key(k)?;
            b.push(self.ns.name(), k);
        }
        self.remove_many(b.build()).await
    }

    /// Removes keys of several namespaces (`(namespace, key)` pairs).
    ///
    /// # Errors
    /// As [`Cache::delete_many`], plus [`CacheError::InvalidNamespace`].
    pub async fn delete_many_in<N: AsRef<str>, K: AsRef<str>>(
        &self,
        keys: &[(N, K)],
    ) -> CacheResult<u64> {
        self.remove_many(key_list(keys)?).await
    }

    async fn remove_many(&self, keys: KeyList) -> CacheResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let first = keys.get(0).1.to_owned();
        let r = self
            .service
            .run(&self.ns, &first, ops::DeleteMany { keys: keys.clone() })
            .await;
        let status = Status::of_write(&r);
        let stats = self.stats_of(&keys);
        for (ns, _) in keys.iter() {
            self.service.record(stats.of(ns), Op::Delete, status, None);
        }
        r
    }

    /// The statistics of each namespace a list names (this handle's own without a lookup).
    fn stats_of(&self, keys: &KeyList) -> NsStatsOf {
        let others = keys
            .namespaces()
            .iter()
            .filter(|n| n.as_ref() != self.ns.name().as_ref())
            .map(|n| self.service.namespace(n))
            .collect();
        NsStatsOf {
            own: self.ns.clone(),
            others,
        }
    }
}

/// The statistics of the namespaces one bulk call touched.
struct NsStatsOf {
    own: Arc<NsStats>,
    others: Vec<Arc<NsStats>>,
}

impl NsStatsOf {
    fn of(&self, ns: &str) -> &NsStats {
        if **self.own.name() == *ns {
            return &self.own;
        }
        self.others
            .iter()
            .find(|s| **s.name() == *ns)
            .unwrap_or(&self.own)
    }
}

/// Checks and packs `(namespace, key)` pairs.
fn key_list<N: AsRef<str>, K: AsRef<str>>(keys: &[(N, K)]) -> CacheResult<KeyList> {
    let mut b = KeyListBuilder::with_capacity(keys.len());
    for (ns, k) in keys {
        let (ns, k) = (ns.as_ref(), k.as_ref());
        batch::check_namespace(ns)?;
        batch::check_key(k)?;
        b.push(ns, k);
    }
    Ok(b.build())
}
