//! Namespace generations (issue 19, `redis.namespace_generations`): `clear()` of a namespace
//! is one `INCR` every node sees, on the redis and tiered backends. Several `Cache` instances
//! sharing one prefix are the nodes; each test starts its own `redis-server`.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig};
use redis::AsyncCommands;
use support::{RedisServer, raw_connection, redis_config, unique_prefix};

/// How long a clear may take to reach every node: the invalidation push crosses loopback in
/// well under a millisecond (docs/PERFORMANCE.md, tiered propagation); a debug build on a
/// loaded two-core machine gets a generous bound.
const PROPAGATION: Duration = Duration::from_millis(500);

/// `n` nodes on `server` sharing one prefix, with generations on.
async fn nodes(server: &RedisServer, n: usize, kind: AdapterKind) -> (String, Vec<Cache>) {
    let prefix = unique_prefix("gen");
    let mut out = Vec::new();
    for i in 0..n {
        let mut c: CacheConfig = redis_config(&server.url(), &prefix);
        c.default_adapter = kind;
        c.redis.namespace_generations = true;
        c.name = Some(format!("{prefix}_node{i}"));
        out.push(Cache::start(c).await.unwrap());
    }
    (prefix, out)
}

async fn shutdown(nodes: &[Cache]) {
    for n in nodes {
        n.shutdown().await;
    }
}

/// Polls until `check` holds (every 2 ms), panicking with `what` past `within`.
async fn until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Every node has read (and cached) the namespace and holds its keys; one node clears it;
/// once the propagation bound has passed, no node reads any old key again, new writes are
/// seen by all, the other namespace is untouched, and the old generation leaves Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_on_one_node_is_seen_by_every_node() {
    let server = RedisServer::start();
    for kind in [AdapterKind::Redis, AdapterKind::Tiered] {
        let (prefix, fleet) = nodes(&server, 3, kind).await;
        let users: Vec<Cache> = fleet
            .iter()
            .map(|n| n.namespace("users").unwrap())
            .collect();
        let orders: Vec<Cache> = fleet
            .iter()
            .map(|n| n.namespace("orders").unwrap())
            .collect();
        for i in 0..100 {
            users[i % 3].put(&format!("u{i}"), &i).await.unwrap();
            orders[i % 3].put(&format!("o{i}"), &i).await.unwrap();
        }
        // Every node reads every key (caches the generation; fills its L1 on tiered).
        for node in &users {
            for i in 0..100 {
                assert_eq!(node.get::<usize>(&format!("u{i}")).await.unwrap(), Some(i));
            }
        }

        assert_eq!(
            users[0].clear().await.unwrap(),
            0,
            "{kind:?}: O(1) clear returns 0"
        );
        // The clearing node reads its own clear at once.
        for i in 0..100 {
            assert_eq!(users[0].get::<usize>(&format!("u{i}")).await.unwrap(), None);
        }
        for node in &users[1..] {
            until(
                PROPAGATION,
                "every key of the old generation gone",
                || async {
                    for i in 0..100 {
                        if node.get::<usize>(&format!("u{i}")).await.unwrap().is_some() {
                            return false;
                        }
                    }
                    true
                },
            )
            .await;
        }
        // After the bound: never again, on any node, and new writes are shared.
        users[1].put("u7", &700usize).await.unwrap();
        for node in &users {
            for i in 0..100 {
                let want = (i == 7).then_some(700usize);
                assert_eq!(
                    node.get::<usize>(&format!("u{i}")).await.unwrap(),
                    want,
                    "{kind:?}"
                );
            }
        }
        for node in &orders {
            for i in 0..100 {
                assert_eq!(
                    node.get::<usize>(&format!("o{i}")).await.unwrap(),
                    Some(i),
                    "{kind:?}"
                );
            }
        }
        // The old generation is unlinked in the background; the new one and the counter stay.
        let mut raw = raw_connection(&server.url()).await;
        let pattern = format!("{prefix}:users:*");
        until(Duration::from_secs(10), "old generation unlinked", || {
            let mut raw = raw.clone();
            let pattern = pattern.clone();
            async move {
                let left: Vec<String> = raw.keys(&pattern).await.unwrap();
                left.is_empty()
            }
        })
        .await;
        let current: Vec<String> = raw.keys(format!("{prefix}:users\\\\g1:*")).await.unwrap();
        assert_eq!(current, vec![format!("{prefix}:users\\g1:u7")], "{kind:?}");
        let generation: u64 = raw.get(format!("{prefix}::gen:users")).await.unwrap();
        assert_eq!(generation, 1);
        shutdown(&fleet).await;
    }
}

/// Namespaces whose names contain `:`, glob characters, backslashes or look like another's
/// generation suffix each have their own counter: clearing one leaves every other readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_namespace_names_cannot_touch_another_generation() {
    let server = RedisServer::start();
    let (_, fleet) = nodes(&server, 2, AdapterKind::Redis).await;
    let names = [
        "a", "a:b", "a\\", "a\\g1", "a*", "a?", "[a]", "a\\:b", "*", "g1",
    ];
    for (i, name) in names.iter().enumerate() {
        let ns = fleet[0].namespace(name).unwrap();
        ns.put("k", &i).await.unwrap();
        ns.put("k:\\g2:x", &i).await.unwrap();
    }
    for cleared in names {
        fleet[1].namespace(cleared).unwrap().clear().await.unwrap();
        for node in &fleet {
            let ns = node.namespace(cleared).unwrap();
            until(PROPAGATION, "the cleared namespace empty", || async {
                ns.get::<usize>("k").await.unwrap().is_none()
                    && ns.get::<usize>("k:\\g2:x").await.unwrap().is_none()
            })
            .await;
        }
        // Put it back so the next round checks every other name again.
        let idx = names.iter().position(|n| *n == cleared).unwrap();
        fleet[0]
            .namespace(cleared)
            .unwrap()
            .put("k", &idx)
            .await
            .unwrap();
        fleet[0]
            .namespace(cleared)
            .unwrap()
            .put("k:\\g2:x", &idx)
            .await
            .unwrap();
        for (i, name) in names.iter().enumerate() {
            let ns = fleet[1].namespace(name).unwrap();
            assert_eq!(
                ns.get::<usize>("k").await.unwrap(),
                Some(i),
                "{name} after clearing {cleared}"
            );
            assert_eq!(
                ns.get::<usize>("k:\\g2:x").await.unwrap(),
                Some(i),
                "{name}"
            );
        }
    }
    shutdown(&fleet).await;
}

/// Turning generations on keeps what was written before (generation 0 is the plain layout);
/// `delete_pattern`, counters and sets work on the current generation; a root `clear()`
/// removes every generation but keeps the counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_keep_old_keys_and_every_operation_follows_them() {
    let server = RedisServer::start();
    let prefix = unique_prefix("gen_compat");
    let plain = Cache::start(redis_config(&server.url(), &prefix))
        .await
        .unwrap();
    plain
        .namespace("n")
        .unwrap()
        .put("before", &1)
        .await
        .unwrap();
    let mut c = redis_config(&server.url(), &prefix);
    c.redis.namespace_generations = true;
    c.name = Some(format!("{prefix}_gen"));
    let node = Cache::start(c).await.unwrap();
    let ns = node.namespace("n").unwrap();
    assert_eq!(ns.get::<i32>("before").await.unwrap(), Some(1));

    ns.clear().await.unwrap();
    assert_eq!(ns.get::<i32>("before").await.unwrap(), None);
    for i in 0..10 {
        ns.put(&format!("user:{i}"), &i).await.unwrap();
    }
    ns.put("order:1", &1).await.unwrap();
    assert_eq!(ns.delete_pattern("user:*").await.unwrap(), 10);
    assert_eq!(ns.get::<i32>("order:1").await.unwrap(), Some(1));
    assert_eq!(ns.increment("hits", 2).await.unwrap(), 2);
    assert!(ns.add_to_set("tags", &"x").await.unwrap());
    ns.clear().await.unwrap();
    assert_eq!(
        ns.increment("hits", 2).await.unwrap(),
        2,
        "a counter starts over"
    );
    assert!(
        ns.add_to_set("tags", &"x").await.unwrap(),
        "a set starts over"
    );
    assert_eq!(ns.get::<i32>("order:1").await.unwrap(), None);

    node.namespace("other").unwrap().put("k", &1).await.unwrap();
    let removed = node.clear().await.unwrap();
    assert!(
        removed >= 3,
        "the root clear counts what it removed: {removed}"
    );
    assert_eq!(ns.increment("hits", 1).await.unwrap(), 1);
    let mut raw = raw_connection(&server.url()).await;
    let generation: u64 = raw.get(format!("{prefix}::gen:n")).await.unwrap();
    assert_eq!(generation, 2, "the counter outlives a root clear");
    node.shutdown().await;
    plain.shutdown().await;
}

/// With the generation stream down (Redis restarted), calls still see other nodes' clears:
/// they read the generation on each call until the stream is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clears_are_seen_while_the_stream_reconnects() {
    let mut server = RedisServer::start();
    let (_, fleet) = nodes(&server, 2, AdapterKind::Redis).await;
    let a = fleet[0].namespace("s").unwrap();
    let b = fleet[1].namespace("s").unwrap();
    a.put("k", &1).await.unwrap();
    assert_eq!(b.get::<i32>("k").await.unwrap(), Some(1));
    server.restart();
    // Calls right after the restart may fail while connections come back; retry them.
    until(Duration::from_secs(10), "writes accepted again", || async {
        a.put("k", &2).await.is_ok()
    })
    .await;
    until(Duration::from_secs(10), "reads answered again", || async {
        b.get::<i32>("k").await.is_ok()
    })
    .await;
    a.clear().await.unwrap();
    until(PROPAGATION, "the clear seen by the other node", || async {
        matches!(b.get::<i32>("k").await, Ok(None))
    })
    .await;
    shutdown(&fleet).await;
}
