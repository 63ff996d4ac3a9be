//! # deeper-cache-actors
//!
//! The service behind [`deeper-cache`](https://docs.rs/deeper-cache): the supervision tree, its
//! typed messages, the backend trait and the backends. Applications depend on the
//! `deeper-cache` facade; this crate is its engine room.
//!
//! ## Layout — one file per actor, named for its job
//!
//! ```text
//! CacheSupervisor (supervisor.rs) ── owns ──┬─ Store (store.rs)            owner of the table
//!                                           ├─ CacheAdapter (adapter.rs)   serves requests
//!                                           ├─ Cleanup (cleanup.rs)        sweeps expired entries
//!                                           └─ MetricsReporter (metrics_reporter.rs)
//! backend/      the CacheBackend trait; memory.rs (the table), noop.rs
//! service.rs    CacheService: typed, restart-following client of one tree (used by the facade)
//! config.rs     CacheConfig: settings, defaults, validation
//! codec.rs      the one value codec (JSON)      glob.rs   Redis-dialect patterns
//! ttl.rs        Ttl                              clock.rs  the millisecond clock
//! stats.rs      shared operation counters        error.rs  CacheError
//! ```
//!
//! ## The flow of one call
//! `CacheService::get` reads the current adapter from the supervisor's slots, sends
//! `AdapterMsg::Get` with a reply port, and waits at most `call_timeout_ms`. The adapter asks
//! the backend (for the memory backend: one concurrent-map lookup that treats an expired entry
//! as absent), counts the hit or miss, and replies. If the adapter is restarting, the call is
//! retried against the next incarnation; the table lives in an `Arc` the supervisor keeps, so
//! nothing is lost.
//!
//! ```
//! use deeper_cache_actors::{CacheConfig, CacheService, Clock, Ttl, codec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), deeper_cache_actors::CacheError> {
//! let service = CacheService::start(CacheConfig::default(), Clock::system()).await?;
//! let ns = service.namespace("default"); // statistics and metric handles, resolved once
//! service.put(&ns, "answer", codec::encode(&42)?, Ttl::Never).await?;
//! let raw = service.get(&ns, "answer").await?.expect("just written");
//! assert_eq!(codec::decode::<i32>(&raw)?, 42);
//! service.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod adapter;
pub mod backend;
pub mod cleanup;
pub mod clock;
pub mod codec;
pub mod config;
mod deadline;
pub mod error;
pub mod faults;
pub mod flight;
pub mod glob;
pub mod metrics_reporter;
pub mod service;
pub mod stats;
pub mod store;
pub mod supervisor;
pub mod ttl;

pub use backend::{
    BreakerState, CacheBackend, Eviction, EvictionListener, EvictionReason, NamespaceUsage,
    RedisBackend, TableUsage,
};
pub use clock::Clock;
#[cfg(feature = "testing")]
pub use clock::ManualClock;
pub use config::{
    AdapterConfig, AdapterKind, CacheConfig, DataPlaneMode, DefaultTtl, EvictionPolicy,
    MemoryConfig, MetricsConfig, MetricsReporterConfig, PrometheusConfig, RedisConfig,
    StampedeConfig, Strategy, SupervisorConfig,
};
pub use error::{CacheError, CacheResult};
#[cfg(feature = "testing")]
pub use faults::Fault;
pub use glob::Glob;
pub use service::CacheService;
pub use stats::{CacheStats, Evictions, FlightEvent, NamespaceStats, NsStats, Op, Status};
pub use supervisor::{ChildKind, ChildStatus, SupervisorStatus};
pub use ttl::Ttl;

/// The actor runtime, re-exported so embedding applications use the same version.
pub use ractor;

/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest namespace name accepted, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;
