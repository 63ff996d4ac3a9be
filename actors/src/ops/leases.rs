//! Distributed leases for stampede protection across nodes: `get_or_store`'s leader on one
//! node takes a key's lease before it runs the generator; leaders on other nodes find it held
//! and wait for the value instead. Backends without a shared store (memory, noop) answer
//! `None`: the local single flight is then the whole protection.

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::error::CacheResult;

/// Take the key's lease for `ttl_ms` unless another holder has it: `Some(true)` taken,
/// `Some(false)` held elsewhere, `None` when the backend has no leases.
#[derive(Debug, Clone, Copy)]
pub struct TakeLease {
    /// This holder's token (released only by it).
    pub token: u64,
    /// How long the lease lasts if its holder never releases it.
    pub ttl_ms: u64,
}

impl Request for TakeLease {
    type Reply = Option<bool>;
    const OP: Op = Op::TakeLease;
    // Taking twice with the same token is harmless (the second finds it held).
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<Option<bool>> {
        b.take_lease(ns, key, self.token, self.ttl_ms).await
    }
}

/// Release the key's lease if `token` still holds it (compare-and-delete).
#[derive(Debug, Clone, Copy)]
pub struct ReleaseLease {
    /// The token the lease was taken with.
    pub token: u64,
}

impl Request for ReleaseLease {
    type Reply = ();
    const OP: Op = Op::ReleaseLease;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<()> {
        b.release_lease(ns, key, self.token).await
    }
}

/// Whether anyone holds the key's lease (`None` without leases).
#[derive(Debug, Clone, Copy)]
pub struct LeaseHeld;

impl Request for LeaseHeld {
    type Reply = Option<bool>;
    const OP: Op = Op::LeaseHeld;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<Option<bool>> {
        b.lease_held(ns, key).await
    }
}
