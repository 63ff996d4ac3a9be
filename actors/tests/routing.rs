//! rpc-mode routing: a key always goes to the same adapter partition, and keys spread over
//! every partition.

use std::collections::HashMap;

use deeper_cache_actors::{CacheConfig, CacheService, Clock, DataPlaneMode, Ttl, codec, ops};

#[tokio::test]
async fn one_key_always_goes_to_the_same_partition() {
    let mut config = CacheConfig::default();
    config.adapter.mode = DataPlaneMode::Rpc;
    config.adapter.partitions = 4;
    let service = CacheService::start(config, Clock::system()).await.unwrap();
    let clone = service.clone();
    let mut per_partition: HashMap<usize, usize> = HashMap::new();
    for i in 0..10_000 {
        let key = format!("user:{i}");
        let p = service.partition_of("default", &key);
        assert!(p < 4);
        for _ in 0..3 {
            assert_eq!(service.partition_of("default", &key), p, "stable for {key}");
            assert_eq!(
                clone.partition_of("default", &key),
                p,
                "same on every clone"
            );
        }
        *per_partition.entry(p).or_default() += 1;
    }
    // Every partition serves a fair share (10,000 keys over 4: each within 20% of 2,500).
    assert_eq!(per_partition.len(), 4);
    for (p, n) in &per_partition {
        assert!((2_000..=3_000).contains(n), "partition {p} got {n} keys");
    }
    // The namespace is part of the route: the same key in two namespaces may differ, and is
    // itself stable.
    let a = service.partition_of("a", "k");
    assert_eq!(service.partition_of("a", "k"), a);
    // And the calls work through the partitions.
    let ns = service.namespace("default");
    for i in 0..100 {
        let key = format!("user:{i}");
        let put = ops::Put {
            value: codec::encode(&i).unwrap(),
            ttl: Ttl::Never,
        };
        service.run(&ns, &key, put).await.unwrap();
        let raw = service.run(&ns, &key, ops::Get).await.unwrap().unwrap();
        assert_eq!(codec::decode::<i32>(&raw).unwrap(), i);
    }
    service.shutdown().await;
}
