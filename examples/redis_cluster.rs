//! The cache on a Redis Cluster: `redis.mode = "cluster"` and the seed nodes are the only
//! change from the Redis example; then where the keys landed.
//!
//! ```sh
//! # a local cluster: six redis-server --cluster-enabled yes on 7000..7005, then
//! # redis-cli --cluster create 127.0.0.1:7000 … 127.0.0.1:7005 --cluster-replicas 1 --cluster-yes
//! DEEPER_CACHE__REDIS__URLS=redis://127.0.0.1:7000,redis://127.0.0.1:7001 \
//!   cargo run --example redis_cluster
//! ```
//!
//! Settings come from `config/default.toml` and `DEEPER_CACHE__*` variables as usual; the
//! adapter is forced to Redis in cluster mode, the seeds default to `redis://127.0.0.1:7000`.

use std::collections::BTreeMap;
use std::time::Duration;

use deeper_cache::{AdapterKind, Cache, ConfigLoader, RedisMode};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ConfigLoader::new().load()?;
    config.default_adapter = AdapterKind::Redis;
    config.redis.mode = RedisMode::Cluster;
    if config.redis.urls.is_empty() {
        config.redis.urls = vec!["redis://127.0.0.1:7000".into()];
    }
    config.redis.key_prefix = "deeper_cache_cluster_example".into();
    let seeds: Vec<String> = config.redis.urls.iter().map(|u| u.redacted()).collect();
    println!("redis cluster, seeds {seeds:?}");
    let cache = Cache::start(config.clone()).await?;
    if let Err(e) = cache.exists("ping").await {
        println!("the cluster is not reachable ({e}); start one and run again");
        return Err(e.into());
    }
    cache.clear().await?;
    let users = cache.namespace("users")?;
    for i in 0..1_000 {
        users
            .put_with_ttl(&format!("user:{i}"), &i, Duration::from_secs(300))
            .await?;
    }
    println!("get user:42 -> {:?}", users.get::<u32>("user:42").await?);
    println!(
        "increment visits -> {}",
        users.increment("visits", 3).await?
    );
    let report: String = users
        .get_or_store("report", || async {
            Ok::<_, std::io::Error>("built once".to_string())
        })
        .await?;
    println!("get_or_store report -> {report:?}");

    // Where the keys landed: every primary holds a share.
    let client = redis::cluster::ClusterClient::new(
        config
            .redis
            .urls
            .iter()
            .map(|u| u.expose_secret().to_string())
            .collect::<Vec<_>>(),
    )?;
    let mut raw = client.get_async_connection().await?;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut raw)
        .await?;
    let mut by_primary = BTreeMap::new();
    for i in (0..1_000).step_by(100) {
        let key = format!("deeper_cache_cluster_example:users:user:{i}");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query_async(&mut raw)
            .await?;
        let owner = nodes
            .lines()
            .find(|l| {
                l.contains("master")
                    && l.split_whitespace()
                        .skip(8)
                        .any(|r| match r.split_once('-') {
                            Some((a, b)) => {
                                a.parse::<u16>().is_ok_and(|a| a <= slot)
                                    && b.parse::<u16>().is_ok_and(|b| slot <= b)
                            }
                            None => r.parse::<u16>().is_ok_and(|s| s == slot),
                        })
            })
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|a| a.split('@').next().unwrap_or(a).to_string())
            .unwrap_or_default();
        *by_primary.entry(owner).or_insert(0) += 1;
    }
    println!("10 sampled keys by primary: {by_primary:?}");
    println!(
        "clear(users) removed {} keys across every primary",
        users.clear().await?
    );
    cache.shutdown().await;
    Ok(())
}
