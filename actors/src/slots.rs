//! [`Slots`]: where the facade finds the current incarnation of each actor it talks to.
//!
//! The supervisor publishes every (re)started child here and empties a child's slot while it
//! is down; the service (`service.rs`) and the MetricsReporter read them. Kept apart from
//! `supervisor.rs` so readers of the slots do not import the supervisor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwapOption;
use ractor::ActorRef;

use crate::adapter::AdapterMsg;
use crate::children::ChildKind;
use crate::cleanup::CleanupMsg;
use crate::store::StoreMsg;
use crate::warmer::WarmerMsg;

/// The current incarnation of each actor the facade talks to, swapped by the supervisor on
/// every (re)start and emptied while a child is down.
#[derive(Debug)]
pub(crate) struct Slots {
    /// One slot per adapter partition.
    adapters: Box<[ArcSwapOption<ActorRef<AdapterMsg>>]>,
    store: ArcSwapOption<ActorRef<StoreMsg>>,
    cleanup: ArcSwapOption<ActorRef<CleanupMsg>>,
    warmer: ArcSwapOption<ActorRef<WarmerMsg>>,
    /// Set by `shutdown()` (or when the tree is gone): no more restarts, calls fail fast.
    pub(crate) closed: AtomicBool,
    /// Set when the supervisor stopped itself (restart intensity exceeded); cleared when the
    /// application restarts the tree. Calls fail fast with `Unavailable` meanwhile.
    pub(crate) failed: AtomicBool,
}

impl Slots {
    pub(crate) fn new(partitions: usize) -> Self {
        Slots {
            adapters: (0..partitions.max(1))
                .map(|_| ArcSwapOption::empty())
                .collect(),
            store: ArcSwapOption::empty(),
            cleanup: ArcSwapOption::empty(),
            warmer: ArcSwapOption::empty(),
            closed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }
    pub(crate) fn partitions(&self) -> usize {
        self.adapters.len()
    }
    pub(crate) fn adapter_slot(&self, partition: usize) -> &ArcSwapOption<ActorRef<AdapterMsg>> {
        &self.adapters[partition % self.adapters.len()]
    }
    pub(crate) fn store(&self) -> Option<ActorRef<StoreMsg>> {
        self.store.load().as_deref().cloned()
    }
    pub(crate) fn cleanup(&self) -> Option<ActorRef<CleanupMsg>> {
        self.cleanup.load().as_deref().cloned()
    }
    pub(crate) fn warmer(&self) -> Option<ActorRef<WarmerMsg>> {
        self.warmer.load().as_deref().cloned()
    }
    /// Publishes a new CacheWarmer incarnation.
    pub(crate) fn set_warmer(&self, r: ActorRef<WarmerMsg>) {
        self.warmer.store(Some(Arc::new(r)));
    }
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
    /// Publishes a new Store incarnation.
    pub(crate) fn set_store(&self, r: ActorRef<StoreMsg>) {
        self.store.store(Some(Arc::new(r)));
    }
    /// Publishes a new Cleanup incarnation.
    pub(crate) fn set_cleanup(&self, r: ActorRef<CleanupMsg>) {
        self.cleanup.store(Some(Arc::new(r)));
    }
    /// Publishes a new incarnation of adapter `partition`.
    pub(crate) fn set_adapter(&self, partition: usize, r: ActorRef<AdapterMsg>) {
        self.adapter_slot(partition).store(Some(Arc::new(r)));
    }
    /// Empties the slot of a child that is down.
    pub(crate) fn clear(&self, kind: ChildKind, index: usize) {
        match kind {
            ChildKind::Adapter => self.adapter_slot(index).store(None),
            ChildKind::Store => self.store.store(None),
            ChildKind::Cleanup => self.cleanup.store(None),
            ChildKind::CacheWarmer => self.warmer.store(None),
            ChildKind::MetricsReporter => {}
        }
    }
}
