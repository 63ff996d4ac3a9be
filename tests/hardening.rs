//! Regression tests for the defects a hostile review found (issue 17), each through the public
//! API, on the memory backend and on a real `redis-server` this binary starts.
//!
//! | defect | tests |
//! |---|---|
//! | 1. a TTL too large for Redis: wrong error, write applied | `ttl_past_the_maximum_is_refused_and_writes_nothing`, `ttl_at_the_maximum_is_kept`, `a_default_ttl_past_the_maximum_is_refused_at_start` |
//! | 2. the Redis password leaks from a malformed URL | `a_malformed_url_never_shows_its_password` (and `tests/secrets.rs`) |
//! | 3. `call_timeout_ms` not enforced on Redis in `direct` mode | `call_timeout_bounds_direct_calls_on_a_stalled_redis` |
//! | 6. lows | `nesting_the_decoder_cannot_read_is_refused_at_put`, `wrong_type_names_lists_and_hashes`, `redis_outside_tokio_is_a_typed_error`, `a_value_over_the_limit_is_value_too_large` |
//!
//! Defects 4 and 5 (namespaces, `clear()` blocking) have their own tests in
//! `tests/namespaces.rs` and `tests/clear_batches.rs`.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use deeper_cache::{
    AdapterKind, Cache, CacheConfig, CacheError, ConfigLoader, DataPlaneMode, MAX_TTL, Ttl,
};
use support::{RedisServer, redis_config, unique_prefix};

fn redis() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

/// Every backend × plane these tests run on.
fn planes() -> Vec<(&'static str, CacheConfig)> {
    let mut out = Vec::new();
    for mode in [DataPlaneMode::Direct, DataPlaneMode::Rpc] {
        let mut memory = CacheConfig::default();
        memory.adapter.mode = mode;
        out.push(("memory", memory));
        let mut r = redis_config(&redis().url(), &unique_prefix("hard"));
        r.adapter.mode = mode;
        out.push(("redis", r));
    }
    out
}

fn is_invalid_ttl<T: std::fmt::Debug>(r: Result<T, CacheError>) -> bool {
    matches!(r, Err(CacheError::InvalidTtl { .. }))
}

#[tokio::test]
async fn ttl_past_the_maximum_is_refused_and_writes_nothing() {
    for (backend, config) in planes() {
        let cache = Cache::start(config).await.unwrap();
        let too_long = [Duration::MAX, MAX_TTL + Duration::from_millis(1)];
        for ttl in too_long {
            assert!(
                is_invalid_ttl(cache.put_with_ttl("k", &1, ttl).await),
                "{backend}"
            );
            assert_eq!(cache.get::<i32>("k").await.unwrap(), None, "{backend}");
            // The counter is not created, and a retry adds nothing either.
            for _ in 0..3 {
                assert!(
                    is_invalid_ttl(cache.increment_with_ttl("n", 5, ttl).await),
                    "{backend}"
                );
            }
            assert_eq!(cache.get::<i64>("n").await.unwrap(), None, "{backend}");
            assert!(
                is_invalid_ttl(
                    cache
                        .get_or_store_with_ttl("g", ttl, || async { Ok::<_, CacheError>(1) })
                        .await
                        .map_err(|e| match e {
                            deeper_cache::GetOrStoreError::Cache(c) => c,
                            other => panic!("{other:?}"),
                        })
                ),
                "{backend}"
            );
            assert_eq!(cache.get::<i32>("g").await.unwrap(), None, "{backend}");
        }
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn ttl_at_the_maximum_is_kept() {
    for (backend, config) in planes() {
        let cache = Cache::start(config).await.unwrap();
        cache.put_with_ttl("k", &1, Ttl::MAX).await.unwrap();
        assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1), "{backend}");
        match cache.ttl("k").await.unwrap() {
            Some(Ttl::After(d)) => {
                assert!(d > MAX_TTL - Duration::from_secs(60), "{backend}")
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert_eq!(
            cache.increment_with_ttl("n", 5, Ttl::MAX).await.unwrap(),
            5,
            "{backend}"
        );
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn a_default_ttl_past_the_maximum_is_refused_at_start() {
    // From the environment, as the review tried it.
    let e = ConfigLoader::new()
        .env_vars([(
            "DEEPER_CACHE__DEFAULT_TTL_SECONDS".to_string(),
            "9223372036854775807".to_string(),
        )])
        .load()
        .expect_err("a 292-billion-year default ttl is refused");
    let text = e.to_string();
    assert!(text.contains("default_ttl_seconds"), "{text}");
    assert!(text.contains("maximum"), "{text}");
    // And in code.
    let mut config = CacheConfig::default();
    config.default_ttl_seconds.0 = Ttl::After(Duration::MAX);
    match Cache::start(config).await {
        Err(CacheError::Config { key, .. }) => assert_eq!(key, "default_ttl_seconds"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_url_never_shows_its_password() {
    for password in ["pa#ss-SECRET1", "pa/ss-SECRET2", "pa?ss-SECRET3"] {
        let url = format!("redis://app:{password}@127.0.0.1:{}/0", redis().port());
        let config = redis_config(&url, &unique_prefix("leak"));
        let shown = format!(
            "{config:?} {}",
            serde_json::to_string(&config.redis).unwrap()
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        match Cache::start(config).await {
            Ok(cache) => {
                let e = cache.put("k", &1).await.err();
                let text = format!("{e:?} {cache:?}");
                assert!(!text.contains("SECRET"), "{text}");
                cache.shutdown().await;
            }
            Err(e) => {
                let text = format!("{e} {e:?}");
                assert!(!text.contains("SECRET"), "{text}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_bounds_direct_calls_on_a_stalled_redis() {
    let mut server = RedisServer::start();
    for mode in [DataPlaneMode::Direct, DataPlaneMode::Rpc] {
        let mut config = redis_config(&server.url(), &unique_prefix("stall"));
        config.adapter.mode = mode;
        config.call_timeout_ms = 200;
        // Longer than the call timeout on purpose: the call timeout is the bound.
        config.redis.command_timeout_ms = 5_000;
        config.redis.connect_timeout_ms = 5_000;
        let cache = Cache::start(config).await.unwrap();
        cache.put("k", &1).await.unwrap();
        server.pause();
        for _ in 0..3 {
            let started = Instant::now();
            let r = cache.get::<i32>("k").await;
            let took = started.elapsed();
            // A miss (degraded) or a typed error, never the 5 s command timeout. The bound is
            // generous (the machine is shared); the benchmark reports the real figure.
            assert!(matches!(r, Ok(None) | Err(_)), "{mode:?}: {r:?}");
            assert!(took < Duration::from_millis(2_000), "{mode:?}: {took:?}");
            let started = Instant::now();
            let r = cache.put("k", &2).await;
            assert!(r.as_ref().is_err_and(CacheError::is_unavailable), "{r:?}");
            assert!(started.elapsed() < Duration::from_millis(2_000));
        }
        server.resume();
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn nesting_the_decoder_cannot_read_is_refused_at_put() {
    fn nested(depth: usize) -> serde_json::Value {
        (0..depth).fold(serde_json::json!(0), |v, _| serde_json::json!([v]))
    }
    for (backend, config) in planes() {
        let cache = Cache::start(config).await.unwrap();
        cache.put("ok", &nested(127)).await.unwrap();
        assert_eq!(
            cache.get::<serde_json::Value>("ok").await.unwrap(),
            Some(nested(127)),
            "{backend}"
        );
        let r = cache.put("deep", &nested(128)).await;
        assert!(
            matches!(r, Err(CacheError::Codec { .. })),
            "{backend}: {r:?}"
        );
        assert!(!cache.exists("deep").await.unwrap(), "{backend}");
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_type_names_lists_and_hashes() {
    let prefix = unique_prefix("types");
    let cache = Cache::start(redis_config(&redis().url(), &prefix))
        .await
        .unwrap();
    redis().raw(&["RPUSH", &format!("{prefix}:default:l"), "x"]);
    redis().raw(&["HSET", &format!("{prefix}:default:h"), "f", "v"]);
    for (key, found) in [("l", "a list"), ("h", "a hash")] {
        match cache.get::<String>(key).await {
            Err(CacheError::WrongType { found: f, .. }) => assert_eq!(f, found),
            other => panic!("{key}: {other:?}"),
        }
        match cache.add_to_set(key, &1).await {
            Err(CacheError::WrongType { found: f, .. }) => assert_eq!(f, found),
            other => panic!("{key}: {other:?}"),
        }
    }
    cache.shutdown().await;
}

/// Polls a future to completion on this thread, with no Tokio runtime around it (as another
/// executor would).
fn block_on_without_tokio<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

#[test]
fn redis_outside_tokio_is_a_typed_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = redis_config(&redis().url(), &unique_prefix("rt"));
    config.default_adapter = AdapterKind::Redis;
    let cache = rt.block_on(Cache::start(config)).unwrap();
    let clone = cache.clone();
    let r = std::thread::spawn(move || block_on_without_tokio(clone.put("k", &1)))
        .join()
        .expect("no panic outside tokio");
    assert!(matches!(r, Err(CacheError::NoRuntime { .. })), "{r:?}");
    // The memory backend works from any executor.
    let memory = rt.block_on(Cache::start(CacheConfig::default())).unwrap();
    let m = memory.clone();
    std::thread::spawn(move || block_on_without_tokio(m.put("k", &1)))
        .join()
        .unwrap()
        .unwrap();
    rt.block_on(async {
        cache.shutdown().await;
        memory.shutdown().await;
    });
}

#[tokio::test]
async fn a_value_over_the_limit_is_value_too_large() {
    for (backend, mut config) in planes() {
        config.memory.max_value_bytes = 1024;
        let cache = Cache::start(config).await.unwrap();
        match cache.put("big", &"x".repeat(4096)).await {
            Err(CacheError::ValueTooLarge { size, limit }) => {
                assert_eq!((size, limit), (4098, 1024), "{backend}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert!(!cache.exists("big").await.unwrap(), "{backend}");
        cache.shutdown().await;
    }
}
