//! Concurrency checks of the single-flight table (`actors/src/flight.rs`) and of a bounded
//! memory table's shared state (`actors/src/backend/memory.rs` with `memory/policy.rs`):
//! stress tests with randomized schedules, each seeded and counted.
//!
//! # Why not a model checker
//! `loom` and `shuttle` explore the interleavings of operations on *their own* primitives
//! (`loom::sync::*`, `shuttle::sync::*`, their threads and atomics); code that uses other
//! primitives runs unobserved, as one uninterrupted step. The flight table is a
//! `dashmap::DashMap` of `tokio::sync::watch` channels, and the table is `DashMap`s,
//! `arc_swap`, `std::sync::Mutex` and `std` atomics, none of them swappable for the checker's
//! without changing the library (a `cfg(loom)` / `cfg(shuttle)` alias for every primitive, and
//! replacements for `DashMap`, `arc-swap` and `tokio::sync::watch`, which do not offer one
//! that the checkers can see into). The brief is tests only, so these are stress tests
//! instead: many tasks or threads, seeded random yields at every step, and invariants checked
//! during and after each schedule. A failure prints its seed; `STRESS_SEED=n` replays that
//! schedule first (replays are best effort: the OS still interleaves threads).
//!
//! # Schedules (defaults; `STRESS_SCHEDULES=n` sets each test's count)
//! | test | schedules | per schedule |
//! |---|---|---|
//! | `get_or_store_single_flight` | 200 (direct and rpc alternating) | 32 callers over 3 keys, generators that succeed, fail, panic or are cancelled |
//! | `flight_table_one_leader_per_key` | 200 | 6 threads × 300 joins over 2 keys |
//! | `bounded_table_stays_within_its_limits` | 40 × 3 policies (`lfu`, `lru`, `reject`) | 4 writer threads × 1,500 operations + a clock/sweep thread + a checker thread |
//!
//! # Invariants
//! - **Single flight** (`get_or_store`, documented in `Cache::get_or_store_with`): at most one
//!   generator of a key runs at any moment; with no TTL and no deletes a key's generator
//!   succeeds once, plus at most once more per cancelled caller (a leader cancelled after
//!   its generator returned may not have stored the value: a waiter takes over, as
//!   documented); every caller gets a value a generator produced, or its own generator's error
//!   (`Generator`), or a failed leader's error text (`LeaderFailed`, naming a run that
//!   failed), or `LeaderPanicked` (a run panicked); no caller waits forever; no flight is
//!   left in the table.
//! - **Flight table**: one leader per key at a time; every waiter sees a final state, and a
//!   `Done` it sees is one a leader announced; `in_flight()` is 0 at the end.
//! - **Bounded table**: the entry count never exceeds `max_entries` (read by a checker thread
//!   throughout, through `held()`); bytes stay within `max_bytes` exactly under `reject` and
//!   within the documented slack (one `max_value_bytes` + key + overhead per writing thread)
//!   under `lfu`/`lru`, and exactly at rest; at rest the global counts (`held()`) equal the
//!   per-namespace sums (`usage()`), which equal what the keys really hold (entries and
//!   bytes, read key by key after a final sweep); the eviction listener heard exactly the
//!   evictions the counters show, and `reject` evicted nothing.

#![allow(clippy::field_reassign_with_default)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use deeper_cache::{
    AdapterConfig, Cache, CacheConfig, DataPlaneMode, DefaultTtl, EvictionPolicy, EvictionReason,
    GetOrStoreError, MemoryConfig, StoreOptions, Ttl,
};
use deeper_cache_actors::backend::{MemoryBackend, MemoryTable};
use deeper_cache_actors::flight::{FlightState, Flights, Join};
use deeper_cache_actors::{CacheBackend, ManualClock};

fn schedules(default: u64) -> u64 {
    std::env::var("STRESS_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seeds to run: `STRESS_SEED` first when set, then `0..n` offset by a per-test base.
fn seeds(base: u64, n: u64) -> Vec<u64> {
    let mut out: Vec<u64> = std::env::var("STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .into_iter()
        .collect();
    out.extend((0..n).map(|i| base.wrapping_mul(1_000_003).wrapping_add(i)));
    out
}

/// Yields to the runtime a random number of times (0 most often).
async fn jitter(rng: &mut fastrand::Rng) {
    let n = match rng.u8(..10) {
        0..=4 => 0,
        5..=7 => rng.usize(1..4),
        _ => rng.usize(4..32),
    };
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

/// Polls `inner` at most `polls` times; then drops it (a cancelled call) and answers `None`.
struct CancelAfter<F> {
    inner: Option<Pin<Box<F>>>,
    polls: u32,
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            self.inner = None;
            return Poll::Ready(None);
        }
        self.polls -= 1;
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                // Let the next poll come: a cancelled call is one that was in progress.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// The panic payload of a generator that panics on purpose (silenced in the output).
struct PlannedPanic;

fn silence_planned_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<PlannedPanic>().is_none() {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------
// get_or_store: single flight through the facade
// ---------------------------------------------------------------------------------------

/// What the generators of one key did.
#[derive(Debug, Default)]
struct KeyRuns {
    /// Generators of this key running now.
    active: AtomicUsize,
    /// Most generators of this key ever running at once.
    max_active: AtomicUsize,
    next_run: AtomicU64,
    succeeded: Mutex<Vec<String>>,
    failed: Mutex<Vec<String>>,
    panicked: AtomicU64,
}

/// Lowers `active` when a generator ends, however it ends (returned, panicked, dropped).
struct Running<'a>(&'a KeyRuns);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy)]
enum Plan {
    Succeed,
    Fail,
    Panic,
}

#[derive(Debug)]
enum Got {
    Value(String),
    Generator(String),
    LeaderFailed(String),
    LeaderPanicked,
    /// The caller's own generator panicked (the panic unwound through its task).
    OwnPanic,
    Cancelled,
    Other(String),
}

async fn one_schedule_get_or_store(
    seed: u64,
    mode: DataPlaneMode,
    seen: &mut BTreeMap<&'static str, u64>,
) -> Result<(), String> {
    const KEYS: [&str; 3] = ["a", "b", "c"];
    const CALLERS: usize = 32;
    let mut config = CacheConfig::default();
    config.adapter = AdapterConfig {
        mode,
        partitions: 2,
    };
    config.default_ttl_seconds = DefaultTtl(Ttl::Never);
    config.memory.cleanup_interval_ms = 3_600_000;
    config.metrics_reporter.report_interval_ms = 3_600_000;
    config.metrics.enabled = false;
    let cache = Cache::start(config).await.map_err(|e| e.to_string())?;
    let runs: Arc<HashMap<&'static str, KeyRuns>> =
        Arc::new(KEYS.iter().map(|k| (*k, KeyRuns::default())).collect());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let key = KEYS[rng.usize(..KEYS.len())];
        let plan = match rng.u8(..10) {
            0..=5 => Plan::Succeed,
            6..=8 => Plan::Fail,
            _ => Plan::Panic,
        };
        // About one caller in six gives up after a few polls (its future is dropped).
        let cancel_after = (rng.u8(..6) == 0).then(|| rng.u32(1..40));
        let mut task_rng = fastrand::Rng::with_seed(rng.u64(..));
        let cache = cache.clone();
        let runs = runs.clone();
        tasks.spawn(async move {
            jitter(&mut task_rng).await;
            let mut gen_rng = fastrand::Rng::with_seed(task_rng.u64(..));
            let runs_for_gen = runs.clone();
            let generator = move || async move {
                let r = &runs_for_gen[key];
                let now = r.active.fetch_add(1, Ordering::SeqCst) + 1;
                r.max_active.fetch_max(now, Ordering::SeqCst);
                let _running = Running(r);
                let run = r.next_run.fetch_add(1, Ordering::SeqCst);
                jitter(&mut gen_rng).await;
                match plan {
                    Plan::Succeed => {
                        let v = format!("{key}-value-{run}-by-{caller}");
                        r.succeeded.lock().unwrap().push(v.clone());
                        Ok(v)
                    }
                    Plan::Fail => {
                        let e = format!("{key}-error-{run}-by-{caller}");
                        r.failed.lock().unwrap().push(e.clone());
                        Err(e)
                    }
                    Plan::Panic => {
                        r.panicked.fetch_add(1, Ordering::SeqCst);
                        std::panic::panic_any(PlannedPanic)
                    }
                }
            };
            let options = StoreOptions::new().wait_timeout(Duration::from_secs(120));
            let call = cache.get_or_store_with::<String, String, _, _>(key, options, generator);
            let outcome = match cancel_after {
                Some(polls) => {
                    CancelAfter {
                        inner: Some(Box::pin(call)),
                        polls,
                    }
                    .await
                }
                None => Some(call.await),
            };
            let got = match outcome {
                None => Got::Cancelled,
                Some(Ok(v)) => Got::Value(v),
                Some(Err(GetOrStoreError::Generator(e))) => Got::Generator(e),
                Some(Err(GetOrStoreError::LeaderFailed { message })) => Got::LeaderFailed(message),
                Some(Err(GetOrStoreError::LeaderPanicked)) => Got::LeaderPanicked,
                Some(Err(e)) => Got::Other(format!("{e:?}")),
            };
            (key, got)
        });
    }
    let mut results: Vec<(&str, Got)> = Vec::new();
    let wait_all = async {
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(kg) => results.push(kg),
                Err(e) if e.is_panic() => results.push(("?", Got::OwnPanic)),
                Err(e) => return Err(format!("a caller task failed: {e}")),
            }
        }
        Ok(())
    };
    // Generous: a schedule takes milliseconds; this only turns a hang into a failure.
    tokio::time::timeout(Duration::from_secs(120), wait_all)
        .await
        .map_err(|_| "a caller waited forever".to_string())??;

    let mut errors = Vec::new();
    for key in KEYS {
        let r = &runs[key];
        let succeeded = r.succeeded.lock().unwrap().clone();
        let failed: BTreeSet<String> = r.failed.lock().unwrap().iter().cloned().collect();
        if r.max_active.load(Ordering::SeqCst) > 1 {
            errors.push(format!(
                "{key}: {} generators ran at once",
                r.max_active.load(Ordering::SeqCst)
            ));
        }
        // A leader cancelled after its generator succeeded may not have stored the value;
        // a waiter then takes over with its own generator (documented). Any other second
        // success is a second flight.
        let cancelled = results
            .iter()
            .filter(|(k, g)| *k == key && matches!(g, Got::Cancelled))
            .count();
        if succeeded.len() > 1 + cancelled {
            errors.push(format!(
                "{key}: the generator succeeded {} times with {cancelled} callers cancelled: {succeeded:?}",
                succeeded.len()
            ));
        }
        let mut own_errors = 0;
        for (k, got) in results.iter().filter(|(k, _)| *k == key) {
            match got {
                Got::Value(v) if succeeded.contains(v) => {}
                Got::Generator(e) if failed.contains(e) => own_errors += 1,
                Got::LeaderFailed(m) if failed.contains(m) => {}
                Got::LeaderPanicked if r.panicked.load(Ordering::SeqCst) > 0 => {}
                Got::Cancelled => {}
                other => errors.push(format!("{k}: unexpected outcome {other:?}")),
            }
        }
        if own_errors != failed.len() {
            errors.push(format!(
                "{key}: {} generator runs failed but {own_errors} callers got their own error",
                failed.len()
            ));
        }
    }
    for (_, got) in &results {
        if let Got::Other(e) = got {
            errors.push(format!("unexpected error: {e}"));
        }
    }
    for (_, got) in &results {
        let kind = match got {
            Got::Value(_) => "value",
            Got::Generator(_) => "own generator error",
            Got::LeaderFailed(_) => "leader failed",
            Got::LeaderPanicked => "leader panicked",
            Got::OwnPanic => "own panic",
            Got::Cancelled => "cancelled",
            Got::Other(_) => "other",
        };
        *seen.entry(kind).or_default() += 1;
    }
    let own_panics = results
        .iter()
        .filter(|(_, g)| matches!(g, Got::OwnPanic))
        .count() as u64;
    let panicked: u64 = runs
        .values()
        .map(|r| r.panicked.load(Ordering::SeqCst))
        .sum();
    if own_panics != panicked {
        errors.push(format!(
            "{panicked} generators panicked, {own_panics} caller tasks saw a panic"
        ));
    }
    if cache.generators_in_flight() != 0 {
        errors.push(format!(
            "{} flights left in the table",
            cache.generators_in_flight()
        ));
    }
    cache.shutdown().await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn get_or_store_single_flight() {
    silence_planned_panics();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = schedules(200);
    let mut seen = BTreeMap::new();
    for (i, seed) in seeds(1, n).into_iter().enumerate() {
        let mode = if i % 2 == 0 {
            DataPlaneMode::Direct
        } else {
            DataPlaneMode::Rpc
        };
        if let Err(e) = rt.block_on(one_schedule_get_or_store(seed, mode, &mut seen)) {
            panic!("schedule with STRESS_SEED={seed} ({mode:?}) failed:\n{e}");
        }
    }
    eprintln!("get_or_store_single_flight: {n} schedules, outcomes {seen:?}");
    // The schedules reach every documented outcome (over the default count).
    if n >= 50 {
        for kind in [
            "value",
            "own generator error",
            "leader failed",
            "leader panicked",
            "own panic",
            "cancelled",
        ] {
            assert!(seen.contains_key(kind), "no caller saw {kind:?}: {seen:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The flight table itself, from OS threads
// ---------------------------------------------------------------------------------------

fn one_schedule_flight_table(seed: u64) -> Result<(), String> {
    const THREADS: u64 = 6;
    const JOINS: usize = 300;
    let flights = Arc::new(Flights::default());
    let ns: Arc<str> = Arc::from("ns");
    let active: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let announced = Arc::new(Mutex::new(BTreeSet::<Vec<u8>>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (flights, ns, active, announced, failures) = (
                flights.clone(),
                ns.clone(),
                active.clone(),
                announced.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let mut rng = fastrand::Rng::with_seed(seed ^ (t + 1).wrapping_mul(0x9e37));
                for j in 0..JOINS {
                    let k = rng.usize(..2);
                    let key = ["x", "y"][k];
                    match flights.join(&ns, key) {
                        Join::Leader(guard) => {
                            if active[k].fetch_add(1, Ordering::SeqCst) != 0 {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("two leaders of {key} at once"));
                            }
                            for _ in 0..rng.usize(..20) {
                                std::thread::yield_now();
                            }
                            active[k].fetch_sub(1, Ordering::SeqCst);
                            match rng.u8(..3) {
                                0 => drop(guard), // abandoned
                                1 => guard.finish(FlightState::Failed(Arc::from("no"))),
                                _ => {
                                    let v = format!("{t}-{j}").into_bytes();
                                    announced.lock().unwrap().insert(v.clone());
                                    guard.finish(FlightState::Done(Bytes::from(v)));
                                }
                            }
                        }
                        Join::Waiter(mut rx) => {
                            let state = rt.block_on(async {
                                tokio::time::timeout(
                                    Duration::from_secs(60),
                                    rx.wait_for(|s| *s != FlightState::Running),
                                )
                                .await
                                .map(|r| r.map(|s| s.clone()))
                            });
                            let ok = match &state {
                                Ok(Ok(FlightState::Done(v))) => {
                                    announced.lock().unwrap().contains(v.as_ref())
                                }
                                Ok(Ok(FlightState::Failed(_) | FlightState::Abandoned)) => true,
                                _ => false,
                            };
                            if !ok {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("a waiter of {key} saw {state:?}"));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a thread panicked".to_string())?;
    }
    let mut failures = failures.lock().unwrap().clone();
    if flights.in_flight() != 0 {
        failures.push(format!("{} flights left in the table", flights.in_flight()));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        failures.dedup();
        Err(failures.join("\n"))
    }
}

#[test]
fn flight_table_one_leader_per_key() {
    let n = schedules(200);
    for seed in seeds(2, n) {
        if let Err(e) = one_schedule_flight_table(seed) {
            panic!("schedule with STRESS_SEED={seed} failed:\n{e}");
        }
    }
    eprintln!("flight_table_one_leader_per_key: {n} schedules");
}

// ---------------------------------------------------------------------------------------
// A bounded memory table under concurrent writers, sweeps and the eviction policy
// ---------------------------------------------------------------------------------------

const MAX_ENTRIES: u64 = 64;
const MAX_BYTES: u64 = 8 * 1024;
const MAX_VALUE: usize = 300;
const WRITERS: u64 = 4;
const OPS: usize = 1_500;
const OVERHEAD: u64 = deeper_cache::ENTRY_OVERHEAD_BYTES as u64;
const NAMESPACES: [&str; 3] = ["n0", "n1", "n2"];

fn key_of(i: usize) -> String {
    format!("key-{i}")
}

fn one_schedule_bounded(
    seed: u64,
    policy: EvictionPolicy,
    bytes_limit: bool,
    seen: &mut BTreeMap<String, u64>,
) -> Result<(), String> {
    let clock = ManualClock::new();
    let config = MemoryConfig {
        max_entries: MAX_ENTRIES,
        max_bytes: if bytes_limit { MAX_BYTES } else { 0 },
        max_value_bytes: MAX_VALUE,
        eviction_policy: policy,
        ..MemoryConfig::default()
    };
    let table = Arc::new(MemoryTable::with_config(clock.clock(), &config));
    let backend = Arc::new(MemoryBackend::new(table.clone()));
    let heard: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    {
        let heard = heard.clone();
        table.set_eviction_listener(Some(Arc::new(move |e: &deeper_cache::Eviction| {
            let reason = match e.reason {
                EvictionReason::Ttl => "ttl",
                EvictionReason::Lru => "lru",
                EvictionReason::Lfu => "lfu",
                _ => "other",
            };
            *heard.lock().unwrap().entry(reason).or_default() += 1;
        })));
    }
    let done = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    // Growth in flight under lfu/lru: one value, key and overhead per writing thread.
    let slack = if policy == EvictionPolicy::Reject {
        0
    } else {
        WRITERS * (MAX_VALUE as u64 + 16 + OVERHEAD)
    };
    let checker = {
        let (table, done, violations) = (table.clone(), done.clone(), violations.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Acquire) || reads == 0 {
                let (entries, bytes) = table.held();
                if entries > MAX_ENTRIES {
                    violations.lock().unwrap().push(format!(
                        "{entries} entries held, max_entries = {MAX_ENTRIES}"
                    ));
                }
                if bytes_limit && bytes > MAX_BYTES + slack {
                    violations.lock().unwrap().push(format!(
                        "{bytes} bytes held, max_bytes = {MAX_BYTES} (+ slack {slack})"
                    ));
                }
                reads += 1;
                std::thread::yield_now();
            }
            reads
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (table, backend, violations) = (table.clone(), backend.clone(), violations.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let mut rng = fastrand::Rng::with_seed(seed ^ (t + 7).wrapping_mul(0x51_7cc1));
                for _ in 0..OPS {
                    let ns = NAMESPACES[rng.usize(..NAMESPACES.len())];
                    let key = key_of(rng.usize(..96));
                    let ttl = match rng.u8(..4) {
                        0 => Ttl::After(Duration::from_millis(rng.u64(1..3_000))),
                        _ => Ttl::Never,
                    };
                    let r = match rng.u8(..20) {
                        0..=7 => {
                            let v = Bytes::from(vec![b'v'; rng.usize(0..=MAX_VALUE)]);
                            table.put(ns, &key, v, ttl).map(|_| ())
                        }
                        8..=10 => table.get(ns, &key).map(|_| ()),
                        11..=12 => {
                            table.delete(ns, &key);
                            Ok(())
                        }
                        13..=14 => table.increment(ns, &key, rng.i64(-3..=3), ttl).map(|_| ()),
                        15..=16 => {
                            let m = Bytes::from(vec![b'm'; rng.usize(1..40)]);
                            rt.block_on(backend.add_to_set(ns, &key, m, ttl))
                                .map(|_| ())
                        }
                        17 => {
                            let m = Bytes::from(vec![b'm'; rng.usize(1..40)]);
                            rt.block_on(backend.remove_from_set(ns, &key, m))
                                .map(|_| ())
                        }
                        18 => {
                            let glob = deeper_cache_actors::Glob::new("key-1*").unwrap();
                            rt.block_on(backend.delete_pattern(ns, &glob)).map(|_| ())
                        }
                        _ => {
                            if rng.u8(..8) == 0 {
                                rt.block_on(backend.clear(Some(ns))).map(|_| ())
                            } else {
                                table.get(ns, &key).map(|_| ())
                            }
                        }
                    };
                    match r {
                        Ok(())
                        | Err(deeper_cache::CacheError::WrongType { .. })
                        | Err(deeper_cache::CacheError::NotAnInteger)
                        | Err(deeper_cache::CacheError::CapacityExceeded { .. }) => {}
                        Err(e) => violations.lock().unwrap().push(format!("unexpected {e:?}")),
                    }
                    if rng.u8(..4) == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let sweeper = {
        let (table, done) = (table.clone(), done.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let mut rng = fastrand::Rng::with_seed(seed ^ 0xc10c);
            while !done.load(Ordering::Acquire) {
                clock.advance(Duration::from_millis(rng.u64(0..400)));
                rt.block_on(table.sweep_expired(rng.usize(1..16), |_| {}));
                std::thread::yield_now();
            }
            clock
        })
    };
    for w in writers {
        w.join().map_err(|_| "a writer panicked".to_string())?;
    }
    done.store(true, Ordering::Release);
    let reads = checker.join().map_err(|_| "the checker panicked")?;
    let clock = sweeper.join().map_err(|_| "the sweeper panicked")?;
    let _ = clock;

    let mut v = violations.lock().unwrap().clone();
    // At rest: sweep what expired, then every count must agree.
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(table.sweep_expired(1_000, |_| {}));
    let (entries, bytes) = table.held();
    let usage = table.usage();
    if (entries, bytes) != (usage.entries, usage.bytes) {
        v.push(format!(
            "held() = {:?} but usage() sums to {:?}",
            (entries, bytes),
            (usage.entries, usage.bytes)
        ));
    }
    if entries > MAX_ENTRIES || (bytes_limit && bytes > MAX_BYTES) {
        v.push(format!("at rest: {entries} entries, {bytes} bytes"));
    }
    // What the keys really hold.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (mut real_entries, mut real_bytes) = (0u64, 0u64);
    for ns in NAMESPACES {
        for i in 0..96 {
            let key = key_of(i);
            if table.ttl(ns, &key).is_none() {
                continue;
            }
            real_entries += 1;
            let len = match table.get(ns, &key) {
                Ok(Some(b)) => b.len() as u64,
                Ok(None) => 0,
                Err(_) => rt
                    .block_on(backend.set_members(ns, &key))
                    .map_err(|e| format!("{e:?}"))?
                    .iter()
                    .map(|m| m.len() as u64)
                    .sum(),
            };
            real_bytes += key.len() as u64 + len + OVERHEAD;
        }
    }
    if (real_entries, real_bytes) != (usage.entries, usage.bytes) {
        v.push(format!(
            "the keys hold {:?} (entries, bytes), usage() says {:?}",
            (real_entries, real_bytes),
            (usage.entries, usage.bytes)
        ));
    }
    let heard = heard.lock().unwrap().clone();
    let sum = |f: fn(&deeper_cache::NamespaceUsage) -> u64| usage.namespaces.iter().map(f).sum();
    let counted: BTreeMap<&str, u64> = [
        ("ttl", sum(|u| u.evicted_ttl)),
        ("lru", sum(|u| u.evicted_lru)),
        ("lfu", sum(|u| u.evicted_lfu)),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect();
    for (k, n) in &counted {
        *seen.entry(format!("{policy:?} evicted {k}")).or_default() += n;
    }
    *seen
        .entry(format!("{policy:?} refused (capacity)"))
        .or_default() += sum(|u| u.evicted_capacity);
    *seen.entry(format!("{policy:?} checker reads")).or_default() += reads;
    if heard != counted {
        v.push(format!(
            "the listener heard {heard:?}, the counters say {counted:?}"
        ));
    }
    if policy == EvictionPolicy::Reject
        && (counted.contains_key("lru") || counted.contains_key("lfu"))
    {
        v.push(format!("reject evicted: {counted:?}"));
    }
    if reads == 0 {
        v.push("the checker never read".into());
    }
    if v.is_empty() {
        Ok(())
    } else {
        v.dedup();
        v.truncate(20);
        Err(v.join("\n"))
    }
}

#[test]
fn bounded_table_stays_within_its_limits() {
    let n = schedules(40);
    let mut seen = BTreeMap::new();
    for policy in [
        EvictionPolicy::Lfu,
        EvictionPolicy::Lru,
        EvictionPolicy::Reject,
    ] {
        for (i, seed) in seeds(3, n).into_iter().enumerate() {
            let bytes_limit = i % 2 == 1;
            if let Err(e) = one_schedule_bounded(seed, policy, bytes_limit, &mut seen) {
                panic!(
                    "schedule with STRESS_SEED={seed} ({policy:?}, max_bytes {}) failed:\n{e}",
                    if bytes_limit { "set" } else { "unset" }
                );
            }
        }
    }
    eprintln!("bounded_table_stays_within_its_limits: {n} schedules × 3 policies: {seen:?}");
    // The schedules really press on the limits.
    for what in [
        "Lfu evicted lfu",
        "Lru evicted lru",
        "Reject refused (capacity)",
        "Lfu evicted ttl",
    ] {
        assert!(
            seen.get(what).is_some_and(|n| *n > 0),
            "never {what}: {seen:?}"
        );
    }
}
