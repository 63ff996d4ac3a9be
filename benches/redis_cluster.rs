//! A call through the cache on a Redis Cluster against the same command from the redis crate's
//! own cluster client, in the same run (issue 20; target ≤ 1.2×, as for standalone). The
//! binary starts a 3-primary + 3-replica cluster on loopback ports and stops it at the end.
//!
//! ```sh
//! cargo bench --bench redis_cluster        # ≈1 min
//! ```
//!
//! Current-thread runtime, 1,000 keys, a 64-char `String` (66 B of JSON); each round times a
//! block of calls of both subjects back to back (order swapped every round); the ratio is the
//! median of per-round ratios. Without `--bench` (`cargo test --benches`) it smoke-runs.
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;
#[path = "../tests/support/redis_topology.rs"]
mod redis_topology;

use std::time::Instant;

use deeper_cache::{AdapterKind, Cache, CacheConfig, RedisMode};
use redis::AsyncCommands;

fn main() {
    let real = std::env::args().any(|a| a == "--bench");
    let (rounds, calls) = if real { (31, 1_000) } else { (1, 20) };
    let cluster = redis_topology::RedisCluster::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = CacheConfig::default();
        c.default_adapter = AdapterKind::Redis;
        c.redis.mode = RedisMode::Cluster;
        c.redis.urls = cluster.urls().into_iter().map(Into::into).collect();
        c.redis.key_prefix = "bench".into();
        c.metrics.enabled = false;
        let cache = Cache::start(c).await.expect("cache");
        let plain_client = redis::cluster::ClusterClient::new(cluster.urls()).expect("client");
        let mut plain = plain_client.get_async_connection().await.expect("connect");
        let value = "v".repeat(64);
        let json = serde_json_string(&value);
        for i in 0..1_000 {
            cache.put(&format!("k{i}"), &value).await.expect("put");
            let _: () = plain.set(format!("plain:{i}"), &json).await.expect("set");
        }
        let mut get_ratios = Vec::new();
        let mut set_ratios = Vec::new();
        let (mut get_ns, mut set_ns) = ((0.0, 0.0), (0.0, 0.0));
        for round in 0..rounds {
            let mut time_cache_get = 0.0;
            let mut time_plain_get = 0.0;
            let mut time_cache_set = 0.0;
            let mut time_plain_set = 0.0;
            for order in [round % 2 == 0, round % 2 == 1] {
                if order {
                    let t = Instant::now();
                    for i in 0..calls {
                        let v: Option<String> =
                            cache.get(&format!("k{}", i % 1_000)).await.expect("get");
                        assert!(v.is_some());
                    }
                    time_cache_get = t.elapsed().as_nanos() as f64 / calls as f64;
                    let t = Instant::now();
                    for i in 0..calls {
                        cache.put(&format!("k{}", i % 1_000), &value).await.expect("put");
                    }
                    time_cache_set = t.elapsed().as_nanos() as f64 / calls as f64;
                } else {
                    let t = Instant::now();
                    for i in 0..calls {
                        let v: Option<Vec<u8>> =
                            plain.get(format!("plain:{}", i % 1_000)).await.expect("GET");
                        assert!(v.is_some());
                    }
                    time_plain_get = t.elapsed().as_nanos() as f64 / calls as f64;
                    let t = Instant::now();
                    for i in 0..calls {
                        let _: () = plain
                            .set(format!("plain:{}", i % 1_000), &json)
                            .await
                            .expect("SET");
                    }
                    time_plain_set = t.elapsed().as_nanos() as f64 / calls as f64;
                }
            }
            get_ratios.push(time_cache_get / time_plain_get);
            set_ratios.push(time_cache_set / time_plain_set);
            get_ns = (time_cache_get, time_plain_get);
            set_ns = (time_cache_set, time_plain_set);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let (g, gmin, gmax) = median(get_ratios);
        let (s, smin, smax) = median(set_ratios);
        println!("| operation | cache ÷ plain cluster client (median of {rounds} rounds, min–max) | ns per call, cache / plain (last round) |");
        println!("|---|---|---|");
        println!("| get | {g:.3}× ({gmin:.3}–{gmax:.3}) | {:.0} / {:.0} |", get_ns.0, get_ns.1);
        println!("| put | {s:.3}× ({smin:.3}–{smax:.3}) | {:.0} / {:.0} |", set_ns.0, set_ns.1);
        cache.shutdown().await;
    });
    if !real {
        println!("(smoke run: the figures mean nothing)");
    }
}

/// The JSON the cache stores for a plain string without escapes.
fn serde_json_string(s: &str) -> String {
    format!("\"{s}\"")
}
