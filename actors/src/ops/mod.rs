//! Every cache operation as a value: one request type per facade operation.
//!
//! A request (a type implementing [`Request`]) knows everything the data path needs of it:
//! its name for statistics, metric labels and spans ([`Op`]), whether it may be sent again
//! after an adapter died holding it ([`Retry`]), which adapter partition serves it
//! ([`Route`]), how it is applied to a backend, and how its outcome is labelled ([`Status`]).
//! The service and the adapter handle every request the same way:
//!
//! ```text
//! Cache::get ─▶ CacheService::run(ns, key, Get)
//!                ├─ direct plane: Get::apply(backend, ns, key)     in the caller's task
//!                └─ rpc plane:    Envelope<Get> ─▶ CacheAdapter ─▶ Get::apply(backend, ns, key)
//!                                 (an actor message with a typed reply port)
//! ```
//!
//! # Adding an operation
//! 1. Its request type and `impl Request`, in the file of its family (`values.rs`,
//!    `counters.rs`, `sets.rs`, `invalidation.rs`), and one line in the `operations!` list
//!    below (its `Op` label and, for the rpc plane, its envelope variant);
//! 2. the backend method(s) it calls (`backend/mod.rs` and each backend);
//! 3. the facade method (`src/cache.rs`) that validates input and calls
//!    `CacheService::run`.
//!
//! Nothing in the service or the adapter changes.

use crate::backend::CacheBackend;
use crate::error::CacheResult;
use crate::faults::Faults;

mod counters;
mod invalidation;
mod leases;
mod request;
mod sets;
mod values;

pub use counters::Increment;
pub use invalidation::{ALL_KEYS, Clear, DeletePattern};
pub use leases::{LeaseHeld, ReleaseLease, TakeLease};
pub use request::{Carry, Envelope, Request, Retry, Route};
pub use sets::{AddToSet, IsMember, RemoveFromSet, SetMembers};
pub use values::{Delete, Exists, Get, Put, TtlOf};

/// Declares the operations: the [`Op`] enum (labels, the list of all) and [`Carried`], the
/// enum of envelopes the rpc plane sends, with one variant per request type (and each request
/// type's [`Carry`] impl, which names its variant).
macro_rules! operations {
    ($( $(#[$doc:meta])* $op:ident = $label:literal $(, carried as $req:ty)? ;)*) => {
        /// Number of [`Op`] variants.
        pub const OPS: usize = [$( $label, )*].len();

        /// The operations the cache counts, as they appear in the `operation` label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            $( $(#[$doc])* $op, )*
        }

        impl Op {
            /// Every operation, in label order.
            pub const ALL: [Op; OPS] = [$( Op::$op, )*];

            /// The `operation` label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Op::$op => $label, )*
                }
            }
        }

        /// A request on its way to an adapter: one variant per request type, each holding
        /// an [`Envelope`] with its own typed reply port (no type erasure, no downcasts).
        #[derive(Debug)]
        pub enum Carried {
            $($(
                #[doc = concat!("`", $label, "`.")]
                $op(Envelope<$req>),
            )?)*
        }

        impl Carried {
            /// Applies the request to `backend` and sends the reply.
            pub(crate) async fn run(self, backend: &dyn CacheBackend, faults: &Faults) {
                match self {
                    $($( Carried::$op(e) => Envelope::<$req>::run(e, backend, faults).await, )?)*
                }
            }
        }

        $($(
            impl Carry for $req {
                fn carry(e: Envelope<$req>) -> Carried {
                    Carried::$op(e)
                }
            }
        )?)*
    };
}

operations! {
    /// `get` (and `get_or`).
    Get = "get", carried as Get;
    /// `put`, `put_with_ttl`.
    Put = "put", carried as Put;
    /// `delete`.
    Delete = "delete", carried as Delete;
    /// `exists`.
    Exists = "exists", carried as Exists;
    /// `ttl`.
    Ttl = "ttl", carried as TtlOf;
    /// `increment`, `decrement`.
    Increment = "increment", carried as Increment;
    /// `add_to_set`.
    AddToSet = "add_to_set", carried as AddToSet;
    /// `remove_from_set`.
    RemoveFromSet = "remove_from_set", carried as RemoveFromSet;
    /// `set_members`.
    SetMembers = "set_members", carried as SetMembers;
    /// `is_member`.
    IsMember = "is_member", carried as IsMember;
    /// `clear`.
    Clear = "clear", carried as Clear;
    /// `delete_pattern`.
    DeletePattern = "delete_pattern", carried as DeletePattern;
    /// `get_or_store`: hit when cached, miss when the generator ran (composed by the facade
    /// from `get` and `put`, so never carried itself).
    GetOrStore = "get_or_store";
    /// Take `get_or_store`'s distributed lease (internal: `get_or_store` records the call).
    TakeLease = "take_lease", carried as TakeLease;
    /// Release the distributed lease (internal).
    ReleaseLease = "release_lease", carried as ReleaseLease;
    /// Whether the distributed lease is held (internal).
    LeaseHeld = "lease_held", carried as LeaseHeld;
}

/// Outcome of one operation, the `status` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A read found a live entry.
    Hit,
    /// A read found nothing.
    Miss,
    /// A write or invalidation succeeded.
    Success,
    /// The operation returned an error.
    Error,
}

/// Number of [`Status`] variants.
pub(crate) const STATUSES: usize = 4;

impl Status {
    /// The `status` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Hit => "hit",
            Status::Miss => "miss",
            Status::Success => "success",
            Status::Error => "error",
        }
    }

    pub(crate) const ALL: [Status; STATUSES] =
        [Status::Hit, Status::Miss, Status::Success, Status::Error];

    /// Hit when a value came back, miss when none did.
    pub fn of_read<T>(r: &CacheResult<Option<T>>) -> Status {
        match r {
            Ok(Some(_)) => Status::Hit,
            Ok(None) => Status::Miss,
            Err(_) => Status::Error,
        }
    }

    /// Hit for `true`, miss for `false` (exists, membership).
    pub fn of_probe(r: &CacheResult<bool>) -> Status {
        match r {
            Ok(true) => Status::Hit,
            Ok(false) => Status::Miss,
            Err(_) => Status::Error,
        }
    }

    /// Hit for a non-empty collection.
    pub fn of_members<T>(r: &CacheResult<Vec<T>>) -> Status {
        match r {
            Ok(v) if !v.is_empty() => Status::Hit,
            Ok(_) => Status::Miss,
            Err(_) => Status::Error,
        }
    }

    /// Success or error.
    pub fn of_write<T>(r: &CacheResult<T>) -> Status {
        if r.is_ok() {
            Status::Success
        } else {
            Status::Error
        }
    }
}
