//! The circuit breaker and the rate limiter of the Redis backend's ERROR log.
//!
//! Both are lock-free (a few atomics) so a call that the breaker rejects costs a couple of
//! atomic loads: no lock, no allocation, no network.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the breaker lets a caller do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go to the server.
    Closed,
    /// Calls fail fast without touching the network until the cool-down has passed.
    Open,
    /// The cool-down has passed: the next call probes the server (one at a time).
    HalfOpen,
}

/// The right to make one call, handed out by [`Breaker::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// The breaker is closed: an ordinary call.
    Normal,
    /// The breaker is half-open and this call is its probe.
    Probe,
}

/// Consecutive-failure circuit breaker.
///
/// - Closed: every call runs; a connection failure increments a counter, a success resets
///   it; `threshold` consecutive failures open the breaker.
/// - Open: calls are rejected at once until `cooldown` has passed since it opened.
/// - Half-open: one call at a time is let through as a probe. Success closes the breaker;
///   failure opens it for another `cooldown`. A probe whose caller vanished (cancelled) is
///   replaced after another `cooldown`, so the breaker can never stick open.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown_ms: u64,
    base: Instant,
    failures: AtomicU32,
    /// 0 when closed; otherwise 1 + the millisecond (since `base`) it opened.
    opened_at: AtomicU64,
    /// 0 when no probe runs; otherwise 1 + the millisecond its probe started.
    probe_started: AtomicU64,
    /// How many times it went from closed to open.
    opens: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown_ms: u64::try_from(cooldown.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            base: Instant::now(),
            failures: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            probe_started: AtomicU64::new(0),
            opens: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// A permit for one call, or the time left before the next probe.
    #[inline]
    pub(crate) fn acquire(&self) -> Result<Permit, Duration> {
        let opened = self.opened_at.load(Ordering::Acquire);
        if opened == 0 {
            return Ok(Permit::Normal);
        }
        let now = self.now();
        let probe_at = opened.saturating_add(self.cooldown_ms);
        if now < probe_at {
            return Err(Duration::from_millis(probe_at - now));
        }
        let running = self.probe_started.load(Ordering::Acquire);
        if running != 0 && now < running.saturating_add(self.cooldown_ms) {
            return Err(Duration::from_millis(
                running.saturating_add(self.cooldown_ms) - now,
            ));
        }
        match self
            .probe_started
            .compare_exchange(running, now, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(Permit::Probe),
            Err(_) => Err(Duration::from_millis(self.cooldown_ms)),
        }
    }

    /// Records that the server answered. Returns `true` when this closed an open breaker.
    pub(crate) fn success(&self, permit: Permit) -> bool {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if permit == Permit::Probe || self.opened_at.load(Ordering::Relaxed) != 0 {
            self.probe_started.store(0, Ordering::Release);
            return self.opened_at.swap(0, Ordering::AcqRel) != 0;
        }
        false
    }

    /// Records a connection failure. Returns `true` when this opened a closed breaker.
    pub(crate) fn failure(&self, permit: Permit) -> bool {
        let now = self.now();
        match permit {
            Permit::Probe => {
                // Still down: open for another cool-down.
                self.opened_at.store(now, Ordering::Release);
                self.probe_started.store(0, Ordering::Release);
                false
            }
            Permit::Normal => {
                let n = self
                    .failures
                    .fetch_add(1, Ordering::AcqRel)
                    .saturating_add(1);
                if n >= self.threshold
                    && self
                        .opened_at
                        .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    self.opens.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                false
            }
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> BreakerState {
        let opened = self.opened_at.load(Ordering::Acquire);
        if opened == 0 {
            BreakerState::Closed
        } else if self.now() < opened.saturating_add(self.cooldown_ms) {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }

    /// How many times the breaker opened.
    pub(crate) fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }
}

/// Lets one log line through per interval and counts the ones it held back.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval_ms: u64,
    base: Instant,
    /// 1 + the millisecond (since `base`) from which the next line may be logged; 0 = now.
    next_at: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        LogLimiter {
            interval_ms: u64::try_from(interval.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            base: Instant::now(),
            next_at: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be logged now (`n` lines were held back since the last one);
    /// `None` when this one is held back (and counted).
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let next = self.next_at.load(Ordering::Acquire);
        if now >= next
            && self
                .next_at
                .compare_exchange(
                    next,
                    now.saturating_add(self.interval_ms),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::AcqRel));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_fails_fast() {
        let b = Breaker::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            assert_eq!(b.acquire(), Ok(Permit::Normal));
            assert!(!b.failure(Permit::Normal));
        }
        assert!(b.failure(Permit::Normal), "third failure opens");
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_err());
        assert_eq!(b.opens(), 1);
    }

    #[test]
    fn success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        assert!(!b.failure(Permit::Normal));
        assert!(!b.success(Permit::Normal));
        assert!(!b.failure(Permit::Normal), "count restarted");
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_probe_closes_or_reopens() {
        let b = Breaker::new(1, Duration::from_millis(1));
        assert!(b.failure(Permit::Normal));
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.acquire(), Ok(Permit::Probe));
        assert!(b.acquire().is_err(), "one probe at a time");
        assert!(!b.failure(Permit::Probe));
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(b.acquire(), Ok(Permit::Probe));
        assert!(b.success(Permit::Probe), "probe success closes");
        assert_eq!(b.acquire(), Ok(Permit::Normal));
    }

    #[test]
    fn abandoned_probe_is_replaced() {
        let b = Breaker::new(1, Duration::from_millis(1));
        b.failure(Permit::Normal);
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(b.acquire(), Ok(Permit::Probe));
        // The probe's caller never reports back.
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(b.acquire(), Ok(Permit::Probe));
    }

    #[test]
    fn limiter_admits_one_line_per_interval_and_counts_the_rest() {
        let l = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(l.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(l.admit(), None);
        }
        let l = LogLimiter::new(Duration::from_millis(1));
        assert_eq!(l.admit(), Some(0));
        assert_eq!(l.admit(), None);
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(l.admit(), Some(1));
    }
}
