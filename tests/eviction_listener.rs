//! The facade's eviction listener and the per-reason eviction figures of `stats()`.
#![allow(clippy::field_reassign_with_default)]

use std::sync::{Arc, Mutex};

use deeper_cache::{Cache, CacheConfig, EvictionPolicy, EvictionReason};

#[tokio::test]
async fn on_eviction_sees_each_lru_eviction_once_and_stats_count_them() {
    let mut config = CacheConfig::default();
    config.memory.max_entries = 2;
    config.memory.eviction_policy = EvictionPolicy::Lru;
    let cache = Cache::start(config).await.unwrap();
    let seen: Arc<Mutex<Vec<(String, EvictionReason)>>> = Arc::default();
    let sink = seen.clone();
    assert!(cache.on_eviction(move |e| {
        sink.lock().unwrap().push((e.key.to_string(), e.reason));
    }));
    cache.put("a", &1).await.unwrap();
    cache.put("b", &2).await.unwrap();
    cache.get::<i32>("a").await.unwrap(); // b is now the least recently used
    cache.put("c", &3).await.unwrap();
    cache.put("d", &4).await.unwrap(); // evicts a (used before c)
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("b".to_string(), EvictionReason::Lru),
            ("a".to_string(), EvictionReason::Lru)
        ]
    );
    let stats = cache.stats().await.unwrap();
    assert_eq!(stats.total.evictions.lru, 2);
    assert_eq!(stats.total.items, 2);
    cache.shutdown().await;
}
