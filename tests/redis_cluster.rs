//! Redis Cluster (issue 20): the cache on a real 3-primary + 3-replica cluster this binary
//! starts on loopback ports (once per test, `tests/support/redis_topology.rs`).
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, CacheError, RedisMode};
use support::redis_topology::RedisCluster;
use support::unique_prefix;

fn cluster_config(cluster: &RedisCluster, prefix: &str) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.default_adapter = AdapterKind::Redis;
    c.redis.mode = RedisMode::Cluster;
    c.redis.urls = cluster.urls().into_iter().map(Into::into).collect();
    c.redis.key_prefix = prefix.to_string();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

/// `DBSIZE` of node `i`.
fn dbsize(cluster: &RedisCluster, i: usize) -> u64 {
    cluster.nodes()[i]
        .raw(&["DBSIZE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Keys spread over every primary; `clear()` and `delete_pattern` on 50,000 keys across slots
/// remove exactly the namespace's keys; counters and sets with a TTL on create, leases and
/// namespace generations work on the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_spread_over_every_primary_and_clears_are_exact() {
    let cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster");
    let cache = Cache::start(cluster_config(&cluster, &prefix))
        .await
        .unwrap();
    let users = cache.namespace("users").unwrap();
    let orders = cache.namespace("orders").unwrap();
    let mut writes = Vec::new();
    for t in 0..8 {
        let (users, orders) = (users.clone(), orders.clone());
        writes.push(tokio::spawn(async move {
            for i in (t..50_000).step_by(8) {
                users.put(&format!("user:{i}"), &i).await.unwrap();
                if i % 10 == 0 {
                    orders.put(&format!("order:{i}"), &i).await.unwrap();
                }
            }
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "{}", cluster.view());
    for &p in &primaries {
        assert!(
            dbsize(&cluster, p) > 10_000,
            "primary {p} holds a share of the keys"
        );
    }
    assert_eq!(
        users.get::<usize>("user:49999").await.unwrap(),
        Some(49_999)
    );

    assert_eq!(users.delete_pattern("user:1????").await.unwrap(), 10_000);
    assert_eq!(users.get::<usize>("user:12345").await.unwrap(), None);
    assert_eq!(users.get::<usize>("user:2345").await.unwrap(), Some(2_345));
    assert_eq!(users.clear().await.unwrap(), 40_000);
    assert_eq!(users.get::<usize>("user:2345").await.unwrap(), None);
    for i in (0..50_000).step_by(10) {
        assert_eq!(
            orders.get::<usize>(&format!("order:{i}")).await.unwrap(),
            Some(i)
        );
    }

    // Counters and sets with a TTL on create: one key each, one slot, atomic.
    let ttl = Duration::from_secs(60);
    assert_eq!(orders.increment_with_ttl("hits", 5, ttl).await.unwrap(), 5);
    assert_eq!(orders.increment_with_ttl("hits", 5, ttl).await.unwrap(), 10);
    assert!(orders.add_to_set("tags", &"a").await.unwrap());
    assert!(!orders.add_to_set("tags", &"a").await.unwrap());
    assert!(matches!(
        orders.ttl("hits").await.unwrap(),
        Some(deeper_cache::Ttl::After(_))
    ));
    orders.put("name", &"not a number").await.unwrap();
    assert!(matches!(
        orders.increment("name", 1).await,
        Err(CacheError::NotAnInteger)
    ));

    // A lease per key across nodes (two caches on the cluster).
    let other = Cache::start({
        let mut c = cluster_config(&cluster, &prefix);
        c.name = Some(format!("{prefix}_b"));
        c
    })
    .await
    .unwrap();
    let runs = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for i in 0..200 {
        let node = if i % 2 == 0 {
            cache.clone()
        } else {
            other.clone()
        };
        let runs = runs.clone();
        callers.push(tokio::spawn(async move {
            node.get_or_store("report", || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::io::Error>(7u32)
            })
            .await
        }));
    }
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap(), 7);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one generator run on the cluster"
    );

    // The whole cache: every primary walked.
    let removed = cache.clear().await.unwrap();
    assert!(removed >= 5_000, "root clear removed {removed}");
    for &p in &primaries {
        let left = cluster.nodes()[p].raw(&["KEYS", &format!("{prefix}:*")]);
        assert!(!left.contains(&prefix), "primary {p} still holds: {left}");
    }
    other.shutdown().await;
    cache.shutdown().await;
}

/// Namespace generations on a cluster (no invalidation stream there: each call reads the
/// namespace's counter, one more round trip, never a stale generation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_generations_work_on_a_cluster() {
    let cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster_gen");
    let mut nodes = Vec::new();
    for i in 0..2 {
        let mut c = cluster_config(&cluster, &prefix);
        c.redis.namespace_generations = true;
        c.name = Some(format!("{prefix}_{i}"));
        nodes.push(Cache::start(c).await.unwrap());
    }
    let a = nodes[0].namespace("s").unwrap();
    let b = nodes[1].namespace("s").unwrap();
    for i in 0..1_000 {
        a.put(&format!("k{i}"), &i).await.unwrap();
    }
    assert_eq!(b.get::<i32>("k5").await.unwrap(), Some(5));
    assert_eq!(a.clear().await.unwrap(), 0);
    for i in 0..1_000 {
        assert_eq!(b.get::<i32>(&format!("k{i}")).await.unwrap(), None);
    }
    b.put("k5", &50).await.unwrap();
    assert_eq!(a.get::<i32>("k5").await.unwrap(), Some(50));
    for n in nodes {
        n.shutdown().await;
    }
}

/// kill -9 of one primary under load from 8 tasks: its replica is promoted, calls recover by
/// themselves, no call outlives `call_timeout_ms` (plus scheduling slack), and what the cache
/// reads afterwards is what the cluster holds. Prints the timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_fails_over_and_calls_recover() {
    let mut cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster_failover");
    let mut c = cluster_config(&cluster, &prefix);
    c.redis.command_timeout_ms = 500;
    c.call_timeout_ms = 1_000;
    c.redis.breaker_cooldown_ms = 200;
    let cache = Cache::start(c).await.unwrap();
    for i in 0..1_000 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t0 = Instant::now();
    let first_error = Arc::new(AtomicU64::new(u64::MAX));
    let last_error = Arc::new(AtomicU64::new(0));
    let longest = Arc::new(AtomicU64::new(0));
    let acked: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>> = Arc::default();
    let mut load = Vec::new();
    for t in 0..8u64 {
        let cache = cache.clone();
        let (stop, first_error, last_error, longest, acked) = (
            stop.clone(),
            first_error.clone(),
            last_error.clone(),
            longest.clone(),
            acked.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", (n * 8 + t) % 1_000);
                let started = Instant::now();
                let r = if n % 2 == 0 {
                    cache.put(&key, &n).await.map(|()| {
                        acked.lock().unwrap().insert(key.clone(), n);
                    })
                } else {
                    cache.get::<u64>(&key).await.map(|_| ())
                };
                let took = started.elapsed().as_millis() as u64;
                longest.fetch_max(took, Ordering::Relaxed);
                if r.is_err() {
                    let at = t0.elapsed().as_millis() as u64;
                    first_error.fetch_min(at, Ordering::Relaxed);
                    last_error.fetch_max(at, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let victim = cluster.primaries()[0];
    let killed_at = t0.elapsed().as_millis() as u64;
    cluster.kill(victim);
    let promoted_at;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let primaries = cluster.primaries();
        if primaries.len() == 3 && !primaries.contains(&victim) {
            promoted_at = t0.elapsed().as_millis() as u64;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no replica was promoted: {}",
            cluster.view()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Calls recover by themselves: a run of successes after the promotion.
    let recovered_at;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut ok = true;
        for i in 0..50 {
            ok &= cache.put(&format!("probe{i}"), &i).await.is_ok();
        }
        if ok {
            recovered_at = t0.elapsed().as_millis() as u64;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "calls did not recover after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let first = first_error.load(Ordering::Relaxed);
    println!(
        "failover timeline (ms since start): kill {killed_at}, first error {}, promotion seen {promoted_at}, \
         50 puts in a row succeed {recovered_at}, last error {}; longest call {} ms",
        if first == u64::MAX {
            "none".into()
        } else {
            first.to_string()
        },
        last_error.load(Ordering::Relaxed),
        longest.load(Ordering::Relaxed)
    );
    assert!(
        longest.load(Ordering::Relaxed) < 3_000,
        "a call outlived the call timeout by far: {} ms",
        longest.load(Ordering::Relaxed)
    );
    // What the cache reads is what the cluster kept: the last acknowledged value, or (a write
    // the dead primary acknowledged but had not yet replicated) an older one.
    let acked = acked.lock().unwrap().clone();
    let mut lost = 0;
    for (key, value) in &acked {
        match cache.get::<u64>(key).await.unwrap() {
            Some(v) if v == *value => {}
            Some(_) | None => lost += 1,
        }
    }
    println!(
        "{} keys acknowledged, {lost} not read back at their last value (asynchronous replication)",
        acked.len()
    );
    assert!(
        lost * 20 <= acked.len(),
        "most acknowledged writes survive: {lost} of {}",
        acked.len()
    );
    cache.shutdown().await;
}

/// Bad combinations are refused at start, naming the key.
#[tokio::test]
async fn bad_combinations_are_refused_naming_the_key() {
    type Tune = Box<dyn Fn(&mut CacheConfig)>;
    let cases: Vec<(&str, Tune)> = vec![
        (
            "redis.urls",
            Box::new(|c| c.redis.mode = RedisMode::Cluster),
        ),
        (
            "redis.urls",
            Box::new(|c| c.redis.urls = vec!["redis://127.0.0.1:1".into()]),
        ),
        (
            "redis.sentinel.master_name",
            Box::new(|c| {
                c.redis.mode = RedisMode::Sentinel;
                c.redis.sentinel.urls = vec!["redis://127.0.0.1:1".into()];
            }),
        ),
        (
            "redis.sentinel.urls",
            Box::new(|c| {
                c.redis.mode = RedisMode::Sentinel;
                c.redis.sentinel.master_name = "m".into();
            }),
        ),
        (
            "redis.urls",
            Box::new(|c| {
                c.redis.mode = RedisMode::Cluster;
                c.redis.urls = vec!["http://:hunter2@127.0.0.1:1".into()];
            }),
        ),
        (
            "default_adapter",
            Box::new(|c| {
                c.default_adapter = AdapterKind::Tiered;
                c.redis.mode = RedisMode::Cluster;
                c.redis.urls = vec!["redis://127.0.0.1:1".into()];
            }),
        ),
    ];
    for (key, tune) in cases {
        let mut c = CacheConfig::default();
        c.default_adapter = AdapterKind::Redis;
        tune(&mut c);
        match Cache::start(c).await {
            Err(CacheError::Config { key: k, value, .. }) => {
                assert_eq!(k, key);
                assert!(!value.contains("hunter2"), "{value}");
            }
            other => panic!("{key}: expected a Config error, got {other:?}"),
        }
    }
}

/// Resharding under load: 1,000 slots move from one primary to another (`redis-cli --cluster
/// reshard`, which migrates keys with `MIGRATE` while clients get `ASK` and then `MOVED`
/// redirections) while 4 tasks write and read; every call succeeds (the client follows the
/// redirections) and every key reads back its last acknowledged value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_under_load_is_followed_by_the_client() {
    let cluster = RedisCluster::start();
    let prefix = unique_prefix("cluster_reshard");
    let cache = Cache::start(cluster_config(&cluster, &prefix))
        .await
        .unwrap();
    for i in 0..2_000u64 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
    }
    let primaries = cluster.primaries();
    let id_of = |i: usize| -> String {
        let port = cluster.nodes()[i].port();
        cluster
            .view()
            .lines()
            .find(|l| l.contains(&format!("127.0.0.1:{port}@")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let (from, to) = (id_of(primaries[0]), id_of(primaries[1]));
    let seed = format!("127.0.0.1:{}", cluster.nodes()[primaries[0]].port());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for t in 0..4u64 {
        let (cache, stop, failures, calls) =
            (cache.clone(), stop.clone(), failures.clone(), calls.clone());
        load.push(tokio::spawn(async move {
            let mut last = std::collections::HashMap::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", (n * 4 + t) % 2_000);
                let ok = if n % 2 == 0 {
                    let v = 10_000 + n;
                    let r = cache.put(&key, &v).await;
                    if r.is_ok() {
                        last.insert(key, v);
                    }
                    r.is_ok()
                } else {
                    cache.get::<u64>(&key).await.is_ok()
                };
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                calls.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            last
        }));
    }
    let reshard = tokio::task::spawn_blocking(move || {
        std::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &seed])
            .args(["--cluster-from", &from, "--cluster-to", &to])
            .args([
                "--cluster-slots",
                "1000",
                "--cluster-yes",
                "--cluster-pipeline",
                "10",
            ])
            .output()
            .expect("redis-cli --cluster reshard")
    })
    .await
    .unwrap();
    assert!(reshard.status.success(), "reshard failed: {reshard:?}");
    stop.store(true, Ordering::Relaxed);
    let mut last = std::collections::HashMap::new();
    for l in load {
        last.extend(l.await.unwrap());
    }
    println!(
        "resharding 1,000 slots under load: {} calls, {} failed",
        calls.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed)
    );
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "every call followed the redirections"
    );
    for (key, v) in last {
        assert_eq!(cache.get::<u64>(&key).await.unwrap(), Some(v), "{key}");
    }
    for i in 0..2_000u64 {
        assert!(cache.get::<u64>(&format!("k{i}")).await.unwrap().is_some());
    }
    cache.shutdown().await;
}

/// Passwords in cluster seeds and sentinel URLs are redacted like `redis.url`'s: in errors, in
/// `Debug` of the cache and of the configuration.
#[tokio::test]
async fn every_url_is_redacted() {
    for mode in [RedisMode::Cluster, RedisMode::Sentinel] {
        let mut c = CacheConfig::default();
        c.default_adapter = AdapterKind::Redis;
        c.redis.mode = mode;
        c.redis.connect_timeout_ms = 200;
        c.redis.command_timeout_ms = 200;
        let url = "redis://admin:s3cret-pw@127.0.0.1:1";
        match mode {
            RedisMode::Cluster => c.redis.urls = vec![url.into()],
            _ => {
                c.redis.sentinel.master_name = "m".into();
                c.redis.sentinel.urls = vec![url.into()];
            }
        }
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        let cache = Cache::start(c).await.unwrap();
        let err = cache.put("k", &1).await.unwrap_err();
        assert!(
            matches!(err, CacheError::BackendUnavailable { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
        assert!(!format!("{cache:?}").contains("s3cret-pw"));
        cache.shutdown().await;
    }
}

/// Bulk calls across slots on a cluster: `put_many` writes every key (one `SET` per slot's
/// primary: a transaction cannot span slots), `get_many` reads them in key order (`MGET` split
/// per slot by the client), `delete_many` removes them; with namespace generations too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_calls_span_slots() {
    let cluster = RedisCluster::start();
    for generations in [false, true] {
        let prefix = unique_prefix("cluster_bulk");
        let mut c = cluster_config(&cluster, &prefix);
        c.redis.namespace_generations = generations;
        let cache = Cache::start(c).await.unwrap();
        let ns = cache.namespace("bulk").unwrap();
        let entries: Vec<(String, u32)> = (0..300).map(|i| (format!("k{i}"), i)).collect();
        ns.put_many(&entries, Duration::from_secs(60))
            .await
            .unwrap();
        let keys: Vec<String> = (0..300)
            .map(|i| format!("k{i}"))
            .chain(["absent".into()])
            .collect();
        let got: Vec<Option<u32>> = ns.get_many(&keys).await.unwrap();
        assert_eq!(got.len(), 301);
        for (i, v) in got.iter().take(300).enumerate() {
            assert_eq!(*v, Some(i as u32), "generations {generations}");
        }
        assert_eq!(got[300], None);
        assert_eq!(ns.delete_many(&keys).await.unwrap(), 300);
        assert!(
            ns.get_many::<u32, String>(&keys)
                .await
                .unwrap()
                .iter()
                .all(Option::is_none)
        );
        cache.shutdown().await;
    }
}
