//! Three nodes of one fleet behave like one cache: a cold key asked for on every node at once
//! runs its generator once fleet-wide (a lease in Redis), `clear()` of a namespace on one node
//! is one `INCR` every node sees (namespace generations), and TTLs written together are
//! spread (`ttl_jitter`).
//!
//! ```sh
//! redis-server --port 6379 --save "" &          # any local server (Redis 6 or later)
//! cargo run --example fleet                     # DEEPER_CACHE__REDIS__URL overrides the URL
//! ```
//!
//! Settings come from `config/default.toml` and `DEEPER_CACHE__*` variables as usual; the
//! adapter is forced to `redis` (`DEEPER_CACHE__DEFAULT_ADAPTER=tiered` is kept), with
//! `redis.namespace_generations = true` and `ttl_jitter = 0.1`. Three nodes are three caches
//! with the same `redis.key_prefix` and their own `name` (here in one process; in production,
//! one per process or machine).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, ConfigLoader};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ConfigLoader::new().load()?;
    if config.default_adapter != AdapterKind::Tiered {
        config.default_adapter = AdapterKind::Redis;
    }
    if let Ok(url) = std::env::var("DEEPER_CACHE__REDIS__URL") {
        config.redis.url = url.into();
    }
    config.redis.key_prefix = "deeper_cache_fleet_example".into();
    config.redis.namespace_generations = true;
    config.stampede.distributed = true;
    config.ttl_jitter = 0.1;
    println!(
        "{:?} backend at {}",
        config.default_adapter,
        config.redis.redacted_url()
    );
    let mut nodes = Vec::new();
    for name in ["node-1", "node-2", "node-3"] {
        let mut c = config.clone();
        c.name = Some(name.into());
        nodes.push(Cache::start(c).await?);
    }
    if let Err(e) = nodes[0].exists("ping").await {
        println!("redis is not reachable ({e}); start a redis-server and run again");
        return Err(e.into());
    }
    nodes[0].clear().await?;
    // Let every node's stream come up (generations are cached while it is live).
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 1. A cold key, 300 callers on each node at once, a 50 ms "database query".
    let runs = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut callers = Vec::new();
    for i in 0..900 {
        let (node, runs) = (nodes[i % 3].clone(), runs.clone());
        callers.push(tokio::spawn(async move {
            let name = node.name().to_string();
            node.get_or_store_with_ttl("report:today", Duration::from_secs(300), || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::io::Error>(format!("report built by {name}"))
            })
            .await
        }));
    }
    let mut values = std::collections::BTreeSet::new();
    for c in callers {
        values.insert(c.await??);
    }
    println!(
        "900 callers on 3 nodes: the generator ran {} time(s); every caller got {:?} within {:?}",
        runs.load(Ordering::SeqCst),
        values,
        started.elapsed()
    );
    for node in &nodes {
        let stats = node.stats().await?;
        let waits = stats.total.stampede.get("lease_wait").copied().unwrap_or(0);
        println!(
            "  {}: waited on another node's lease {waits} time(s)",
            node.name()
        );
    }

    // 2. clear() of a namespace on node-1, seen by node-2 and node-3.
    let sessions: Vec<Cache> = nodes
        .iter()
        .map(|n| n.namespace("sessions"))
        .collect::<Result<_, _>>()?;
    for i in 0..1_000 {
        sessions[i % 3].put(&format!("s{i}"), &i).await?;
    }
    for node in &sessions[1..] {
        node.get::<usize>("s1").await?; // each node caches the namespace's generation
    }
    let t = Instant::now();
    sessions[0].clear().await?;
    let cleared = t.elapsed();
    for node in &sessions[1..] {
        let t = Instant::now();
        while node.get::<usize>("s1").await?.is_some() {
            if t.elapsed() > Duration::from_secs(5) {
                return Err(format!("{} still reads the old namespace", node.name()).into());
            }
            tokio::task::yield_now().await;
        }
    }
    println!(
        "node-1 cleared 1,000 sessions in {cleared:?} (one INCR); node-2 and node-3 read none of them afterwards"
    );

    // 3. TTLs written together spread within ±10 %.
    let mut ttls = Vec::new();
    for i in 0..100 {
        let key = format!("spread:{i}");
        nodes[0]
            .put_with_ttl(&key, &i, Duration::from_secs(600))
            .await?;
        if let Some(deeper_cache::Ttl::After(ttl)) = nodes[0].ttl(&key).await? {
            ttls.push(ttl.as_secs());
        }
    }
    println!(
        "100 puts with a 600 s TTL: TTLs from {} s to {} s",
        ttls.iter().min().unwrap_or(&0),
        ttls.iter().max().unwrap_or(&0)
    );
    for node in &nodes {
        node.shutdown().await;
    }
    Ok(())
}
