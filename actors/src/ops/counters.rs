//! Counters: `increment` (and `decrement`, its negative).

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::ttl::Ttl;

/// Atomically add `delta` to the integer at the key (a missing or expired key counts as 0;
/// `ttl_on_create` applies when the counter is created). Replies with the new value.
///
/// Not idempotent: on the rpc plane it is sent again only if the adapter never began
/// applying it.
#[derive(Debug, Clone, Copy)]
pub struct Increment {
    /// Amount to add (negative to decrement).
    pub delta: i64,
    /// TTL applied when the counter is created.
    pub ttl_on_create: Ttl,
}

impl Request for Increment {
    type Reply = i64;
    const OP: Op = Op::Increment;
    const RETRY: Retry = Retry::UnlessStarted;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<i64> {
        match b.memory_table() {
            Some(t) => t.increment(ns, key, self.delta, self.ttl_on_create),
            None => b.increment(ns, key, self.delta, self.ttl_on_create).await,
        }
    }
}
