//! The [`Request`] trait every operation implements, and the [`Envelope`] that carries a request
//! to an adapter on the rpc plane.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ractor::RpcReplyPort;

use super::{Carried, Op, Status};
use crate::backend::CacheBackend;
use crate::children::ChildKind;
use crate::error::CacheResult;
use crate::faults::Faults;

/// When a call whose adapter died after the call was delivered, before it replied, may be
/// sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Always: applying it twice leaves the same state as once (reads, `put`, `delete`, set
    /// additions and removals, `clear`, `delete_pattern`).
    Idempotent,
    /// Only if the adapter never began applying it (it raises a flag just before it touches
    /// the backend); otherwise the outcome is unknown and the call returns `Unavailable`
    /// rather than risk applying it twice (`increment`).
    UnlessStarted,
}

/// Which adapter partition serves a request on the rpc plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The partition that owns `(namespace, key)`: one key's requests are applied in the
    /// order they were sent.
    ByKey,
    /// Partition 0 (namespace-wide requests: `clear`, `delete_pattern`).
    First,
}

/// One cache operation as a value: its parameters (the namespace and key travel beside it),
/// and everything the data path needs to know of it.
///
/// Implementations live in this module's files; see the module doc for adding one.
pub trait Request: Carry + fmt::Debug + Clone + Send + Sync + 'static {
    /// What the operation answers.
    type Reply: fmt::Debug + Send + 'static;

    /// Its name in statistics, metric labels and spans.
    const OP: Op;
    /// Whether it may be sent again after an adapter died holding it.
    const RETRY: Retry;
    /// Which partition serves it on the rpc plane.
    const ROUTE: Route;

    /// Applies the operation to `backend`, for `key` in namespace `ns`. Both planes call this:
    /// the direct plane in the caller's task, the rpc plane in the adapter.
    fn apply(
        self,
        backend: &dyn CacheBackend,
        ns: &str,
        key: &str,
    ) -> impl Future<Output = CacheResult<Self::Reply>> + Send;

    /// The `status` label of an outcome.
    fn status(result: &CacheResult<Self::Reply>) -> Status {
        Status::of_write(result)
    }

    /// Bytes the request carries (a value, a member), recorded on its span.
    fn size(&self) -> Option<usize> {
        None
    }

    /// Bytes the reply carries, recorded on the span (takes precedence over [`Self::size`]).
    fn reply_size(_reply: &Self::Reply) -> Option<usize> {
        None
    }
}

/// How a request's [`Envelope`] becomes the adapter's message: implemented for every request
/// type by the `operations!` list in `ops/mod.rs` (one line per operation).
pub trait Carry: Sized + Send + 'static {
    /// The [`Carried`] variant that holds an envelope of this request.
    fn carry(envelope: Envelope<Self>) -> Carried
    where
        Self: Request;
}

/// A request on its way to an adapter (the rpc plane): the request, the namespace and key as
/// owned data, and the typed port its reply goes back on.
pub struct Envelope<R: Request> {
    pub(crate) ns: Arc<str>,
    pub(crate) key: Box<str>,
    pub(crate) request: R,
    /// For [`Retry::UnlessStarted`] requests: raised just before the backend is touched.
    pub(crate) started: Option<Arc<AtomicBool>>,
    pub(crate) reply: RpcReplyPort<CacheResult<R::Reply>>,
}

impl<R: Request> fmt::Debug for Envelope<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("op", &R::OP)
            .field("ns", &self.ns)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<R: Request> Envelope<R> {
    /// The adapter message that carries this envelope.
    pub(crate) fn carried(self) -> Carried {
        R::carry(self)
    }

    /// Applies the request (in the adapter) and replies. A send error means the caller gave
    /// up (timeout, cancellation): nothing to do.
    pub(crate) async fn run(self, backend: &dyn CacheBackend, faults: &Faults) {
        if let Some(started) = &self.started {
            started.store(true, Ordering::Release);
            faults.midway(ChildKind::Adapter);
        }
        let r = self.request.apply(backend, &self.ns, &self.key).await;
        let _ = self.reply.send(r);
    }
}
