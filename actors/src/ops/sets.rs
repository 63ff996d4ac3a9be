//! Sets: `add_to_set`, `remove_from_set`, `set_members`, `is_member` (atomic per key).

use bytes::Bytes;

use super::{Op, Request, Retry, Route, Status};
use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::ttl::Ttl;

/// Add an encoded member to the set at the key (created with `ttl_on_create` when missing);
/// `true` when it was not there before.
#[derive(Debug, Clone)]
pub struct AddToSet {
    /// The encoded member.
    pub member: Bytes,
    /// TTL applied when the set is created.
    pub ttl_on_create: Ttl,
}

impl Request for AddToSet {
    type Reply = bool;
    const OP: Op = Op::AddToSet;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.add_to_set(ns, key, self.member, self.ttl_on_create).await
    }

    fn size(&self) -> Option<usize> {
        Some(self.member.len())
    }
}

/// Remove an encoded member; `true` when it was there.
#[derive(Debug, Clone)]
pub struct RemoveFromSet {
    /// The encoded member.
    pub member: Bytes,
}

impl Request for RemoveFromSet {
    type Reply = bool;
    const OP: Op = Op::RemoveFromSet;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.remove_from_set(ns, key, self.member).await
    }
}

/// Every encoded member of the set (empty when the key is absent).
#[derive(Debug, Clone, Copy)]
pub struct SetMembers;

impl Request for SetMembers {
    type Reply = Vec<Bytes>;
    const OP: Op = Op::SetMembers;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<Vec<Bytes>> {
        b.set_members(ns, key).await
    }

    fn status(r: &CacheResult<Vec<Bytes>>) -> Status {
        Status::of_members(r)
    }

    fn reply_size(reply: &Vec<Bytes>) -> Option<usize> {
        Some(reply.iter().map(Bytes::len).sum())
    }
}

/// Whether an encoded member is in the set.
#[derive(Debug, Clone)]
pub struct IsMember {
    /// The encoded member.
    pub member: Bytes,
}

impl Request for IsMember {
    type Reply = bool;
    const OP: Op = Op::IsMember;
    const RETRY: Retry = Retry::Idempotent;
    const ROUTE: Route = Route::ByKey;

    async fn apply(self, b: &dyn CacheBackend, ns: &str, key: &str) -> CacheResult<bool> {
        b.is_member(ns, key, self.member).await
    }

    fn status(r: &CacheResult<bool>) -> Status {
        Status::of_probe(r)
    }
}
