//! The cache's settings, [`CacheConfig`], with their defaults and validation.
//!
//! Loading (defaults ← `config/default.toml` ← an application file ← `DEEPER_CACHE__…`
//! environment variables) lives in the facade crate; this module only defines the shape, the
//! defaults and the checks, so every actor reads typed, validated settings.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CacheError, CacheResult};
use crate::secret_url::SecretUrl;
use crate::ttl::Ttl;

/// All settings of one cache instance. Every field has a default (see `config/default.toml`).
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
    /// TTL of entries written without an explicit one: whole seconds, or `"never"`.
    pub default_ttl_seconds: DefaultTtl,
    /// Spreads every write's finite TTL uniformly within ±this fraction of itself (0.1 = ±10 %),
    /// so entries written together do not expire together; 0 (the default) keeps TTLs exact.
    pub ttl_jitter: f64,
    /// How long a facade call waits for the actors (including restarts) before it returns
    /// `Timeout` or `Unavailable`. An unanswered call is noticed at the next tick of the
    /// deadline alarm: a tenth of this value, between 1 and 100 ms, later at most.
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
        }
    }
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
    pub l1_ttl_max_ms: u64,
    /// While Redis is unreachable, a read may be served from an L1 entry filled at most this
    /// long ago instead of a miss; 0 (the default) = never serve an unverified entry.
    pub stale_if_error_ms: u64,
    /// How often the invalidation connection is checked with `PING` (a frozen connection
    /// that never reports a disconnect is found within this period plus
    /// `redis.command_timeout_ms`).
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

/// Settings of the Redis backend.
///
/// The URL is a [`SecretUrl`]: `Debug`, `Display` and `Serialize` (and so every log or dump of
/// the configuration) show it with its password replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Server URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS (needs
    /// the `redis-tls` cargo feature).
    pub url: SecretUrl,
    /// Multiplexed connections opened to the server; a key's commands always use the same one
    /// (chosen by key hash), so they reach Redis in the order they were issued.
    pub pool_size: usize,
    /// First segment of every key: `{key_prefix}:{namespace}:{key}`. `clear()` of the whole
    /// cache removes only keys under it. 1 to 64 characters from `[A-Za-z0-9_.-]`.
    pub key_prefix: String,
    /// Longest wait for a TCP (and TLS, AUTH) connection to the server.
    pub connect_timeout_ms: u64,
    /// Longest wait for one command's answer (a `clear`/`delete_pattern` batch counts as one).
    pub command_timeout_ms: u64,
    /// Consecutive connection failures that open the circuit breaker: calls then fail fast,
    /// without touching the network, until a probe succeeds.
    pub breaker_failure_threshold: u32,
    /// How long the breaker stays open before one call probes the server again.
    pub breaker_cooldown_ms: u64,
    /// At most one ERROR log line about an unreachable server per this period (the line
    /// counts the failures it stands for).
    pub error_log_interval_ms: u64,
    /// `COUNT` hint of each `SCAN` step and size of each `UNLINK` batch in `clear()` and
    /// `delete_pattern`.
    pub scan_batch_size: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            pool_size: 4,
            key_prefix: "deeper_cache".into(),
            connect_timeout_ms: 1_000,
            command_timeout_ms: 1_000,
            breaker_failure_threshold: 5,
            breaker_cooldown_ms: 1_000,
            error_log_interval_ms: 10_000,
            scan_batch_size: 1_000,
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
            let url = self.url.expose_secret().trim();
            if url.starts_with("rediss://") {
                if !cfg!(feature = "redis-tls") {
                    return Err(bad(
                        "url",
                        self.redacted_url(),
                        "rediss:// (TLS) needs deeper-cache built with the `redis-tls` feature",
                    ));
                }
            } else if !url.starts_with("redis://") {
                return Err(bad(
                    "url",
                    self.redacted_url(),
                    "expected redis://[user[:password]@]host[:port][/db] or rediss://...",
                ));
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

/// Settings of the MetricsReporter actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsReporterConfig {
    /// Period of the gauge refresh and the INFO stats line.
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
    pub wait_timeout_ms: u64,
    /// Default stale-while-revalidate grace for `get_or_refresh`: after the TTL, serve the
    /// stale value this long while one background refresh runs. 0 = off.
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

/// The configured default TTL: positive whole seconds, or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTtl(pub Ttl);

impl Serialize for DefaultTtl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Ttl::Never => s.serialize_str("never"),
            Ttl::After(d) => s.serialize_u64(d.as_secs()),
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
        let secs = match Raw::deserialize(d)? {
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("never") => {
                return Ok(DefaultTtl(Ttl::Never));
            }
            Raw::Text(t) => t.trim().parse::<i64>().map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected positive whole seconds or \"never\", found {t:?}"
                ))
            })?,
            Raw::Int(i) => i,
        };
        if secs <= 0 {
            return Err(serde::de::Error::custom(format!(
                "expected positive whole seconds or \"never\", found {secs}"
            )));
        }
        if secs.unsigned_abs() > crate::ttl::MAX_TTL.as_secs() {
            return Err(serde::de::Error::custom(format!(
                "{secs} s is longer than the maximum ttl of {} s (100 years); use \"never\"",
                crate::ttl::MAX_TTL.as_secs()
            )));
        }
        Ok(DefaultTtl(Ttl::After(Duration::from_secs(
            secs.unsigned_abs(),
        ))))
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
        if self.adapter.partitions > 1024 {
            return Err(CacheError::Config {
                key: "adapter.partitions".into(),
                value: self.adapter.partitions.to_string(),
                message: "at most 1024 (0 = one per CPU core)".into(),
            });
        }
        Ok(())
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
