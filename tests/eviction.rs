//! Bounded memory: limits, eviction policies, the eviction listener and the expiry index.
//!
//! Most tests drive the table (`MemoryTable`) directly, through the same synchronous calls
//! the memory backend makes, so they can run hundreds of thousands of operations quickly in
//! debug builds; a few go through the `Cache` facade to check the configuration path. Time
//! comes from a `ManualClock`; nothing sleeps and nothing asserts on timing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use deeper_cache::{Cache, CacheConfig, CacheError, ManualClock, Ttl};
use deeper_cache_actors::backend::{Eviction, EvictionReason, MemoryTable};
use deeper_cache_actors::config::{EvictionPolicy, MemoryConfig};

const OVERHEAD: u64 = deeper_cache::ENTRY_OVERHEAD_BYTES as u64;

fn table(
    clock: &ManualClock,
    max_entries: u64,
    max_bytes: u64,
    policy: EvictionPolicy,
) -> MemoryTable {
    MemoryTable::with_config(
        clock.clock(),
        &MemoryConfig {
            max_entries,
            max_bytes,
            eviction_policy: policy,
            ..MemoryConfig::default()
        },
    )
}

fn val(n: usize) -> Bytes {
    Bytes::from(vec![b'x'; n])
}

fn put(t: &MemoryTable, key: &str) {
    t.put("ns", key, val(8), Ttl::Never).unwrap();
}

fn has(t: &MemoryTable, key: &str) -> bool {
    t.get("ns", key).unwrap().is_some()
}

/// Records every eviction the listener is told of.
fn recorder(t: &MemoryTable) -> Arc<Mutex<Vec<Eviction>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    t.set_eviction_listener(Some(Arc::new(move |e: &Eviction| {
        sink.lock().unwrap().push(e.clone());
    })));
    seen
}

/// Tiny deterministic generator (no rand dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn bound_under_concurrent_writers(policy: EvictionPolicy) {
    const MAX_ENTRIES: u64 = 500;
    const MAX_BYTES: u64 = 60_000;
    const WRITERS: u64 = 8;
    const MAX_VALUE: u64 = 300;
    let clock = ManualClock::new();
    let t = Arc::new(table(&clock, MAX_ENTRIES, MAX_BYTES, policy));
    // The documented slack: entries none; bytes one in-flight growing overwrite per writer
    // (under lfu/lru), each at most a value plus key plus overhead. None under reject.
    let byte_slack = match policy {
        EvictionPolicy::Reject => 0,
        _ => WRITERS * (MAX_VALUE + 16 + OVERHEAD),
    };
    let done = Arc::new(AtomicBool::new(false));
    let observations = Arc::new(AtomicU64::new(0));
    let observer = {
        let (t, done, observations) = (t.clone(), done.clone(), observations.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let (entries, bytes) = t.held();
                assert!(entries <= MAX_ENTRIES, "{entries} entries > {MAX_ENTRIES}");
                assert!(
                    bytes <= MAX_BYTES + byte_slack,
                    "{bytes} bytes > {MAX_BYTES} + {byte_slack}"
                );
                // One namespace: its usage is a consistent view of the same bound.
                let u = t.usage();
                assert!(u.entries <= MAX_ENTRIES, "usage: {} entries", u.entries);
                assert!(
                    u.bytes <= MAX_BYTES + byte_slack,
                    "usage: {} bytes",
                    u.bytes
                );
                observations.fetch_add(1, Ordering::Relaxed);
                std::thread::yield_now();
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x1234_5678 + w);
                for _ in 0..20_000 {
                    let k = format!("k{}", rng.next() % 2_000);
                    let len = (rng.next() % MAX_VALUE) as usize + 1;
                    match t.put("ns", &k, val(len), Ttl::Never) {
                        Ok(()) | Err(CacheError::CapacityExceeded { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if rng.next() % 8 == 0 {
                        let _ = t.get("ns", &k);
                    }
                    if rng.next() % 64 == 0 {
                        t.delete("ns", &k);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    observer.join().unwrap();
    assert!(observations.load(Ordering::Relaxed) > 0);
    // At rest, no slack at all, and the exact counters agree with the maps.
    let (entries, bytes) = t.held();
    let u = t.usage();
    assert!(
        entries <= MAX_ENTRIES && bytes <= MAX_BYTES,
        "{entries} {bytes}"
    );
    assert_eq!((u.entries, u.bytes), (entries, bytes));
}

#[test]
fn the_bound_holds_under_8_concurrent_writers_lfu() {
    bound_under_concurrent_writers(EvictionPolicy::Lfu);
}

#[test]
fn the_bound_holds_under_8_concurrent_writers_lru() {
    bound_under_concurrent_writers(EvictionPolicy::Lru);
}

#[test]
fn the_bound_holds_under_8_concurrent_writers_reject() {
    bound_under_concurrent_writers(EvictionPolicy::Reject);
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let clock = ManualClock::new();
    let t = table(&clock, 3, 0, EvictionPolicy::Lru);
    let seen = recorder(&t);
    for k in ["a", "b", "c"] {
        put(&t, k);
    }
    assert!(has(&t, "a")); // recency now: a, c, b
    put(&t, "d"); // evicts b
    assert!(!has(&t, "b"));
    assert!(has(&t, "c")); // recency: c, d, a
    put(&t, "e"); // evicts a
    assert!(!has(&t, "a"));
    put(&t, "c"); // an overwrite is a use: recency c, e, d
    put(&t, "f"); // evicts d
    for (k, present) in [("c", true), ("d", false), ("e", true), ("f", true)] {
        assert_eq!(has(&t, k), present, "{k}");
    }
    let evicted: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.key.to_string())
        .collect();
    assert_eq!(evicted, ["b", "a", "d"]);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|e| e.reason == EvictionReason::Lru)
    );
    assert_eq!(t.usage().namespaces[0].evicted_lru, 3);
}

/// A hot set read often, then a one-time scan ten times the capacity; returns how many hot
/// keys survive the scan.
fn hot_set_after_scan(policy: EvictionPolicy) -> usize {
    let clock = ManualClock::new();
    let t = table(&clock, 1_000, 0, policy);
    let hot: Vec<String> = (0..500).map(|i| format!("hot{i}")).collect();
    // Read-through access: a miss stores the key.
    let access = |k: &str| {
        if t.get("ns", k).unwrap().is_none() {
            t.put("ns", k, val(8), Ttl::Never).unwrap();
        }
    };
    for _ in 0..5 {
        for k in &hot {
            access(k);
        }
    }
    for i in 0..10_000 {
        access(&format!("scan{i}"));
        // The hot set stays in use while the scan goes by, a little.
        if i % 10 == 0 {
            access(&hot[(i / 10) % hot.len()]);
        }
    }
    hot.iter().filter(|k| has(&t, k)).count()
}

#[test]
fn lfu_keeps_the_hot_set_under_a_one_time_scan() {
    let lfu = hot_set_after_scan(EvictionPolicy::Lfu);
    let lru = hot_set_after_scan(EvictionPolicy::Lru);
    assert!(lfu >= 490, "lfu kept {lfu} of 500 hot keys");
    assert!(lru < lfu, "lru kept {lru}, lfu {lfu}");
}

/// Steady-state hit ratio of a read-through replay of a pure-recency workload: every key is
/// read twice, the second time 600 requests (about 600 distinct keys) later, and never again.
/// LRU with 1,000 entries hits every second read. A frequency policy with a small window hits
/// none (a new key is never more frequent than the dead, once-reused keys it would replace),
/// and its hit rate stays flat until the window passes ~60 %: the climber must cross that
/// plateau. Counted over the last third of 300,000 requests.
fn recency_workload_hit_ratio(policy: EvictionPolicy) -> f64 {
    let clock = ManualClock::new();
    let t = table(&clock, 1_000, 0, policy);
    let (mut hits, mut requests) = (0u32, 0u32);
    let mut access = |k: u32, counted: bool| {
        let key = format!("k{k}");
        let hit = t.get("ns", &key).unwrap().is_some();
        if !hit {
            t.put("ns", &key, val(8), Ttl::Never).unwrap();
        }
        if counted {
            requests += 1;
            hits += u32::from(hit);
        }
    };
    for i in 0..150_000u32 {
        let counted = i >= 100_000;
        access(i, counted);
        if i >= 300 {
            access(i - 300, counted);
        }
    }
    f64::from(hits) / f64::from(requests)
}

#[test]
fn lfu_crosses_a_plateau_to_serve_a_recency_workload() {
    let lfu = recency_workload_hit_ratio(EvictionPolicy::Lfu);
    let lru = recency_workload_hit_ratio(EvictionPolicy::Lru);
    assert!(lru > 0.49, "lru hit ratio {lru:.3}");
    assert!(
        lfu >= 0.9 * lru,
        "lfu hit ratio {lfu:.3} against lru {lru:.3}: the window did not grow"
    );
}

#[test]
fn reject_returns_capacity_exceeded_and_keeps_existing_entries() {
    let clock = ManualClock::new();
    let t = table(&clock, 3, 0, EvictionPolicy::Reject);
    let seen = recorder(&t);
    for k in ["a", "b", "c"] {
        put(&t, k);
    }
    let err = t.put("ns", "d", val(8), Ttl::Never).unwrap_err();
    assert_eq!(
        err,
        CacheError::CapacityExceeded {
            limit: "memory.max_entries",
            max: 3,
            needed: 4
        }
    );
    assert!(matches!(
        t.increment("ns", "counter", 1, Ttl::Never),
        Err(CacheError::CapacityExceeded { .. })
    ));
    for k in ["a", "b", "c"] {
        assert!(has(&t, k), "{k} kept");
    }
    assert!(!has(&t, "d"));
    // Overwrites of existing keys still work; a delete makes room.
    t.put("ns", "a", val(20), Ttl::Never).unwrap();
    assert!(t.delete("ns", "b"));
    put(&t, "d");
    assert!(seen.lock().unwrap().is_empty(), "reject evicts nothing");
    let ns = &t.usage().namespaces[0];
    assert_eq!((ns.entries, ns.evicted_capacity), (3, 2));
    assert_eq!((ns.evicted_lru, ns.evicted_lfu), (0, 0));
}

#[test]
fn reject_refuses_growth_past_max_bytes_and_keeps_the_old_value() {
    let clock = ManualClock::new();
    let max = 16 * OVERHEAD; // the smallest byte limit the config accepts
    let t = table(&clock, 0, max, EvictionPolicy::Reject);
    let room = (max - 2 * OVERHEAD - 2) as usize; // two one-letter keys
    t.put("ns", "a", val(room / 2), Ttl::Never).unwrap();
    t.put("ns", "b", val(room - room / 2), Ttl::Never).unwrap();
    assert_eq!(t.held().1, max);
    let err = t.put("ns", "a", val(room / 2 + 1), Ttl::Never).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::CapacityExceeded {
                limit: "memory.max_bytes",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(t.get("ns", "a").unwrap().unwrap().len(), room / 2);
    assert_eq!(t.held().1, max);
}

#[test]
fn a_value_larger_than_max_bytes_is_refused_under_every_policy() {
    for policy in [
        EvictionPolicy::Lfu,
        EvictionPolicy::Lru,
        EvictionPolicy::Reject,
    ] {
        let clock = ManualClock::new();
        let t = table(&clock, 0, 2_000, policy);
        put(&t, "small");
        let err = t.put("ns", "big", val(2_000), Ttl::Never).unwrap_err();
        assert_eq!(
            err,
            CacheError::CapacityExceeded {
                limit: "memory.max_bytes",
                max: 2_000,
                needed: 2_000 + 3 + OVERHEAD
            },
            "{policy:?}"
        );
        assert!(has(&t, "small"), "{policy:?}: nothing was evicted for it");
    }
}

#[test]
fn byte_limit_evicts_until_the_new_entry_fits() {
    let clock = ManualClock::new();
    let t = table(&clock, 0, 10_000, EvictionPolicy::Lfu);
    for i in 0..100 {
        t.put("ns", &format!("k{i:02}"), val(100), Ttl::Never)
            .unwrap();
        assert!(t.held().1 <= 10_000);
    }
    let (entries, bytes) = t.held();
    assert_eq!(entries, 10_000 / (3 + 100 + OVERHEAD));
    assert!(bytes <= 10_000);
    // A growing overwrite evicts others right after it.
    t.put("ns", "k99", val(3_000), Ttl::Never).unwrap();
    assert!(t.held().1 <= 10_000);
    assert!(has(&t, "k99"));
}

#[tokio::test]
async fn eviction_and_expiry_counters_match_what_happened() {
    let clock = ManualClock::new();
    let t = table(&clock, 100, 0, EvictionPolicy::Lfu);
    let seen = recorder(&t);
    for i in 0..150 {
        put(&t, &format!("k{i}"));
    }
    let evicted_by_policy = seen.lock().unwrap().len();
    assert_eq!(evicted_by_policy, 50);
    // Deletes are manual and not told to the listener; they make room for 20.
    let present: Vec<String> = (0..150)
        .map(|i| format!("k{i}"))
        .filter(|k| has(&t, k))
        .take(20)
        .collect();
    for k in &present {
        assert!(t.delete("ns", k));
    }
    // Ten entries with a TTL, swept after they expire; one more expires and is overwritten.
    for i in 0..10 {
        t.put(
            "ns",
            &format!("ttl{i}"),
            val(8),
            Ttl::After(Duration::from_secs(1)),
        )
        .unwrap();
    }
    t.put("ns", "over", val(8), Ttl::After(Duration::from_secs(1)))
        .unwrap();
    clock.advance(Duration::from_secs(2));
    t.put("ns", "over", val(8), Ttl::Never).unwrap();
    assert_eq!(t.sweep_expired(1_000, |_| {}).await, 10);
    let u = t.usage();
    let ns = &u.namespaces[0];
    let events = seen.lock().unwrap().clone();
    let count = |r: EvictionReason| events.iter().filter(|e| e.reason == r).count() as u64;
    assert_eq!(ns.evicted_lfu, count(EvictionReason::Lfu));
    assert_eq!(ns.evicted_ttl, count(EvictionReason::Ttl));
    assert_eq!(ns.evicted_ttl, 11);
    assert_eq!(ns.evicted_manual, 20);
    assert_eq!((ns.evicted_lru, ns.evicted_capacity), (0, 0));
    assert_eq!(
        ns.evicted_lfu, 50,
        "the TTL entries fitted in the room the deletes made"
    );
    assert_eq!(ns.entries, 100 - 20 + 11 - 10);
}

#[test]
fn the_listener_sees_each_evicted_key_once() {
    for policy in [EvictionPolicy::Lfu, EvictionPolicy::Lru] {
        let clock = ManualClock::new();
        let t = table(&clock, 100, 0, policy);
        let seen = recorder(&t);
        let mut rng = Rng(42);
        let mut written = std::collections::HashSet::new();
        for _ in 0..5_000 {
            let k = format!("k{}", rng.next() % 1_000);
            if t.get("ns", &k).unwrap().is_none() {
                put(&t, &k);
            }
            written.insert(k);
        }
        let events = seen.lock().unwrap().clone();
        // A key can be evicted, come back and be evicted again: each eviction of an entry is
        // reported once, so reports of a key = its evictions, and no key is reported while
        // present... check the totals against the counters and the table.
        let mut per_key: HashMap<String, u64> = HashMap::new();
        for e in &events {
            *per_key.entry(e.key.to_string()).or_default() += 1;
        }
        let ns = &t.usage().namespaces[0];
        let counted = ns.evicted_lfu + ns.evicted_lru;
        assert_eq!(events.len() as u64, counted, "{policy:?}");
        // Everything written is either present or was evicted at least once.
        for k in &written {
            assert!(
                has(&t, k) || per_key.contains_key(k),
                "{policy:?}: {k} vanished"
            );
        }
        assert_eq!(ns.entries, 100);
    }
}

#[test]
fn the_listener_sees_each_key_of_a_one_pass_workload_exactly_once() {
    let clock = ManualClock::new();
    let t = table(&clock, 100, 0, EvictionPolicy::Lfu);
    let seen = recorder(&t);
    for i in 0..1_000 {
        put(&t, &format!("k{i}"));
    }
    let events = seen.lock().unwrap().clone();
    let mut per_key: HashMap<String, u64> = HashMap::new();
    for e in &events {
        assert_eq!(&*e.namespace, "ns");
        *per_key.entry(e.key.to_string()).or_default() += 1;
    }
    assert_eq!(events.len(), 900);
    assert!(per_key.values().all(|&n| n == 1), "a key reported twice");
    for (k, _) in per_key {
        assert!(!has(&t, &k), "{k} reported evicted but present");
    }
}

#[tokio::test]
async fn a_sweep_of_100k_expired_among_1m_live_removes_exactly_the_expired() {
    const LIVE: usize = 1_000_000;
    const EXPIRING: usize = 100_000;
    let clock = ManualClock::new();
    let t = MemoryTable::new(clock.clock(), 1024);
    let v = val(4);
    // Live entries: half never expire, half expire in an hour (indexed, but not yet due).
    for i in 0..LIVE {
        let ttl = if i % 2 == 0 {
            Ttl::Never
        } else {
            Ttl::After(Duration::from_secs(3_600))
        };
        t.put("ns", &format!("live{i}"), v.clone(), ttl).unwrap();
    }
    for i in 0..EXPIRING {
        t.put(
            "ns",
            &format!("exp{i}"),
            v.clone(),
            Ttl::After(Duration::from_millis(1 + (i % 5_000) as u64)),
        )
        .unwrap();
    }
    assert_eq!(t.expiry_index_len(), LIVE / 2 + EXPIRING);
    clock.advance(Duration::from_secs(6));
    // Expired entries are misses before any sweep.
    assert!(t.get("ns", "exp7").unwrap().is_none());
    let mut batches = 0;
    let removed = t.sweep_expired(10_000, |_| batches += 1).await;
    assert_eq!(removed, EXPIRING as u64);
    assert_eq!(
        batches,
        EXPIRING / 10_000,
        "only the due items were visited"
    );
    let u = t.usage();
    assert_eq!(u.entries, LIVE as u64);
    assert_eq!(u.namespaces[0].evicted_ttl, EXPIRING as u64);
    assert_eq!(t.expiry_index_len(), LIVE / 2);
    for i in (0..EXPIRING).step_by(997) {
        assert!(t.get("ns", &format!("exp{i}")).unwrap().is_none());
    }
    for i in (0..LIVE).step_by(9_973) {
        assert!(t.get("ns", &format!("live{i}")).unwrap().is_some());
    }
    assert_eq!(t.sweep_expired(10_000, |_| {}).await, 0);
}

#[tokio::test]
async fn a_rewrite_with_a_new_ttl_is_not_removed_by_its_old_index_item() {
    let clock = ManualClock::new();
    let t = MemoryTable::new(clock.clock(), 1024);
    let s = Duration::from_secs;
    t.put("ns", "later", val(1), Ttl::After(s(1))).unwrap();
    t.put("ns", "later", val(1), Ttl::After(s(10))).unwrap();
    t.put("ns", "sooner", val(1), Ttl::After(s(10))).unwrap();
    t.put("ns", "sooner", val(1), Ttl::After(s(1))).unwrap();
    t.put("ns", "never", val(1), Ttl::After(s(1))).unwrap();
    t.put("ns", "never", val(1), Ttl::Never).unwrap();
    // One item per entry with a TTL.
    assert_eq!(t.expiry_index_len(), 2);
    clock.advance(s(2));
    assert_eq!(t.sweep_expired(100, |_| {}).await, 1);
    assert!(t.get("ns", "later").unwrap().is_some());
    assert!(t.get("ns", "never").unwrap().is_some());
    assert!(t.get("ns", "sooner").unwrap().is_none());
    // The item of "later" moved to its new bucket.
    assert_eq!(t.expiry_index_len(), 1);
    clock.advance(s(9));
    assert_eq!(t.sweep_expired(100, |_| {}).await, 1);
    assert_eq!(t.usage().entries, 1);
    assert_eq!(t.expiry_index_len(), 0);
}

#[tokio::test]
async fn deletes_and_evictions_take_their_expiry_index_items_with_them() {
    let clock = ManualClock::new();
    let t = table(&clock, 100, 0, EvictionPolicy::Lfu);
    for i in 0..1_000 {
        t.put(
            "ns",
            &format!("k{i}"),
            val(1),
            Ttl::After(Duration::from_secs(3_600)),
        )
        .unwrap();
    }
    assert_eq!(
        t.expiry_index_len(),
        100,
        "evicted entries left no index items"
    );
    let keys: Vec<String> = (0..1_000)
        .map(|i| format!("k{i}"))
        .filter(|k| has(&t, k))
        .collect();
    for k in &keys[..10] {
        t.delete("ns", k);
    }
    assert_eq!(t.expiry_index_len(), 90);
}

#[tokio::test]
async fn limits_from_the_configuration_bound_a_cache() {
    let clock = ManualClock::new();
    let mut config = CacheConfig::default();
    config.memory.cleanup_interval_ms = 3_600_000;
    config.metrics_reporter.report_interval_ms = 3_600_000;
    config.memory.max_entries = 10;
    config.memory.eviction_policy = EvictionPolicy::Reject;
    let cache = Cache::start_with_clock(config.clone(), &clock)
        .await
        .unwrap();
    let other = cache.namespace("other").unwrap();
    for i in 0..5 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
        other.put(&format!("k{i}"), &i).await.unwrap();
    }
    // The bound is per cache: all namespaces together.
    let err = other.put("k5", &5).await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::CapacityExceeded {
                limit: "memory.max_entries",
                max: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(cache.usage().await.unwrap().entries, 10);
    cache.shutdown().await;

    config.memory.eviction_policy = EvictionPolicy::Lfu;
    let cache = Cache::start_with_clock(config.clone(), &clock)
        .await
        .unwrap();
    for i in 0..50 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
    }
    let usage = cache.usage().await.unwrap();
    assert_eq!(usage.entries, 10);
    assert_eq!(usage.namespaces[0].evicted_lfu, 40);
    cache.shutdown().await;

    config.memory.max_bytes = 100;
    let err = Cache::start_with_clock(config, &clock).await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Config { key, .. } if key == "memory.max_bytes"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_application_registers_an_eviction_listener_on_the_service() {
    use deeper_cache_actors::{CacheService, codec, ops};
    let clock = ManualClock::new();
    let mut config = CacheConfig::default();
    config.memory.cleanup_interval_ms = 3_600_000;
    config.metrics_reporter.report_interval_ms = 3_600_000;
    config.memory.max_entries = 10;
    config.memory.eviction_policy = EvictionPolicy::Lru;
    let service = CacheService::start(config, clock.clock()).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let listener: deeper_cache_actors::backend::EvictionListener =
        Arc::new(move |e: &Eviction| sink.lock().unwrap().push(e.clone()));
    assert!(service.set_eviction_listener(Some(listener)));
    let ns = service.namespace("users");
    for i in 0..12 {
        let put = ops::Put {
            value: codec::encode(&i).unwrap(),
            ttl: Ttl::Never,
        };
        service.run(&ns, &format!("u{i}"), put).await.unwrap();
    }
    let evicted: Vec<(String, String, EvictionReason)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.namespace.to_string(), e.key.to_string(), e.reason))
        .collect();
    assert_eq!(
        evicted,
        [
            ("users".into(), "u0".into(), EvictionReason::Lru),
            ("users".into(), "u1".into(), EvictionReason::Lru)
        ]
    );
    // Expiry is told too.
    let put = ops::Put {
        value: codec::encode(&1).unwrap(),
        ttl: Ttl::After(Duration::from_secs(1)),
    };
    service.run(&ns, "short", put).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(service.purge_expired().await.unwrap(), 1);
    assert_eq!(
        seen.lock().unwrap().last().unwrap().reason,
        EvictionReason::Ttl
    );
    assert!(service.set_eviction_listener(None));
    service.shutdown().await;
}
