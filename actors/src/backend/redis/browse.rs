//! What the admin interface reads of Redis (`backend/browse.rs` has the types): pages of one
//! namespace's keys by `SCAN MATCH … COUNT` (never `KEYS`), one entry's metadata (`TYPE` and
//! `PTTL`, then `STRLEN`/`GETRANGE` or `SCARD`/`SSCAN`), and the namespaces under the key
//! prefix (a `SCAN` bounded by a key budget).
//!
//! # Pages over `SCAN`
//! A page is made of whole `SCAN` batches, asked with a `COUNT` of half the room left, so a
//! batch (which may hold a few keys more than `COUNT`) rarely overflows the page. When one
//! does, the page ends inside it: the batch's keys are sorted, the page takes the first ones,
//! and the cursor names the `SCAN` cursor, its `COUNT` and the last key taken, so the next page
//! asks for the same batch again and takes the keys after that key. Cursors:
//!
//! | cursor | meaning |
//! |---|---|
//! | `s.{scan}` | start at `SCAN` cursor `scan` |
//! | `s.{scan}.{count}.{hex key}` | re-read the batch of `SCAN scan … COUNT count`, take its keys after `key` |
//!
//! On a cluster the walk visits every primary in turn (sorted by address); its cursors carry
//! the primary's index in front: `n{index}.s.{scan}…`. With namespace generations a page lists
//! the namespace's current generation only.
//!
//! Redis guarantees that a full `SCAN` returns every key present throughout at least once; a
//! key comes back twice only if Redis resizes its table during the walk. While nothing is
//! written, the walk returns each key exactly once. A page stops after
//! [`MAX_SCANS_PER_PAGE`] `SCAN` calls, so a sparse pattern over a large keyspace answers with
//! a short (even empty) page and a cursor rather than a long wait.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::scan::on_node;
use super::{Kind, RedisBackend, ttl_from_pttl};
use crate::backend::browse::{
    EntryInfo, EntryKind, KeyPage, NamespaceKeys, NamespaceList, bad_cursor, hex, preview,
    set_preview, unhex,
};
use crate::error::CacheResult;
use crate::glob::Glob;

/// `SCAN` calls one page may make before it answers with what it has.
pub(crate) const MAX_SCANS_PER_PAGE: usize = 64;

/// Members a set's value preview reads (one `SSCAN` call).
const SET_PREVIEW_MEMBERS: usize = 256;

/// Where a page starts: a `SCAN` cursor, and maybe the batch to re-read and the last key of
/// it already returned.
#[derive(Debug, PartialEq, Eq)]
struct Resume {
    scan: u64,
    inside: Option<(usize, String)>,
}

fn parse_cursor(cursor: Option<&str>) -> CacheResult<Resume> {
    let Some(c) = cursor else {
        return Ok(Resume {
            scan: 0,
            inside: None,
        });
    };
    let foreign = || bad_cursor("not a cursor of the redis backend");
    let rest = c.strip_prefix("s.").ok_or_else(foreign)?;
    let mut parts = rest.splitn(3, '.');
    let scan = parts
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(foreign)?;
    match (parts.next(), parts.next()) {
        (None, None) => Ok(Resume { scan, inside: None }),
        (Some(count), Some(last)) => {
            let count = count
                .parse::<usize>()
                .ok()
                .filter(|c| (1..=100_000).contains(c))
                .ok_or_else(foreign)?;
            let last = unhex(last).ok_or_else(foreign)?;
            Ok(Resume {
                scan,
                inside: Some((count, last)),
            })
        }
        _ => Err(foreign()),
    }
}

impl RedisBackend {
    /// One `SCAN cursor MATCH pattern COUNT count` (idempotent, through the breaker), on
    /// `node` of a cluster.
    async fn scan_step(
        &self,
        operation: &'static str,
        node: Option<&(String, u16)>,
        cursor: u64,
        pattern: &str,
        count: usize,
    ) -> CacheResult<(u64, Vec<Vec<u8>>)> {
        self.call(operation, Kind::Value, true, None, |c| async move {
            let mut scan = ::redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count);
            on_node(c, scan, node).await
        })
        .await
    }

    /// The servers a walk visits: every primary of a cluster (sorted by address, so page
    /// after page sees the same order), or the one server.
    async fn walk_nodes(&self, operation: &'static str) -> CacheResult<Vec<Option<(String, u16)>>> {
        if !self.inner.source.is_cluster() {
            return Ok(vec![None]);
        }
        let mut nodes = self.primaries(operation).await?;
        nodes.sort();
        Ok(nodes.into_iter().map(Some).collect())
    }

    /// One page of the keys of `ns` matching `pattern`, after `cursor`.
    pub(in crate::backend) async fn list_page(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        let nodes = self.walk_nodes("list_keys").await?;
        let (mut node, cursor) = match cursor {
            Some(c) if self.inner.source.is_cluster() => {
                let foreign = || bad_cursor("not a cursor of this redis cluster");
                let (n, rest) = c
                    .strip_prefix('n')
                    .and_then(|r| r.split_once('.'))
                    .ok_or_else(foreign)?;
                let n: usize = n.parse().map_err(|_| foreign())?;
                if n >= nodes.len() {
                    return Err(foreign());
                }
                (n, Some(rest))
            }
            c => (0, c),
        };
        let cluster = self.inner.source.is_cluster();
        let wrap = |node: usize, c: String| {
            if cluster { format!("n{node}.{c}") } else { c }
        };
        let Resume {
            mut scan,
            mut inside,
        } = parse_cursor(cursor)?;
        let limit = limit.max(1);
        let keys = &self.inner.keys;
        let generation = self.generation(ns).await?;
        let start = keys.namespace_start_at(ns, generation);
        let start = start.as_bytes();
        let pat = match pattern {
            Some(g) => keys.glob_pattern_at(ns, generation, g),
            None => keys.namespace_pattern_at(ns, generation),
        };
        let pat = &pat;
        let max_count = self.inner.scan_batch;
        let mut out: Vec<String> = Vec::with_capacity(limit.min(1024));
        for _ in 0..MAX_SCANS_PER_PAGE {
            let room = limit - out.len();
            let count = match &inside {
                Some((count, _)) => *count,
                None => (room / 2).clamp(1, max_count),
            };
            let (next, batch) = self
                .scan_step("list_keys", nodes[node].as_ref(), scan, pat, count)
                .await?;
            let mut found: Vec<String> = batch
                .into_iter()
                .filter_map(|k| {
                    let rest = k.strip_prefix(start)?;
                    let key = String::from_utf8(rest.to_vec()).ok()?;
                    pattern.is_none_or(|g| g.matches(&key)).then_some(key)
                })
                .collect();
            found.sort_unstable();
            found.dedup();
            if let Some((_, last)) = inside.take() {
                found.retain(|k| *k > last);
            }
            if found.len() > room {
                found.truncate(room);
                let last = hex(found.last().map_or(&[][..], |k| k.as_bytes()));
                out.extend(found);
                return Ok(KeyPage {
                    keys: out,
                    cursor: Some(wrap(node, format!("s.{scan}.{count}.{last}"))),
                });
            }
            out.extend(found);
            if next == 0 {
                if node + 1 == nodes.len() {
                    return Ok(KeyPage {
                        keys: out,
                        cursor: None,
                    });
                }
                // The next primary of the cluster, from its start.
                node += 1;
                scan = 0;
                continue;
            }
            scan = next;
            // Stop once less than an eighth of the page is left: another batch would most
            // likely overflow it.
            let room = limit - out.len();
            if room == 0 || (!out.is_empty() && room < (limit / 8).max(1)) {
                break;
            }
        }
        Ok(KeyPage {
            keys: out,
            cursor: Some(wrap(node, format!("s.{scan}"))),
        })
    }

    /// Metadata of `key` in `ns`, with the first `value_bytes` of its value when asked for.
    pub(in crate::backend) async fn inspect_key(
        &self,
        ns: &str,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>> {
        let k = &self.key(ns, key).await?;
        let route = Some(k.as_str());
        let (kind, pttl): (String, i64) = self
            .call("inspect", Kind::Value, true, route, |mut c| async move {
                ::redis::pipe()
                    .cmd("TYPE")
                    .arg(k)
                    .cmd("PTTL")
                    .arg(k)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(ttl) = ttl_from_pttl(pttl) else {
            return Ok(None);
        };
        let mut info = EntryInfo {
            kind: EntryKind::Other,
            size: None,
            members: None,
            ttl,
            value: None,
            value_truncated: false,
            l1: None,
        };
        match kind.as_str() {
            "none" => return Ok(None),
            "string" => {
                info.kind = EntryKind::Value;
                let want = value_bytes.unwrap_or(0);
                let (len, head): (u64, Bytes) = self
                    .call("inspect", Kind::Value, true, route, |mut c| async move {
                        let mut p = ::redis::pipe();
                        p.cmd("STRLEN").arg(k);
                        if want > 0 {
                            p.cmd("GETRANGE").arg(k).arg(0).arg(want - 1);
                            p.query_async(&mut c).await
                        } else {
                            p.query_async::<(u64,)>(&mut c)
                                .await
                                .map(|(n,)| (n, Bytes::new()))
                        }
                    })
                    .await?;
                info.size = Some(len);
                if value_bytes.is_some() {
                    let (v, cut) = preview(&head, want);
                    info.value = Some(v);
                    info.value_truncated = cut || len > want as u64;
                }
            }
            "set" => {
                info.kind = EntryKind::Set;
                let (card, (_, members)): (u64, (u64, Vec<Bytes>)) = self
                    .call("inspect", Kind::Set, true, route, |mut c| async move {
                        ::redis::pipe()
                            .cmd("SCARD")
                            .arg(k)
                            .cmd("SSCAN")
                            .arg(k)
                            .arg(0)
                            .arg("COUNT")
                            .arg(SET_PREVIEW_MEMBERS)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                info.members = Some(card);
                let all = members.len() as u64 >= card;
                if all {
                    info.size = Some(members.iter().map(|m| m.len() as u64).sum());
                }
                if let Some(n) = value_bytes {
                    let (v, cut) = set_preview(&members, n);
                    info.value = Some(v);
                    info.value_truncated = cut || !all;
                }
            }
            _ => {}
        }
        Ok(Some(info))
    }

    /// The namespaces under the key prefix, by a `SCAN` that stops after `scan_limit` keys.
    pub(in crate::backend) async fn namespace_scan(
        &self,
        scan_limit: u64,
    ) -> CacheResult<NamespaceList> {
        let keys = &self.inner.keys;
        let pat = &keys.all_pattern();
        let count = self.inner.scan_batch;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut scanned = 0u64;
        let nodes = self.walk_nodes("namespaces").await?;
        let mut complete = true;
        'nodes: for node in &nodes {
            let mut cursor = 0u64;
            loop {
                let (next, batch) = self
                    .scan_step("namespaces", node.as_ref(), cursor, pat, count)
                    .await?;
                scanned += batch.len() as u64;
                for k in &batch {
                    // Every generation counts (an old one is being unlinked in the background).
                    if let Some((ns, _)) = keys.parse(k) {
                        *counts.entry(ns).or_default() += 1;
                    }
                }
                if next == 0 {
                    break;
                }
                if scanned >= scan_limit {
                    complete = false;
                    break 'nodes;
                }
                cursor = next;
            }
        }
        Ok(NamespaceList {
            namespaces: counts
                .into_iter()
                .map(|(name, keys)| NamespaceKeys { name, keys })
                .collect(),
            complete,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse() {
        assert_eq!(
            parse_cursor(None).unwrap(),
            Resume {
                scan: 0,
                inside: None
            }
        );
        assert_eq!(
            parse_cursor(Some("s.42")).unwrap(),
            Resume {
                scan: 42,
                inside: None
            }
        );
        assert_eq!(
            parse_cursor(Some(&format!("s.7.100.{}", hex(b"k.1")))).unwrap(),
            Resume {
                scan: 7,
                inside: Some((100, "k.1".into()))
            }
        );
        for bad in [
            "", "s.", "s.x", "k.00", "s.1.0.61", "s.1.2", "s.1.2.zz", "s.-1",
        ] {
            assert!(parse_cursor(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
