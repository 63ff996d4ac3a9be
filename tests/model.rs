//! Model-based test of the whole `Cache` facade (issue 17, "the tests that would have found
//! them").
//!
//! Random sequences of every operation (`get`, `put`, `put_with_ttl`, `delete`, `exists`,
//! `ttl`, `increment`, `increment_with_ttl`, `decrement`, `add_to_set`, `remove_from_set`,
//! `set_members`, `is_member`, `clear` on the root and on namespaces, `delete_pattern`,
//! `purge_expired`, and moves of a virtual clock) run against a cache and against [`Model`], a
//! few lines of plain Rust with a virtual millisecond clock. After **every** step:
//! - the step's result equals the model's (value, flag, count or the error variant: an
//!   `InvalidTtl` for a zero TTL or one past `Ttl::MAX`, `Overflow`, `NotAnInteger`,
//!   `WrongType` naming both kinds (on Redis also a list, hash or sorted set that another
//!   client wrote under the cache's prefix), `InvalidKey`, `InvalidNamespace`, `InvalidPattern`,
//!   `Codec` for nesting past `codec::MAX_DEPTH`, `ValueTooLarge`);
//! - the observable state equals the model's: `ttl`, `exists`, `get` and `set_members` of
//!   every entry the model holds and of the step's own key (and, after the last step, of
//!   every namespace of the pool × every key of the pool), so an operation that returned an
//!   error is seen to have changed nothing, since the model did not change;
//! - memory planes: `usage()` per namespace (entries and bytes, expired-but-unswept entries
//!   included, as documented) equals the model's physical table;
//! - Redis: the number of keys under the instance's prefix (read with a plain client) equals
//!   the model's, so nothing was written that the facade cannot see.
//!
//! Inputs are hostile on purpose: keys and namespaces that are empty, at and one past their
//! byte limits (ASCII and two-byte UTF-8), glob characters `* ? [ ] \`, `:`, `^`, unicode and
//! NUL; TTLs from zero through sub-millisecond to `Ttl::MAX` and past it (`MAX + 1 ns`,
//! `Duration::MAX`); counters at `i64::MIN`/`MAX`; values that are not integers (floats,
//! strings of digits, `u64::MAX`), nested 127 and 128 levels, or one byte past
//! `memory.max_value_bytes`; the root namespace `default` also reached as a named handle.
//!
//! # Planes
//! | test | plane | clock | default cases |
//! |---|---|---|---|
//! | `model_memory_direct` | memory, `direct` | `ManualClock` | 400 |
//! | `model_memory_reject` | memory, `direct`, `max_entries` 8, `max_bytes` 3,000, `reject` | `ManualClock` | 300 |
//! | `model_memory_rpc` | memory, `rpc`, 4 partitions | `ManualClock` | 300 |
//! | `model_redis_direct` | Redis, `direct` | Redis's own | 150 |
//! | `model_redis_rpc` | Redis, `rpc`, 4 partitions | Redis's own | 100 |
//!
//! Redis expires keys by its own clock, which no test can move: its planes use only
//! `Ttl::Never`, TTLs of a day or more (up to `Ttl::MAX`) and the invalid ones, take no clock
//! steps, and compare a remaining TTL only loosely (at most what was set, more than half of
//! it: the TTLs are at least a day, so no timing enters the assertion).
//!
//! # Budget and long runs
//! Each case is 1 to 40 steps. `PROPTEST_CASES=N` runs N cases on every plane instead of the
//! defaults above (e.g. `PROPTEST_CASES=5000 cargo test --test model --release`).
//!
//! # Regressions
//! A failing case is shrunk and its seed saved in `tests/model.regressions` (proptest's
//! failure persistence, replayed first on every run; commit that file). Cases worth naming
//! are also kept as explicit tests below (`regression_*`), run on every plane.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use deeper_cache::{
    AdapterConfig, Cache, CacheConfig, CacheError, DataPlaneMode, DefaultTtl, MAX_KEY_BYTES,
    MAX_NAMESPACE_BYTES, ManualClock, Ttl,
};
use deeper_cache_actors::Glob;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::RedisServer;

/// `memory.max_value_bytes` of every cache under test: small, so an oversized value is cheap.
const MAX_VALUE_BYTES: usize = 2048;
/// Limits of the `reject` plane: small enough to be reached often; a 1024-byte key with a
/// 2 KiB value is larger than `max_bytes` alone.
const REJECT_MAX_ENTRIES: u64 = 8;
const REJECT_MAX_BYTES: u64 = 3_000;
/// The namespace of the root handle.
const ROOT_NS: &str = deeper_cache::DEFAULT_NAMESPACE;
/// The longest finite TTL.
const MAX_TTL: Duration = match Ttl::MAX {
    Ttl::After(d) => d,
    Ttl::Never => Duration::ZERO,
};
const DAY: Duration = Duration::from_secs(86_400);
/// `ENTRY_OVERHEAD_BYTES`, as documented for `usage().bytes`.
const OVERHEAD: u64 = deeper_cache::ENTRY_OVERHEAD_BYTES as u64;

// ---------------------------------------------------------------------------------------
// Planes
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plane {
    MemoryDirect,
    /// Memory, `direct`, bounded with the `reject` policy (deterministic, unlike `lfu`/`lru`).
    MemoryReject,
    MemoryRpc,
    RedisDirect,
    RedisRpc,
}

impl Plane {
    fn is_redis(self) -> bool {
        matches!(self, Plane::RedisDirect | Plane::RedisRpc)
    }

    fn default_cases(self) -> u32 {
        match self {
            Plane::MemoryDirect => 400,
            Plane::MemoryReject => 300,
            Plane::MemoryRpc => 300,
            Plane::RedisDirect => 150,
            Plane::RedisRpc => 100,
        }
    }

    /// `(max_entries, max_bytes)` of the bounded plane.
    fn limits(self) -> Option<(u64, u64)> {
        (self == Plane::MemoryReject).then_some((REJECT_MAX_ENTRIES, REJECT_MAX_BYTES))
    }

    fn adapter(self) -> AdapterConfig {
        match self {
            Plane::MemoryDirect | Plane::MemoryReject | Plane::RedisDirect => AdapterConfig {
                mode: DataPlaneMode::Direct,
                partitions: 0,
            },
            Plane::MemoryRpc | Plane::RedisRpc => AdapterConfig {
                mode: DataPlaneMode::Rpc,
                partitions: 4,
            },
        }
    }
}

/// The Redis server of this test binary, started on first use (killed when the process ends).
fn redis() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

/// One cache under test, and what the checks need to read it.
struct Sut {
    cache: Cache,
    /// Memory planes: the clock the cache expires by.
    clock: Option<ManualClock>,
    /// Redis planes: the key prefix and a plain connection to count the keys under it.
    raw: Option<(String, redis::aio::MultiplexedConnection)>,
}

impl Sut {
    async fn start(plane: Plane, default_ttl: Ttl) -> Sut {
        let mut config = CacheConfig::default();
        config.adapter = plane.adapter();
        config.default_ttl_seconds = DefaultTtl(default_ttl);
        config.memory.max_value_bytes = MAX_VALUE_BYTES;
        // Only the test sweeps (the `Sweep` step) and no reporter line interferes.
        config.memory.cleanup_interval_ms = 3_600_000;
        config.metrics_reporter.report_interval_ms = 3_600_000;
        config.metrics.enabled = false;
        if let Some((entries, bytes)) = plane.limits() {
            config.memory.max_entries = entries;
            config.memory.max_bytes = bytes;
            config.memory.eviction_policy = deeper_cache::EvictionPolicy::Reject;
        }
        if plane.is_redis() {
            let prefix = support::unique_prefix("model");
            let mut c = support::redis_config(&redis().url(), &prefix);
            c.adapter = config.adapter;
            c.default_ttl_seconds = config.default_ttl_seconds;
            c.memory = config.memory.clone();
            c.metrics.enabled = false;
            c.redis.pool_size = 2;
            let cache = Cache::start(c).await.expect("redis cache starts");
            let conn = support::raw_connection(&redis().url()).await;
            Sut {
                cache,
                clock: None,
                raw: Some((prefix, conn)),
            }
        } else {
            let clock = ManualClock::new();
            let cache = Cache::start_with_clock(config, &clock)
                .await
                .expect("memory cache starts");
            Sut {
                cache,
                clock: Some(clock),
                raw: None,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/// Which handle a step uses: the root handle, or `cache.namespace(name)`.
#[derive(Clone, PartialEq, Eq)]
enum Handle {
    Root,
    Named(String),
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handle::Root => f.write_str("Root"),
            Handle::Named(n) => write!(f, "Named({})", short(n)),
        }
    }
}

/// A string as a test failure shows it: long runs of one character abbreviated.
fn short(s: &str) -> String {
    if s.len() > 40 {
        let c = s.chars().next().unwrap_or(' ');
        if s.chars().all(|x| x == c) {
            return format!("{c:?}×{} ({} bytes)", s.chars().count(), s.len());
        }
        let head: String = s.chars().take(12).collect();
        return format!("{head:?}… ({} bytes)", s.len());
    }
    format!("{s:?}")
}

/// A key (or member) that prints short.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Text(String);

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&short(&self.0))
    }
}

/// A value that prints short.
#[derive(Clone, PartialEq)]
struct Val(Value);

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        if text.len() > 60 {
            write!(
                f,
                "<json of {} bytes, nested {} deep>",
                text.len(),
                depth(&self.0)
            )
        } else {
            f.write_str(&text)
        }
    }
}

/// One step of a case.
#[derive(Debug, Clone)]
enum Step {
    Put(Handle, Text, Val),
    PutTtl(Handle, Text, Val, Ttl),
    Get(Handle, Text),
    Delete(Handle, Text),
    Exists(Handle, Text),
    TtlOf(Handle, Text),
    Incr(Handle, Text, i64),
    IncrTtl(Handle, Text, i64, Ttl),
    Decr(Handle, Text, i64),
    Add(Handle, Text, Text),
    Remove(Handle, Text, Text),
    Members(Handle, Text),
    IsMember(Handle, Text, Text),
    Clear(Handle),
    DeletePattern(Handle, Text),
    /// Memory planes: move the virtual clock by this many milliseconds.
    Advance(u64),
    /// Memory planes: `purge_expired()`.
    Sweep,
    /// Redis planes: another application writes a list, a hash or a sorted set where the
    /// cache keeps `(namespace, key)` (with a plain client, at the documented key layout).
    Foreign(Handle, Text, &'static str),
}

/// A case: the default TTL of the cache, and its steps.
#[derive(Debug, Clone)]
struct Case {
    default_ttl: Ttl,
    steps: Vec<Step>,
}

/// Valid namespace names (the root's own among them).
fn namespaces() -> Vec<String> {
    vec![
        ROOT_NS.to_string(),
        "a".into(),
        "a:b".into(),
        "*".into(),
        "[x]?\\".into(),
        "é名\0".into(),
        "x\\".into(),
        "n".repeat(MAX_NAMESPACE_BYTES),
    ]
}

/// Namespace names `Cache::namespace` must refuse.
fn bad_namespaces() -> Vec<String> {
    vec![
        String::new(),
        "n".repeat(MAX_NAMESPACE_BYTES + 1),
        "é".repeat(MAX_NAMESPACE_BYTES / 2) + "n",
    ]
}

/// Valid keys of the pool (every check reads all of them in every namespace).
fn keys() -> Vec<String> {
    vec![
        "k".into(),
        "k1".into(),
        "a:b".into(),
        "b".into(),
        "*".into(),
        "k*".into(),
        "[k]".into(),
        "\\".into(),
        "?".into(),
        "é".into(),
        "\0".into(),
        "x\0y".into(),
        "k".repeat(MAX_KEY_BYTES),
        "é".repeat(MAX_KEY_BYTES / 2),
    ]
}

/// Keys every operation must refuse.
fn bad_keys() -> Vec<String> {
    vec![
        String::new(),
        "k".repeat(MAX_KEY_BYTES + 1),
        "é".repeat(MAX_KEY_BYTES / 2) + "k",
    ]
}

/// Characters of random short keys, members and patterns.
const ALPHABET: &[char] = &[
    'a', 'b', 'k', '*', '?', '[', ']', '\\', '^', '-', ':', 'é', '\0',
];

fn short_text(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(select(ALPHABET), len).prop_map(String::from_iter)
}

/// Handles and keys: mostly a few hot ones, so steps meet each other's entries (a counter
/// on a value, a set op on a counter, a pattern over what was written), and the whole pools.
fn handle() -> impl Strategy<Value = Handle> {
    prop_oneof![
        5 => Just(Handle::Root),
        3 => select(vec![ROOT_NS.to_string(), "a:b".into()]).prop_map(Handle::Named),
        3 => select(namespaces()).prop_map(Handle::Named),
        1 => select(bad_namespaces()).prop_map(Handle::Named),
    ]
}

fn key() -> impl Strategy<Value = Text> {
    prop_oneof![
        12 => select(vec!["k".to_string(), "k1".into(), "a:b".into(), "é".into()]),
        5 => select(keys()),
        1 => select(bad_keys()),
        2 => short_text(1..=3),
    ]
    .prop_map(Text)
}

fn member() -> impl Strategy<Value = Text> {
    prop_oneof![
        6 => select(vec![
            String::new(),
            "m".into(),
            "M".into(),
            "é".into(),
            "\0".into(),
            "[*]".into(),
            "5".into(),
        ]),
        // One byte past the limit once encoded (two quotes).
        1 => Just("m".repeat(MAX_VALUE_BYTES - 1)),
        3 => short_text(0..=3),
    ]
    .prop_map(Text)
}

fn pattern() -> impl Strategy<Value = Text> {
    prop_oneof![
        6 => select(vec![
            "*".to_string(),
            "k*".into(),
            "*k".into(),
            "k?".into(),
            "?".into(),
            "[k]*".into(),
            "[^k]*".into(),
            "[a-k]".into(),
            "\\*".into(),
            "\\\\".into(),
            "*:*".into(),
            "a:*".into(),
            "é*".into(),
            "*\0*".into(),
            "k".repeat(MAX_KEY_BYTES),
            // Invalid: empty, unclosed class, trailing escape, empty class, reversed range,
            // one byte too long.
            String::new(),
            "[".into(),
            "k\\".into(),
            "[]".into(),
            "[z-a]".into(),
            "k".repeat(deeper_cache::MAX_PATTERN_BYTES + 1),
        ]),
        4 => short_text(1..=5),
    ]
    .prop_map(Text)
}

/// Integers at and near the ends of `i64`.
fn edge_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => select(vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MIN + 2,
            -1,
            0,
            1,
            2,
            i64::MAX - 2,
            i64::MAX - 1,
            i64::MAX,
        ]),
        3 => -5i64..=5,
        1 => any::<i64>(),
    ]
}

/// A value nested `levels` arrays deep.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(0), |v, _| Value::Array(vec![v]))
}

/// Nesting depth of arrays and objects.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn value() -> impl Strategy<Value = Val> {
    prop_oneof![
        5 => edge_int().prop_map(Value::from),
        2 => short_text(0..=4).prop_map(Value::from),
        // Strings of any size up to the limit: writes that end near `max_bytes`.
        1 => (0usize..=MAX_VALUE_BYTES).prop_map(|n| Value::from("v".repeat(n))),
        3 => select(vec![
            Value::Null,
            json!(true),
            json!(1.5),
            json!(-0.0),
            json!(0.1),
            json!(1e300),
            json!(u64::MAX),
            json!("5"),
            json!("-0"),
            json!([1, "a", null]),
            json!({"a": {"b": [1]}, "": "\0"}),
            nested(deeper_cache::codec::MAX_DEPTH),
            nested(deeper_cache::codec::MAX_DEPTH + 1),
            // One byte past the limit once encoded (two quotes).
            Value::from("v".repeat(MAX_VALUE_BYTES - 1)),
            Value::from("v".repeat(MAX_VALUE_BYTES - 2)),
        ]),
    ]
    .prop_map(Val)
}

fn ttl(plane: Plane) -> BoxedStrategy<Ttl> {
    let invalid = vec![
        Ttl::After(Duration::ZERO),
        Ttl::After(MAX_TTL + Duration::from_nanos(1)),
        Ttl::After(MAX_TTL + Duration::from_millis(1)),
        Ttl::After(Duration::MAX),
        Ttl::After(Duration::from_secs(i64::MAX as u64)),
    ];
    if plane.is_redis() {
        // Redis expires by its own clock: only TTLs far longer than the test.
        prop_oneof![
            2 => Just(Ttl::Never),
            4 => select(vec![
                Ttl::After(DAY),
                Ttl::After(DAY + Duration::from_nanos(1)),
                Ttl::After(DAY * 365),
                Ttl::MAX,
                Ttl::After(MAX_TTL - Duration::from_nanos(1)),
            ]),
            2 => select(invalid),
        ]
        .boxed()
    } else {
        prop_oneof![
            2 => Just(Ttl::Never),
            3 => select(vec![
                Ttl::After(Duration::from_nanos(1)),
                Ttl::After(Duration::from_millis(1)),
                Ttl::After(Duration::from_micros(1500)),
                Ttl::After(Duration::from_millis(999)),
                Ttl::After(Duration::from_millis(1000)),
                Ttl::After(Duration::from_millis(1001)),
                Ttl::After(DAY),
                Ttl::MAX,
                Ttl::After(MAX_TTL - Duration::from_nanos(1)),
            ]),
            3 => (1u64..=120_000).prop_map(|ms| Ttl::After(Duration::from_millis(ms))),
            2 => select(invalid),
        ]
        .boxed()
    }
}

fn default_ttl(plane: Plane) -> BoxedStrategy<Ttl> {
    if plane.is_redis() {
        select(vec![Ttl::Never, Ttl::After(DAY), Ttl::MAX]).boxed()
    } else {
        select(vec![
            Ttl::Never,
            Ttl::After(Duration::from_secs(1)),
            Ttl::After(Duration::from_secs(60)),
            Ttl::After(DAY),
            Ttl::MAX,
        ])
        .boxed()
    }
}

fn step(plane: Plane) -> BoxedStrategy<Step> {
    let h = handle;
    let values = prop_oneof![
        4 => (h(), key(), value()).prop_map(|(h, k, v)| Step::Put(h, k, v)),
        4 => (h(), key(), value(), ttl(plane)).prop_map(|(h, k, v, t)| Step::PutTtl(h, k, v, t)),
        2 => (h(), key()).prop_map(|(h, k)| Step::Get(h, k)),
        2 => (h(), key()).prop_map(|(h, k)| Step::Delete(h, k)),
        1 => (h(), key()).prop_map(|(h, k)| Step::Exists(h, k)),
        1 => (h(), key()).prop_map(|(h, k)| Step::TtlOf(h, k)),
    ];
    let counters = prop_oneof![
        3 => (h(), key(), edge_int()).prop_map(|(h, k, n)| Step::Incr(h, k, n)),
        2 => (h(), key(), edge_int(), ttl(plane)).prop_map(|(h, k, n, t)| Step::IncrTtl(h, k, n, t)),
        2 => (h(), key(), edge_int()).prop_map(|(h, k, n)| Step::Decr(h, k, n)),
    ];
    let sets = prop_oneof![
        3 => (h(), key(), member()).prop_map(|(h, k, m)| Step::Add(h, k, m)),
        2 => (h(), key(), member()).prop_map(|(h, k, m)| Step::Remove(h, k, m)),
        1 => (h(), key()).prop_map(|(h, k)| Step::Members(h, k)),
        1 => (h(), key(), member()).prop_map(|(h, k, m)| Step::IsMember(h, k, m)),
    ];
    let invalidation = prop_oneof![
        1 => h().prop_map(Step::Clear),
        2 => (h(), pattern()).prop_map(|(h, p)| Step::DeletePattern(h, p)),
    ];
    if plane.is_redis() {
        let foreign = (
            prop_oneof![
                Just(Handle::Root),
                select(namespaces()).prop_map(Handle::Named)
            ],
            key(),
            select(vec!["a list", "a hash", "a sorted set"]),
        )
            .prop_map(|(h, k, kind)| Step::Foreign(h, k, kind));
        prop_oneof![
            14 => values,
            7 => counters,
            7 => sets,
            2 => invalidation,
            1 => foreign,
        ]
        .boxed()
    } else {
        let time = prop_oneof![
            3 => select(vec![
                0u64,
                1,
                999,
                1000,
                1001,
                60_000,
                86_400_000,
                MAX_TTL.as_millis() as u64,
                MAX_TTL.as_millis() as u64 + 1,
            ])
            .prop_map(Step::Advance),
            3 => (1u64..=120_000).prop_map(Step::Advance),
            2 => Just(Step::Sweep),
        ];
        prop_oneof![
            14 => values,
            7 => counters,
            7 => sets,
            2 => invalidation,
            3 => time,
        ]
        .boxed()
    }
}

fn case(plane: Plane) -> impl Strategy<Value = Case> {
    (
        default_ttl(plane),
        proptest::collection::vec(step(plane), 1..=40),
    )
        .prop_map(|(default_ttl, steps)| Case { default_ttl, steps })
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Data {
    Value(Value),
    Set(BTreeSet<String>),
    /// A Redis type the cache does not write, as a `WrongType` error names it.
    Foreign(&'static str),
}

impl Data {
    /// The kind a `WrongType` error names.
    fn kind(&self) -> &'static str {
        match self {
            Data::Value(_) => "a value",
            Data::Set(_) => "a set",
            Data::Foreign(kind) => kind,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    data: Data,
    /// Absolute expiry in virtual milliseconds; `None`: never.
    expires_at: Option<u64>,
}

/// The cache as a map of `(namespace, key)` to entries, with a virtual clock. Entries stay
/// in the map after they expire until something removes them (as in the memory table, where
/// `usage()` counts them until a sweep, an overwrite, a delete or a clear): expired entries
/// are invisible to every read.
#[derive(Debug, Clone)]
struct Model {
    now: u64,
    default_ttl: Ttl,
    /// `(max_entries, max_bytes)` on the `reject` plane.
    limits: Option<(u64, u64)>,
    entries: BTreeMap<(String, String), Entry>,
}

/// What a step answered (or what the model says it must answer).
#[derive(Debug, Clone)]
enum Outcome {
    Unit,
    Bool(bool),
    Int(i64),
    Count(u64),
    Value(Option<Value>),
    Ttl(Option<Ttl>),
    Members(Vec<String>),
    Err(CacheError),
}

fn invalid_key(key: &str) -> Option<CacheError> {
    (key.is_empty() || key.len() > MAX_KEY_BYTES).then(|| CacheError::InvalidKey {
        reason: String::new(),
    })
}

/// Whole milliseconds of a TTL, rounded up, at least one (the documented granularity).
fn ttl_ms(ttl: Ttl) -> Option<u64> {
    match ttl {
        Ttl::Never => None,
        Ttl::After(d) => Some(
            u64::try_from(d.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u64::MAX)
                .max(1),
        ),
    }
}

fn ttl_valid(ttl: Ttl) -> Result<Ttl, CacheError> {
    match ttl {
        Ttl::After(d) if d.is_zero() || d > MAX_TTL => Err(CacheError::InvalidTtl {
            reason: String::new(),
        }),
        t => Ok(t),
    }
}

/// The stored form of a value: compact JSON.
fn encoded_len(v: &Value) -> usize {
    serde_json::to_vec(v).expect("json").len()
}

/// `ValueTooLarge` past the limit, then `Codec` past the nesting the decoder reads.
fn encodable(v: &Value) -> Result<(), CacheError> {
    let size = encoded_len(v);
    if size > MAX_VALUE_BYTES {
        return Err(CacheError::ValueTooLarge {
            size,
            limit: MAX_VALUE_BYTES,
        });
    }
    if depth(v) > deeper_cache::codec::MAX_DEPTH {
        return Err(CacheError::Codec {
            message: String::new(),
        });
    }
    Ok(())
}

/// What an entry counts for in `usage().bytes` and `memory.max_bytes`: key, encoded value
/// (a set: its encoded members) and `ENTRY_OVERHEAD_BYTES`.
fn entry_bytes(key: &str, data: &Data) -> u64 {
    let len = match data {
        Data::Value(v) => encoded_len(v),
        Data::Set(s) => s
            .iter()
            .map(|m| encoded_len(&Value::from(m.as_str())))
            .sum(),
        Data::Foreign(_) => 0,
    };
    key.len() as u64 + len as u64 + OVERHEAD
}

fn member_encodable(m: &str) -> Result<(), CacheError> {
    encodable(&Value::from(m))
}

fn wrong_type(expected: &'static str, found: &'static str) -> CacheError {
    CacheError::WrongType { expected, found }
}

impl Model {
    fn new(default_ttl: Ttl, limits: Option<(u64, u64)>) -> Self {
        Model {
            now: 0,
            default_ttl,
            limits,
            entries: BTreeMap::new(),
        }
    }

    fn expiry(&self, ttl: Ttl) -> Option<u64> {
        ttl_ms(ttl).map(|ms| self.now.saturating_add(ms))
    }

    fn is_live(&self, e: &Entry) -> bool {
        e.expires_at.is_none_or(|at| at > self.now)
    }

    fn live(&self, ns: &str, key: &str) -> Option<&Entry> {
        self.entries
            .get(&(ns.to_string(), key.to_string()))
            .filter(|e| self.is_live(e))
    }

    fn live_mut(&mut self, ns: &str, key: &str) -> Option<&mut Entry> {
        let now = self.now;
        self.entries
            .get_mut(&(ns.to_string(), key.to_string()))
            .filter(|e| e.expires_at.is_none_or(|at| at > now))
    }

    fn set(&mut self, ns: &str, key: &str, data: Data, expires_at: Option<u64>) {
        self.entries.insert(
            (ns.to_string(), key.to_string()),
            Entry { data, expires_at },
        );
    }

    /// The namespace a handle works in.
    fn resolve(h: &Handle) -> Result<&str, CacheError> {
        match h {
            Handle::Root => Ok(ROOT_NS),
            Handle::Named(n) if n.is_empty() || n.len() > MAX_NAMESPACE_BYTES => {
                Err(CacheError::InvalidNamespace {
                    reason: String::new(),
                })
            }
            Handle::Named(n) => Ok(n),
        }
    }

    fn increment(&mut self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> Outcome {
        if let Some(e) = invalid_key(key) {
            return Outcome::Err(e);
        }
        let ttl = match ttl_valid(ttl) {
            Ok(t) => t,
            Err(e) => return Outcome::Err(e),
        };
        let expires_at = self.expiry(ttl);
        let (n, expires_at) = match self.live(ns, key) {
            Some(Entry {
                data: Data::Value(v),
                expires_at,
            }) => {
                // A stored JSON integer that fits an i64 is a counter; anything else is not.
                let Some(current) = v.as_i64() else {
                    return Outcome::Err(CacheError::NotAnInteger);
                };
                match current.checked_add(delta) {
                    // An existing counter keeps its TTL.
                    Some(n) => (n, *expires_at),
                    None => return Outcome::Err(CacheError::Overflow),
                }
            }
            Some(Entry { data, .. }) => {
                return Outcome::Err(wrong_type("a value", data.kind()));
            }
            None => (delta, expires_at),
        };
        let data = Data::Value(Value::from(n));
        if let Err(e) = self.fits(ns, key, &data) {
            return Outcome::Err(e);
        }
        self.set(ns, key, data, expires_at);
        Outcome::Int(n)
    }

    /// Under the `reject` plane's limits: whether `(ns, key)` holding `data` fits (an entry
    /// replaced in place, live or expired, takes no new slot). The documented contract: a
    /// write is refused when it would take the table past `max_entries` or `max_bytes`, or
    /// when the entry alone is larger than `max_bytes`; expired entries not yet swept count.
    fn fits(&self, ns: &str, key: &str, data: &Data) -> Result<(), CacheError> {
        let Some((max_entries, max_bytes)) = self.limits else {
            return Ok(());
        };
        let refused = |limit| CacheError::CapacityExceeded {
            limit,
            max: 0,
            needed: 0,
        };
        let size = entry_bytes(key, data);
        if size > max_bytes {
            return Err(refused("memory.max_bytes"));
        }
        let old = self
            .entries
            .get(&(ns.to_string(), key.to_string()))
            .map(|e| entry_bytes(key, &e.data));
        if old.is_none() && self.entries.len() as u64 + 1 > max_entries {
            return Err(refused("memory.max_entries"));
        }
        let held: u64 = self
            .entries
            .iter()
            .map(|((_, k), e)| entry_bytes(k, &e.data))
            .sum();
        if held - old.unwrap_or(0) + size > max_bytes {
            return Err(refused("memory.max_bytes"));
        }
        Ok(())
    }

    /// Removes the physical entries of `ns` (all namespaces for `None`) whose key `pick`
    /// accepts; returns how many of them were live.
    fn remove_where(&mut self, ns: Option<&str>, pick: impl Fn(&str) -> bool) -> u64 {
        let now = self.now;
        let mut live = 0;
        self.entries.retain(|(n, k), e| {
            let hit = ns.is_none_or(|ns| ns == n) && pick(k);
            if hit && e.expires_at.is_none_or(|at| at > now) {
                live += 1;
            }
            !hit
        });
        live
    }

    /// Applies a step to the model and returns what the cache must answer.
    fn apply(&mut self, step: &Step) -> Outcome {
        match step {
            Step::Advance(ms) => {
                self.now = self.now.saturating_add(*ms);
                return Outcome::Unit;
            }
            Step::Foreign(h, k, kind) => {
                if let (Ok(ns), None) = (Self::resolve(h), invalid_key(&k.0)) {
                    let ns = ns.to_string();
                    self.set(&ns, &k.0, Data::Foreign(kind), None);
                }
                return Outcome::Unit;
            }
            Step::Sweep => {
                let now = self.now;
                let before = self.entries.len();
                self.entries
                    .retain(|_, e| e.expires_at.is_none_or(|at| at > now));
                return Outcome::Count((before - self.entries.len()) as u64);
            }
            _ => {}
        }
        let h = match step {
            Step::Put(h, ..)
            | Step::PutTtl(h, ..)
            | Step::Get(h, _)
            | Step::Delete(h, _)
            | Step::Exists(h, _)
            | Step::TtlOf(h, _)
            | Step::Incr(h, ..)
            | Step::IncrTtl(h, ..)
            | Step::Decr(h, ..)
            | Step::Add(h, ..)
            | Step::Remove(h, ..)
            | Step::Members(h, _)
            | Step::IsMember(h, ..)
            | Step::Clear(h)
            | Step::DeletePattern(h, _) => h,
            Step::Advance(_) | Step::Sweep | Step::Foreign(..) => unreachable!(),
        };
        let ns = match Self::resolve(h) {
            Ok(ns) => ns.to_string(),
            Err(e) => return Outcome::Err(e),
        };
        let ns = ns.as_str();
        // `decrement(key, i64::MIN)` is an overflow before the key is looked at.
        if let Step::Decr(_, _, i64::MIN) = step {
            return Outcome::Err(CacheError::Overflow);
        }
        let key_err = |k: &Text| invalid_key(&k.0).map(Outcome::Err);
        match step {
            Step::Put(_, k, v) => self.apply(&Step::PutTtl(h.clone(), k.clone(), v.clone(), {
                self.default_ttl
            })),
            Step::PutTtl(_, k, v, ttl) => {
                if let Some(e) = key_err(k) {
                    return e;
                }
                let ttl = match ttl_valid(*ttl) {
                    Ok(t) => t,
                    Err(e) => return Outcome::Err(e),
                };
                if let Err(e) = encodable(&v.0) {
                    return Outcome::Err(e);
                }
                let at = self.expiry(ttl);
                let data = Data::Value(v.0.clone());
                if let Err(e) = self.fits(ns, &k.0, &data) {
                    return Outcome::Err(e);
                }
                self.set(ns, &k.0, data, at);
                Outcome::Unit
            }
            Step::Get(_, k) => key_err(k).unwrap_or_else(|| match self.live(ns, &k.0) {
                None => Outcome::Value(None),
                Some(Entry {
                    data: Data::Value(v),
                    ..
                }) => Outcome::Value(Some(v.clone())),
                Some(e) => Outcome::Err(wrong_type("a value", e.data.kind())),
            }),
            Step::Delete(_, k) => key_err(k).unwrap_or_else(|| {
                let live = self.live(ns, &k.0).is_some();
                self.entries.remove(&(ns.to_string(), k.0.clone()));
                Outcome::Bool(live)
            }),
            Step::Exists(_, k) => {
                key_err(k).unwrap_or_else(|| Outcome::Bool(self.live(ns, &k.0).is_some()))
            }
            Step::TtlOf(_, k) => {
                key_err(k).unwrap_or_else(|| Outcome::Ttl(self.observed_ttl(ns, &k.0)))
            }
            Step::Incr(_, k, n) => self.increment(ns, &k.0, *n, self.default_ttl),
            Step::IncrTtl(_, k, n, ttl) => self.increment(ns, &k.0, *n, *ttl),
            Step::Decr(_, k, n) => self.increment(ns, &k.0, -*n, self.default_ttl),
            Step::Add(_, k, m) => {
                if let Some(e) = key_err(k) {
                    return e;
                }
                if let Err(e) = member_encodable(&m.0) {
                    return Outcome::Err(e);
                }
                let (set, at) = match self.live(ns, &k.0) {
                    Some(Entry {
                        data: Data::Set(s), ..
                    }) if s.contains(&m.0) => return Outcome::Bool(false),
                    Some(Entry {
                        data: Data::Set(s),
                        expires_at,
                    }) => {
                        let mut s = s.clone();
                        s.insert(m.0.clone());
                        (s, *expires_at)
                    }
                    Some(e) => return Outcome::Err(wrong_type("a set", e.data.kind())),
                    None => (BTreeSet::from([m.0.clone()]), self.expiry(self.default_ttl)),
                };
                let data = Data::Set(set);
                if let Err(e) = self.fits(ns, &k.0, &data) {
                    return Outcome::Err(e);
                }
                self.set(ns, &k.0, data, at);
                Outcome::Bool(true)
            }
            Step::Remove(_, k, m) => {
                if let Some(e) = key_err(k) {
                    return e;
                }
                if let Err(e) = member_encodable(&m.0) {
                    return Outcome::Err(e);
                }
                let (removed, empty) = match self.live_mut(ns, &k.0) {
                    Some(Entry {
                        data: Data::Set(s), ..
                    }) => (s.remove(&m.0), s.is_empty()),
                    Some(e) => return Outcome::Err(wrong_type("a set", e.data.kind())),
                    None => (false, false),
                };
                if empty {
                    // An empty set is an absent key.
                    self.entries.remove(&(ns.to_string(), k.0.clone()));
                }
                Outcome::Bool(removed)
            }
            Step::Members(_, k) => key_err(k).unwrap_or_else(|| match self.live(ns, &k.0) {
                None => Outcome::Members(Vec::new()),
                Some(Entry {
                    data: Data::Set(s), ..
                }) => Outcome::Members(s.iter().cloned().collect()),
                Some(e) => Outcome::Err(wrong_type("a set", e.data.kind())),
            }),
            Step::IsMember(_, k, m) => {
                if let Some(e) = key_err(k) {
                    return e;
                }
                if let Err(e) = member_encodable(&m.0) {
                    return Outcome::Err(e);
                }
                match self.live(ns, &k.0) {
                    None => Outcome::Bool(false),
                    Some(Entry {
                        data: Data::Set(s), ..
                    }) => Outcome::Bool(s.contains(&m.0)),
                    Some(e) => Outcome::Err(wrong_type("a set", e.data.kind())),
                }
            }
            Step::Clear(Handle::Root) => Outcome::Count(self.remove_where(None, |_| true)),
            Step::Clear(_) => Outcome::Count(self.remove_where(Some(ns), |_| true)),
            Step::DeletePattern(_, p) => match Glob::new(&p.0) {
                // The matcher itself is checked against Redis by tests/glob_redis.rs.
                Ok(glob) => Outcome::Count(self.remove_where(Some(ns), |k| glob.matches(k))),
                Err(_) => Outcome::Err(CacheError::InvalidPattern {
                    pattern: String::new(),
                    reason: String::new(),
                }),
            },
            Step::Advance(_) | Step::Sweep | Step::Foreign(..) => unreachable!(),
        }
    }

    fn observed_ttl(&self, ns: &str, key: &str) -> Option<Ttl> {
        self.live(ns, key).map(|e| match e.expires_at {
            None => Ttl::Never,
            Some(at) => Ttl::After(Duration::from_millis(at - self.now)),
        })
    }

    /// What the memory table's `usage()` must report per namespace: (entries, bytes) of the
    /// physical entries, expired ones included.
    fn usage(&self) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for ((ns, key), e) in &self.entries {
            let u = out.entry(ns.clone()).or_default();
            u.0 += 1;
            u.1 += entry_bytes(key, &e.data);
        }
        out
    }

    fn live_count(&self) -> usize {
        self.entries.values().filter(|e| self.is_live(e)).count()
    }
}

// ---------------------------------------------------------------------------------------
// Running steps on the cache and comparing
// ---------------------------------------------------------------------------------------

fn handle_of(cache: &Cache, h: &Handle) -> Result<Cache, CacheError> {
    match h {
        Handle::Root => Ok(cache.clone()),
        Handle::Named(n) => cache.namespace(n),
    }
}

async fn run_step(sut: &Sut, step: &Step) -> Outcome {
    use Outcome as O;
    fn out<T>(r: Result<T, CacheError>, f: impl FnOnce(T) -> Outcome) -> Outcome {
        match r {
            Ok(v) => f(v),
            Err(e) => O::Err(e),
        }
    }
    let (h, key) = match step {
        Step::Advance(ms) => {
            let clock = sut
                .clock
                .as_ref()
                .expect("clock steps run on memory planes");
            clock.advance(Duration::from_millis(*ms));
            return O::Unit;
        }
        Step::Sweep => return out(sut.cache.purge_expired().await, O::Count),
        Step::Foreign(h, k, kind) => {
            write_foreign(sut, h, &k.0, kind).await;
            return O::Unit;
        }
        Step::Put(h, k, _)
        | Step::PutTtl(h, k, ..)
        | Step::Get(h, k)
        | Step::Delete(h, k)
        | Step::Exists(h, k)
        | Step::TtlOf(h, k)
        | Step::Incr(h, k, _)
        | Step::IncrTtl(h, k, ..)
        | Step::Decr(h, k, _)
        | Step::Add(h, k, _)
        | Step::Remove(h, k, _)
        | Step::Members(h, k)
        | Step::IsMember(h, k, _)
        | Step::DeletePattern(h, k) => (h, k.0.as_str()),
        Step::Clear(h) => (h, ""),
    };
    let c = match handle_of(&sut.cache, h) {
        Ok(c) => c,
        Err(e) => return O::Err(e),
    };
    match step {
        Step::Put(_, _, v) => out(c.put(key, &v.0).await, |()| O::Unit),
        Step::PutTtl(_, _, v, t) => out(c.put_with_ttl(key, &v.0, *t).await, |()| O::Unit),
        Step::Get(..) => out(c.get::<Value>(key).await, O::Value),
        Step::Delete(..) => out(c.delete(key).await, O::Bool),
        Step::Exists(..) => out(c.exists(key).await, O::Bool),
        Step::TtlOf(..) => out(c.ttl(key).await, O::Ttl),
        Step::Incr(_, _, n) => out(c.increment(key, *n).await, O::Int),
        Step::IncrTtl(_, _, n, t) => out(c.increment_with_ttl(key, *n, *t).await, O::Int),
        Step::Decr(_, _, n) => out(c.decrement(key, *n).await, O::Int),
        Step::Add(_, _, m) => out(c.add_to_set(key, &m.0).await, O::Bool),
        Step::Remove(_, _, m) => out(c.remove_from_set(key, &m.0).await, O::Bool),
        Step::Members(..) => out(c.set_members::<String>(key).await, |mut v| {
            v.sort();
            O::Members(v)
        }),
        Step::IsMember(_, _, m) => out(c.is_member(key, &m.0).await, O::Bool),
        Step::Clear(_) => out(c.clear().await, O::Count),
        Step::DeletePattern(..) => out(c.delete_pattern(key).await, O::Count),
        Step::Advance(_) | Step::Sweep | Step::Foreign(..) => unreachable!(),
    }
}

/// Same error: the same variant, and the same kinds or sizes where the variant names them.
fn same_error(got: &CacheError, want: &CacheError) -> bool {
    use CacheError as E;
    match (got, want) {
        (
            E::WrongType {
                expected: a,
                found: b,
            },
            E::WrongType {
                expected: c,
                found: d,
            },
        ) => a == c && b == d,
        (E::ValueTooLarge { size: a, limit: b }, E::ValueTooLarge { size: c, limit: d }) => {
            a == c && b == d
        }
        _ => std::mem::discriminant(got) == std::mem::discriminant(want),
    }
}

/// A remaining TTL as the plane reports it: exact on the memory planes (virtual clock);
/// on Redis at most what the model says and more than half of it (its TTLs are at least a
/// day, so this never depends on how long the test takes).
fn same_ttl(plane: Plane, got: Option<Ttl>, want: Option<Ttl>) -> bool {
    match (got, want) {
        (Some(Ttl::After(g)), Some(Ttl::After(w))) if plane.is_redis() => g <= w && g > w / 2,
        (g, w) => g == w,
    }
}

fn same_outcome(plane: Plane, got: &Outcome, want: &Outcome) -> bool {
    use Outcome as O;
    match (got, want) {
        (O::Unit, O::Unit) => true,
        (O::Bool(a), O::Bool(b)) => a == b,
        (O::Int(a), O::Int(b)) => a == b,
        (O::Count(a), O::Count(b)) => a == b,
        (O::Value(a), O::Value(b)) => a == b,
        (O::Ttl(a), O::Ttl(b)) => same_ttl(plane, *a, *b),
        (O::Members(a), O::Members(b)) => a == b,
        (O::Err(a), O::Err(b)) => same_error(a, b),
        _ => false,
    }
}

/// What the reads of one `(namespace, key)` show.
#[derive(Debug, Clone)]
struct Observed {
    ttl: Outcome,
    exists: Outcome,
    get: Outcome,
    members: Outcome,
}

async fn observe(c: Cache, key: String) -> Observed {
    let o = |r: Result<Outcome, CacheError>| r.unwrap_or_else(Outcome::Err);
    Observed {
        ttl: o(c.ttl(&key).await.map(Outcome::Ttl)),
        exists: o(c.exists(&key).await.map(Outcome::Bool)),
        get: o(c.get::<Value>(&key).await.map(Outcome::Value)),
        members: o(c.set_members::<String>(&key).await.map(|mut v| {
            v.sort();
            Outcome::Members(v)
        })),
    }
}

fn expected(model: &Model, ns: &str, key: &str) -> Observed {
    let e = model.live(ns, key);
    Observed {
        ttl: Outcome::Ttl(model.observed_ttl(ns, key)),
        exists: Outcome::Bool(e.is_some()),
        get: match e.map(|e| &e.data) {
            None => Outcome::Value(None),
            Some(Data::Value(v)) => Outcome::Value(Some(v.clone())),
            Some(d) => Outcome::Err(wrong_type("a value", d.kind())),
        },
        members: match e.map(|e| &e.data) {
            None => Outcome::Members(Vec::new()),
            Some(Data::Set(s)) => Outcome::Members(s.iter().cloned().collect()),
            Some(d) => Outcome::Err(wrong_type("a set", d.kind())),
        },
    }
}

/// Compares what the cache shows with the model; `Err` lists the differences.
///
/// Reads (`ttl`, `exists`, `get`, `set_members`, concurrently) every entry the model holds,
/// the step's own `(namespace, key)`, and with `full` every namespace of the pool × every key
/// of the pool. Anything written where the model has nothing shows in the counts checked
/// after the reads (memory: `usage()` per namespace; Redis: the keys under the prefix), so
/// the full sweep is needed only at the end of a case.
async fn check_state(
    plane: Plane,
    sut: &mut Sut,
    model: &Model,
    focus: Option<(String, String)>,
    full: bool,
) -> Result<(), String> {
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    if full {
        for ns in namespaces() {
            for k in keys() {
                pairs.insert((ns.clone(), k));
            }
        }
    }
    pairs.extend(model.entries.keys().cloned());
    pairs.extend(focus);
    let mut reads = tokio::task::JoinSet::new();
    for (ns, key) in pairs {
        let c = sut.cache.namespace(&ns).map_err(|e| format!("{e}"))?;
        reads.spawn(async move {
            let seen = observe(c, key.clone()).await;
            (ns, key, seen)
        });
    }
    let mut diffs = Vec::new();
    while let Some(r) = reads.join_next().await {
        let (ns, key, seen) = r.map_err(|e| format!("a read task failed: {e}"))?;
        let want = expected(model, &ns, &key);
        for (what, g, w) in [
            ("ttl", &seen.ttl, &want.ttl),
            ("exists", &seen.exists, &want.exists),
            ("get", &seen.get, &want.get),
            ("set_members", &seen.members, &want.members),
        ] {
            if !same_outcome(plane, g, w) {
                diffs.push(format!(
                    "{what}({}) in namespace {}: got {g:?}, model {w:?}",
                    short(&key),
                    short(&ns)
                ));
            }
        }
    }
    if !diffs.is_empty() {
        diffs.sort();
        return Err(diffs.join("\n  "));
    }
    if sut.clock.is_some() {
        // The memory table's documented figures: entries (expired but unswept included) and
        // bytes (key + encoded value + ENTRY_OVERHEAD_BYTES) per namespace.
        let usage = sut.cache.usage().await.map_err(|e| format!("usage: {e}"))?;
        let got: BTreeMap<String, (u64, u64)> = usage
            .namespaces
            .iter()
            .filter(|u| u.entries > 0 || u.bytes > 0)
            .map(|u| (u.namespace.clone(), (u.entries, u.bytes)))
            .collect();
        let want = model.usage();
        if got != want {
            return Err(format!(
                "usage() per namespace (entries, bytes): got {:?}, model {:?}",
                shorten_keys(&got),
                shorten_keys(&want)
            ));
        }
    }
    if let Some((prefix, conn)) = &mut sut.raw {
        let n = count_keys(conn, prefix).await;
        if n != model.live_count() {
            return Err(format!(
                "redis holds {n} keys under the prefix, the model {}",
                model.live_count()
            ));
        }
    }
    Ok(())
}

fn shorten_keys(m: &BTreeMap<String, (u64, u64)>) -> Vec<(String, (u64, u64))> {
    m.iter().map(|(k, v)| (short(k), *v)).collect()
}

/// Keys under `{prefix}:` on the test server (a plain client, `SCAN`).
async fn count_keys(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> usize {
    let mut cursor: u64 = 0;
    let mut n = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN on the test server");
        n += keys.len();
        if next == 0 {
            return n;
        }
        cursor = next;
    }
}

/// What the steps of a plane's cases answered, by kind (printed after the run, so a run
/// shows that it reached the error paths).
type Tally = std::sync::Mutex<BTreeMap<String, u64>>;

fn tally_of(o: &Outcome) -> String {
    match o {
        Outcome::Err(e) => {
            let text = format!("{e:?}");
            let name = text.split([' ', '{']).next().unwrap_or("?");
            format!("Err({name})")
        }
        Outcome::Unit => "Ok(())".into(),
        Outcome::Bool(_) => "Ok(bool)".into(),
        Outcome::Int(_) => "Ok(i64)".into(),
        Outcome::Count(_) => "Ok(count)".into(),
        Outcome::Value(None) => "Ok(None)".into(),
        Outcome::Value(Some(_)) => "Ok(Some(value))".into(),
        Outcome::Ttl(_) => "Ok(ttl)".into(),
        Outcome::Members(_) => "Ok(members)".into(),
    }
}

/// Writes a list, hash or sorted set where the cache keeps `(namespace of h, key)`: the
/// documented layout `{prefix}:{namespace}:{key}`, the namespace with `\` and `:` escaped by
/// a `\` (`backend/redis/keys.rs`). Invalid handles and keys write nothing.
async fn write_foreign(sut: &Sut, h: &Handle, key: &str, kind: &str) {
    let (Ok(ns), None) = (Model::resolve(h), invalid_key(key)) else {
        return;
    };
    let (prefix, conn) = sut
        .raw
        .as_ref()
        .expect("foreign writes run on redis planes");
    let mut escaped = String::new();
    for c in ns.chars() {
        if matches!(c, '\\' | ':') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let k = format!("{prefix}:{escaped}:{key}");
    let mut p = redis::pipe();
    p.atomic().cmd("DEL").arg(&k).ignore();
    match kind {
        "a list" => p.cmd("RPUSH").arg(&k).arg("x").ignore(),
        "a hash" => p.cmd("HSET").arg(&k).arg("f").arg("v").ignore(),
        _ => p.cmd("ZADD").arg(&k).arg(1).arg("m").ignore(),
    };
    let mut conn = conn.clone();
    p.query_async::<()>(&mut conn)
        .await
        .expect("write to the test server");
}

/// Runs one case: every step on the cache and on the model, compared after each.
async fn run_case(plane: Plane, case: &Case) -> Result<(), String> {
    run_case_tallied(plane, case, None).await
}

async fn run_case_tallied(plane: Plane, case: &Case, tally: Option<&Tally>) -> Result<(), String> {
    let mut sut = Sut::start(plane, case.default_ttl).await;
    let mut model = Model::new(case.default_ttl, plane.limits());
    let mut result = Ok(());
    for (i, step) in case.steps.iter().enumerate() {
        let want = model.apply(step);
        let got = run_step(&sut, step).await;
        if let Some(t) = tally {
            *t.lock().unwrap().entry(tally_of(&got)).or_default() += 1;
        }
        if !same_outcome(plane, &got, &want) {
            result = Err(format!(
                "step {i} {step:?} answered {got:?}, the model {want:?}"
            ));
            break;
        }
        if let Err(diff) = check_state(plane, &mut sut, &model, focus(step), false).await {
            let how = if matches!(got, Outcome::Err(_)) {
                " (it returned an error, so it must have changed nothing)"
            } else {
                ""
            };
            result = Err(format!(
                "after step {i} {step:?} -> {got:?}{how}, the state differs from the model:\n  {diff}"
            ));
            break;
        }
    }
    if result.is_ok()
        && let Err(diff) = check_state(plane, &mut sut, &model, None, true).await
    {
        result = Err(format!(
            "after the last step, the state differs from the model:\n  {diff}"
        ));
    }
    sut.cache.shutdown().await;
    result
}

/// The `(namespace, key)` a step names, when both are valid.
fn focus(step: &Step) -> Option<(String, String)> {
    let (h, k) = match step {
        Step::Put(h, k, _)
        | Step::PutTtl(h, k, ..)
        | Step::Get(h, k)
        | Step::Delete(h, k)
        | Step::Exists(h, k)
        | Step::TtlOf(h, k)
        | Step::Incr(h, k, _)
        | Step::IncrTtl(h, k, ..)
        | Step::Decr(h, k, _)
        | Step::Add(h, k, _)
        | Step::Remove(h, k, _)
        | Step::Members(h, k)
        | Step::IsMember(h, k, _)
        | Step::Foreign(h, k, _) => (h, k),
        _ => return None,
    };
    let ns = Model::resolve(h).ok()?;
    invalid_key(&k.0)
        .is_none()
        .then(|| (ns.to_string(), k.0.clone()))
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn config(plane: Plane) -> Config {
    let mut config = Config::default();
    // `Config::default()` reads PROPTEST_CASES; without it, this plane's CI budget.
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = plane.default_cases();
    }
    config.source_file = Some(file!());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource("regressions")));
    config.max_shrink_iters = 2_000;
    config
}

fn run_plane(plane: Plane) {
    if plane.is_redis() {
        redis();
    }
    let rt = runtime();
    let mut runner = TestRunner::new(config(plane));
    let cases = runner.config().cases;
    let started = std::time::Instant::now();
    let tally = Tally::default();
    let result = runner.run(&case(plane), |case| {
        rt.block_on(run_case_tallied(plane, &case, Some(&tally)))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{plane:?}: {e}");
    }
    let tally = tally.into_inner().unwrap();
    eprintln!(
        "model {plane:?}: {cases} cases ({} steps) passed in {:.1} s; answers: {tally:?}",
        tally.values().sum::<u64>(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn model_memory_direct() {
    run_plane(Plane::MemoryDirect);
}

/// The `reject` policy under its documented contract: a write is refused (and changes
/// nothing) exactly when it would take the table past `max_entries` or `max_bytes`.
#[test]
fn model_memory_reject() {
    run_plane(Plane::MemoryReject);
}

#[test]
fn model_memory_rpc() {
    run_plane(Plane::MemoryRpc);
}

#[test]
fn model_redis_direct() {
    run_plane(Plane::RedisDirect);
}

#[test]
fn model_redis_rpc() {
    run_plane(Plane::RedisRpc);
}

// ---------------------------------------------------------------------------------------
// Named regression cases: the defects of issue 17 as step sequences, on every plane
// ---------------------------------------------------------------------------------------

const ALL_PLANES: [Plane; 4] = [
    Plane::MemoryDirect,
    Plane::MemoryRpc,
    Plane::RedisDirect,
    Plane::RedisRpc,
];

fn run_named(default_ttl: Ttl, steps: Vec<Step>) {
    let rt = runtime();
    for plane in ALL_PLANES {
        let case = Case {
            default_ttl,
            steps: steps.clone(),
        };
        if let Err(e) = rt.block_on(run_case(plane, &case)) {
            panic!("{plane:?}: {e}");
        }
    }
}

fn k(s: &str) -> Text {
    Text(s.to_string())
}

/// Issue 17 #1: a TTL past the maximum (`Duration::MAX`, `MAX + 1 ns`) is `InvalidTtl` on
/// every backend, and neither `put_with_ttl` nor `increment_with_ttl` writes anything
/// (on Redis `increment_with_ttl(.., Duration::MAX)` used to leave the counter incremented).
#[test]
fn regression_ttl_past_the_maximum_writes_nothing() {
    let too_long = [
        Ttl::After(Duration::MAX),
        Ttl::After(MAX_TTL + Duration::from_nanos(1)),
        Ttl::After(Duration::ZERO),
    ];
    let mut steps = vec![Step::Incr(Handle::Root, k("n"), 1)];
    for t in too_long {
        steps.push(Step::PutTtl(Handle::Root, k("v"), Val(json!(1)), t));
        steps.push(Step::IncrTtl(Handle::Root, k("n"), 5, t));
        steps.push(Step::IncrTtl(Handle::Root, k("fresh"), 5, t));
        steps.push(Step::PutTtl(
            Handle::Named("a".into()),
            k("n"),
            Val(json!("x")),
            t,
        ));
    }
    steps.push(Step::PutTtl(
        Handle::Root,
        k("max"),
        Val(json!(2)),
        Ttl::MAX,
    ));
    steps.push(Step::IncrTtl(Handle::Root, k("m"), 2, Ttl::MAX));
    run_named(Ttl::Never, steps.clone());
    run_named(Ttl::MAX, steps);
}

/// Issue 17 #6: a value nested past `codec::MAX_DEPTH` is refused at `put` (and changes
/// nothing); one at the limit reads back.
#[test]
fn regression_nesting_past_the_decoder_is_refused_at_put() {
    let max = deeper_cache::codec::MAX_DEPTH;
    run_named(
        Ttl::Never,
        vec![
            Step::Put(Handle::Root, k("deep"), Val(nested(max))),
            Step::Put(Handle::Root, k("deep"), Val(nested(max + 1))),
            Step::Get(Handle::Root, k("deep")),
        ],
    );
}

/// Counters at the ends of `i64`: an overflow changes nothing; `decrement(i64::MIN)` is an
/// overflow; a stored value that is not an integer (float, digits in a string, `u64::MAX`)
/// is `NotAnInteger`; a set is `WrongType`.
#[test]
fn regression_counters_at_the_edges() {
    run_named(
        Ttl::Never,
        vec![
            Step::Incr(Handle::Root, k("n"), i64::MAX),
            Step::Incr(Handle::Root, k("n"), 1),
            Step::Decr(Handle::Root, k("n"), i64::MIN),
            Step::Decr(Handle::Root, k("m"), i64::MAX),
            Step::Decr(Handle::Root, k("m"), 1),
            Step::Decr(Handle::Root, k("m"), 1),
            Step::Put(Handle::Root, k("f"), Val(json!(1.5))),
            Step::Incr(Handle::Root, k("f"), 1),
            Step::Put(Handle::Root, k("s"), Val(json!("5"))),
            Step::Incr(Handle::Root, k("s"), 1),
            Step::Put(Handle::Root, k("u"), Val(json!(u64::MAX))),
            Step::Incr(Handle::Root, k("u"), -1),
            Step::Add(Handle::Root, k("set"), k("m")),
            Step::Incr(Handle::Root, k("set"), 1),
            Step::Put(Handle::Root, k("p"), Val(json!(41))),
            Step::Incr(Handle::Root, k("p"), 1),
        ],
    );
}

/// Namespaces against one another: `default` named explicitly is the root's namespace, the
/// root's `clear` clears every namespace, a named `clear` only its own, and escaping keeps
/// `a` + `b:c` apart from `a:b` + `c`.
#[test]
fn regression_namespaces_and_clear() {
    let named = |n: &str| Handle::Named(n.to_string());
    run_named(
        Ttl::Never,
        vec![
            Step::Put(Handle::Root, k("b:c"), Val(json!(1))),
            Step::Put(named("a"), k("b:c"), Val(json!(2))),
            Step::Put(named("a:b"), k("c"), Val(json!(3))),
            Step::Put(named("x\\"), k(":y"), Val(json!(4))),
            Step::Put(named("x"), k("\\:y"), Val(json!(5))),
            Step::Get(named("default"), k("b:c")),
            Step::DeletePattern(named("a"), k("b*")),
            Step::Clear(named("default")),
            Step::Put(Handle::Root, k("k"), Val(json!(6))),
            Step::Clear(named("a:b")),
            Step::Clear(Handle::Root),
        ],
    );
}

/// The `reject` plane two bytes below `max_bytes` (3,000): a counter going from 5 to 6 and
/// an existing set member change no size, so both must succeed.
#[test]
fn regression_reject_refuses_only_what_would_not_fit() {
    let steps = vec![
        Step::Put(Handle::Root, k("n"), Val(json!(5))),
        Step::Add(Handle::Root, k("s"), k("m")),
        Step::Put(Handle::Root, k("b1"), Val(json!("v".repeat(2000)))),
        Step::Put(Handle::Root, k("b2"), Val(json!("v".repeat(728)))),
        Step::Incr(Handle::Root, k("n"), 1),
        Step::Add(Handle::Root, k("s"), k("m")),
    ];
    let case = Case {
        default_ttl: Ttl::Never,
        steps,
    };
    if let Err(e) = runtime().block_on(run_case(Plane::MemoryReject, &case)) {
        panic!("MemoryReject: {e}");
    }
}
