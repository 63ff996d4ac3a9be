//! Store: the ETS-equivalent owner of the in-memory table.
//!
//! The table itself lives in an `Arc` the supervisor keeps (the ETS *heir*): every Store
//! incarnation is handed the same table, so a Store crash loses no entry. Data-path operations
//! do not hop through this actor (the adapters use the concurrent table directly); the Store
//! answers table-wide questions — how many entries and bytes, per namespace — for the
//! MetricsReporter and the facade.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::backend::{MemoryTable, TableUsage};
use crate::children::ChildKind;
use crate::faults::Faults;

/// Requests the Store serves.
#[derive(Debug)]
pub enum StoreMsg {
    /// Entry and byte counts, per namespace.
    Usage(RpcReplyPort<TableUsage>),
}

/// The Store actor.
#[derive(Debug, Default)]
pub struct Store;

/// What each Store incarnation starts from (also its state).
#[derive(Debug, Clone)]
pub struct StoreArgs {
    /// The shared table.
    pub table: Arc<MemoryTable>,
    /// Test-only fault hooks.
    pub faults: Faults,
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreArgs;
    type Arguments = StoreArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: StoreArgs,
    ) -> Result<StoreArgs, ActorProcessingErr> {
        args.faults.before_start(ChildKind::Store)?;
        let usage = args.table.usage();
        tracing::info!(actor = ?myself.get_name(), entries = usage.entries, "store started");
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: StoreMsg,
        state: &mut StoreArgs,
    ) -> Result<(), ActorProcessingErr> {
        state.faults.before_handle(ChildKind::Store).await;
        match msg {
            StoreMsg::Usage(reply) => {
                let _ = reply.send(state.table.usage());
            }
        }
        Ok(())
    }
}
