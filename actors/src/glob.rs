//! Glob patterns for `delete_pattern`, in the Redis `MATCH` dialect so every backend agrees.
//!
//! | syntax   | matches                                   |
//! |----------|-------------------------------------------|
//! | `*`      | any run of characters, including none     |
//! | `?`      | exactly one character                     |
//! | `[abc]`  | one of the listed characters              |
//! | `[a-z]`  | one character in the range                |
//! | `[^a]`   | one character not listed                  |
//! | `\x`     | the character `x` literally (`\*`, `\[`)  |
//!
//! A class is read exactly as Redis reads it: `x-y` is a range whenever `x` is followed by `-`
//! and one more character, whatever that character is (`[a-]x]` is the range `a`..`]` then
//! `x`), a `-` anywhere else is literal (`[-a]`, `[a-b-c]`), and `\x` is always the literal `x`
//! (`[\a-z]` is `a`, `-`, `z`). `tests/glob_redis.rs` compares the matcher with a real server's
//! `SCAN MATCH` on random patterns. A class or `?` matches one character, where Redis compares
//! bytes; the Redis backend matches server-side with a widened pattern and filters with this
//! matcher, so every backend deletes the same keys.
//!
//! Patterns are compiled (and validated) once; a malformed pattern — an unclosed `[`, an empty
//! class, a trailing `\`, a reversed range (Redis would swap its ends) — is a
//! [`CacheError::InvalidPattern`], not a silent "matches nothing".

use crate::error::{CacheError, CacheResult};

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::AnyRun => false,
            Token::Class { negated, items } => {
                items.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

impl Glob {
    /// Compiles a pattern.
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`] naming what is wrong.
    pub fn new(pattern: &str) -> CacheResult<Glob> {
        let invalid = |reason: &str| CacheError::InvalidPattern {
            pattern: pattern.chars().take(64).collect(),
            reason: reason.to_string(),
        };
        if pattern.is_empty() {
            return Err(invalid("the pattern is empty"));
        }
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(invalid("the pattern is longer than 1024 bytes"));
        }
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                '*' => {
                    if tokens.last() == Some(&Token::AnyRun) {
                        continue;
                    }
                    Token::AnyRun
                }
                '?' => Token::AnyOne,
                '\\' => Token::Literal(chars.next().ok_or_else(|| invalid("trailing `\\`"))?),
                '[' => {
                    // Read as Redis's `stringmatchlen` reads a class: `\x` is `x`; `]` ends
                    // it; `x-y` is a range when `x` is followed by `-` and one more character,
                    // whatever that character is (`]` and `\` included, as Redis takes them).
                    let mut negated = false;
                    let mut items = Vec::new();
                    let mut first = true;
                    loop {
                        let c = chars.next().ok_or_else(|| invalid("unclosed `[`"))?;
                        if first && c == '^' {
                            negated = true;
                            first = false;
                            continue;
                        }
                        first = false;
                        match c {
                            ']' => break,
                            '\\' => {
                                let e = chars.next().ok_or_else(|| invalid("trailing `\\`"))?;
                                items.push((e, e));
                            }
                            lo => {
                                let mut ahead = chars.clone();
                                match (ahead.next(), ahead.next()) {
                                    (Some('-'), Some(hi)) => {
                                        if lo > hi {
                                            return Err(invalid(
                                                "a range's start is after its end",
                                            ));
                                        }
                                        chars = ahead;
                                        items.push((lo, hi));
                                    }
                                    _ => items.push((lo, lo)),
                                }
                            }
                        }
                    }
                    if items.is_empty() {
                        return Err(invalid("empty character class `[]`"));
                    }
                    Token::Class { negated, items }
                }
                other => Token::Literal(other),
            };
            tokens.push(token);
        }
        Ok(Glob {
            source: pattern.to_string(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let tokens = &self.tokens;
        let (mut t, mut i) = (0usize, 0usize);
        // Position of the last `*` seen and the text index it currently stands for.
        let mut star: Option<(usize, usize)> = None;
        while i < text.len() {
            match tokens.get(t) {
                Some(Token::AnyRun) => {
                    star = Some((t, i));
                    t += 1;
                }
                Some(tok) if tok.matches(text[i]) => {
                    t += 1;
                    i += 1;
                }
                _ => match star {
                    Some((st, si)) => {
                        t = st + 1;
                        i = si + 1;
                        star = Some((st, si + 1));
                    }
                    None => return false,
                },
            }
        }
        tokens[t..].iter().all(|tok| *tok == Token::AnyRun)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).expect("valid pattern").matches(s)
    }

    #[test]
    fn redis_dialect() {
        assert!(m("user_profiles:*", "user_profiles:42"));
        assert!(m("user_profiles:*", "user_profiles:"));
        assert!(!m("user_profiles:*", "user_profile:42"));
        assert!(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b") && !m("a\\*b", "axb"));
        assert!(m("[\\]]", "]") && m("[-a]", "-") && m("[-a]", "a"));
        // Classes as Redis reads them: a range takes the next character whatever it is, an
        // escaped character never starts a range, a `-` after a range is a literal.
        assert!(m("[a-b-c]", "-") && m("[a-b-c]", "c") && !m("[a-b-c]", "x"));
        assert!(m("[\\a-z]", "-") && m("[\\a-z]", "z") && !m("[\\a-z]", "m"));
        assert!(m("[Z-]]", "[") && m("[Z-]]", "]") && !m("[Z-]]", "a"));
        assert!(m("*a*b*", "xxaxxbxx") && !m("*a*b*", "xxbxxaxx"));
        assert!(m("*", "") && m("**", "anything"));
        assert!(m("é?", "éa"));
    }

    #[test]
    fn rejects_malformed() {
        // `[a-]`: the `]` is the end of a reversed range `a-]`, and the class never closes.
        for bad in [
            "", "[abc", "abc\\", "[]", "[z-a]", "[a\\", "[a-]", "[a-\\z]",
        ] {
            assert!(Glob::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
