//! The built-in Prometheus endpoint, scraped over loopback on a free port and parsed.
#![allow(clippy::field_reassign_with_default)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, CacheError};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("the endpoint accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// One parsed exposition line: name, labels, value.
type Series = (String, Vec<(String, String)>, f64);

/// `name{labels} value` lines of the exposition, parsed.
fn series(body: &str) -> Vec<Series> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            Some((name.to_string(), labels, value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_a_parseable_exposition_with_a_real_histogram() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut config = CacheConfig::default();
    config.name = Some("prom_test".into());
    config.metrics.prometheus.enabled = true;
    config.metrics.prometheus.listen = addr.clone();
    config.metrics_reporter.report_interval_ms = 20;
    config.metrics.latency_sample_every = 1;
    let cache = Cache::start(config.clone()).await.unwrap();
    let users = cache.namespace("users").unwrap();
    users.put("a", &1).await.unwrap();
    users.get::<i32>("a").await.unwrap();
    users.get::<i32>("b").await.unwrap();

    // A second cache in the process shares the endpoint; a different address is refused.
    let mut other = config.clone();
    other.name = Some("prom_test_2".into());
    let second = Cache::start(other.clone()).await.unwrap();
    second.put("x", &1).await.unwrap();
    other.name = Some("prom_test_3".into());
    other.metrics.prometheus.listen = format!("127.0.0.1:{}", free_port());
    assert!(matches!(
        Cache::start(other).await,
        Err(CacheError::Config { .. })
    ));

    // Gauges appear after a report tick: poll the endpoint (bounded).
    let mut body = String::new();
    for _ in 0..200 {
        let a = addr.clone();
        body = tokio::task::spawn_blocking(move || scrape(&a))
            .await
            .unwrap();
        if body.contains("deeper_hub_core_cache_size_items{") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = series(&body);
    let find = |name: &str, want: &[(&str, &str)]| {
        s.iter()
            .find(|(n, labels, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    };
    let ops = "deeper_hub_core_cache_operations_total";
    assert_eq!(
        find(
            ops,
            &[
                ("cache", "prom_test"),
                ("operation", "get"),
                ("namespace", "users"),
                ("status", "hit")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        find(
            ops,
            &[
                ("cache", "prom_test"),
                ("operation", "get"),
                ("namespace", "users"),
                ("status", "miss")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        find(
            ops,
            &[
                ("cache", "prom_test_2"),
                ("operation", "put"),
                ("status", "success")
            ]
        ),
        Some(1.0)
    );
    // A histogram, not a summary: buckets with `le`, a +Inf bucket, _sum and _count.
    let hist = "deeper_hub_core_cache_operation_duration_seconds";
    assert!(body.contains(&format!("# TYPE {hist} histogram")), "{body}");
    assert_eq!(
        find(
            &format!("{hist}_count"),
            &[
                ("cache", "prom_test"),
                ("operation", "get"),
                ("namespace", "users")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        find(
            &format!("{hist}_bucket"),
            &[("cache", "prom_test"), ("operation", "get"), ("le", "+Inf")]
        ),
        Some(2.0)
    );
    assert!(s.iter().any(|(n, l, _)| n == &format!("{hist}_bucket")
        && l.iter().any(|(k, v)| k == "le" && v == "0.0000025")));
    assert_eq!(
        find(
            "deeper_hub_core_cache_size_items",
            &[("cache", "prom_test"), ("namespace", "users")]
        ),
        Some(1.0)
    );
    assert!(
        find(
            "deeper_hub_core_cache_hit_ratio",
            &[("cache", "prom_test"), ("namespace", "users")]
        )
        .is_some()
    );
    assert_eq!(
        deeper_cache::prometheus::render().map(|r| r.contains(ops)),
        Some(true),
        "render() serves applications with their own HTTP server"
    );
    cache.shutdown().await;
    second.shutdown().await;
}
