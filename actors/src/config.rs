//! The cache's settings, [`CacheConfig`], with their defaults and validation.
//!
//! Loading (defaults ← `config/default.toml` ← an application file ← `DEEPER_CACHE__…`
//! environment variables) lives in the facade crate; this module only defines the shape, the
//! defaults and the checks, so every actor reads typed, validated settings.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CacheError, CacheResult};
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
    /// How long a facade call waits for the actors (including restarts) before it returns
    /// `Timeout` or `Unavailable`. An unanswered call is noticed at the next tick of the
    /// deadline alarm: a tenth of this value, between 1 and 100 ms, later at most.
    pub call_timeout_ms: u64,
    /// Data plane: how facade calls reach the backend.
    pub adapter: AdapterConfig,
    /// In-memory backend settings.
    pub memory: MemoryConfig,
    /// Redis backend settings (used when `default_adapter = "redis"`).
    pub redis: RedisConfig,
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
            call_timeout_ms: 5_000,
            adapter: AdapterConfig::default(),
            memory: MemoryConfig::default(),
            redis: RedisConfig::default(),
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
/// `Debug` (and so every log of the configuration) shows the URL with its password replaced by
/// `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Server URL: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS (needs
    /// the `redis-tls` cargo feature).
    pub url: String,
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

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("command_timeout_ms", &self.command_timeout_ms)
            .field("breaker_failure_threshold", &self.breaker_failure_threshold)
            .field("breaker_cooldown_ms", &self.breaker_cooldown_ms)
            .field("error_log_interval_ms", &self.error_log_interval_ms)
            .field("scan_batch_size", &self.scan_batch_size)
            .finish()
    }
}

impl RedisConfig {
    /// The URL with its password replaced by `***`: the only form of it that is ever logged.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The password of the URL as written and percent-decoded (empty when there is none):
    /// strings to scrub from any message that leaves the backend.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let Some(raw) = url_password(&self.url) else {
            return Vec::new();
        };
        let decoded = percent_decode(raw);
        let mut v = vec![raw.to_string()];
        if decoded != raw {
            v.push(decoded);
        }
        v.retain(|s| !s.is_empty());
        v
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
            let url = self.url.trim();
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

/// The `user:password@` part of a URL's authority, split at the last `@`.
fn url_userinfo(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some((start, &rest[..at]))
}

/// The password as written in the URL, if any.
fn url_password(url: &str) -> Option<&str> {
    let (_, userinfo) = url_userinfo(url)?;
    userinfo.split_once(':').map(|(_, p)| p)
}

/// `url` with the password of its userinfo replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    match url_userinfo(url) {
        Some((start, userinfo)) => match userinfo.split_once(':') {
            Some((user, _)) => format!(
                "{}{user}:***{}",
                &url[..start],
                &url[start + userinfo.len()..]
            ),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
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
    /// The built-in Prometheus exporter.
    pub prometheus: PrometheusConfig,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            latency_sample_every: 16,
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
}

impl Default for StampedeConfig {
    fn default() -> Self {
        StampedeConfig {
            wait_timeout_ms: 10_000,
            stale_for_ms: 0,
            refresh_ahead: 0.0,
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
        positive(
            "metrics.latency_sample_every",
            u64::from(self.metrics.latency_sample_every),
        )?;
        self.redis
            .validate(self.effective_adapter() == AdapterKind::Redis)?;
        positive("stampede.wait_timeout_ms", self.stampede.wait_timeout_ms)?;
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
