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

/// Requests the Store serves.
#[derive(Debug)]
pub enum StoreMsg {
    /// Entry and byte counts, per namespace.
    Usage(RpcReplyPort<TableUsage>),
}

/// The Store actor.
#[derive(Debug, Default)]
pub struct Store;

/// The Store's state: the shared table.
#[derive(Debug)]
pub struct StoreState {
    table: Arc<MemoryTable>,
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Arc<MemoryTable>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        table: Arc<MemoryTable>,
    ) -> Result<StoreState, ActorProcessingErr> {
        let usage = table.usage();
        tracing::info!(actor = ?myself.get_name(), entries = usage.entries, "store started");
        Ok(StoreState { table })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: StoreMsg,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Usage(reply) => {
                let _ = reply.send(state.table.usage());
            }
        }
        Ok(())
    }
}
