//! Logs: the MetricsReporter's INFO stats line and WARN lines (miss storm, near capacity), a
//! quiet cache that never warns, and no cached value in any log line even at DEBUG.
#![allow(clippy::field_reassign_with_default)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use deeper_cache::{Cache, CacheConfig};

/// Everything every subscriber line wrote, for the whole test binary.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lines_for(cache: &str) -> Vec<String> {
    let buf = captured().lock().unwrap();
    String::from_utf8_lossy(&buf)
        .lines()
        .filter(|l| l.contains(&format!("cache={cache}")))
        .map(str::to_string)
        .collect()
}

/// Polls (bounded) until `pred` holds for the cache's log lines.
async fn wait_for(cache: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..500 {
        let lines = lines_for(cache);
        if pred(&lines) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "log condition never held for {cache}: {:#?}",
        lines_for(cache)
    );
}

fn config(name: &str) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.name = Some(name.into());
    c.metrics_reporter.report_interval_ms = 20;
    c.metrics_reporter.miss_ratio_warn = 0.5;
    c.metrics_reporter.miss_ratio_min_requests = 100;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_storm_warns_and_a_quiet_cache_does_not() {
    captured();
    // The storm's 300 reads must land in one report interval for `misses=300`: a 1 s interval
    // leaves them ample time on a loaded machine (the quiet cache keeps the 20 ms interval).
    let mut storm_config = config("log_storm");
    storm_config.metrics_reporter.report_interval_ms = 1_000;
    let storm = Cache::start(storm_config).await.unwrap();
    let quiet = Cache::start(config("log_quiet")).await.unwrap();
    for i in 0..300 {
        storm.get::<i32>(&format!("missing{i}")).await.unwrap();
    }
    for i in 0..10 {
        quiet.get::<i32>(&format!("missing{i}")).await.unwrap();
    }
    let lines = wait_for("log_storm", |l| {
        l.iter().any(|x| x.contains("high miss ratio"))
    })
    .await;
    let warn = lines
        .iter()
        .find(|x| x.contains("high miss ratio"))
        .unwrap();
    assert!(warn.contains("WARN"), "{warn}");
    assert!(warn.contains("misses=300"), "{warn}");
    // The quiet cache reports (INFO) several times and never warns: too few requests.
    let lines = wait_for("log_quiet", |l| {
        l.iter().filter(|x| x.contains("cache stats")).count() >= 3
    })
    .await;
    let stats = lines
        .iter()
        .find(|x| x.contains("cache stats") && x.contains("misses=10"))
        .unwrap();
    assert!(stats.contains("INFO"), "{stats}");
    assert!(!lines.iter().any(|x| x.contains("WARN")), "{lines:#?}");
    storm.shutdown().await;
    quiet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_capacity_warns() {
    captured();
    let mut c = config("log_capacity");
    c.metrics_reporter.capacity_warn_items = 5;
    let cache = Cache::start(c).await.unwrap();
    for i in 0..10 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
    }
    let lines = wait_for("log_capacity", |l| {
        l.iter().any(|x| x.contains("near capacity"))
    })
    .await;
    let warn = lines.iter().find(|x| x.contains("near capacity")).unwrap();
    assert!(warn.contains("WARN") && warn.contains("items=10"), "{warn}");
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_ever_contains_a_cached_value() {
    captured();
    let cache = Cache::start(config("log_secret")).await.unwrap();
    let secret = "SECRET-VALUE-7f3a9c";
    cache.put("credential", &secret).await.unwrap();
    assert_eq!(
        cache.get::<String>("credential").await.unwrap().as_deref(),
        Some(secret)
    );
    cache.add_to_set("set", &secret).await.unwrap();
    cache.set_members::<String>("set").await.unwrap();
    let _ = cache.get::<u64>("credential").await; // a codec error
    let _: String = cache
        .get_or_store("gen", || async {
            Ok::<_, std::io::Error>(secret.to_string())
        })
        .await
        .unwrap();
    // DEBUG operation lines are there (with the key), the value is not.
    let lines = wait_for("log_secret", |l| {
        l.iter()
            .any(|x| x.contains("cache operation") && x.contains("key=\"credential\""))
            || l.iter()
                .any(|x| x.contains("cache operation") && x.contains("key=credential"))
    })
    .await;
    assert!(
        lines
            .iter()
            .any(|x| x.contains("operation=\"get\"") || x.contains("operation=get"))
    );
    let all = String::from_utf8_lossy(&captured().lock().unwrap()).to_string();
    assert!(!all.contains(secret), "a cached value reached the logs");
    cache.shutdown().await;
}
