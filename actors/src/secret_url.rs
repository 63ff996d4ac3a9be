//! [`SecretUrl`]: a server URL that may carry a password, and the redaction every printed form
//! of it goes through.
//!
//! The URL is held in a [`secrecy::SecretString`]: the only way to the text is
//! [`SecretUrl::expose_secret`], which the Redis backend calls to connect. `Debug`, `Display`
//! and `Serialize` print [`redact`]'s form, and [`SecretUrl::secrets`] lists the strings to
//! scrub from any message that quotes the URL (a client's parse error, say).
//!
//! Redaction does not depend on the URL being well formed: a password with an unencoded `#`,
//! `/` or `?` breaks URL parsing, so the rule is textual. Everything between the scheme's `//`
//! (or, without `//`, its `:`) and the **last** `@` of the whole string is userinfo: the user
//! name before its first `:` is kept, the rest becomes `***` (all of it when there is no
//! `:`); and the value of every `pass` or `password` query parameter becomes `***`.
//! [`redact_text`] applies the same rule line by line to text from elsewhere (a configuration
//! parser's error that quotes the line it failed on).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A URL whose password never reaches a log, an error, a `Debug`, `Display` or `Serialize`
/// output. Build it from a `&str` or `String` (`config.redis.url = "redis://...".into()`).
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    /// The URL as written, password included: only for handing it to a client library.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with its secrets replaced by `***`: the only form of it that is ever printed.
    pub fn redacted(&self) -> String {
        redact(self.expose_secret())
    }

    /// Every secret the URL holds, as written and percent-decoded: the strings to scrub from
    /// a message that might quote the URL.
    pub fn secrets(&self) -> Vec<String> {
        let url = self.expose_secret();
        let mut raw: Vec<&str> = Vec::new();
        if let Some((_, userinfo)) = userinfo(url) {
            raw.push(userinfo.split_once(':').map_or(userinfo, |(_, pw)| pw));
        }
        raw.extend(query_secrets(url).map(|(start, end)| &url[start..end]));
        let mut out = Vec::new();
        for s in raw.into_iter().filter(|s| !s.is_empty()) {
            let decoded = percent_decode(s);
            out.push(s.to_string());
            if decoded != s && !decoded.is_empty() {
                out.push(decoded);
            }
        }
        out
    }
}

impl From<&str> for SecretUrl {
    fn from(s: &str) -> Self {
        SecretUrl(SecretString::from(s))
    }
}

impl From<String> for SecretUrl {
    fn from(s: String) -> Self {
        SecretUrl(SecretString::from(s))
    }
}

impl PartialEq for SecretUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl Eq for SecretUrl {}

impl PartialEq<&str> for SecretUrl {
    fn eq(&self, other: &&str) -> bool {
        self.expose_secret() == *other
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Serializes the redacted form: a configuration written out never holds the password.
impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretUrl::from)
    }
}

/// Where the userinfo starts, and the userinfo: everything before the last `@`, after the
/// scheme's `//` — or, in a URL written without `//` (`redis::pw@host`, `redis:/:pw@host`,
/// `:pw@host`), after the first `:`, or from the start when there is none.
fn userinfo(url: &str) -> Option<(usize, &str)> {
    let at = url.rfind('@')?;
    let head = &url[..at];
    let start = match head.find("//") {
        Some(i) => i + 2,
        None => head.find(':').map_or(0, |i| i + 1),
    };
    Some((start, &url[start..at]))
}

/// Byte ranges of the values of `pass=` / `password=` query parameters (the query starts at
/// the first `?` after the userinfo: one inside a password is part of the password).
fn query_secrets(url: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let from = userinfo(url).map_or(0, |(start, info)| start + info.len());
    let query = url[from..].find('?').map_or(url.len(), |q| from + q + 1);
    let mut pos = query;
    std::iter::from_fn(move || {
        while pos < url.len() {
            let end = url[pos..].find(['&', '#']).map_or(url.len(), |e| pos + e);
            let param = &url[pos..end];
            let start = pos;
            pos = end + 1;
            if let Some((name, _)) = param.split_once('=')
                && (name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password"))
            {
                return Some((start + name.len() + 1, end));
            }
        }
        None
    })
}

/// `url` with the password of its userinfo and every `pass`/`password` query value replaced
/// by `***` (see the module doc for the rule).
pub fn redact(url: &str) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    if let Some((start, info)) = userinfo(url) {
        let keep = info.find(':').map_or(0, |c| c + 1);
        spans.push((start + keep, start + info.len()));
    }
    spans.extend(query_secrets(url));
    spans.sort_unstable();
    let mut out = String::with_capacity(url.len());
    let mut last = 0;
    for (start, end) in spans {
        if start < last {
            continue; // inside a span already redacted (a `?pass=` within the userinfo)
        }
        out.push_str(&url[last..start]);
        out.push_str("***");
        last = end;
    }
    out.push_str(&url[last..]);
    out
}

/// `text` with the rule of [`redact`] applied to each line that holds an `@` or a
/// `pass=`/`password=` parameter: for messages from other libraries (a TOML parser quoting a
/// malformed `url = "..."` line) that may quote a URL the cache never got to parse.
pub fn redact_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !text.contains('@') && !lower.contains("pass") {
        return text.to_string();
    }
    text.split('\n')
        .map(|line| {
            if line.contains('@') || line.to_ascii_lowercase().contains("pass") {
                redact(line)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Decodes `%XX` escapes (lossy on invalid UTF-8).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_whatever_they_contain() {
        for (url, want) in [
            (
                "redis://user:s3cr%40t@localhost:6379/2",
                "redis://user:***@localhost:6379/2",
            ),
            ("redis://:pw@h", "redis://:***@h"),
            ("redis://:p#a/s?s@h:1/0", "redis://:***@h:1/0"),
            ("redis://u:p@ss@word@h", "redis://u:***@h"),
            ("redis://onlyname@h", "redis://***@h"),
            ("redis://h:6379", "redis://h:6379"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=X&x=1",
                "redis+unix:///tmp/r.sock?db=1&pass=***&x=1",
            ),
            ("unix:///s?password=hunter2", "unix:///s?password=***"),
            (
                "redis://:a?pass=b@h?password=c",
                "redis://:***@h?password=***",
            ),
        ] {
            assert_eq!(redact(url), want, "{url}");
            let u = SecretUrl::from(url);
            assert_eq!(format!("{u}"), want);
            assert_eq!(format!("{u:?}"), format!("{want:?}"));
            assert_eq!(serde_json::to_string(&u).unwrap(), format!("{want:?}"));
        }
    }

    #[test]
    fn secrets_cover_raw_and_decoded_forms() {
        let u = SecretUrl::from("redis://app:p%40ss#1@h/0?pass=q%2Fr");
        let s = u.secrets();
        for want in ["p%40ss#1", "p@ss#1", "q%2Fr", "q/r"] {
            assert!(s.iter().any(|x| x == want), "{want} missing from {s:?}");
        }
    }
}
