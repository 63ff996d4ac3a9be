//! The Redis key layout: `{prefix}:{namespace}:{key}`, or `{prefix}:{namespace}\g{n}:{key}`
//! in generation `n` ≥ 1 of a namespace (`redis.namespace_generations`).
//!
//! The namespace is escaped (`\` → `\\`, `:` → `\:`), so it never contains a bare `:` and the
//! first bare `:` after the prefix always ends it: whatever a key or a namespace contains, it
//! cannot land in (or be matched from) another namespace. An escaped namespace never holds
//! `\g` either (a `\` is always followed by `\` or `:`), so the generation suffix cannot be
//! forged by a namespace name. The key itself is stored as given.
//!
//! The cache's own keys start with `{prefix}::` (no namespace is empty): leases
//! (`{prefix}::lease:{namespace}:{key}`) and generation counters (`{prefix}::gen:{namespace}`).
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

    /// `{prefix}:{escaped namespace}:{key}` (generation 0).
    #[cfg(test)]
    pub(crate) fn key(&self, ns: &str, key: &str) -> String {
        self.key_at(ns, 0, key)
    }

    /// The key of `(ns, key)` in generation `generation` of `ns`.
    #[inline]
    pub(crate) fn key_at(&self, ns: &str, generation: u64, key: &str) -> String {
        let ns = escape_namespace(ns);
        let mut out = String::with_capacity(self.prefix.len() + ns.len() + key.len() + 24);
        out.push_str(&self.prefix);
        out.push(':');
        out.push_str(&ns);
        push_generation(&mut out, generation);
        out.push(':');
        out.push_str(key);
        out
    }

    /// The `(namespace, key)` a Redis key of this layout stands for, whatever its generation
    /// (the inverse of [`KeyLayout::key_at`] without the generation); `None` for keys outside
    /// the prefix or not of the layout (another application's keys, a lease or generation key
    /// of the cache's own).
    pub(crate) fn parse(&self, redis_key: &[u8]) -> Option<(String, String)> {
        self.parse_at(redis_key).map(|(ns, _, key)| (ns, key))
    }

    /// `(namespace, generation, key)` of a Redis key of this layout.
    pub(crate) fn parse_at(&self, redis_key: &[u8]) -> Option<(String, u64, String)> {
        let rest = redis_key
            .strip_prefix(self.prefix.as_bytes())?
            .strip_prefix(b":")?;
        let rest = std::str::from_utf8(rest).ok()?;
        if rest.starts_with(':') {
            return None; // the cache's own keys (`{prefix}::…`)
        }
        let (ns, end) = unescape_until_colon(rest)?;
        let (ns, generation) = match ns {
            Segment::Plain(ns) => (ns, 0),
            Segment::Generation(ns, g) => (ns, g),
        };
        Some((ns, generation, rest[end + 1..].to_string()))
    }

    /// The generation counter of `ns`: `{prefix}::gen:{escaped namespace}`.
    pub(crate) fn generation_key(&self, ns: &str) -> String {
        format!("{}::gen:{}", self.prefix, escape_namespace(ns))
    }

    /// The start of every generation counter's key: `{prefix}::gen:`.
    pub(crate) fn generation_start(&self) -> String {
        format!("{}::gen:", self.prefix)
    }

    /// The namespace a generation counter's key stands for.
    pub(crate) fn parse_generation_key(&self, redis_key: &[u8]) -> Option<String> {
        let rest = redis_key.strip_prefix(self.generation_start().as_bytes())?;
        let rest = std::str::from_utf8(rest).ok()?;
        let mut ns = String::with_capacity(rest.len());
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => ns.push(chars.next()?),
                ':' => return None,
                c => ns.push(c),
            }
        }
        Some(ns)
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

    /// The literal start of every key of `ns` in `generation`.
    pub(crate) fn namespace_start_at(&self, ns: &str, generation: u64) -> String {
        let mut out = format!("{}:{}", self.prefix, escape_namespace(ns));
        push_generation(&mut out, generation);
        out.push(':');
        out
    }

    /// `MATCH` pattern of every key of `ns` in every generation, and of other namespaces that
    /// start with the same characters (filter with [`KeyLayout::parse_at`]).
    pub(crate) fn namespace_family_pattern(&self, ns: &str) -> String {
        format!(
            "{}:{}*",
            escape_glob(&self.prefix),
            escape_glob(&escape_namespace(ns))
        )
    }

    /// `MATCH` pattern of every key of the cache (all namespaces): `{prefix}:*`.
    pub(crate) fn all_pattern(&self) -> String {
        format!("{}:*", escape_glob(&self.prefix))
    }

    /// `MATCH` pattern of every key of `ns` in `generation`.
    pub(crate) fn namespace_pattern_at(&self, ns: &str, generation: u64) -> String {
        format!("{}*", escape_glob(&self.namespace_start_at(ns, generation)))
    }

    /// `MATCH` pattern covering the keys of `ns` in `generation` that `glob` matches (a
    /// superset: see [`server_side_pattern`]).
    pub(crate) fn glob_pattern_at(&self, ns: &str, generation: u64, glob: &Glob) -> String {
        format!(
            "{}{}",
            escape_glob(&self.namespace_start_at(ns, generation)),
            server_side_pattern(glob)
        )
    }
}

/// Appends `\g{generation}` for generations past 0 (generation 0 is the plain layout, so
/// turning generations on leaves existing keys where they are).
fn push_generation(out: &mut String, generation: u64) {
    if generation > 0 {
        use std::fmt::Write;
        let _ = write!(out, "\\g{generation}");
    }
}

/// A namespace segment read back.
enum Segment {
    Plain(String),
    Generation(String, u64),
}

/// Reads an escaped namespace (and its generation suffix) up to the bare `:` that ends it;
/// returns it with that `:`'s byte index.
fn unescape_until_colon(rest: &str) -> Option<(Segment, usize)> {
    let mut ns = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'g' => {
                    let digits_start = i + 2;
                    let end = digits_start + rest[digits_start..].find(':')?;
                    let generation: u64 = rest[digits_start..end].parse().ok()?;
                    if generation == 0 {
                        return None;
                    }
                    return Some((Segment::Generation(ns, generation), end));
                }
                e => ns.push(e),
            },
            ':' => return Some((Segment::Plain(ns), i)),
            c => ns.push(c),
        }
    }
    None
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
        assert_eq!(
            l.namespace_pattern_at("default", 0),
            "deeper_cache:default:*"
        );
        assert_eq!(l.namespace_pattern_at("a*", 0), "deeper_cache:a\\*:*");
        assert_eq!(l.namespace_pattern_at("a:b", 0), "deeper_cache:a\\\\:b:*");
        assert_eq!(l.all_pattern(), "deeper_cache:*");
        assert_eq!(l.key_at("default", 3, "k"), "deeper_cache:default\\g3:k");
        assert_eq!(
            l.namespace_pattern_at("default", 3),
            "deeper_cache:default\\\\g3:*"
        );
        assert_eq!(l.generation_key("a:b"), "deeper_cache::gen:a\\:b");
    }

    #[test]
    fn generations_parse_back_and_cannot_be_forged() {
        let l = KeyLayout::new("p");
        for (ns, g, key) in [
            ("default", 0, "k"),
            ("default", 7, "user:1"),
            ("a\\g2", 0, "k"),
            ("a\\g2", 5, "k:\\g9:"),
            ("a:b*", 1, "c"),
            ("g", u64::MAX, ""),
        ] {
            let k = l.key_at(ns, g, key);
            assert_eq!(
                l.parse_at(k.as_bytes()),
                Some((ns.to_string(), g, key.to_string())),
                "{k}"
            );
            assert_eq!(
                l.parse_generation_key(l.generation_key(ns).as_bytes())
                    .as_deref(),
                Some(ns)
            );
        }
        // A namespace named like another's generation stays apart from it.
        assert_ne!(l.key_at("a\\g2", 0, "k"), l.key_at("a", 2, "k"));
        assert_ne!(l.generation_key("a:b"), l.generation_key("a\\:b"));
        assert_eq!(l.parse(l.generation_key("a").as_bytes()), None);
        assert_eq!(l.parse_generation_key(l.key("a", "k").as_bytes()), None);
        assert_eq!(l.parse_at(b"p:a\\g0:k"), None);
        assert_eq!(l.parse_at(b"p:a\\gx:k"), None);
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
        let keys: std::collections::HashSet<String> = pairs
            .iter()
            .flat_map(|(n, k)| [l.key(n, k), l.key_at(n, 1, k), l.key_at(n, 12, k)])
            .collect();
        assert_eq!(keys.len(), pairs.len() * 3);
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
