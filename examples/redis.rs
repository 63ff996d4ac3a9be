//! The cache on a Redis server: the same calls as the quickstart, with
//! `default_adapter = "redis"` as the only change, then what the keys look like in Redis.
//!
//! ```sh
//! redis-server --port 6379 --save "" &          # any local server
//! cargo run --example redis                     # DEEPER_CACHE__REDIS__URL overrides the URL
//! ```
//!
//! Settings come from `config/default.toml` and `DEEPER_CACHE__*` variables as usual; the
//! adapter is forced to Redis and the URL defaults to `redis://127.0.0.1:6379`.

use std::time::{Duration, Instant};

use deeper_cache::{AdapterKind, Cache, CacheError, ConfigLoader, Ttl};

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
struct Profile {
    id: u64,
    name: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = ConfigLoader::new().load()?;
    config.default_adapter = AdapterKind::Redis;
    if let Ok(url) = std::env::var("DEEPER_CACHE__REDIS__URL") {
        config.redis.url = url.into();
    }
    let url = config.redis.url.redacted();
    config.redis.key_prefix = "deeper_cache_example".into();
    println!("redis backend at {}", config.redis.redacted_url());
    let cache = Cache::start(config).await?;

    // Check the server is there; the cache itself starts either way (calls would degrade).
    if let Err(e) = cache.exists("ping").await {
        println!("redis is not reachable ({e}); start a redis-server and run again");
        cache.shutdown().await;
        return Err(e.into());
    }
    let cleared = cache.clear().await?;
    println!("clear(): removed {cleared} keys left by an earlier run (only under the prefix)");

    let ada = Profile {
        id: 42,
        name: "Ada".into(),
    };
    cache
        .put_with_ttl("user_profile:42", &ada, Duration::from_secs(3600))
        .await?;
    let read: Option<Profile> = cache.get("user_profile:42").await?;
    println!(
        "put/get user_profile:42 -> {read:?}, ttl {:?}",
        cache.ttl("user_profile:42").await?
    );

    let started = Instant::now();
    let report: Vec<u32> = cache
        .get_or_store_with_ttl("reports:monthly", Duration::from_secs(60), || async {
            Ok::<_, std::io::Error>(vec![3, 1, 4])
        })
        .await?;
    println!(
        "get_or_store reports:monthly -> {report:?} (generated in {:?})",
        started.elapsed()
    );
    let again: Vec<u32> = cache
        .get_or_store("reports:monthly", || async {
            Ok::<_, std::io::Error>(vec![0])
        })
        .await?;
    println!("get_or_store again -> {again:?} (a hit: the generator did not run)");

    for _ in 0..3 {
        cache.increment("post_views:7", 1).await?;
    }
    println!(
        "increment post_views:7 x3 -> {:?} (a Redis integer: redis-cli GET deeper_cache_example:default:post_views:7)",
        cache.get::<i64>("post_views:7").await?
    );

    let tags = cache.namespace("tags")?;
    tags.add_to_set("post:7", &"rust").await?;
    tags.add_to_set("post:7", &"redis").await?;
    let mut members: Vec<String> = tags.set_members("post:7").await?;
    members.sort();
    println!("add_to_set tags/post:7 -> {members:?} (a Redis set)");

    for i in 0..5 {
        cache
            .put_with_ttl(&format!("session:{i}"), &i, Ttl::Never)
            .await?;
    }
    println!(
        "delete_pattern(\"session:*\") -> {} keys (SCAN + UNLINK, never KEYS)",
        cache.delete_pattern("session:*").await?
    );

    match cache.increment("user_profile:42", 1).await {
        Err(CacheError::NotAnInteger) => {
            println!("increment on a profile -> NotAnInteger (value unchanged)")
        }
        other => println!("increment on a profile -> {other:?}"),
    }

    // What Redis holds, read with the plain redis client (no cache in between).
    let client = redis::Client::open(url.as_str())?;
    let mut raw = client.get_multiplexed_async_connection().await?;
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("deeper_cache_example:*")
            .query_async(&mut raw)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    println!("keys in Redis (SCAN deeper_cache_example:*): {keys:?}");
    let views: String = redis::cmd("GET")
        .arg("deeper_cache_example:default:post_views:7")
        .query_async(&mut raw)
        .await?;
    let profile: String = redis::cmd("GET")
        .arg("deeper_cache_example:default:user_profile:42")
        .query_async(&mut raw)
        .await?;
    println!("redis GET post_views:7 = {views:?}; GET user_profile:42 = {profile}");
    let removed = cache.clear().await?;
    println!("clear() -> removed {removed} keys; done");
    cache.shutdown().await;
    Ok(())
}
