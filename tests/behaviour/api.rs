use std::collections::BTreeSet;
use std::time::Duration;

use deeper_cache::{CacheError, GetOrStoreError, Ttl};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
    tags: Vec<String>,
}

#[tokio::test]
async fn put_get_roundtrip_of_serde_types() {
    let cache = cache().await;
    let p = Profile {
        id: 7,
        name: "Grace".into(),
        tags: vec!["admin".into()],
    };
    cache.put("user_profile:7", &p).await.unwrap();
    assert_eq!(
        cache.get::<Profile>("user_profile:7").await.unwrap(),
        Some(p)
    );
    assert_eq!(cache.get::<Profile>("user_profile:8").await.unwrap(), None);
    cache.put("n", &3.5f64).await.unwrap();
    assert_eq!(cache.get::<f64>("n").await.unwrap(), Some(3.5));
    cache.shutdown().await;
}

#[tokio::test]
async fn get_with_default() {
    let cache = cache().await;
    assert_eq!(cache.get_or("absent", 11u8).await.unwrap(), 11);
    cache.put("present", &5u8).await.unwrap();
    assert_eq!(cache.get_or("present", 11u8).await.unwrap(), 5);
    cache.shutdown().await;
}

// Memory only: drives a ManualClock to exact milliseconds, which Redis (real time) cannot follow;
// expiry_real.rs states the same rules in real time on every backend.
memory_only! {
    #[tokio::test]
    async fn overwrite_replaces_value_and_ttl() {
        let (cache, clock) = cache_with_clock().await;
        cache
            .put_with_ttl("k", &"first", Duration::from_secs(1))
            .await
            .unwrap();
        cache
            .put_with_ttl("k", &"second", Ttl::Never)
            .await
            .unwrap();
        assert_eq!(
            cache.get::<String>("k").await.unwrap().as_deref(),
            Some("second")
        );
        assert_eq!(cache.ttl("k").await.unwrap(), Some(Ttl::Never));
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            cache.get::<String>("k").await.unwrap().as_deref(),
            Some("second")
        );
        // Overwriting with another type is allowed; reading it as the old type is a codec error.
        cache.put("k", &42).await.unwrap();
        assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(42));
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn delete_and_exists() {
    let cache = cache().await;
    cache.put("k", &1).await.unwrap();
    assert!(cache.exists("k").await.unwrap());
    assert!(cache.delete("k").await.unwrap());
    assert!(!cache.exists("k").await.unwrap());
    assert!(
        !cache.delete("k").await.unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(cache.get::<i32>("k").await.unwrap(), None);
    cache.shutdown().await;
}

// Memory only: drives a ManualClock to exact milliseconds, which Redis (real time) cannot follow;
// expiry_real.rs states the same rules in real time on every backend.
memory_only! {
    #[tokio::test]
    async fn ttl_reports_remaining_time() {
        let (cache, clock) = cache_with_clock().await;
        assert_eq!(cache.ttl("absent").await.unwrap(), None);
        cache
            .put_with_ttl("k", &1, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            cache.ttl("k").await.unwrap(),
            Some(Ttl::After(Duration::from_secs(10)))
        );
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(
            cache.ttl("k").await.unwrap(),
            Some(Ttl::After(Duration::from_millis(7_500)))
        );
        // put uses the configured default TTL (3600 s).
        cache.put("d", &1).await.unwrap();
        assert_eq!(
            cache.ttl("d").await.unwrap(),
            Some(Ttl::After(Duration::from_secs(3600)))
        );
        cache.shutdown().await;
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("database down")]
struct DbDown;

#[tokio::test]
async fn get_or_store_runs_generator_only_on_miss() {
    let cache = cache().await;
    let mut runs = 0;
    let v: String = cache
        .get_or_store("report", || {
            runs += 1;
            async { Ok::<_, DbDown>("generated".to_string()) }
        })
        .await
        .unwrap();
    assert_eq!(v, "generated");
    let v: String = cache
        .get_or_store("report", || {
            runs += 1;
            async { Ok::<_, DbDown>("other".to_string()) }
        })
        .await
        .unwrap();
    assert_eq!(v, "generated");
    assert_eq!(runs, 1);
    // Stored with the default TTL (3600 s). Within a second of it, not to the millisecond:
    // on Redis the clock runs between the write and the read.
    assert!(matches!(
        cache.ttl("report").await.unwrap(),
        Some(Ttl::After(d)) if d <= Duration::from_secs(3600) && d > Duration::from_secs(3599)
    ));
    cache.shutdown().await;
}

#[tokio::test]
async fn get_or_store_error_is_not_cached() {
    let cache = cache().await;
    let mut runs = 0;
    for _ in 0..2 {
        let r: Result<u32, _> = cache
            .get_or_store("k", || {
                runs += 1;
                async { Err(DbDown) }
            })
            .await;
        assert!(matches!(r, Err(GetOrStoreError::Generator(DbDown))));
        assert!(!cache.exists("k").await.unwrap());
    }
    assert_eq!(runs, 2, "the second call ran the generator again");
    let ok: u32 = cache
        .get_or_store("k", || async { Ok::<_, DbDown>(9) })
        .await
        .unwrap();
    assert_eq!(ok, 9);
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(9));
    cache.shutdown().await;
}

// Memory only: drives a ManualClock to exact milliseconds, which Redis (real time) cannot follow;
// expiry_real.rs states the same rules in real time on every backend.
memory_only! {
    #[tokio::test]
    async fn get_or_store_with_ttl_expires() {
        let (cache, clock) = cache_with_clock().await;
        let v: u8 = cache
            .get_or_store_with_ttl("k", Duration::from_secs(2), || async { Ok::<_, DbDown>(1) })
            .await
            .unwrap();
        assert_eq!(v, 1);
        clock.advance(Duration::from_secs(2));
        let v: u8 = cache
            .get_or_store_with_ttl("k", Duration::from_secs(2), || async { Ok::<_, DbDown>(2) })
            .await
            .unwrap();
        assert_eq!(v, 2, "expired entry is a miss, generator ran again");
        cache.shutdown().await;
    }
}

// Memory only: drives a ManualClock to exact milliseconds, which Redis (real time) cannot follow;
// expiry_real.rs states the same rules in real time on every backend.
memory_only! {
    #[tokio::test]
    async fn counters() {
        let (cache, clock) = cache_with_clock().await;
        assert_eq!(cache.increment("c", 1).await.unwrap(), 1);
        assert_eq!(cache.increment("c", 10).await.unwrap(), 11);
        assert_eq!(cache.decrement("c", 4).await.unwrap(), 7);
        assert_eq!(cache.get::<i64>("c").await.unwrap(), Some(7));
        assert_eq!(cache.decrement("neg", 3).await.unwrap(), -3);

        // TTL applies when the counter is created, not on later increments.
        assert_eq!(
            cache
                .increment_with_ttl("t", 1, Duration::from_secs(5))
                .await
                .unwrap(),
            1
        );
        clock.advance(Duration::from_secs(3));
        cache
            .increment_with_ttl("t", 1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            cache.ttl("t").await.unwrap(),
            Some(Ttl::After(Duration::from_secs(2)))
        );
        clock.advance(Duration::from_secs(2));
        // Expired: starts again from 0.
        assert_eq!(cache.increment("t", 1).await.unwrap(), 1);

        // A counter written with put is a counter too.
        cache.put("p", &100i64).await.unwrap();
        assert_eq!(cache.increment("p", 1).await.unwrap(), 101);
        cache.shutdown().await;
    }
}

#[tokio::test]
async fn sets() {
    let cache = cache().await;
    assert!(cache.add_to_set("s", &"a").await.unwrap());
    assert!(cache.add_to_set("s", &"b").await.unwrap());
    assert!(!cache.add_to_set("s", &"a").await.unwrap());
    assert!(cache.is_member("s", &"a").await.unwrap());
    assert!(!cache.is_member("s", &"z").await.unwrap());
    let members: BTreeSet<String> = cache
        .set_members::<String>("s")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(members, BTreeSet::from(["a".to_string(), "b".to_string()]));
    assert!(cache.remove_from_set("s", &"a").await.unwrap());
    assert!(!cache.remove_from_set("s", &"a").await.unwrap());
    assert!(cache.remove_from_set("s", &"b").await.unwrap());
    assert!(
        !cache.exists("s").await.unwrap(),
        "an empty set is an absent key"
    );
    assert!(
        cache
            .set_members::<String>("absent")
            .await
            .unwrap()
            .is_empty()
    );
    // Members of any serde type.
    cache.add_to_set("ids", &42u64).await.unwrap();
    assert_eq!(cache.set_members::<u64>("ids").await.unwrap(), vec![42]);
    cache.shutdown().await;
}

#[tokio::test]
async fn set_and_value_kinds_do_not_mix() {
    let cache = cache().await;
    cache.put("v", &"plain").await.unwrap();
    cache.add_to_set("s", &1).await.unwrap();
    assert!(matches!(
        cache.add_to_set("v", &1).await,
        Err(CacheError::WrongType { .. })
    ));
    assert!(matches!(
        cache.get::<String>("s").await,
        Err(CacheError::WrongType { .. })
    ));
    assert!(matches!(
        cache.increment("s", 1).await,
        Err(CacheError::WrongType { .. })
    ));
    assert_eq!(
        cache.get::<String>("v").await.unwrap().as_deref(),
        Some("plain")
    );
    assert_eq!(cache.set_members::<i32>("s").await.unwrap(), vec![1]);
    cache.shutdown().await;
}

#[tokio::test]
async fn clear_and_delete_pattern() {
    let cache = cache().await;
    for i in 0..10 {
        cache.put(&format!("user_profiles:{i}"), &i).await.unwrap();
    }
    cache.put("user_profiles_extra", &0).await.unwrap();
    cache.put("other:1", &0).await.unwrap();
    assert_eq!(
        cache.delete_pattern("user_profiles:[0-4]").await.unwrap(),
        5
    );
    assert_eq!(cache.delete_pattern("user_profiles:*").await.unwrap(), 5);
    assert_eq!(cache.delete_pattern("user_profiles:*").await.unwrap(), 0);
    assert!(cache.exists("user_profiles_extra").await.unwrap());
    assert!(cache.exists("other:1").await.unwrap());
    assert_eq!(
        cache.delete_pattern("user?profiles?extra").await.unwrap(),
        1
    );
    assert_eq!(cache.clear().await.unwrap(), 1);
    assert!(!cache.exists("other:1").await.unwrap());
    cache.shutdown().await;
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let cache = cache().await;
    let a = cache.namespace("a").unwrap();
    let b = cache.namespace("b").unwrap();
    a.put("k", &"in a").await.unwrap();
    b.put("k", &"in b").await.unwrap();
    cache.put("k", &"in root").await.unwrap();
    assert_eq!(a.get::<String>("k").await.unwrap().as_deref(), Some("in a"));
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("in b"));
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("in root")
    );

    // delete_pattern matches only inside the namespace.
    a.put("x:1", &1).await.unwrap();
    b.put("x:1", &1).await.unwrap();
    assert_eq!(a.delete_pattern("*").await.unwrap(), 2);
    assert!(b.exists("x:1").await.unwrap());

    // clear on a scoped handle clears only that namespace.
    a.put("k", &"again").await.unwrap();
    assert_eq!(b.clear().await.unwrap(), 2);
    assert!(a.exists("k").await.unwrap());
    assert!(cache.exists("k").await.unwrap());

    // Keys that look like other namespaces stay where they are written.
    cache.put("b:k", &"root").await.unwrap();
    assert_eq!(b.get::<String>("k").await.unwrap(), None);

    // Delete in one namespace does not touch the same key elsewhere.
    assert!(a.delete("k").await.unwrap());
    assert!(cache.exists("k").await.unwrap());

    // clear on the root handle clears everything.
    b.put("k", &1).await.unwrap();
    cache.clear().await.unwrap();
    assert!(!b.exists("k").await.unwrap());
    assert!(!cache.exists("k").await.unwrap());
    cache.shutdown().await;
}

// Memory only: usage() reports the in-memory table (Redis keeps its own memory accounting).
memory_only! {
    #[tokio::test]
    async fn usage_counts_entries_and_bytes() {
        let cache = cache().await;
        let ns = cache.namespace("n").unwrap();
        ns.put("ab", &"xyz").await.unwrap(); // encoded "\"xyz\"" = 5 bytes
        let usage = cache.usage().await.unwrap();
        let n = usage
            .namespaces
            .iter()
            .find(|u| u.namespace == "n")
            .unwrap();
        assert_eq!(n.entries, 1);
        assert_eq!(n.bytes, (2 + 5 + deeper_cache::ENTRY_OVERHEAD_BYTES) as u64);
        ns.delete("ab").await.unwrap();
        let usage = cache.usage().await.unwrap();
        assert_eq!(usage.bytes, 0);
        cache.shutdown().await;
    }
}
