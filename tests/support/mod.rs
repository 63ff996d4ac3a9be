//! Helpers shared by the Redis integration tests: a real `redis-server` per test (or per
//! binary) and cache configurations pointing at it.
#![allow(dead_code, unreachable_pub)]

pub mod redis_server;
pub mod redis_topology;

use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, TierStats};
#[allow(unused_imports)]
pub use redis_server::RedisServer;

static NEXT_PREFIX: AtomicU64 = AtomicU64::new(1);

/// A key prefix no other cache of this process uses (tests share servers).
pub fn unique_prefix(tag: &str) -> String {
    format!(
        "t{}_{tag}_{}",
        std::process::id(),
        NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
    )
}

/// A configuration on the Redis backend at `url`, with timers far in the future and a short
/// breaker cool-down.
pub fn redis_config(url: &str, prefix: &str) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.default_adapter = AdapterKind::Redis;
    c.redis.url = url.into();
    c.redis.key_prefix = prefix.to_string();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

/// A plain async Redis connection (the `redis` crate, no cache in between) for raw readback.
pub async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis-server")
}

/// A configuration on the tiered backend at `url`: one node named `name` of the fleet that
/// shares `prefix` (several nodes = several caches with the same prefix, distinct names).
pub fn tiered_config(url: &str, prefix: &str, name: &str) -> CacheConfig {
    let mut c = redis_config(url, prefix);
    c.default_adapter = AdapterKind::Tiered;
    c.name = Some(name.to_string());
    c
}

/// The tiered backend's figures of `cache` (panics on another backend).
pub async fn tiers(cache: &Cache) -> TierStats {
    cache
        .stats()
        .await
        .expect("stats")
        .tiers
        .expect("a tiered cache has tier stats")
}

/// Polls (every millisecond, at most `within`) until `cache`'s L1 invalidation stream is
/// `live` (or not); panics when it does not get there.
pub async fn until_tracking(cache: &Cache, live: bool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if tiers(cache).await.tracking_live == live {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the invalidation stream did not become {} within {within:?}",
            cache.name(),
            if live { "live" } else { "lost" }
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs `redis-cli -p {port} {args...}` and returns its standard output (fails, never skips,
/// when `redis-cli` is missing: it comes with the redis-server package).
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    let out = redis_server::run_redis_cli(&all);
    assert!(out.status.success(), "redis-cli {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub mod logs;

#[cfg(feature = "admin")]
pub mod admin;
