//! Operation statistics: per-namespace counts and metric handles.
//!
//! Every facade operation is recorded once, where the caller sees it (in `CacheService`, for
//! both data planes): a count per `(operation, status)` and, when metrics are exported, the
//! `deeper_hub_core_cache_operations_total` counter and the
//! `deeper_hub_core_cache_operation_duration_seconds` histogram. Metric handles are resolved
//! once per namespace, operation and status (lazily, on first use, so unused label sets never
//! appear in the exposition), never looked up per call.
//!
//! The counts live here, outside every actor, so an actor's crash loses none of them. They are
//! striped: each thread adds into one of [`STRIPES`] cache-line-aligned blocks, so two cores
//! counting hits in the same namespace do not fight over one cache line; reads sum the blocks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use serde::Serialize;

use crate::ops::{OPS, Op, STATUSES, Status};

/// Stampede-protection events, the `event` label of `deeper_hub_core_cache_stampede_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlightEvent {
    /// A `get_or_store` caller waited for another caller's generator instead of running one.
    Coalesced,
    /// A stale value was served during its grace period.
    StaleServed,
    /// A background refresh ran its generator (stale-while-revalidate or refresh-ahead).
    Refresh,
    /// A background refresh failed; the stale value was kept.
    RefreshFailed,
    /// A waiter gave up after its wait timeout.
    WaitTimeout,
    /// This node's leader found another node's lease and waited for its value.
    LeaseWait,
    /// This node took a key's lease over after its holder let it go (failed, expired) without
    /// storing a value.
    LeaseTakeover,
    /// The distributed lease could not be taken (Redis unreachable): the node ran the
    /// generator under its local single flight only.
    LeaseFallback,
    /// A wait for another node's value timed out; this node ran the generator itself.
    LeaseWaitTimeout,
}

const FLIGHT_EVENTS: usize = 9;

impl FlightEvent {
    const ALL: [FlightEvent; FLIGHT_EVENTS] = [
        FlightEvent::Coalesced,
        FlightEvent::StaleServed,
        FlightEvent::Refresh,
        FlightEvent::RefreshFailed,
        FlightEvent::WaitTimeout,
        FlightEvent::LeaseWait,
        FlightEvent::LeaseTakeover,
        FlightEvent::LeaseFallback,
        FlightEvent::LeaseWaitTimeout,
    ];

    /// The `event` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FlightEvent::Coalesced => "coalesced",
            FlightEvent::StaleServed => "stale_served",
            FlightEvent::Refresh => "refresh",
            FlightEvent::RefreshFailed => "refresh_failed",
            FlightEvent::WaitTimeout => "wait_timeout",
            FlightEvent::LeaseWait => "lease_wait",
            FlightEvent::LeaseTakeover => "lease_takeover",
            FlightEvent::LeaseFallback => "lease_fallback",
            FlightEvent::LeaseWaitTimeout => "lease_wait_timeout",
        }
    }
}

/// When an operation started, if durations are being measured (see [`NsCounts::start`]).
pub type Started = Option<quanta::Instant>;

/// Number of counter stripes per namespace.
pub const STRIPES: usize = 8;

/// One stripe: a count per operation and status, alone on its cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe([[AtomicU64; STATUSES]; OPS]);

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe, assigned round-robin on first use.
    static MY_STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
    /// Operations this thread started, for latency sampling.
    static SAMPLE_TICK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One counter split over [`STRIPES`] cache lines: each thread adds to its own stripe, so
/// counting from several cores does not bounce one line between them; reading sums them.
#[derive(Debug, Default)]
pub(crate) struct StripedCount(Box<[PaddedCount; STRIPES]>);

#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedCount(AtomicU64);

impl StripedCount {
    /// Adds one to this thread's stripe.
    #[inline]
    pub(crate) fn add_one(&self) {
        let stripe = MY_STRIPE.with(|s| *s);
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of all stripes.
    pub(crate) fn total(&self) -> u64 {
        self.0.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

/// Explicit buckets of the duration histogram, in seconds: 2.5 µs to 5 s.
pub const DURATION_BUCKETS: [f64; 20] = [
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
];

/// The metric names, in one place.
pub mod names {
    /// Counter: operations by cache, operation, namespace and status.
    pub const OPERATIONS: &str = "deeper_hub_core_cache_operations_total";
    /// Histogram: operation latency in seconds by cache, operation and namespace.
    pub const DURATION: &str = "deeper_hub_core_cache_operation_duration_seconds";
    /// Gauge: entries by cache and namespace.
    pub const SIZE_ITEMS: &str = "deeper_hub_core_cache_size_items";
    /// Gauge: estimated bytes by cache and namespace.
    pub const SIZE_BYTES: &str = "deeper_hub_core_cache_size_bytes";
    /// Gauge: hits / (hits + misses) since start, by cache and namespace.
    pub const HIT_RATIO: &str = "deeper_hub_core_cache_hit_ratio";
    /// Counter: removals by cache, namespace and reason (ttl, manual, lru, lfu, capacity).
    pub const EVICTIONS: &str = "deeper_hub_core_cache_evictions_total";
    /// Counter: actor restarts by cache and actor.
    pub const RESTARTS: &str = "deeper_hub_core_cache_actor_restarts_total";
    /// Counter: stampede-protection events by cache, namespace and event.
    pub const STAMPEDE: &str = "deeper_hub_core_cache_stampede_total";
    /// Histogram: `get_or_store` generator run time in seconds, by cache and namespace.
    pub const GENERATOR: &str = "deeper_hub_core_cache_generator_duration_seconds";
    /// Counter: tiered backend reads by cache, tier (`l1`, `l2`) and result (`hit`, `miss`,
    /// `error`, `stale`).
    pub const TIER_READS: &str = "deeper_hub_core_cache_tier_reads_total";
    /// Counter: keys dropped from the L1 by cache and source (`tracking`: Redis reported a
    /// change; `flush`: a whole-L1 flush).
    pub const INVALIDATIONS: &str = "deeper_hub_core_cache_invalidations_total";
    /// Counter: whole-L1 flushes by cache.
    pub const L1_FLUSHES: &str = "deeper_hub_core_cache_l1_flushes_total";
    /// Gauge: 1 while the L1's invalidation stream is live (L1 serving reads), else 0.
    pub const L1_TRACKING: &str = "deeper_hub_core_cache_l1_tracking";
}

/// Registers the help text and unit of every metric family with the installed recorder
/// (Prometheus `# HELP` lines). Called at every cache start: a recorder installed later gets
/// the descriptions from the next cache started.
pub fn describe_metrics() {
    use metrics::Unit;
    metrics::describe_counter!(
        names::OPERATIONS,
        Unit::Count,
        "Cache operations by cache, operation, namespace and status (hit, miss, success, error)."
    );
    metrics::describe_histogram!(
        names::DURATION,
        Unit::Seconds,
        "Latency of cache operations as seen by the caller, by cache, operation and namespace."
    );
    metrics::describe_gauge!(
        names::SIZE_ITEMS,
        Unit::Count,
        "Entries held by the in-memory table (expired entries count until swept)."
    );
    metrics::describe_gauge!(
        names::SIZE_BYTES,
        Unit::Bytes,
        "Estimated bytes held: keys, encoded values and a fixed per-entry overhead."
    );
    metrics::describe_gauge!(
        names::HIT_RATIO,
        "Hits / (hits + misses) since the cache started, by namespace."
    );
    metrics::describe_counter!(
        names::EVICTIONS,
        Unit::Count,
        "Entries removed, by reason: ttl (expired), manual (delete, clear, pattern), lru/lfu (evicted at a limit), capacity (writes refused)."
    );
    metrics::describe_counter!(
        names::STAMPEDE,
        Unit::Count,
        "Stampede protection: coalesced waiters, stale values served, background refreshes."
    );
    metrics::describe_counter!(
        names::TIER_READS,
        Unit::Count,
        "Tiered backend reads by tier (l1, l2) and result (hit, miss, error, stale)."
    );
    metrics::describe_counter!(
        names::INVALIDATIONS,
        Unit::Count,
        "Keys dropped from the L1: tracking (Redis reported a change), flush (whole-L1 flushes)."
    );
    metrics::describe_counter!(
        names::L1_FLUSHES,
        Unit::Count,
        "Whole-L1 flushes (invalidation stream lost or re-established, server flush)."
    );
    metrics::describe_gauge!(
        names::L1_TRACKING,
        "1 while the L1's invalidation stream is live and L1 serves reads, else 0."
    );
    metrics::describe_histogram!(
        names::GENERATOR,
        Unit::Seconds,
        "Run time of get_or_store generators, by cache and namespace."
    );
    metrics::describe_counter!(
        names::RESTARTS,
        Unit::Count,
        "Restarts of the cache's actors by its supervisor, by actor."
    );
}

/// Statistics and metric handles of one namespace of one cache. Cheap to share (`Arc`); the
/// facade's namespace handles hold one each, so recording never looks anything up.
///
/// The counts may be shared: past `metrics.max_namespaces` namespaces, every further namespace
/// records into one aggregate labelled [`OTHER_NAMESPACES`] (see [`StatsRegistry`]).
#[derive(Debug)]
pub struct NsStats {
    /// The namespace this handle reads and writes.
    name: Arc<str>,
    counts: Arc<NsCounts>,
}

/// The `namespace` label (and `stats()` key) of the aggregate that namespaces past
/// `metrics.max_namespaces` record into.
pub const OTHER_NAMESPACES: &str = "(other)";

/// The counts and metric handles behind one or more [`NsStats`] (reached through it).
#[derive(Debug)]
pub struct NsCounts {
    cache: Arc<str>,
    /// The `namespace` label: the namespace's name, or [`OTHER_NAMESPACES`].
    label: Arc<str>,
    /// Whether operations are exported through the `metrics` facade (`metrics.enabled`).
    export: bool,
    /// One operation in this many (per thread) has its latency measured and recorded.
    sample_every: u32,
    stripes: Box<[Stripe; STRIPES]>,
    counters: [[OnceLock<metrics::Counter>; STATUSES]; OPS],
    durations: [OnceLock<metrics::Histogram>; OPS],
    flight_counts: [AtomicU64; FLIGHT_EVENTS],
    flight_counters: [OnceLock<metrics::Counter>; FLIGHT_EVENTS],
    generator: OnceLock<metrics::Histogram>,
}

impl std::ops::Deref for NsStats {
    type Target = NsCounts;
    fn deref(&self) -> &NsCounts {
        &self.counts
    }
}

impl NsCounts {
    fn new(cache: Arc<str>, label: Arc<str>, export: bool, sample_every: u32) -> Self {
        NsCounts {
            cache,
            label,
            export,
            sample_every: sample_every.max(1),
            stripes: Box::default(),
            counters: Default::default(),
            durations: Default::default(),
            flight_counts: Default::default(),
            flight_counters: Default::default(),
            generator: OnceLock::new(),
        }
    }
}

impl NsStats {
    /// The namespace name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The name its counts are reported under: the namespace's own, or
    /// [`OTHER_NAMESPACES`].
    pub fn label(&self) -> &Arc<str> {
        &self.counts.label
    }
}

impl NsCounts {
    /// A start time for [`NsCounts::record`] when this operation's latency is to be sampled
    /// (one in `metrics.latency_sample_every` per thread, and only when metrics are exported),
    /// `None` otherwise: unsampled operations never read the clock.
    #[inline]
    pub fn start(&self) -> Started {
        if !self.export {
            return None;
        }
        let every = self.sample_every;
        let sampled = every == 1
            || SAMPLE_TICK.with(|c| {
                let n = c.get().wrapping_add(1);
                c.set(n);
                n % every == 0
            });
        sampled.then(quanta::Instant::now)
    }

    /// A start time for timing a generator: always taken when metrics are exported
    /// (generators are rare and slow; their latency is never sampled).
    pub fn start_generator(&self) -> Started {
        self.export.then(quanta::Instant::now)
    }

    /// Records one operation's outcome (and its duration when `started` is given).
    ///
    /// The count goes to this thread's stripe only; the `operations_total` counters are
    /// published from these counts by the MetricsReporter ([`NsCounts::publish`]), so the hot
    /// path never touches a counter shared with other threads.
    #[inline]
    pub fn record(&self, op: Op, status: Status, started: Started) {
        let stripe = MY_STRIPE.with(|s| *s);
        self.stripes[stripe].0[op as usize][status as usize].fetch_add(1, Ordering::Relaxed);
        if self.export {
            if let Some(t) = started {
                self.durations[op as usize]
                    .get_or_init(|| {
                        metrics::histogram!(
                            names::DURATION,
                            "cache" => self.cache.to_string(),
                            "operation" => op.as_str(),
                            "namespace" => self.label.to_string()
                        )
                    })
                    .record(t.elapsed().as_secs_f64());
            }
        }
    }

    /// Publishes the operation counts to `deeper_hub_core_cache_operations_total` (absolute
    /// values; called by the MetricsReporter every report interval and when it stops).
    pub fn publish(&self) {
        if !self.export {
            return;
        }
        for op in Op::ALL {
            for status in Status::ALL {
                let n = self.count(op, status);
                if n == 0 {
                    continue;
                }
                self.counters[op as usize][status as usize]
                    .get_or_init(|| {
                        metrics::counter!(
                            names::OPERATIONS,
                            "cache" => self.cache.to_string(),
                            "operation" => op.as_str(),
                            "namespace" => self.label.to_string(),
                            "status" => status.as_str()
                        )
                    })
                    .absolute(n);
            }
        }
    }

    /// Records a stampede-protection event.
    pub fn flight_event(&self, event: FlightEvent) {
        self.flight_counts[event as usize].fetch_add(1, Ordering::Relaxed);
        if self.export {
            self.flight_counters[event as usize]
                .get_or_init(|| {
                    metrics::counter!(
                        names::STAMPEDE,
                        "cache" => self.cache.to_string(),
                        "namespace" => self.label.to_string(),
                        "event" => event.as_str()
                    )
                })
                .increment(1);
        }
    }

    /// Records how long a generator ran (`started` from [`NsCounts::start`]).
    pub fn generator_time(&self, started: Option<quanta::Instant>) {
        if let Some(t) = started {
            self.generator
                .get_or_init(|| {
                    metrics::histogram!(
                        names::GENERATOR,
                        "cache" => self.cache.to_string(),
                        "namespace" => self.label.to_string()
                    )
                })
                .record(t.elapsed().as_secs_f64());
        }
    }

    /// How many times `event` happened.
    pub fn flight_count(&self, event: FlightEvent) -> u64 {
        self.flight_counts[event as usize].load(Ordering::Relaxed)
    }

    /// The count of one operation and status so far.
    pub fn count(&self, op: Op, status: Status) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0[op as usize][status as usize].load(Ordering::Relaxed))
            .sum()
    }

    /// Hits and misses over every read operation.
    pub fn hits_misses(&self) -> (u64, u64) {
        Op::ALL.iter().fold((0, 0), |(h, m), &op| {
            (
                h + self.count(op, Status::Hit),
                m + self.count(op, Status::Miss),
            )
        })
    }

    /// A copy of this namespace's operation counts.
    pub fn snapshot(&self) -> NamespaceStats {
        let mut s = NamespaceStats::default();
        for op in Op::ALL {
            let mut total = 0;
            for status in Status::ALL {
                let n = self.count(op, status);
                total += n;
                match status {
                    Status::Hit => s.hits += n,
                    Status::Miss => s.misses += n,
                    Status::Error => s.errors += n,
                    Status::Success => {}
                }
            }
            if total > 0 {
                s.operations.insert(op.as_str(), total);
            }
        }
        for e in FlightEvent::ALL {
            let n = self.flight_count(e);
            if n > 0 {
                s.stampede.insert(e.as_str(), n);
            }
        }
        s.hit_ratio = ratio(s.hits, s.misses);
        s
    }
}

/// hits / (hits + misses), 0 when nothing was read.
pub fn ratio(hits: u64, misses: u64) -> f64 {
    if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    }
}

/// Figures of one namespace (or of the whole cache) in [`CacheStats`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NamespaceStats {
    /// Reads that found a live entry (get, exists, ttl, membership, non-empty sets,
    /// get_or_store hits).
    pub hits: u64,
    /// Reads that found nothing.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
    /// Entries held (memory backend; includes expired entries not yet swept).
    pub items: u64,
    /// Estimated bytes held (memory backend).
    pub bytes: u64,
    /// Removals by reason.
    pub evictions: Evictions,
    /// Operations by kind (every status).
    pub operations: BTreeMap<&'static str, u64>,
    /// Operations that returned an error.
    pub errors: u64,
    /// Stampede-protection events (coalesced, stale_served, refresh, refresh_failed,
    /// wait_timeout).
    pub stampede: BTreeMap<&'static str, u64>,
}

/// Removals by reason, as in `deeper_hub_core_cache_evictions_total{reason}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Evictions {
    /// Expired entries removed (sweeps, or overwritten after expiry).
    pub ttl: u64,
    /// Live entries removed by delete, clear or delete_pattern.
    pub manual: u64,
    /// Live entries evicted by the `lru` policy to respect `memory.max_entries`/`max_bytes`.
    pub lru: u64,
    /// Live entries evicted by the `lfu` policy to respect `memory.max_entries`/`max_bytes`.
    pub lfu: u64,
    /// Writes refused for capacity (the `reject` policy, or one entry over `memory.max_bytes`).
    pub capacity: u64,
}

/// What `Cache::stats()` returns: totals and per-namespace figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CacheStats {
    /// Cache instance name.
    pub cache: String,
    /// Backend name.
    pub backend: &'static str,
    /// Sums over every namespace.
    pub total: NamespaceStats,
    /// Per namespace, by name.
    pub namespaces: BTreeMap<String, NamespaceStats>,
    /// The tiered backend's two tiers (`None` on other backends). `items`/`bytes` above are
    /// then the L1's.
    pub tiers: Option<TierStats>,
}

/// What the tiered backend's tiers did since the cache started (`CacheStats::tiers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TierStats {
    /// Reads served by this node's L1.
    pub l1_hits: u64,
    /// Reads L1 could not serve (absent, or the invalidation stream down): they went to L2.
    pub l1_misses: u64,
    /// L2 reads that found a value.
    pub l2_hits: u64,
    /// L2 reads that found nothing.
    pub l2_misses: u64,
    /// L2 reads that failed (Redis unreachable).
    pub l2_errors: u64,
    /// Reads answered from an unverified L1 entry while Redis was unreachable
    /// (`tiered.stale_if_error_ms`).
    pub stale_served: u64,
    /// Keys dropped from L1 because Redis reported a change (any client, any node).
    pub invalidations_tracking: u64,
    /// Keys dropped from L1 by flushes (stream lost or re-established, a server flush).
    pub invalidations_flush: u64,
    /// Whole-L1 flushes.
    pub flushes: u64,
    /// Times the invalidation stream was lost.
    pub tracking_losses: u64,
    /// Whether the invalidation stream is live now (L1 serving reads).
    pub tracking_live: bool,
}

/// The namespaces of one cache and their statistics.
///
/// The first `metrics.max_namespaces` namespaces get counts (and metric series) of their own;
/// every further one shares the [`OTHER_NAMESPACES`] aggregate, so an application with a
/// namespace per tenant or per user keeps bounded memory here and a bounded number of
/// Prometheus series.
#[derive(Debug)]
pub struct StatsRegistry {
    cache: Arc<str>,
    export: bool,
    sample_every: u32,
    max_namespaces: usize,
    namespaces: DashMap<Arc<str>, Arc<NsStats>>,
    other: OnceLock<Arc<NsCounts>>,
}

impl StatsRegistry {
    /// A registry for cache `cache`; `export` sends operations to the `metrics` facade, with
    /// one latency sample every `sample_every` operations per thread; at most
    /// `max_namespaces` namespaces are counted apart.
    pub fn new(cache: &str, export: bool, sample_every: u32, max_namespaces: usize) -> Self {
        StatsRegistry {
            cache: Arc::from(cache),
            export,
            sample_every,
            max_namespaces,
            namespaces: DashMap::new(),
            other: OnceLock::new(),
        }
    }

    /// Whether operations are exported through the `metrics` facade.
    pub fn exports(&self) -> bool {
        self.export
    }

    fn counts(&self, label: Arc<str>) -> Arc<NsCounts> {
        Arc::new(NsCounts::new(
            self.cache.clone(),
            label,
            self.export,
            self.sample_every,
        ))
    }

    /// The statistics of `name`, created on first use (sharing the aggregate past
    /// `max_namespaces`).
    pub fn namespace(&self, name: &str) -> Arc<NsStats> {
        if let Some(s) = self.namespaces.get(name) {
            return s.clone();
        }
        let name: Arc<str> = Arc::from(name);
        if self.namespaces.len() >= self.max_namespaces {
            let other = self
                .other
                .get_or_init(|| self.counts(Arc::from(OTHER_NAMESPACES)));
            return Arc::new(NsStats {
                name,
                counts: other.clone(),
            });
        }
        self.namespaces
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new(NsStats {
                    counts: self.counts(name.clone()),
                    name,
                })
            })
            .clone()
    }

    /// Whether `name` is counted apart (else its figures are in [`OTHER_NAMESPACES`]).
    pub fn is_counted_apart(&self, name: &str) -> bool {
        self.namespaces.contains_key(name)
    }

    /// Every namespace counted apart, and the aggregate if any namespace records into it,
    /// sorted by label.
    pub fn all(&self) -> Vec<Arc<NsStats>> {
        let mut v: Vec<_> = self.namespaces.iter().map(|e| e.value().clone()).collect();
        if let Some(other) = self.other.get() {
            v.push(Arc::new(NsStats {
                name: other.label.clone(),
                counts: other.clone(),
            }));
        }
        v.sort_by(|a, b| a.label().cmp(b.label()));
        v
    }
}
