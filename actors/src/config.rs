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
    /// `Timeout` or `Unavailable`.
    pub call_timeout_ms: u64,
    /// Data plane: how facade calls reach the backend.
    pub adapter: AdapterConfig,
    /// In-memory backend settings.
    pub memory: MemoryConfig,
    /// MetricsReporter settings.
    pub metrics_reporter: MetricsReporterConfig,
    /// Supervision: restart strategy and intensity.
    pub supervisor: SupervisorConfig,
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
            metrics_reporter: MetricsReporterConfig::default(),
            supervisor: SupervisorConfig::default(),
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
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            cleanup_interval_ms: 60_000,
            cleanup_batch_size: 1_000,
            max_value_bytes: 1024 * 1024,
        }
    }
}

/// Settings of the MetricsReporter actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsReporterConfig {
    /// Period of the gauge refresh and the INFO stats line.
    pub report_interval_ms: u64,
}

impl Default for MetricsReporterConfig {
    fn default() -> Self {
        MetricsReporterConfig {
            report_interval_ms: 10_000,
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
        positive(
            "metrics_reporter.report_interval_ms",
            self.metrics_reporter.report_interval_ms,
        )?;
        positive("supervisor.max_seconds", self.supervisor.max_seconds)?;
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
