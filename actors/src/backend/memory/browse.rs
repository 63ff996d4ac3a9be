//! What the admin interface reads of the table (`backend/browse.rs` has the types): pages of
//! one namespace's keys in key order, one entry's metadata, the namespaces held.
//!
//! # Paging
//! A page is the `limit` smallest live keys (matching the pattern) after the cursor, which is
//! the last key of the previous page. Every key present for the whole walk is therefore
//! returned exactly once whatever is written meanwhile (a key inserted behind the cursor is
//! simply not seen). Each page reads the whole namespace once — `O(n log limit)`, on Tokio's
//! blocking pool, holding each shard of the namespace's map for a read only while that shard
//! is read — which keeps the cursor stateless: nothing is kept between pages, nothing to
//! expire or leak.
//!
//! Nothing here counts as a hit or touches the eviction policy: an operator browsing the table
//! does not change what gets evicted.

use std::collections::BinaryHeap;
use std::sync::Arc;

use bytes::Bytes;

use super::MemoryTable;
use super::entry::{NEVER, Value};
use crate::backend::browse::{
    EntryInfo, EntryKind, KeyPage, NamespaceKeys, NamespaceList, bad_cursor, hex, preview,
    set_preview, unhex,
};
use crate::clock::remaining;
use crate::error::CacheResult;
use crate::glob::Glob;
use crate::ttl::Ttl;

/// Prefix of the table's cursors: `k.` and the last key returned, hex-encoded.
const CURSOR_PREFIX: &str = "k.";

impl MemoryTable {
    /// One page of the live keys of `ns` matching `pattern`, in key (byte) order, after
    /// `cursor`.
    ///
    /// # Errors
    /// [`InvalidCursor`](crate::CacheError::InvalidCursor) for a cursor the table did not make.
    pub async fn list_keys(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        let after = match cursor {
            None => None,
            Some(c) => {
                let hex = c
                    .strip_prefix(CURSOR_PREFIX)
                    .ok_or_else(|| bad_cursor("not a cursor of the memory backend"))?;
                Some(unhex(hex).ok_or_else(|| bad_cursor("a memory cursor damaged in transit"))?)
            }
        };
        let Some(t) = self.lookup_ns(ns) else {
            return Ok(KeyPage::default());
        };
        let now = self.clock.now_ms();
        let pattern = pattern.cloned();
        let limit = limit.max(1);
        let select = move || {
            // A max-heap of the `limit` smallest qualifying keys seen so far.
            let mut best: BinaryHeap<Arc<str>> = BinaryHeap::with_capacity(limit + 1);
            let mut more = false;
            for e in t.map.iter() {
                let key = e.key();
                if !e.value().is_live(now)
                    || after.as_deref().is_some_and(|a| &**key <= a)
                    || pattern.as_ref().is_some_and(|p| !p.matches(key))
                {
                    continue;
                }
                if best.len() < limit {
                    best.push(key.clone());
                } else if best.peek().is_some_and(|top| key < top) {
                    best.pop();
                    best.push(key.clone());
                    more = true;
                } else {
                    more = true;
                }
            }
            let keys: Vec<String> = best
                .into_sorted_vec()
                .iter()
                .map(|k| k.to_string())
                .collect();
            let cursor = match keys.last() {
                Some(last) if more => Some(format!("{CURSOR_PREFIX}{}", hex(last.as_bytes()))),
                _ => None,
            };
            KeyPage { keys, cursor }
        };
        Ok(off_runtime(select).await)
    }

    /// Metadata of the live entry at `key`, with the first `value_bytes` of its value when
    /// asked for. Not a hit: the eviction policy is not told.
    pub fn inspect(&self, ns: &str, key: &str, value_bytes: Option<usize>) -> Option<EntryInfo> {
        let now = self.clock.now_ms();
        self.with_ns(ns, |t| {
            let e = t.map.get(key)?;
            if !e.is_live(now) {
                return None;
            }
            let ttl = match e.expires_at {
                NEVER => Ttl::Never,
                at => Ttl::After(remaining(now, at)),
            };
            let (kind, members, shown) = match &e.value {
                Value::Bytes(b) => (EntryKind::Value, None, value_bytes.map(|n| preview(b, n))),
                Value::Set(s) => (
                    EntryKind::Set,
                    Some(s.len() as u64),
                    value_bytes.map(|n| set_preview(s.iter(), n)),
                ),
            };
            let (value, value_truncated) = match shown {
                Some((v, cut)) => (Some(v), cut),
                None => (None::<Bytes>, false),
            };
            Some(EntryInfo {
                kind,
                size: Some(e.value.len() as u64),
                members,
                ttl,
                value,
                value_truncated,
                l1: None,
            })
        })
        .flatten()
    }

    /// The namespaces held and their entry counts (expired entries not yet swept included).
    pub fn namespace_list(&self) -> NamespaceList {
        let namespaces = self
            .usage()
            .namespaces
            .into_iter()
            .map(|u| NamespaceKeys {
                name: u.namespace,
                keys: u.entries,
            })
            .collect();
        NamespaceList {
            namespaces,
            complete: true,
        }
    }
}

/// Runs `f` on Tokio's blocking pool when there is a runtime (a namespace of a million keys
/// must not hold up a runtime thread), in place otherwise.
async fn off_runtime<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;

    use crate::backend::MemoryTable;
    use crate::clock::Clock;
    use crate::glob::Glob;
    use crate::ttl::Ttl;

    fn table_with(n: usize) -> MemoryTable {
        let t = MemoryTable::new(Clock::system(), 1024);
        for i in 0..n {
            t.put("ns", &format!("k{i}"), Bytes::from_static(b"1"), Ttl::Never)
                .unwrap();
        }
        t
    }

    async fn walk(t: &MemoryTable, pattern: Option<&Glob>, limit: usize) -> Vec<String> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = t
                .list_keys("ns", pattern, cursor.as_deref(), limit)
                .await
                .unwrap();
            assert!(page.keys.len() <= limit);
            assert!(page.keys.windows(2).all(|w| w[0] < w[1]), "in key order");
            all.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return all,
            }
        }
    }

    #[tokio::test]
    async fn pages_return_every_key_once() {
        let t = table_with(1000);
        for limit in [1, 7, 100, 999, 1000, 5000] {
            let all = walk(&t, None, limit).await;
            assert_eq!(all.len(), 1000, "limit {limit}");
            assert_eq!(all.iter().collect::<HashSet<_>>().len(), 1000);
        }
        let glob = Glob::new("k1*").unwrap();
        let ones = walk(&t, Some(&glob), 13).await;
        assert_eq!(ones.len(), 1 + 10 + 100);
        assert!(ones.iter().all(|k| k.starts_with("k1")));
    }

    #[tokio::test]
    async fn writes_behind_the_cursor_do_not_disturb_the_walk() {
        let t = table_with(100);
        let first = t.list_keys("ns", None, None, 10).await.unwrap();
        // Inserts before and after the cursor, a delete of a key not yet returned.
        t.put("ns", "a", Bytes::from_static(b"1"), Ttl::Never)
            .unwrap();
        t.put("ns", "zz", Bytes::from_static(b"1"), Ttl::Never)
            .unwrap();
        assert!(t.delete("ns", "k99"));
        let mut rest = Vec::new();
        let mut cursor = first.cursor.clone();
        while let Some(c) = cursor {
            let page = t.list_keys("ns", None, Some(&c), 10).await.unwrap();
            rest.extend(page.keys);
            cursor = page.cursor;
        }
        let mut seen: Vec<String> = first.keys.into_iter().chain(rest).collect();
        let n = seen.len();
        seen.dedup();
        assert_eq!(seen.len(), n, "no key twice");
        assert!(seen.contains(&"zz".to_string()));
        assert!(!seen.contains(&"k99".to_string()));
        assert_eq!(n, 100 - 1 + 1);
    }

    #[tokio::test]
    async fn bad_cursors_and_missing_namespaces() {
        let t = table_with(3);
        for c in ["", "x", "k.0", "k.zz", "r.1.2.3"] {
            assert!(
                matches!(
                    t.list_keys("ns", None, Some(c), 10).await,
                    Err(crate::CacheError::InvalidCursor { .. })
                ),
                "{c:?}"
            );
        }
        assert_eq!(
            t.list_keys("nope", None, None, 10).await.unwrap(),
            Default::default()
        );
    }

    #[test]
    fn inspect_reports_kind_size_ttl_and_capped_values() {
        let t = MemoryTable::new(Clock::system(), 1024);
        t.put(
            "ns",
            "v",
            Bytes::from_static(b"\"hello\""),
            Ttl::After(std::time::Duration::from_secs(60)),
        )
        .unwrap();
        let info = t.inspect("ns", "v", None).unwrap();
        assert_eq!(info.kind, super::EntryKind::Value);
        assert_eq!(info.size, Some(7));
        assert!(matches!(info.ttl, Ttl::After(d) if d.as_secs() <= 60 && d.as_secs() >= 59));
        assert_eq!(info.value, None);
        let info = t.inspect("ns", "v", Some(3)).unwrap();
        assert_eq!(info.value.as_deref(), Some(&b"\"he"[..]));
        assert!(info.value_truncated);
        assert_eq!(t.inspect("ns", "absent", Some(3)), None);
        assert_eq!(t.inspect("other", "v", None), None);
    }
}
