//! Resident memory per entry at 1,000,000 entries (64- and 16-byte values): the memory table
//! unbounded and under each policy, beside moka and a bare `DashMap<String, Bytes>`.
//!
//! ```sh
//! cargo bench --bench memory_footprint                  # 1,000,000 entries
//! FOOTPRINT_ENTRIES=200000 cargo bench --bench memory_footprint   # quicker
//! ```
//!
//! Each variant runs in its own child process (this binary with `--child`), which reads its
//! resident set size from `/proc/self/statm` before and after inserting the entries; the
//! difference divided by the entry count is the figure. Keys are `user:%08d` (13 bytes),
//! values are distinct `Bytes` of the given length, every entry has a one-hour TTL (moka:
//! `time_to_live`), so the expiry index is included. "payload" is key + value bytes.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use deeper_cache::Ttl;
use deeper_cache_actors::Clock;
use deeper_cache_actors::backend::MemoryTable;
use deeper_cache_actors::config::{EvictionPolicy, MemoryConfig};

const VARIANTS: &[&str] = &[
    "table",
    "table-lfu",
    "table-lru",
    "table-reject",
    "moka",
    "dashmap",
];

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn key(i: usize) -> String {
    format!("user:{i:08}")
}

fn value(len: usize, i: usize) -> Bytes {
    let mut v = vec![b'v'; len];
    v[0] = (i % 251) as u8;
    Bytes::from(v)
}

fn child(variant: &str, n: usize, len: usize) {
    let ttl = Duration::from_secs(3_600);
    let before = rss_bytes();
    let mut extra = String::new();
    match variant {
        "dashmap" => {
            let m: dashmap::DashMap<String, Bytes> = dashmap::DashMap::new();
            for i in 0..n {
                m.insert(key(i), value(len, i));
            }
            report(variant, n, len, before, &extra);
            black_box(&m);
        }
        "moka" => {
            let c: moka::sync::Cache<String, Bytes> = moka::sync::Cache::builder()
                .max_capacity(n as u64)
                .time_to_live(ttl)
                .build();
            for i in 0..n {
                c.insert(key(i), value(len, i));
            }
            c.run_pending_tasks();
            assert_eq!(c.entry_count(), n as u64);
            report(variant, n, len, before, &extra);
            black_box(&c);
        }
        table => {
            let mut config = MemoryConfig::default();
            if let Some(policy) = table.strip_prefix("table-") {
                config.max_entries = n as u64;
                config.eviction_policy = match policy {
                    "lfu" => EvictionPolicy::Lfu,
                    "lru" => EvictionPolicy::Lru,
                    _ => EvictionPolicy::Reject,
                };
            }
            let t = MemoryTable::with_config(Clock::system(), &config);
            for i in 0..n {
                t.put("ns", &key(i), value(len, i), Ttl::After(ttl))
                    .expect("put");
            }
            assert_eq!(t.held().0, n as u64);
            extra = format!(
                "policy metadata {:.1} B/entry, expiry index items {}",
                t.policy_metadata_bytes() as f64 / n as f64,
                t.expiry_index_len()
            );
            report(variant, n, len, before, &extra);
            black_box(&t);
        }
    }
}

fn report(variant: &str, n: usize, len: usize, before: u64, extra: &str) {
    let after = rss_bytes();
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    println!("RESULT\t{variant}\t{n}\t{len}\t{per:.1}\t{extra}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            args[i + 2].parse().expect("entries"),
            args[i + 3].parse().expect("value length"),
        );
        return;
    }
    let n: usize = std::env::var("FOOTPRINT_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let exe = std::env::current_exe().expect("current exe");
    println!("resident bytes per entry at {n} entries (key 13 B; one-hour TTL on every entry)");
    println!();
    println!("| variant | value bytes | RSS per entry | payload | overhead per entry | notes |");
    println!("|---|---|---|---|---|---|");
    for len in [64usize, 16] {
        for v in VARIANTS {
            let out = Command::new(&exe)
                .args(["--child", v, &n.to_string(), &len.to_string()])
                .output()
                .expect("child runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT")) else {
                println!(
                    "| {v} | {len} | failed: {} |",
                    String::from_utf8_lossy(&out.stderr)
                );
                continue;
            };
            let f: Vec<&str> = line.split('\t').collect();
            let per: f64 = f[4].parse().unwrap_or(0.0);
            let payload = 13 + len;
            println!(
                "| {v} | {len} | {per:.0} B | {payload} B | {:.0} B | {} |",
                per - payload as f64,
                f.get(5).unwrap_or(&"")
            );
        }
    }
}
