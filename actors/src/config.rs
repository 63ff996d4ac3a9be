//! The cache's settings, [`CacheConfig`], with their defaults and validation.
//!
//! Loading (defaults ← `config/default.toml` ← an application file ← `DEEPER_CACHE__…`
//! environment variables) lives in the facade crate; this module only defines the shape, the
//! defaults and the checks, so every actor reads typed, validated settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CacheError, CacheResult};
use crate::secret_url::SecretUrl;
use crate::ttl::Ttl;

mod durations;

/// All settings of one cache instance. Every field has a default (see `config/default.toml`).
///
/// Every duration key accepts a number in the unit its name says (`call_timeout_ms = 5000`,
/// `supervisor.max_seconds = 5`, `default_ttl_seconds = 3600`) or a human-readable duration
/// (`"5s"`, `"500ms"`, `"1h 30m"`); `*_ms` keys round a duration up to whole milliseconds,
/// `supervisor.max_seconds` needs whole seconds, and `default_ttl_seconds` keeps any precision
/// (`"500ms"` is a 500 ms TTL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Instance name: scopes actor registry names and metric labels. `None` picks a unique
    /// generated name (`deeper_cache_1`, `deeper_cache_2`, ...).
    pub name: Option<String>,
    /// Caching on or off. `false` selects the no-op backend whatever `default_adapter` says.
    pub enabled: bool,
    /// Which backend serves the cache.
    pub default_adapter: AdapterKind,
    /// TTL of entries written without an explicit one: whole seconds, a duration (`"500ms"`,
    /// `"1h"`), or `"never"`.
    pub default_ttl_seconds: DefaultTtl,
    /// Spreads every write's finite TTL uniformly within ±this fraction of itself (0.1 = ±10 %),
    /// so entries written together do not expire together; 0 (the default) keeps TTLs exact.
    pub ttl_jitter: f64,
    /// How long a facade call waits for the actors (including restarts) before it returns
    /// `Timeout` or `Unavailable`. An unanswered call is noticed at the next tick of the
    /// deadline alarm: a tenth of this value, between 1 and 100 ms, later at most.
    #[serde(deserialize_with = "durations::millis")]
    pub call_timeout_ms: u64,
    /// Data plane: how facade calls reach the backend.
    pub adapter: AdapterConfig,
    /// In-memory backend settings.
    pub memory: MemoryConfig,
    /// Redis backend settings (used when `default_adapter = "redis"` or `"tiered"`).
    pub redis: RedisConfig,
    /// Tiered backend settings: the per-node L1 in front of Redis (`default_adapter =
    /// "tiered"`).
    pub tiered: TieredConfig,
    /// Metrics export settings.
    pub metrics: MetricsConfig,
    /// MetricsReporter settings.
    pub metrics_reporter: MetricsReporterConfig,
    /// Supervision: restart strategy and intensity.
    pub supervisor: SupervisorConfig,
    /// Stampede protection for `get_or_store` / `get_or_refresh`.
    pub stampede: StampedeConfig,
    /// Settings of individual namespaces, by name (`[namespaces.sessions] tti = "30m"`).
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// The admin interface: HTTP API, web page (cargo feature `admin`).
    pub admin: AdminConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            name: None,
            enabled: true,
            default_adapter: AdapterKind::Memory,
            default_ttl_seconds: DefaultTtl(Ttl::After(Duration::from_secs(3600))),
            ttl_jitter: 0.0,
            call_timeout_ms: 5_000,
            adapter: AdapterConfig::default(),
            memory: MemoryConfig::default(),
            redis: RedisConfig::default(),
            tiered: TieredConfig::default(),
            metrics: MetricsConfig::default(),
            metrics_reporter: MetricsReporterConfig::default(),
            supervisor: SupervisorConfig::default(),
            stampede: StampedeConfig::default(),
            namespaces: BTreeMap::new(),
            admin: AdminConfig::default(),
        }
    }
}

/// Settings of one namespace (`[namespaces.<name>]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceConfig {
    /// Time to idle: an entry of this namespace expires once it has gone this long without
    /// being read or written (`get`, `get_many`, the set reads, every write and `touch` count;
    /// `exists` and `ttl` do not). Idleness alone decides: the TTL a write passes does not
    /// apply in the namespace (one expiry per key is all Redis keeps, and every backend
    /// behaves the same). Milliseconds, or a duration such as `"30m"`. `None` (the default):
    /// entries expire by their TTL.
    #[serde(
        deserialize_with = "durations::opt_millis_duration",
        serialize_with = "durations::ser_opt_millis"
    )]
    pub tti: Option<Duration>,
}

/// The backends a cache can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// The embedded in-memory table (the default; no server needed).
    Memory,
    /// Caching disabled: reads miss, writes store nothing.
    Noop,
    /// A Redis server shared by every node of the application (see [`RedisConfig`]).
    Redis,
    /// A bounded in-memory L1 on every node in front of the Redis L2, kept coherent across
    /// nodes by Redis server-assisted client-side caching (see [`TieredConfig`]).
    Tiered,
}

impl AdapterKind {
    /// Whether this backend talks to Redis.
    pub fn uses_redis(self) -> bool {
        matches!(self, AdapterKind::Redis | AdapterKind::Tiered)
    }
}

/// Settings of the tiered backend's L1 (the L2 is the Redis backend, set under `[redis]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TieredConfig {
    /// The L1's bounds and eviction policy. Never unbounded: both limits must be set.
    pub l1: TieredL1Config,
    /// Longest an entry lives in L1, whatever its L2 TTL: a safety net that bounds how stale
    /// a node can be even if an invalidation were lost.
    #[serde(deserialize_with = "durations::millis")]
    pub l1_ttl_max_ms: u64,
    /// While Redis is unreachable, a read may be served from an L1 entry filled at most this
    /// long ago instead of a miss; 0 (the default) = never serve an unverified entry.
    #[serde(deserialize_with = "durations::millis")]
    pub stale_if_error_ms: u64,
    /// How often the invalidation connection is checked with `PING` (a frozen connection
    /// that never reports a disconnect is found within this period plus
    /// `redis.command_timeout_ms`).
    #[serde(deserialize_with = "durations::millis")]
    pub tracking_check_ms: u64,
}

impl Default for TieredConfig {
    fn default() -> Self {
        TieredConfig {
            l1: TieredL1Config::default(),
            l1_ttl_max_ms: 30_000,
            stale_if_error_ms: 0,
            tracking_check_ms: 1_000,
        }
    }
}

/// Bounds of the tiered backend's L1 table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TieredL1Config {
    /// Most entries one node's L1 holds (default 100,000).
    pub max_entries: u64,
    /// Most bytes one node's L1 holds (default 64 MiB).
    pub max_bytes: u64,
    /// How L1 makes room: `lfu` (default) or `lru` (`reject` would refuse fills and is not
    /// accepted).
    pub eviction_policy: EvictionPolicy,
}

impl Default for TieredL1Config {
    fn default() -> Self {
        TieredL1Config {
            max_entries: 100_000,
            max_bytes: 64 * 1024 * 1024,
            eviction_policy: EvictionPolicy::Lfu,
        }
    }
}

impl TieredConfig {
    /// The memory-table settings of the L1: `memory`'s sweep and value limits with the L1's
    /// own bounds and policy.
    pub fn l1_memory(&self, memory: &MemoryConfig) -> MemoryConfig {
        MemoryConfig {
            max_entries: self.l1.max_entries,
            max_bytes: self.l1.max_bytes,
            eviction_policy: self.l1.eviction_policy,
            ..memory.clone()
        }
    }

    fn validate(&self) -> CacheResult<()> {
        let bad = |key: &str, value: String, message: &str| CacheError::Config {
            key: format!("tiered.{key}"),
            value,
            message: message.into(),
        };
        if self.l1.max_entries == 0 {
            return Err(bad(
                "l1.max_entries",
                "0".into(),
                "the L1 is never unbounded: set a positive entry limit",
            ));
        }
        let min_bytes = crate::backend::ENTRY_OVERHEAD_BYTES as u64 * 16;
        if self.l1.max_bytes < min_bytes {
            return Err(bad(
                "l1.max_bytes",
                self.l1.max_bytes.to_string(),
                &format!("the L1 is never unbounded: at least {min_bytes} bytes"),
            ));
        }
        if self.l1.eviction_policy == EvictionPolicy::Reject {
            return Err(bad(
                "l1.eviction_policy",
                "\"reject\"".into(),
                "an L1 must make room for fills: use \"lfu\" or \"lru\"",
            ));
        }
        if self.l1_ttl_max_ms == 0 {
            return Err(bad("l1_ttl_max_ms", "0".into(), "must be at least 1"));
        }
        if self.tracking_check_ms == 0 {
            return Err(bad("tracking_check_ms", "0".into(), "must be at least 1"));
        }
        Ok(())
    }
}

/// How facade calls reach the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPlaneMode {
    /// Every call is a message to one of `adapter.partitions` CacheAdapter actors (the seed's
    /// GenServer shape).
    Rpc,
    /// Calls run in the caller's task against the backend (on the memory backend: the shared
    /// concurrent table, as Elixir code uses ETS); the actors own the table, sweep, report and
    /// supervise. The default: see `docs/PERFORMANCE.md`.
    #[default]
    Direct,
}

/// Settings of the data plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterConfig {
    /// `rpc` or `direct`.
    pub mode: DataPlaneMode,
    /// Number of CacheAdapter actors in `rpc` mode, requests routed by key hash; 0 means the
    /// number of CPU cores. In `direct` mode one adapter still runs (it serves nothing on the
    /// data path but keeps the tree's shape).
    pub partitions: usize,
}

impl AdapterConfig {
    /// The number of adapter actors this configuration runs.
    pub fn effective_partitions(&self) -> usize {
        match self.mode {
            DataPlaneMode::Direct => 1,
            DataPlaneMode::Rpc if self.partitions == 0 => std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            DataPlaneMode::Rpc => self.partitions,
        }
    }
}

/// Settings of the in-memory table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Period of the Cleanup actor's expiry sweep.
    #[serde(deserialize_with = "durations::millis")]
    pub cleanup_interval_ms: u64,
    /// Entries removed per sweep batch before the sweep yields to other tasks.
    pub cleanup_batch_size: usize,
    /// Largest encoded value accepted, in bytes (1 MiB by default).
    pub max_value_bytes: usize,
    /// Most entries the table holds, all namespaces together; 0 = no limit (the default).
    pub max_entries: u64,
    /// Most bytes the table holds (keys + encoded values + `ENTRY_OVERHEAD_BYTES` per entry),
    /// all namespaces together; 0 = no limit (the default).
    pub max_bytes: u64,
    /// What a write does when a limit is reached: evict (`lfu`, `lru`) or fail (`reject`).
    pub eviction_policy: EvictionPolicy,
    /// A snapshot file to restore the table from at start (when it exists) and, with
    /// `snapshot_on_shutdown`, to save it to on `shutdown()`. `None` (the default): none.
    pub snapshot_path: Option<PathBuf>,
    /// Save the table to `snapshot_path` on `shutdown()`.
    pub snapshot_on_shutdown: bool,
    /// What a start does with a snapshot it cannot read (corrupt, truncated, a future
    /// version): fail (the default) or start empty with a WARN.
    pub snapshot_on_error: SnapshotOnError,
}

/// What a start does with a snapshot file it cannot read (`memory.snapshot_on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotOnError {
    /// The start fails with `CacheError::Snapshot` naming the file and the problem.
    #[default]
    Fail,
    /// The cache starts empty and logs a WARN naming the file and the problem.
    StartEmpty,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            cleanup_interval_ms: 60_000,
            cleanup_batch_size: 1_000,
            max_value_bytes: 1024 * 1024,
            max_entries: 0,
            max_bytes: 0,
            eviction_policy: EvictionPolicy::default(),
            snapshot_path: None,
            snapshot_on_shutdown: false,
            snapshot_on_error: SnapshotOnError::Fail,
        }
    }
}

impl MemoryConfig {
    /// Whether `max_entries` or `max_bytes` is set.
    pub fn is_bounded(&self) -> bool {
        self.max_entries > 0 || self.max_bytes > 0
    }
}

/// How the in-memory table stays within `memory.max_entries` / `memory.max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictionPolicy {
    /// Frequency-aware eviction (W-TinyLFU admission over CLOCK queues, the window sized by
    /// a hill climber): keeps a hot set through one-time scans. Reads stay lock-free. The
    /// default. Where only recency matters (keys read again soon and then never, at
    /// capacities of a few dozen to a few hundred entries) it can fall well below [`Lru`];
    /// `docs/PERFORMANCE.md` has the traces where it does.
    ///
    /// [`Lru`]: EvictionPolicy::Lru
    #[default]
    Lfu,
    /// Exact least-recently-used eviction (every hit takes a short global lock).
    Lru,
    /// Evict nothing: a write past a limit fails with `CapacityExceeded`.
    Reject,
}

impl EvictionPolicy {
    /// The config and metric label value (`lfu`, `lru`, `reject`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::Lfu => "lfu",
            EvictionPolicy::Lru => "lru",
            EvictionPolicy::Reject => "reject",
        }
    }
}

/// How the Redis backend finds its servers (`redis.mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One server at `redis.url`.
    #[default]
    Standalone,
    /// A Redis Cluster, discovered from the seed nodes in `redis.urls`: every command goes to
    /// the primary of its key's slot.
    Cluster,
    /// A primary managed by Sentinel: `redis.sentinel.urls` are the sentinels, asked for the
    /// primary of `redis.sentinel.master_name` at start and again after a failover.
    Sentinel,
}

/// Sentinel settings (`redis.mode = "sentinel"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentinelConfig {
    /// The name the sentinels monitor the primary under (`sentinel monitor <name> …`).
    pub master_name: String,
    /// The sentinels' addresses (`redis://[user[:password]@]host:port`); each one is redacted
    /// like `redis.url`. A list, or one comma-separated string.
    #[serde(deserialize_with = "url_list")]
    pub urls: Vec<SecretUrl>,
}

/// Settings of the Redis backend.
///
/// The URL is a [`SecretUrl`]: `Debug`, `Display` and `Serialize` (and so every log or dump of
/// the configuration) show it with its password replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Standalone, cluster or sentinel.
    pub mode: RedisMode,
    /// Server URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS (needs
    /// the `redis-tls` cargo feature). In sentinel mode its user, password, database and
    /// scheme are used for the primary the sentinels name (its host and port are not).
    pub url: SecretUrl,
    /// Cluster seed nodes (`redis.mode = "cluster"`), each a URL like `redis.url`; any
    /// reachable one is enough to discover the cluster. A list, or one comma-separated string
    /// (`DEEPER_CACHE__REDIS__URLS=redis://a:7000,redis://b:7001`).
    #[serde(deserialize_with = "url_list")]
    pub urls: Vec<SecretUrl>,
    /// Sentinel settings (`redis.mode = "sentinel"`).
    pub sentinel: SentinelConfig,
    /// Multiplexed connections opened to the server; a key's commands always use the same one
    /// (chosen by key hash), so they reach Redis in the order they were issued.
    pub pool_size: usize,
    /// First segment of every key: `{key_prefix}:{namespace}:{key}`. `clear()` of the whole
    /// cache removes only keys under it. 1 to 64 characters from `[A-Za-z0-9_.-]`.
    pub key_prefix: String,
    /// Longest wait for a TCP (and TLS, AUTH) connection to the server.
    #[serde(deserialize_with = "durations::millis")]
    pub connect_timeout_ms: u64,
    /// Longest wait for one command's answer (a `clear`/`delete_pattern` batch counts as one).
    #[serde(deserialize_with = "durations::millis")]
    pub command_timeout_ms: u64,
    /// Consecutive connection failures that open the circuit breaker: calls then fail fast,
    /// without touching the network, until a probe succeeds.
    pub breaker_failure_threshold: u32,
    /// How long the breaker stays open before one call probes the server again.
    #[serde(deserialize_with = "durations::millis")]
    pub breaker_cooldown_ms: u64,
    /// At most one ERROR log line about an unreachable server per this period (the line
    /// counts the failures it stands for).
    #[serde(deserialize_with = "durations::millis")]
    pub error_log_interval_ms: u64,
    /// `COUNT` hint of each `SCAN` step and size of each `UNLINK` batch in `clear()` and
    /// `delete_pattern`.
    pub scan_batch_size: usize,
    /// `clear()` of a namespace in one `INCR` (a generation counter its keys carry) instead of
    /// a `SCAN` of the keyspace; the old generation is unlinked in the background. Off by
    /// default: `clear(ns)` then returns 0 (how many entries went is known only when the
    /// background unlink is done), and every node keeps one more connection (the stream that
    /// tells it of other nodes' clears). Keys written before it was turned on stay readable
    /// (generation 0 is the plain layout).
    pub namespace_generations: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            mode: RedisMode::Standalone,
            url: "redis://127.0.0.1:6379".into(),
            urls: Vec::new(),
            sentinel: SentinelConfig::default(),
            pool_size: 4,
            key_prefix: "deeper_cache".into(),
            connect_timeout_ms: 1_000,
            command_timeout_ms: 1_000,
            breaker_failure_threshold: 5,
            breaker_cooldown_ms: 1_000,
            error_log_interval_ms: 10_000,
            scan_batch_size: 1_000,
            namespace_generations: false,
        }
    }
}

impl RedisConfig {
    /// The URL with its password replaced by `***`: the only form of it that is ever logged.
    pub fn redacted_url(&self) -> String {
        self.url.redacted()
    }

    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// `command_timeout_ms` as a duration.
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }

    fn validate(&self, url_in_use: bool) -> CacheResult<()> {
        let bad = |key: &str, value: String, message: &str| CacheError::Config {
            key: format!("redis.{key}"),
            value,
            message: message.into(),
        };
        if url_in_use {
            check_url("url", &self.url)?;
            match self.mode {
                RedisMode::Standalone => {
                    if !self.urls.is_empty() {
                        return Err(bad(
                            "urls",
                            format!("{} URLs", self.urls.len()),
                            "seed nodes are for redis.mode = \"cluster\" (standalone uses redis.url)",
                        ));
                    }
                    if !self.sentinel.urls.is_empty() {
                        return Err(bad(
                            "sentinel.urls",
                            format!("{} URLs", self.sentinel.urls.len()),
                            "sentinels are for redis.mode = \"sentinel\"",
                        ));
                    }
                }
                RedisMode::Cluster => {
                    if self.urls.is_empty() {
                        return Err(bad(
                            "urls",
                            "[]".into(),
                            "redis.mode = \"cluster\" needs at least one seed node URL",
                        ));
                    }
                    for u in &self.urls {
                        check_url("urls", u)?;
                    }
                    if !self.sentinel.urls.is_empty() {
                        return Err(bad(
                            "sentinel.urls",
                            format!("{} URLs", self.sentinel.urls.len()),
                            "sentinels are for redis.mode = \"sentinel\", not cluster",
                        ));
                    }
                }
                RedisMode::Sentinel => {
                    if self.sentinel.master_name.trim().is_empty() {
                        return Err(bad(
                            "sentinel.master_name",
                            "\"\"".into(),
                            "redis.mode = \"sentinel\" needs the name the sentinels monitor",
                        ));
                    }
                    if self.sentinel.urls.is_empty() {
                        return Err(bad(
                            "sentinel.urls",
                            "[]".into(),
                            "redis.mode = \"sentinel\" needs at least one sentinel URL",
                        ));
                    }
                    for u in &self.sentinel.urls {
                        check_url("sentinel.urls", u)?;
                    }
                    if !self.urls.is_empty() {
                        return Err(bad(
                            "urls",
                            format!("{} URLs", self.urls.len()),
                            "seed nodes are for redis.mode = \"cluster\", not sentinel",
                        ));
                    }
                }
            }
        }
        if !(1..=64).contains(&self.pool_size) {
            return Err(bad(
                "pool_size",
                self.pool_size.to_string(),
                "must be 1 to 64",
            ));
        }
        let prefix_ok = !self.key_prefix.is_empty()
            && self.key_prefix.len() <= 64
            && self
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !prefix_ok {
            return Err(bad(
                "key_prefix",
                format!("{:?}", self.key_prefix),
                "use 1 to 64 characters from [A-Za-z0-9_.-]",
            ));
        }
        for (key, v) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("command_timeout_ms", self.command_timeout_ms),
            (
                "breaker_failure_threshold",
                u64::from(self.breaker_failure_threshold),
            ),
            ("breaker_cooldown_ms", self.breaker_cooldown_ms),
            ("error_log_interval_ms", self.error_log_interval_ms),
        ] {
            if v == 0 {
                return Err(bad(key, v.to_string(), "must be at least 1"));
            }
        }
        if !(1..=100_000).contains(&self.scan_batch_size) {
            return Err(bad(
                "scan_batch_size",
                self.scan_batch_size.to_string(),
                "must be 1 to 100000",
            ));
        }
        Ok(())
    }
}

/// A list of URLs from a list or from one comma-separated string (an environment variable).
fn url_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SecretUrl>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        List(Vec<SecretUrl>),
        One(String),
    }
    Ok(match Urls::deserialize(d)? {
        Urls::List(list) => list,
        Urls::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(SecretUrl::from)
            .collect(),
    })
}

/// Refuses a URL with a scheme the backend cannot use (TLS without the feature, anything but
/// `redis://` / `rediss://`), naming `redis.{key}` and showing only the redacted URL.
fn check_url(key: &str, url: &SecretUrl) -> CacheResult<()> {
    let bad = |message: &str| CacheError::Config {
        key: format!("redis.{key}"),
        value: url.redacted(),
        message: message.into(),
    };
    let raw = url.expose_secret().trim();
    if raw.starts_with("rediss://") {
        if !cfg!(feature = "redis-tls") {
            return Err(bad(
                "rediss:// (TLS) needs deeper-cache built with the `redis-tls` feature",
            ));
        }
    } else if !raw.starts_with("redis://") {
        return Err(bad(
            "expected redis://[user[:password]@]host[:port][/db] or rediss://...",
        ));
    }
    Ok(())
}

/// Settings of the MetricsReporter actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsReporterConfig {
    /// Period of the gauge refresh and the INFO stats line.
    #[serde(deserialize_with = "durations::millis")]
    pub report_interval_ms: u64,
    /// WARN when the miss ratio over one interval is above this (0.0–1.0).
    pub miss_ratio_warn: f64,
    /// ...and the interval saw at least this many reads (a quiet cache never warns).
    pub miss_ratio_min_requests: u64,
    /// WARN when the table holds more entries than this (0 = off).
    pub capacity_warn_items: u64,
    /// WARN when the table holds more estimated bytes than this (0 = off).
    pub capacity_warn_bytes: u64,
}

impl Default for MetricsReporterConfig {
    fn default() -> Self {
        MetricsReporterConfig {
            report_interval_ms: 10_000,
            miss_ratio_warn: 0.5,
            miss_ratio_min_requests: 100,
            capacity_warn_items: 0,
            capacity_warn_bytes: 0,
        }
    }
}

/// Settings of metric export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Record operations (counters and latency histograms) through the `metrics` facade. The
    /// library never installs a recorder unless `prometheus.enabled` asks it to; without one,
    /// recording costs a no-op call.
    pub enabled: bool,
    /// Record the latency of one operation in this many, per thread (1 = every operation).
    /// Sampling keeps two clock reads and a shared histogram update off most operations;
    /// `operations_total` always counts every operation.
    pub latency_sample_every: u32,
    /// Namespaces with statistics and metric series of their own; every further namespace is
    /// counted in one aggregate labelled `(other)`. Bounds the memory statistics take and the
    /// series a scrape returns when an application makes a namespace per tenant or user.
    pub max_namespaces: usize,
    /// The built-in Prometheus exporter.
    pub prometheus: PrometheusConfig,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            latency_sample_every: 16,
            max_namespaces: 1_000,
            prometheus: PrometheusConfig::default(),
        }
    }
}

/// Settings of the built-in Prometheus exporter (cargo feature `prometheus`, on by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Install a Prometheus recorder and serve `GET /metrics` on `listen`.
    pub enabled: bool,
    /// Address of the `/metrics` endpoint.
    pub listen: String,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            enabled: false,
            listen: "127.0.0.1:9568".into(),
        }
    }
}

/// Stampede protection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StampedeConfig {
    /// How long a caller waits for another caller's generator of the same key before it gets
    /// `GetOrStoreError::WaitTimeout` (the generator keeps running for the others).
    #[serde(deserialize_with = "durations::millis")]
    pub wait_timeout_ms: u64,
    /// Default stale-while-revalidate grace for `get_or_refresh`: after the TTL, serve the
    /// stale value this long while one background refresh runs. 0 = off.
    #[serde(deserialize_with = "durations::millis")]
    pub stale_for_ms: u64,
    /// Default refresh-ahead for `get_or_refresh`: a hit in the last fraction of the TTL
    /// (e.g. 0.1) starts one background refresh. 0 = off.
    pub refresh_ahead: f64,
    /// On a backend shared by several nodes (redis, tiered): a node's leader takes a lease in
    /// Redis before it runs a generator, and leaders on other nodes wait for its value, so a
    /// cold key runs its generator once fleet-wide. No effect on the memory backend.
    pub distributed: bool,
    /// How long a lease lasts if its holder never releases it (a node that died or hangs);
    /// then one waiting node takes over. Longer than a generator usually runs: a generator
    /// that outlives it may run a second time on another node.
    #[serde(deserialize_with = "durations::millis")]
    pub lease_ms: u64,
}

impl Default for StampedeConfig {
    fn default() -> Self {
        StampedeConfig {
            wait_timeout_ms: 10_000,
            stale_for_ms: 0,
            refresh_ahead: 0.0,
            distributed: true,
            lease_ms: 5_000,
        }
    }
}

/// Settings of the admin interface (cargo feature `admin`): a JSON API and a web page to see
/// statistics, browse keys and invalidate entries, served on its own listener when `enabled`,
/// or mounted by the application in its own server (`deeper_cache::admin::router`).
///
/// Safe by default: off; on a loopback address when on; a non-loopback `listen` without any
/// token is refused at start. Without tokens (loopback only) every caller gets the `read` role;
/// the deleting endpoints need an `admin` token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the admin interface on `listen` (the cache's handle owns the listener and stops
    /// it on `shutdown()`).
    pub enabled: bool,
    /// Address of the listener (port 0 picks a free one: see `Cache::admin_addr`).
    pub listen: String,
    /// Bearer tokens of the `read` role (statistics, health, namespaces, keys, metadata): a
    /// comma-separated list, each 16 to 256 visible ASCII characters.
    pub read_tokens: Tokens,
    /// Bearer tokens of the `admin` role (everything `read` may, plus delete, delete by
    /// pattern, clear a namespace, purge expired).
    pub admin_tokens: Tokens,
    /// Show entries' values (the start of them, `max_value_bytes` at most). Off by default:
    /// values may hold personal or secret data.
    pub show_values: bool,
    /// Most bytes of a value shown when `show_values` is on.
    pub max_value_bytes: usize,
    /// Keys per page when a request does not say.
    pub default_page_size: usize,
    /// Most keys per page a request may ask for.
    pub max_page_size: usize,
    /// Largest request body accepted (larger: 413).
    pub max_body_bytes: usize,
    /// Longest query string accepted (longer: 414). Must hold a key and a cursor.
    pub max_query_bytes: usize,
    /// Keys a Redis namespace listing examines at most (`SCAN`), to bound its cost on a large
    /// keyspace; past it the listing says it is incomplete.
    pub namespace_scan_limit: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: false,
            listen: "127.0.0.1:9569".into(),
            read_tokens: Tokens::default(),
            admin_tokens: Tokens::default(),
            show_values: false,
            max_value_bytes: 4096,
            default_page_size: 100,
            max_page_size: 1000,
            max_body_bytes: 16 * 1024,
            max_query_bytes: 8 * 1024,
            namespace_scan_limit: 100_000,
        }
    }
}

impl AdminConfig {
    /// Whether any token (of either role) is configured.
    pub fn has_tokens(&self) -> bool {
        !self.read_tokens.is_empty() || !self.admin_tokens.is_empty()
    }

    /// Checks the settings, and that a non-loopback `listen` comes with a token when the
    /// listener is `enabled`.
    ///
    /// # Errors
    /// [`CacheError::Config`] naming the first offending key.
    pub fn validate(&self) -> CacheResult<()> {
        let bad = |key: &str, value: String, message: &str| CacheError::Config {
            key: format!("admin.{key}"),
            value,
            message: message.into(),
        };
        self.read_tokens.validate("admin.read_tokens")?;
        self.admin_tokens.validate("admin.admin_tokens")?;
        if self
            .read_tokens
            .0
            .iter()
            .any(|t| self.admin_tokens.0.contains(t))
        {
            return Err(bad(
                "read_tokens",
                "***".into(),
                "a token is listed for both roles; give each role its own tokens",
            ));
        }
        let max_page = crate::backend::browse::MAX_PAGE_KEYS;
        if !(1..=max_page).contains(&self.max_page_size) {
            return Err(bad(
                "max_page_size",
                self.max_page_size.to_string(),
                &format!("must be 1 to {max_page}"),
            ));
        }
        if !(1..=self.max_page_size).contains(&self.default_page_size) {
            return Err(bad(
                "default_page_size",
                self.default_page_size.to_string(),
                "must be 1 to admin.max_page_size",
            ));
        }
        if self.max_value_bytes == 0 {
            return Err(bad("max_value_bytes", "0".into(), "must be at least 1"));
        }
        if self.max_body_bytes < 256 {
            return Err(bad(
                "max_body_bytes",
                self.max_body_bytes.to_string(),
                "must be at least 256 (a pattern and a namespace)",
            ));
        }
        let min_query = 4 * crate::MAX_KEY_BYTES;
        if self.max_query_bytes < min_query {
            return Err(bad(
                "max_query_bytes",
                self.max_query_bytes.to_string(),
                &format!(
                    "must be at least {min_query}: a query carries a key or a cursor, percent-encoded"
                ),
            ));
        }
        if self.namespace_scan_limit == 0 {
            return Err(bad(
                "namespace_scan_limit",
                "0".into(),
                "must be at least 1",
            ));
        }
        if self.enabled {
            let addr: std::net::SocketAddr = self.listen.trim().parse().map_err(|_| {
                bad(
                    "listen",
                    format!("{:?}", self.listen),
                    "expected an address such as 127.0.0.1:9569",
                )
            })?;
            if !addr.ip().is_loopback() && !self.has_tokens() {
                return Err(bad(
                    "listen",
                    format!("{:?}", self.listen),
                    "refusing to serve the admin interface on a non-loopback address without a \
                     token: anyone who reaches it could read and invalidate the cache. Set \
                     admin.admin_tokens / admin.read_tokens (DEEPER_CACHE__ADMIN__ADMIN_TOKENS), \
                     or listen on 127.0.0.1",
                ));
            }
        }
        Ok(())
    }
}

/// Bearer tokens of one role of the admin interface.
///
/// Written as one comma-separated string (`admin_tokens = "t1,t2"`, or
/// `DEEPER_CACHE__ADMIN__ADMIN_TOKENS=t1,t2`) or a list. Never shown: `Debug` and `Serialize`
/// print `***` for each token, so a logged or dumped configuration holds none.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens(Vec<String>);

impl Tokens {
    /// Tokens from a list (validated with the configuration).
    pub fn new<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Tokens(tokens.into_iter().map(Into::into).collect())
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The tokens themselves: for the code that checks them, never for display.
    pub fn expose(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    fn parse(text: &str) -> Tokens {
        Tokens(
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    fn validate(&self, key: &str) -> CacheResult<()> {
        for (i, t) in self.0.iter().enumerate() {
            let ok_chars = t.bytes().all(|b| b.is_ascii_graphic() && b != b',');
            if !(16..=256).contains(&t.len()) || !ok_chars {
                return Err(CacheError::Config {
                    key: key.to_string(),
                    value: format!("token #{} (***, {} bytes)", i + 1, t.len()),
                    message: "a token is 16 to 256 visible ASCII characters, no comma or space \
                              (for example 32 random hex digits: openssl rand -hex 16)"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

impl Serialize for Tokens {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&vec!["***"; self.0.len()].join(","))
    }
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(Vec<String>),
            // An environment variable of digits only is parsed as a number.
            Int(i64),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Text(t) => Tokens::parse(&t),
            Raw::List(l) => Tokens::new(l.iter().flat_map(|t| Tokens::parse(t).0)),
            Raw::Int(i) => Tokens(vec![i.to_string()]),
        })
    }
}

/// OTP restart strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the child that exited.
    #[default]
    OneForOne,
    /// Restart every child.
    OneForAll,
    /// Restart the child that exited and every child started after it.
    RestForOne,
}

impl Strategy {
    /// The OTP name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
    }
}

/// Settings of the cache supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorConfig {
    /// Which children restart when one exits.
    pub strategy: Strategy,
    /// Most restarts allowed within `max_seconds`; one more stops the supervisor so its parent
    /// decides (OTP restart intensity).
    pub max_restarts: u32,
    /// The intensity window, in seconds.
    #[serde(deserialize_with = "durations::seconds")]
    pub max_seconds: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            max_seconds: 5,
        }
    }
}

/// The configured default TTL: positive whole seconds, a duration (`"500ms"`, `"1h"`), or
/// `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTtl(pub Ttl);

impl Serialize for DefaultTtl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Ttl::Never => s.serialize_str("never"),
            Ttl::After(d) if d.subsec_nanos() == 0 => s.serialize_u64(d.as_secs()),
            Ttl::After(d) => s.serialize_str(&humantime::format_duration(d).to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for DefaultTtl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        const EXPECTED: &str =
            "expected positive whole seconds, a duration such as \"500ms\" or \"1h\", or \"never\"";
        let ttl = match Raw::deserialize(d)? {
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("never") => {
                return Ok(DefaultTtl(Ttl::Never));
            }
            Raw::Text(t) => durations::parse(&t, durations::Unit::Seconds)
                .map_err(|_| serde::de::Error::custom(format!("{EXPECTED}, found {t:?}")))?,
            Raw::Int(i) if i <= 0 => {
                return Err(serde::de::Error::custom(format!("{EXPECTED}, found {i}")));
            }
            Raw::Int(i) => Duration::from_secs(i.unsigned_abs()),
        };
        if ttl.is_zero() {
            return Err(serde::de::Error::custom(format!("{EXPECTED}, found 0")));
        }
        if ttl > crate::ttl::MAX_TTL {
            return Err(serde::de::Error::custom(format!(
                "{} s is longer than the maximum ttl of {} s (100 years); use \"never\"",
                ttl.as_secs(),
                crate::ttl::MAX_TTL.as_secs()
            )));
        }
        Ok(DefaultTtl(Ttl::After(ttl)))
    }
}

impl CacheConfig {
    /// Checks every value the types alone cannot: ranges and names.
    ///
    /// # Errors
    /// [`CacheError::Config`] naming the first offending key and its value.
    pub fn validate(&self) -> CacheResult<()> {
        fn positive(key: &str, v: u64) -> CacheResult<()> {
            if v == 0 {
                return Err(CacheError::Config {
                    key: key.into(),
                    value: v.to_string(),
                    message: "must be at least 1".into(),
                });
            }
            Ok(())
        }
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !ok {
                return Err(CacheError::Config {
                    key: "name".into(),
                    value: format!("{name:?}"),
                    message: "use 1 to 64 characters from [A-Za-z0-9_.-]".into(),
                });
            }
        }
        if let Err(e) = self.default_ttl_seconds.0.validate() {
            return Err(CacheError::Config {
                key: "default_ttl_seconds".into(),
                value: format!("{:?}", self.default_ttl_seconds.0),
                message: e.to_string(),
            });
        }
        if !(0.0..1.0).contains(&self.ttl_jitter) {
            return Err(CacheError::Config {
                key: "ttl_jitter".into(),
                value: self.ttl_jitter.to_string(),
                message: "a fraction of the TTL: at least 0.0 (off) and below 1.0".into(),
            });
        }
        positive("call_timeout_ms", self.call_timeout_ms)?;
        positive(
            "memory.cleanup_interval_ms",
            self.memory.cleanup_interval_ms,
        )?;
        positive(
            "memory.cleanup_batch_size",
            self.memory.cleanup_batch_size as u64,
        )?;
        positive("memory.max_value_bytes", self.memory.max_value_bytes as u64)?;
        let min_bytes = crate::backend::ENTRY_OVERHEAD_BYTES as u64 * 16;
        if self.memory.max_bytes != 0 && self.memory.max_bytes < min_bytes {
            return Err(CacheError::Config {
                key: "memory.max_bytes".into(),
                value: self.memory.max_bytes.to_string(),
                message: format!("at least {min_bytes} bytes, or 0 for no limit"),
            });
        }
        positive(
            "metrics_reporter.report_interval_ms",
            self.metrics_reporter.report_interval_ms,
        )?;
        positive("supervisor.max_seconds", self.supervisor.max_seconds)?;
        positive("metrics.max_namespaces", self.metrics.max_namespaces as u64)?;
        positive(
            "metrics.latency_sample_every",
            u64::from(self.metrics.latency_sample_every),
        )?;
        self.redis.validate(self.effective_adapter().uses_redis())?;
        if self.effective_adapter() == AdapterKind::Tiered {
            self.tiered.validate()?;
            if self.redis.mode != RedisMode::Standalone {
                // The L1 is kept coherent by one tracking connection to one server; on a
                // cluster every primary, and after a failover the new primary, would need it.
                return Err(CacheError::Config {
                    key: "default_adapter".into(),
                    value: "\"tiered\"".into(),
                    message: "the tiered backend needs redis.mode = \"standalone\" (its L1 \
                              invalidation stream follows one server); use the redis backend on \
                              a cluster or behind sentinels"
                        .into(),
                });
            }
        }
        positive("stampede.wait_timeout_ms", self.stampede.wait_timeout_ms)?;
        positive("stampede.lease_ms", self.stampede.lease_ms)?;
        let ahead = self.stampede.refresh_ahead;
        if !(0.0..1.0).contains(&ahead) {
            return Err(CacheError::Config {
                key: "stampede.refresh_ahead".into(),
                value: ahead.to_string(),
                message: "a fraction of the TTL: at least 0.0 (off) and below 1.0".into(),
            });
        }
        let warn = self.metrics_reporter.miss_ratio_warn;
        if !(0.0..=1.0).contains(&warn) {
            return Err(CacheError::Config {
                key: "metrics_reporter.miss_ratio_warn".into(),
                value: warn.to_string(),
                message: "must be between 0.0 and 1.0".into(),
            });
        }
        if self.metrics.prometheus.enabled
            && self
                .metrics
                .prometheus
                .listen
                .parse::<std::net::SocketAddr>()
                .is_err()
        {
            return Err(CacheError::Config {
                key: "metrics.prometheus.listen".into(),
                value: format!("{:?}", self.metrics.prometheus.listen),
                message: "expected an address such as 127.0.0.1:9568".into(),
            });
        }
        self.validate_namespaces_and_snapshots()?;
        self.admin.validate()?;
        if self.adapter.partitions > 1024 {
            return Err(CacheError::Config {
                key: "adapter.partitions".into(),
                value: self.adapter.partitions.to_string(),
                message: "at most 1024 (0 = one per CPU core)".into(),
            });
        }
        Ok(())
    }

    /// `[namespaces.*]` and the `memory.snapshot_*` keys.
    fn validate_namespaces_and_snapshots(&self) -> CacheResult<()> {
        for (name, ns) in &self.namespaces {
            if name.is_empty() || name.len() > crate::MAX_NAMESPACE_BYTES {
                return Err(CacheError::Config {
                    key: format!("namespaces.{name}"),
                    value: format!("{name:?}"),
                    message: format!(
                        "a namespace name must be 1 to {} bytes",
                        crate::MAX_NAMESPACE_BYTES
                    ),
                });
            }
            if let Some(tti) = ns.tti
                && let Err(e) = Ttl::After(tti).validate()
            {
                return Err(CacheError::Config {
                    key: format!("namespaces.{name}.tti"),
                    value: format!("{tti:?}"),
                    message: e.to_string(),
                });
            }
        }
        let m = &self.memory;
        if m.snapshot_on_shutdown && m.snapshot_path.is_none() {
            return Err(CacheError::Config {
                key: "memory.snapshot_on_shutdown".into(),
                value: "true".into(),
                message: "set memory.snapshot_path, the file to save to".into(),
            });
        }
        if m.snapshot_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(CacheError::Config {
                key: "memory.snapshot_path".into(),
                value: "\"\"".into(),
                message: "an empty path; leave the key out for no snapshot".into(),
            });
        }
        Ok(())
    }

    /// The time to idle of each namespace that has one (`[namespaces.<name>] tti`).
    pub fn idle_times(&self) -> crate::ttl::IdleTimes {
        crate::ttl::IdleTimes::new(
            self.namespaces
                .iter()
                .filter_map(|(name, ns)| ns.tti.map(|tti| (name.clone(), tti))),
        )
    }

    /// The backend this configuration actually runs: `enabled = false` means no-op.
    pub fn effective_adapter(&self) -> AdapterKind {
        if self.enabled {
            self.default_adapter
        } else {
            AdapterKind::Noop
        }
    }

    /// `call_timeout_ms` as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}
