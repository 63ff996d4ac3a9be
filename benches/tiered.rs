//! Tiered backend benchmarks (issue 18), against a `redis-server` this binary starts on a free
//! loopback port (no persistence) and stops at the end. See docs/PERFORMANCE.md ("Tiered
//! backend").
//!
//! ```sh
//! cargo bench --bench tiered              # ≈1 min: all three parts
//! cargo bench --bench tiered -- --only a  # a, b and/or c (comma-separated)
//! ```
//!
//! Without `--bench` (`cargo test --benches`, CI) it smoke-runs every part with tiny counts:
//! the figures then mean nothing.
//!
//! - **(a) Hot-key read latency**, current-thread runtime, one caller, a 64-char `String`
//!   (66 B of JSON), every call a `get::<String>` through `Cache` (`direct` plane) except the
//!   last: tiered (an L1 hit: the bench checks the L1 hit count), memory backend, Redis backend,
//!   and the plain `redis` crate `GET` (one multiplexed connection, bytes, no decode). Each
//!   round times a block of calls of every subject back to back (order rotated); figures are
//!   medians over rounds, ratios the median of per-round ratios.
//! - **(b) Zipf 0.9 over 100,000 keys, 90 % reads / 10 % writes**: 3 nodes (caches) × 4 tasks
//!   on a 2-worker runtime, every task looping `get` / `put` (a fresh 64-char value) on keys
//!   drawn from the same Zipf law, every call timed; tiered against the Redis backend, fresh
//!   nodes in every round (tiered warmed up first), rounds alternated. Then the same with 1 %
//!   writes, and with 4 reading tasks and 1 writing task per node (reads never wait behind a
//!   write).
//! - **(c) Invalidation propagation**: node A (a `Cache`) writes a key node B (a
//!   `TieredBackend`, so its L1 can be peeked at) holds in L1; from A's acknowledgement until
//!   the key is gone from B's L1 (the main thread polling `l1_peek`, yielding its core between
//!   polls), over 10,000 writes.
#![allow(missing_docs, clippy::field_reassign_with_default)]

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheConfig};
use deeper_cache_actors::backend::MemoryTable;
use deeper_cache_actors::{CacheBackend, Clock, RedisBackend, TieredBackend};
use tokio::runtime::{Builder, Runtime};

/// Sizes of one run: the real one (`--bench`) or the smoke run.
struct Plan {
    smoke: bool,
    /// (a): rounds, calls per block for in-process subjects and for Redis round trips.
    a_rounds: usize,
    a_local_calls: usize,
    a_remote_calls: usize,
    /// (b): keys, rounds, warm-up and measured window per subject and round.
    b_keys: usize,
    b_rounds: usize,
    b_warmup: Duration,
    b_window: Duration,
    /// (b): the mixes to run (the issue's is `Mix::Closed(100)`: 10 % writes).
    b_mixes: Vec<Mix>,
    /// (c): writes.
    c_writes: usize,
}

const VALUE_LEN: usize = 64;
const NODES: usize = 3;
const TASKS_PER_NODE: usize = 4;
const ZIPF_S: f64 = 0.9;

fn config(url: &str, prefix: &str, name: &str, kind: AdapterKind) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.default_adapter = kind;
    c.redis.url = url.into();
    c.redis.key_prefix = prefix.into();
    c.name = Some(name.into());
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    c
}

async fn until_live(cache: &Cache) {
    let since = Instant::now();
    while !cache
        .stats()
        .await
        .expect("stats")
        .tiers
        .is_some_and(|t| t.tracking_live)
    {
        assert!(since.elapsed() < Duration::from_secs(10), "no L1 stream");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn l1_hits(cache: &Cache) -> u64 {
    cache
        .stats()
        .await
        .expect("stats")
        .tiers
        .expect("tiered")
        .l1_hits
}

fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn ns(v: f64) -> String {
    if v >= 10_000_000.0 {
        format!("{:.1} ms", v / 1e6)
    } else if v >= 10_000.0 {
        format!("{:.1} µs", v / 1_000.0)
    } else {
        format!("{v:.0} ns")
    }
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else {
        format!("{:.0} k/s", v / 1e3)
    }
}

// ---------------------------------------------------------------------------------------------
// (a) hot-key read latency
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Hot {
    Tiered,
    Memory,
    Redis,
    Plain,
}

const HOT: [Hot; 4] = [Hot::Tiered, Hot::Memory, Hot::Redis, Hot::Plain];

impl Hot {
    fn label(self) -> &'static str {
        match self {
            Hot::Tiered => "tiered, L1 hit (`Cache::get`)",
            Hot::Memory => "memory backend (`Cache::get`)",
            Hot::Redis => "redis backend (`Cache::get`)",
            Hot::Plain => "plain redis client `GET` (bytes)",
        }
    }
}

fn hot_key(url: &str, plan: &Plan) {
    let rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let value = "v".repeat(VALUE_LEN);
    let (tiered, memory, redis_cache, mut plain) = rt.block_on(async {
        let tiered = Cache::start(config(url, "bench_hot", "hot_tiered", AdapterKind::Tiered))
            .await
            .expect("tiered");
        let memory = Cache::start(config(url, "bench_hot", "hot_memory", AdapterKind::Memory))
            .await
            .expect("memory");
        let redis_cache = Cache::start(config(url, "bench_hot", "hot_redis", AdapterKind::Redis))
            .await
            .expect("redis");
        until_live(&tiered).await;
        tiered.put("hot", &value).await.expect("put");
        memory.put("hot", &value).await.expect("put");
        // Fill L1.
        for _ in 0..2 {
            assert_eq!(
                tiered.get::<String>("hot").await.unwrap().as_deref(),
                Some(&*value)
            );
        }
        let plain = redis::Client::open(url)
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        (tiered, memory, redis_cache, plain)
    });
    let mut per_call: Vec<Vec<f64>> = vec![Vec::new(); HOT.len()];
    let hits_before = rt.block_on(l1_hits(&tiered));
    let mut tiered_calls = 0u64;
    for round in 0..plan.a_rounds {
        for i in 0..HOT.len() {
            let who = HOT[(i + round) % HOT.len()];
            let calls = match who {
                Hot::Tiered | Hot::Memory => plan.a_local_calls,
                Hot::Redis | Hot::Plain => plan.a_remote_calls,
            };
            let took = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..calls {
                    match who {
                        Hot::Tiered => {
                            black_box(tiered.get::<String>("hot").await.expect("get"));
                        }
                        Hot::Memory => {
                            black_box(memory.get::<String>("hot").await.expect("get"));
                        }
                        Hot::Redis => {
                            black_box(redis_cache.get::<String>("hot").await.expect("get"));
                        }
                        Hot::Plain => {
                            let v: Option<Vec<u8>> = redis::cmd("GET")
                                .arg("bench_hot:default:hot")
                                .query_async(&mut plain)
                                .await
                                .expect("GET");
                            black_box(v);
                        }
                    }
                }
                start.elapsed()
            });
            if who == Hot::Tiered {
                tiered_calls += calls as u64;
            }
            let idx = HOT.iter().position(|h| *h == who).unwrap();
            per_call[idx].push(took.as_nanos() as f64 / calls as f64);
        }
    }
    let hits = rt.block_on(l1_hits(&tiered)) - hits_before;
    assert_eq!(hits, tiered_calls, "every tiered read was an L1 hit");
    let col = |h: Hot| HOT.iter().position(|x| *x == h).unwrap();
    let ratio = |a: Hot, b: Hot| -> Vec<f64> {
        per_call[col(a)]
            .iter()
            .zip(&per_call[col(b)])
            .map(|(x, y)| x / y)
            .collect()
    };
    println!(
        "\n## (a) Hot-key read latency: {} rounds, blocks of {} (in process) / {} (Redis) calls, \
         64-char value\n",
        plan.a_rounds, plan.a_local_calls, plan.a_remote_calls
    );
    println!("| subject | per call (median over rounds) | ÷ tiered L1 hit (median, IQR) |");
    println!("|---|---|---|");
    for h in HOT {
        let r = ratio(h, Hot::Tiered);
        println!(
            "| {} | {} | {:.2}× ({:.2}–{:.2}) |",
            h.label(),
            ns(median(&per_call[col(h)])),
            median(&r),
            quantile(&r, 0.25),
            quantile(&r, 0.75)
        );
    }
    let l1_vs_mem = ratio(Hot::Tiered, Hot::Memory);
    let plain_vs_l1 = ratio(Hot::Plain, Hot::Tiered);
    println!(
        "\ntargets: tiered L1 hit ÷ memory get = {:.2}× (≤ 1.5×: {}); plain GET ÷ tiered L1 hit = \
         {:.0}× (≥ 50×: {}); L1 hits counted {hits} of {tiered_calls} tiered reads",
        median(&l1_vs_mem),
        if median(&l1_vs_mem) <= 1.5 {
            "met"
        } else {
            "NOT met"
        },
        median(&plain_vs_l1),
        if median(&plain_vs_l1) >= 50.0 {
            "met"
        } else {
            "NOT met"
        },
    );
    rt.block_on(async {
        for c in [&tiered, &memory, &redis_cache] {
            c.shutdown().await;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// (b) Zipf 0.9, 90 % reads, 3 nodes × 4 tasks
// ---------------------------------------------------------------------------------------------

/// Draws ranks 0..n with P(k) ∝ 1/(k+1)^s (inverse CDF, binary search).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, u: f64) -> usize {
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

/// What the tasks of one (b) run do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mix {
    /// Every task writes with this probability (per mille) and reads otherwise, waiting for
    /// each call before the next (a closed loop).
    Closed(u64),
    /// Per node, `TASKS_PER_NODE` tasks that only read and one that only writes: reads no
    /// longer wait behind writes; the write share is whatever the writers reach.
    ReadersAndAWriter,
}

/// xorshift64*: a per-task generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Sample {
    reads_ns: Vec<u32>,
    writes_ns: Vec<u32>,
}

async fn zipf_task(
    node: Cache,
    zipf: Arc<Zipf>,
    keys: Arc<Vec<String>>,
    seed: u64,
    write_permille: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Sample {
    let mut rng = Rng(seed | 1);
    let mut s = Sample::default();
    let mut n = 0u64;
    let mut value = "w".repeat(VALUE_LEN);
    while !stop.load(Ordering::Relaxed) {
        let key = &keys[zipf.sample(rng.unit())];
        let write = rng.next() % 1_000 < write_permille;
        let start = Instant::now();
        if write {
            // A fresh value each time (same length).
            value.replace_range(0..1, first_char(n));
            node.put(key, &value).await.expect("put");
        } else {
            black_box(node.get::<String>(key).await.expect("get"));
        }
        let took = start.elapsed().as_nanos().min(u32::MAX as u128) as u32;
        if measuring.load(Ordering::Relaxed) {
            if write {
                s.writes_ns.push(took);
            } else {
                s.reads_ns.push(took);
            }
        }
        n += 1;
        // L1 hits never wait: without a yield now and then, a task would keep its worker from
        // the others (and from the connections' tasks) for as long as it hits.
        if n % 32 == 0 {
            tokio::task::yield_now().await;
        }
    }
    s
}

/// The first character of the `n`th written value (values change, their length does not).
fn first_char(n: u64) -> &'static str {
    ["a", "b", "c", "d", "e", "f", "g", "h"][(n % 8) as usize]
}

struct ZipfResult {
    elapsed: Duration,
    reads: Vec<u32>,
    writes: Vec<u32>,
    l1_hit_ratio: Option<f64>,
    /// Reads that went to Redis (all of them on the Redis backend).
    l1_misses: u64,
}

#[allow(clippy::too_many_arguments)]
fn zipf_round(
    rt: &Runtime,
    url: &str,
    kind: AdapterKind,
    mix: Mix,
    round: usize,
    zipf: &Arc<Zipf>,
    keys: &Arc<Vec<String>>,
    plan: &Plan,
) -> ZipfResult {
    rt.block_on(async {
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let mix_tag = match mix {
                Mix::Closed(p) => format!("w{p}"),
                Mix::ReadersAndAWriter => "rw".to_string(),
            };
            let name = format!("zipf_{kind:?}_{mix_tag}_{round}_{i}");
            let node = Cache::start(config(url, "bench_zipf", &name, kind))
                .await
                .expect("node");
            if kind == AdapterKind::Tiered {
                until_live(&node).await;
            }
            nodes.push(node);
        }
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let roles: Vec<u64> = match mix {
                Mix::Closed(p) => vec![p; TASKS_PER_NODE],
                Mix::ReadersAndAWriter => {
                    let mut r = vec![0; TASKS_PER_NODE];
                    r.push(1_000);
                    r
                }
            };
            for (t, write_permille) in roles.into_iter().enumerate() {
                tasks.push(tokio::spawn(zipf_task(
                    node.clone(),
                    zipf.clone(),
                    keys.clone(),
                    0x9E37_79B9_7F4A_7C15 ^ ((round * 100 + i * 10 + t) as u64 + 1),
                    write_permille,
                    measuring.clone(),
                    stop.clone(),
                )));
            }
        }
        let warmup = if kind == AdapterKind::Tiered {
            plan.b_warmup
        } else {
            plan.b_warmup / 4
        };
        tokio::time::sleep(warmup).await;
        let mut before = Vec::new();
        for n in &nodes {
            before.push(n.stats().await.expect("stats").tiers);
        }
        measuring.store(true, Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(plan.b_window).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let mut after = Vec::new();
        for n in &nodes {
            after.push(n.stats().await.expect("stats").tiers);
        }
        stop.store(true, Ordering::Relaxed);
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for t in tasks {
            let s = t.await.expect("task");
            reads.extend(s.reads_ns);
            writes.extend(s.writes_ns);
        }
        for n in &nodes {
            n.shutdown().await;
        }
        let (mut hits, mut misses) = (0, reads.len() as u64);
        if kind == AdapterKind::Tiered {
            misses = 0;
            for (b, a) in before.iter().zip(&after) {
                let (b, a) = (b.unwrap(), a.unwrap());
                hits += a.l1_hits - b.l1_hits;
                misses += a.l1_misses - b.l1_misses;
            }
        }
        ZipfResult {
            elapsed,
            reads,
            writes,
            l1_hit_ratio: (kind == AdapterKind::Tiered)
                .then(|| hits as f64 / (hits + misses).max(1) as f64),
            l1_misses: misses,
        }
    })
}

fn zipf(url: &str, plan: &Plan) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let keys: Arc<Vec<String>> = Arc::new((0..plan.b_keys).map(|i| format!("z{i}")).collect());
    let zipf = Arc::new(Zipf::new(plan.b_keys, ZIPF_S));
    // Every key exists in L2 before the first round.
    rt.block_on(async {
        let mut conn = redis::Client::open(url)
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let json = serde_json::to_vec(&"v".repeat(VALUE_LEN)).expect("json");
        for chunk in keys.chunks(1_000) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("SET")
                    .arg(format!("bench_zipf:default:{k}"))
                    .arg(&json)
                    .arg("PX")
                    .arg(3_600_000)
                    .ignore();
            }
            let _: () = pipe.query_async(&mut conn).await.expect("populate");
        }
    });
    for &mix in &plan.b_mixes {
        zipf_mix(&rt, url, &zipf, &keys, mix, plan);
    }
}

fn zipf_mix(
    rt: &Runtime,
    url: &str,
    zipf: &Arc<Zipf>,
    keys: &Arc<Vec<String>>,
    mix: Mix,
    plan: &Plan,
) {
    // Per subject: one entry per round.
    let subjects = [AdapterKind::Tiered, AdapterKind::Redis];
    let mut results: Vec<Vec<ZipfResult>> = vec![Vec::new(), Vec::new()];
    for round in 0..plan.b_rounds {
        for i in 0..subjects.len() {
            let s = (i + round) % subjects.len();
            results[s].push(zipf_round(
                rt,
                url,
                subjects[s],
                mix,
                round,
                zipf,
                keys,
                plan,
            ));
        }
    }
    let shape = match mix {
        Mix::Closed(p) => format!(
            "{:.0} % reads / {:.0} % writes, {NODES} nodes × {TASKS_PER_NODE} tasks",
            100.0 - p as f64 / 10.0,
            p as f64 / 10.0
        ),
        Mix::ReadersAndAWriter => {
            format!("{NODES} nodes × ({TASKS_PER_NODE} reading tasks + 1 writing task)")
        }
    };
    println!(
        "\n## (b) Zipf {ZIPF_S} over {} keys, {shape} (2 workers): {} rounds of {:?} (tiered \
         warmed up {:?}, redis {:?})\n",
        plan.b_keys,
        plan.b_rounds,
        plan.b_window,
        plan.b_warmup,
        plan.b_warmup / 4
    );
    println!(
        "| backend | ops/s | reads/s | writes | read p50 | read p99 | write p50 | write p99 | L1 hit ratio | ops that waited on Redis |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut reads_per_s: Vec<Vec<f64>> = vec![Vec::new(), Vec::new()];
    for (s, kind) in subjects.iter().enumerate() {
        let mut ops = Vec::new();
        let (mut all_reads, mut all_writes, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut remote, mut write_share) = (Vec::new(), Vec::new());
        for r in &results[s] {
            let secs = r.elapsed.as_secs_f64();
            ops.push((r.reads.len() + r.writes.len()) as f64 / secs);
            reads_per_s[s].push(r.reads.len() as f64 / secs);
            all_reads.extend(r.reads.iter().map(|v| *v as f64));
            all_writes.extend(r.writes.iter().map(|v| *v as f64));
            if let Some(h) = r.l1_hit_ratio {
                ratios.push(h);
            }
            write_share
                .push(r.writes.len() as f64 / (r.reads.len() + r.writes.len()).max(1) as f64);
            remote.push(
                (r.writes.len() as u64 + r.l1_misses) as f64
                    / (r.reads.len() + r.writes.len()).max(1) as f64,
            );
        }
        println!(
            "| {} | {} | {} | {:.1} % | {} | {} | {} | {} | {} | {:.0} % |",
            if *kind == AdapterKind::Tiered {
                "tiered"
            } else {
                "redis"
            },
            rate(median(&ops)),
            rate(median(&reads_per_s[s])),
            100.0 * median(&write_share),
            ns(quantile(&all_reads, 0.5)),
            ns(quantile(&all_reads, 0.99)),
            ns(quantile(&all_writes, 0.5)),
            ns(quantile(&all_writes, 0.99)),
            if ratios.is_empty() {
                "–".to_string()
            } else {
                format!("{:.1} %", 100.0 * median(&ratios))
            },
            100.0 * median(&remote)
        );
    }
    let per_round: Vec<f64> = reads_per_s[0]
        .iter()
        .zip(&reads_per_s[1])
        .map(|(t, r)| t / r)
        .collect();
    println!(
        "\ntarget: tiered reads/s ÷ redis reads/s = {:.1}× (per round {:?}; ≥ 10×: {})",
        median(&per_round),
        per_round
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>(),
        if median(&per_round) >= 10.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

// ---------------------------------------------------------------------------------------------
// (c) invalidation propagation
// ---------------------------------------------------------------------------------------------

fn propagation(url: &str, plan: &Plan) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let prefix = "bench_prop";
    let (a, b) = rt.block_on(async {
        let a = Cache::start(config(url, prefix, "prop_a", AdapterKind::Tiered))
            .await
            .expect("node A");
        let c = config(url, prefix, "prop_b", AdapterKind::Tiered);
        let table = Arc::new(MemoryTable::with_config(
            Clock::system(),
            &c.tiered.l1_memory(&c.memory),
        ));
        let l2 = RedisBackend::new(&c.redis, c.memory.max_value_bytes).expect("l2");
        let b = TieredBackend::new("prop_b", table, l2, &c.tiered).expect("node B");
        for k in 0..64 {
            a.put(&format!("p{k}"), &0).await.expect("put");
        }
        let since = Instant::now();
        while !b.is_tracking() {
            assert!(since.elapsed() < Duration::from_secs(10), "no L1 stream");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (a, b)
    });
    let mut gone_after = Vec::with_capacity(plan.c_writes);
    let mut before_ack = 0usize;
    for i in 0..plan.c_writes {
        let key = format!("p{}", i % 64);
        // B holds the key in L1.
        rt.block_on(async {
            for _ in 0..1_000 {
                b.get("default", &key).await.expect("get");
                if b.l1_peek("default", &key).is_some() {
                    return;
                }
            }
            panic!("B never held {key}");
        });
        rt.block_on(a.put(&key, &i)).expect("put");
        let acked = Instant::now();
        if b.l1_peek("default", &key).is_none() {
            before_ack += 1;
            gone_after.push(0.0);
            continue;
        }
        loop {
            if b.l1_peek("default", &key).is_none() {
                gone_after.push(acked.elapsed().as_nanos() as f64);
                break;
            }
            assert!(
                acked.elapsed() < Duration::from_secs(10),
                "never invalidated"
            );
            // Let the runtime's workers (which handle the push) have the core if they need it.
            std::thread::yield_now();
        }
    }
    println!(
        "\n## (c) Invalidation propagation: write acknowledged on A → gone from B's L1, {} writes \
         (B's L1 polled by the main thread)\n",
        plan.c_writes
    );
    println!("| p50 | p90 | p99 | p99.9 | max | gone already at the ack |");
    println!("|---|---|---|---|---|---|");
    let max = gone_after.iter().copied().fold(0.0, f64::max);
    println!(
        "| {} | {} | {} | {} | {} | {} of {} |",
        ns(quantile(&gone_after, 0.5)),
        ns(quantile(&gone_after, 0.9)),
        ns(quantile(&gone_after, 0.99)),
        ns(quantile(&gone_after, 0.999)),
        ns(max),
        before_ack,
        plan.c_writes
    );
    rt.block_on(async {
        b.stop();
        a.shutdown().await;
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_else(|| vec!["a".into(), "b".into(), "c".into()]);
    let plan = if bench {
        Plan {
            smoke: false,
            a_rounds: 21,
            a_local_calls: 20_000,
            a_remote_calls: 500,
            b_keys: 100_000,
            b_rounds: 3,
            b_warmup: Duration::from_secs(2),
            b_window: Duration::from_secs(3),
            b_mixes: vec![Mix::Closed(100), Mix::Closed(10), Mix::ReadersAndAWriter],
            c_writes: 10_000,
        }
    } else {
        Plan {
            smoke: true,
            a_rounds: 2,
            a_local_calls: 100,
            a_remote_calls: 10,
            b_keys: 1_000,
            b_rounds: 1,
            b_warmup: Duration::from_millis(40),
            b_window: Duration::from_millis(50),
            b_mixes: vec![Mix::Closed(100), Mix::ReadersAndAWriter],
            c_writes: 20,
        }
    };
    let server = redis_server::RedisServer::start();
    let url = server.url();
    println!(
        "# tiered: {} (redis-server on 127.0.0.1:{})",
        if plan.smoke {
            "smoke run (no --bench: tiny counts, figures meaningless)"
        } else {
            "bench run"
        },
        server.port()
    );
    let started = Instant::now();
    if only.iter().any(|o| o == "a") {
        hot_key(&url, &plan);
    }
    if only.iter().any(|o| o == "b") {
        zipf(&url, &plan);
    }
    if only.iter().any(|o| o == "c") {
        propagation(&url, &plan);
    }
    println!("\n(ran {:?})", started.elapsed());
}
