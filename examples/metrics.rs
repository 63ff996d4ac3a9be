//! Metrics: a small mixed workload with the Prometheus endpoint on.
//!
//! `cargo run --example metrics` serves `http://127.0.0.1:9568/metrics` until Ctrl-C;
//! `cargo run --example metrics -- --scrape-to FILE` scrapes its own endpoint once into FILE
//! and exits (CI checks that file with `promtool check metrics`). `--listen ADDR` picks the
//! address.
#![allow(clippy::field_reassign_with_default)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use deeper_cache::{Cache, CacheConfig};

fn scrape(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:9568".into());
    let scrape_to = arg("--scrape-to");

    let mut config = CacheConfig::default();
    config.name = Some("metrics_demo".into());
    config.metrics.prometheus.enabled = true;
    config.metrics.prometheus.listen = listen.clone();
    config.metrics_reporter.report_interval_ms = 200;
    let cache = Cache::start(config).await?;
    println!("scrape with: curl http://{listen}/metrics");

    // A small mixed workload over two namespaces.
    let users = cache.namespace("users")?;
    let pages = cache.namespace("pages")?;
    for i in 0..500u32 {
        users
            .put(&format!("user:{i}"), &format!("user {i}"))
            .await?;
        let _ = users.get::<String>(&format!("user:{}", i * 2)).await?;
        pages.increment("views", 1).await?;
        let _: u32 = pages
            .get_or_store(&format!("page:{}", i % 50), || async move {
                Ok::<_, std::io::Error>(i)
            })
            .await?;
    }
    users.delete_pattern("user:1*").await?;
    users
        .put_with_ttl("short", &1, Duration::from_millis(50))
        .await?;
    tokio::time::sleep(Duration::from_millis(400)).await; // two report ticks refresh gauges
    cache.purge_expired().await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let stats = cache.stats().await?;
    println!(
        "stats: hits {} misses {} hit ratio {:.3} items {}",
        stats.total.hits, stats.total.misses, stats.total.hit_ratio, stats.total.items
    );

    let addr = listen.clone();
    let body = tokio::task::spawn_blocking(move || scrape(&addr)).await??;
    match scrape_to {
        Some(path) => {
            std::fs::write(&path, &body)?;
            println!("wrote {} bytes of exposition to {path}", body.len());
        }
        None => {
            for line in body
                .lines()
                .filter(|l| l.contains("namespace=\"users\"") && !l.contains("_bucket"))
                .take(12)
            {
                println!("{line}");
            }
            println!("serving until Ctrl-C: curl http://{listen}/metrics");
            tokio::signal::ctrl_c().await?;
        }
    }
    cache.shutdown().await;
    Ok(())
}
