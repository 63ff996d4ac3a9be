use std::collections::HashMap;
use std::time::Duration;

use deeper_cache::{Cache, CacheError, ChildKind, DataPlaneMode, Fault, MAX_KEY_BYTES, Ttl};

// `snapshot(cache)`, the (entries, bytes) a backend holds, is defined per backend in main.rs.

#[tokio::test]
async fn bad_keys_and_namespaces() {
    let cache = cache().await;
    cache.put("ok", &1).await.unwrap();
    let before = snapshot(&cache).await;
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    for key in ["", long.as_str()] {
        assert!(matches!(
            cache.get::<i32>(key).await,
            Err(CacheError::InvalidKey { .. })
        ));
        assert!(matches!(
            cache.put(key, &1).await,
            Err(CacheError::InvalidKey { .. })
        ));
        assert!(matches!(
            cache.delete(key).await,
            Err(CacheError::InvalidKey { .. })
        ));
        assert!(matches!(
            cache.increment(key, 1).await,
            Err(CacheError::InvalidKey { .. })
        ));
        assert!(matches!(
            cache.add_to_set(key, &1).await,
            Err(CacheError::InvalidKey { .. })
        ));
    }
    // The longest allowed key works.
    cache.put(&"k".repeat(MAX_KEY_BYTES), &1).await.unwrap();
    cache.delete(&"k".repeat(MAX_KEY_BYTES)).await.unwrap();
    assert!(matches!(
        cache.namespace(""),
        Err(CacheError::InvalidNamespace { .. })
    ));
    assert!(matches!(
        cache.namespace(&"n".repeat(200)),
        Err(CacheError::InvalidNamespace { .. })
    ));
    assert_eq!(snapshot(&cache).await, before);
    cache.shutdown().await;
}

#[tokio::test]
async fn oversize_value_is_refused() {
    let mut config = config();
    config.memory.max_value_bytes = 100;
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &"small").await.unwrap();
    let before = snapshot(&cache).await;
    let big = "x".repeat(200);
    let err = cache.put("k", &big).await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::ValueTooLarge {
                size: 202,
                limit: 100
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        cache.add_to_set("s", &big).await,
        Err(CacheError::ValueTooLarge { .. })
    ));
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("small")
    );
    assert_eq!(snapshot(&cache).await, before);
    cache.shutdown().await;
}

#[tokio::test]
async fn wrong_type_read_is_a_codec_error_and_the_entry_stays() {
    let cache = cache().await;
    cache
        .put("profile", &HashMap::from([("name", "Ada")]))
        .await
        .unwrap();
    let err = cache.get::<u64>("profile").await.unwrap_err();
    assert!(matches!(err, CacheError::Codec { .. }));
    assert!(
        !err.to_string().contains("Ada"),
        "errors never quote the value: {err}"
    );
    assert_eq!(
        cache
            .get::<HashMap<String, String>>("profile")
            .await
            .unwrap(),
        Some(HashMap::from([("name".to_string(), "Ada".to_string())]))
    );
    // A value that cannot be encoded (map with non-string keys) is refused before storing.
    let bad = HashMap::from([((1, 2), 3)]);
    assert!(matches!(
        cache.put("bad", &bad).await,
        Err(CacheError::Codec { .. })
    ));
    assert!(!cache.exists("bad").await.unwrap());
    cache.shutdown().await;
}

#[tokio::test]
async fn counters_refuse_non_integers_and_overflow_unchanged() {
    let cache = cache().await;
    cache.put("text", &"hello").await.unwrap();
    cache.put("float", &1.5).await.unwrap();
    assert_eq!(
        cache.increment("text", 1).await,
        Err(CacheError::NotAnInteger)
    );
    assert_eq!(
        cache.increment("float", 1).await,
        Err(CacheError::NotAnInteger)
    );
    assert_eq!(
        cache.get::<String>("text").await.unwrap().as_deref(),
        Some("hello")
    );
    assert_eq!(cache.get::<f64>("float").await.unwrap(), Some(1.5));

    cache.put("big", &(i64::MAX - 1)).await.unwrap();
    assert_eq!(cache.increment("big", 1).await.unwrap(), i64::MAX);
    assert_eq!(cache.increment("big", 1).await, Err(CacheError::Overflow));
    assert_eq!(cache.get::<i64>("big").await.unwrap(), Some(i64::MAX));
    assert_eq!(cache.decrement("small", i64::MAX).await.unwrap(), -i64::MAX);
    assert_eq!(cache.decrement("small", 2).await, Err(CacheError::Overflow));
    assert_eq!(
        cache.decrement("small", i64::MIN).await,
        Err(CacheError::Overflow)
    );
    assert_eq!(cache.get::<i64>("small").await.unwrap(), Some(-i64::MAX));
    cache.shutdown().await;
}

#[tokio::test]
async fn invalid_patterns_and_durations() {
    let cache = cache().await;
    cache.put("a[1", &1).await.unwrap();
    let before = snapshot(&cache).await;
    for bad in ["", "a[1", "a\\", "[]", "[z-a]"] {
        assert!(
            matches!(
                cache.delete_pattern(bad).await,
                Err(CacheError::InvalidPattern { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        cache.delete_pattern("a\\[1").await.unwrap(),
        1,
        "escaped bracket is literal"
    );
    cache.put("a[1", &1).await.unwrap();

    let zero = Duration::ZERO;
    assert!(matches!(
        cache.put_with_ttl("z", &1, zero).await,
        Err(CacheError::InvalidTtl { .. })
    ));
    assert!(matches!(
        cache.increment_with_ttl("z", 1, zero).await,
        Err(CacheError::InvalidTtl { .. })
    ));
    assert!(matches!(
        cache
            .get_or_store_with_ttl("z", zero, || async { Ok::<_, std::io::Error>(1) })
            .await,
        Err(deeper_cache::GetOrStoreError::Cache(
            CacheError::InvalidTtl { .. }
        ))
    ));
    // A sub-millisecond TTL is rounded up, not refused.
    cache
        .put_with_ttl("tiny", &1, Duration::from_nanos(1))
        .await
        .unwrap();
    assert!(matches!(
        cache.ttl("tiny").await.unwrap(),
        Some(Ttl::After(_)) | None
    ));
    cache.delete("tiny").await.unwrap();
    assert_eq!(snapshot(&cache).await, before);
    cache.shutdown().await;
}

#[tokio::test]
async fn an_actor_that_does_not_answer_is_a_timeout_not_a_hang() {
    let mut config = config();
    config.call_timeout_ms = 100;
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &1).await.unwrap();
    cache.inject_fault(ChildKind::Adapter, Fault::Stall(Duration::from_millis(400)));
    if plane().mode == DataPlaneMode::Direct {
        // Direct mode: no actor on the data path, so a stalled adapter delays nothing. Make the
        // adapter consume its stall through a request that still goes to it? None does: the
        // calls below must answer at once.
        assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(1));
        assert_eq!(cache.increment("c", 1).await.unwrap(), 1);
        cache.shutdown().await;
        return;
    }
    // Route the request to the stalled adapter: with several partitions, the stall is consumed
    // by whichever adapter handles a message first, so try keys until one call times out.
    let mut timed_out = None;
    for i in 0..64 {
        match cache.get::<i32>(&format!("probe{i}")).await {
            Err(e @ CacheError::Timeout { .. }) => {
                timed_out = Some(e);
                break;
            }
            Ok(None) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = timed_out.expect("one call met the stalled adapter");
    assert!(matches!(err, CacheError::Timeout { operation: "get", .. }), "{err:?}");
    assert!(err.is_unavailable());
    // Once the stall is over, the same handle works again and nothing was lost.
    let mut value = None;
    for _ in 0..50 {
        match cache.get::<i32>("k").await {
            Ok(v) => {
                value = v;
                break;
            }
            Err(CacheError::Timeout { .. }) => continue,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(value, Some(1));
    cache.shutdown().await;
}
