//! The cache's notion of "now", in milliseconds, injectable for tests.
//!
//! Production uses [`Clock::system`], a monotonic clock read from the CPU's time-stamp counter
//! through `quanta` where the counter is invariant (about half the cost of
//! `std::time::Instant::elapsed` here; every get reads it once for its expiry check). Tests
//! built with the `testing` feature can use a manual clock they advance by hand, so TTL tests
//! never sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic millisecond clock shared by a cache's table, backends and actors.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: ClockInner,
}

#[derive(Debug, Clone)]
enum ClockInner {
    /// Milliseconds since `base`, read from the CPU's time-stamp counter where it is
    /// invariant (`quanta`), from the OS monotonic clock otherwise.
    System { clock: quanta::Clock, base: u64 },
    /// A clock that only moves when a test advances it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// The real monotonic clock.
    pub fn system() -> Self {
        let clock = quanta::Clock::new();
        let base = clock.raw();
        Clock {
            inner: ClockInner::System { clock, base },
        }
    }

    /// Milliseconds since this clock's origin.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match &self.inner {
            ClockInner::System { clock, base } => {
                clock.delta_as_nanos(*base, clock.raw()) / 1_000_000
            }
            ClockInner::Manual(ms) => ms.load(Ordering::Acquire),
        }
    }
}

impl Clock {
    /// Wall-clock milliseconds since the Unix epoch (the manual clock's own value in tests).
    /// Used where several nodes must agree on a time, such as the freshness stamp of
    /// stale-while-revalidate entries; never for the table's own expiry, which is monotonic.
    pub fn epoch_ms(&self) -> u64 {
        match &self.inner {
            ClockInner::System { .. } => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            ClockInner::Manual(ms) => ms.load(Ordering::Acquire),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

/// A clock for tests: time stands still until [`ManualClock::advance`] moves it.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    ms: Arc<AtomicU64>,
}

#[cfg(feature = "testing")]
impl ManualClock {
    /// A manual clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_add(ms, Ordering::AcqRel);
    }

    /// The [`Clock`] view of this manual clock, to hand to a cache.
    pub fn clock(&self) -> Clock {
        Clock {
            inner: ClockInner::Manual(self.ms.clone()),
        }
    }
}

/// Remaining time from `now_ms` until `expires_at_ms`, zero if already past.
pub(crate) fn remaining(now_ms: u64, expires_at_ms: u64) -> Duration {
    Duration::from_millis(expires_at_ms.saturating_sub(now_ms))
}
