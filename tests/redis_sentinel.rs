//! Redis Sentinel (issue 20): the cache finds the primary through three sentinels and follows a
//! failover without a restart. The harness starts a primary, a replica and three sentinels on
//! loopback ports (`tests/support/redis_topology.rs`).
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, RedisMode};
use support::redis_topology::RedisSentinels;
use support::unique_prefix;

/// Kill the primary: the sentinels promote the replica and the cache, unrestarted, writes to
/// and reads from it; a write acknowledged (and replicated) before the kill is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_follows_a_sentinel_failover() {
    let mut topology = RedisSentinels::start();
    let mut c = CacheConfig::default();
    c.default_adapter = AdapterKind::Redis;
    c.redis.mode = RedisMode::Sentinel;
    c.redis.sentinel.master_name = topology.name.clone();
    c.redis.sentinel.urls = topology.urls().into_iter().map(Into::into).collect();
    c.redis.key_prefix = unique_prefix("sentinel");
    c.redis.command_timeout_ms = 500;
    c.redis.breaker_cooldown_ms = 200;
    c.call_timeout_ms = 1_000;
    let cache = Cache::start(c).await.unwrap();
    cache.put("before", &1).await.unwrap();
    assert_eq!(cache.get::<i32>("before").await.unwrap(), Some(1));
    // Replicated before the kill (WAIT on the primary).
    let waited = topology.primary.raw(&["WAIT", "1", "2000"]);
    assert!(waited.contains(":1"), "replicated: {waited}");
    let old = topology.primary.port();

    let t0 = Instant::now();
    topology.primary.kill();
    let mut first_error = None;
    let mut longest = Duration::ZERO;
    let recovered = loop {
        let started = Instant::now();
        let r = cache.put("after", &2).await;
        longest = longest.max(started.elapsed());
        match r {
            Ok(()) => {
                if first_error.is_some() {
                    break t0.elapsed();
                }
            }
            Err(e) => {
                first_error.get_or_insert((t0.elapsed(), e.to_string()));
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the cache never reached the new primary"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let promoted = topology.primary_port();
    println!(
        "sentinel failover: kill at 0 ms, first error at {:?} ({}), first write on the new primary at {:?}, \
         longest call {:?}; the sentinels name port {promoted:?} (was {old})",
        first_error.as_ref().map(|(t, _)| *t),
        first_error
            .as_ref()
            .map(|(_, e)| e.as_str())
            .unwrap_or("none"),
        recovered,
        longest
    );
    assert_eq!(promoted, Some(topology.replica.port()));
    assert!(longest < Duration::from_secs(3), "a call took {longest:?}");
    assert_eq!(cache.get::<i32>("after").await.unwrap(), Some(2));
    assert_eq!(
        cache.get::<i32>("before").await.unwrap(),
        Some(1),
        "the replicated write survived"
    );
    // Really on the new primary.
    let stored = topology.replica.raw(&["DBSIZE"]);
    assert!(!stored.contains(":0"), "{stored}");
    cache.shutdown().await;
}
