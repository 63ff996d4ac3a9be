//! What the admin interface reads of the table (`backend/browse.rs` has the types): pages of
//! one namespace's keys in key order, one entry's metadata, the namespaces held.
//!
//! # Paging
//! Keys come in key (byte) order. The first page of a walk reads the namespace once on
//! Tokio's blocking pool (holding each shard of its map for a read only while that shard is
//! read) and, when more pages follow, keeps the sorted list of the matching keys as a *walk*:
//! the next pages are served from it, checking each key is still live with a point lookup, so
//! a page after the first costs `O(limit)` and never holds a shard for long. A whole walk
//! costs one pass and one sort, `O(n log n)`, instead of one pass per page.
//!
//! At most [`MAX_WALKS`] walks are kept per table (the oldest goes first), each for
//! [`WALK_IDLE`] after its last page. The cursor also holds the last key returned, so a walk
//! that was dropped goes on by reading the namespace again for the keys after it. Either way,
//! every key present for the whole walk is returned exactly once, in order, whatever is
//! written meanwhile (a key written after the walk started may or may not be seen).
//!
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::MemoryTable;
use super::entry::{NEVER, Value};
use super::namespaces::NsTable;
use crate::backend::browse::{
    EntryInfo, EntryKind, KeyPage, NamespaceKeys, NamespaceList, bad_cursor, hex, preview,
    set_preview, unhex,
};
use crate::clock::remaining;
use crate::error::CacheResult;
use crate::glob::Glob;
use crate::ttl::Ttl;

/// Prefix of a cursor that only holds the last key returned: `k.` and the key, hex-encoded.
const CURSOR_PREFIX: &str = "k.";

/// Prefix of a cursor into a kept walk: `w.{walk id}.{position}.` and the last key, hex.
const WALK_PREFIX: &str = "w.";

/// Walks kept per table at most.
pub(crate) const MAX_WALKS: usize = 4;

/// How long a walk is kept after its last page.
pub(crate) const WALK_IDLE: Duration = Duration::from_secs(300);

/// The sorted keys of one walk in progress.
#[derive(Debug)]
struct Walk {
    id: u64,
    ns: String,
    pattern: Option<String>,
    keys: Arc<[Arc<str>]>,
    used: Instant,
}

/// The walks a table keeps (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Walks {
    inner: Mutex<(u64, Vec<Walk>)>,
}

impl Walks {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<Walk>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `keys` as a new walk; returns its id.
    fn keep(&self, ns: &str, pattern: Option<&Glob>, keys: Arc<[Arc<str>]>) -> u64 {
        let mut g = self.lock();
        let now = Instant::now();
        g.1.retain(|w| now.duration_since(w.used) < WALK_IDLE);
        if g.1.len() >= MAX_WALKS
            && let Some(oldest) = (0..g.1.len()).min_by_key(|&i| g.1[i].used)
        {
            g.1.swap_remove(oldest);
        }
        g.0 += 1;
        let id = g.0;
        g.1.push(Walk {
            id,
            ns: ns.to_string(),
            pattern: pattern.map(|p| p.as_str().to_string()),
            keys,
            used: now,
        });
        id
    }

    /// The keys of walk `id`, if it is still kept and was made for the same listing.
    fn find(&self, id: u64, ns: &str, pattern: Option<&Glob>) -> Option<Arc<[Arc<str>]>> {
        let mut g = self.lock();
        let w = g.1.iter_mut().find(|w| w.id == id)?;
        if w.ns != ns || w.pattern.as_deref() != pattern.map(Glob::as_str) {
            return None;
        }
        w.used = Instant::now();
        Some(w.keys.clone())
    }
}

/// Where a page starts.
enum Start {
    First,
    /// After this key (a stateless cursor, or a walk that is gone).
    After(String),
    /// At `pos` of walk `id`, after key `last`.
    Walk {
        id: u64,
        pos: usize,
        last: String,
    },
}

fn parse_cursor(cursor: Option<&str>) -> CacheResult<Start> {
    let Some(c) = cursor else {
        return Ok(Start::First);
    };
    let damaged = || bad_cursor("a memory cursor damaged in transit");
    if let Some(hex) = c.strip_prefix(CURSOR_PREFIX) {
        return Ok(Start::After(unhex(hex).ok_or_else(damaged)?));
    }
    let rest = c
        .strip_prefix(WALK_PREFIX)
        .ok_or_else(|| bad_cursor("not a cursor of the memory backend"))?;
    let mut parts = rest.splitn(3, '.');
    let id = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(damaged)?;
    let pos = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(damaged)?;
    let last = parts.next().and_then(unhex).ok_or_else(damaged)?;
    Ok(Start::Walk { id, pos, last })
}

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
        let start = parse_cursor(cursor)?;
        let Some(t) = self.lookup_ns(ns) else {
            return Ok(KeyPage::default());
        };
        let limit = limit.max(1);
        let now = self.clock.now_ms();
        let after = match start {
            Start::Walk { id, pos, last } => match self.walks.find(id, ns, pattern) {
                Some(keys) => return Ok(walk_page(&t, &keys, id, pos, limit, now)),
                None => Some(last),
            },
            Start::After(last) => Some(last),
            Start::First => None,
        };
        let first = after.is_none();
        let pattern_owned = pattern.cloned();
        let table = t.clone();
        // Every matching live key after `after`, sorted (a first page), or the `limit`
        // smallest of them (a page after a walk that is gone).
        let most = if first { usize::MAX } else { limit + 1 };
        let keys = off_runtime(move || {
            select(&table, after.as_deref(), pattern_owned.as_ref(), now, most)
        })
        .await;
        if first && keys.len() > limit {
            let keys: Arc<[Arc<str>]> = keys.into();
            let id = self.walks.keep(ns, pattern, keys.clone());
            return Ok(walk_page(&t, &keys, id, 0, limit, now));
        }
        let more = keys.len() > limit;
        let keys: Vec<String> = keys.iter().take(limit).map(|k| k.to_string()).collect();
        let cursor = match keys.last() {
            Some(last) if more => Some(format!("{CURSOR_PREFIX}{}", hex(last.as_bytes()))),
            _ => None,
        };
        Ok(KeyPage { keys, cursor })
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
/// The `most` smallest live keys of `t` after `after` that match `pattern`, sorted (all of
/// them for `usize::MAX`).
fn select(
    t: &NsTable,
    after: Option<&str>,
    pattern: Option<&Glob>,
    now: u64,
    most: usize,
) -> Vec<Arc<str>> {
    if most == usize::MAX {
        let mut keys: Vec<Arc<str>> = t
            .map
            .iter()
            .filter(|e| {
                e.value().is_live(now)
                    && after.is_none_or(|a| &**e.key() > a)
                    && pattern.is_none_or(|p| p.matches(e.key()))
            })
            .map(|e| e.key().clone())
            .collect();
        keys.sort_unstable();
        return keys;
    }
    // A max-heap of the `most` smallest qualifying keys seen so far.
    let mut best: BinaryHeap<Arc<str>> = BinaryHeap::with_capacity(most + 1);
    for e in t.map.iter() {
        let key = e.key();
        if !e.value().is_live(now)
            || after.is_some_and(|a| &**key <= a)
            || pattern.is_some_and(|p| !p.matches(key))
        {
            continue;
        }
        if best.len() < most {
            best.push(key.clone());
        } else if best.peek().is_some_and(|top| key < top) {
            best.pop();
            best.push(key.clone());
        }
    }
    best.into_sorted_vec()
}

/// A page of a kept walk from `pos`: its next keys that are still live, checked one by one.
fn walk_page(
    t: &NsTable,
    keys: &[Arc<str>],
    id: u64,
    mut pos: usize,
    limit: usize,
    now: u64,
) -> KeyPage {
    let mut out = Vec::with_capacity(limit.min(keys.len()));
    while pos < keys.len() && out.len() < limit {
        let key = &keys[pos];
        pos += 1;
        if t.map.get(&**key).is_some_and(|e| e.is_live(now)) {
            out.push(key.to_string());
        }
    }
    let cursor = match out.last() {
        // (The loop stops early only with a full page, so a page with more to come is never
        // empty.)
        Some(last) if pos < keys.len() => {
            Some(format!("{WALK_PREFIX}{id}.{pos}.{}", hex(last.as_bytes())))
        }
        _ => None,
    };
    KeyPage { keys: out, cursor }
}

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
        assert!(!seen.contains(&"k99".to_string()));
        for i in 0..99 {
            assert!(seen.contains(&format!("k{i}")), "k{i}");
        }
        assert!(!seen.contains(&"a".to_string()), "behind the cursor");
    }

    #[tokio::test]
    async fn a_dropped_walk_goes_on_from_its_last_key() {
        let t = table_with(100);
        let first = t.list_keys("ns", None, None, 10).await.unwrap();
        let cursor = first.cursor.clone().unwrap();
        assert!(cursor.starts_with("w."), "{cursor}");
        // Later walks push the first one out.
        for _ in 0..super::MAX_WALKS {
            t.list_keys("ns", None, None, 10).await.unwrap();
        }
        let mut all = first.keys;
        let mut cursor = Some(cursor);
        while let Some(c) = cursor {
            let page = t.list_keys("ns", None, Some(&c), 10).await.unwrap();
            all.extend(page.keys);
            cursor = page.cursor;
        }
        assert_eq!(all.len(), 100);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "in order, once each");
        // A walk's cursor used for another listing is not served from the walk.
        let w = t.list_keys("ns", None, None, 10).await.unwrap();
        let glob = Glob::new("k9*").unwrap();
        let other = t
            .list_keys("ns", Some(&glob), w.cursor.as_deref(), 100)
            .await
            .unwrap();
        assert!(other.keys.iter().all(|k| k.starts_with("k9")), "{other:?}");
        assert!(t.list_keys("ns", None, Some("w.1.x.00"), 10).await.is_err());
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
