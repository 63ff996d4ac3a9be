//! Namespace-wide invalidation: `clear`, `delete_pattern`. They are not about one key, so
//! the rpc plane sends them to partition 0, and the key beside them is only what their span
//! shows ([`ALL_KEYS`] for `clear`, the pattern for `delete_pattern`).

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::glob::Glob;

/// The key `clear` runs under (its span shows it).
pub const ALL_KEYS: &str = "*";

/// Remove every entry of the namespace, or of the whole cache; replies with the number of
/// live entries removed.
#[derive(Debug, Clone, Copy)]
pub struct Clear {
    /// The whole cache rather than the namespace the request runs under.
    pub all: bool,
}

impl Request for Clear {
    type Reply = u64;
    const OP: Op = Op::Clear;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::First;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, _key: &str) -> CacheResult<u64> {
        b.clear((!self.all).then_some(ns)).await
    }
}

/// Remove the namespace's keys matching a glob; replies with the number of live entries
/// removed.
#[derive(Debug, Clone)]
pub struct DeletePattern {
    /// The compiled pattern.
    pub pattern: Glob,
}

impl Request for DeletePattern {
    type Reply = u64;
    const OP: Op = Op::DeletePattern;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::First;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, _key: &str) -> CacheResult<u64> {
        b.delete_pattern(ns, &self.pattern).await
    }
}
