//! Get-hit latency while a sweep expires 1,000,000 entries, against the same reads with no
//! sweep, in the same run; plus moka's get-hit latency on the same keys for reference.
//!
//! ```sh
//! cargo bench --bench sweep_latency
//! SWEEP_QUICK=1 cargo bench --bench sweep_latency    # 200,000 expiring entries
//! ```
//!
//! Setup: 100,000 live entries (no TTL) that the reader hits, plus N entries with a 1 s TTL,
//! on a manual clock. Phase 1 ("no sweep"): the reader thread does 2,000,000 timed gets of
//! random live keys. Phase 2 ("during sweep"): the clock moves 2 s, a sweeper thread runs
//! `sweep_expired` (batches of 1,000, yielding between them, as the Cleanup actor does) and
//! the reader keeps doing timed gets until the sweep returns. Each get is timed with
//! `Instant::now()` around it (the timer's own ~20-40 ns are in every figure, both phases).
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use deeper_cache::{ManualClock, Ttl};
use deeper_cache_actors::backend::MemoryTable;
use deeper_cache_actors::config::{EvictionPolicy, MemoryConfig};

const LIVE: usize = 100_000;

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn percentiles(mut v: Vec<u32>) -> (u32, u32, u32, u32, usize) {
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (
        at(0.5),
        at(0.99),
        at(0.999),
        *v.last().unwrap_or(&0),
        v.len(),
    )
}

fn reads(get: impl Fn(&str) -> bool, keys: &[String], stop: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut rng = XorShift(0x5eed);
    let mut out = Vec::with_capacity(4_000_000);
    let mut i = 0;
    while !stop(i) {
        let k = &keys[(rng.next() % keys.len() as u64) as usize];
        let t = Instant::now();
        let hit = get(k);
        let ns = t.elapsed().as_nanos() as u32;
        assert!(hit, "live key {k} missed");
        out.push(ns);
        i += 1;
    }
    out
}

fn line(label: &str, p: (u32, u32, u32, u32, usize)) {
    println!(
        "| {label} | {} | {} | {} | {} | {} |",
        p.0, p.1, p.2, p.3, p.4
    );
}

fn run(label: &str, config: MemoryConfig, expiring: usize) -> f64 {
    let clock = ManualClock::new();
    let table = Arc::new(MemoryTable::with_config(clock.clock(), &config));
    let keys: Vec<String> = (0..LIVE).map(|i| format!("live:{i:06}")).collect();
    let v = Bytes::from(vec![b'v'; 64]);
    for k in &keys {
        table.put("ns", k, v.clone(), Ttl::Never).expect("put");
    }
    for i in 0..expiring {
        table
            .put(
                "ns",
                &format!("exp:{i:07}"),
                v.clone(),
                Ttl::After(Duration::from_secs(1)),
            )
            .expect("put");
    }
    let get = |k: &str| table.get("ns", k).expect("get").is_some();
    let base = percentiles(reads(get, &keys, |i| i >= 2_000_000));

    clock.advance(Duration::from_secs(2));
    let done = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (table, done) = (table.clone(), done.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let started = Instant::now();
            let removed = rt.block_on(table.sweep_expired(1_000, |_| {}));
            done.store(true, Ordering::Release);
            (removed, started.elapsed())
        })
    };
    let during = percentiles(reads(get, &keys, |_| done.load(Ordering::Acquire)));
    let (removed, took) = sweeper.join().expect("sweeper");
    assert_eq!(removed, expiring as u64);
    line(&format!("{label}: no sweep"), base);
    line(
        &format!("{label}: during a sweep of {removed} expired ({took:.2?})"),
        during,
    );
    during.1 as f64 / base.1 as f64
}

fn main() {
    let quick = std::env::var("SWEEP_QUICK").is_ok_and(|v| v != "0");
    let expiring = if quick { 200_000 } else { 1_000_000 };
    println!("get-hit latency in ns (p50, p99, p99.9, max, number of gets)");
    println!();
    println!("| phase | p50 | p99 | p99.9 | max | gets |");
    println!("|---|---|---|---|---|---|");
    let unbounded = run("unbounded table", MemoryConfig::default(), expiring);
    let lfu = run(
        "bounded table (lfu, max_entries 2,000,000)",
        MemoryConfig {
            max_entries: 2_000_000,
            eviction_policy: EvictionPolicy::Lfu,
            ..MemoryConfig::default()
        },
        expiring,
    );
    // moka on the same keys and values, no sweep (reference for the get path itself).
    let moka: moka::sync::Cache<String, Bytes> = moka::sync::Cache::new(2_000_000);
    let keys: Vec<String> = (0..LIVE).map(|i| format!("live:{i:06}")).collect();
    for k in &keys {
        moka.insert(k.clone(), Bytes::from(vec![b'v'; 64]));
    }
    moka.run_pending_tasks();
    let m = percentiles(reads(|k| moka.get(k).is_some(), &keys, |i| i >= 2_000_000));
    line("moka 0.12 sync (reference, no sweep)", m);
    println!();
    println!("p99 during sweep / p99 without: unbounded {unbounded:.2}x, lfu {lfu:.2}x");
}
