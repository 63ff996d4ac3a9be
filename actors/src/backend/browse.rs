//! What an operator reads of a backend (the admin interface, `ops/admin.rs`): a page of keys
//! ([`KeyPage`]), one entry's metadata ([`EntryInfo`]) and the namespaces a backend holds
//! ([`NamespaceList`]). Every backend answers these through [`CacheBackend`](super::CacheBackend)
//! (`list_keys`, `inspect`, `namespaces`); the memory table in `memory/browse.rs`, Redis in
//! `redis/browse.rs`, the tiered backend from its L2 (and its L1 for [`EntryInfo::l1`]).
//!
//! # Paging
//! A listing is walked page by page: each [`KeyPage`] carries an opaque cursor that the next
//! call passes back, `None` on the last page. Cursors belong to the backend that made them
//! (one from another backend is an [`InvalidCursor`](crate::CacheError::InvalidCursor)).
//!
//! | backend | order | guarantee while keys are written meanwhile |
//! |---|---|---|
//! | memory | key order (bytes); the first page keeps the sorted key list for the next pages (`memory/browse.rs`), the cursor also holds the last key returned | every key present for the whole walk is returned exactly once |
//! | redis, tiered | `SCAN` order; the cursor is `SCAN`'s | every key present for the whole walk is returned at least once (twice only if Redis resizes its table meanwhile) |
//!
//! While nothing changes, both return every key exactly once. A page holds at most the limit
//! asked for, and may hold fewer (even none) with a cursor when the keys matching a pattern
//! are sparse: keep going until the cursor is `None`.

use bytes::Bytes;
use serde::{Serialize, Serializer};

use crate::error::{CacheError, CacheResult};
use crate::ttl::Ttl;

/// Most keys one page may hold (a facade call asking for more is refused).
pub const MAX_PAGE_KEYS: usize = 10_000;

/// Longest cursor accepted, in bytes (a memory cursor holds a key, hex-encoded).
pub const MAX_CURSOR_BYTES: usize = 2 * crate::MAX_KEY_BYTES + 64;

/// One page of a key listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyPage {
    /// Keys of the namespace (without any prefix), in the backend's order.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` when the listing is complete.
    pub cursor: Option<String>,
}

/// What kind of entry a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A plain value (counters included: they are stored as decimal integers).
    Value,
    /// A set (`add_to_set`).
    Set,
    /// Something the cache does not write (a Redis list or hash another client put under the
    /// cache's key prefix).
    Other,
}

impl EntryKind {
    /// The name used in JSON (`value`, `set`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Value => "value",
            EntryKind::Set => "set",
            EntryKind::Other => "other",
        }
    }
}

/// Metadata of one live entry, and its value only when asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    /// What the key holds.
    pub kind: EntryKind,
    /// Encoded bytes: the value's length, or the sum of a set's members; `None` where the
    /// backend cannot tell cheaply (a Redis set).
    pub size: Option<u64>,
    /// Members of a set.
    pub members: Option<u64>,
    /// Remaining time to live (`ttl_ms` in JSON, `null` for never).
    #[serde(rename = "ttl_ms", serialize_with = "ttl_ms")]
    pub ttl: Ttl,
    /// The start of the encoded value (a set: its members as a JSON array), at most the
    /// number of bytes asked for; `None` unless asked for.
    #[serde(serialize_with = "lossy")]
    pub value: Option<Bytes>,
    /// Whether [`EntryInfo::value`] was cut at the limit.
    pub value_truncated: bool,
    /// This node's L1 copy (tiered backend only).
    pub l1: Option<L1Copy>,
}

/// What the tiered backend's L1 on this node holds of a key (see [`EntryInfo::l1`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct L1Copy {
    /// Whether this node's L1 holds a copy.
    pub held: bool,
    /// Remaining L1 lifetime of the copy (`ttl_ms` in JSON, `null` when none is held).
    #[serde(rename = "ttl_ms", serialize_with = "opt_ttl_ms")]
    pub ttl: Option<Ttl>,
    /// Whether the invalidation stream is live (only then does L1 serve reads).
    pub tracking: bool,
}

/// The namespaces a backend holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceList {
    /// By name.
    pub namespaces: Vec<NamespaceKeys>,
    /// `false` when the listing stopped at its scan limit (Redis): more namespaces may exist,
    /// and the counts are partial.
    pub complete: bool,
}

/// One namespace and how many keys it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceKeys {
    /// The namespace.
    pub name: String,
    /// Keys found (memory: entries held, including expired ones not yet swept).
    pub keys: u64,
}

fn ttl_ms<S: Serializer>(ttl: &Ttl, s: S) -> Result<S::Ok, S::Error> {
    match ttl.as_millis() {
        Some(ms) => s.serialize_some(&ms),
        None => s.serialize_none(),
    }
}

fn opt_ttl_ms<S: Serializer>(ttl: &Option<Ttl>, s: S) -> Result<S::Ok, S::Error> {
    match ttl.and_then(Ttl::as_millis) {
        Some(ms) => s.serialize_some(&ms),
        None => s.serialize_none(),
    }
}

fn lossy<S: Serializer>(v: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_some(&String::from_utf8_lossy(b)),
        None => s.serialize_none(),
    }
}

/// Checks a page request's limit.
///
/// # Errors
/// [`CacheError::InvalidCursor`] when `limit` is 0 or above [`MAX_PAGE_KEYS`] (the page size
/// travels with the cursor).
pub fn check_limit(limit: usize) -> CacheResult<()> {
    if limit == 0 || limit > MAX_PAGE_KEYS {
        return Err(CacheError::InvalidCursor {
            reason: format!("a page holds 1 to {MAX_PAGE_KEYS} keys, {limit} were asked for"),
        });
    }
    Ok(())
}

/// `bytes` as lowercase hex (cursors that carry a key).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The inverse of [`hex`], as UTF-8 text.
pub(crate) fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = s
        .as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// A cursor that is not this backend's.
pub(crate) fn bad_cursor(why: &str) -> CacheError {
    CacheError::InvalidCursor {
        reason: format!("{why}; pass back the cursor a previous page returned, or none"),
    }
}

/// The start of `value`, at most `limit` bytes, and whether it was cut.
pub(crate) fn preview(value: &Bytes, limit: usize) -> (Bytes, bool) {
    if value.len() > limit {
        (value.slice(..limit), true)
    } else {
        (value.clone(), false)
    }
}

/// A set's members as a JSON array (each member is already JSON), cut after `limit` bytes.
pub(crate) fn set_preview<'a>(
    members: impl IntoIterator<Item = &'a Bytes>,
    limit: usize,
) -> (Bytes, bool) {
    let mut sorted: Vec<&Bytes> = members.into_iter().collect();
    sorted.sort();
    let mut out = Vec::with_capacity(limit.min(4096));
    out.push(b'[');
    for (i, m) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m);
        if out.len() > limit {
            break;
        }
    }
    out.push(b']');
    let truncated = out.len() > limit;
    out.truncate(limit);
    (Bytes::from(out), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        for s in ["", "a", "user:42", "é/ü\u{1F600}", "\u{0}\u{7f}"] {
            assert_eq!(unhex(&hex(s.as_bytes())).as_deref(), Some(s));
        }
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("ff"), None, "not UTF-8");
        assert_eq!(unhex("AB"), None, "uppercase is not ours");
    }

    #[test]
    fn previews_are_capped() {
        let v = Bytes::from_static(b"\"hello world\"");
        assert_eq!(preview(&v, 5), (Bytes::from_static(b"\"hell"), true));
        assert_eq!(preview(&v, 100), (v.clone(), false));
        let members = [Bytes::from_static(b"2"), Bytes::from_static(b"1")];
        assert_eq!(
            set_preview(&members, 100),
            (Bytes::from_static(b"[1,2]"), false)
        );
        assert_eq!(set_preview(&members, 3), (Bytes::from_static(b"[1,"), true));
        assert!(check_limit(0).is_err());
        assert!(check_limit(MAX_PAGE_KEYS).is_ok());
        assert!(check_limit(MAX_PAGE_KEYS + 1).is_err());
    }
}
