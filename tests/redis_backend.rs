//! The Redis backend against a real `redis-server` (started by the test itself): what it
//! stores, read back with a plain Redis client; namespace escapes; `delete_pattern` over
//! 50,000 keys with `SCAN` only; two cache instances (two nodes) on one server; a server that
//! is down when the cache starts.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use deeper_cache::{AdapterKind, Cache, CacheConfig, CacheError, Ttl};
use redis::AsyncCommands;
use support::{RedisServer, raw_connection, redis_config, unique_prefix};

async fn scan_all(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        out.extend(keys);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

#[tokio::test]
async fn values_counters_sets_and_ttls_read_back_with_a_plain_client() {
    let server = RedisServer::start();
    let prefix = unique_prefix("raw");
    let cache = Cache::start(redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    let mut raw = raw_connection(&server.url()).await;

    // Counters are Redis integers: GET shows the number.
    for _ in 0..3 {
        cache.increment("post_views:7", 1).await.unwrap();
    }
    let key = format!("{prefix}:default:post_views:7");
    let v: String = raw.get(&key).await.unwrap();
    assert_eq!(v, "3");
    // ... created with the default TTL (3600 s), set atomically with the counter.
    let pttl: i64 = raw.pttl(&key).await.unwrap();
    assert!((3_590_000..=3_600_000).contains(&pttl), "pttl {pttl}");
    // An existing counter keeps its TTL.
    let _: () = raw.pexpire(&key, 50_000).await.unwrap();
    cache
        .increment_with_ttl("post_views:7", 1, Duration::from_secs(9))
        .await
        .unwrap();
    let pttl: i64 = raw.pttl(&key).await.unwrap();
    assert!((40_000..=50_000).contains(&pttl), "kept its ttl: {pttl}");
    // A counter created with Ttl::Never has no TTL; a negative delta works.
    let never = cache.namespace("counters").unwrap();
    never.increment_with_ttl("c", -5, Ttl::Never).await.unwrap();
    let ckey = format!("{prefix}:counters:c");
    assert_eq!(raw.get::<_, String>(&ckey).await.unwrap(), "-5");
    assert_eq!(raw.pttl::<_, i64>(&ckey).await.unwrap(), -1);
    // A number written by another client is a counter for the cache.
    let _: () = raw
        .set(format!("{prefix}:counters:ext"), "41")
        .await
        .unwrap();
    assert_eq!(never.increment("ext", 1).await.unwrap(), 42);
    assert_eq!(never.get::<i64>("ext").await.unwrap(), Some(42));

    // Values are the codec's JSON, TTLs are PX.
    cache
        .put_with_ttl("user_profile:42", &("Ada", 36), Duration::from_secs(60))
        .await
        .unwrap();
    let pkey = format!("{prefix}:default:user_profile:42");
    assert_eq!(raw.get::<_, String>(&pkey).await.unwrap(), r#"["Ada",36]"#);
    let pttl: i64 = raw.pttl(&pkey).await.unwrap();
    assert!((59_000..=60_000).contains(&pttl), "pttl {pttl}");
    cache.put_with_ttl("forever", &1, Ttl::Never).await.unwrap();
    assert_eq!(
        raw.pttl::<_, i64>(format!("{prefix}:default:forever"))
            .await
            .unwrap(),
        -1
    );
    assert_eq!(cache.ttl("forever").await.unwrap(), Some(Ttl::Never));

    // Sets are Redis sets of encoded members.
    cache.add_to_set("tags", &"rust").await.unwrap();
    cache.add_to_set("tags", &"redis").await.unwrap();
    let members: BTreeSet<String> = raw
        .smembers(format!("{prefix}:default:tags"))
        .await
        .unwrap();
    assert_eq!(
        members,
        BTreeSet::from([r#""redis""#.to_string(), r#""rust""#.to_string()])
    );
    let set_ttl: i64 = raw.pttl(format!("{prefix}:default:tags")).await.unwrap();
    assert!(set_ttl > 3_590_000, "set created with the default ttl");

    // Every key sits under the documented layout, and nothing else was written.
    let keys = scan_all(&mut raw, &format!("{prefix}:*")).await;
    let expected: BTreeSet<String> = [
        "default:post_views:7",
        "counters:c",
        "counters:ext",
        "default:user_profile:42",
        "default:forever",
        "default:tags",
    ]
    .iter()
    .map(|k| format!("{prefix}:{k}"))
    .collect();
    assert_eq!(keys, expected);

    // Errors from Redis map to the cache's errors, with the value unchanged.
    cache.put("text", &"hello").await.unwrap();
    assert_eq!(
        cache.increment("text", 1).await,
        Err(CacheError::NotAnInteger)
    );
    cache.put("max", &i64::MAX).await.unwrap();
    assert_eq!(cache.increment("max", 1).await, Err(CacheError::Overflow));
    assert_eq!(cache.get::<i64>("max").await.unwrap(), Some(i64::MAX));
    assert!(matches!(
        cache.get::<String>("tags").await,
        Err(CacheError::WrongType {
            expected: "a value",
            found: "a set"
        })
    ));
    cache.shutdown().await;
}

#[tokio::test]
async fn keys_and_namespaces_cannot_reach_another_namespace() {
    let server = RedisServer::start();
    let prefix = unique_prefix("esc");
    let cache = Cache::start(redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    let mut raw = raw_connection(&server.url()).await;
    let names = [
        "a", "a:b", "a\\", "a\\:b", "a*", "*", "[a]", "a?", "default",
    ];
    let keys = ["k", "b:k", ":k", "*", "?", "[k]", "\\", "k:*", "a:b:k"];
    for n in names {
        let ns = cache.namespace(n).unwrap();
        for k in keys {
            ns.put_with_ttl(k, &format!("{n}|{k}"), Ttl::Never)
                .await
                .unwrap();
        }
    }
    // Every (namespace, key) pair reads back its own value: no two share a Redis key.
    for n in names {
        let ns = cache.namespace(n).unwrap();
        for k in keys {
            assert_eq!(
                ns.get::<String>(k).await.unwrap(),
                Some(format!("{n}|{k}")),
                "namespace {n:?} key {k:?}"
            );
        }
    }
    let total = names.len() * keys.len();
    assert_eq!(
        scan_all(&mut raw, &format!("{prefix}:*")).await.len(),
        total
    );

    // A pattern matching everything stays inside its namespace ("*" and "a*" are names too).
    for n in ["a", "*", "a*", "[a]"] {
        let ns = cache.namespace(n).unwrap();
        assert_eq!(
            ns.delete_pattern("*").await.unwrap(),
            keys.len() as u64,
            "{n}"
        );
        assert!(!ns.exists("k").await.unwrap());
    }
    let ab = cache.namespace("a:b").unwrap();
    assert_eq!(
        ab.get::<String>("k").await.unwrap().as_deref(),
        Some("a:b|k")
    );
    // A glob's metacharacters match inside the key part only; escapes are literal.
    let esc = cache.namespace("a\\").unwrap();
    assert_eq!(esc.delete_pattern("\\*").await.unwrap(), 1);
    assert_eq!(esc.delete_pattern("k:\\*").await.unwrap(), 1);
    assert_eq!(esc.delete_pattern("[[]k]").await.unwrap(), 1);
    assert_eq!(
        esc.delete_pattern("?").await.unwrap(),
        3,
        "`k`, `?` and `\\`"
    );
    // clear() of one namespace leaves the look-alikes.
    assert_eq!(ab.clear().await.unwrap(), keys.len() as u64);
    let abk = cache.namespace("a\\:b").unwrap();
    assert!(abk.exists("k").await.unwrap());
    assert!(cache.namespace("a?").unwrap().exists("k").await.unwrap());

    // The root clear removes everything under the prefix, and nothing outside it.
    let _: () = raw.set("unrelated:key", "1").await.unwrap();
    let _: () = raw.set(format!("{prefix}x:default:k"), "1").await.unwrap();
    let left = scan_all(&mut raw, &format!("{prefix}:*")).await.len() as u64;
    assert_eq!(cache.clear().await.unwrap(), left);
    assert!(scan_all(&mut raw, &format!("{prefix}:*")).await.is_empty());
    assert_eq!(raw.get::<_, String>("unrelated:key").await.unwrap(), "1");
    assert_eq!(
        raw.get::<_, String>(format!("{prefix}x:default:k"))
            .await
            .unwrap(),
        "1"
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn delete_pattern_over_50000_keys_uses_scan_and_never_keys() {
    let server = RedisServer::start();
    let prefix = unique_prefix("bulk");
    let mut config = redis_config(&server.url(), &prefix);
    config.redis.command_timeout_ms = 10_000;
    let cache = Cache::start(config).await.unwrap();
    let bulk = cache.namespace("bulk").unwrap();
    let mut raw = raw_connection(&server.url()).await;
    // Written through a raw pipeline in the documented layout (faster than 52,000 puts).
    for chunk in (0..50_000).collect::<Vec<u32>>().chunks(5_000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.set(format!("{prefix}:bulk:item:{i}"), i).ignore();
        }
        let _: () = p.query_async(&mut raw).await.unwrap();
    }
    let mut p = redis::pipe();
    for i in 0..1_000 {
        p.set(format!("{prefix}:bulk:other:{i}"), i).ignore();
        p.set(format!("{prefix}:elsewhere:item:{i}"), i).ignore();
    }
    let _: () = p.query_async(&mut raw).await.unwrap();
    assert_eq!(bulk.get::<u32>("item:49999").await.unwrap(), Some(49_999));

    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut raw)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(bulk.delete_pattern("item:*").await.unwrap(), 50_000);
    let took = started.elapsed();
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(stats.contains("cmdstat_scan:"), "{stats}");
    assert!(stats.contains("cmdstat_unlink:"), "{stats}");
    for forbidden in ["cmdstat_keys:", "cmdstat_flushdb:", "cmdstat_flushall:"] {
        assert!(
            !stats.contains(forbidden),
            "{forbidden} was called:\n{stats}"
        );
    }
    eprintln!("delete_pattern over 50,000 of 52,000 keys: {took:?}");
    assert_eq!(bulk.get::<u32>("item:1").await.unwrap(), None);
    assert_eq!(bulk.get::<u32>("other:1").await.unwrap(), Some(1));
    let elsewhere = cache.namespace("elsewhere").unwrap();
    assert_eq!(elsewhere.get::<u32>("item:1").await.unwrap(), Some(1));
    assert_eq!(bulk.clear().await.unwrap(), 1_000);
    assert_eq!(elsewhere.clear().await.unwrap(), 1_000);
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!stats.contains("cmdstat_keys:"), "{stats}");
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_redis_and_counters_stay_exact() {
    let server = RedisServer::start();
    let prefix = unique_prefix("nodes");
    let node_a = Cache::start(redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    let node_b = Cache::start(redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    node_a.put("user_profile:1", &"Ada").await.unwrap();
    assert_eq!(
        node_b
            .get::<String>("user_profile:1")
            .await
            .unwrap()
            .as_deref(),
        Some("Ada")
    );
    assert!(node_b.delete("user_profile:1").await.unwrap());
    assert_eq!(node_a.get::<String>("user_profile:1").await.unwrap(), None);
    node_b.add_to_set("online", &1).await.unwrap();
    assert!(node_a.is_member("online", &1).await.unwrap());
    let stored: u32 = node_a
        .get_or_store("report", || async { Ok::<_, std::io::Error>(7) })
        .await
        .unwrap();
    let seen: u32 = node_b
        .get_or_store("report", || async { Ok::<_, std::io::Error>(8) })
        .await
        .unwrap();
    assert_eq!((stored, seen), (7, 7), "node B read node A's value");

    let mut tasks = Vec::new();
    for node in [&node_a, &node_b] {
        for _ in 0..4 {
            let cache = node.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..5_000 {
                    cache.increment("hits", 1).await.expect("increment");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(node_a.get::<i64>("hits").await.unwrap(), Some(40_000));
    assert_eq!(node_b.get::<i64>("hits").await.unwrap(), Some(40_000));
    node_a.shutdown().await;
    node_b.shutdown().await;
}

#[tokio::test]
async fn a_redis_that_is_down_at_start_degrades_calls_and_is_picked_up_when_it_comes() {
    let port = support::redis_server::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let mut config = redis_config(&url, &unique_prefix("late"));
    config.redis.breaker_cooldown_ms = 50;
    config.redis.connect_timeout_ms = 200;
    let cache = Cache::start(config).await.expect("starts without redis");
    assert_eq!(cache.get::<u32>("k").await.unwrap(), None, "a miss");
    assert!(matches!(
        cache.put("k", &1).await,
        Err(CacheError::BackendUnavailable {
            backend: "redis",
            ..
        })
    ));
    assert!(matches!(
        cache.delete("k").await,
        Err(CacheError::BackendUnavailable { .. })
    ));
    let v: u32 = cache
        .get_or_store("k", || async { Ok::<_, std::io::Error>(5) })
        .await
        .unwrap();
    assert_eq!(v, 5, "the generator's value, not stored");

    let server = RedisServer::start_on(port);
    let mut recovered = false;
    for _ in 0..200 {
        if cache.put("k", &1).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(recovered, "calls recover once the server is up");
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
    drop(server);
    cache.shutdown().await;
}

#[tokio::test]
async fn redis_settings_are_validated_and_the_password_redacted() {
    let with = |f: &dyn Fn(&mut CacheConfig)| {
        let mut c = CacheConfig::default();
        c.default_adapter = AdapterKind::Redis;
        f(&mut c);
        c
    };
    let cases: Vec<(CacheConfig, &str)> = vec![
        (with(&|c| c.redis.url = "http://x".into()), "redis.url"),
        (with(&|c| c.redis.pool_size = 0), "redis.pool_size"),
        (
            with(&|c| c.redis.key_prefix = "a:b".into()),
            "redis.key_prefix",
        ),
        (
            with(&|c| c.redis.key_prefix = String::new()),
            "redis.key_prefix",
        ),
        (
            with(&|c| c.redis.command_timeout_ms = 0),
            "redis.command_timeout_ms",
        ),
        (
            with(&|c| c.redis.breaker_failure_threshold = 0),
            "redis.breaker_failure_threshold",
        ),
        (
            with(&|c| c.redis.scan_batch_size = 0),
            "redis.scan_batch_size",
        ),
    ];
    for (config, key) in cases {
        match Cache::start(config).await {
            Err(CacheError::Config { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: expected a Config error, got {other:?}"),
        }
    }
    if !cfg!(feature = "redis-tls") {
        let c = with(&|c| c.redis.url = "rediss://:pw@host:6380".into());
        let err = Cache::start(c).await.unwrap_err();
        assert!(err.to_string().contains("redis-tls"), "{err}");
    }
    // A bad URL with a password: the error names the key and hides the password.
    let c = with(&|c| c.redis.url = "redis://:hunter2@[::1".into());
    let err = Cache::start(c).await.unwrap_err();
    assert!(matches!(err, CacheError::Config { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    // Debug of the configuration redacts the password.
    let c = with(&|c| c.redis.url = "redis://app:hunter2@localhost:6379/1".into());
    let debug = format!("{c:?}");
    assert!(
        debug.contains("redis://app:***@localhost:6379/1"),
        "{debug}"
    );
    assert!(!debug.contains("hunter2"), "{debug}");
    // The memory adapter does not look at the Redis URL.
    let mut memory = CacheConfig::default();
    memory.redis.url = "not a url".into();
    Cache::start(memory).await.unwrap().shutdown().await;
}

#[test]
fn redis_settings_load_from_the_environment() {
    let c = deeper_cache::ConfigLoader::new()
        .without_default_file()
        .env_vars([
            ("DEEPER_CACHE__DEFAULT_ADAPTER", "redis"),
            (
                "DEEPER_CACHE__REDIS__URL",
                "redis://:pw@cache.internal:6380/2",
            ),
            ("DEEPER_CACHE__REDIS__POOL_SIZE", "8"),
            ("DEEPER_CACHE__REDIS__KEY_PREFIX", "orders"),
            ("DEEPER_CACHE__REDIS__BREAKER_COOLDOWN_MS", "250"),
        ])
        .load()
        .unwrap();
    assert_eq!(c.default_adapter, AdapterKind::Redis);
    assert_eq!(c.redis.url, "redis://:pw@cache.internal:6380/2");
    assert_eq!(c.redis.pool_size, 8);
    assert_eq!(c.redis.key_prefix, "orders");
    assert_eq!(c.redis.breaker_cooldown_ms, 250);
    assert_eq!(
        c.redis.connect_timeout_ms, 1_000,
        "untouched keys keep their defaults"
    );
    let err = deeper_cache::ConfigLoader::new()
        .without_default_file()
        .env_vars([("DEEPER_CACHE__REDIS__POOL_SIZES", "8")])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("pool_sizes"), "{err}");
}

#[test]
fn a_missing_redis_server_is_a_failure_with_an_install_hint() {
    let panic = std::panic::catch_unwind(|| {
        support::redis_server::require_redis_server_at("/nonexistent/redis-server")
    })
    .expect_err("a missing binary fails the test, it is never skipped");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("apt-get install -y redis-server"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_get_or_store_on_one_node_runs_the_generator_once() {
    let server = RedisServer::start();
    let cache = Cache::start(redis_config(&server.url(), &unique_prefix("flight")))
        .await
        .unwrap();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (cache, runs) = (cache.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_store("hot", || async move {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, std::io::Error>(42u32)
                })
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 42);
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(cache.get::<u32>("hot").await.unwrap(), Some(42));
    cache.shutdown().await;
}
