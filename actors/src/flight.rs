//! Single-flight coordination for `get_or_store`: one generator per cold key at a time.
//!
//! The first caller of a cold key becomes the **leader** of a flight and runs the generator (in
//! its own task — never inside an actor); later callers of the same key **wait** for the
//! flight's outcome instead of running their own. Flights are per `(namespace, key)`, so
//! different keys never wait for each other. The flight table is owned by the cache's
//! service (one per cache instance), shared by every handle.
//!
//! A flight ends in exactly one of:
//! - `Done(bytes)`: the leader stored the value; waiters decode the same bytes;
//! - `Failed(message)`: the generator returned an error; nothing was stored;
//! - `Panicked`: the generator panicked (the leader's caller sees the panic);
//! - `Abandoned`: the leader's future was dropped (cancelled, timed out); a waiter takes over.
//!
//! The flight is removed from the table before its outcome is announced, so the next caller
//! after a failure, a panic or an abandonment starts a fresh flight: no key is ever poisoned.
//! Background refreshes (stale-while-revalidate, refresh-ahead) run as flights too, in tasks
//! the table owns and aborts on shutdown.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The outcome of a flight as its waiters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlightState {
    /// The generator is running.
    Running,
    /// The value was produced (and stored); its encoded form.
    Done(Bytes),
    /// The generator returned an error; its `Display` text.
    Failed(Arc<str>),
    /// The generator panicked.
    Panicked,
    /// The leader's future was dropped before the flight ended.
    Abandoned,
}

type Key = (Arc<str>, Box<str>);

/// One flight: the channel its waiters watch.
#[derive(Debug)]
struct Flight {
    tx: watch::Sender<FlightState>,
}

/// The flights of one cache, and the background refresh tasks it owns.
#[derive(Debug, Default)]
pub struct Flights {
    map: DashMap<Key, Arc<Flight>>,
    tasks: Mutex<JoinSet<()>>,
}

/// What joining a flight made of the caller.
#[derive(Debug)]
pub enum Join {
    /// Run the generator, then [`LeaderGuard::finish`].
    Leader(LeaderGuard),
    /// Wait for the leader's outcome.
    Waiter(watch::Receiver<FlightState>),
}

impl Flights {
    /// Joins the flight of `(ns, key)`, starting one (as its leader) if none is running.
    pub fn join(self: &Arc<Self>, ns: &Arc<str>, key: &str) -> Join {
        match self.map.entry((ns.clone(), Box::from(key))) {
            Entry::Occupied(o) => Join::Waiter(o.get().tx.subscribe()),
            Entry::Vacant(v) => {
                let (tx, _) = watch::channel(FlightState::Running);
                let flight = Arc::new(Flight { tx });
                v.insert(flight.clone());
                Join::Leader(LeaderGuard {
                    flights: self.clone(),
                    key: (ns.clone(), Box::from(key)),
                    flight,
                    finished: false,
                })
            }
        }
    }

    /// Starts a flight only if none is running for the key (background refreshes).
    pub fn try_lead(self: &Arc<Self>, ns: &Arc<str>, key: &str) -> Option<LeaderGuard> {
        match self.join(ns, key) {
            Join::Leader(g) => Some(g),
            Join::Waiter(_) => None,
        }
    }

    /// Number of flights running now.
    pub fn in_flight(&self) -> usize {
        self.map.len()
    }

    /// Spawns a background task owned by this table (aborted by [`Flights::abort_all`]).
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Ok(mut tasks) = self.tasks.lock() {
            // Reap finished tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(task);
        }
    }

    /// Aborts every background task (cache shutdown).
    pub fn abort_all(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }

    fn end(&self, key: &Key, flight: &Arc<Flight>, state: FlightState) {
        // Remove first, then announce: a caller arriving now starts afresh (or finds the
        // stored value), never joins a finished flight.
        self.map.remove_if(key, |_, f| Arc::ptr_eq(f, flight));
        flight.tx.send_replace(state);
    }
}

/// Held by a flight's leader. Dropping it without [`LeaderGuard::finish`] ends the flight as
/// `Panicked` (while unwinding) or `Abandoned` (future dropped), so no waiter waits forever.
#[derive(Debug)]
pub struct LeaderGuard {
    flights: Arc<Flights>,
    key: Key,
    flight: Arc<Flight>,
    finished: bool,
}

impl LeaderGuard {
    /// Ends the flight with `state` and wakes every waiter.
    pub fn finish(mut self, state: FlightState) {
        self.finished = true;
        self.flights.end(&self.key, &self.flight, state);
    }

    /// How many callers are waiting on this flight now.
    pub fn waiters(&self) -> usize {
        self.flight.tx.receiver_count()
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if !self.finished {
            let state = if std::thread::panicking() {
                FlightState::Panicked
            } else {
                FlightState::Abandoned
            };
            self.flights.end(&self.key, &self.flight, state);
        }
    }
}
