//! The arguments of the bulk operations (`get_many`, `put_many`, `delete_many`): a
//! [`KeyList`] of keys, each with its namespace, and an [`EntryList`] that adds a value and a
//! TTL to each. Shared by the requests (`ops/bulk.rs`) and every backend's bulk methods
//! (`backend/mod.rs`), as `children.rs` is shared by the supervisor and its children.
//!
//! A list is packed for the trip through a request: every key's bytes in one buffer, each
//! distinct namespace once, so a call of a hundred keys allocates a handful of times, not a
//! hundred, and cloning it (the rpc plane keeps a copy to resend) copies three pointers.
//! Lists keep the caller's order and duplicates: position `i` of a reply answers key `i`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{CacheError, CacheResult};
use crate::ttl::Ttl;
use crate::{MAX_KEY_BYTES, MAX_NAMESPACE_BYTES};

/// Checks a key: 1 to [`MAX_KEY_BYTES`] bytes.
///
/// # Errors
/// [`CacheError::InvalidKey`].
pub fn check_key(key: &str) -> CacheResult<()> {
    if key.is_empty() {
        return Err(CacheError::InvalidKey {
            reason: "the key is empty".into(),
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CacheError::InvalidKey {
            reason: format!(
                "the key is {} bytes; the maximum is {MAX_KEY_BYTES}",
                key.len()
            ),
        });
    }
    Ok(())
}

/// Checks a namespace name: 1 to [`MAX_NAMESPACE_BYTES`] bytes.
///
/// # Errors
/// [`CacheError::InvalidNamespace`].
pub fn check_namespace(name: &str) -> CacheResult<()> {
    if name.is_empty() || name.len() > MAX_NAMESPACE_BYTES {
        return Err(CacheError::InvalidNamespace {
            reason: format!(
                "a namespace name must be 1 to {MAX_NAMESPACE_BYTES} bytes, got {}",
                name.len()
            ),
        });
    }
    Ok(())
}

/// Keys of a bulk call, each in its namespace, in the caller's order (duplicates kept).
#[derive(Debug, Clone)]
pub struct KeyList {
    /// Every key's bytes, one after another.
    text: Arc<str>,
    /// Per key: the index of its namespace and the end of its bytes in `text`.
    keys: Arc<[(u32, usize)]>,
    /// Each distinct namespace once, in order of first use.
    namespaces: Arc<[Arc<str>]>,
}

impl KeyList {
    /// Number of keys (duplicates counted).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the list has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Key `i`: `(namespace, key)`.
    ///
    /// # Panics
    /// When `i >= len()`, as slice indexing does.
    pub fn get(&self, i: usize) -> (&str, &str) {
        let (ns, end) = self.keys[i];
        let start = if i == 0 { 0 } else { self.keys[i - 1].1 };
        (&self.namespaces[ns as usize], &self.text[start..end])
    }

    /// Every `(namespace, key)`, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        (0..self.keys.len()).map(|i| self.get(i))
    }

    /// The distinct namespaces, in order of first use.
    pub fn namespaces(&self) -> &[Arc<str>] {
        &self.namespaces
    }
}

/// Builds a [`KeyList`].
#[derive(Debug, Default)]
pub struct KeyListBuilder {
    text: String,
    keys: Vec<(u32, usize)>,
    namespaces: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
}

impl KeyListBuilder {
    /// A builder for about `keys` keys.
    pub fn with_capacity(keys: usize) -> Self {
        KeyListBuilder {
            text: String::with_capacity(keys * 16),
            keys: Vec::with_capacity(keys),
            ..Self::default()
        }
    }

    /// Appends `key` of namespace `ns`.
    pub fn push(&mut self, ns: &str, key: &str) {
        // A call in one namespace (the common case) only ever compares with the last one.
        let ns_index = match self.namespaces.last() {
            Some(last) if &**last == ns => (self.namespaces.len() - 1) as u32,
            _ => match self.index.get(ns) {
                Some(i) => *i,
                None => {
                    let i = self.namespaces.len() as u32;
                    let name: Arc<str> = Arc::from(ns);
                    self.namespaces.push(name.clone());
                    self.index.insert(name, i);
                    i
                }
            },
        };
        self.text.push_str(key);
        self.keys.push((ns_index, self.text.len()));
    }

    /// The list.
    pub fn build(self) -> KeyList {
        KeyList {
            text: Arc::from(self.text),
            keys: self.keys.into(),
            namespaces: self.namespaces.into(),
        }
    }
}

/// Entries of a bulk write: each key (in its namespace) with its encoded value and TTL, in
/// the caller's order. A key given twice is written twice, the later value winning.
#[derive(Debug, Clone)]
pub struct EntryList {
    keys: KeyList,
    values: Arc<[(Bytes, Ttl)]>,
}

impl EntryList {
    /// Pairs `keys` with `values` (one per key, same order).
    ///
    /// # Panics
    /// When the lengths differ (a bug in the caller, never the user's input).
    pub fn new(keys: KeyList, values: Vec<(Bytes, Ttl)>) -> Self {
        assert_eq!(keys.len(), values.len(), "one value per key");
        EntryList {
            keys,
            values: values.into(),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &KeyList {
        &self.keys
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Entry `i`: `(namespace, key, value, ttl)`.
    pub fn get(&self, i: usize) -> (&str, &str, &Bytes, Ttl) {
        let (ns, key) = self.keys.get(i);
        let (value, ttl) = &self.values[i];
        (ns, key, value, *ttl)
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str, &Bytes, Ttl)> + '_ {
        (0..self.values.len()).map(|i| self.get(i))
    }

    /// Bytes of values the list carries.
    pub fn value_bytes(&self) -> usize {
        self.values.iter().map(|(v, _)| v.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_duplicates_and_namespaces() {
        let mut b = KeyListBuilder::with_capacity(4);
        b.push("a", "k1");
        b.push("b", "k2");
        b.push("a", "k1");
        b.push("a", "");
        let list = b.build();
        assert_eq!(list.len(), 4);
        let all: Vec<_> = list.iter().collect();
        assert_eq!(all, [("a", "k1"), ("b", "k2"), ("a", "k1"), ("a", "")]);
        assert_eq!(list.namespaces().len(), 2);
    }
}
