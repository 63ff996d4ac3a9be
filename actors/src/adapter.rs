//! CacheAdapter: turns facade requests into backend operations.
//!
//! Serves the `rpc` data plane (`adapter.mode = "rpc"`): one typed message per facade call,
//! each carrying its reply port; with `adapter.partitions` > 1 several adapters share the
//! work, a key always going to the same one. Outcomes are counted by the caller's side
//! (`CacheService`), so both data planes count the same way. The handler only awaits
//! the backend (for the memory backend that is a few hash-map operations); it never awaits
//! caller code such as a `get_or_store` generator, which runs in the caller's task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::faults::Faults;
use crate::glob::Glob;
use crate::supervisor::ChildKind;
use crate::ttl::Ttl;

/// Requests the CacheAdapter serves. Namespaces travel as `Arc<str>` (a refcount bump per
/// call), keys and values as owned data.
#[derive(Debug)]
pub enum AdapterMsg {
    /// Read an encoded value.
    Get {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Reply: the value, `None` on a miss.
        reply: RpcReplyPort<CacheResult<Option<Bytes>>>,
    },
    /// Write an encoded value.
    Put {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Encoded value.
        value: Bytes,
        /// Time to live.
        ttl: Ttl,
        /// Reply.
        reply: RpcReplyPort<CacheResult<()>>,
    },
    /// Delete a key.
    Delete {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Reply: whether a live entry was removed.
        reply: RpcReplyPort<CacheResult<bool>>,
    },
    /// Whether a key is present.
    Exists {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Reply.
        reply: RpcReplyPort<CacheResult<bool>>,
    },
    /// Remaining time to live.
    Ttl {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Reply: `None` when absent.
        reply: RpcReplyPort<CacheResult<Option<Ttl>>>,
    },
    /// Atomic add to a counter.
    Increment {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Amount (negative to decrement).
        delta: i64,
        /// TTL applied when the counter is created.
        ttl_on_create: Ttl,
        /// Set just before the backend is touched: if the adapter dies and this is still
        /// false, the increment was never applied and the caller may safely retry it.
        started: Arc<AtomicBool>,
        /// Reply: the new value.
        reply: RpcReplyPort<CacheResult<i64>>,
    },
    /// Add a member to a set.
    AddToSet {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Encoded member.
        member: Bytes,
        /// TTL applied when the set is created.
        ttl_on_create: Ttl,
        /// Reply: whether the member is new.
        reply: RpcReplyPort<CacheResult<bool>>,
    },
    /// Remove a member from a set.
    RemoveFromSet {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Encoded member.
        member: Bytes,
        /// Reply: whether it was there.
        reply: RpcReplyPort<CacheResult<bool>>,
    },
    /// All members of a set.
    SetMembers {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Reply: encoded members.
        reply: RpcReplyPort<CacheResult<Vec<Bytes>>>,
    },
    /// Set membership.
    IsMember {
        /// Namespace.
        ns: Arc<str>,
        /// Key.
        key: String,
        /// Encoded member.
        member: Bytes,
        /// Reply.
        reply: RpcReplyPort<CacheResult<bool>>,
    },
    /// Clear one namespace (`Some`) or everything (`None`).
    Clear {
        /// Namespace, or the whole cache.
        ns: Option<Arc<str>>,
        /// Reply: live entries removed.
        reply: RpcReplyPort<CacheResult<u64>>,
    },
    /// Delete the keys of a namespace matching a glob.
    DeletePattern {
        /// Namespace.
        ns: Arc<str>,
        /// Compiled pattern.
        pattern: Glob,
        /// Reply: live entries removed.
        reply: RpcReplyPort<CacheResult<u64>>,
    },
}

/// The CacheAdapter actor.
#[derive(Debug, Default)]
pub struct CacheAdapter;

/// What each adapter incarnation starts from.
#[derive(Debug, Clone)]
pub struct AdapterArgs {
    /// The backend, shared across incarnations.
    pub backend: Arc<dyn CacheBackend>,
    /// Test-only fault hooks (empty without the `testing` feature).
    pub faults: Faults,
}

impl Actor for CacheAdapter {
    type Msg = AdapterMsg;
    type State = AdapterArgs;
    type Arguments = AdapterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: AdapterArgs,
    ) -> Result<AdapterArgs, ActorProcessingErr> {
        args.faults.before_start(ChildKind::Adapter)?;
        tracing::info!(actor = ?myself.get_name(), backend = args.backend.name(), "adapter started");
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: AdapterMsg,
        state: &mut AdapterArgs,
    ) -> Result<(), ActorProcessingErr> {
        state.faults.before_handle(ChildKind::Adapter).await;
        let b = &*state.backend;
        // A send error means the caller gave up (timeout, cancellation): nothing to do.
        match msg {
            AdapterMsg::Get { ns, key, reply } => {
                let r = b.get_fast(&ns, &key).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Put {
                ns,
                key,
                value,
                ttl,
                reply,
            } => {
                let r = b.put_fast(&ns, &key, value, ttl).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Delete { ns, key, reply } => {
                let r = b.delete_fast(&ns, &key).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Exists { ns, key, reply } => {
                let r = b.exists(&ns, &key).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Ttl { ns, key, reply } => {
                let r = b.ttl(&ns, &key).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Increment {
                ns,
                key,
                delta,
                ttl_on_create,
                started,
                reply,
            } => {
                started.store(true, Ordering::Release);
                state.faults.midway(ChildKind::Adapter);
                let r = b.increment_fast(&ns, &key, delta, ttl_on_create).await;
                let _ = reply.send(r);
            }
            AdapterMsg::AddToSet {
                ns,
                key,
                member,
                ttl_on_create,
                reply,
            } => {
                let r = b.add_to_set(&ns, &key, member, ttl_on_create).await;
                let _ = reply.send(r);
            }
            AdapterMsg::RemoveFromSet {
                ns,
                key,
                member,
                reply,
            } => {
                let r = b.remove_from_set(&ns, &key, member).await;
                let _ = reply.send(r);
            }
            AdapterMsg::SetMembers { ns, key, reply } => {
                let r = b.set_members(&ns, &key).await;
                let _ = reply.send(r);
            }
            AdapterMsg::IsMember {
                ns,
                key,
                member,
                reply,
            } => {
                let r = b.is_member(&ns, &key, member).await;
                let _ = reply.send(r);
            }
            AdapterMsg::Clear { ns, reply } => {
                let r = b.clear(ns.as_deref()).await;
                let _ = reply.send(r);
            }
            AdapterMsg::DeletePattern { ns, pattern, reply } => {
                let r = b.delete_pattern(&ns, &pattern).await;
                let _ = reply.send(r);
            }
        }
        Ok(())
    }
}
