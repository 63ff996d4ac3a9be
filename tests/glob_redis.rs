//! Differential test of the glob matcher: `deeper_cache_actors::Glob` (the cache's
//! `delete_pattern` dialect, which the memory backend uses as is and the Redis backend uses to
//! filter what `SCAN MATCH` returns) against a real `redis-server`'s `SCAN … MATCH`.
//!
//! Each case writes a set of random keys into an empty database of a redis-server this test
//! starts on a free loopback port, then, for several random patterns, compares the keys
//! `SCAN 0 MATCH pattern` returns with the keys `Glob::matches` accepts.
//!
//! # Characters
//! Redis matches **bytes**, `Glob` **characters**: `?` against `é` is one character but two
//! bytes, and a class `[é]` is two bytes to Redis. The backend bridges this by widening `?`
//! and classes to `*` on the server and matching exactly on the client, so what the
//! differential test must show is that `Glob` is Redis's dialect *over characters*. Keys and
//! patterns are therefore drawn from an alphabet whose non-ASCII characters (`é`, `ÿ`, `日`)
//! are sent to Redis as one byte each, `{`, `|`, `}` (unused otherwise; in the same order as
//! the characters' code points and above every other character of the alphabet, so ranges
//! compare the same way), and mapped back. Bytes above 0x7F would not do: Redis compares
//! class ranges as C `char`s, signed on x86, so they would sort below ASCII. Plain UTF-8 is also
//! checked (`utf8_literals_and_stars_match_redis`) for patterns without `?` and classes,
//! where bytes and characters agree. NUL is in the alphabet (keys and patterns are binary on
//! both sides).
//!
//! # Patterns
//! - Generated from a grammar (`*`, `?`, literals, `\x` escapes, classes `[abc]`, `[a-z]`,
//!   `[^…]`, escapes inside classes) and as random "soup" from the alphabet, which also makes
//!   unterminated `[`, trailing `\`, `[]`, `[^]`, reversed ranges and stray `]`, `^`, `-`.
//! - **Refused patterns** (`Glob::new` errors: empty, unclosed `[`, trailing `\`, empty class,
//!   reversed range, over 1024 bytes) are not compared — Redis gives them meanings of its own
//!   (an unclosed class runs to the end, a trailing `\` is a literal, a reversed range is
//!   swapped) and `delete_pattern` refuses them before anything is sent. They are checked
//!   separately: every refusal names one of the documented reasons
//!   (`refused_patterns_name_a_documented_reason`).
//! - **Every `-` in a class** is compared: `Glob` reads classes as Redis does (a range takes
//!   the next character whatever it is; a `-` elsewhere is literal; an escaped character never
//!   starts a range). The cases this test first found read differently are pinned by name
//!   (`redis_reads_*`); the two whose Redis reading is a swapped range are refused by `Glob`.
//!
//! `PROPTEST_CASES` sets the number of cases (default 400, each with 12 patterns).
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use deeper_cache_actors::Glob;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use support::RedisServer;

/// The characters of keys and patterns.
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'z', 'A', '0', '-', '^', ':', '*', '?', '[', ']', '\\', '\0', 'é', 'ÿ', '日',
];
/// Characters of keys (and literals): no metacharacters needed, but allowed.
const KEY_CHARS: &[char] = &[
    'a', 'b', 'c', 'z', 'A', '0', '-', '^', ':', '*', '?', '[', ']', '\\', '\0', 'é', 'ÿ', '日',
];
/// Characters a class range may start or end with (plain ones).
const RANGE_CHARS: &[char] = &['a', 'b', 'c', 'z', 'A', '0', ':', 'é', 'ÿ', '日'];

/// One byte per character for Redis: ASCII as is, the three non-ASCII characters as `{`, `|`,
/// `}` (above every other character of the alphabet, in code point order).
fn to_redis(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'é' => b'{',
            'ÿ' => b'|',
            '日' => b'}',
            '{' | '|' | '}' => panic!("{c:?} stands for a non-ASCII character"),
            c if c.is_ascii() => c as u8,
            other => panic!("{other:?} is not in the alphabet"),
        })
        .collect()
}

fn from_redis(b: &[u8]) -> String {
    b.iter()
        .map(|&b| match b {
            b'{' => 'é',
            b'|' => 'ÿ',
            b'}' => '日',
            b if b.is_ascii() => b as char,
            other => panic!("unexpected byte {other:#x} from redis"),
        })
        .collect()
}

/// The redis-server of this binary and one connection to it (cases run one at a time).
fn conn() -> &'static Mutex<redis::Connection> {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    static CONN: OnceLock<Mutex<redis::Connection>> = OnceLock::new();
    CONN.get_or_init(|| {
        let server = SERVER.get_or_init(RedisServer::start);
        let c = redis::Client::open(server.url())
            .expect("url")
            .get_connection()
            .expect("connect to the test redis-server");
        Mutex::new(c)
    })
}

/// Replaces the database's keys with `keys`.
fn load(c: &mut redis::Connection, keys: &[Vec<u8>]) {
    redis::cmd("FLUSHDB").query::<()>(c).expect("FLUSHDB");
    let mut mset = redis::cmd("MSET");
    for k in keys {
        mset.arg(k).arg(1);
    }
    if !keys.is_empty() {
        mset.query::<()>(c).expect("MSET");
    }
}

/// The keys `SCAN MATCH pattern` returns (every iteration).
fn scan(c: &mut redis::Connection, pattern: &[u8]) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000)
            .query(c)
            .expect("SCAN");
        out.extend(keys);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(select(KEY_CHARS), 1..=5).prop_map(String::from_iter),
        1 => proptest::collection::vec(select(&['a', 'b', 'é'][..]), 1..=4)
            .prop_map(String::from_iter),
    ]
}

fn class_item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(RANGE_CHARS).prop_map(String::from),
        2 => (select(RANGE_CHARS), select(RANGE_CHARS)).prop_map(|(a, b)| {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            format!("{lo}-{hi}")
        }),
        2 => select(&['*', '?', '[', ']', '\\', '-', '^', 'a', 'é', '\0'][..])
            .prop_map(|c| format!("\\{c}")),
        1 => select(&['*', '?', '[', '\0'][..]).prop_map(String::from),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEY_CHARS)
            .prop_filter("plain", |c| !matches!(c, '*' | '?' | '[' | ']' | '\\'))
            .prop_map(String::from),
        2 => Just("*".to_string()),
        2 => Just("?".to_string()),
        2 => select(ALPHABET).prop_map(|c| format!("\\{c}")),
        3 => (any::<bool>(), proptest::collection::vec(class_item(), 1..=3))
            .prop_map(|(neg, items)| format!("[{}{}]", if neg { "^" } else { "" }, items.concat())),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(atom(), 1..=5).prop_map(|a| a.concat()),
        2 => proptest::collection::vec(select(ALPHABET), 1..=6).prop_map(String::from_iter),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    keys: BTreeSet<String>,
    patterns: Vec<String>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::btree_set(key(), 0..=40),
        proptest::collection::vec(pattern(), 12),
    )
        .prop_map(|(keys, patterns)| Case { keys, patterns })
}

fn config(default_cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config.source_file = Some(file!());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource("regressions")));
    config
}

/// Compares one pattern over the loaded keys; `Ok(false)` when `Glob` refuses it (not
/// compared).
fn compare(
    c: &mut redis::Connection,
    keys: &BTreeSet<String>,
    pattern: &str,
) -> Result<bool, String> {
    let Ok(glob) = Glob::new(pattern) else {
        return Ok(false);
    };
    let redis: BTreeSet<String> = scan(c, &to_redis(pattern))
        .iter()
        .map(|k| from_redis(k))
        .collect();
    let ours: BTreeSet<String> = keys.iter().filter(|k| glob.matches(k)).cloned().collect();
    if redis != ours {
        return Err(format!(
            "pattern {pattern:?}: redis matches {:?}, Glob {:?}",
            redis.difference(&ours).collect::<Vec<_>>(),
            ours.difference(&redis).collect::<Vec<_>>()
        ));
    }
    Ok(true)
}

#[test]
fn glob_matches_redis_scan_match() {
    let mut runner = TestRunner::new(config(400));
    let (compared, skipped) = (AtomicU64::new(0), AtomicU64::new(0));
    let result = runner.run(&case(), |case| {
        let mut c = conn().lock().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<Vec<u8>> = case.keys.iter().map(|k| to_redis(k)).collect();
        load(&mut c, &keys);
        for p in &case.patterns {
            match compare(&mut c, &case.keys, p) {
                Ok(true) => drop(compared.fetch_add(1, Ordering::Relaxed)),
                Ok(false) => drop(skipped.fetch_add(1, Ordering::Relaxed)),
                Err(e) => return Err(TestCaseError::fail(e)),
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (compared, skipped) = (compared.into_inner(), skipped.into_inner());
    eprintln!("glob vs redis: {compared} patterns compared, {skipped} refused or skipped");
    assert!(
        compared > skipped,
        "most patterns are compared ({compared} compared, {skipped} skipped)"
    );
}

/// Plain UTF-8 (multi-byte characters sent as they are): patterns of literals, escapes and
/// `*` only, where Redis's bytes and `Glob`'s characters must agree exactly.
#[test]
fn utf8_literals_and_stars_match_redis() {
    let chars = &['a', 'b', 'é', 'ü', '日', '本', '🦀', ':', '\0'][..];
    let text = |n| proptest::collection::vec(select(chars), 1..=n).prop_map(String::from_iter);
    let pattern = proptest::collection::vec(
        prop_oneof![
            3 => select(chars).prop_map(String::from),
            2 => Just("*".to_string()),
            1 => select(&['*', '?', '[', 'é', '日'][..]).prop_map(|c| format!("\\{c}")),
        ],
        1..=5,
    )
    .prop_map(|a| a.concat());
    let strategy = (
        proptest::collection::btree_set(text(4), 0..=30),
        proptest::collection::vec(pattern, 8),
    );
    let mut runner = TestRunner::new(config(200));
    let result = runner.run(&strategy, |(keys, patterns)| {
        let mut c = conn().lock().unwrap_or_else(|p| p.into_inner());
        let raw: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        load(&mut c, &raw);
        for p in &patterns {
            let glob = Glob::new(p).map_err(|e| TestCaseError::fail(format!("{p:?}: {e}")))?;
            let redis: BTreeSet<String> = scan(&mut c, p.as_bytes())
                .into_iter()
                .map(|k| String::from_utf8(k).expect("utf-8 key"))
                .collect();
            let ours: BTreeSet<String> = keys.iter().filter(|k| glob.matches(k)).cloned().collect();
            prop_assert_eq!(&redis, &ours, "pattern {:?}", p);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every pattern `Glob` refuses names one of the documented reasons, and each reason is
/// reached.
#[test]
fn refused_patterns_name_a_documented_reason() {
    let documented = [
        "the pattern is empty",
        "the pattern is longer than 1024 bytes",
        "unclosed `[`",
        "trailing `\\`",
        "empty character class `[]`",
        "a range's start is after its end",
    ];
    let seen = Mutex::new(BTreeSet::new());
    let check = |p: &str| {
        if let Err(e) = Glob::new(p) {
            let deeper_cache::CacheError::InvalidPattern { reason, .. } = &e else {
                panic!("{p:?}: {e:?} is not InvalidPattern");
            };
            assert!(
                documented.contains(&reason.as_str()),
                "{p:?} refused for an undocumented reason: {reason}"
            );
            seen.lock().unwrap().insert(reason.clone());
        }
    };
    for p in [
        "",
        "[",
        "a[bc",
        "a\\",
        "[a\\",
        "[]",
        "[^]",
        "[z-a]",
        "[a-\\",
        &"k".repeat(1025),
    ] {
        check(p);
    }
    let mut runner = TestRunner::new(config(2000));
    runner
        .run(&pattern(), |p| {
            check(&p);
            Ok(())
        })
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), documented.len(), "reasons reached: {seen:?}");
}

/// The cases a first version of `Glob` read differently from Redis, compared by name.
fn assert_same_as_redis(pattern: &str, keys: &[&str]) {
    let mut c = conn().lock().unwrap_or_else(|p| p.into_inner());
    let owned: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
    let raw: Vec<Vec<u8>> = owned.iter().map(|k| to_redis(k)).collect();
    load(&mut c, &raw);
    let glob = Glob::new(pattern).expect("Glob accepts it");
    let redis: BTreeSet<String> = scan(&mut c, &to_redis(pattern))
        .iter()
        .map(|k| from_redis(k))
        .collect();
    let ours: BTreeSet<String> = owned.iter().filter(|k| glob.matches(k)).cloned().collect();
    assert_eq!(
        redis, ours,
        "pattern {pattern:?}: redis (left) vs Glob (right)"
    );
}

#[test]
fn redis_reads_a_dash_after_a_range_as_a_literal() {
    assert_same_as_redis("[a-b-c]", &["a", "b", "c", "-", "x"]);
}

#[test]
fn redis_never_starts_a_range_at_an_escape() {
    assert_same_as_redis("[\\a-z]", &["a", "b", "-", "z"]);
}

#[test]
fn redis_reads_a_leading_dash_as_a_literal() {
    assert_same_as_redis("[-a]", &["a", "b", "-"]);
}

#[test]
fn redis_lets_a_range_end_at_a_closing_bracket() {
    assert_same_as_redis("[Z-]]", &["Z", "[", "\\", "]", "a"]);
}

/// Where Redis would swap a reversed range's ends (`[a-]` is the range `a`..`]`, which also
/// leaves the class unclosed; `[a-\z]` is `a`..`\`), `Glob` refuses the pattern instead of
/// guessing: `delete_pattern` never deletes what the caller did not mean.
#[test]
fn ranges_redis_would_swap_are_refused() {
    for p in ["[a-]", "[a-\\z]", "[z-a]"] {
        assert!(Glob::new(p).is_err(), "{p:?}");
    }
}
