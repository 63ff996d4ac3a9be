//! Many namespaces (issue 17, defect 4): creating one costs O(1) amortized at any count
//! (`benches/namespaces.rs` measures the first put from 1 to 100,000 namespaces), an emptied
//! namespace's memory is reclaimed at the next sweep without ever losing a write that races
//! the reclamation, and statistics stay bounded past `metrics.max_namespaces`.
#![allow(clippy::field_reassign_with_default)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deeper_cache::{Cache, CacheConfig, DataPlaneMode};

fn quiet(mode: DataPlaneMode) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.adapter.mode = mode;
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

#[tokio::test]
async fn emptied_namespaces_are_reclaimed_at_the_next_sweep() {
    for mode in [DataPlaneMode::Direct, DataPlaneMode::Rpc] {
        let cache = Cache::start(quiet(mode)).await.unwrap();
        for i in 0..5_000 {
            let ns = cache.namespace(&format!("tenant-{i}")).unwrap();
            ns.put("k", &i).await.unwrap();
        }
        assert_eq!(cache.usage().await.unwrap().namespaces.len(), 5_000);
        // Half the tenants emptied by clear, a quarter by delete: all reclaimed; the rest stay.
        for i in 0..2_500 {
            cache
                .namespace(&format!("tenant-{i}"))
                .unwrap()
                .clear()
                .await
                .unwrap();
        }
        for i in 2_500..3_750 {
            let ns = cache.namespace(&format!("tenant-{i}")).unwrap();
            assert!(ns.delete("k").await.unwrap());
        }
        cache.purge_expired().await.unwrap();
        let usage = cache.usage().await.unwrap();
        assert_eq!(usage.namespaces.len(), 1_250, "{mode:?}");
        assert_eq!(usage.entries, 1_250);
        for i in 3_750..5_000 {
            let ns = cache.namespace(&format!("tenant-{i}")).unwrap();
            assert_eq!(ns.get::<i32>("k").await.unwrap(), Some(i), "{mode:?}");
        }
        // A reclaimed namespace works again at once.
        let again = cache.namespace("tenant-7").unwrap();
        assert_eq!(again.get::<i32>("k").await.unwrap(), None);
        again.put("k", &70).await.unwrap();
        assert_eq!(again.get::<i32>("k").await.unwrap(), Some(70));
        cache.shutdown().await;
    }
}

/// Writers that put, read back and delete in a few namespaces (so they are empty most of the
/// time) while the sweep reclaims empty namespaces over and over: no acknowledged write is
/// ever lost to a reclaimed table, and no count drifts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_is_lost_to_a_racing_reclamation() {
    let cache = Cache::start(quiet(DataPlaneMode::Direct)).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reclaimer = {
        let (cache, stop) = (cache.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sweeps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                cache.purge_expired().await.unwrap();
                sweeps += 1;
                tokio::task::yield_now().await;
            }
            sweeps
        })
    };
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let cache = cache.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..5_000u32 {
                let ns = cache.namespace(&format!("ns-{}", i % 3)).unwrap();
                let key = format!("w{w}");
                ns.put(&key, &i).await.unwrap();
                assert_eq!(
                    ns.get::<u32>(&key).await.unwrap(),
                    Some(i),
                    "writer {w}, round {i}: an acknowledged write was lost"
                );
                let n = ns.increment(&format!("c{w}"), 1).await.unwrap();
                assert_eq!(n, 1, "writer {w}, round {i}: the counter was not fresh");
                assert!(ns.delete(&format!("c{w}")).await.unwrap());
                assert!(ns.delete(&key).await.unwrap());
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let sweeps = reclaimer.await.unwrap();
    assert!(sweeps > 0);
    cache.purge_expired().await.unwrap();
    let usage = cache.usage().await.unwrap();
    assert_eq!((usage.entries, usage.bytes), (0, 0), "{usage:?}");
    assert!(usage.namespaces.is_empty(), "{usage:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn statistics_past_max_namespaces_share_one_aggregate() {
    let mut config = quiet(DataPlaneMode::Direct);
    config.metrics.max_namespaces = 10;
    let cache = Cache::start(config).await.unwrap();
    for i in 0..50 {
        let ns = cache.namespace(&format!("t{i}")).unwrap();
        ns.put("k", &i).await.unwrap();
        assert_eq!(ns.get::<i32>("k").await.unwrap(), Some(i));
    }
    let stats = cache.stats().await.unwrap();
    // `default` (the root handle) plus 9 tenants apart; 41 tenants in the aggregate.
    assert_eq!(stats.namespaces.len(), 11, "{:?}", stats.namespaces.keys());
    let other = &stats.namespaces["(other)"];
    assert_eq!(other.hits, 41);
    assert_eq!(other.items, 41);
    assert_eq!(stats.total.hits, 50);
    assert_eq!(stats.total.items, 50);
    cache.shutdown().await;
}
