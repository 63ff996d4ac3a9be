//! Bulk calls and snapshots (issue 22; docs/PERFORMANCE.md "Bulk calls and snapshots").
//!
//! 1. `get_many` of N keys against N `get`s (and against one `get`), N = 50 and 100, on the
//!    memory backend and on the Redis backend (a `redis-server` this binary starts on a free
//!    loopback port), `direct` plane, 64-char string values, all hits. Subjects alternate in
//!    blocks within each round; the figure is the median of the per-round ratios.
//! 2. `save` and restore (a start with `memory.snapshot_path`) of a table of 1,000,000
//!    entries (keys `u<i>`, `u64` values, TTL one hour): seconds, MB/s of file, and the peak
//!    resident memory above the table itself (`VmHWM` after `clear_refs`, Linux).
//!
//! Run with `cargo bench --bench bulk` (a plain binary, no criterion).
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig, Ttl};
use tokio::runtime::Builder;

const ROUNDS: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Per-call times (ns) of `get_many(keys)`, `keys.len()` `get`s and one `get`, in alternating
/// blocks of `calls` calls; returns the medians and the median per-round ratios.
async fn compare(cache: &Cache, keys: &[String], calls: usize) -> [f64; 5] {
    let (mut many, mut singles, mut one, mut r_singles, mut r_one) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..calls {
            let v = cache.get_many::<String, _>(keys).await.unwrap();
            assert!(v[0].is_some());
        }
        let m = t.elapsed().as_nanos() as f64 / calls as f64;
        let t = Instant::now();
        for _ in 0..calls {
            for k in keys {
                assert!(cache.get::<String>(k).await.unwrap().is_some());
            }
        }
        let s = t.elapsed().as_nanos() as f64 / calls as f64;
        let t = Instant::now();
        for i in 0..calls {
            assert!(
                cache
                    .get::<String>(&keys[i % keys.len()])
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        let o = t.elapsed().as_nanos() as f64 / calls as f64;
        many.push(m);
        singles.push(s);
        one.push(o);
        r_singles.push(m / s);
        r_one.push(m / o);
    }
    [
        median(many),
        median(singles),
        median(one),
        median(r_singles),
        median(r_one),
    ]
}

async fn populate(cache: &Cache, n: usize) -> Vec<String> {
    let value = "v".repeat(64);
    let keys: Vec<String> = (0..n).map(|i| format!("bench:{i}")).collect();
    let entries: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), value.as_str())).collect();
    cache.put_many(&entries, Ttl::Never).await.unwrap();
    keys
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident size (`VmHWM`) to the current one.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = redis_server::RedisServer::start();
    rt.block_on(async {
        println!("| backend | N | get_many(N) | N × get | one get | get_many ÷ N gets | get_many ÷ one get |");
        println!("|---|---|---|---|---|---|---|");
        for backend in ["memory", "redis"] {
            let mut config = CacheConfig::default();
            config.metrics_reporter.report_interval_ms = 3_600_000;
            // Keys stay for the plain client's comparison below.
            config.name = Some(format!("bulk_bench_{backend}"));
            if backend == "redis" {
                config.default_adapter = AdapterKind::Redis;
                config.redis.url = server.url().into();
            }
            let cache = Cache::start(config).await.unwrap();
            for n in [50usize, 100] {
                let keys = populate(&cache, n).await;
                let calls = if backend == "redis" { 200 } else { 5_000 };
                let [m, s, o, rs, ro] = compare(&cache, &keys, calls).await;
                println!(
                    "| {backend} | {n} | {:.1} µs | {:.1} µs | {:.2} µs | {rs:.3}× | {ro:.2}× |",
                    m / 1e3,
                    s / 1e3,
                    o / 1e3
                );
            }
            cache.shutdown().await;
        }
        // The floor on Redis: the plain `redis` client's MGET of N raw keys against its GET,
        // same server, same run (no cache, no JSON decoding).
        let client = redis::Client::open(server.url().as_str()).unwrap();
        let mut plain = redis::aio::ConnectionManager::new(client).await.unwrap();
        println!();
        println!("| plain redis client | N | MGET(N) | one GET | MGET ÷ GET |");
        println!("|---|---|---|---|---|");
        for n in [50usize, 100] {
            let raw: Vec<String> = (0..n)
                .map(|i| format!("deeper_cache:default:bench:{i}"))
                .collect();
            let (mut mg, mut g, mut r) = (vec![], vec![], vec![]);
            for _ in 0..ROUNDS {
                let t = Instant::now();
                for _ in 0..200 {
                    let v: Vec<Option<Vec<u8>>> =
                        redis::cmd("MGET").arg(&raw).query_async(&mut plain).await.unwrap();
                    assert!(v[0].is_some());
                }
                let m = t.elapsed().as_nanos() as f64 / 200.0;
                let t = Instant::now();
                for i in 0..200 {
                    let v: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&raw[i % n])
                        .query_async(&mut plain)
                        .await
                        .unwrap();
                    assert!(v.is_some());
                }
                let o = t.elapsed().as_nanos() as f64 / 200.0;
                mg.push(m);
                g.push(o);
                r.push(m / o);
            }
            println!(
                "| plain | {n} | {:.1} µs | {:.2} µs | {:.2}× |",
                median(mg) / 1e3,
                median(g) / 1e3,
                median(r)
            );
        }

        // Snapshots of 1,000,000 entries.
        const N: usize = 1_000_000;
        let dir = std::env::temp_dir().join(format!("deeper-cache-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bench.snap");
        let mut config = CacheConfig::default();
        config.metrics_reporter.report_interval_ms = 3_600_000;
        config.memory.cleanup_interval_ms = 3_600_000;
        let before_table = rss_kib("VmRSS:");
        let cache = Cache::start(config.clone()).await.unwrap();
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..N {
            batch.push((format!("u{i}"), i as u64));
            if batch.len() == 10_000 {
                cache
                    .put_many(&batch, Duration::from_secs(3_600))
                    .await
                    .unwrap();
                batch.clear();
            }
        }
        let table_kib = rss_kib("VmRSS:").saturating_sub(before_table);
        let base = rss_kib("VmRSS:");
        reset_peak();
        let t = Instant::now();
        let r = cache.save(&path).await.unwrap();
        let save_s = t.elapsed().as_secs_f64();
        let save_peak = rss_kib("VmHWM:").saturating_sub(base);
        let mb = r.bytes as f64 / 1e6;
        cache.shutdown().await;
        drop(cache);
        config.memory.snapshot_path = Some(path.clone());
        reset_peak();
        let t = Instant::now();
        let restored = Cache::start(config).await.unwrap();
        let restore_s = t.elapsed().as_secs_f64();
        let after = rss_kib("VmRSS:");
        let restore_peak = rss_kib("VmHWM:").saturating_sub(after);
        assert_eq!(restored.usage().await.unwrap().entries, N as u64);
        restored.shutdown().await;
        println!();
        println!("table of {N} entries: {:.0} MB resident; file {mb:.1} MB", table_kib as f64 / 1024.0);
        println!("| | seconds | MB/s | peak extra resident memory |");
        println!("|---|---|---|---|");
        println!(
            "| save | {save_s:.2} | {:.0} | {:.1} MB |",
            mb / save_s,
            save_peak as f64 / 1024.0
        );
        println!(
            "| restore (verify + load) | {restore_s:.2} | {:.0} | {:.1} MB above the restored table |",
            mb / restore_s,
            restore_peak as f64 / 1024.0
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
