//! Cleanup: the janitor that sweeps expired entries out of the in-memory table.
//!
//! Every `memory.cleanup_interval_ms` it removes expired entries in batches of
//! `memory.cleanup_batch_size`, yielding between batches, and logs INFO at the start and end of
//! each sweep with the number removed. Reads never depend on it: an expired entry is already a
//! miss; the sweep only frees memory. After each sweep it drops the namespaces that hold no
//! entries (`MemoryTable::reclaim_empty_namespaces`), so an application with a namespace per
//! tenant gets an emptied tenant's memory back. A sweep can also be requested (`SweepNow`),
//! which is how `Cache::purge_expired` and tests force maintenance without waiting for the
//! timer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backend::MemoryTable;
use crate::children::ChildKind;
use crate::faults::Faults;

/// Requests the Cleanup actor serves.
#[derive(Debug)]
pub enum CleanupMsg {
    /// The periodic timer fired.
    Tick,
    /// Sweep now and reply with the number of entries removed.
    SweepNow(RpcReplyPort<u64>),
}

/// The Cleanup actor.
#[derive(Debug, Default)]
pub struct Cleanup;

/// What each Cleanup incarnation starts from.
#[derive(Debug, Clone)]
pub struct CleanupArgs {
    /// The shared table.
    pub table: Arc<MemoryTable>,
    /// Sweep period.
    pub interval: Duration,
    /// Entries removed between yields.
    pub batch_size: usize,
    /// Test-only fault hooks.
    pub faults: Faults,
}

/// Cleanup state: its arguments, the timer task it owns, and when the last sweep ended.
#[derive(Debug)]
pub struct CleanupState {
    args: CleanupArgs,
    /// The interval task; aborted when the state drops (stop or crash), so no timer outlives
    /// its actor.
    _timer: AbortOnDrop,
    last_sweep_end: Option<Instant>,
}

/// Aborts a spawned task when dropped: gives every background task an owner.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Cleanup {
    async fn sweep(state: &mut CleanupState, reason: &'static str) -> u64 {
        let span = tracing::info_span!("cleanup", reason, removed = tracing::field::Empty);
        let table = &state.args.table;
        let batch = state.args.batch_size;
        let faults = &state.args.faults;
        let removed = async {
            tracing::info!(reason, "cleanup started");
            let removed = table
                .sweep_expired(batch, |_| faults.midway(ChildKind::Cleanup))
                .await;
            // Namespaces left empty (by the sweep, deletes or clears) give their memory back.
            let namespaces_dropped = table.reclaim_empty_namespaces();
            tracing::info!(removed, namespaces_dropped, "cleanup finished");
            removed
        }
        .instrument(span.clone())
        .await;
        span.record("removed", removed);
        state.last_sweep_end = Some(Instant::now());
        removed
    }
}

impl Actor for Cleanup {
    type Msg = CleanupMsg;
    type State = CleanupState;
    type Arguments = CleanupArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: CleanupArgs,
    ) -> Result<CleanupState, ActorProcessingErr> {
        args.faults.before_start(ChildKind::Cleanup)?;
        let timer = myself.send_interval(args.interval, || CleanupMsg::Tick);
        Ok(CleanupState {
            args,
            _timer: AbortOnDrop(timer),
            last_sweep_end: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: CleanupMsg,
        state: &mut CleanupState,
    ) -> Result<(), ActorProcessingErr> {
        state.args.faults.before_handle(ChildKind::Cleanup).await;
        match msg {
            CleanupMsg::Tick => {
                // Ticks that queued up behind a long sweep are skipped rather than run back to
                // back.
                let recent = state
                    .last_sweep_end
                    .is_some_and(|t| t.elapsed() < state.args.interval / 2);
                if !recent {
                    Cleanup::sweep(state, "interval").await;
                }
            }
            CleanupMsg::SweepNow(reply) => {
                let removed = Cleanup::sweep(state, "requested").await;
                let _ = reply.send(removed);
            }
        }
        Ok(())
    }
}
