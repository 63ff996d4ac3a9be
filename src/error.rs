//! Errors of `get_or_store`, which carry the generator's own error type.

use deeper_cache_actors::CacheError;

/// Why [`Cache::get_or_store`](crate::Cache::get_or_store) failed: the generator's own error,
/// or a cache error that the degradation rules do not absorb (a bad key, a stored value of
/// another type, a cache that was shut down).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GetOrStoreError<E> {
    /// The generator failed; nothing was stored.
    #[error("generator failed: {0}")]
    Generator(E),
    /// The cache refused the request.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl<E> GetOrStoreError<E> {
    /// The generator's error, if that is what this is.
    pub fn into_generator_error(self) -> Option<E> {
        match self {
            GetOrStoreError::Generator(e) => Some(e),
            GetOrStoreError::Cache(_) => None,
        }
    }
}
