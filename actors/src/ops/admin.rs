//! What the admin interface asks of a backend: `list_keys` (a page of a namespace's keys),
//! `inspect` (one entry's metadata), `namespaces` and `ping`. Read-only, so every one is
//! idempotent; the deleting calls of the admin interface are the ordinary `delete`,
//! `delete_pattern` and `clear`. The backend side is in `backend/browse.rs` and each backend.

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::backend::browse::{EntryInfo, KeyPage, NamespaceList};
use crate::error::CacheResult;
use crate::glob::Glob;

/// One page of the live keys of the namespace the request runs under.
#[derive(Debug, Clone)]
pub struct ListKeys {
    /// Only keys matching this glob (all keys for `None`).
    pub pattern: Option<Glob>,
    /// Where the page starts: the cursor of the previous page, `None` for the first.
    pub cursor: Option<String>,
    /// Most keys the page holds (1 to [`MAX_PAGE_KEYS`](crate::backend::browse::MAX_PAGE_KEYS)).
    pub limit: usize,
}

impl Request for ListKeys {
    type Reply = KeyPage;
    const OP: Op = Op::ListKeys;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::First;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, _key: &str) -> CacheResult<KeyPage> {
        b.list_keys(
            ns,
            self.pattern.as_ref(),
            self.cursor.as_deref(),
            self.limit,
        )
        .await
    }
}

/// Metadata of one live entry (`None` when absent), with the start of its value when
/// `value_bytes` asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Inspect {
    /// Bytes of the value to return (`None`: metadata only).
    pub value_bytes: Option<usize>,
}

impl Request for Inspect {
    type Reply = Option<EntryInfo>;
    const OP: Op = Op::Inspect;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(
        self,
        b: &dyn CacheBackend,
        ns: &str,
        key: &str,
    ) -> CacheResult<Option<EntryInfo>> {
        b.inspect(ns, key, self.value_bytes).await
    }
}

/// The namespaces the backend holds (the namespace the request runs under does not matter).
#[derive(Debug, Clone, Copy)]
pub struct ListNamespaces {
    /// Keys a networked backend examines at most (see [`CacheBackend::namespaces`]).
    pub scan_limit: u64,
}

impl Request for ListNamespaces {
    type Reply = NamespaceList;
    const OP: Op = Op::Namespaces;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::First;

    async fn apply(
        self,
        b: &dyn CacheBackend,
        _ns: &str,
        _key: &str,
    ) -> CacheResult<NamespaceList> {
        b.namespaces(self.scan_limit).await
    }
}

/// Whether the backend answers; on the rpc plane, also that an adapter serves requests.
#[derive(Debug, Clone, Copy)]
pub struct Ping;

impl Request for Ping {
    type Reply = ();
    const OP: Op = Op::Ping;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::First;

    async fn apply(self, b: &dyn CacheBackend, _ns: &str, _key: &str) -> CacheResult<()> {
        b.ping().await
    }
}
