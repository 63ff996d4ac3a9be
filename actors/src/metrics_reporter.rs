//! MetricsReporter: refreshes gauges, logs a stats line, and warns, on a timer.
//!
//! Every `metrics_reporter.report_interval_ms` it
//! - asks the Store for the table's usage (memory backend) and sets, per namespace,
//!   `deeper_hub_core_cache_size_items`, `deeper_hub_core_cache_size_bytes`,
//!   `deeper_hub_core_cache_hit_ratio` and the `deeper_hub_core_cache_evictions_total{reason}`
//!   counters (`ttl`, `manual`, `lru`, `lfu`, `capacity`);
//! - logs one INFO line with the hits, misses, hit ratio, items, bytes and evictions since the
//!   previous report;
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

use crate::backend::TableUsage;
use crate::children::ChildKind;
use crate::cleanup::AbortOnDrop;
use crate::config::MetricsReporterConfig;
use crate::faults::Faults;
use crate::slots::Slots;
use crate::stats::{StatsRegistry, names, ratio};
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

/// Reporter state.
#[derive(Debug)]
pub struct MetricsReporterState {
    args: MetricsReporterArgs,
    _timer: AbortOnDrop,
    last: Totals,
    handles: HashMap<String, NsHandles>,
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
        let handles = &mut state.handles;
        let mut handle = |ns: &str| {
            if !handles.contains_key(ns) {
                handles.insert(ns.to_string(), NsHandles::new(cache, ns));
            }
        };
        for ns in state.args.stats.all() {
            handle(ns.name());
        }
        for ns in usage.map(|u| u.namespaces.as_slice()).unwrap_or_default() {
            handle(&ns.namespace);
        }
        for ns in state.args.stats.all() {
            let (h, m) = ns.hits_misses();
            if let Some(g) = state.handles.get(&**ns.name()) {
                g.hit_ratio.set(ratio(h, m));
            }
        }
        for ns in usage.map(|u| u.namespaces.as_slice()).unwrap_or_default() {
            let Some(h) = state.handles.get(&ns.namespace) else {
                continue;
            };
            h.items.set(ns.entries as f64);
            h.bytes.set(ns.bytes as f64);
            h.evicted_ttl.absolute(ns.evicted_ttl);
            h.evicted_manual.absolute(ns.evicted_manual);
            h.evicted_lru.absolute(ns.evicted_lru);
            h.evicted_lfu.absolute(ns.evicted_lfu);
            h.evicted_capacity.absolute(ns.evicted_capacity);
        }
    }

    fn report(state: &mut MetricsReporterState, usage: Option<&TableUsage>) {
        let now = Self::totals(&state.args, usage);
        let last = state.last;
        let hits = now.hits.saturating_sub(last.hits);
        let misses = now.misses.saturating_sub(last.misses);
        let reads = hits + misses;
        let cfg = &state.args.config;
        let cache = &state.args.cache;
        tracing::info!(
            cache = %cache,
            hits,
            misses,
            hit_ratio = format_args!("{:.3}", ratio(hits, misses)),
            items = usage.map(|u| u.entries),
            bytes = usage.map(|u| u.bytes),
            evicted_ttl = now.evicted_ttl.saturating_sub(last.evicted_ttl),
            evicted_manual = now.evicted_manual.saturating_sub(last.evicted_manual),
            "cache stats"
        );
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
        Ok(MetricsReporterState {
            args,
            _timer: AbortOnDrop(timer),
            last,
            handles: HashMap::new(),
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
                if state.args.export {
                    Self::export(state, usage.as_ref());
                }
                Self::report(state, usage.as_ref());
            }
        }
        Ok(())
    }
}
