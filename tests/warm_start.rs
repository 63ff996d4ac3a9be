//! Warm starts (issue 22): warmers run by the CacheWarmer actor, snapshots of the memory table,
//! the no-op backend's bulk and lifecycle calls, and the Redis round trips of the bulk calls.
#![allow(clippy::field_reassign_with_default)]

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deeper_cache::{
    Cache, CacheConfig, CacheError, ChildKind, EvictionPolicy, Fault, ManualClock, SnapshotOnError,
    SnapshotProblem, Ttl, WarmEntry, WarmError, WarmSink, Warmer, WarmerFailure, WarmerOptions,
    async_trait,
};
use support::RedisServer;

fn quiet() -> CacheConfig {
    let mut c = CacheConfig::default();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

/// What a test warmer does on each run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// Loads `n` entries `k0..k{n-1}` whose value is the run number.
    Load(u64),
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
    /// Never finishes.
    Hang,
}

#[derive(Debug)]
struct TestWarmer {
    name: &'static str,
    options: WarmerOptions,
    /// The behaviour of run 1, 2, ...; the last one repeats.
    script: Vec<Behaviour>,
    runs: AtomicU64,
    namespace: Option<&'static str>,
}

impl TestWarmer {
    fn new(name: &'static str, options: WarmerOptions, script: Vec<Behaviour>) -> Self {
        TestWarmer {
            name,
            options,
            script,
            runs: AtomicU64::new(0),
            namespace: None,
        }
    }
}

#[async_trait]
impl Warmer for TestWarmer {
    fn name(&self) -> &str {
        self.name
    }
    fn options(&self) -> WarmerOptions {
        self.options
    }
    async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let i = (run as usize - 1).min(self.script.len() - 1);
        match self.script[i] {
            Behaviour::Load(n) => {
                for k in 0..n {
                    let mut e = WarmEntry::new(format!("k{k}"), &run)?;
                    if let Some(ns) = self.namespace {
                        e = e.namespace(ns);
                    }
                    sink.push(e).await?;
                }
                Ok(())
            }
            Behaviour::Fail => Err("the database is down".into()),
            Behaviour::Panic => panic!("warmer bug"),
            Behaviour::Hang => {
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    }
}

/// Polls (bounded) until `f` holds.
async fn until(mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..2_000 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition never held");
}

// ---------------------------------------------------------------------------------------------
// Warmers

#[tokio::test]
async fn a_required_warmers_entries_are_readable_when_start_returns() {
    let mut w = TestWarmer::new(
        "catalog",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(1_500)],
    );
    w.namespace = Some("catalog");
    let cache = Cache::builder(quiet()).warmer(w).start().await.unwrap();
    let catalog = cache.namespace("catalog").unwrap();
    let keys: Vec<String> = (0..1_500).map(|k| format!("k{k}")).collect();
    let got = catalog.get_many::<u64, _>(&keys).await.unwrap();
    assert!(got.iter().all(|v| *v == Some(1)));
    let stats = cache.warmer_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].runs_ok, stats[0].entries), (1, 1_500));
    assert!(stats[0].required);
    // The CacheWarmer actor is a child of the tree.
    let status = cache.supervisor_status().await.unwrap();
    assert!(
        status
            .children
            .iter()
            .any(|c| c.kind == ChildKind::CacheWarmer)
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn a_failing_required_warmer_fails_start_naming_it() {
    for (behaviour, timeout) in [
        (Behaviour::Fail, Duration::from_secs(30)),
        (Behaviour::Panic, Duration::from_secs(30)),
        (Behaviour::Hang, Duration::from_millis(50)),
    ] {
        let mut config = quiet();
        config.name = Some("warm_fail".into());
        let ok = TestWarmer::new("fine", WarmerOptions::default(), vec![Behaviour::Load(1)]);
        let bad = TestWarmer::new(
            "prices",
            WarmerOptions::default().required().timeout(timeout),
            vec![behaviour],
        );
        let e = Cache::builder(config.clone())
            .warmer(ok)
            .warmer(bad)
            .start()
            .await
            .unwrap_err();
        match (&e, behaviour) {
            (
                CacheError::WarmerFailed {
                    warmer,
                    cause: WarmerFailure::Error { message },
                },
                Behaviour::Fail,
            ) => {
                assert_eq!(warmer, "prices");
                assert!(message.contains("database is down"));
            }
            (
                CacheError::WarmerFailed {
                    warmer,
                    cause: WarmerFailure::Panicked { message },
                },
                Behaviour::Panic,
            ) => {
                assert_eq!(warmer, "prices");
                assert_eq!(message, "warmer bug");
            }
            (
                CacheError::WarmerFailed {
                    warmer,
                    cause: WarmerFailure::TimedOut { .. },
                },
                Behaviour::Hang,
            ) => assert_eq!(warmer, "prices"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("prices"), "{e}");
        // The failed start released its name: the same instance starts again.
        let again = Cache::start(config).await.unwrap();
        again.shutdown().await;
    }
}

#[tokio::test]
async fn a_background_warmer_that_panics_is_counted_retried_and_the_cache_keeps_serving() {
    let w = TestWarmer::new(
        "flaky",
        WarmerOptions::default().retry_after(Duration::from_millis(5)),
        vec![Behaviour::Panic, Behaviour::Fail, Behaviour::Load(3)],
    );
    let cache = Cache::builder(quiet()).warmer(w).start().await.unwrap();
    cache.put("served", &1).await.unwrap();
    assert_eq!(cache.get::<i32>("served").await.unwrap(), Some(1));
    until(async || cache.warmer_stats()[0].runs_ok == 1).await;
    let s = &cache.warmer_stats()[0];
    assert_eq!((s.runs_panicked, s.runs_error, s.runs_ok), (1, 1, 1));
    assert_eq!(cache.get::<u64>("k2").await.unwrap(), Some(3));
    // A panic is caught at the run's task: the actor itself never restarted for it.
    let status = cache.supervisor_status().await.unwrap();
    assert_eq!(status.restarts, 0);
    cache.shutdown().await;
}

#[tokio::test]
async fn the_warmer_actor_is_restarted_by_its_supervisor_and_does_not_rerun_done_warmers() {
    let w = Arc::new(TestWarmer::new(
        "once",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(2)],
    ));
    let cache = Cache::builder(quiet())
        .warmer_arc(w.clone())
        .start()
        .await
        .unwrap();
    cache.inject_fault(ChildKind::CacheWarmer, Fault::Panic);
    // The request meets the crash.
    assert!(cache.run_warmer("once").await.is_err());
    until(async || {
        let s = cache.supervisor_status().await.unwrap();
        s.children
            .iter()
            .any(|c| c.kind == ChildKind::CacheWarmer && c.restarts == 1 && c.actor_id.is_some())
    })
    .await;
    assert_eq!(w.runs.load(Ordering::SeqCst), 1, "not rerun by the restart");
    assert_eq!(cache.get::<u64>("k1").await.unwrap(), Some(1));
    // The new incarnation serves requests.
    assert_eq!(cache.run_warmer("once").await.unwrap(), 2);
    assert_eq!(cache.get::<u64>("k1").await.unwrap(), Some(2));
    let e = cache.run_warmer("nobody").await.unwrap_err();
    assert!(matches!(e, CacheError::WarmerFailed { .. }), "{e:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn an_interval_warmer_refreshes_values() {
    // A short interval and bounded polling: no timed assertion, no long sleep.
    let w = TestWarmer::new(
        "rates",
        WarmerOptions::default()
            .required()
            .every(Duration::from_millis(20)),
        vec![Behaviour::Load(2)],
    );
    let cache = Cache::builder(quiet()).warmer(w).start().await.unwrap();
    assert!(cache.get::<u64>("k0").await.unwrap() >= Some(1));
    until(async || cache.get::<u64>("k0").await.unwrap() >= Some(3)).await;
    until(async || cache.get::<u64>("k1").await.unwrap() >= Some(3)).await;
    assert!(cache.warmer_stats()[0].runs_ok >= 3);
    cache.shutdown().await;
}

#[tokio::test]
async fn a_slow_warmer_never_blocks_calls() {
    let w = TestWarmer::new(
        "slow",
        WarmerOptions::default().timeout(Duration::from_secs(3_600)),
        vec![Behaviour::Hang],
    );
    let cache = Cache::builder(quiet()).warmer(w).start().await.unwrap();
    cache.put_many(&[("a", 1)], Ttl::Never).await.unwrap();
    assert_eq!(cache.get::<i32>("a").await.unwrap(), Some(1));
    assert_eq!(cache.warmer_stats()[0].runs_ok, 0);
    cache.shutdown().await;
}

#[tokio::test]
async fn warmed_entries_obey_the_tables_limits() {
    let mut config = quiet();
    config.memory.max_entries = 100;
    config.memory.eviction_policy = EvictionPolicy::Lru;
    let w = TestWarmer::new(
        "big",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(1_000)],
    );
    let cache = Cache::builder(config).warmer(w).start().await.unwrap();
    let usage = cache.usage().await.unwrap();
    assert!(usage.entries <= 100, "{usage:?}");
    assert_eq!(cache.warmer_stats()[0].entries, 1_000);
    // The most recent entries are the ones kept.
    assert_eq!(cache.get::<u64>("k999").await.unwrap(), Some(1));
    cache.shutdown().await;

    // Under `reject`, the refused write fails the run (and so a required warmer's start).
    let mut config = quiet();
    config.memory.max_entries = 100;
    config.memory.eviction_policy = EvictionPolicy::Reject;
    let w = TestWarmer::new(
        "big",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(1_000)],
    );
    let e = Cache::builder(config).warmer(w).start().await.unwrap_err();
    assert!(
        matches!(&e, CacheError::WarmerFailed { cause: WarmerFailure::Error { message }, .. } if message.contains("capacity") || message.contains("limit")),
        "{e:?}"
    );
}

#[tokio::test]
async fn two_warmers_of_one_name_are_a_config_error() {
    let a = TestWarmer::new("same", WarmerOptions::default(), vec![Behaviour::Load(1)]);
    let b = TestWarmer::new("same", WarmerOptions::default(), vec![Behaviour::Load(1)]);
    let e = Cache::builder(quiet())
        .warmer(a)
        .warmer(b)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::Config { .. }), "{e:?}");
}

#[tokio::test]
async fn warmers_and_lifecycle_on_the_noop_backend() {
    let mut config = quiet();
    config.enabled = false;
    let w = TestWarmer::new(
        "noop",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(3)],
    );
    let cache = Cache::builder(config).warmer(w).start().await.unwrap();
    assert_eq!(cache.warmer_stats()[0].runs_ok, 1);
    cache.put_many(&[("a", 1)], Ttl::Never).await.unwrap();
    assert_eq!(
        cache.get_many::<i32, _>(&["a", "k0"]).await.unwrap(),
        [None, None]
    );
    assert_eq!(cache.delete_many(&["a"]).await.unwrap(), 0);
    assert!(!cache.expire("a", Ttl::Never).await.unwrap());
    assert!(!cache.touch("a").await.unwrap());
    let e = cache.put_many(&[("", 1)], Ttl::Never).await.unwrap_err();
    assert!(matches!(e, CacheError::InvalidKey { .. }));
    let e = cache.save("/tmp/never-written.snap").await.unwrap_err();
    assert!(matches!(e, CacheError::Unsupported { .. }), "{e:?}");
    cache.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

fn snapshot_config(path: &Path) -> CacheConfig {
    let mut c = quiet();
    c.memory.snapshot_path = Some(path.to_path_buf());
    c
}

#[tokio::test]
async fn a_million_entries_round_trip_with_counters_sets_ttls_and_namespaces() {
    const N: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.snap");
    let clock = ManualClock::new();
    let cache = Cache::builder(quiet()).clock(&clock).start().await.unwrap();
    let users = cache.namespace("users").unwrap();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..N {
        batch.push((format!("u{i}"), i as u64));
        if batch.len() == 10_000 {
            users.put_many(&batch, Ttl::Never).await.unwrap();
            batch.clear();
        }
    }
    users
        .put_with_ttl("short", &"gone after restart", Duration::from_secs(10))
        .await
        .unwrap();
    users
        .put_with_ttl("long", &"kept", Duration::from_secs(3_600))
        .await
        .unwrap();
    cache.increment("hits", 41).await.unwrap();
    cache.add_to_set("tags", &"a").await.unwrap();
    cache.add_to_set("tags", &"b").await.unwrap();
    let report = cache.save(&path).await.unwrap();
    assert_eq!(report.entries, N as u64 + 4);
    assert_eq!(report.namespaces, 2);
    cache.shutdown().await;

    // The process was down 20 s: `short` expired meanwhile, `long` has 3580 s left.
    let later = ManualClock::new();
    later.advance(Duration::from_secs(20));
    let restored = Cache::builder(snapshot_config(&path))
        .clock(&later)
        .start()
        .await
        .unwrap();
    let users = restored.namespace("users").unwrap();
    assert_eq!(restored.usage().await.unwrap().entries, N as u64 + 3);
    for i in [0, 1, N / 2, N - 1] {
        assert_eq!(
            users.get::<u64>(&format!("u{i}")).await.unwrap(),
            Some(i as u64)
        );
    }
    assert_eq!(users.get::<String>("short").await.unwrap(), None);
    assert_eq!(
        users.ttl("long").await.unwrap(),
        Some(Ttl::After(Duration::from_secs(3_580)))
    );
    assert_eq!(users.ttl("u7").await.unwrap(), Some(Ttl::Never));
    assert_eq!(restored.increment("hits", 1).await.unwrap(), 42);
    let mut tags = restored.set_members::<String>("tags").await.unwrap();
    tags.sort();
    assert_eq!(tags, ["a", "b"]);
    restored.shutdown().await;
}

/// A small valid snapshot at `path` (3 entries).
async fn small_snapshot(path: &Path) {
    let cache = Cache::start(quiet()).await.unwrap();
    cache
        .put_many(&[("a", 1), ("b", 2), ("c", 3)], Ttl::Never)
        .await
        .unwrap();
    cache.save(path).await.unwrap();
    cache.shutdown().await;
}

async fn start_err(path: &Path) -> SnapshotProblem {
    match Cache::start(snapshot_config(path)).await {
        Err(CacheError::Snapshot { problem, .. }) => problem,
        other => panic!("expected a snapshot error, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_truncated_and_future_snapshots_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snap");
    small_snapshot(&path).await;
    let good = std::fs::read(&path).unwrap();

    // Truncated.
    std::fs::write(&path, &good[..good.len() - 3]).unwrap();
    assert_eq!(start_err(&path).await, SnapshotProblem::Truncated);
    // A flipped byte in the records.
    let mut bad = good.clone();
    let i = good.len() - 20;
    bad[i] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    assert!(matches!(
        start_err(&path).await,
        SnapshotProblem::ChecksumMismatch { .. }
    ));
    // A future version (header checksum not even reached).
    let mut future = good.clone();
    future[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&path, &future).unwrap();
    assert_eq!(
        start_err(&path).await,
        SnapshotProblem::UnsupportedVersion {
            found: 99,
            supported: 1
        }
    );
    // Not a snapshot at all.
    std::fs::write(&path, b"hello, world").unwrap();
    assert_eq!(start_err(&path).await, SnapshotProblem::NotASnapshot);

    // `start_empty`: a WARN and an empty table instead.
    std::fs::write(&path, &bad).unwrap();
    let mut config = snapshot_config(&path);
    config.memory.snapshot_on_error = SnapshotOnError::StartEmpty;
    let cache = Cache::start(config).await.unwrap();
    assert_eq!(cache.usage().await.unwrap().entries, 0);
    cache.shutdown().await;

    // The good file restores all of it.
    std::fs::write(&path, &good).unwrap();
    let cache = Cache::start(snapshot_config(&path)).await.unwrap();
    assert_eq!(
        cache.get_many::<i32, _>(&["a", "b", "c"]).await.unwrap(),
        [Some(1), Some(2), Some(3)]
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn a_save_that_fails_before_its_rename_leaves_the_old_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snap");
    small_snapshot(&path).await;
    let before = std::fs::read(&path).unwrap();
    // The temporary file cannot be created (a directory holds its name): the save fails as
    // a crash between writing and renaming would leave it.
    let tmp = dir
        .path()
        .join(format!("s.snap.tmp-{}", std::process::id()));
    std::fs::create_dir(&tmp).unwrap();
    let cache = Cache::start(quiet()).await.unwrap();
    cache.put("other", &"value").await.unwrap();
    let e = cache.save(&path).await.unwrap_err();
    assert!(
        matches!(
            &e,
            CacheError::Snapshot {
                problem: SnapshotProblem::Io { .. },
                ..
            }
        ),
        "{e:?}"
    );
    cache.shutdown().await;
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old snapshot is intact"
    );
    // A leftover partial temporary file (a crash mid-write) does not disturb a restore.
    std::fs::remove_dir(&tmp).unwrap();
    std::fs::write(&tmp, &before[..10]).unwrap();
    let cache = Cache::start(snapshot_config(&path)).await.unwrap();
    assert_eq!(cache.get::<i32>("b").await.unwrap(), Some(2));
    assert_eq!(cache.get::<String>("other").await.unwrap(), None);
    cache.shutdown().await;
}

#[tokio::test]
async fn shutdown_saves_and_the_next_start_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auto.snap");
    let mut config = snapshot_config(&path);
    config.memory.snapshot_on_shutdown = true;
    // No file yet: an empty start.
    let cache = Cache::start(config.clone()).await.unwrap();
    cache.namespace("n").unwrap().put("k", &"v").await.unwrap();
    cache.shutdown().await;
    assert!(path.exists());
    let cache = Cache::start(config).await.unwrap();
    assert_eq!(
        cache
            .namespace("n")
            .unwrap()
            .get::<String>("k")
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    cache.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Redis: one round trip per call, and warmers and snapshots there

/// `calls` of `command` in `INFO commandstats` (0 when absent).
fn calls(server: &RedisServer, command: &str) -> u64 {
    let info = server.raw(&["INFO", "commandstats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn redis_bulk_calls_are_one_command_per_call() {
    let server = RedisServer::start();
    let prefix = support::unique_prefix("bulk");
    let cache = Cache::start(support::redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    let entries: Vec<(String, u32)> = (0..50).map(|i| (format!("k{i}"), i)).collect();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    cache.put("warm", &0).await.unwrap();
    server.raw(&["CONFIG", "RESETSTAT"]);
    cache
        .put_many(&entries, Duration::from_secs(60))
        .await
        .unwrap();
    let got = cache.get_many::<u32, _>(&keys).await.unwrap();
    assert!(got.iter().enumerate().all(|(i, v)| *v == Some(i as u32)));
    assert_eq!(cache.delete_many(&keys).await.unwrap(), 50);
    assert_eq!(calls(&server, "mget"), 1);
    assert_eq!(calls(&server, "get"), 0);
    assert_eq!((calls(&server, "multi"), calls(&server, "exec")), (1, 1));
    assert_eq!(calls(&server, "set"), 50);
    assert_eq!(calls(&server, "unlink"), 1);
    // expire / touch: PEXPIRE, PERSIST, TOUCH.
    cache.put("e", &1).await.unwrap();
    assert!(cache.expire("e", Duration::from_secs(9)).await.unwrap());
    assert!(cache.expire("e", Ttl::Never).await.unwrap());
    assert!(cache.touch("e").await.unwrap());
    assert_eq!(
        (
            calls(&server, "pexpire"),
            calls(&server, "persist"),
            calls(&server, "touch")
        ),
        (1, 1, 1)
    );
    let e = cache.save("/tmp/x.snap").await.unwrap_err();
    assert!(matches!(e, CacheError::Unsupported { .. }), "{e:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn tiered_get_many_reads_l1_first_and_its_misses_in_one_l2_round_trip() {
    let server = RedisServer::start();
    let prefix = support::unique_prefix("tbulk");
    let w = TestWarmer::new(
        "tiered",
        WarmerOptions::default().required(),
        vec![Behaviour::Load(10)],
    );
    let cache = Cache::builder(support::tiered_config(&server.url(), &prefix, "node"))
        .warmer(w)
        .start()
        .await
        .unwrap();
    support::until_tracking(&cache, true, Duration::from_secs(10)).await;
    let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    // First read: every key from L2 (one pipeline), filling L1.
    server.raw(&["CONFIG", "RESETSTAT"]);
    let got = cache.get_many::<u64, _>(&keys).await.unwrap();
    assert!(got.iter().all(|v| *v == Some(1)));
    assert_eq!((calls(&server, "get"), calls(&server, "pttl")), (10, 10));
    let t = support::tiers(&cache).await;
    // Second read: all from L1, nothing sent.
    server.raw(&["CONFIG", "RESETSTAT"]);
    let got = cache.get_many::<u64, _>(&keys).await.unwrap();
    assert!(got.iter().all(|v| *v == Some(1)));
    assert_eq!(calls(&server, "get"), 0);
    assert_eq!(support::tiers(&cache).await.l1_hits, t.l1_hits + 10);
    // A bulk write invalidates this node's L1 for its keys, as a single write does.
    cache.put_many(&[("k3", 7u64)], Ttl::Never).await.unwrap();
    assert_eq!(cache.get_many::<u64, _>(&["k3"]).await.unwrap(), [Some(7)]);
    cache.delete_many(&["k4"]).await.unwrap();
    assert_eq!(cache.get_many::<u64, _>(&["k4"]).await.unwrap(), [None]);
    cache.shutdown().await;
}
