//! # deeper-cache
//!
//! A supervised, actor-based cache service for Rust applications — the Rust rendering of the
//! Elixir/OTP `DeeperHub.Core.Cache`. An in-memory table by default (no server needed), a no-op
//! backend to switch caching off, one async API over both.
//!
//! ```
//! use std::time::Duration;
//! use deeper_cache::{Cache, ConfigLoader, Ttl};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Defaults ← config/default.toml ← DEEPER_CACHE__* environment variables.
//! let cache = Cache::start(ConfigLoader::new().load()?).await?;
//!
//! cache.put_with_ttl("user_profile:42", &"Ada", Duration::from_secs(3600)).await?;
//! let name: Option<String> = cache.get("user_profile:42").await?;
//! assert_eq!(name.as_deref(), Some("Ada"));
//!
//! let report = cache
//!     .get_or_store("reports:2026-11", || async { Ok::<_, std::io::Error>(vec![1, 2, 3]) })
//!     .await?;
//! assert_eq!(report, vec![1, 2, 3]);
//!
//! assert_eq!(cache.increment("post_views:7", 1).await?, 1);
//! cache.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout
//! | where | what |
//! |-------|------|
//! | `src/cache.rs` | [`Cache`], the cloneable facade handle: every call, namespaces, TTLs |
//! | `src/config.rs` | [`ConfigLoader`]: defaults ← `config/default.toml` ← a file ← environment |
//! | `src/error.rs` | [`GetOrStoreError`]; [`CacheError`] comes from the actors crate |
//! | `src/browse.rs` | what an operator reads: [`Cache::keys`] (paged), [`Cache::inspect`], [`Cache::health`] |
//! | `src/admin/` | the admin interface (feature `admin`): HTTP API, web page, listener |
//! | `src/bin/deeper-cache-admin.rs` | the admin command-line client (feature `admin`) |
//! | `actors/` | the supervision tree, typed messages, backend trait and backends |
//!
//! ## The actor tree and the flow of one call
//! ```text
//! caller ─Cache::get(key)─▶ check the key ─▶ CacheService::run(ns, key, ops::Get)
//!        direct plane (default): Get::apply(backend) in the caller's task
//!        rpc plane: Envelope<Get> + reply port ─▶ CacheAdapter ─▶ Get::apply(backend)
//!        ─▶ decode the bytes (JSON) in the caller's task ─▶ Option<T>
//!
//! CacheSupervisor ─ owns ─┬─ Store            owner of the table (kept by the supervisor: no
//!                         │                   restart loses an entry)
//!                         ├─ CacheAdapter ×N  serves rpc-plane requests
//!                         ├─ Cleanup          sweeps expired entries every cleanup_interval_ms
//!                         └─ MetricsReporter  gauges and a periodic stats line
//! ```
//! Every facade call is one request value from `deeper_cache_actors::ops` (`Get`, `Put`,
//! `Increment`, ...): the facade validates and encodes, the request knows how it is named,
//! retried, routed and applied, and both data planes apply it the same way. Values are encoded
//! (JSON) in the caller's task; backends move bytes. A child that crashes is restarted alone
//! (one_for_one); calls that meet a restarting adapter retry within `call_timeout_ms`. An
//! expired entry is a miss on every path, swept or not.
//!
//! ## Errors
//! Every call returns [`CacheError`] on failure — one variant per thing a caller can act on;
//! a miss is `Ok(None)`, never an error. [`CacheError::is_unavailable`] tells "the cache cannot
//! help right now, read the primary source" apart from a bad request.

/// The longest finite TTL (100 years); longer ones are refused with `InvalidTtl`.
pub use deeper_cache_actors::MAX_TTL;
/// Most keys one page of [`Cache::keys`] may hold.
pub use deeper_cache_actors::backend::browse::MAX_PAGE_KEYS;
pub use deeper_cache_actors::{
    AdapterConfig, AdapterKind, AdminConfig, CacheConfig, CacheError, CacheResult, CacheStats,
    ChildKind, ChildStatus, DataPlaneMode, DefaultTtl, EntryInfo, EntryKind, Eviction,
    EvictionPolicy, EvictionReason, Evictions, KeyPage, L1Copy, MAX_KEY_BYTES, MAX_NAMESPACE_BYTES,
    MemoryConfig, MetricsConfig, MetricsReporterConfig, NamespaceKeys, NamespaceList,
    NamespaceStats, NamespaceUsage, PrometheusConfig, Strategy, SupervisorConfig, SupervisorStatus,
    TableUsage, TierStats, TieredConfig, TieredL1Config, Tokens, Ttl,
};

/// The actor runtime (ractor), for applications that embed the cache in their own tree.
pub use deeper_cache_actors::ractor;

/// The Redis backend's settings (`CacheConfig::redis`), the backend itself and its circuit
/// breaker's states; see the README's "Redis backend" section.
pub use deeper_cache_actors::backend::{BreakerState, RedisBackend};
pub use deeper_cache_actors::config::{RedisConfig, RedisMode, SentinelConfig};

#[cfg(feature = "testing")]
pub use deeper_cache_actors::{Fault, ManualClock};

#[cfg(feature = "admin")]
pub mod admin;
mod browse;
mod builder;
mod bulk;
mod cache;
mod config;
mod error;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod stampede;

/// The attribute a [`Warmer`] implementation is written with (`#[deeper_cache::async_trait]`).
pub use async_trait::async_trait;
pub use browse::Health;
pub use builder::CacheBuilder;
pub use cache::{Cache, DEFAULT_NAMESPACE};
pub use config::{ConfigLoader, DEFAULT_CONFIG_FILE};
pub use deeper_cache_actors::config::{NamespaceConfig, SnapshotOnError};
/// Warm starts: the [`Warmer`] trait an application implements, its entries and options, and
/// what `Cache::warmer_stats` reports; snapshot reports and problems.
pub use deeper_cache_actors::{
    RestoreReport, SnapshotProblem, SnapshotReport, WarmEntry, WarmError, WarmSink, Warmer,
    WarmerFailure, WarmerOptions, WarmerStats,
};
pub use error::GetOrStoreError;
pub use stampede::{RefreshOptions, StoreOptions};

/// Entry overhead counted in byte figures.
pub use deeper_cache_actors::backend::ENTRY_OVERHEAD_BYTES;
/// The value codec every backend shares (JSON).
pub use deeper_cache_actors::codec;
/// Maximum size of a `delete_pattern` glob.
pub use deeper_cache_actors::glob::MAX_PATTERN_BYTES;
