//! Two nodes of one fleet on the tiered backend (a per-node L1 over the Redis L2, kept coherent
//! by Redis's invalidation pushes): a write on node A, reads on node B, and what each tier
//! served.
//!
//! ```sh
//! redis-server --port 6379 --save "" &          # any local server (Redis 6 or later)
//! cargo run --example tiered                    # DEEPER_CACHE__REDIS__URL overrides the URL
//! ```
//!
//! Settings come from `config/default.toml` and `DEEPER_CACHE__*` variables as usual; the
//! adapter is forced to `tiered` and the URL defaults to `redis://127.0.0.1:6379`. Two nodes are
//! two caches with the same `redis.key_prefix` and their own `name` (here in one process; in
//! production, one per process or machine).

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, ConfigLoader, TierStats};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
struct Profile {
    id: u64,
    name: String,
}

async fn tiers(node: &Cache) -> Result<TierStats, deeper_cache::CacheError> {
    Ok(node.stats().await?.tiers.unwrap_or_default())
}

/// What served one read, from the node's tier counts before and after it.
fn served(before: &TierStats, after: &TierStats) -> &'static str {
    if after.l1_hits > before.l1_hits {
        "L1 hit"
    } else if after.l2_hits > before.l2_hits {
        "L1 miss → L2 hit (filled L1)"
    } else if after.l2_misses > before.l2_misses {
        "L1 miss → L2 miss"
    } else {
        "L2 unreachable"
    }
}

/// Reads `key` on `node` and says which tier answered.
async fn read(
    node: &Cache,
    key: &str,
) -> Result<(Option<Profile>, &'static str), Box<dyn std::error::Error>> {
    let before = tiers(node).await?;
    let value = node.get::<Profile>(key).await?;
    Ok((value, served(&before, &tiers(node).await?)))
}

/// Polls `node` until `key` reads `want` (at most 5 s); returns how long that took.
async fn until_reads(
    node: &Cache,
    key: &str,
    want: &Option<Profile>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let since = Instant::now();
    while node.get::<Profile>(key).await? != *want {
        if since.elapsed() > Duration::from_secs(5) {
            return Err(format!("{} never read {want:?}", node.name()).into());
        }
        tokio::task::yield_now().await;
    }
    Ok(since.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ConfigLoader::new().load()?;
    config.default_adapter = AdapterKind::Tiered;
    if let Ok(url) = std::env::var("DEEPER_CACHE__REDIS__URL") {
        config.redis.url = url.into();
    }
    config.redis.key_prefix = "deeper_cache_tiered_example".into();
    println!("tiered backend, L2 at {}", config.redis.redacted_url());
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b"] {
        let mut c = config.clone();
        c.name = Some(name.into());
        nodes.push(Cache::start(c).await?);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    if let Err(e) = a.exists("ping").await {
        println!("redis is not reachable ({e}); start a redis-server and run again");
        return Err(e.into());
    }
    // L1 serves reads once the node's invalidation stream is live (until then: L2 only).
    let since = Instant::now();
    for node in &nodes {
        while !tiers(node).await?.tracking_live {
            if since.elapsed() > Duration::from_secs(5) {
                return Err(
                    format!("{}: the invalidation stream did not come up", node.name()).into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    println!("both invalidation streams live after {:?}", since.elapsed());
    a.clear().await?;

    let key = "user_profile:42";
    let ada = Profile {
        id: 42,
        name: "Ada".into(),
    };
    a.put(key, &ada).await?;
    println!("node-a put {key} = {ada:?}");
    for _ in 0..2 {
        let (v, tier) = read(b, key).await?;
        println!("node-b get {key} -> {v:?}: {tier}");
    }

    let renamed = Profile {
        id: 42,
        name: "Ada Lovelace".into(),
    };
    a.put(key, &renamed).await?;
    let took = until_reads(b, key, &Some(renamed.clone())).await?;
    println!(
        "node-a put {key} = {renamed:?}; node-b read it {took:?} after node-a's put returned \
         (Redis pushed the invalidation; node-b's L1 dropped the old value)"
    );
    let (v, tier) = read(b, key).await?;
    println!("node-b get {key} -> {v:?}: {tier}");
    let (v, tier) = read(a, key).await?;
    println!("node-a get {key} -> {v:?}: {tier} (a writer drops its own L1 copy)");

    a.delete(key).await?;
    let took = until_reads(b, key, &None).await?;
    println!("node-a delete {key}; node-b reads a miss {took:?} later");

    for node in &nodes {
        let t = tiers(node).await?;
        println!(
            "{}: L1 hits {}, L1 misses {} (L2 hits {}, L2 misses {}, L2 errors {}), \
             invalidations from Redis {}, L1 flushes {}, stream live {}",
            node.name(),
            t.l1_hits,
            t.l1_misses,
            t.l2_hits,
            t.l2_misses,
            t.l2_errors,
            t.invalidations_tracking,
            t.flushes,
            t.tracking_live
        );
    }
    let removed = a.clear().await?;
    println!("clear() -> removed {removed} keys; done");
    for node in &nodes {
        node.shutdown().await;
    }
    Ok(())
}
