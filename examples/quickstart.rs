//! The main job: start a cache with the default configuration and walk through every call.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Duration;

use deeper_cache::{Cache, CacheError, ConfigLoader, GetOrStoreError, Ttl};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Profile {
    id: u64,
    name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("database unreachable")]
struct DbDown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let mut config = ConfigLoader::new().load()?;
    // Bound the table (off by default): at most 100,000 entries and 64 MiB, evicting by
    // frequency (`lfu`) when full. See README "Bounded memory".
    config.memory.max_entries = 100_000;
    config.memory.max_bytes = 64 * 1024 * 1024;
    println!(
        "config: adapter={:?} default_ttl={:?} cleanup_interval_ms={}",
        config.default_adapter, config.default_ttl_seconds.0, config.memory.cleanup_interval_ms
    );
    let cache = Cache::start(config).await?;
    println!("started cache {:?}", cache.name());

    // put / get / get with a default
    let ada = Profile {
        id: 42,
        name: "Ada".into(),
    };
    cache.put("user_profile:42", &ada).await?;
    println!(
        "get user_profile:42         -> {:?}",
        cache.get::<Profile>("user_profile:42").await?
    );
    println!(
        "get user_profile:7          -> {:?}",
        cache.get::<Profile>("user_profile:7").await?
    );
    println!(
        "get_or missing, default 0   -> {}",
        cache.get_or("missing", 0u32).await?
    );
    println!(
        "exists user_profile:42      -> {}",
        cache.exists("user_profile:42").await?
    );
    println!(
        "ttl user_profile:42         -> {:?} (default ttl)",
        cache.ttl("user_profile:42").await?
    );

    // per-call TTL: one that never expires, one that visibly expires
    cache
        .put_with_ttl("config:flags", &["dark_mode"], Ttl::Never)
        .await?;
    println!(
        "ttl config:flags            -> {:?}",
        cache.ttl("config:flags").await?
    );
    cache
        .put_with_ttl("session:abc", &"token", Duration::from_millis(300))
        .await?;
    println!(
        "get session:abc (fresh)     -> {:?}",
        cache.get::<String>("session:abc").await?
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    println!(
        "get session:abc (after 350 ms, ttl 300 ms) -> {:?}",
        cache.get::<String>("session:abc").await?
    );

    // get_or_store: generator runs on a miss, not on a hit; an error is not cached
    let mut runs = 0;
    let report = cache
        .get_or_store("reports:monthly_sales:2026-11", || {
            runs += 1;
            async { Ok::<_, DbDown>(vec![120, 340, 560]) }
        })
        .await?;
    println!("get_or_store (miss)         -> {report:?}, generator runs = {runs}");
    let again: Vec<u32> = cache
        .get_or_store("reports:monthly_sales:2026-11", || {
            runs += 1;
            async { Ok::<_, DbDown>(vec![]) }
        })
        .await?;
    println!("get_or_store (hit)          -> {again:?}, generator runs = {runs}");
    for attempt in 1..=2 {
        let r: Result<String, _> = cache
            .get_or_store("reports:failing", || async { Err(DbDown) })
            .await;
        match r {
            Err(GetOrStoreError::Generator(e)) => println!(
                "get_or_store failing #{attempt}   -> generator error {e:?}; cached: {}",
                cache.exists("reports:failing").await?
            ),
            other => println!("get_or_store failing #{attempt}   -> unexpected {other:?}"),
        }
    }

    // counters
    println!(
        "increment post_views:1 by 1 -> {}",
        cache.increment("post_views:1", 1).await?
    );
    println!(
        "increment post_views:1 by 5 -> {}",
        cache.increment("post_views:1", 5).await?
    );
    println!(
        "decrement post_views:1 by 2 -> {}",
        cache.decrement("post_views:1", 2).await?
    );
    println!(
        "get::<i64> post_views:1     -> {:?}",
        cache.get::<i64>("post_views:1").await?
    );
    match cache.increment("user_profile:42", 1).await {
        Err(CacheError::NotAnInteger) => {
            println!("increment a profile         -> NotAnInteger (value unchanged)")
        }
        other => println!("increment a profile         -> unexpected {other:?}"),
    }

    // sets
    cache.add_to_set("online_users", &"ada").await?;
    cache.add_to_set("online_users", &"grace").await?;
    println!(
        "add_to_set ada again        -> {}",
        cache.add_to_set("online_users", &"ada").await?
    );
    println!(
        "is_member grace             -> {}",
        cache.is_member("online_users", &"grace").await?
    );
    println!(
        "remove_from_set grace       -> {}",
        cache.remove_from_set("online_users", &"grace").await?
    );
    let mut members: Vec<String> = cache.set_members("online_users").await?;
    members.sort();
    println!("set_members online_users    -> {members:?}");

    // namespaces, delete, delete_pattern, clear
    let profiles = cache.namespace("profiles")?;
    for id in 1..=5 {
        profiles
            .put(&format!("user_profiles:{id}"), &format!("user {id}"))
            .await?;
    }
    profiles.put("settings:theme", &"dark").await?;
    println!(
        "namespaced get from root    -> {:?}",
        cache.get::<String>("user_profiles:1").await?
    );
    println!(
        "delete user_profiles:1      -> {}",
        profiles.delete("user_profiles:1").await?
    );
    println!(
        "delete_pattern user_profiles:* -> {} deleted",
        profiles.delete_pattern("user_profiles:*").await?
    );
    println!(
        "clear profiles namespace    -> {} deleted",
        profiles.clear().await?
    );
    println!(
        "root key survives           -> {:?}",
        cache
            .get::<Profile>("user_profile:42")
            .await?
            .map(|p| p.name)
    );

    // bad input is a typed error
    println!(
        "empty key                   -> {}",
        cache.get::<String>("").await.unwrap_err()
    );
    println!(
        "bad pattern                 -> {}",
        cache.delete_pattern("[abc").await.unwrap_err()
    );
    println!(
        "wrong type                  -> {}",
        cache.get::<u64>("user_profile:42").await.unwrap_err()
    );

    println!(
        "purge_expired               -> {} removed",
        cache.purge_expired().await?
    );
    let usage = cache.usage().await?;
    println!(
        "usage                       -> {} entries, {} bytes",
        usage.entries, usage.bytes
    );
    let stats = cache.stats().await?;
    let t = &stats.total;
    println!(
        "stats                       -> hits {} misses {} hit ratio {:.2} errors {} evictions ttl {} manual {}",
        t.hits, t.misses, t.hit_ratio, t.errors, t.evictions.ttl, t.evictions.manual
    );
    println!(
        "stats operations            -> {}",
        t.operations
            .iter()
            .map(|(op, n)| format!("{op}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "clear all                   -> {} deleted",
        cache.clear().await?
    );

    cache.shutdown().await;
    match cache.get::<String>("user_profile:42").await {
        Err(CacheError::ShutDown) => println!("after shutdown              -> ShutDown error"),
        other => println!("after shutdown              -> unexpected {other:?}"),
    }
    Ok(())
}
