//! The entry lifecycle: `expire` (a new TTL, or none) and `touch` (a use without a read),
//! changing an entry's expiry without rewriting its value.

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::ttl::Ttl;

/// Give a live entry a new TTL counted from now ([`Ttl::Never`]: no expiry); `true` when
/// there was one.
#[derive(Debug, Clone, Copy)]
pub struct Expire {
    /// The new TTL.
    pub ttl: Ttl,
}

impl Request for Expire {
    type Reply = bool;
    const OP: Op = Op::Expire;
    // Applying it twice sets the same TTL from a moment later: as good as once.
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.expire(ns, key, self.ttl).await
    }
}

/// Mark a live entry used now (its idle timer restarts in a namespace with a time to idle);
/// `true` when there was one.
#[derive(Debug, Clone, Copy)]
pub struct Touch;

impl Request for Touch {
    type Reply = bool;
    const OP: Op = Op::Touch;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.touch(ns, key).await
    }
}
