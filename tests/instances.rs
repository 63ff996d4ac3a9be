//! Several instances in one process: names, metric labels, and nothing left behind.
#![allow(clippy::field_reassign_with_default)]

use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, ChildKind, Fault};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

fn named(name: &str) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.name = Some(name.into());
    c.adapter.mode = deeper_cache::DataPlaneMode::Rpc;
    c.adapter.partitions = 1;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_scoped_by_name_and_leave_nothing_behind() {
    // This test binary owns the global recorder: restarts are counted per cache and actor.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("first recorder of this test binary");

    let alive_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let a = Cache::start(named("inst_a")).await.unwrap();
    let b = Cache::start(named("inst_b")).await.unwrap();
    a.put("k", &"a").await.unwrap();
    b.put("k", &"b").await.unwrap();

    let dup = Cache::start(named("inst_a")).await.unwrap_err();
    assert!(dup.to_string().contains("already in use"), "{dup}");

    a.inject_fault(ChildKind::Adapter, Fault::Panic);
    assert_eq!(a.get::<String>("k").await.unwrap().as_deref(), Some("a"));
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("b"));

    let restarts: Vec<(String, String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == "deeper_hub_core_cache_actor_restarts_total")
        .filter_map(|(k, _, _, v)| {
            let label = |n: &str| {
                k.key()
                    .labels()
                    .find(|l| l.key() == n)
                    .map(|l| l.value().to_string())
                    .unwrap_or_default()
            };
            match v {
                DebugValue::Counter(c) => Some((label("cache"), label("actor"), c)),
                _ => None,
            }
        })
        .collect();
    assert_eq!(restarts, vec![("inst_a".into(), "adapter".into(), 1)]);

    a.shutdown().await;
    b.shutdown().await;
    let left = deeper_cache::ractor::registry::registered()
        .into_iter()
        .filter(|n| n.starts_with("inst_"))
        .count();
    assert_eq!(left, 0, "no actor left in the registry");
    // Every task the caches spawned (actors, timers) ends: poll briefly, aborts are async.
    let mut alive = usize::MAX;
    for _ in 0..200 {
        alive = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        if alive <= alive_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        alive <= alive_before,
        "{alive} tasks alive, {alive_before} before the caches"
    );

    // The names are free again.
    let a2 = Cache::start(named("inst_a")).await.unwrap();
    assert_eq!(
        a2.get::<String>("k").await.unwrap(),
        None,
        "a new instance starts empty"
    );
    a2.shutdown().await;
}
