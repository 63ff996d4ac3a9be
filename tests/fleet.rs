//! A fleet behaves like one cache (issue 19): stampede protection across nodes through a lease
//! in Redis. Several `Cache` instances sharing one prefix are the nodes; each test starts its
//! own `redis-server`.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, GetOrStoreError};
use support::{RedisServer, redis_config, unique_prefix};

/// `n` nodes on `server`, sharing one key prefix.
async fn nodes(server: &RedisServer, n: usize, tune: impl Fn(&mut CacheConfig)) -> Vec<Cache> {
    let prefix = unique_prefix("fleet");
    let mut out = Vec::new();
    for i in 0..n {
        let mut c = redis_config(&server.url(), &prefix);
        c.name = Some(format!("{prefix}_node{i}"));
        tune(&mut c);
        out.push(Cache::start(c).await.unwrap());
    }
    out
}

async fn shutdown(nodes: &[Cache]) {
    for n in nodes {
        n.shutdown().await;
    }
}

/// 3 nodes × 300 concurrent callers on one cold key, a 50 ms generator: it runs exactly once
/// fleet-wide and every caller gets its value (on the redis and the tiered backends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_key_runs_its_generator_once_fleet_wide() {
    let server = RedisServer::start();
    for kind in [AdapterKind::Redis, AdapterKind::Tiered] {
        let fleet = nodes(&server, 3, |c| c.default_adapter = kind).await;
        let runs = Arc::new(AtomicU64::new(0));
        let mut callers = Vec::new();
        for i in 0..900 {
            let (node, runs) = (fleet[i % 3].clone(), runs.clone());
            callers.push(tokio::spawn(async move {
                node.get_or_store("report", || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, std::io::Error>("the value".to_string())
                })
                .await
            }));
        }
        for c in callers {
            assert_eq!(c.await.unwrap().unwrap(), "the value", "{kind:?}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{kind:?}: generator runs");
        let mut waits = 0;
        for node in &fleet {
            waits += stampede_event(node, "lease_wait").await;
        }
        assert!(
            waits >= 1,
            "{kind:?}: at least one node waited on another's lease"
        );
        shutdown(&fleet).await;
    }
}

/// How many times `event` happened on `node` (`stampede_total{event}`).
async fn stampede_event(node: &Cache, event: &str) -> u64 {
    let stats = node.stats().await.unwrap();
    stats.total.stampede.get(event).copied().unwrap_or(0)
}

/// The leader dies mid-generation (its task aborted: no release): after `lease_ms` another
/// node takes the lease over and runs the generator; no caller waits past `lease_ms` +
/// `wait_timeout_ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leader_is_taken_over_after_its_lease() {
    let server = RedisServer::start();
    let fleet = nodes(&server, 3, |c| {
        c.stampede.lease_ms = 300;
        c.stampede.wait_timeout_ms = 2_000;
    })
    .await;
    let runs = Arc::new(AtomicU64::new(0));
    // Node 0 takes the lease and hangs in its generator.
    let hung = {
        let (node, runs) = (fleet[0].clone(), runs.clone());
        tokio::spawn(async move {
            node.get_or_store("k", || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<Result<String, std::io::Error>>().await
            })
            .await
        })
    };
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    let mut callers = Vec::new();
    for i in 0..20 {
        let (node, runs) = (fleet[1 + i % 2].clone(), runs.clone());
        callers.push(tokio::spawn(async move {
            let v = node
                .get_or_store("k", || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>("from the taker".to_string())
                })
                .await;
            (v, Instant::now())
        }));
    }
    hung.abort();
    for c in callers {
        let (v, done) = c.await.unwrap();
        assert_eq!(v.unwrap(), "from the taker");
        // Generous: the bound is lease_ms + wait_timeout_ms (2.3 s).
        assert!(
            done - started < Duration::from_millis(2_300),
            "{:?}",
            done - started
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the hung run and one takeover"
    );
    shutdown(&fleet).await;
}

/// A leader whose generator fails releases at once: other nodes' callers do not get its
/// error, nothing is stored, and they (or the next call) run their own generator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_leader_lets_every_other_node_try() {
    let server = RedisServer::start();
    let fleet = nodes(&server, 3, |_| {}).await;
    let runs = Arc::new(AtomicU64::new(0));
    let call = |node: Cache, runs: Arc<AtomicU64>| async move {
        node.get_or_store("k", || async move {
            let n = runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if n == 0 {
                Err(std::io::Error::other("the database is down"))
            } else {
                Ok("fresh".to_string())
            }
        })
        .await
    };
    let first = tokio::spawn(call(fleet[0].clone(), runs.clone()));
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let others: Vec<_> = (0..10)
        .map(|i| tokio::spawn(call(fleet[1 + i % 2].clone(), runs.clone())))
        .collect();
    assert!(matches!(
        first.await.unwrap(),
        Err(GetOrStoreError::Generator(_))
    ));
    for o in others {
        assert_eq!(
            o.await.unwrap().unwrap(),
            "fresh",
            "never the leader's error"
        );
    }
    // One failed run, then one successful run fleet-wide for the others.
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        fleet[0].get::<String>("k").await.unwrap().as_deref(),
        Some("fresh")
    );
    shutdown(&fleet).await;
}

/// Redis stalls during the flight: no caller hangs; each node falls back to its own single
/// flight (one generator run per node at most).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_falls_back_to_each_nodes_single_flight() {
    let mut server = RedisServer::start();
    let fleet = nodes(&server, 3, |c| {
        c.call_timeout_ms = 300;
        c.redis.command_timeout_ms = 300;
    })
    .await;
    fleet[0].put("warm", &1).await.unwrap();
    server.pause();
    let runs = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut callers = Vec::new();
    for i in 0..30 {
        let (node, runs) = (fleet[i % 3].clone(), runs.clone());
        callers.push(tokio::spawn(async move {
            node.get_or_store("k", || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(7u32)
            })
            .await
        }));
    }
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap(), 7);
    }
    // Bounded by the timeouts (generous for a loaded machine), never a hang.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let n = runs.load(Ordering::SeqCst);
    assert!((1..=3).contains(&n), "{n} runs: at most one per node");
    let mut fallbacks = 0;
    for node in &fleet {
        fallbacks += stampede_event(node, "lease_fallback").await;
    }
    assert!(fallbacks >= 1, "the fallback is counted");
    server.resume();
    shutdown(&fleet).await;
}

/// Lease keys live apart from entries: `clear()`, `delete_pattern` and key listings never see
/// them, and they expire by themselves.
#[tokio::test]
async fn leases_are_never_entries() {
    let server = RedisServer::start();
    let fleet = nodes(&server, 1, |c| c.stampede.lease_ms = 200).await;
    let node = &fleet[0];
    let v: u32 = node
        .get_or_store("k", || async { Ok::<_, std::io::Error>(1u32) })
        .await
        .unwrap();
    assert_eq!(v, 1);
    // The lease was released after the value was stored: only the entry is left.
    let keys = server.raw(&["KEYS", "*"]);
    assert!(!keys.contains("::lease:"), "{keys}");
    assert_eq!(node.clear().await.unwrap(), 1, "the entry alone is counted");
    shutdown(&fleet).await;
}
