//! Time to live: [`Ttl`] and how it turns into an absolute expiry.

use std::time::Duration;

use crate::error::{CacheError, CacheResult};

/// The longest finite TTL any backend accepts: 100 years ([`Ttl::MAX`]).
///
/// Why this value: it is longer than any process, server or data set lives, so no real TTL is
/// refused, and far below the limits that would otherwise bite at different points on
/// different backends (Redis refuses a `PX` whose absolute expiry passes `i64::MAX`
/// milliseconds, the memory table keeps expiries as `u64` milliseconds). One limit, checked
/// before anything is sent or written, makes every backend agree. For "as long as possible" use
/// [`Ttl::Never`].
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How long an entry lives.
///
/// Expiry is tracked with millisecond granularity on every backend (Redis `PX` has the same);
/// a positive duration below one millisecond is rounded up to one millisecond. A finite TTL is
/// at most [`MAX_TTL`] (100 years): longer ones are refused with
/// [`InvalidTtl`](CacheError::InvalidTtl) on every backend, before anything is written.
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
    /// The longest finite TTL, [`MAX_TTL`].
    pub const MAX: Ttl = Ttl::After(MAX_TTL);

    /// Checks that a finite TTL is positive and at most [`MAX_TTL`].
    ///
    /// # Errors
    /// [`CacheError::InvalidTtl`] for `Ttl::After(Duration::ZERO)` and for durations longer
    /// than [`MAX_TTL`].
    pub fn validate(self) -> CacheResult<Self> {
        match self {
            Ttl::After(d) if d.is_zero() => Err(CacheError::InvalidTtl {
                reason: "a ttl of zero makes no sense; use Ttl::Never or a positive duration"
                    .into(),
            }),
            Ttl::After(d) if d > MAX_TTL => Err(CacheError::InvalidTtl {
                reason: format!(
                    "a ttl of {} s is longer than the maximum of {} s (100 years); use Ttl::Never",
                    d.as_secs(),
                    MAX_TTL.as_secs()
                ),
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

    /// This TTL spread uniformly within ±`fraction` of itself (`ttl_jitter`), so entries
    /// written together do not all expire together; at least 1 ms and at most [`MAX_TTL`].
    /// [`Ttl::Never`] and a `fraction` of 0 are returned unchanged.
    pub fn jittered(self, fraction: f64) -> Ttl {
        match self {
            Ttl::After(d) if fraction > 0.0 => {
                let factor = 1.0 + fraction * (2.0 * fastrand::f64() - 1.0);
                let ms = (d.as_secs_f64() * 1000.0 * factor).round().max(1.0);
                Ttl::After(Duration::from_millis(ms as u64).min(MAX_TTL))
            }
            other => other,
        }
    }

    /// The absolute expiry (clock milliseconds) for an entry written at `now_ms`.
    pub fn expires_at(self, now_ms: u64) -> Option<u64> {
        self.as_millis().map(|ms| now_ms.saturating_add(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maximum_is_accepted_and_one_past_it_is_not() {
        assert_eq!(Ttl::MAX.validate().unwrap(), Ttl::MAX);
        assert!(
            Ttl::After(MAX_TTL + Duration::from_millis(1))
                .validate()
                .is_err()
        );
        assert!(Ttl::After(Duration::MAX).validate().is_err());
        assert!(Ttl::After(Duration::ZERO).validate().is_err());
        assert_eq!(Ttl::Never.validate().unwrap(), Ttl::Never);
        // Jitter stays within its fraction and the bounds.
        let base = Ttl::After(Duration::from_secs(100));
        let spread: Vec<u64> = (0..1000)
            .map(|_| base.jittered(0.1).as_millis().unwrap())
            .collect();
        assert!(spread.iter().all(|ms| (90_000..=110_000).contains(ms)));
        assert!(spread.iter().any(|&ms| ms != spread[0]));
        assert_eq!(base.jittered(0.0), base);
        assert_eq!(Ttl::Never.jittered(0.5), Ttl::Never);
        assert!(
            Ttl::MAX.jittered(0.5).validate().is_ok(),
            "capped at the maximum"
        );
        // Within Redis's i64 milliseconds with room to spare.
        assert!(Ttl::MAX.as_millis().unwrap() < (i64::MAX as u64) / 1000);
    }
}
