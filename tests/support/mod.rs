//! Helpers shared by the Redis integration tests: a real `redis-server` per test (or per
//! binary) and cache configurations pointing at it.
#![allow(dead_code, unreachable_pub)]

pub mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};

use deeper_cache::{AdapterKind, CacheConfig};
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

pub mod logs;
