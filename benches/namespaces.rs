//! First put into a new namespace, from 1 to 100,000 namespaces (issue 17, defect 4): the
//! cost of creating a namespace must stay flat however many exist.
//!
//! ```sh
//! cargo bench --bench namespaces                    # up to 100,000 namespaces
//! cargo bench --bench namespaces -- --up-to 10000   # stop earlier
//! ```
//!
//! Namespaces are created one after another (one put each); at each checkpoint the next 200
//! first puts are timed one by one and their median and 99th percentile reported, beside the
//! cost of a put into an existing namespace measured at the same moment (the ratio is the
//! price of creation). Without `--bench` (e.g. `cargo test --benches`) it does a smoke run up
//! to 1,000 namespaces.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig};

const CHECKPOINTS: [usize; 6] = [1, 10, 100, 1_000, 10_000, 100_000];
const SAMPLES: usize = 200;

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    // `--up-to N` stops at N namespaces (an O(n) creation makes 100,000 take many minutes).
    let up_to = args
        .iter()
        .position(|a| a == "--up-to")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    let last = up_to.unwrap_or(if bench { 100_000 } else { 1_000 });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut config = CacheConfig::default();
        config.memory.cleanup_interval_ms = 3_600_000;
        config.metrics_reporter.report_interval_ms = 3_600_000;
        let cache = Cache::start(config).await.expect("start");
        let existing = cache.namespace("existing").expect("namespace");
        existing.put("k", &0).await.expect("put");
        println!("| namespaces | first put p50 | first put p99 | put into an existing namespace p50 | ratio p50 |");
        println!("|---|---|---|---|---|");
        let mut made = 0usize;
        for &at in CHECKPOINTS.iter().filter(|&&c| c <= last) {
            while made < at {
                let ns = cache.namespace(&format!("tenant-{made}")).expect("namespace");
                ns.put("k", &made).await.expect("put");
                made += 1;
            }
            let mut first = Vec::with_capacity(SAMPLES);
            let mut again = Vec::with_capacity(SAMPLES);
            for s in 0..SAMPLES {
                let ns = cache
                    .namespace(&format!("probe-{at}-{s}"))
                    .expect("namespace");
                let t = Instant::now();
                ns.put("k", &s).await.expect("put");
                first.push(t.elapsed());
                let t = Instant::now();
                existing.put("k", &s).await.expect("put");
                again.push(t.elapsed());
            }
            made += SAMPLES;
            let p50 = quantile(&mut first, 0.5);
            let p99 = quantile(&mut first, 0.99);
            let base = quantile(&mut again, 0.5);
            println!(
                "| {at} | {p50:?} | {p99:?} | {base:?} | {:.1}x |",
                p50.as_secs_f64() / base.as_secs_f64()
            );
        }
        cache.shutdown().await;
    });
}
