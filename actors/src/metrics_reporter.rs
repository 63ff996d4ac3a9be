//! MetricsReporter: refreshes size gauges and logs a stats line on a timer.
//!
//! Every `metrics_reporter.report_interval_ms` it asks the Store for the table's usage (when
//! the backend is the memory table), sets the `deeper_hub_core_cache_size_items`,
//! `deeper_hub_core_cache_size_bytes` and `deeper_hub_core_cache_hit_ratio` gauges through the
//! `metrics` facade (no recorder installed means no cost beyond a no-op call), and logs one
//! INFO line with the operation counts since the previous report. The counts themselves live in
//! shared atomics ([`OpCounters`]), so a crash of this actor loses none of them.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::cleanup::AbortOnDrop;
use crate::faults::Faults;
use crate::stats::{OpCounters, OpSnapshot};
use crate::supervisor::{ChildKind, Slots};

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
    /// Report period.
    pub interval: Duration,
    /// Shared operation counters.
    pub counters: Arc<OpCounters>,
    /// Where to find the current Store.
    pub(crate) slots: Arc<Slots>,
    /// Test-only fault hooks.
    pub faults: Faults,
}

/// Reporter state.
#[derive(Debug)]
pub struct MetricsReporterState {
    args: MetricsReporterArgs,
    _timer: AbortOnDrop,
    last: OpSnapshot,
}

impl Actor for MetricsReporter {
    type Msg = MetricsReporterMsg;
    type State = MetricsReporterState;
    type Arguments = MetricsReporterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: MetricsReporterArgs,
    ) -> Result<MetricsReporterState, ActorProcessingErr> {
        args.faults.before_start(ChildKind::MetricsReporter)?;
        let timer = myself.send_interval(args.interval, || MetricsReporterMsg::Tick);
        // Start from the current counts so a restarted reporter reports only what is new.
        let last = args.counters.snapshot();
        Ok(MetricsReporterState {
            args,
            _timer: AbortOnDrop(timer),
            last,
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
                let now = state.args.counters.snapshot();
                let usage = match state.args.slots.store() {
                    Some(store) => store
                        .call(crate::store::StoreMsg::Usage, Some(state.args.interval))
                        .await
                        .ok()
                        .and_then(|r| r.success_or(()).ok()),
                    None => None,
                };
                let cache = state.args.cache.clone();
                if let Some(usage) = &usage {
                    for ns in &usage.namespaces {
                        let labels = [
                            ("cache", cache.clone()),
                            ("namespace", ns.namespace.clone()),
                        ];
                        metrics::gauge!("deeper_hub_core_cache_size_items", &labels)
                            .set(ns.entries as f64);
                        metrics::gauge!("deeper_hub_core_cache_size_bytes", &labels)
                            .set(ns.bytes as f64);
                    }
                }
                metrics::gauge!("deeper_hub_core_cache_hit_ratio", "cache" => cache.clone())
                    .set(now.hit_ratio());
                let hits = now.hits - state.last.hits;
                let misses = now.misses - state.last.misses;
                let reads = hits + misses;
                let ratio = if reads == 0 {
                    0.0
                } else {
                    hits as f64 / reads as f64
                };
                tracing::info!(
                    cache = %cache,
                    hits,
                    misses,
                    hit_ratio = format_args!("{ratio:.3}"),
                    writes = now.writes - state.last.writes,
                    deletes = now.deletes - state.last.deletes,
                    errors = now.errors - state.last.errors,
                    items = usage.as_ref().map(|u| u.entries),
                    bytes = usage.as_ref().map(|u| u.bytes),
                    "cache stats"
                );
                state.last = now;
            }
        }
        Ok(())
    }
}
