//! What the admin interface costs (issue 21): one page of keys by namespace size on the memory
//! table and on Redis (`SCAN`), against a plain `get` in the same run; and what an operator
//! using the API does to the data path: a task doing `get`+`put` on a 1,000,000-entry
//! namespace, alone, while a client pages through that namespace over HTTP without pause, and
//! while a client polls `stats` + `namespaces` without pause (the page polls them every 3 s).
//!
//! ```sh
//! cargo bench --features admin --bench admin
//! ```
//!
//! Without `--bench` (e.g. `cargo test --benches`) it does a smoke run with small sizes.
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, Tokens};

const TOKEN: &str = "bench-token-0123456789abcdef";

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn config(redis: Option<&str>) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c.admin.enabled = true;
    c.admin.listen = "127.0.0.1:0".into();
    c.admin.read_tokens = Tokens::new([TOKEN]);
    if let Some(url) = redis {
        c.default_adapter = AdapterKind::Redis;
        c.redis.url = url.into();
        c.redis.key_prefix = format!("bench_admin_{}", std::process::id());
    }
    c
}

async fn fill(cache: &Cache, entries: usize) {
    let ns = cache.namespace("big").expect("namespace");
    let tasks: Vec<_> = (0..16)
        .map(|part| {
            let ns = ns.clone();
            tokio::spawn(async move {
                for i in (part..entries).step_by(16) {
                    ns.put(&format!("user:{i:07}"), &i).await.expect("put");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("filler");
    }
}

/// Median latency of `f` over `rounds` calls.
async fn timed<F, Fut>(rounds: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed().as_nanos() as f64);
    }
    median(&mut v)
}

/// One row: a page of 100 and of 1,000 keys, a whole walk in pages of 1,000, a `get`.
async fn page_costs(cache: &Cache, backend: &str, entries: usize, walk: bool) -> String {
    let ns = cache.namespace("big").expect("namespace");
    let rounds = if entries >= 1_000_000 { 7 } else { 21 };
    let p100 = timed(rounds, || async {
        let page = ns.keys(None, None, 100).await.expect("page");
        assert!(!page.keys.is_empty() && page.keys.len() <= 100);
    })
    .await;
    let p1000 = timed(rounds, || async {
        let page = ns.keys(None, None, 1000).await.expect("page");
        assert!(!page.keys.is_empty() && page.keys.len() <= 1000);
    })
    .await;
    let pattern = timed(rounds, || async {
        // user:00012* : 10 keys of the whole namespace.
        ns.keys(Some("user:00012*"), None, 100).await.expect("page");
    })
    .await;
    let walk = if walk {
        let t = Instant::now();
        let (mut cursor, mut seen) = (None::<String>, 0usize);
        loop {
            let page = ns.keys(None, cursor.as_deref(), 1000).await.expect("page");
            seen += page.keys.len();
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, entries);
        format!("{:.2} s", t.elapsed().as_secs_f64())
    } else {
        "–".into()
    };
    let mut i = 0usize;
    let get = timed(1_001, || {
        i = (i + 7919) % entries;
        let key = format!("user:{i:07}");
        let ns = &ns;
        async move {
            ns.get::<usize>(&key).await.expect("get").expect("present");
        }
    })
    .await;
    format!(
        "| {backend} | {entries} | {} | {} | {} | {walk} | {} | {:.0}× |",
        fmt_ns(p100),
        fmt_ns(p1000),
        fmt_ns(pattern),
        fmt_ns(get),
        p100 / get
    )
}

/// What a background admin client does during one data-path round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Load {
    Idle,
    Paging,
    Polling,
}

fn admin_client(base: String, load: Load, stop: Arc<AtomicBool>, calls: Arc<AtomicU64>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let get = |path: &str| -> serde_json::Value {
        agent
            .get(format!("{base}/api/v1/{path}"))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .call()
            .expect("admin call")
            .body_mut()
            .read_json()
            .expect("json")
    };
    let mut cursor: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        match load {
            Load::Idle => return,
            Load::Paging => {
                let path = match &cursor {
                    Some(c) => format!("keys?ns=big&limit=1000&cursor={c}"),
                    None => "keys?ns=big&limit=1000".into(),
                };
                cursor = get(&path)["cursor"].as_str().map(str::to_string);
            }
            Load::Polling => {
                get("stats");
                get("namespaces");
            }
        }
        calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// One data-path round: a task doing `get` + `put` on random keys of `big` for `secs`.
async fn data_path(cache: &Cache, entries: usize, load: Load, secs: f64) -> (f64, Duration, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let base = format!("http://{}", cache.admin_addr().expect("admin listener"));
    let client = {
        let (stop, calls) = (stop.clone(), calls.clone());
        std::thread::spawn(move || admin_client(base, load, stop, calls))
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ns = cache.namespace("big").expect("namespace");
    let mut lat = Vec::with_capacity(1 << 20);
    let started = Instant::now();
    let mut ops = 0u64;
    let mut rng = fastrand::Rng::with_seed(7);
    while started.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            let key = format!("user:{:07}", rng.usize(0..entries));
            let t = Instant::now();
            if ops % 10 == 9 {
                ns.put(&key, &ops).await.expect("put");
            } else {
                let _ = ns.get::<u64>(&key).await.expect("get");
            }
            lat.push(t.elapsed());
            ops += 1;
        }
        tokio::task::yield_now().await;
    }
    let took = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    client.join().expect("admin client");
    (
        ops as f64 / took,
        quantile(&mut lat, 0.99),
        calls.load(Ordering::Relaxed),
    )
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (memory_sizes, redis_sizes, big, secs, rounds) = if bench {
        (
            vec![10_000, 100_000, 1_000_000],
            vec![10_000, 100_000],
            1_000_000,
            2.0,
            3,
        )
    } else {
        (vec![2_000], vec![2_000], 20_000, 0.2, 1)
    };
    let server = redis_server::RedisServer::start();
    rt.block_on(async {
        println!("## One page of keys (facade `Cache::keys`, medians)\n");
        println!(
            "| backend | keys in the namespace | page of 100 | page of 1,000 | page of 100, pattern matching 10 keys | whole walk in pages of 1,000 | one `get` | page of 100 ÷ get |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for &n in &memory_sizes {
            let cache = Cache::start(config(None)).await.expect("start");
            fill(&cache, n).await;
            println!("{}", page_costs(&cache, "memory", n, n <= 100_000).await);
            cache.shutdown().await;
        }
        for &n in &redis_sizes {
            let cache = Cache::start(config(Some(&server.url())))
                .await
                .expect("start");
            cache.namespace("big").expect("ns").clear().await.expect("clear");
            fill(&cache, n).await;
            println!("{}", page_costs(&cache, "redis", n, true).await);
            cache.namespace("big").expect("ns").clear().await.expect("clear");
            cache.shutdown().await;
        }

        println!(
            "\n## The data path while the admin API is used ({big} entries, 2 workers, 90 % get / 10 % put, {rounds} rounds of {secs} s, loads alternated)\n"
        );
        let cache = Cache::start(config(None)).await.expect("start");
        fill(&cache, big).await;
        let loads = [Load::Idle, Load::Paging, Load::Polling];
        let mut results: Vec<Vec<(f64, Duration, u64)>> = vec![Vec::new(); loads.len()];
        for _ in 0..rounds {
            for (i, &load) in loads.iter().enumerate() {
                results[i].push(data_path(&cache, big, load, secs).await);
            }
        }
        println!("| admin client | ops/s (median) | p99 (median) | admin calls/s | ops/s ÷ idle (per round) |");
        println!("|---|---|---|---|---|");
        for (i, load) in loads.iter().enumerate() {
            let mut ops: Vec<f64> = results[i].iter().map(|r| r.0).collect();
            let mut p99: Vec<f64> = results[i].iter().map(|r| r.1.as_nanos() as f64).collect();
            let mut calls: Vec<f64> = results[i].iter().map(|r| r.2 as f64 / secs).collect();
            let ratios: Vec<String> = results[i]
                .iter()
                .zip(&results[0])
                .map(|(r, idle)| format!("{:.2}", r.0 / idle.0))
                .collect();
            let what = match load {
                Load::Idle => "none",
                Load::Paging => "pages through `big` (1,000 keys a page, no pause)",
                Load::Polling => "`stats` + `namespaces`, no pause",
            };
            println!(
                "| {what} | {:.0} k | {} | {:.1} | {} |",
                median(&mut ops) / 1e3,
                fmt_ns(median(&mut p99)),
                median(&mut calls),
                ratios.join(", ")
            );
        }
        cache.shutdown().await;
    });
}
