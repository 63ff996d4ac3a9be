//! Plain values: `get`, `put`, `delete`, `exists`, `ttl`.
//!
//! The hot ones (`get`, `put`, `delete`) call the in-process table's synchronous operations
//! directly when the backend is the memory table ([`CacheBackend::memory_table`]), skipping
//! the boxed future every `async fn` of the backend trait costs.

use bytes::Bytes;

use super::{Op, Request, Retry, Route, Status};
use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::ttl::Ttl;

/// Read an encoded value: `None` when absent or expired.
#[derive(Debug, Clone, Copy)]
pub struct Get;

impl Request for Get {
    type Reply = Option<Bytes>;
    const OP: Op = Op::Get;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        match b.memory_table() {
            Some(t) => t.get(ns, key),
            None => b.get(ns, key).await,
        }
    }

    fn status(r: &CacheResult<Option<Bytes>>) -> Status {
        Status::of_read(r)
    }

    fn reply_size(reply: &Option<Bytes>) -> Option<usize> {
        reply.as_ref().map(Bytes::len)
    }
}

/// Write an encoded value with a TTL, replacing any previous value and TTL.
#[derive(Debug, Clone)]
pub struct Put {
    /// The encoded value.
    pub value: Bytes,
    /// Its time to live.
    pub ttl: Ttl,
}

impl Request for Put {
    type Reply = ();
    const OP: Op = Op::Put;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<()> {
        match b.memory_table() {
            Some(t) => t.put(ns, key, self.value, self.ttl),
            None => b.put(ns, key, self.value, self.ttl).await,
        }
    }

    fn size(&self) -> Option<usize> {
        Some(self.value.len())
    }
}

/// Remove a key: `true` when a live entry was removed.
#[derive(Debug, Clone, Copy)]
pub struct Delete;

impl Request for Delete {
    type Reply = bool;
    const OP: Op = Op::Delete;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        match b.memory_table() {
            Some(t) => Ok(t.delete(ns, key)),
            None => b.delete(ns, key).await,
        }
    }
}

/// Whether a live entry exists.
#[derive(Debug, Clone, Copy)]
pub struct Exists;

impl Request for Exists {
    type Reply = bool;
    const OP: Op = Op::Exists;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.exists(ns, key).await
    }

    fn status(r: &CacheResult<bool>) -> Status {
        Status::of_probe(r)
    }
}

/// Remaining time to live: `None` when absent, `Some(Ttl::Never)` when it never expires.
#[derive(Debug, Clone, Copy)]
pub struct TtlOf;

impl Request for TtlOf {
    type Reply = Option<Ttl>;
    const OP: Op = Op::Ttl;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<Option<Ttl>> {
        b.ttl(ns, key).await
    }

    fn status(r: &CacheResult<Option<Ttl>>) -> Status {
        Status::of_read(r)
    }
}
