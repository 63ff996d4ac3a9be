//! Kill the redis-server under a running workload: no panic, calls degrade (`get` misses,
//! writes return `BackendUnavailable`, `get_or_store` returns the generator's value), the
//! circuit breaker opens and calls fail fast, the ERROR log stays rate-limited; restart the
//! server on the same port and the same cache handle recovers by itself.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheError};
use support::{RedisServer, redis_config, unique_prefix};

/// Outcomes of the workload's calls, by phase.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    ok: AtomicU64,
    unavailable: AtomicU64,
    /// `get` answered `Ok(None)` for a key the workload had written (a degraded read).
    degraded_misses: AtomicU64,
    /// `get_or_store` returned the generator's value.
    generated: AtomicU64,
    other_errors: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn record<T>(&self, r: &Result<T, CacheError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(CacheError::BackendUnavailable { .. }) => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let mut m = self.other_errors.lock().unwrap();
                *m.entry(format!("{e:?}")).or_default() += 1;
            }
        }
    }

    fn line(&self, phase: &str) -> String {
        format!(
            "{phase}: calls {} ok {} BackendUnavailable {} degraded get misses {} generator runs {} other errors {:?}",
            self.calls.load(Ordering::Relaxed),
            self.ok.load(Ordering::Relaxed),
            self.unavailable.load(Ordering::Relaxed),
            self.degraded_misses.load(Ordering::Relaxed),
            self.generated.load(Ordering::Relaxed),
            self.other_errors.lock().unwrap(),
        )
    }
}

/// One workload task: put, get, increment, get_or_store, delete in a loop until `stop`.
async fn worker(
    cache: Cache,
    id: u32,
    stop: Arc<AtomicBool>,
    tally: Arc<std::sync::Mutex<Arc<Tally>>>,
) {
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let t = tally.lock().unwrap().clone();
        let key = format!("w{id}:k{}", i % 16);
        t.record(&cache.put(&key, &i).await);
        let got = cache.get::<u64>(&key).await;
        if matches!(got, Ok(None)) {
            t.degraded_misses.fetch_add(1, Ordering::Relaxed);
        }
        t.record(&got);
        t.record(&cache.increment("hits", 1).await);
        let v = cache
            .get_or_store(&format!("w{id}:report"), || async {
                Ok::<_, std::io::Error>(7u32)
            })
            .await;
        if matches!(v, Ok(7)) {
            t.generated.fetch_add(1, Ordering::Relaxed);
        }
        t.calls.fetch_add(1, Ordering::Relaxed);
        match v {
            Ok(_) => {
                t.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let mut m = t.other_errors.lock().unwrap();
                *m.entry(format!("get_or_store: {e:?}")).or_default() += 1;
            }
        }
        if i % 4 == 0 {
            t.record(&cache.delete(&format!("w{id}:report")).await);
        }
        i += 1;
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_redis_mid_workload_degrades_then_recovers_on_restart() {
    let logs = support::logs::capture();
    let mut server = RedisServer::start();
    let prefix = unique_prefix("outage");
    let mut config = redis_config(&server.url(), &prefix);
    config.redis.breaker_failure_threshold = 3;
    config.redis.breaker_cooldown_ms = 100;
    config.redis.connect_timeout_ms = 200;
    config.redis.command_timeout_ms = 300;
    config.redis.error_log_interval_ms = 500;
    let cache = Cache::start(config).await.unwrap();

    let healthy = Arc::new(Tally::default());
    let current = Arc::new(std::sync::Mutex::new(healthy.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..4)
        .map(|id| tokio::spawn(worker(cache.clone(), id, stop.clone(), current.clone())))
        .collect();

    // Phase 1: healthy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let down = Arc::new(Tally::default());
    *current.lock().unwrap() = down.clone();
    // Errors of the healthy phase, counted before the kill (calls in flight at the kill are
    // still counted in `healthy` afterwards).
    let healthy_errors = healthy.unavailable.load(Ordering::Relaxed);
    // Phase 2: the server dies (SIGKILL) under the workload.
    server.kill();
    let killed_at = Instant::now();
    let mut opened = None;
    let fail_fast = Arc::new(Tally::default());
    for _ in 0..500 {
        match cache.put("probe", &1).await {
            Err(CacheError::BackendUnavailable { message, .. })
                if message.contains("circuit breaker open") =>
            {
                opened = Some(killed_at.elapsed());
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
    let opened = opened.expect("the breaker opened while the server was down");
    // While open, calls fail fast: no network attempt, no timeout to wait.
    let n = 2_000u32;
    let started = Instant::now();
    let mut fast_rejections = 0;
    for _ in 0..n {
        let r = cache.put("fast", &1).await;
        if let Err(CacheError::BackendUnavailable { message, .. }) = &r
            && message.contains("circuit breaker open")
        {
            fast_rejections += 1;
        }
        fail_fast.record(&r);
        assert_eq!(
            cache.get::<u32>("fast").await.unwrap(),
            None,
            "a degraded get is a miss"
        );
    }
    let per_pair = started.elapsed() / n;
    assert!(
        fast_rejections > n / 2,
        "most calls were rejected by the open breaker ({fast_rejections}/{n})"
    );
    assert!(
        per_pair < Duration::from_millis(2),
        "fail-fast put+get pair took {per_pair:?} (the connect timeout is 200 ms)"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outage = killed_at.elapsed();

    // Phase 3: restart on the same port; the same handle recovers.
    let recovering = Arc::new(Tally::default());
    *current.lock().unwrap() = recovering.clone();
    server.restart();
    let restarted_at = Instant::now();
    let mut recovered = None;
    for _ in 0..1_000 {
        if cache.put("probe", &2).await.is_ok() {
            recovered = Some(restarted_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recovered = recovered.expect("calls recovered after the restart");
    // Give the pool's other connections the same chance, then expect a clean run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = Arc::new(Tally::default());
    *current.lock().unwrap() = after.clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut panics = 0;
    for t in tasks {
        if t.await.is_err() {
            panics += 1;
        }
    }
    for i in 0..200 {
        cache
            .put(&format!("after:{i}"), &i)
            .await
            .expect("put after recovery");
        assert_eq!(
            cache.get::<i32>(&format!("after:{i}")).await.unwrap(),
            Some(i)
        );
    }
    assert_eq!(cache.get::<u32>("probe").await.unwrap(), Some(2));

    let error_lines = logs.lines_with(&["ERROR", "redis"]);
    eprintln!("{}", healthy.line("healthy"));
    eprintln!("{}", down.line("server killed (workload)"));
    eprintln!("{}", fail_fast.line("breaker open (fail-fast loop)"));
    eprintln!("{}", recovering.line("restarting"));
    eprintln!("{}", after.line("after recovery"));
    eprintln!(
        "breaker opened {opened:?} after the kill; fail-fast put+get pair {per_pair:?}; outage {outage:?}; recovered {recovered:?} after the restart; panics {panics}; ERROR log lines {}",
        error_lines.len()
    );

    assert_eq!(panics, 0);
    assert_eq!(healthy_errors, 0, "{}", healthy.line("healthy"));
    for t in [&healthy, &down, &fail_fast, &recovering, &after] {
        assert!(
            t.other_errors.lock().unwrap().is_empty(),
            "only BackendUnavailable: {}",
            t.line("phase")
        );
    }
    assert!(down.unavailable.load(Ordering::Relaxed) > 0);
    assert!(down.degraded_misses.load(Ordering::Relaxed) > 0);
    assert!(down.generated.load(Ordering::Relaxed) > 0);
    assert_eq!(
        after.unavailable.load(Ordering::Relaxed),
        0,
        "{}",
        after.line("after")
    );
    assert!(after.ok.load(Ordering::Relaxed) > 0);
    // Rate-limited: one line per 500 ms at most (plus the line that opens each window).
    let allowed = (outage.as_millis() / 500) as usize + 3;
    assert!(
        error_lines.len() <= allowed,
        "{} ERROR lines for a {outage:?} outage (allowed {allowed}):\n{}",
        error_lines.len(),
        error_lines.join("\n")
    );
    assert!(!error_lines.is_empty(), "the outage was logged");
    cache.shutdown().await;
}
