//! Errors of `get_or_store`, which carry the generator's own error type.

use deeper_cache_actors::CacheError;

/// Why [`Cache::get_or_store`](crate::Cache::get_or_store) failed: the generator's own error,
/// or a cache error that the degradation rules do not absorb (a bad key, a stored value of
/// another type, a cache that was shut down).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GetOrStoreError<E> {
    /// The generator failed; nothing was stored. (The leader of a flight gets this.)
    #[error("generator failed: {0}")]
    Generator(E),
    /// This caller waited for another caller's generator of the same key, which failed;
    /// nothing was stored. `message` is that error's `Display` text.
    #[error("the generator run for this key by another caller failed: {message}")]
    LeaderFailed {
        /// The leader's generator error, as text.
        message: String,
    },
    /// This caller waited for another caller's generator of the same key, which panicked.
    #[error("the generator run for this key by another caller panicked")]
    LeaderPanicked,
    /// This caller waited longer than its wait timeout for another caller's generator; that
    /// flight continues for the others.
    #[error("waited {after:?} for another caller's generator of this key")]
    WaitTimeout {
        /// The wait timeout that passed.
        after: std::time::Duration,
    },
    /// The cache refused the request.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl<E> GetOrStoreError<E> {
    /// The generator's error, if that is what this is.
    pub fn into_generator_error(self) -> Option<E> {
        match self {
            GetOrStoreError::Generator(e) => Some(e),
            _ => None,
        }
    }
}
