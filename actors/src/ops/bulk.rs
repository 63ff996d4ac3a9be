//! Bulk operations: `get_many`, `put_many`, `delete_many`. One request carries every key of
//! the call (a [`KeyList`] or [`EntryList`], in the caller's order), so the call is one
//! backend operation: one pass over the table on memory, one round trip per connection used
//! on Redis, L1 first and one L2 round trip for the misses on the tiered backend.
//!
//! They are recorded as one `get_many` / `put_many` / `delete_many` operation (its latency);
//! the facade records each key's outcome too (a `get` hit or miss, a `put`, a `delete`, in
//! the key's namespace), so hit ratios and per-namespace counts are what the same calls one
//! key at a time would give. On the rpc plane a bulk request goes to the partition of its
//! first key (the key beside it, which its span shows), so bulk calls spread over the
//! adapters as single-key calls do; any adapter serves every key of it (they share the
//! backend).

use bytes::Bytes;

use super::{Op, Request, Retry, Route};
use crate::backend::CacheBackend;
use crate::batch::{EntryList, KeyList};
use crate::error::CacheResult;

/// Read every key: its encoded value or `None`, in the list's order.
#[derive(Debug, Clone)]
pub struct GetMany {
    /// The keys, each with its namespace.
    pub keys: KeyList,
}

impl Request for GetMany {
    type Reply = Vec<Option<Bytes>>;
    const OP: Op = Op::GetMany;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, _ns: &str, _key: &str) -> CacheResult<Self::Reply> {
        match b.memory_table() {
            Some(t) => Ok(t.get_many(&self.keys)),
            None => b.get_many(&self.keys).await,
        }
    }

    fn reply_size(reply: &Self::Reply) -> Option<usize> {
        Some(reply.iter().flatten().map(Bytes::len).sum())
    }
}

/// Write every entry (its value and TTL), in order.
#[derive(Debug, Clone)]
pub struct PutMany {
    /// The entries.
    pub entries: EntryList,
}

impl Request for PutMany {
    type Reply = ();
    const OP: Op = Op::PutMany;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, _ns: &str, _key: &str) -> CacheResult<()> {
        match b.memory_table() {
            Some(t) => t.put_many(&self.entries),
            None => b.put_many(&self.entries).await,
        }
    }

    fn size(&self) -> Option<usize> {
        Some(self.entries.value_bytes())
    }
}

/// Remove every key; replies with the number of live entries removed.
#[derive(Debug, Clone)]
pub struct DeleteMany {
    /// The keys.
    pub keys: KeyList,
}

impl Request for DeleteMany {
    type Reply = u64;
    const OP: Op = Op::DeleteMany;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, _ns: &str, _key: &str) -> CacheResult<u64> {
        match b.memory_table() {
            Some(t) => Ok(t.delete_many(&self.keys)),
            None => b.delete_many(&self.keys).await,
        }
    }
}
