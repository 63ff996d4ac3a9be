//! Metrics through the `metrics` facade, checked with metrics-util's debugging recorder:
//! operation counters by operation/namespace/status, latency histograms, gauges after a report
//! tick, eviction counters, and `stats()` against the counters.
#![allow(clippy::field_reassign_with_default)]

use std::sync::OnceLock;
use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, DataPlaneMode, ManualClock};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Snapshots of the debugging recorder reset its counters, so the tests of this binary take
/// turns (each holds this lock for its whole run).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The debugging recorder is global for this test binary; each test uses its own cache name
/// and filters by the `cache` label.
fn snapshotter() -> &'static Snapshotter {
    static S: OnceLock<Snapshotter> = OnceLock::new();
    S.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let s = recorder.snapshotter();
        recorder.install().expect("first recorder of this binary");
        s
    })
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: DebugValue,
}

impl Sample {
    fn label(&self, k: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    }
}

fn samples(cache: &str) -> Vec<Sample> {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(k, _, _, value)| Sample {
            name: k.key().name().to_string(),
            labels: k
                .key()
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect(),
            value,
        })
        .filter(|s| s.label("cache") == cache)
        .collect()
}

fn counter(s: &[Sample], name: &str, labels: &[(&str, &str)]) -> u64 {
    s.iter()
        .filter(|x| x.name == name && labels.iter().all(|(k, v)| x.label(k) == *v))
        .map(|x| match x.value {
            DebugValue::Counter(c) => c,
            _ => 0,
        })
        .sum()
}

fn histogram_len(s: &[Sample], name: &str, labels: &[(&str, &str)]) -> usize {
    s.iter()
        .filter(|x| x.name == name && labels.iter().all(|(k, v)| x.label(k) == *v))
        .map(|x| match &x.value {
            DebugValue::Histogram(h) => h.len(),
            _ => 0,
        })
        .sum()
}

fn gauge(s: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.iter()
        .find(|x| x.name == name && labels.iter().all(|(k, v)| x.label(k) == *v))
        .and_then(|x| match x.value {
            DebugValue::Gauge(g) => Some(g.into_inner()),
            _ => None,
        })
}

const OPS: &str = "deeper_hub_core_cache_operations_total";
const DURATION: &str = "deeper_hub_core_cache_operation_duration_seconds";

fn config(name: &str, mode: DataPlaneMode) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.name = Some(name.into());
    c.adapter.mode = mode;
    c.memory.cleanup_interval_ms = 3_600_000;
    // The reporter publishes operation counters every interval.
    c.metrics_reporter.report_interval_ms = 10;
    c.metrics.latency_sample_every = 1;
    c
}

#[tokio::test]
async fn counters_and_histograms_per_operation_namespace_and_status() {
    let _turn = TURN.lock().await;
    snapshotter();
    for (name, mode) in [
        ("m_direct", DataPlaneMode::Direct),
        ("m_rpc", DataPlaneMode::Rpc),
    ] {
        let cache = Cache::start(config(name, mode)).await.unwrap();
        let users = cache.namespace("users").unwrap();
        users.put("a", &1).await.unwrap();
        users.put("b", &2).await.unwrap();
        assert_eq!(users.get::<i32>("a").await.unwrap(), Some(1));
        assert_eq!(users.get::<i32>("zz").await.unwrap(), None);
        assert!(users.get::<String>("a").await.is_err()); // codec error after a hit
        cache.increment("n", 1).await.unwrap();
        cache.put("text", &"x").await.unwrap();
        assert!(cache.increment("text", 1).await.is_err());
        let _: i32 = cache
            .get_or_store("g", || async { Ok::<_, std::io::Error>(5) })
            .await
            .unwrap();
        let _: i32 = cache
            .get_or_store("g", || async { Ok::<_, std::io::Error>(5) })
            .await
            .unwrap();
        users.delete("a").await.unwrap();
        users.clear().await.unwrap();

        // Latency samples are recorded at once: take them before anything drains them.
        let first = samples(name);
        let get_samples = histogram_len(
            &first,
            DURATION,
            &[("operation", "get"), ("namespace", "users")],
        );
        let put_samples = histogram_len(
            &first,
            DURATION,
            &[("operation", "put"), ("namespace", "users")],
        );
        // Counters are published by the reporter every interval: wait (bounded) for a
        // snapshot taken after a publication that saw every operation.
        let mut s = Vec::new();
        for _ in 0..500 {
            s = samples(name);
            if counter(&s, OPS, &[("operation", "clear"), ("namespace", "users")]) == 1
                && counter(&s, OPS, &[("operation", "put"), ("namespace", "default")]) == 2
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let c = |op: &str, ns: &str, status: &str| {
            counter(
                &s,
                OPS,
                &[("operation", op), ("namespace", ns), ("status", status)],
            )
        };
        assert_eq!(c("put", "users", "success"), 2, "{name}");
        assert_eq!(
            c("get", "users", "hit"),
            2,
            "{name}: the codec error still read a hit"
        );
        assert_eq!(c("get", "users", "miss"), 1);
        assert_eq!(c("increment", "default", "success"), 1);
        assert_eq!(c("increment", "default", "error"), 1);
        assert_eq!(c("get_or_store", "default", "miss"), 1);
        assert_eq!(c("get_or_store", "default", "hit"), 1);
        assert_eq!(c("delete", "users", "success"), 1);
        assert_eq!(c("clear", "users", "success"), 1);
        assert_eq!(
            c("put", "default", "success"),
            2,
            "text + the generated value"
        );
        // One latency sample per recorded operation (latency_sample_every = 1 here).
        assert_eq!(get_samples, 3);
        assert_eq!(put_samples, 2);

        // stats() matches the counters.
        let stats = cache.stats().await.unwrap();
        let u = &stats.namespaces["users"];
        assert_eq!(u.hits, c("get", "users", "hit"));
        assert_eq!(u.misses, c("get", "users", "miss"));
        assert_eq!(u.operations["put"], 2);
        assert_eq!(u.operations["get"], 3);
        assert_eq!(u.evictions.manual, 2, "delete a + clear b");
        let d = &stats.namespaces["default"];
        assert_eq!(d.errors, 1);
        assert_eq!(
            stats.total.hits,
            s.iter()
                .filter(|x| x.name == OPS && x.label("status") == "hit")
                .map(|x| match x.value {
                    DebugValue::Counter(c) => c,
                    _ => 0,
                })
                .sum::<u64>()
        );
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["namespaces"]["users"]["operations"]["put"], 2);
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn gauges_and_evictions_after_a_report_tick() {
    let _turn = TURN.lock().await;
    snapshotter();
    let clock = ManualClock::new();
    let mut c = config("m_gauges", DataPlaneMode::Direct);
    c.metrics_reporter.report_interval_ms = 10;
    let cache = Cache::start_with_clock(c, &clock).await.unwrap();
    let ns = cache.namespace("pages").unwrap();
    for i in 0..10 {
        ns.put_with_ttl(&format!("p{i}"), &"0123456789", Duration::from_secs(1))
            .await
            .unwrap();
    }
    ns.put("keep", &1).await.unwrap();
    assert!(ns.get::<String>("p0").await.unwrap().is_some());
    assert!(ns.get::<String>("nope").await.unwrap().is_none());
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.purge_expired().await.unwrap(), 10);
    ns.delete("keep").await.unwrap();
    ns.put("after", &1).await.unwrap();

    // Wait (bounded) for a report tick that saw the final state. Snapshots reset what they
    // read, so every figure is checked in one snapshot taken after a full tick.
    let labels = [("namespace", "pages")];
    let expected_bytes = ("after".len() + 1 + deeper_cache::ENTRY_OVERHEAD_BYTES) as f64;
    let evictions = |s: &[Sample], reason: &str| {
        counter(
            s,
            "deeper_hub_core_cache_evictions_total",
            &[("namespace", "pages"), ("reason", reason)],
        )
    };
    let mut ok = false;
    let mut last = String::new();
    for _ in 0..500 {
        let s = samples("m_gauges");
        let items = gauge(&s, "deeper_hub_core_cache_size_items", &labels);
        let bytes = gauge(&s, "deeper_hub_core_cache_size_bytes", &labels);
        let ratio = gauge(&s, "deeper_hub_core_cache_hit_ratio", &labels);
        let (ttl, manual) = (evictions(&s, "ttl"), evictions(&s, "manual"));
        // The lru series exists (at 0) so the label set is fixed from the start.
        let lru = s.iter().any(|x| {
            x.name == "deeper_hub_core_cache_evictions_total" && x.label("reason") == "lru"
        });
        last = format!(
            "items {items:?} bytes {bytes:?} ratio {ratio:?} ttl {ttl} manual {manual} lru {lru}"
        );
        if items == Some(1.0)
            && bytes == Some(expected_bytes)
            && ratio.is_some_and(|r| (r - 0.5).abs() < 1e-9) // 1 hit, 1 miss
            && ttl == 10
            && manual == 1
            && lru
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        ok,
        "the reporter refreshed the gauges; last snapshot: {last}"
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_switched_off() {
    let _turn = TURN.lock().await;
    snapshotter();
    let mut c = config("m_off", DataPlaneMode::Direct);
    c.metrics.enabled = false;
    let cache = Cache::start(c).await.unwrap();
    cache.put("k", &1).await.unwrap();
    cache.get::<i32>("k").await.unwrap();
    assert!(samples("m_off").iter().all(|s| s.name != OPS));
    // stats() still counts.
    assert_eq!(cache.stats().await.unwrap().total.hits, 1);
    cache.shutdown().await;
}

#[derive(Debug)]
struct TwoEntries;

#[deeper_cache::async_trait]
impl deeper_cache::Warmer for TwoEntries {
    fn name(&self) -> &str {
        "two"
    }
    fn options(&self) -> deeper_cache::WarmerOptions {
        deeper_cache::WarmerOptions::default().required()
    }
    async fn load(&self, sink: &mut deeper_cache::WarmSink) -> Result<(), deeper_cache::WarmError> {
        sink.push(deeper_cache::WarmEntry::new("a", &1)?).await?;
        sink.push(deeper_cache::WarmEntry::new("b", &2)?).await?;
        Ok(())
    }
}

#[tokio::test]
async fn warmer_runs_duration_and_entries() {
    let _turn = TURN.lock().await;
    snapshotter();
    let cache = Cache::builder(config("m_warm", DataPlaneMode::Direct))
        .warmer(TwoEntries)
        .start()
        .await
        .unwrap();
    cache.run_warmer("two").await.unwrap();
    let s = samples("m_warm");
    let runs = "deeper_hub_core_cache_warmer_runs_total";
    assert_eq!(counter(&s, runs, &[("warmer", "two"), ("result", "ok")]), 2);
    assert_eq!(counter(&s, runs, &[("result", "error")]), 0);
    assert_eq!(
        counter(
            &s,
            "deeper_hub_core_cache_warmer_entries_total",
            &[("warmer", "two")]
        ),
        4
    );
    assert_eq!(
        histogram_len(
            &s,
            "deeper_hub_core_cache_warmer_run_duration_seconds",
            &[("warmer", "two")]
        ),
        2
    );
    cache.shutdown().await;
}
