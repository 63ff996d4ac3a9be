//! TTL jitter (`ttl_jitter`, issue 19): every write's finite TTL is spread uniformly within
//! ±the fraction, on every backend, and `ttl()` reports the spread value; 0 keeps TTLs exact.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, ManualClock, Ttl};
use support::{RedisServer, redis_config, unique_prefix};

/// The TTLs of `n` puts with a 100 s TTL, in milliseconds, as `ttl()` reports them.
async fn spread(cache: &Cache, n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("k{i}");
        cache
            .put_with_ttl(&key, &i, Duration::from_secs(100))
            .await
            .unwrap();
        match cache.ttl(&key).await.unwrap() {
            Some(Ttl::After(d)) => out.push(d.as_millis() as u64),
            other => panic!("{other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn memory_ttls_spread_within_the_fraction_and_stay_exact_without_it() {
    for jitter in [0.1, 0.0] {
        let clock = ManualClock::new();
        let mut config = CacheConfig::default();
        config.ttl_jitter = jitter;
        let cache = Cache::start_with_clock(config, &clock).await.unwrap();
        let ttls = spread(&cache, 10_000).await;
        let (min, max) = (*ttls.iter().min().unwrap(), *ttls.iter().max().unwrap());
        if jitter == 0.0 {
            assert_eq!((min, max), (100_000, 100_000), "exact without jitter");
        } else {
            assert!(min >= 90_000 && max <= 110_000, "{min}..{max}");
            // Uniform over ±10 %: 10,000 draws reach close to both ends and spread out.
            assert!(min < 91_000 && max > 109_000, "{min}..{max}");
            let distinct: std::collections::HashSet<_> = ttls.iter().collect();
            assert!(distinct.len() > 1_000, "{} distinct TTLs", distinct.len());
        }
        // Counters and sets created with a TTL are spread the same way.
        cache
            .increment_with_ttl("n", 1, Duration::from_secs(100))
            .await
            .unwrap();
        match cache.ttl("n").await.unwrap() {
            Some(Ttl::After(d)) => {
                let ms = d.as_millis() as u64;
                assert!((90_000..=110_000).contains(&ms), "{ms}");
            }
            other => panic!("{other:?}"),
        }
        // Never stays never.
        cache.put_with_ttl("forever", &1, Ttl::Never).await.unwrap();
        assert_eq!(cache.ttl("forever").await.unwrap(), Some(Ttl::Never));
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn redis_ttls_spread_within_the_fraction() {
    let server = RedisServer::start();
    let mut config = redis_config(&server.url(), &unique_prefix("jitter"));
    config.ttl_jitter = 0.1;
    let cache = Cache::start(config).await.unwrap();
    let ttls = spread(&cache, 2_000).await;
    let (min, max) = (*ttls.iter().min().unwrap(), *ttls.iter().max().unwrap());
    // Redis reports the remaining TTL: a few milliseconds may have passed since the write.
    assert!(min >= 89_000 && max <= 110_000, "{min}..{max}");
    assert!(max - min > 15_000, "spread {min}..{max}");
    cache.shutdown().await;
}

#[test]
fn a_jitter_outside_zero_to_one_is_refused() {
    for bad in [-0.1, 1.0, 2.0, f64::NAN] {
        let mut config = CacheConfig::default();
        config.ttl_jitter = bad;
        let e = config.validate().unwrap_err().to_string();
        assert!(e.contains("ttl_jitter"), "{e}");
    }
}
