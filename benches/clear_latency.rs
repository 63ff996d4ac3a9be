//! How late a 1 ms ticker on the same runtime wakes while `clear()` removes 1,000,000 entries
//! (issue 17, defect 5), on a current-thread runtime and on two workers, unbounded and with
//! `memory.max_entries` set (the policy mutex), plus how long a put into another namespace
//! waits meanwhile.
//!
//! ```sh
//! cargo bench --bench clear_latency
//! ```
//!
//! Without `--bench` (e.g. `cargo test --benches`) it does a smoke run with 10,000 entries.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig};

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

async fn run(entries: usize, bounded: bool) -> String {
    let mut config = CacheConfig::default();
    config.memory.cleanup_interval_ms = 3_600_000;
    config.metrics_reporter.report_interval_ms = 3_600_000;
    if bounded {
        config.memory.max_entries = entries as u64 * 2;
    }
    let cache = Cache::start(config).await.expect("start");
    let big = cache.namespace("big").expect("namespace");
    for i in 0..entries {
        big.put(&format!("user:{i}"), &i).await.expect("put");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut late = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let due = Instant::now() + Duration::from_millis(1);
                tokio::time::sleep_until(due.into()).await;
                late.push(Instant::now().saturating_duration_since(due));
            }
            late
        })
    };
    let writer = {
        let (stop, other) = (stop.clone(), cache.namespace("other").expect("namespace"));
        tokio::spawn(async move {
            let mut waits = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                other.put("k", &i).await.expect("put");
                waits.push(t.elapsed());
                i += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            waits
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    let removed = big.clear().await.expect("clear");
    let took = started.elapsed();
    assert_eq!(removed, entries as u64);
    stop.store(true, Ordering::Relaxed);
    let mut late = ticker.await.expect("ticker");
    let mut waits = writer.await.expect("writer");
    cache.shutdown().await;
    format!(
        "| {} | {took:.0?} | {:?} | {:?} | {:?} | {:?} |",
        if bounded {
            "max_entries set (lfu)"
        } else {
            "unbounded"
        },
        quantile(&mut late, 0.5),
        quantile(&mut late, 0.99),
        quantile(&mut late, 1.0),
        quantile(&mut waits, 1.0),
    )
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let entries = if bench { 1_000_000 } else { 10_000 };
    println!("clear() of {entries} entries\n");
    for (label, rt) in [
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        ),
        (
            "multi-thread (2 workers)",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        ),
    ] {
        let rt = rt.expect("runtime");
        println!("## {label}\n");
        println!(
            "| table | clear() took | ticker lateness p50 | p99 | max | longest put into another namespace |"
        );
        println!("|---|---|---|---|---|---|");
        for bounded in [false, true] {
            println!("{}", rt.block_on(run(entries, bounded)));
        }
        println!();
    }
}
