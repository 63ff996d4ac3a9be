//! `clear()` and `delete_pattern` of a large namespace do not block the runtime (issue 17,
//! defect 5): keys are listed off the runtime's thread and removed in batches with yields, so
//! a 1 ms ticker on the same current-thread runtime keeps ticking, and a bounded table's
//! policy mutex is never held over the whole pass. The bound asserted here is generous (the
//! machine is shared); `benches/clear_latency.rs` measures the real lateness at 1,000,000
//! entries.
#![allow(clippy::field_reassign_with_default)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig};

const ENTRIES: usize = 200_000;

/// Runs `work` while a ticker asks to wake every millisecond; returns the ticker's worst
/// lateness and its 99th percentile.
async fn lateness_during<F: std::future::Future>(work: F) -> (Duration, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut late = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let due = Instant::now() + Duration::from_millis(1);
                tokio::time::sleep_until(due.into()).await;
                late.push(Instant::now().saturating_duration_since(due));
            }
            late
        })
    };
    tokio::task::yield_now().await;
    work.await;
    stop.store(true, Ordering::Relaxed);
    let mut late = ticker.await.unwrap();
    late.sort();
    let p99 = late[(late.len() * 99 / 100).min(late.len() - 1)];
    (*late.last().unwrap(), p99)
}

async fn filled(bounded: bool) -> Cache {
    let mut config = CacheConfig::default();
    config.memory.cleanup_interval_ms = 3_600_000;
    if bounded {
        config.memory.max_entries = ENTRIES as u64 * 2;
    }
    let cache = Cache::start(config).await.unwrap();
    let ns = cache.namespace("big").unwrap();
    for i in 0..ENTRIES {
        ns.put(&format!("user:{i}"), &i).await.unwrap();
    }
    cache
}

#[tokio::test(flavor = "current_thread")]
async fn clear_of_a_large_namespace_leaves_the_runtime_ticking() {
    for bounded in [false, true] {
        let cache = filled(bounded).await;
        let ns = cache.namespace("big").unwrap();
        let other = cache.namespace("other").unwrap();
        let (max, p99) = lateness_during(async {
            assert_eq!(ns.clear().await.unwrap(), ENTRIES as u64);
        })
        .await;
        assert!(
            p99 < Duration::from_millis(100),
            "bounded={bounded}: ticker p99 lateness {p99:?} (max {max:?})"
        );
        // Another namespace was writable throughout and the table is consistent after.
        other.put("k", &1).await.unwrap();
        let usage = cache.usage().await.unwrap();
        assert_eq!(usage.entries, 1, "bounded={bounded}");
        cache.shutdown().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn delete_pattern_of_a_large_namespace_leaves_the_runtime_ticking() {
    let cache = filled(true).await;
    let ns = cache.namespace("big").unwrap();
    let (max, p99) = lateness_during(async {
        // Every key ending in 7: a tenth of them.
        assert_eq!(
            ns.delete_pattern("user:*7").await.unwrap(),
            ENTRIES as u64 / 10
        );
    })
    .await;
    assert!(
        p99 < Duration::from_millis(100),
        "ticker p99 lateness {p99:?} (max {max:?})"
    );
    assert_eq!(
        cache.usage().await.unwrap().entries,
        ENTRIES as u64 * 9 / 10
    );
    assert_eq!(ns.get::<usize>("user:17").await.unwrap(), None);
    assert_eq!(ns.get::<usize>("user:18").await.unwrap(), Some(18));
    cache.shutdown().await;
}
