//! CacheAdapter: turns facade requests into backend operations.
//!
//! Serves the `rpc` data plane (`adapter.mode = "rpc"`): each message carries one request
//! (see [`crate::ops`]) with its typed reply port; the adapter applies it to the backend
//! exactly as the `direct` plane does in the caller's task (`Request::apply`) and replies. With
//! `adapter.partitions` > 1 several adapters share the work, a key always going to the same
//! one. Outcomes are counted by the caller's side (`CacheService`), so both data planes count
//! the same way. The handler only awaits the backend (for the memory backend that is a few
//! hash-map operations); it never awaits caller code such as a `get_or_store` generator, which
//! runs in the caller's task.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::backend::CacheBackend;
use crate::children::ChildKind;
use crate::faults::Faults;
use crate::ops::Carried;

/// What the CacheAdapter serves: one request ([`crate::ops`]) with its namespace, key and
/// typed reply port.
#[derive(Debug)]
pub struct AdapterMsg(pub(crate) Carried);

/// The CacheAdapter actor.
#[derive(Debug, Default)]
pub struct CacheAdapter;

/// What each adapter incarnation starts from.
#[derive(Debug, Clone)]
pub struct AdapterArgs {
    /// The backend, shared across incarnations.
    pub backend: Arc<dyn CacheBackend>,
    /// Test-only fault hooks (empty without the `testing` feature).
    pub faults: Faults,
}

impl Actor for CacheAdapter {
    type Msg = AdapterMsg;
    type State = AdapterArgs;
    type Arguments = AdapterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: AdapterArgs,
    ) -> Result<AdapterArgs, ActorProcessingErr> {
        args.faults.before_start(ChildKind::Adapter)?;
        tracing::info!(actor = ?myself.get_name(), backend = args.backend.name(), "adapter started");
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: AdapterMsg,
        state: &mut AdapterArgs,
    ) -> Result<(), ActorProcessingErr> {
        state.faults.before_handle(ChildKind::Adapter).await;
        msg.0.run(&*state.backend, &state.faults).await;
        Ok(())
    }
}
