//! CacheSupervisor: spawns, owns and restarts the cache's actors.
//!
//! Children, in start order (the order a later `rest_for_one` strategy restarts along):
//!
//! | child           | present when        | why this position                                   |
//! |-----------------|---------------------|-----------------------------------------------------|
//! | Store           | memory backend      | owns the table the others use                       |
//! | CacheAdapter ×N | always              | serves the facade (`adapter.partitions` in `rpc`)   |
//! | Cleanup         | memory backend      | sweeps the table                                    |
//! | MetricsReporter | always              | reads counters and asks the Store for usage         |
//! | CacheWarmer     | warmers registered  | writes through the backend; last, so all else is up |
//!
//! The supervisor overrides `handle_supervisor_evt` (ractor's default would stop it on any
//! child exit). When a child fails or stops unexpectedly, the configured OTP strategy
//! (`supervisor.strategy`) decides which children restart:
//!
//! | strategy       | restarted                                              |
//! |----------------|--------------------------------------------------------|
//! | `one_for_one`  | the child that exited                                  |
//! | `one_for_all`  | every child (the others are stopped first, in reverse) |
//! | `rest_for_one` | the child that exited and every child after it         |
//!
//! Restart intensity: each exit handled, and each restart whose `pre_start` fails, counts one
//! restart; more than `supervisor.max_restarts` within `supervisor.max_seconds` makes the
//! supervisor log an ERROR and stop with an error, so its parent receives `ActorFailed` and
//! decides (see `Cache::start_linked`). Facade calls then fail fast with `Unavailable`.
//!
//! The table and the counters live in `Arc`s the supervisor keeps and hands to each new
//! incarnation, so no restart loses data. The facade finds the current incarnation of each
//! actor through `Slots`, which the supervisor updates on every (re)start.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;

use crate::adapter::{AdapterArgs, CacheAdapter};
use crate::backend::{CacheBackend, MemoryTable};
use crate::children::ChildKind;
use crate::cleanup::{Cleanup, CleanupArgs};
use crate::config::{CacheConfig, Strategy};
use crate::faults::Faults;
use crate::metrics_reporter::{MetricsReporter, MetricsReporterArgs};
use crate::slots::Slots;
use crate::stats::StatsRegistry;
use crate::store::{Store, StoreArgs};
use crate::warmer::{CacheWarmer, CacheWarmerArgs, WarmerSet};

/// Requests the supervisor serves.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// The strategy, the restart count and the children.
    Status(RpcReplyPort<SupervisorStatus>),
}

/// What `Cache::supervisor_status` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupervisorStatus {
    /// The restart strategy in force.
    pub strategy: Strategy,
    /// Child exits handled since start (one per failure, whatever the strategy restarts).
    pub restarts: u64,
    /// The children in start order.
    pub children: Vec<ChildStatus>,
}

/// One child as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildStatus {
    /// Which child.
    pub kind: ChildKind,
    /// Partition number for adapters (`0..adapter.partitions`), 0 for the others.
    pub index: usize,
    /// Current actor id (changes on every restart), `None` while down.
    pub actor_id: Option<String>,
    /// Restarts since the cache started.
    pub restarts: u32,
}

/// What the supervisor starts from.
#[derive(Debug, Clone)]
pub struct SupervisorArgs {
    /// Instance name.
    pub name: String,
    /// Validated settings.
    pub config: CacheConfig,
    /// The backend every adapter incarnation serves.
    pub backend: Arc<dyn CacheBackend>,
    /// The in-memory table, when the backend is the memory table.
    pub table: Option<Arc<MemoryTable>>,
    /// Per-namespace operation statistics.
    pub stats: Arc<StatsRegistry>,
    pub(crate) slots: Arc<Slots>,
    /// The registered warmers (no CacheWarmer child when empty).
    pub warmers: Arc<WarmerSet>,
    /// Test-only fault hooks handed to every child.
    pub faults: Faults,
}

#[derive(Debug)]
struct Child {
    kind: ChildKind,
    index: usize,
    cell: Option<ActorCell>,
    restarts: u32,
}

/// Supervisor state: its arguments, its children in start order, and the restart history
/// the intensity limit is judged on.
#[derive(Debug)]
pub struct SupervisorState {
    args: SupervisorArgs,
    children: Vec<Child>,
    /// When each restart within the current window happened.
    restart_log: VecDeque<Instant>,
    /// Child exits handled since start.
    exits_handled: u64,
}

/// The cache's supervisor actor.
#[derive(Debug, Default)]
pub struct CacheSupervisor;

impl CacheSupervisor {
    /// The child specs for a configuration, in start order: `(kind, index)`.
    fn child_specs(args: &SupervisorArgs) -> Vec<(ChildKind, usize)> {
        let mut specs = Vec::with_capacity(4);
        if args.table.is_some() {
            specs.push((ChildKind::Store, 0));
        }
        specs.extend((0..args.slots.partitions()).map(|i| (ChildKind::Adapter, i)));
        if args.table.is_some() {
            specs.push((ChildKind::Cleanup, 0));
        }
        specs.push((ChildKind::MetricsReporter, 0));
        if !args.warmers.is_empty() {
            specs.push((ChildKind::CacheWarmer, 0));
        }
        specs
    }

    /// Spawns one child linked to the supervisor and publishes it in the slots.
    async fn spawn_child(
        myself: &ActorRef<SupervisorMsg>,
        args: &SupervisorArgs,
        kind: ChildKind,
        index: usize,
    ) -> Result<ActorCell, ActorProcessingErr> {
        let name = Some(match kind {
            ChildKind::Adapter => format!("{}.adapter.{index}", args.name),
            other => format!("{}.{}", args.name, other.as_str()),
        });
        let sup = myself.get_cell();
        let missing_table = || -> ActorProcessingErr { "the memory table is missing".into() };
        let cell = match kind {
            ChildKind::Store => {
                let a = StoreArgs {
                    table: args.table.clone().ok_or_else(missing_table)?,
                    faults: args.faults.clone(),
                };
                let (r, _) = Actor::spawn_linked(name, Store, a, sup).await?;
                args.slots.set_store(r.clone());
                r.get_cell()
            }
            ChildKind::Adapter => {
                let a = AdapterArgs {
                    backend: args.backend.clone(),
                    faults: args.faults.clone(),
                };
                let (r, _) = Actor::spawn_linked(name, CacheAdapter, a, sup).await?;
                args.slots.set_adapter(index, r.clone());
                r.get_cell()
            }
            ChildKind::Cleanup => {
                let a = CleanupArgs {
                    table: args.table.clone().ok_or_else(missing_table)?,
                    interval: Duration::from_millis(args.config.memory.cleanup_interval_ms),
                    batch_size: args.config.memory.cleanup_batch_size,
                    faults: args.faults.clone(),
                };
                let (r, _) = Actor::spawn_linked(name, Cleanup, a, sup).await?;
                args.slots.set_cleanup(r.clone());
                r.get_cell()
            }
            ChildKind::MetricsReporter => {
                let a = MetricsReporterArgs {
                    cache: args.name.clone(),
                    config: args.config.metrics_reporter.clone(),
                    export: args.config.metrics.enabled,
                    stats: args.stats.clone(),
                    slots: args.slots.clone(),
                    backend: args.backend.clone(),
                    faults: args.faults.clone(),
                };
                let (r, _) = Actor::spawn_linked(name, MetricsReporter, a, sup).await?;
                r.get_cell()
            }
            ChildKind::CacheWarmer => {
                let a = CacheWarmerArgs {
                    set: args.warmers.clone(),
                    faults: args.faults.clone(),
                };
                let (r, _) = Actor::spawn_linked(name, CacheWarmer, a, sup).await?;
                args.slots.set_warmer(r.clone());
                r.get_cell()
            }
        };
        Ok(cell)
    }

    /// Records one restart and checks the intensity limit.
    fn record_restart(state: &mut SupervisorState) -> Result<(), ActorProcessingErr> {
        let cfg = &state.args.config.supervisor;
        let now = Instant::now();
        let window = Duration::from_secs(cfg.max_seconds);
        while state
            .restart_log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            state.restart_log.pop_front();
        }
        state.restart_log.push_back(now);
        if state.restart_log.len() > cfg.max_restarts as usize {
            let reason = format!(
                "restart intensity exceeded: more than {} restarts within {} s",
                cfg.max_restarts, cfg.max_seconds
            );
            tracing::error!(cache = %state.args.name, %reason, "cache supervisor stops; its parent decides");
            state.args.slots.failed.store(true, Ordering::Release);
            return Err(reason.into());
        }
        Ok(())
    }

    /// Handles the exit of a child: picks the children to restart by strategy, stops the
    /// survivors among them (reverse start order), and restarts them in start order.
    async fn on_child_exit(
        myself: &ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
        cell: &ActorCell,
        why: String,
    ) -> Result<(), ActorProcessingErr> {
        if state.args.slots.is_closed() {
            return Ok(());
        }
        let id = cell.get_id();
        let Some(idx) = state
            .children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|c| c.get_id() == id))
        else {
            return Ok(()); // an incarnation we replaced or stopped on purpose
        };
        let strategy = state.args.config.supervisor.strategy;
        let kind = state.children[idx].kind;
        state.children[idx].cell = None;
        state.exits_handled += 1;
        state.args.slots.clear(kind, state.children[idx].index);
        tracing::warn!(
            cache = %state.args.name,
            child = kind.as_str(),
            reason = %why,
            strategy = strategy.as_str(),
            restarts_in_window = state.restart_log.len() + 1,
            "child exited; restarting"
        );
        let targets: Vec<usize> = match strategy {
            Strategy::OneForOne => vec![idx],
            Strategy::OneForAll => (0..state.children.len()).collect(),
            Strategy::RestForOne => (idx..state.children.len()).collect(),
        };
        // Stop the siblings being restarted with it. Their cells are cleared first, so the
        // exit events they send are recognised as deliberate and ignored.
        for &i in targets.iter().rev() {
            if let Some(sibling) = state.children[i].cell.take() {
                state
                    .args
                    .slots
                    .clear(state.children[i].kind, state.children[i].index);
                let _ = sibling
                    .stop_and_wait(
                        Some(format!("{} restart", strategy.as_str())),
                        Some(Duration::from_secs(5)),
                    )
                    .await;
            }
        }
        Self::record_restart(state)?;
        for i in targets {
            let (kind, index) = (state.children[i].kind, state.children[i].index);
            loop {
                state.children[i].restarts += 1;
                metrics::counter!(
                    crate::stats::names::RESTARTS,
                    "cache" => state.args.name.clone(),
                    "actor" => kind.as_str()
                )
                .increment(1);
                match Self::spawn_child(myself, &state.args, kind, index).await {
                    Ok(cell) => {
                        state.children[i].cell = Some(cell);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(cache = %state.args.name, child = kind.as_str(), error = %e, "restart failed in pre_start; counts as a restart");
                        Self::record_restart(state)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Actor for CacheSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let mut children = Vec::new();
        for (kind, index) in Self::child_specs(&args) {
            let cell = Self::spawn_child(&myself, &args, kind, index).await?;
            children.push(Child {
                kind,
                index,
                cell: Some(cell),
                restarts: 0,
            });
        }
        tracing::info!(cache = %args.name, backend = args.backend.name(), strategy = args.config.supervisor.strategy.as_str(), "cache started");
        args.slots.failed.store(false, Ordering::Release);
        Ok(SupervisorState {
            args,
            children,
            restart_log: VecDeque::new(),
            exits_handled: 0,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        state.args.slots.closed.store(true, Ordering::Release);
        // Stop children in reverse start order and wait for each, so nothing outlives the tree.
        for child in state.children.iter_mut().rev() {
            state.args.slots.clear(child.kind, child.index);
            if let Some(cell) = child.cell.take() {
                let _ = cell
                    .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
                    .await;
            }
        }
        tracing::info!(cache = %state.args.name, "cache stopped");
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Status(reply) => {
                let children = state
                    .children
                    .iter()
                    .map(|c| ChildStatus {
                        kind: c.kind,
                        index: c.index,
                        actor_id: c.cell.as_ref().map(|c| c.get_id().to_string()),
                        restarts: c.restarts,
                    })
                    .collect();
                let _ = reply.send(SupervisorStatus {
                    strategy: state.args.config.supervisor.strategy,
                    restarts: state.exits_handled,
                    children,
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                Self::on_child_exit(&myself, state, &cell, format!("failed: {err}")).await
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let why = format!("terminated: {}", reason.as_deref().unwrap_or("no reason"));
                Self::on_child_exit(&myself, state, &cell, why).await
            }
            _ => Ok(()),
        }
    }
}
