//! Time to live: [`Ttl`] and how it turns into an absolute expiry.

use std::time::Duration;

use crate::error::{CacheError, CacheResult};

/// How long an entry lives.
///
/// Expiry is tracked with millisecond granularity on every backend (Redis `PX` has the same);
/// a positive duration below one millisecond is rounded up to one millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// The entry never expires (it can still be deleted, cleared or, later, evicted).
    Never,
    /// The entry expires this long after it was written.
    After(Duration),
}

impl From<Duration> for Ttl {
    fn from(d: Duration) -> Self {
        Ttl::After(d)
    }
}

impl Ttl {
    /// Checks that a finite TTL is positive.
    ///
    /// # Errors
    /// [`CacheError::InvalidTtl`] for `Ttl::After(Duration::ZERO)`.
    pub fn validate(self) -> CacheResult<Self> {
        match self {
            Ttl::After(d) if d.is_zero() => Err(CacheError::InvalidTtl {
                reason: "a ttl of zero makes no sense; use Ttl::Never or a positive duration"
                    .into(),
            }),
            other => Ok(other),
        }
    }

    /// The TTL in whole milliseconds (rounded up), `None` for [`Ttl::Never`].
    pub fn as_millis(self) -> Option<u64> {
        match self {
            Ttl::Never => None,
            Ttl::After(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                Some(u64::try_from(ms).unwrap_or(u64::MAX).max(1))
            }
        }
    }

    /// The absolute expiry (clock milliseconds) for an entry written at `now_ms`.
    pub fn expires_at(self, now_ms: u64) -> Option<u64> {
        self.as_millis().map(|ms| now_ms.saturating_add(ms))
    }
}
