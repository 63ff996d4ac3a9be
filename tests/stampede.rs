//! Stampede protection: single flight, failure semantics, stale-while-revalidate and
//! refresh-ahead. No sleeps for synchronisation: generators block on channels the test
//! releases once the expected number of callers are waiting (observed through `stats()`).
#![allow(clippy::field_reassign_with_default)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deeper_cache::{
    Cache, CacheConfig, GetOrStoreError, ManualClock, RefreshOptions, StoreOptions,
};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
#[error("source unavailable")]
struct SourceDown;

async fn cache() -> (Cache, ManualClock) {
    let clock = ManualClock::new();
    let mut c = CacheConfig::default();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    let cache = Cache::start_with_clock(c, &clock).await.unwrap();
    (cache, clock)
}

async fn stampede_count(cache: &Cache, event: &str) -> u64 {
    let s = cache.stats().await.unwrap();
    s.total.stampede.get(event).copied().unwrap_or(0)
}

/// Polls (bounded) until `event` reached `n` in the cache's stats.
async fn wait_event(cache: &Cache, event: &str, n: u64) {
    for _ in 0..5_000 {
        if stampede_count(cache, event).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!(
        "{event} never reached {n} (at {})",
        stampede_count(cache, event).await
    );
}

/// A gate generators wait on until the test opens it.
#[derive(Clone)]
struct Gate(watch::Sender<bool>);
impl Gate {
    fn new() -> Self {
        Gate(watch::channel(false).0)
    }
    fn open(&self) {
        self.0.send_replace(true);
    }
    async fn pass(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_of_one_cold_key_run_the_generator_once() {
    let (cache, _clock) = cache().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let (cache, runs, gate) = (cache.clone(), runs.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_store("hot", || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    gate.pass().await;
                    Ok::<_, SourceDown>("expensive".to_string())
                })
                .await
        }));
    }
    wait_event(&cache, "coalesced", 999).await;
    gate.open();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "expensive");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    println!(
        "1,000 callers, 1 key: generator runs = {}",
        runs.load(Ordering::SeqCst)
    );
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_keys_times_a_hundred_callers_run_a_hundred_generators() {
    let (cache, _clock) = cache().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let mut tasks = Vec::new();
    for caller in 0..100 {
        for key in 0..100 {
            let (cache, runs, gate) = (cache.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let _ = caller;
                let v: u32 = cache
                    .get_or_store(&format!("k{key}"), || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        gate.pass().await;
                        Ok::<_, SourceDown>(key)
                    })
                    .await
                    .unwrap();
                assert_eq!(v, key);
            }));
        }
    }
    wait_event(&cache, "coalesced", 9_900).await;
    gate.open();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 100);
    println!(
        "100 keys x 100 callers: generator runs = {}",
        runs.load(Ordering::SeqCst)
    );
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_generator_runs_once_errors_everyone_and_stores_nothing() {
    let (cache, _clock) = cache().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let (cache, runs, gate) = (cache.clone(), runs.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_store("flaky", || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    gate.pass().await;
                    Err::<String, _>(SourceDown)
                })
                .await
        }));
    }
    wait_event(&cache, "coalesced", 999).await;
    gate.open();
    let (mut own, mut shared) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Err(GetOrStoreError::Generator(SourceDown)) => own += 1,
            Err(GetOrStoreError::LeaderFailed { message }) => {
                assert_eq!(message, "source unavailable");
                shared += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((runs.load(Ordering::SeqCst), own, shared), (1, 1, 999));
    assert!(!cache.exists("flaky").await.unwrap(), "nothing stored");
    // The next call starts a new flight.
    let v: String = cache
        .get_or_store("flaky", || async {
            Ok::<_, SourceDown>("recovered".into())
        })
        .await
        .unwrap();
    assert_eq!(v, "recovered");
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_generator_does_not_poison_the_key() {
    let (cache, _clock) = cache().await;
    let gate = Gate::new();
    let leader = {
        let (cache, gate) = (cache.clone(), gate.clone());
        tokio::spawn(async move {
            cache
                .get_or_store("boom", || async move {
                    gate.pass().await;
                    if gate.0.borrow().to_owned() {
                        panic!("generator bug");
                    }
                    Ok::<u32, SourceDown>(0)
                })
                .await
        })
    };
    // Let the leader start its flight before the waiter joins.
    wait_for_flight(&cache, "boom").await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_store("boom", || async { Ok::<u32, SourceDown>(1) })
                .await
        })
    };
    wait_event(&cache, "coalesced", 1).await;
    gate.open();
    let leader = leader.await;
    assert!(
        leader.unwrap_err().is_panic(),
        "the leader's caller sees the panic"
    );
    assert!(matches!(
        waiter.await.unwrap(),
        Err(GetOrStoreError::LeaderPanicked)
    ));
    let v: u32 = cache
        .get_or_store("boom", || async { Ok::<_, SourceDown>(7) })
        .await
        .unwrap();
    assert_eq!(v, 7, "the key is not poisoned");
    cache.shutdown().await;
}

/// Waits (bounded) until a generator is running.
async fn wait_for_flight(cache: &Cache, _key: &str) {
    for _ in 0..5_000 {
        if cache.generators_in_flight() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("no generator started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_flight_to_a_waiter() {
    let (cache, _clock) = cache().await;
    let never = Gate::new();
    let leader = {
        let (cache, never) = (cache.clone(), never.clone());
        tokio::spawn(async move {
            cache
                .get_or_store("k", || async move {
                    never.pass().await; // hangs until cancelled
                    Ok::<u32, SourceDown>(0)
                })
                .await
        })
    };
    wait_for_flight(&cache, "k").await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_store("k", || async { Ok::<u32, SourceDown>(42) })
                .await
        })
    };
    wait_event(&cache, "coalesced", 1).await;
    leader.abort(); // the leader's caller goes away
    assert_eq!(waiter.await.unwrap().unwrap(), 42, "the waiter took over");
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(42));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_generator_for_one_key_never_delays_another() {
    let (cache, _clock) = cache().await;
    let gate_a = Gate::new();
    let a = {
        let (cache, gate) = (cache.clone(), gate_a.clone());
        tokio::spawn(async move {
            cache
                .get_or_store("A", || async move {
                    gate.pass().await;
                    Ok::<_, SourceDown>("a".to_string())
                })
                .await
        })
    };
    wait_for_flight(&cache, "A").await;
    // B completes while A's generator is blocked; A is released only after B returns.
    let b: String = cache
        .get_or_store("B", || async { Ok::<_, SourceDown>("b".to_string()) })
        .await
        .unwrap();
    assert_eq!(b, "b");
    assert!(!a.is_finished());
    gate_a.open();
    assert_eq!(a.await.unwrap().unwrap(), "a");
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_past_its_timeout_gives_up_while_the_flight_continues() {
    let (cache, _clock) = cache().await;
    let gate = Gate::new();
    let leader = {
        let (cache, gate) = (cache.clone(), gate.clone());
        tokio::spawn(async move {
            cache
                .get_or_store("slow", || async move {
                    gate.pass().await;
                    Ok::<_, SourceDown>(5u32)
                })
                .await
        })
    };
    wait_for_flight(&cache, "slow").await;
    let r: Result<u32, _> = cache
        .get_or_store_with(
            "slow",
            StoreOptions::new().wait_timeout(Duration::from_millis(20)),
            || async { Ok::<_, SourceDown>(6) },
        )
        .await;
    assert!(
        matches!(r, Err(GetOrStoreError::WaitTimeout { .. })),
        "{r:?}"
    );
    gate.open();
    assert_eq!(leader.await.unwrap().unwrap(), 5, "the flight continued");
    assert_eq!(cache.get::<u32>("slow").await.unwrap(), Some(5));
    cache.shutdown().await;
}

fn counting_generator(
    runs: Arc<AtomicUsize>,
    gate: Gate,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, SourceDown>> + Send>>
+ Send
+ Sync
+ 'static {
    move || {
        let (runs, gate) = (runs.clone(), gate.clone());
        Box::pin(async move {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n > 1 {
                gate.pass().await; // refreshes wait for the test
            }
            Ok(n)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_serves_stale_and_refreshes_once() {
    let (cache, clock) = cache().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let opts = RefreshOptions::new()
        .ttl(Duration::from_secs(10))
        .stale_for(Duration::from_secs(60));
    let get = |cache: Cache| {
        let generator = counting_generator(runs.clone(), gate.clone());
        async move { cache.get_or_refresh("report", opts, generator).await }
    };
    assert_eq!(get(cache.clone()).await.unwrap(), 1, "miss: generated");
    clock.advance(Duration::from_secs(11)); // past the TTL, inside the grace
    assert_eq!(
        cache.get::<usize>("report").await.unwrap(),
        None,
        "plain reads: stale = miss"
    );
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(tokio::spawn(get(cache.clone())));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1, "stale value served at once");
    }
    assert_eq!(stampede_count(&cache, "stale_served").await, 50);
    gate.open();
    wait_event(&cache, "refresh", 1).await;
    // Wait (bounded) for the refreshed value.
    for _ in 0..5_000 {
        if cache.get::<usize>("report").await.unwrap() == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(get(cache.clone()).await.unwrap(), 2);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "exactly one background refresh"
    );
    // Past the grace period it is a normal miss.
    clock.advance(Duration::from_secs(80));
    assert_eq!(get(cache.clone()).await.unwrap(), 3);
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_stale_value_until_the_grace_ends() {
    let (cache, clock) = cache().await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let opts = RefreshOptions::new()
        .ttl(Duration::from_secs(10))
        .stale_for(Duration::from_secs(30));
    let first: u32 = cache
        .get_or_refresh("r", opts, || async { Ok::<_, SourceDown>(1) })
        .await
        .unwrap();
    assert_eq!(first, 1);
    clock.advance(Duration::from_secs(15));
    let a = attempts.clone();
    let failing = move || {
        a.fetch_add(1, Ordering::SeqCst);
        async { Err::<u32, _>(SourceDown) }
    };
    assert_eq!(
        cache
            .get_or_refresh("r", opts, failing.clone())
            .await
            .unwrap(),
        1
    );
    wait_event(&cache, "refresh_failed", 1).await;
    assert_eq!(
        cache
            .get_or_refresh("r", opts, failing.clone())
            .await
            .unwrap(),
        1,
        "still stale"
    );
    // That stale hit started another refresh (one at a time); let it fail too.
    wait_event(&cache, "refresh_failed", 2).await;
    clock.advance(Duration::from_secs(30)); // grace over
    let past_grace = cache.get_or_refresh("r", opts, failing).await;
    assert!(
        matches!(past_grace, Err(GetOrStoreError::Generator(SourceDown))),
        "{past_grace:?}"
    );
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_refreshes_once_under_a_hundred_concurrent_hits() {
    let (cache, clock) = cache().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let opts = RefreshOptions::new()
        .ttl(Duration::from_secs(10))
        .refresh_ahead(0.1);
    let generator = Arc::new(counting_generator(runs.clone(), gate.clone()));
    let get = |cache: Cache| {
        let generator = generator.clone();
        async move { cache.get_or_refresh("hot", opts, move || generator()).await }
    };
    assert_eq!(get(cache.clone()).await.unwrap(), 1);
    clock.advance(Duration::from_millis(8_000));
    assert_eq!(
        get(cache.clone()).await.unwrap(),
        1,
        "not yet in the last 10%"
    );
    assert_eq!(stampede_count(&cache, "refresh").await, 0);
    clock.advance(Duration::from_millis(1_500)); // 9.5 s of 10: in the window
    let mut tasks = Vec::new();
    for _ in 0..100 {
        tasks.push(tokio::spawn(get(cache.clone())));
    }
    for t in tasks {
        assert_eq!(
            t.await.unwrap().unwrap(),
            1,
            "hits are served from the cache"
        );
    }
    gate.open();
    wait_event(&cache, "refresh", 1).await;
    for _ in 0..5_000 {
        if cache.get::<usize>("hot").await.unwrap() == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        get(cache.clone()).await.unwrap(),
        2,
        "the key never went cold"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "exactly one refresh for 100 hits"
    );
    assert_eq!(stampede_count(&cache, "refresh").await, 1);
    cache.shutdown().await;
}
