//! Call deadlines for the `rpc` data plane without a timer per call.
//!
//! Every `rpc` call must end by `call_timeout_ms`, even when its adapter never answers (a
//! stalled handler, a backend that hangs). Bounding each call with its own tokio timer costs a
//! timer-wheel insert and removal per call and, on a multi-thread runtime, often a wake-up of
//! the worker parked on the timer driver; that was about 150 ns of a 64 B get on a
//! current-thread runtime (`benches/suite.rs`, "ractor echo inside `tokio::time::timeout_at`").
//!
//! Here a waiting caller registers with its partition's alarm (a [`Notify`]: one short lock,
//! no timer) and waits for the reply or the alarm. One ticker task per `rpc` cache rings every
//! alarm each `tick` (a tenth of the timeout, between 1 and 100 ms); a woken caller whose
//! deadline has passed gives up with a timeout, the others register again. So a call that
//! gets no answer ends between `call_timeout_ms` and `call_timeout_ms + tick`. The ticker
//! parks while no call has waited through a whole tick, so an idle cache costs no wake-ups.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// The alarms of one cache's partitions and the state of its ticker.
#[derive(Debug)]
pub(crate) struct Deadlines {
    /// One alarm per adapter partition, so callers of different partitions never share a lock.
    alarms: Box<[Notify]>,
    /// Set by a caller that registered since the ticker last looked; cleared by the ticker.
    active: AtomicBool,
    /// Wakes a parked ticker.
    wake_ticker: Notify,
    /// How often the alarms ring while calls wait.
    tick: Duration,
}

/// The call's deadline passed before its reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

impl Deadlines {
    /// Alarms for `partitions` partitions, ringing often enough for calls bounded by
    /// `timeout`. Start the ticker with [`Deadlines::spawn_ticker`].
    pub(crate) fn new(partitions: usize, timeout: Duration) -> Self {
        Deadlines {
            alarms: (0..partitions.max(1)).map(|_| Notify::new()).collect(),
            active: AtomicBool::new(false),
            wake_ticker: Notify::new(),
            tick: Self::tick_for(timeout),
        }
    }

    /// A tenth of the timeout, between 1 and 100 ms: how late a timeout may be reported.
    pub(crate) fn tick_for(timeout: Duration) -> Duration {
        (timeout / 10).clamp(Duration::from_millis(1), Duration::from_millis(100))
    }

    /// Starts the ticker on the current runtime. Abort the handle when the cache goes away.
    pub(crate) fn spawn_ticker(self: &Arc<Self>) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(me.tick);
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                for alarm in &me.alarms {
                    alarm.notify_waiters();
                }
                // Nobody registered during the last tick: park until someone does. A caller
                // woken just now registers again, which sets `active` and wakes the ticker.
                if !me.active.swap(false, Ordering::AcqRel) {
                    me.wake_ticker.notified().await;
                    every.reset();
                }
            }
        })
    }

    /// Waits for `reply` until `deadline` (checked at each ring of `partition`'s alarm).
    pub(crate) async fn wait<F: Future>(
        &self,
        partition: usize,
        deadline: Instant,
        reply: F,
    ) -> Result<F::Output, Elapsed> {
        let alarm = &self.alarms[partition.min(self.alarms.len() - 1)];
        let mut reply = pin!(reply);
        loop {
            // Registered with the alarm at its first poll below (after the reply's, which is
            // usually pending): one lock, not two as an explicit `enable()` first would take.
            // A ring that comes before it is missed; the next one is a tick later.
            let rung = pin!(alarm.notified());
            if !self.active.load(Ordering::Relaxed) {
                self.active.store(true, Ordering::Release);
                self.wake_ticker.notify_one();
            }
            tokio::select! {
                biased;
                out = &mut reply => return Ok(out),
                () = rung => {}
            }
            if Instant::now() >= deadline {
                return Err(Elapsed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_is_a_tenth_of_the_timeout_within_bounds() {
        assert_eq!(
            Deadlines::tick_for(Duration::from_secs(5)),
            Duration::from_millis(100)
        );
        assert_eq!(
            Deadlines::tick_for(Duration::from_millis(200)),
            Duration::from_millis(20)
        );
        assert_eq!(
            Deadlines::tick_for(Duration::from_millis(3)),
            Duration::from_millis(1)
        );
    }

    #[tokio::test]
    async fn a_reply_in_time_is_returned() {
        let d = Arc::new(Deadlines::new(2, Duration::from_millis(50)));
        let ticker = d.spawn_ticker();
        let deadline = Instant::now() + Duration::from_millis(50);
        let r = d
            .wait(1, deadline, async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                7
            })
            .await;
        assert_eq!(r, Ok(7));
        ticker.abort();
    }

    #[tokio::test]
    async fn a_reply_that_never_comes_times_out_soon_after_the_deadline() {
        let timeout = Duration::from_millis(60);
        let d = Arc::new(Deadlines::new(1, timeout));
        let ticker = d.spawn_ticker();
        // Let the ticker park first: the waiter must wake it.
        tokio::time::sleep(timeout).await;
        let started = Instant::now();
        let r = d
            .wait(0, started + timeout, std::future::pending::<()>())
            .await;
        let took = started.elapsed();
        assert_eq!(r, Err(Elapsed));
        assert!(took >= timeout, "gave up early: {took:?}");
        // Generous: only a hang (no ring at all) or a ticker that stays parked fails this.
        assert!(took < timeout * 20, "gave up far too late: {took:?}");
        ticker.abort();
    }

    #[tokio::test]
    async fn rings_before_the_deadline_do_not_end_the_wait() {
        // Ticks of 10 ms; the reply comes after about six of them.
        let d = Arc::new(Deadlines::new(1, Duration::from_millis(100)));
        let ticker = d.spawn_ticker();
        let r = d
            .wait(0, Instant::now() + Duration::from_secs(5), async {
                tokio::time::sleep(Duration::from_millis(60)).await;
                "late but in time"
            })
            .await;
        assert_eq!(r, Ok("late but in time"));
        ticker.abort();
    }
}
