//! The admin interface: a memory cache with a running workload and its admin page on
//! 127.0.0.1 (`cargo run --features admin --example admin`).
//!
//! Open the printed URL in a browser and paste the admin token it prints (generated at start,
//! or `DEEPER_CACHE_ADMIN_TOKEN` when set): live statistics of three namespaces, the key
//! browser, delete buttons. The CLI reaches the same API:
//! `DEEPER_CACHE_ADMIN_TOKEN=... cargo run --features admin --bin deeper-cache-admin -- stats`.
//!
//! Flags: `--listen ADDR` (default `127.0.0.1:9569`), `--seconds N` to stop after N seconds
//! (default: until Ctrl-C).
#![allow(clippy::field_reassign_with_default)]

use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig, Tokens};

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
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:9569".into());
    let seconds: Option<u64> = arg("--seconds").map(|s| s.parse()).transpose()?;

    // A token for this run (32 hex digits), unless one is given.
    let token = std::env::var("DEEPER_CACHE_ADMIN_TOKEN").unwrap_or_else(|_| {
        (0..32)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    });

    let mut config = CacheConfig::default();
    config.name = Some("admin_demo".into());
    config.admin.enabled = true;
    config.admin.listen = listen;
    config.admin.admin_tokens = Tokens::new([token.clone()]);
    config.memory.cleanup_interval_ms = 5_000;
    let cache = Cache::start(config).await?;
    let addr = cache
        .admin_addr()
        .ok_or("the admin listener did not start")?;
    println!("admin page: http://{addr}/   (token: {token})");
    println!(
        "CLI:        DEEPER_CACHE_ADMIN_TOKEN={token} cargo run --features admin --bin deeper-cache-admin -- --url http://{addr} stats"
    );

    let users = cache.namespace("users")?;
    let sessions = cache.namespace("sessions")?;
    let pages = cache.namespace("pages")?;
    for i in 0..2_000u32 {
        users
            .put(&format!("user:{i}"), &format!("user number {i}"))
            .await?;
    }
    // Reads skewed towards low ids (some misses), short-lived sessions, counters.
    let started = Instant::now();
    let mut tick = 0u64;
    loop {
        for _ in 0..200 {
            let id = fastrand::u32(0..2_600).min(fastrand::u32(0..2_600));
            let _ = users.get::<String>(&format!("user:{id}")).await?;
            let s = fastrand::u32(0..500);
            sessions
                .put_with_ttl(&format!("session:{s}"), &s, Duration::from_secs(20))
                .await?;
            pages.increment(&format!("views:{}", s % 40), 1).await?;
        }
        tick += 1;
        if tick % 50 == 0 {
            // Now and then a user is invalidated and comes back later.
            let id = fastrand::u32(0..2_000);
            users.delete(&format!("user:{id}")).await?;
        }
        if seconds.is_some_and(|s| started.elapsed() >= Duration::from_secs(s)) {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let stats = cache.stats().await?;
    println!(
        "stats: items {} hit ratio {:.3}",
        stats.total.items, stats.total.hit_ratio
    );
    cache.shutdown().await;
    Ok(())
}
