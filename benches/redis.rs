//! Redis backend benchmarks: one call through `Cache` (default configuration, `direct` mode,
//! `default_adapter = "redis"`) against the same command sent with the plain `redis` crate
//! (one `ConnectionManager`), on the same local `redis-server` in the same run; and the cost
//! of a call while the circuit breaker is open. See docs/PERFORMANCE.md ("Redis backend").
//!
//! The benchmark starts its own `redis-server` (free loopback port, temporary directory,
//! no persistence) and stops it at the end. Values are 64-char strings (66 bytes as JSON),
//! over 1,000 keys cycled in order; the runtime is tokio's current-thread runtime, so the
//! caller and the connection's I/O share one thread for both clients alike.
//!
//! | group | cache | plain |
//! |---|---|---|
//! | `redis_get` | `get::<String>` (GET + JSON decode) | `GET` → `Option<Vec<u8>>` |
//! | `redis_set` | `put` (default TTL: `SET … PX`, JSON encode) | `SET … PX 3600000` |
//! | `redis_incr` | `increment_with_ttl(k, 1, Ttl::Never)` (`INCRBY`) | `INCRBY k 1` |
//! | `redis_incr_ttl` | `increment` (default TTL: `MULTI`/`SET NX PX`/`INCRBY`/`EXEC`) | the same transaction |
//! | `redis_breaker_open` | `put` and `get` with the breaker open (no network) | — |
//!
//! Then, outside criterion, `paired`: get/set/incr of both clients in alternating blocks of
//! 1,000 calls, printing the median per-round ratio cache/plain (robust to machine noise).
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use deeper_cache::{AdapterKind, Cache, CacheConfig, Ttl};
use redis::aio::ConnectionManager;
use tokio::runtime::{Builder, Runtime};

const KEYS: usize = 1_000;

struct Setup {
    rt: Runtime,
    _server: redis_server::RedisServer,
    cache: Cache,
    plain: ConnectionManager,
    keys: Vec<String>,
    raw_keys: Vec<String>,
    value: String,
    json: Vec<u8>,
}

fn setup() -> Setup {
    let rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = redis_server::RedisServer::start();
    let url = server.url();
    let value = "v".repeat(64);
    let json = serde_json::to_vec(&value).expect("json");
    let keys: Vec<String> = (0..KEYS).map(|i| format!("bench:{i}")).collect();
    let raw_keys: Vec<String> = keys
        .iter()
        .map(|k| format!("deeper_cache:default:{k}"))
        .collect();
    let (cache, plain) = rt.block_on(async {
        let mut config = CacheConfig::default();
        config.default_adapter = AdapterKind::Redis;
        config.redis.url = url.clone().into();
        let cache = Cache::start(config).await.expect("cache");
        let client = redis::Client::open(url.as_str()).expect("url");
        let plain = ConnectionManager::new(client).await.expect("connect");
        for k in &keys {
            cache.put(k, &value).await.expect("populate");
        }
        (cache, plain)
    });
    Setup {
        rt,
        _server: server,
        cache,
        plain,
        keys,
        raw_keys,
        value,
        json,
    }
}

fn config_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    g
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let n = s.keys.len();

    let mut g = config_group(c, "redis_get");
    let mut i = 0usize;
    g.bench_function("cache", |b| {
        b.to_async(&s.rt).iter(|| {
            i = (i + 1) % n;
            let k = &s.keys[i];
            let cache = &s.cache;
            async move { black_box(cache.get::<String>(k).await.expect("get")) }
        })
    });
    let mut i = 0usize;
    g.bench_function("plain", |b| {
        b.to_async(&s.rt).iter(|| {
            i = (i + 1) % n;
            let k = &s.raw_keys[i];
            let mut conn = s.plain.clone();
            async move {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(k)
                    .query_async(&mut conn)
                    .await
                    .expect("GET");
                black_box(v)
            }
        })
    });
    g.finish();

    let mut g = config_group(c, "redis_set");
    let mut i = 0usize;
    g.bench_function("cache", |b| {
        b.to_async(&s.rt).iter(|| {
            i = (i + 1) % n;
            let (k, v, cache) = (&s.keys[i], &s.value, &s.cache);
            async move { cache.put(k, v).await.expect("put") }
        })
    });
    let mut i = 0usize;
    g.bench_function("plain", |b| {
        b.to_async(&s.rt).iter(|| {
            i = (i + 1) % n;
            let (k, v) = (&s.raw_keys[i], &s.json);
            let mut conn = s.plain.clone();
            async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg(v)
                    .arg("PX")
                    .arg(3_600_000)
                    .query_async::<()>(&mut conn)
                    .await
                    .expect("SET")
            }
        })
    });
    g.finish();

    let mut g = config_group(c, "redis_incr");
    g.bench_function("cache", |b| {
        b.to_async(&s.rt).iter(|| {
            let cache = &s.cache;
            async move {
                black_box(
                    cache
                        .increment_with_ttl("ctr", 1, Ttl::Never)
                        .await
                        .expect("incr"),
                )
            }
        })
    });
    g.bench_function("plain", |b| {
        b.to_async(&s.rt).iter(|| {
            let mut conn = s.plain.clone();
            async move {
                let v: i64 = redis::cmd("INCRBY")
                    .arg("deeper_cache:default:ctr")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .expect("INCRBY");
                black_box(v)
            }
        })
    });
    g.finish();

    let mut g = config_group(c, "redis_incr_ttl");
    g.bench_function("cache", |b| {
        b.to_async(&s.rt).iter(|| {
            let cache = &s.cache;
            async move { black_box(cache.increment("ctr_ttl", 1).await.expect("incr")) }
        })
    });
    g.bench_function("plain", |b| {
        b.to_async(&s.rt).iter(|| {
            let mut conn = s.plain.clone();
            async move {
                let k = "deeper_cache:default:ctr_ttl";
                let mut p = redis::pipe();
                p.atomic()
                    .cmd("SET")
                    .arg(k)
                    .arg(0)
                    .arg("PX")
                    .arg(3_600_000)
                    .arg("NX")
                    .ignore()
                    .cmd("INCRBY")
                    .arg(k)
                    .arg(1);
                let (v,): (i64,) = p.query_async(&mut conn).await.expect("MULTI");
                black_box(v)
            }
        })
    });
    g.finish();

    // A cache whose server is gone: after one failure (threshold 1) the breaker stays open
    // for an hour, so every call below is a fail-fast rejection.
    let dead = s.rt.block_on(async {
        let mut config = CacheConfig::default();
        config.default_adapter = AdapterKind::Redis;
        config.redis.url = format!("redis://127.0.0.1:{}", redis_server::free_port()).into();
        config.redis.breaker_failure_threshold = 1;
        config.redis.breaker_cooldown_ms = 3_600_000;
        config.redis.error_log_interval_ms = 3_600_000;
        let cache = Cache::start(config).await.expect("cache");
        for _ in 0..3 {
            let _ = cache.put("k", &1).await;
        }
        let e = cache.put("k", &1).await.expect_err("down");
        assert!(e.to_string().contains("circuit breaker open"), "{e}");
        cache
    });
    let mut g = config_group(c, "redis_breaker_open");
    g.bench_function("put", |b| {
        b.to_async(&s.rt).iter(|| {
            let dead = &dead;
            async move { black_box(dead.put("k", &1).await.is_err()) }
        })
    });
    g.bench_function("get", |b| {
        b.to_async(&s.rt).iter(|| {
            let dead = &dead;
            async move { black_box(dead.get::<i32>("k").await.expect("a miss")) }
        })
    });
    g.finish();

    paired(&s);
    s.rt.block_on(async {
        dead.shutdown().await;
        s.cache.shutdown().await;
    });
}

/// One timed block of `n` operations of one client.
async fn block(s: &Setup, op: &str, cache: bool, n: usize) -> Duration {
    let started = std::time::Instant::now();
    for i in 0..n {
        let i = i % s.keys.len();
        let mut conn = s.plain.clone();
        match (op, cache) {
            ("get", true) => {
                black_box(s.cache.get::<String>(&s.keys[i]).await.expect("get"));
            }
            ("get", false) => {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&s.raw_keys[i])
                    .query_async(&mut conn)
                    .await
                    .expect("GET");
                black_box(v);
            }
            ("set", true) => s.cache.put(&s.keys[i], &s.value).await.expect("put"),
            ("set", false) => redis::cmd("SET")
                .arg(&s.raw_keys[i])
                .arg(&s.json)
                .arg("PX")
                .arg(3_600_000)
                .query_async::<()>(&mut conn)
                .await
                .expect("SET"),
            ("incr", true) => {
                black_box(
                    s.cache
                        .increment_with_ttl("ctr", 1, Ttl::Never)
                        .await
                        .expect("incr"),
                );
            }
            ("incr", false) => {
                let v: i64 = redis::cmd("INCRBY")
                    .arg("deeper_cache:default:ctr")
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .expect("INCRBY");
                black_box(v);
            }
            _ => unreachable!("unknown op"),
        }
    }
    started.elapsed()
}

/// Cache and plain client measured in alternating blocks of 1,000 calls (15 rounds, the
/// order swapped every round), so both see the same machine load: the per-round ratio
/// cache/plain is robust to a noisy, shared machine where criterion's sequential groups are
/// not. Prints the median ratio and the median ns per call of each client.
fn paired(s: &Setup) {
    const ROUNDS: usize = 15;
    const N: usize = 1_000;
    println!("paired blocks ({ROUNDS} rounds x {N} calls per client, alternating):");
    for op in ["get", "set", "incr"] {
        let (mut ratios, mut cache_ns, mut plain_ns) = (Vec::new(), Vec::new(), Vec::new());
        s.rt.block_on(async {
            for round in 0..ROUNDS {
                let (c, p) = if round % 2 == 0 {
                    let c = block(s, op, true, N).await;
                    (c, block(s, op, false, N).await)
                } else {
                    let p = block(s, op, false, N).await;
                    (block(s, op, true, N).await, p)
                };
                ratios.push(c.as_secs_f64() / p.as_secs_f64());
                cache_ns.push(c.as_nanos() as f64 / N as f64);
                plain_ns.push(p.as_nanos() as f64 / N as f64);
            }
        });
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "paired {op:4}: cache {:.0} ns, plain {:.0} ns, ratio cache/plain median {:.3} (min {:.3}, max {:.3})",
            median(&mut cache_ns),
            median(&mut plain_ns),
            median(&mut ratios),
            ratios.first().copied().unwrap_or_default(),
            ratios.last().copied().unwrap_or_default(),
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
