//! MetricsReporter: refreshes gauges, logs a stats line, and warns, on a timer.
//!
//! Every `metrics_reporter.report_interval_ms` it
//! - asks the Store for the table's usage (memory backend) and sets, per namespace,
//!   `deeper_hub_core_cache_size_items`, `deeper_hub_core_cache_size_bytes`,
//!   `deeper_hub_core_cache_hit_ratio` and the `deeper_hub_core_cache_evictions_total{reason}`
//!   counters (`ttl`, `manual`, `lru`, `lfu`, `capacity`);
//! - with the tiered backend, sets `deeper_hub_core_cache_tier_reads_total{tier,result}`,
//!   `..._invalidations_total{source}`, `..._l1_flushes_total` and `..._l1_tracking`;
//! - logs one INFO line with the hits, misses, hit ratio, items, bytes and evictions since the
//!   previous report (and, tiered, each tier's reads and the L1's invalidations);
//! - logs WARN when the interval's miss ratio is above `miss_ratio_warn` over at least
//!   `miss_ratio_min_requests` reads, and when the table holds more than
//!   `capacity_warn_items` entries or `capacity_warn_bytes` bytes.
//!
//! The counts it reads live in the shared [`StatsRegistry`] and the table, outside every
//! actor: a crash of this actor loses none of them, and a restarted reporter starts its
//! interval from the current counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::backend::{CacheBackend, NamespaceUsage, TableUsage};
use crate::children::ChildKind;
use crate::cleanup::AbortOnDrop;
use crate::config::MetricsReporterConfig;
use crate::faults::Faults;
use crate::slots::Slots;
use crate::stats::{OTHER_NAMESPACES, StatsRegistry, TierStats, names, ratio};
use crate::store::StoreMsg;

/// Requests the MetricsReporter serves.
#[derive(Debug)]
pub enum MetricsReporterMsg {
    /// The report timer fired.
    Tick,
}

/// The MetricsReporter actor.
#[derive(Debug, Default)]
pub struct MetricsReporter;

/// What each MetricsReporter incarnation starts from.
#[derive(Debug, Clone)]
pub struct MetricsReporterArgs {
    /// Cache instance name (the `cache` label).
    pub cache: String,
    /// Report period and warning thresholds.
    pub config: MetricsReporterConfig,
    /// Whether gauges are exported through the `metrics` facade.
    pub export: bool,
    /// Per-namespace operation statistics.
    pub stats: Arc<StatsRegistry>,
    /// Where to find the current Store.
    pub(crate) slots: Arc<Slots>,
    /// The backend (for its per-tier figures, if it has tiers).
    pub backend: Arc<dyn CacheBackend>,
    /// Test-only fault hooks.
    pub faults: Faults,
}

/// Totals at the previous report.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    hits: u64,
    misses: u64,
    evicted_ttl: u64,
    evicted_manual: u64,
}

/// Gauge and counter handles of one namespace, resolved on its first report.
#[derive(Debug)]
struct NsHandles {
    items: metrics::Gauge,
    bytes: metrics::Gauge,
    hit_ratio: metrics::Gauge,
    evicted_ttl: metrics::Counter,
    evicted_manual: metrics::Counter,
    evicted_lru: metrics::Counter,
    evicted_lfu: metrics::Counter,
    evicted_capacity: metrics::Counter,
}

impl NsHandles {
    fn new(cache: &str, ns: &str) -> Self {
        let labels = || [("cache", cache.to_string()), ("namespace", ns.to_string())];
        let eviction = |reason: &'static str| metrics::counter!(names::EVICTIONS, "cache" => cache.to_string(), "namespace" => ns.to_string(), "reason" => reason);
        NsHandles {
            items: metrics::gauge!(names::SIZE_ITEMS, &labels()),
            bytes: metrics::gauge!(names::SIZE_BYTES, &labels()),
            hit_ratio: metrics::gauge!(names::HIT_RATIO, &labels()),
            evicted_ttl: eviction("ttl"),
            evicted_manual: eviction("manual"),
            evicted_lru: eviction("lru"),
            evicted_lfu: eviction("lfu"),
            evicted_capacity: eviction("capacity"),
        }
    }
}

/// Counter and gauge handles of the tiered backend's figures.
#[derive(Debug)]
struct TierHandles {
    l1_hit: metrics::Counter,
    l1_miss: metrics::Counter,
    l2_hit: metrics::Counter,
    l2_miss: metrics::Counter,
    l2_error: metrics::Counter,
    stale: metrics::Counter,
    invalidated_tracking: metrics::Counter,
    invalidated_flush: metrics::Counter,
    flushes: metrics::Counter,
    tracking: metrics::Gauge,
}

impl TierHandles {
    fn new(cache: &str) -> Self {
        let read = |tier: &'static str, result: &'static str| metrics::counter!(names::TIER_READS, "cache" => cache.to_string(), "tier" => tier, "result" => result);
        let inv = |source: &'static str| metrics::counter!(names::INVALIDATIONS, "cache" => cache.to_string(), "source" => source);
        TierHandles {
            l1_hit: read("l1", "hit"),
            l1_miss: read("l1", "miss"),
            l2_hit: read("l2", "hit"),
            l2_miss: read("l2", "miss"),
            l2_error: read("l2", "error"),
            stale: read("l1", "stale"),
            invalidated_tracking: inv("tracking"),
            invalidated_flush: inv("flush"),
            flushes: metrics::counter!(names::L1_FLUSHES, "cache" => cache.to_string()),
            tracking: metrics::gauge!(names::L1_TRACKING, "cache" => cache.to_string()),
        }
    }

    fn set(&self, t: &TierStats) {
        self.l1_hit.absolute(t.l1_hits);
        self.l1_miss.absolute(t.l1_misses);
        self.l2_hit.absolute(t.l2_hits);
        self.l2_miss.absolute(t.l2_misses);
        self.l2_error.absolute(t.l2_errors);
        self.stale.absolute(t.stale_served);
        self.invalidated_tracking.absolute(t.invalidations_tracking);
        self.invalidated_flush.absolute(t.invalidations_flush);
        self.flushes.absolute(t.flushes);
        self.tracking.set(if t.tracking_live { 1.0 } else { 0.0 });
    }
}

/// Reporter state.
#[derive(Debug)]
pub struct MetricsReporterState {
    args: MetricsReporterArgs,
    _timer: AbortOnDrop,
    last: Totals,
    /// Tier figures at the previous report (tiered backend).
    last_tiers: TierStats,
    handles: HashMap<String, NsHandles>,
    tier_handles: Option<TierHandles>,
}

impl MetricsReporter {
    async fn usage(args: &MetricsReporterArgs) -> Option<TableUsage> {
        let store = args.slots.store()?;
        let timeout =
            Duration::from_millis(args.config.report_interval_ms).min(Duration::from_secs(1));
        store
            .call(StoreMsg::Usage, Some(timeout))
            .await
            .ok()
            .and_then(|r| r.success_or(()).ok())
    }

    fn totals(args: &MetricsReporterArgs, usage: Option<&TableUsage>) -> Totals {
        let mut t = Totals::default();
        for ns in args.stats.all() {
            let (h, m) = ns.hits_misses();
            t.hits += h;
            t.misses += m;
        }
        for ns in usage.map(|u| u.namespaces.as_slice()).unwrap_or_default() {
            t.evicted_ttl += ns.evicted_ttl;
            t.evicted_manual += ns.evicted_manual;
        }
        t
    }

    fn export(state: &mut MetricsReporterState, usage: Option<&TableUsage>) {
        let cache = &state.args.cache;
        let stats = &state.args.stats;
        // Table figures by label: namespaces past `metrics.max_namespaces` are summed into the
        // `(other)` aggregate, as their operation counts are.
        let mut table: HashMap<String, NamespaceUsage> = HashMap::new();
        for ns in usage.map(|u| u.namespaces.as_slice()).unwrap_or_default() {
            let label = if stats.is_counted_apart(&ns.namespace) {
                ns.namespace.as_str()
            } else {
                OTHER_NAMESPACES
            };
            let t = table
                .entry(label.to_string())
                .or_insert_with(|| NamespaceUsage {
                    namespace: label.to_string(),
                    entries: 0,
                    bytes: 0,
                    evicted_ttl: 0,
                    evicted_manual: 0,
                    evicted_lru: 0,
                    evicted_lfu: 0,
                    evicted_capacity: 0,
                });
            t.entries += ns.entries;
            t.bytes += ns.bytes;
            t.evicted_ttl += ns.evicted_ttl;
            t.evicted_manual += ns.evicted_manual;
            t.evicted_lru += ns.evicted_lru;
            t.evicted_lfu += ns.evicted_lfu;
            t.evicted_capacity += ns.evicted_capacity;
        }
        fn handle<'a>(
            handles: &'a mut HashMap<String, NsHandles>,
            cache: &str,
            label: &str,
        ) -> &'a NsHandles {
            handles
                .entry(label.to_string())
                .or_insert_with(|| NsHandles::new(cache, label))
        }
        let handles = &mut state.handles;
        for ns in stats.all() {
            let (h, m) = ns.hits_misses();
            handle(handles, cache, ns.label())
                .hit_ratio
                .set(ratio(h, m));
        }
        for (label, ns) in &table {
            let h = handle(handles, cache, label);
            h.items.set(ns.entries as f64);
            h.bytes.set(ns.bytes as f64);
            h.evicted_ttl.absolute(ns.evicted_ttl);
            h.evicted_manual.absolute(ns.evicted_manual);
            h.evicted_lru.absolute(ns.evicted_lru);
            h.evicted_lfu.absolute(ns.evicted_lfu);
            h.evicted_capacity.absolute(ns.evicted_capacity);
        }
    }

    fn export_tiers(state: &mut MetricsReporterState, tiers: Option<&TierStats>) {
        let Some(t) = tiers else { return };
        let cache = &state.args.cache;
        state
            .tier_handles
            .get_or_insert_with(|| TierHandles::new(cache))
            .set(t);
    }

    fn report(
        state: &mut MetricsReporterState,
        usage: Option<&TableUsage>,
        tiers: Option<&TierStats>,
    ) {
        let now = Self::totals(&state.args, usage);
        let last = state.last;
        let hits = now.hits.saturating_sub(last.hits);
        let misses = now.misses.saturating_sub(last.misses);
        let reads = hits + misses;
        let cfg = &state.args.config;
        let cache = &state.args.cache;
        // The tiered backend adds each tier's reads and the L1's invalidations since the last
        // report (items and bytes are then the L1's).
        let lt = state.last_tiers;
        let since = |f: fn(&TierStats) -> u64| tiers.map(|t| f(t).saturating_sub(f(&lt)));
        tracing::info!(
            cache = %cache,
            hits,
            misses,
            hit_ratio = format_args!("{:.3}", ratio(hits, misses)),
            items = usage.map(|u| u.entries),
            bytes = usage.map(|u| u.bytes),
            evicted_ttl = now.evicted_ttl.saturating_sub(last.evicted_ttl),
            evicted_manual = now.evicted_manual.saturating_sub(last.evicted_manual),
            l1_hits = since(|t| t.l1_hits),
            l2_hits = since(|t| t.l2_hits),
            l2_misses = since(|t| t.l2_misses),
            l2_errors = since(|t| t.l2_errors),
            invalidations = since(|t| t.invalidations_tracking),
            l1_flushes = since(|t| t.flushes),
            l1_live = tiers.map(|t| t.tracking_live),
            "cache stats"
        );
        if let Some(t) = tiers {
            state.last_tiers = *t;
        }
        let miss_ratio = if reads == 0 {
            0.0
        } else {
            misses as f64 / reads as f64
        };
        if reads >= cfg.miss_ratio_min_requests && miss_ratio > cfg.miss_ratio_warn {
            tracing::warn!(
                cache = %cache,
                misses,
                reads,
                miss_ratio = format_args!("{miss_ratio:.3}"),
                threshold = cfg.miss_ratio_warn,
                "high miss ratio"
            );
        }
        if let Some(u) = usage {
            let items_high = cfg.capacity_warn_items > 0 && u.entries >= cfg.capacity_warn_items;
            let bytes_high = cfg.capacity_warn_bytes > 0 && u.bytes >= cfg.capacity_warn_bytes;
            if items_high || bytes_high {
                tracing::warn!(
                    cache = %cache,
                    items = u.entries,
                    bytes = u.bytes,
                    items_warn = cfg.capacity_warn_items,
                    bytes_warn = cfg.capacity_warn_bytes,
                    "cache near capacity"
                );
            }
        }
        state.last = now;
    }
}

impl Actor for MetricsReporter {
    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut MetricsReporterState,
    ) -> Result<(), ActorProcessingErr> {
        // A last publication, so counts since the last tick reach the recorder.
        if state.args.export {
            for ns in state.args.stats.all() {
                ns.publish();
            }
        }
        Ok(())
    }

    type Msg = MetricsReporterMsg;
    type State = MetricsReporterState;
    type Arguments = MetricsReporterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: MetricsReporterArgs,
    ) -> Result<MetricsReporterState, ActorProcessingErr> {
        args.faults.before_start(ChildKind::MetricsReporter)?;
        let period = Duration::from_millis(args.config.report_interval_ms);
        let timer = myself.send_interval(period, || MetricsReporterMsg::Tick);
        // Start from the current counts so a restarted reporter reports only what is new.
        let usage = Self::usage(&args).await;
        let last = Self::totals(&args, usage.as_ref());
        let last_tiers = args.backend.tier_stats().unwrap_or_default();
        Ok(MetricsReporterState {
            args,
            _timer: AbortOnDrop(timer),
            last,
            last_tiers,
            handles: HashMap::new(),
            tier_handles: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: MetricsReporterMsg,
        state: &mut MetricsReporterState,
    ) -> Result<(), ActorProcessingErr> {
        state
            .args
            .faults
            .before_handle(ChildKind::MetricsReporter)
            .await;
        match msg {
            MetricsReporterMsg::Tick => {
                if state.args.export {
                    for ns in state.args.stats.all() {
                        ns.publish();
                    }
                }
                let usage = Self::usage(&state.args).await;
                let tiers = state.args.backend.tier_stats();
                if state.args.export {
                    Self::export(state, usage.as_ref());
                    Self::export_tiers(state, tiers.as_ref());
                }
                Self::report(state, usage.as_ref(), tiers.as_ref());
            }
        }
        Ok(())
    }
}
