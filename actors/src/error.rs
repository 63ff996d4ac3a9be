//! The one error type of the cache: [`CacheError`].

use std::time::Duration;

/// Every way a cache call can fail, one variant per thing a caller can act on.
///
/// A miss is not an error: `get` answers `Ok(None)`. The enum is `#[non_exhaustive]` so later
/// backends and policies can add causes without breaking callers; match the variants you act on
/// and treat the rest as "the cache could not help, read the primary source".
///
/// The type is `Clone` so one failure can be handed to several waiters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The key is empty or longer than [`MAX_KEY_BYTES`](crate::MAX_KEY_BYTES).
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// Why the key was refused.
        reason: String,
    },
    /// The namespace name is empty or longer than
    /// [`MAX_NAMESPACE_BYTES`](crate::MAX_NAMESPACE_BYTES).
    #[error("invalid namespace: {reason}")]
    InvalidNamespace {
        /// Why the namespace was refused.
        reason: String,
    },
    /// The encoded value is larger than the configured limit (`memory.max_value_bytes`).
    #[error("value of {size} bytes exceeds the limit of {limit} bytes (memory.max_value_bytes)")]
    ValueTooLarge {
        /// Encoded size of the refused value.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A value could not be encoded, or a stored value could not be decoded as the requested
    /// type. The stored entry is left as it was.
    #[error("codec error: {message}")]
    Codec {
        /// What the codec reported (never the value itself).
        message: String,
    },
    /// The key holds a value of another kind (a set where a plain value was expected, or the
    /// reverse). The entry is left as it was.
    #[error("wrong type: the key holds {found}, the operation needs {expected}")]
    WrongType {
        /// The kind the operation works on.
        expected: &'static str,
        /// The kind the key holds.
        found: &'static str,
    },
    /// `increment`/`decrement` met a value that is not an integer. The value is left as it was.
    #[error("the stored value is not an integer")]
    NotAnInteger,
    /// `increment`/`decrement` would overflow an `i64`. The value is left as it was.
    #[error("integer overflow: the counter is left unchanged")]
    Overflow,
    /// A `delete_pattern` glob is malformed.
    #[error("invalid pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key-listing cursor is malformed, too long, or from another backend (cursors are
    /// opaque: pass back the one a previous page returned).
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// What is wrong with it.
        reason: String,
    },
    /// The write would take the in-memory table past `memory.max_entries` or
    /// `memory.max_bytes` and the policy is `reject` (nothing was evicted, the table is
    /// unchanged), or one entry alone is larger than `memory.max_bytes` (any policy).
    #[error("capacity exceeded: {limit} = {max}, the write needs {needed}")]
    CapacityExceeded {
        /// The configuration key of the limit (`memory.max_entries` or `memory.max_bytes`).
        limit: &'static str,
        /// The configured limit.
        max: u64,
        /// What the table would hold with the write (entries), or the entry's size (bytes).
        needed: u64,
    },
    /// A duration that must be positive was zero.
    #[error("invalid ttl: {reason}")]
    InvalidTtl {
        /// What is wrong with it.
        reason: String,
    },
    /// The actor did not answer within `call_timeout_ms`. The operation may or may not have
    /// been applied; the caller is not kept waiting.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out.
        operation: &'static str,
        /// How long the caller waited.
        after: Duration,
    },
    /// The cache service could not be reached (an actor is restarting or the tree has failed)
    /// within the retry budget. Callers should fall back to the primary source.
    #[error("cache unavailable during {operation}: {reason}")]
    Unavailable {
        /// The operation that could not run.
        operation: &'static str,
        /// Why.
        reason: String,
    },
    /// The backend (for example a Redis server) failed or is unreachable.
    #[error("backend {backend} unavailable: {message}")]
    BackendUnavailable {
        /// Backend name (`memory`, `redis`, ...).
        backend: &'static str,
        /// What failed (secrets redacted).
        message: String,
    },
    /// A call that waits on the network (the Redis backend) was polled outside a Tokio
    /// runtime. Call the cache from Tokio tasks (or `Runtime::block_on`); the memory backend
    /// works from any executor.
    #[error("{operation} was polled outside a Tokio runtime; the {backend} backend needs one")]
    NoRuntime {
        /// The operation.
        operation: &'static str,
        /// The backend that needs the runtime.
        backend: &'static str,
    },
    /// `shutdown()` was called on this cache; no further calls are served.
    #[error("the cache has been shut down")]
    ShutDown,
    /// A configuration key holds a value the cache cannot use.
    #[error("invalid configuration `{key}` = {value}: {message}")]
    Config {
        /// The dotted key that fixes it, e.g. `memory.cleanup_interval_ms`.
        key: String,
        /// The offending value as given.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// The cache could not be started (for example an actor failed to spawn, or the instance
    /// name is already in use).
    #[error("cache failed to start: {reason}")]
    Start {
        /// Why.
        reason: String,
    },
    /// A snapshot of the in-memory table could not be written (`Cache::save`) or read (the
    /// restore at start from `memory.snapshot_path`). A failed save leaves the previous file
    /// at `path` as it was; a failed restore leaves the table empty.
    #[error("snapshot {path}: {problem}")]
    Snapshot {
        /// The snapshot file.
        path: String,
        /// What is wrong.
        problem: SnapshotProblem,
    },
    /// A required warmer's first run failed, panicked or timed out, so `start` did not return
    /// a cache (the tree it had started was shut down again).
    #[error("required warmer {warmer:?} failed: {cause}")]
    WarmerFailed {
        /// The warmer's name.
        warmer: String,
        /// How its run ended.
        cause: WarmerFailure,
    },
    /// The operation does not exist on this backend (a snapshot of a table Redis holds).
    #[error("{operation} is not supported by the {backend} backend")]
    Unsupported {
        /// The operation.
        operation: &'static str,
        /// The backend.
        backend: &'static str,
    },
}

/// What is wrong with a snapshot file ([`CacheError::Snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotProblem {
    /// Reading or writing the file failed (permissions, a full disk, a missing directory).
    #[error("i/o error: {message}")]
    Io {
        /// The operating system's message.
        message: String,
    },
    /// The file does not start with the snapshot header: not a snapshot of this cache.
    #[error("not a deeper-cache snapshot (bad magic bytes)")]
    NotASnapshot,
    /// Written by a newer version of the format than this build reads.
    #[error(
        "format version {found} is newer than the versions this build reads (up to {supported})"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file ends before its end marker (a copy cut short, a disk that filled up).
    #[error("truncated: the file ends before its end marker")]
    Truncated,
    /// A block's checksum does not match its bytes (a flipped bit, an edited file).
    #[error("checksum mismatch in block {block} at byte {offset}")]
    ChecksumMismatch {
        /// Index of the block (0 = the header).
        block: u64,
        /// Byte offset of the block in the file.
        offset: u64,
    },
    /// The bytes pass their checksums but do not form valid records.
    #[error("corrupt: {reason}")]
    Corrupt {
        /// What is malformed.
        reason: String,
    },
}

/// How a required warmer's first run ended ([`CacheError::WarmerFailed`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WarmerFailure {
    /// `load` (or its stream) returned an error, or writing its entries failed.
    #[error("{message}")]
    Error {
        /// The error's text.
        message: String,
    },
    /// `load` panicked.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The run took longer than the warmer's timeout and was cancelled.
    #[error("did not finish within {after:?}")]
    TimedOut {
        /// The warmer's timeout.
        after: Duration,
    },
    /// The warmer's actor stopped before its first run ended (the cache was shutting down).
    #[error("stopped before its first run ended")]
    Stopped,
}

impl CacheError {
    /// True for failures that mean "the cache cannot serve right now" (as opposed to a bad
    /// request): the cases in which the spec's degradation rules let a caller carry on without
    /// the cache.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            CacheError::Timeout { .. }
                | CacheError::Unavailable { .. }
                | CacheError::BackendUnavailable { .. }
        )
    }
}

/// Shorthand for results of cache operations.
pub type CacheResult<T> = Result<T, CacheError>;
