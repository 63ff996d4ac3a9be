//! OTP supervision: strategies, restart intensity, pre_start failures, embedding, and a chaos
//! test that loses no acknowledged write.
#![allow(clippy::field_reassign_with_default)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use deeper_cache::ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use deeper_cache::{
    Cache, CacheConfig, CacheError, ChildKind, DataPlaneMode, Fault, ManualClock, Strategy,
    SupervisorStatus,
};
use tokio::sync::mpsc;

/// An `rpc`-mode configuration (two adapter partitions), so adapter crashes meet live calls.
fn config(strategy: Strategy) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.adapter.mode = DataPlaneMode::Rpc;
    c.adapter.partitions = 2;
    c.supervisor.strategy = strategy;
    c.supervisor.max_restarts = 100;
    c.supervisor.max_seconds = 60;
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

/// Positions (in start order) of the children that got a new actor id between two snapshots.
fn changed(before: &SupervisorStatus, after: &SupervisorStatus) -> Vec<usize> {
    before
        .children
        .iter()
        .zip(&after.children)
        .enumerate()
        .filter(|(_, (b, a))| b.actor_id != a.actor_id)
        .map(|(i, _)| i)
        .collect()
}

async fn crash_adapter_and_wait(cache: &Cache) -> SupervisorStatus {
    let before = cache.supervisor_status().await.unwrap();
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    // The get meets the crash and is retried on the new incarnation.
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1));
    // Wait (bounded) until the supervisor has handled the exit and every child is up.
    for _ in 0..500 {
        let s = cache.supervisor_status().await.unwrap();
        if s.restarts == before.restarts + 1 && s.children.iter().all(|c| c.actor_id.is_some()) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the supervisor did not finish the restart");
}

#[tokio::test]
async fn each_strategy_restarts_exactly_the_children_otp_would() {
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        let cache = Cache::start(config(strategy)).await.unwrap();
        cache.put("k", &1).await.unwrap();
        cache.increment("counter", 5).await.unwrap();
        cache.add_to_set("set", &"m").await.unwrap();
        let before = cache.supervisor_status().await.unwrap();
        assert_eq!(before.strategy, strategy);
        let kinds: Vec<ChildKind> = before.children.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ChildKind::Store,
                ChildKind::Adapter,
                ChildKind::Adapter,
                ChildKind::Cleanup,
                ChildKind::MetricsReporter
            ],
            "declared start order"
        );
        let after = crash_adapter_and_wait(&cache).await;
        let changed = changed(&before, &after);
        // Under one_for_one and rest_for_one the crashed adapter is the first child that
        // changed; under one_for_all every child changes.
        let crashed = changed[0];
        if strategy != Strategy::OneForAll {
            assert_eq!(before.children[crashed].kind, ChildKind::Adapter);
        }
        let expected: Vec<usize> = match strategy {
            Strategy::OneForOne => vec![crashed],
            Strategy::OneForAll => (0..before.children.len()).collect(),
            Strategy::RestForOne => (crashed..before.children.len()).collect(),
        };
        assert_eq!(changed, expected, "{strategy:?}");
        // No data lost, whatever restarted.
        assert_eq!(cache.increment("counter", 1).await.unwrap(), 6);
        assert!(cache.is_member("set", &"m").await.unwrap());
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn rest_for_one_after_the_store_restarts_everything() {
    let cache = Cache::start(config(Strategy::RestForOne)).await.unwrap();
    cache.put("k", &1).await.unwrap();
    let before = cache.supervisor_status().await.unwrap();
    cache.inject_fault(ChildKind::Store, Fault::Panic);
    assert_eq!(cache.usage().await.unwrap().entries, 1);
    let mut after = cache.supervisor_status().await.unwrap();
    for _ in 0..500 {
        if after.children.iter().all(|c| c.actor_id.is_some()) && after.restarts == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        after = cache.supervisor_status().await.unwrap();
    }
    assert_eq!(
        changed(&before, &after),
        (0..before.children.len()).collect::<Vec<_>>()
    );
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1));
    cache.shutdown().await;
}

/// A parent actor that forwards the supervision events it receives to the test.
struct Parent;

impl Actor for Parent {
    type Msg = ();
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        tx: mpsc::UnboundedSender<String>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<()>,
        evt: SupervisionEvent,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let text = match evt {
            SupervisionEvent::ActorFailed(cell, e) => {
                format!("failed {} {e}", cell.get_name().unwrap_or_default())
            }
            SupervisionEvent::ActorTerminated(cell, _, r) => format!(
                "terminated {} {}",
                cell.get_name().unwrap_or_default(),
                r.unwrap_or_default()
            ),
            _ => return Ok(()),
        };
        let _ = tx.send(text);
        Ok(())
    }
}

#[tokio::test]
async fn intensity_exceeded_stops_the_tree_and_the_parent_sees_it() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (parent, parent_join) = Actor::spawn(None, Parent, tx).await.unwrap();
    let mut c = config(Strategy::OneForOne);
    c.name = Some("intensity_test".into());
    c.supervisor.max_restarts = 2;
    c.call_timeout_ms = 30_000;
    let cache = Cache::start_linked(c, parent.get_cell()).await.unwrap();
    cache.put("k", &1).await.unwrap();
    cache.increment("visits", 10).await.unwrap();

    for _ in 0..2 {
        cache.inject_fault(ChildKind::Adapter, Fault::Panic);
        assert_eq!(
            cache.get::<i32>("k").await.unwrap(),
            Some(1),
            "within intensity"
        );
    }
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    // The third crash exceeds 2 restarts in the window: the supervisor stops itself. The call
    // that met the crash returns Unavailable — at once, not after the 30 s call timeout
    // (the test's own timeout would catch a hang).
    let err = tokio::time::timeout(Duration::from_secs(10), cache.get::<i32>("k"))
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err, CacheError::Unavailable { .. }), "{err:?}");
    let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("parent notified")
        .unwrap();
    assert!(event.starts_with("failed intensity_test"), "{event}");
    assert!(event.contains("restart intensity exceeded"), "{event}");
    assert!(matches!(
        cache.increment("visits", 1).await,
        Err(CacheError::Unavailable { .. })
    ));
    // No child of the failed tree is left running.
    let left: Vec<_> = deeper_cache::ractor::registry::registered()
        .into_iter()
        .filter(|n| n.starts_with("intensity_test"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The parent restarts the tree: same handle, same data.
    cache.restart_linked(parent.get_cell()).await.unwrap();
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1));
    assert_eq!(cache.increment("visits", 1).await.unwrap(), 11);
    cache.shutdown().await;
    parent.stop(None);
    parent_join.await.unwrap();
}

#[tokio::test]
async fn a_failed_pre_start_counts_as_a_restart() {
    // Within intensity: the failed start is retried and the child comes up.
    let cache = Cache::start(config(Strategy::OneForOne)).await.unwrap();
    cache.put("k", &1).await.unwrap();
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    cache.inject_fault(ChildKind::Adapter, Fault::FailStart);
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1));
    let status = cache.supervisor_status().await.unwrap();
    let adapter = status
        .children
        .iter()
        .find(|c| c.kind == ChildKind::Adapter)
        .unwrap();
    assert_eq!(
        adapter.restarts, 2,
        "the crash and the failed start each count"
    );
    assert!(adapter.actor_id.is_some(), "no hole in the tree");
    cache.shutdown().await;

    // Past intensity: a crash plus a failed start with max_restarts = 1 stops the tree.
    let mut c = config(Strategy::OneForOne);
    c.supervisor.max_restarts = 1;
    let cache = Cache::start(c).await.unwrap();
    cache.put("k", &1).await.unwrap();
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    cache.inject_fault(ChildKind::Adapter, Fault::FailStart);
    let err = cache.get::<i32>("k").await.unwrap_err();
    assert!(matches!(err, CacheError::Unavailable { .. }), "{err:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn a_cleanup_crash_mid_sweep_is_restarted_and_the_next_sweep_completes() {
    let clock = ManualClock::new();
    let mut c = config(Strategy::OneForOne);
    c.memory.cleanup_batch_size = 1_000;
    let cache = Cache::start_with_clock(c, &clock).await.unwrap();
    for i in 0..5_000 {
        cache
            .put_with_ttl(&format!("e{i}"), &i, Duration::from_secs(1))
            .await
            .unwrap();
    }
    cache.put("live", &1).await.unwrap();
    clock.advance(Duration::from_secs(1));
    cache.inject_fault(ChildKind::Cleanup, Fault::PanicMidway);
    // The first sweep removes one batch, then the Cleanup actor panics; the request is retried
    // on the restarted Cleanup, whose sweep removes the rest.
    let removed_by_second = cache.purge_expired().await.unwrap();
    assert_eq!(removed_by_second, 4_000);
    assert_eq!(cache.usage().await.unwrap().entries, 1);
    let status = cache.supervisor_status().await.unwrap();
    let cleanup = status
        .children
        .iter()
        .find(|c| c.kind == ChildKind::Cleanup)
        .unwrap();
    assert_eq!(cleanup.restarts, 1);
    assert_eq!(cache.purge_expired().await.unwrap(), 0);
    cache.shutdown().await;
}

/// Sets the flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Small deterministic PRNG (xorshift64*), one per task.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TASKS: u64 = 8;
const OPS_PER_TASK: u64 = 20_000;
const PANICS: u64 = 50;
const PUT_KEYS: u64 = 32; // per task
const COUNTERS: u64 = 8; // shared by all tasks
const SETS: u64 = 4; // shared; members are per task
const MEMBERS: u64 = 16;

#[derive(Default)]
struct TaskLog {
    /// Last acknowledged state of each of this task's keys: Some(value) or None (deleted).
    puts: HashMap<String, Option<u64>>,
    /// Acknowledged increments per shared counter.
    increments: HashMap<String, i64>,
    /// Acknowledged membership of this task's members per shared set.
    members: HashMap<(String, u64), bool>,
    ops: u64,
    errors: u64,
}

async fn chaos_run(strategy: Strategy, mode: DataPlaneMode) -> (u64, u64, u64) {
    let mut c = config(strategy);
    c.adapter.mode = mode;
    c.supervisor.max_restarts = 10_000;
    c.supervisor.max_seconds = 1;
    // Cleanup and MetricsReporter handle messages often, so faults armed for them fire soon.
    c.memory.cleanup_interval_ms = 5;
    c.metrics_reporter.report_interval_ms = 5;
    let cache = Cache::start(c).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let faults_fired = Arc::new(AtomicU64::new(0));
    let faults_during_workload = Arc::new(AtomicU64::new(0));
    let injector_done = Arc::new(AtomicBool::new(false));

    let injector = {
        let cache = cache.clone();
        let done = done.clone();
        let fired = faults_fired.clone();
        let during = faults_during_workload.clone();
        let injector_done = injector_done.clone();
        tokio::spawn(async move {
            // Whatever happens to this task (even a failed assertion), the workers stop.
            let _stop_workers = SetOnDrop(injector_done);
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            // In direct mode no call goes through the adapter, so it is not a target.
            let kinds: &[ChildKind] = match mode {
                DataPlaneMode::Rpc => &[
                    ChildKind::Store,
                    ChildKind::Adapter,
                    ChildKind::Cleanup,
                    ChildKind::MetricsReporter,
                ],
                DataPlaneMode::Direct => &[
                    ChildKind::Store,
                    ChildKind::Cleanup,
                    ChildKind::MetricsReporter,
                ],
            };
            for _ in 0..PANICS {
                tokio::time::sleep(Duration::from_micros(rng.below(3_000))).await;
                let before = cache.supervisor_status().await.unwrap().restarts;
                let kind = kinds[rng.below(kinds.len() as u64) as usize];
                cache.inject_fault(kind, Fault::Panic);
                if kind == ChildKind::Store {
                    // Only requests reach the Store: make one.
                    cache.usage().await.unwrap();
                }
                // Wait until this fault has fired and the restart is done (bounded).
                let mut ok = false;
                for _ in 0..5_000 {
                    if cache.supervisor_status().await.unwrap().restarts > before {
                        ok = true;
                        break;
                    }
                    if kind == ChildKind::Adapter && done.load(Ordering::Acquire) {
                        // Workload over: trigger the adapter ourselves.
                        let _ = cache.exists("trigger").await;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                assert!(ok, "fault into {kind:?} never fired");
                fired.fetch_add(1, Ordering::Relaxed);
                if !done.load(Ordering::Acquire) {
                    during.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let mut workers = Vec::new();
    for t in 0..TASKS {
        let cache = cache.clone();
        let injector_done = injector_done.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(0xDEAD_BEEF ^ (t + 1).wrapping_mul(0x1234_5678_9ABC));
            let mut log = TaskLog::default();
            // At least OPS_PER_TASK operations, and on until every fault has fired, so all of
            // them hit a running workload (direct mode runs the operations much faster).
            let mut seq = 0u64;
            while seq < OPS_PER_TASK || !injector_done.load(Ordering::Acquire) {
                seq += 1;
                if seq % 64 == 0 {
                    // Direct-mode calls complete without ever yielding; give the actors and the
                    // injector their turn, as a real application's I/O would.
                    tokio::task::yield_now().await;
                }
                log.ops += 1;
                let ok = match rng.below(10) {
                    0..=2 => {
                        let key = format!("t{t}:p{}", rng.below(PUT_KEYS));
                        let r = cache.put(&key, &seq).await;
                        if r.is_ok() {
                            log.puts.insert(key, Some(seq));
                        }
                        r.is_ok()
                    }
                    3 => {
                        let key = format!("t{t}:p{}", rng.below(PUT_KEYS));
                        let r = cache.delete(&key).await;
                        if r.is_ok() {
                            log.puts.insert(key, None);
                        }
                        r.is_ok()
                    }
                    4..=5 => {
                        // Reads of any task's keys (overlapping).
                        let key = format!("t{}:p{}", rng.below(TASKS), rng.below(PUT_KEYS));
                        cache.get::<u64>(&key).await.is_ok()
                    }
                    6..=7 => {
                        let key = format!("c{}", rng.below(COUNTERS));
                        let r = cache.increment(&key, 1).await;
                        if r.is_ok() {
                            *log.increments.entry(key).or_default() += 1;
                        }
                        r.is_ok()
                    }
                    _ => {
                        let set = format!("s{}", rng.below(SETS));
                        let m = rng.below(MEMBERS);
                        let member = (t, m);
                        let add = rng.below(3) != 0;
                        let r = if add {
                            cache.add_to_set(&set, &member).await
                        } else {
                            cache.remove_from_set(&set, &member).await
                        };
                        if r.is_ok() {
                            log.members.insert((set, m), add);
                        }
                        r.is_ok()
                    }
                };
                if !ok {
                    log.errors += 1;
                }
            }
            log
        }));
    }
    let mut logs = Vec::new();
    for w in workers {
        logs.push(w.await.unwrap());
    }
    done.store(true, Ordering::Release);
    injector.await.unwrap();

    // Verify against what was acknowledged.
    let mut lost = 0u64;
    let mut expected_counts: HashMap<String, i64> = HashMap::new();
    let mut ops = 0;
    let mut errors = 0;
    for (t, log) in logs.iter().enumerate() {
        ops += log.ops;
        errors += log.errors;
        for (key, value) in &log.puts {
            if cache.get::<u64>(key).await.unwrap() != *value {
                lost += 1;
            }
        }
        for (key, n) in &log.increments {
            *expected_counts.entry(key.clone()).or_default() += n;
        }
        for ((set, m), present) in &log.members {
            let member = (t as u64, *m);
            if cache.is_member(set, &member).await.unwrap() != *present {
                lost += 1;
            }
        }
    }
    for (key, n) in &expected_counts {
        if cache.get::<i64>(key).await.unwrap() != Some(*n) {
            lost += 1;
        }
    }
    // Sets hold exactly the acknowledged members: nothing extra either.
    for s in 0..SETS {
        let set = format!("s{s}");
        let members: HashSet<(u64, u64)> =
            cache.set_members(&set).await.unwrap().into_iter().collect();
        for (t, m) in &members {
            let log = &logs[*t as usize];
            if log.members.get(&(set.clone(), *m)) != Some(&true) {
                lost += 1;
            }
        }
    }
    let status = cache.supervisor_status().await.unwrap();
    println!(
        "chaos {strategy:?} {mode:?}: {ops} operations, {} faults injected ({} while the workload ran), {} restarts observed, {errors} errors, {lost} lost or phantom writes",
        faults_fired.load(Ordering::Relaxed),
        faults_during_workload.load(Ordering::Relaxed),
        status.restarts
    );
    assert_eq!(faults_fired.load(Ordering::Relaxed), PANICS);
    assert_eq!(
        status.restarts, PANICS,
        "restart count equals injected panics"
    );
    assert_eq!(lost, 0, "every acknowledged write is intact");
    assert_eq!(errors, 0, "every call was served (retried across restarts)");
    cache.shutdown().await;
    (ops, status.restarts, lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_one_for_one() {
    for mode in [DataPlaneMode::Rpc, DataPlaneMode::Direct] {
        tokio::time::timeout(
            Duration::from_secs(300),
            chaos_run(Strategy::OneForOne, mode),
        )
        .await
        .expect("no call hung");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_one_for_all() {
    for mode in [DataPlaneMode::Rpc, DataPlaneMode::Direct] {
        tokio::time::timeout(
            Duration::from_secs(300),
            chaos_run(Strategy::OneForAll, mode),
        )
        .await
        .expect("no call hung");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_rest_for_one() {
    for mode in [DataPlaneMode::Rpc, DataPlaneMode::Direct] {
        tokio::time::timeout(
            Duration::from_secs(300),
            chaos_run(Strategy::RestForOne, mode),
        )
        .await
        .expect("no call hung");
    }
}
