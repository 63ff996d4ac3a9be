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
//!                                           ├─ MetricsReporter (metrics_reporter.rs)
//!                                           └─ CacheWarmer (warmer.rs)     runs the warmers
//! children.rs   ChildKind, the vocabulary the supervisor and its children share
//! slots.rs      where callers find each child's current incarnation
//! ops/          every operation as a request value (Get, Put, Increment, GetMany, ...)
//! batch.rs      KeyList / EntryList, the packed arguments of the bulk operations
//! backend/      the CacheBackend trait; memory (the table), redis, noop, tiered;
//!               browse.rs: what the admin interface reads (key pages, entry metadata)
//! service.rs    CacheService: typed, restart-following client of one tree (used by the facade)
//! config.rs     CacheConfig: settings, defaults, validation
//! codec.rs      the one value codec (JSON)      glob.rs   Redis-dialect patterns
//! ttl.rs        Ttl                              clock.rs  the millisecond clock
//! stats.rs      shared operation counters        error.rs  CacheError
//! ```
//!
//! ## The flow of one call
//! Every operation is one request value ([`ops`]: `Get`, `Put`, `Increment`, ...) that knows
//! its name, retry class, route and how it applies to a backend.
//! [`CacheService::run`]`(ns, key, request)` records it and, on the `direct` plane (the
//! default), applies it in the caller's task; on the `rpc` plane it wraps it in an
//! [`Envelope`](ops::Envelope) with a typed reply port, sends it to the adapter partition
//! that owns the key (found through the slots the supervisor updates), and waits at most
//! `call_timeout_ms`. The adapter applies the same request the same way and replies. If the
//! adapter is restarting, the call is retried against the next incarnation (once-only requests
//! only if they were never started); the table lives in an `Arc` the supervisor keeps, so
//! nothing is lost.
//!
//! ```text
//! Cache::get ─▶ CacheService::run(ns, key, ops::Get) ─┬─ direct: Get::apply(backend, ns, key)
//!                                                      └─ rpc: Envelope<Get> ─▶ CacheAdapter
//!                                                              ─▶ Get::apply(backend, ns, key)
//! ```
//!
//! ```
//! use deeper_cache_actors::{CacheConfig, CacheService, Clock, Ttl, codec, ops};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), deeper_cache_actors::CacheError> {
//! let service = CacheService::start(CacheConfig::default(), Clock::system()).await?;
//! let ns = service.namespace("default"); // statistics and metric handles, resolved once
//! let put = ops::Put { value: codec::encode(&42)?, ttl: Ttl::Never };
//! service.run(&ns, "answer", put).await?;
//! let raw = service.run(&ns, "answer", ops::Get).await?.expect("just written");
//! assert_eq!(codec::decode::<i32>(&raw)?, 42);
//! service.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod adapter;
pub mod backend;
pub mod batch;
pub mod children;
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
pub mod ops;
pub mod secret_url;
pub mod service;
mod slots;
pub mod stats;
pub mod store;
pub mod supervisor;
pub mod ttl;
pub mod warmer;

pub use backend::{
    BreakerState, CacheBackend, EntryInfo, EntryKind, Eviction, EvictionListener, EvictionReason,
    KeyPage, L1Copy, NamespaceKeys, NamespaceList, NamespaceUsage, RedisBackend, RestoreReport,
    SnapshotReport, TableUsage, TieredBackend,
};
pub use children::ChildKind;
pub use clock::Clock;
#[cfg(feature = "testing")]
pub use clock::ManualClock;
pub use config::{
    AdapterConfig, AdapterKind, AdminConfig, CacheConfig, DataPlaneMode, DefaultTtl,
    EvictionPolicy, MemoryConfig, MetricsConfig, MetricsReporterConfig, PrometheusConfig,
    RedisConfig, RedisMode, SentinelConfig, StampedeConfig, Strategy, SupervisorConfig,
    TieredConfig, TieredL1Config, Tokens,
};
pub use error::{CacheError, CacheResult, SnapshotProblem, WarmerFailure};
#[cfg(feature = "testing")]
pub use faults::Fault;
pub use glob::Glob;
pub use ops::{Op, Status};
pub use secret_url::SecretUrl;
pub use service::CacheService;
pub use stats::{CacheStats, Evictions, FlightEvent, NamespaceStats, NsStats, TierStats};
pub use supervisor::{ChildStatus, SupervisorStatus};
pub use ttl::{MAX_TTL, Ttl};
pub use warmer::{WarmEntry, WarmError, WarmSink, Warmer, WarmerOptions, WarmerStats};

/// The actor runtime, re-exported so embedding applications use the same version.
pub use ractor;

/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest namespace name accepted, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;
