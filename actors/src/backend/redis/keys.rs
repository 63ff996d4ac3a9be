//! The Redis key layout: `{prefix}:{namespace}:{key}`.
//!
//! The namespace is escaped (`\` → `\\`, `:` → `\:`), so it never contains a bare `:` and the
//! first bare `:` after the prefix always ends it: whatever a key or a namespace contains, it
//! cannot land in (or be matched from) another namespace. The key itself is stored as given.
//! `SCAN MATCH` patterns are built from the escaped parts with the glob metacharacters
//! `*?[]\` escaped in turn; a user's pattern applies to the key part only.

use std::borrow::Cow;

use crate::glob::Glob;

/// Builds keys and `SCAN MATCH` patterns for one key prefix.
#[derive(Debug, Clone)]
pub(crate) struct KeyLayout {
    prefix: String,
}

/// `\` → `\\` and `:` → `\:`.
pub(crate) fn escape_namespace(ns: &str) -> Cow<'_, str> {
    if !ns.contains(['\\', ':']) {
        return Cow::Borrowed(ns);
    }
    let mut out = String::with_capacity(ns.len() + 4);
    for c in ns.chars() {
        if matches!(c, '\\' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Escapes the Redis glob metacharacters `*?[]\` so `s` matches only itself.
pub(crate) fn escape_glob(s: &str) -> Cow<'_, str> {
    if !s.contains(['*', '?', '[', ']', '\\']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// A Redis `MATCH` pattern that matches at least every key `glob` matches: literals and
/// escapes are kept, while `?` and character classes (which Redis compares byte by byte, the
/// cache's [`Glob`] character by character) widen to `*`. The exact match is then checked on
/// the client with [`Glob::matches`], so every backend deletes exactly the same keys.
pub(crate) fn server_side_pattern(glob: &Glob) -> String {
    let mut out = String::with_capacity(glob.as_str().len());
    let mut chars = glob.as_str().chars();
    let star = |out: &mut String| {
        if !out.ends_with('*') || out.ends_with("\\*") {
            out.push('*');
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push('\\');
                    out.push(e);
                }
            }
            '*' | '?' => star(&mut out),
            '[' => {
                // Skip to the closing `]` (validated by `Glob::new`; `\` escapes inside).
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        ']' => break,
                        _ => {}
                    }
                }
                star(&mut out);
            }
            other => out.push(other),
        }
    }
    out
}

impl KeyLayout {
    pub(crate) fn new(prefix: &str) -> Self {
        KeyLayout {
            prefix: prefix.to_string(),
        }
    }

    /// `{prefix}:{escaped namespace}:{key}`.
    #[inline]
    pub(crate) fn key(&self, ns: &str, key: &str) -> String {
        let ns = escape_namespace(ns);
        let mut out = String::with_capacity(self.prefix.len() + ns.len() + key.len() + 2);
        out.push_str(&self.prefix);
        out.push(':');
        out.push_str(&ns);
        out.push(':');
        out.push_str(key);
        out
    }

    /// The `(namespace, key)` a Redis key of this layout stands for (the inverse of
    /// [`KeyLayout::key`]); `None` for keys outside the prefix or not of the layout (another
    /// application's keys, a lease or generation key of the cache's own).
    pub(crate) fn parse(&self, redis_key: &[u8]) -> Option<(String, String)> {
        let rest = redis_key
            .strip_prefix(self.prefix.as_bytes())?
            .strip_prefix(b":")?;
        let rest = std::str::from_utf8(rest).ok()?;
        if rest.starts_with(':') {
            return None; // the cache's own keys (`{prefix}::…`)
        }
        let mut ns = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => ns.push(chars.next()?.1),
                ':' => return Some((ns, rest[i + 1..].to_string())),
                c => ns.push(c),
            }
        }
        None
    }

    /// The start of the cache's own keys (leases, generations): `{prefix}::`. No user key
    /// starts so: a namespace name is never empty.
    pub(crate) fn internal_start(&self) -> String {
        format!("{}::", self.prefix)
    }

    /// The lease key of `(ns, key)`: `{prefix}::lease:{escaped namespace}:{key}`.
    pub(crate) fn lease_key(&self, ns: &str, key: &str) -> String {
        format!("{}::lease:{}:{key}", self.prefix, escape_namespace(ns))
    }

    /// The prefix every key of this layout starts with, `{prefix}:`.
    pub(crate) fn prefix_start(&self) -> String {
        format!("{}:", self.prefix)
    }

    /// The literal start of every key of `ns`: `{prefix}:{escaped namespace}:`.
    pub(crate) fn namespace_start(&self, ns: &str) -> String {
        format!("{}:{}:", self.prefix, escape_namespace(ns))
    }

    /// `MATCH` pattern of every key of the cache (all namespaces): `{prefix}:*`.
    pub(crate) fn all_pattern(&self) -> String {
        format!("{}:*", escape_glob(&self.prefix))
    }

    /// `MATCH` pattern of every key of `ns`.
    pub(crate) fn namespace_pattern(&self, ns: &str) -> String {
        format!("{}*", escape_glob(&self.namespace_start(ns)))
    }

    /// `MATCH` pattern covering the keys of `ns` that `glob` matches (a superset: see
    /// [`server_side_pattern`]).
    pub(crate) fn glob_pattern(&self, ns: &str, glob: &Glob) -> String {
        format!(
            "{}{}",
            escape_glob(&self.namespace_start(ns)),
            server_side_pattern(glob)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_escaping() {
        let l = KeyLayout::new("deeper_cache");
        assert_eq!(l.key("default", "user:1"), "deeper_cache:default:user:1");
        assert_eq!(l.key("a:b", "k"), "deeper_cache:a\\:b:k");
        assert_eq!(l.key("a\\", "k"), "deeper_cache:a\\\\:k");
        assert_eq!(l.namespace_pattern("default"), "deeper_cache:default:*");
        assert_eq!(l.namespace_pattern("a*"), "deeper_cache:a\\*:*");
        assert_eq!(l.namespace_pattern("a:b"), "deeper_cache:a\\\\:b:*");
        assert_eq!(l.all_pattern(), "deeper_cache:*");
    }

    #[test]
    fn parse_inverts_key() {
        let l = KeyLayout::new("p");
        for (ns, key) in [
            ("default", "user:1"),
            ("a:b", "c"),
            ("a\\", ":b"),
            ("a\\:b", "c\\:d"),
            ("é", ""),
        ] {
            let k = l.key(ns, key);
            assert_eq!(
                l.parse(k.as_bytes()),
                Some((ns.to_string(), key.to_string())),
                "{k}"
            );
        }
        assert_eq!(l.parse(b"q:default:k"), None);
        assert_eq!(l.parse(b"p:unterminated"), None);
        assert_eq!(l.parse(b"pp:default:k"), None);
        assert_eq!(l.parse(l.lease_key("default", "k").as_bytes()), None);
    }

    #[test]
    fn namespaces_cannot_collide() {
        // Distinct (namespace, key) pairs give distinct Redis keys.
        let l = KeyLayout::new("p");
        let pairs = [
            ("a", "b:c"),
            ("a:b", "c"),
            ("a\\", ":b"),
            ("a\\:b", "c"),
            ("a", "\\:b:c"),
        ];
        let keys: std::collections::HashSet<String> =
            pairs.iter().map(|(n, k)| l.key(n, k)).collect();
        assert_eq!(keys.len(), pairs.len());
    }

    #[test]
    fn server_side_patterns_widen_but_keep_literals() {
        let p = |s: &str| server_side_pattern(&Glob::new(s).expect("valid"));
        assert_eq!(p("user:*"), "user:*");
        assert_eq!(p("a?c"), "a*c");
        assert_eq!(p("a[0-4]"), "a*");
        assert_eq!(p("a[\\]]b*"), "a*b*");
        assert_eq!(p("a\\*b"), "a\\*b");
        assert_eq!(p("a\\**"), "a\\**");
        assert_eq!(p("**?"), "*");
    }
}
