//! Fleet benchmarks (issue 19), against a `redis-server` this binary starts on a free loopback
//! port (no persistence) and stops at the end. See docs/PERFORMANCE.md ("A fleet of nodes").
//!
//! ```sh
//! cargo bench --bench fleet               # ≈2 min: both parts
//! cargo bench --bench fleet -- --only a   # a and/or b (comma-separated)
//! ```
//!
//! Without `--bench` (`cargo test --benches`, CI) it smoke-runs both parts with tiny counts:
//! the figures then mean nothing.
//!
//! - **(a) A cold key on 3 nodes × 1,000 callers**: three caches (nodes) sharing one prefix on
//!   a 2-worker runtime, 1,000 tasks spread over them call `get_or_store` on one cold key at
//!   once; the generator sleeps 50 ms (a database query). Per round: generator runs, time from
//!   the first spawn until the last caller has its value, how long after the value was
//!   written the last caller had it, and the Redis commands the round issued (`INFO
//!   commandstats` after `CONFIG RESETSTAT`). Lease on (`stampede.distributed = true`)
//!   against off, on the redis and tiered backends, subjects alternated, a fresh key per
//!   round. Then the notification a waiter could get instead of polling: a raw `PUBLISH` to
//!   a subscribed connection, timed until the message arrives.
//! - **(b) `clear()` of a namespace with 1,000,000 keys**: generations off (a `SCAN` of the
//!   keyspace and `UNLINK` batches) against on (one `INCR`; the old generation unlinked in
//!   the background, timed until Redis holds none of it), time and Redis commands of each.
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig};
use redis::AsyncCommands;
use tokio::runtime::Builder;

struct Plan {
    smoke: bool,
    a_callers: usize,
    a_rounds: usize,
    a_generator: Duration,
    a_pubsub: usize,
    b_keys: usize,
    b_rounds: usize,
}

fn plan() -> Plan {
    if std::env::args().any(|a| a == "--bench") {
        Plan {
            smoke: false,
            a_callers: 1_000,
            a_rounds: 7,
            a_generator: Duration::from_millis(50),
            a_pubsub: 2_000,
            b_keys: 1_000_000,
            b_rounds: 2,
        }
    } else {
        Plan {
            smoke: true,
            a_callers: 30,
            a_rounds: 1,
            a_generator: Duration::from_millis(5),
            a_pubsub: 20,
            b_keys: 2_000,
            b_rounds: 1,
        }
    }
}

fn only() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let plan = plan();
    let parts = only().unwrap_or_else(|| "a,b".into());
    let server = redis_server::RedisServer::start();
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if parts.contains('a') {
            part_a(&plan, &server).await;
        }
        if parts.contains('b') {
            part_b(&plan, &server).await;
        }
    });
    if plan.smoke {
        println!("(smoke run: the figures mean nothing)");
    }
}

fn config(url: &str, prefix: &str, name: String, kind: AdapterKind, lease: bool) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.default_adapter = kind;
    c.redis.url = url.into();
    c.redis.key_prefix = prefix.to_string();
    c.name = Some(name);
    c.stampede.distributed = lease;
    c.metrics.enabled = false;
    c
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// Commands Redis ran since the last `CONFIG RESETSTAT`, by command (without the
/// measurement's own `INFO`, `DBSIZE` and `CONFIG`).
async fn commandstats(c: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    let mut out = BTreeMap::new();
    for line in info.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else {
            continue;
        };
        let Some((name, fields)) = rest.split_once(':') else {
            continue;
        };
        if name == "info" || name == "dbsize" || name.starts_with("config") {
            continue;
        }
        let calls = fields
            .split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out.insert(name.to_string(), calls);
    }
    out
}

async fn reset_stats(c: &mut redis::aio::MultiplexedConnection) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(c)
        .await
        .expect("CONFIG RESETSTAT");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt_ms(d: f64) -> String {
    format!("{d:.1} ms")
}

#[derive(Default)]
struct RoundA {
    runs: u64,
    total_ms: f64,
    after_write_ms: f64,
    commands: u64,
    by_command: BTreeMap<String, u64>,
}

async fn round_a(plan: &Plan, url: &str, kind: AdapterKind, lease: bool, round: usize) -> RoundA {
    let prefix = format!("fleet_a_{round}_{lease}_{kind:?}");
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(
            Cache::start(config(url, &prefix, format!("{prefix}_n{i}"), kind, lease))
                .await
                .expect("node"),
        );
    }
    // Let the tiered nodes' invalidation streams come up (their L1 serves only then).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut stats = raw(url).await;
    reset_stats(&mut stats).await;
    let runs = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let written: Arc<Mutex<Option<Instant>>> = Arc::default();
    let generator = plan.a_generator;
    let start = Instant::now();
    let mut callers = Vec::with_capacity(plan.a_callers);
    for i in 0..plan.a_callers {
        let node = nodes[i % 3].clone();
        let (runs, written) = (runs.clone(), written.clone());
        callers.push(tokio::spawn(async move {
            let v: String = node
                .get_or_store("cold", || async move {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(generator).await;
                    // The value is stored right after this returns.
                    written.lock().unwrap().get_or_insert_with(Instant::now);
                    Ok::<_, std::io::Error>("the report".to_string())
                })
                .await
                .expect("get_or_store");
            assert_eq!(v, "the report");
            Instant::now()
        }));
    }
    let mut last = start;
    for c in callers {
        last = last.max(c.await.expect("caller"));
    }
    let by_command = commandstats(&mut stats).await;
    let first_write = written.lock().unwrap().unwrap_or(last);
    for n in &nodes {
        n.shutdown().await;
    }
    RoundA {
        runs: runs.load(std::sync::atomic::Ordering::SeqCst),
        total_ms: (last - start).as_secs_f64() * 1e3,
        after_write_ms: last.saturating_duration_since(first_write).as_secs_f64() * 1e3,
        commands: by_command.values().sum(),
        by_command,
    }
}

async fn part_a(plan: &Plan, server: &redis_server::RedisServer) {
    let url = server.url();
    println!(
        "## (a) a cold key, 3 nodes x {} callers, generator {:?}, {} rounds\n",
        plan.a_callers, plan.a_generator, plan.a_rounds
    );
    let subjects = [
        (AdapterKind::Redis, true),
        (AdapterKind::Redis, false),
        (AdapterKind::Tiered, true),
        (AdapterKind::Tiered, false),
    ];
    let mut results: Vec<Vec<RoundA>> = subjects.iter().map(|_| Vec::new()).collect();
    for round in 0..plan.a_rounds {
        for (i, (kind, lease)) in subjects.iter().enumerate() {
            let r = round_a(plan, &url, *kind, *lease, round).await;
            results[i].push(r);
        }
    }
    println!(
        "| backend | lease | generator runs (min–max) | time to the last caller | last caller after the write | Redis commands | by command (median round) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for ((kind, lease), rounds) in subjects.iter().zip(&results) {
        let runs: Vec<u64> = rounds.iter().map(|r| r.runs).collect();
        let mid = rounds.len() / 2;
        let mut by_cmds: Vec<&RoundA> = rounds.iter().collect();
        by_cmds.sort_by_key(|r| r.commands);
        let commands = by_cmds[mid];
        let breakdown: Vec<String> = commands
            .by_command
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!(
            "| {kind:?} | {} | {} ({}–{}) | {} | {} | {} | {} |",
            if *lease { "on" } else { "off" },
            median(runs.iter().map(|&r| r as f64).collect()),
            runs.iter().min().unwrap(),
            runs.iter().max().unwrap(),
            fmt_ms(median(rounds.iter().map(|r| r.total_ms).collect())),
            fmt_ms(median(rounds.iter().map(|r| r.after_write_ms).collect())),
            median(rounds.iter().map(|r| r.commands as f64).collect()),
            breakdown.join(", ")
        );
    }
    pubsub_latency(plan, &url).await;
}

/// What a pub/sub notification would give a waiter instead of its next poll: `PUBLISH` on
/// one connection until the message arrives on a subscribed one.
async fn pubsub_latency(plan: &Plan, url: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut sub = client.get_async_pubsub().await.expect("pubsub");
    sub.subscribe("fleet_bench").await.expect("SUBSCRIBE");
    let mut publisher = raw(url).await;
    let mut messages = sub.on_message();
    let mut lat = Vec::with_capacity(plan.a_pubsub);
    use futures_util::StreamExt;
    for i in 0..plan.a_pubsub {
        let t = Instant::now();
        let _: u64 = publisher.publish("fleet_bench", i).await.expect("PUBLISH");
        messages.next().await.expect("message");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "\npub/sub notification (PUBLISH until received, {} messages): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs\n",
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

async fn populate(url: &str, prefix: &str, ns: &str, n: usize) {
    let mut c = raw(url).await;
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for j in i..(i + 10_000).min(n) {
            p.cmd("SET")
                .arg(format!("{prefix}:{ns}:key:{j:07}"))
                .arg("\"v\"")
                .ignore();
        }
        p.query_async::<()>(&mut c).await.expect("populate");
        i += 10_000;
    }
}

async fn part_b(plan: &Plan, server: &redis_server::RedisServer) {
    let url = server.url();
    println!(
        "## (b) clear() of a namespace with {} keys, {} rounds\n",
        plan.b_keys, plan.b_rounds
    );
    println!(
        "| generations | clear() returned after | Redis commands until it returned | old keys gone from Redis after | Redis commands until then |"
    );
    println!("|---|---|---|---|---|");
    for round in 0..plan.b_rounds {
        for generations in [false, true] {
            let prefix = format!("fleet_b_{round}_{generations}");
            // DBSIZE below counts the whole database: start from an empty one.
            let _: () = redis::cmd("FLUSHALL")
                .query_async(&mut raw(&url).await)
                .await
                .expect("FLUSHALL");
            populate(&url, &prefix, "big", plan.b_keys).await;
            // Another namespace that must stay.
            populate(&url, &prefix, "other", 1_000).await;
            let mut c = config(
                &url,
                &prefix,
                format!("{prefix}_n"),
                AdapterKind::Redis,
                false,
            );
            c.redis.namespace_generations = generations;
            c.redis.command_timeout_ms = 10_000;
            c.call_timeout_ms = 600_000;
            let node = Cache::start(c).await.expect("node");
            // Let the generation stream come up so the node's generation is cached.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let big = node.namespace("big").expect("ns");
            assert!(
                big.get::<String>("key:0000000")
                    .await
                    .expect("get")
                    .is_some()
            );
            let mut stats = raw(&url).await;
            reset_stats(&mut stats).await;
            let t = Instant::now();
            big.clear().await.expect("clear");
            let returned = t.elapsed();
            let at_return: u64 = commandstats(&mut stats).await.values().sum();
            assert!(
                big.get::<String>("key:0000000")
                    .await
                    .expect("get")
                    .is_none()
            );
            // Until Redis holds only the other namespace (and the counter).
            let keep = 1_000 + u64::from(generations);
            loop {
                let n: u64 = redis::cmd("DBSIZE")
                    .query_async(&mut stats)
                    .await
                    .expect("DBSIZE");
                if n <= keep {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let gone = t.elapsed();
            let until_gone: u64 = commandstats(&mut stats).await.values().sum();
            println!(
                "| {} | {:.1} ms | {} | {:.1} ms | {} |",
                if generations { "on" } else { "off" },
                returned.as_secs_f64() * 1e3,
                at_return,
                gone.as_secs_f64() * 1e3,
                until_gone
            );
            node.shutdown().await;
            let _: () = redis::cmd("FLUSHALL")
                .query_async(&mut stats)
                .await
                .expect("FLUSHALL");
        }
    }
}
