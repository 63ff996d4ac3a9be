// Bulk calls (get_many, put_many, delete_many and their `_in` forms) and the entry lifecycle
// (expire, touch, decrement_with_ttl), on every backend and plane.
use std::time::Duration;

use deeper_cache::{CacheError, Ttl};

#[tokio::test]
async fn get_many_answers_in_input_order_with_misses_and_duplicates() {
    let cache = cache().await;
    cache
        .put_many(&[("a", 1), ("b", 2), ("c", 3)], Duration::from_secs(60))
        .await
        .unwrap();
    let got: Vec<Option<i32>> = cache
        .get_many(&["c", "missing", "a", "c", "b"])
        .await
        .unwrap();
    assert_eq!(got, [Some(3), None, Some(1), Some(3), Some(2)]);
    let none: Vec<Option<i32>> = cache.get_many::<i32, &str>(&[]).await.unwrap();
    assert!(none.is_empty());
    cache.shutdown().await;
}

#[tokio::test]
async fn get_many_reads_a_set_as_a_miss_and_counters_as_values() {
    let cache = cache().await;
    cache.add_to_set("s", &"m").await.unwrap();
    cache.increment("n", 5).await.unwrap();
    cache.put("v", &"x").await.unwrap();
    let got: Vec<Option<serde_json::Value>> = cache.get_many(&["s", "n", "v"]).await.unwrap();
    assert_eq!(got, [None, Some(5.into()), Some("x".into())]);
    cache.shutdown().await;
}

#[tokio::test]
async fn put_many_later_duplicate_wins_and_ttl_applies_to_each() {
    let cache = cache().await;
    cache
        .put_many(&[("k", "first"), ("k", "second")], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("second")
    );
    match cache.ttl("k").await.unwrap() {
        Some(Ttl::After(d)) => assert!(d <= Duration::from_secs(30) && d > Duration::ZERO),
        other => panic!("unexpected ttl {other:?}"),
    }
    cache.put_many(&[("p", 1)], Ttl::Never).await.unwrap();
    assert_eq!(cache.ttl("p").await.unwrap(), Some(Ttl::Never));
    cache.shutdown().await;
}

#[tokio::test]
async fn bulk_calls_across_namespaces() {
    let cache = cache().await;
    let a = cache.namespace("bulk_a").unwrap();
    let b = cache.namespace("bulk_b").unwrap();
    cache
        .put_many_in(&[("bulk_a", "k", "in a"), ("bulk_b", "k", "in b")], Ttl::Never)
        .await
        .unwrap();
    let e = cache
        .put_many_in(&[("bulk_a", "k2", "x"), ("", "k", "y")], Ttl::Never)
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::InvalidNamespace { .. }), "{e:?}");
    assert_eq!(a.get::<String>("k2").await.unwrap(), None);
    // The same key in two namespaces stays apart.
    let got: Vec<Option<String>> = cache
        .get_many_in(&[("bulk_a", "k"), ("bulk_b", "k"), ("bulk_c", "k")])
        .await
        .unwrap();
    assert_eq!(got, [Some("in a".into()), Some("in b".into()), None]);
    assert_eq!(
        a.get_many::<String, _>(&["k"]).await.unwrap(),
        [Some("in a".to_string())]
    );
    assert_eq!(
        cache
            .delete_many_in(&[("bulk_a", "k"), ("bulk_a", "k"), ("bulk_c", "k")])
            .await
            .unwrap(),
        1
    );
    assert_eq!(a.get::<String>("k").await.unwrap(), None);
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("in b"));
    cache.shutdown().await;
}

#[tokio::test]
async fn delete_many_counts_live_entries_once() {
    let cache = cache().await;
    cache
        .put_many(&[("x", 1), ("y", 2)], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        cache.delete_many(&["x", "y", "x", "none"]).await.unwrap(),
        2
    );
    assert_eq!(
        cache.get_many::<i32, _>(&["x", "y"]).await.unwrap(),
        [None, None]
    );
    assert_eq!(cache.delete_many::<&str>(&[]).await.unwrap(), 0);
    cache.shutdown().await;
}

#[tokio::test]
async fn an_invalid_item_rejects_the_whole_bulk_call_before_any_write() {
    let cache = cache().await;
    let long = "k".repeat(deeper_cache::MAX_KEY_BYTES + 1);
    let before = snapshot(&cache).await;
    let e = cache
        .put_many(&[("ok1", 1), ("", 2), ("ok2", 3)], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::InvalidKey { .. }), "{e:?}");
    let e = cache
        .put_many(&[("ok1", 1), (long.as_str(), 2)], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::InvalidKey { .. }), "{e:?}");
    let e = cache
        .put_many(&[("ok1", 1)], Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::InvalidTtl { .. }), "{e:?}");
    let big = "v".repeat(deeper_cache::MemoryConfig::default().max_value_bytes + 1);
    let e = cache
        .put_many(&[("ok1", "small"), ("ok2", big.as_str())], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::ValueTooLarge { .. }), "{e:?}");
    assert_eq!(snapshot(&cache).await, before, "nothing was written");
    assert_eq!(
        cache.get_many::<i32, _>(&["ok1", "ok2"]).await.unwrap(),
        [None, None]
    );
    // Reads and deletes too: nothing is read or removed.
    cache.put("keep", &1).await.unwrap();
    let e = cache.delete_many(&["keep", ""]).await.unwrap_err();
    assert!(matches!(e, CacheError::InvalidKey { .. }), "{e:?}");
    assert_eq!(cache.get::<i32>("keep").await.unwrap(), Some(1));
    let e = cache.get_many::<i32, _>(&["keep", ""]).await.unwrap_err();
    assert!(matches!(e, CacheError::InvalidKey { .. }), "{e:?}");
    let e = cache
        .get_many_in::<i32, _, _>(&[("", "keep")])
        .await
        .unwrap_err();
    assert!(matches!(e, CacheError::InvalidNamespace { .. }), "{e:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn bulk_calls_count_each_key_like_single_key_calls() {
    let cache = cache().await;
    let ns = cache.namespace("bulk_stats").unwrap();
    ns.put_many(&[("a", 1), ("b", 2)], Ttl::Never).await.unwrap();
    ns.get_many::<i32, _>(&["a", "b", "c"]).await.unwrap();
    ns.delete_many(&["a"]).await.unwrap();
    let stats = cache.stats().await.unwrap();
    let s = &stats.namespaces["bulk_stats"];
    assert_eq!((s.hits, s.misses), (2, 1));
    assert_eq!(s.operations.get("put").copied(), Some(2));
    assert_eq!(s.operations.get("delete").copied(), Some(1));
    assert_eq!(s.operations.get("get_many").copied(), Some(1));
    assert_eq!(s.operations.get("put_many").copied(), Some(1));
    cache.shutdown().await;
}

#[tokio::test]
async fn expire_sets_a_new_ttl_on_values_counters_and_sets() {
    let cache = cache().await;
    cache.put_with_ttl("v", &"x", Ttl::Never).await.unwrap();
    cache.increment_with_ttl("n", 1, Ttl::Never).await.unwrap();
    cache.add_to_set("s", &"m").await.unwrap();
    for key in ["v", "n", "s"] {
        assert!(cache.expire(key, Duration::from_secs(100)).await.unwrap());
        match cache.ttl(key).await.unwrap() {
            Some(Ttl::After(d)) => assert!(d <= Duration::from_secs(100), "{key}: {d:?}"),
            other => panic!("{key}: unexpected ttl {other:?}"),
        }
        assert!(cache.expire(key, Ttl::Never).await.unwrap());
        assert_eq!(cache.ttl(key).await.unwrap(), Some(Ttl::Never), "{key}");
    }
    // The value is untouched.
    assert_eq!(cache.get::<String>("v").await.unwrap().as_deref(), Some("x"));
    assert_eq!(cache.get::<i64>("n").await.unwrap(), Some(1));
    assert_eq!(cache.set_members::<String>("s").await.unwrap(), ["m"]);
    // Absent keys: false, nothing created.
    assert!(!cache.expire("absent", Duration::from_secs(5)).await.unwrap());
    assert!(!cache.expire("absent", Ttl::Never).await.unwrap());
    assert!(!cache.exists("absent").await.unwrap());
    let e = cache.expire("v", Duration::ZERO).await.unwrap_err();
    assert!(matches!(e, CacheError::InvalidTtl { .. }), "{e:?}");
    cache.shutdown().await;
}

#[tokio::test]
async fn touch_reports_live_entries_and_keeps_their_ttl() {
    let cache = cache().await;
    cache.put_with_ttl("v", &1, Ttl::Never).await.unwrap();
    assert!(cache.touch("v").await.unwrap());
    assert_eq!(cache.ttl("v").await.unwrap(), Some(Ttl::Never));
    assert_eq!(cache.get::<i32>("v").await.unwrap(), Some(1));
    assert!(!cache.touch("absent").await.unwrap());
    assert!(!cache.exists("absent").await.unwrap());
    cache.shutdown().await;
}

#[tokio::test]
async fn decrement_with_ttl_sets_the_ttl_on_creation_only() {
    let cache = cache().await;
    assert_eq!(
        cache
            .decrement_with_ttl("c", 3, Duration::from_secs(50))
            .await
            .unwrap(),
        -3
    );
    assert!(matches!(cache.ttl("c").await.unwrap(), Some(Ttl::After(_))));
    cache.expire("c", Ttl::Never).await.unwrap();
    assert_eq!(
        cache
            .decrement_with_ttl("c", 1, Duration::from_secs(50))
            .await
            .unwrap(),
        -4
    );
    assert_eq!(cache.ttl("c").await.unwrap(), Some(Ttl::Never));
    let e = cache.decrement_with_ttl("c", i64::MIN, Ttl::Never).await;
    assert!(matches!(e, Err(CacheError::Overflow)), "{e:?}");
    cache.shutdown().await;
}

// Real time on every backend: an entry given a short TTL by `expire` becomes a miss
// (bounded polling, no timed assertion).
#[tokio::test]
async fn expire_shortens_a_ttl_in_real_time() {
    let cache = cache().await;
    cache.put_with_ttl("soon", &1, Ttl::Never).await.unwrap();
    assert!(cache.expire("soon", Duration::from_millis(30)).await.unwrap());
    for _ in 0..500 {
        if cache.get::<i32>("soon").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(cache.get::<i32>("soon").await.unwrap(), None);
    assert_eq!(
        cache.get_many::<i32, _>(&["soon"]).await.unwrap(),
        [None]
    );
    cache.shutdown().await;
}

memory_only! {
    #[tokio::test]
    async fn bulk_and_expire_follow_the_clock_to_the_millisecond() {
        let (cache, clock) = cache_with_clock().await;
        cache
            .put_many(&[("a", 1), ("b", 2)], Duration::from_secs(10))
            .await
            .unwrap();
        assert!(cache.expire("b", Duration::from_secs(20)).await.unwrap());
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(
            cache.get_many::<i32, _>(&["a", "b"]).await.unwrap(),
            [Some(1), Some(2)]
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            cache.get_many::<i32, _>(&["a", "b"]).await.unwrap(),
            [None, Some(2)]
        );
        // `expire` of an expired entry is false and does not revive it.
        assert!(!cache.expire("a", Ttl::Never).await.unwrap());
        assert!(!cache.touch("a").await.unwrap());
        clock.advance(Duration::from_millis(10_000));
        assert_eq!(cache.get::<i32>("b").await.unwrap(), None);
        cache.shutdown().await;
    }

    #[tokio::test]
    async fn time_to_idle_expires_unused_entries_and_touch_restarts_it() {
        let clock = ManualClock::new();
        let mut config = quiet_config(plane());
        config.namespaces.insert(
            "sessions".into(),
            deeper_cache::NamespaceConfig {
                tti: Some(Duration::from_secs(10)),
            },
        );
        let cache = Cache::start_with_clock(config, &clock).await.unwrap();
        let s = cache.namespace("sessions").unwrap();
        // A TTL given to a write does not apply in a tti namespace: idleness decides.
        s.put_with_ttl("read", &1, Duration::from_secs(1)).await.unwrap();
        s.put_many(&[("touched", 2), ("idle", 3)], Ttl::Never).await.unwrap();
        s.increment("counter", 1).await.unwrap();
        // Other namespaces are unaffected.
        cache.put_with_ttl("plain", &4, Duration::from_secs(15)).await.unwrap();
        for _ in 0..3 {
            clock.advance(Duration::from_secs(6));
            assert_eq!(s.get::<i32>("read").await.unwrap(), Some(1));
            assert!(s.touch("touched").await.unwrap());
            assert!(s.increment("counter", 1).await.unwrap() > 1);
        }
        // 18 s after its write, `idle` (never used) is gone; the used entries live on.
        assert_eq!(s.get::<i32>("idle").await.unwrap(), None);
        assert_eq!(
            s.get_many::<i32, _>(&["read", "touched"]).await.unwrap(),
            [Some(1), Some(2)]
        );
        assert_eq!(cache.get::<i32>("plain").await.unwrap(), None);
        // `exists` and `ttl` are not uses.
        clock.advance(Duration::from_secs(9));
        assert!(s.exists("read").await.unwrap());
        assert!(s.ttl("read").await.unwrap().is_some());
        assert!(s.touch("touched").await.unwrap());
        clock.advance(Duration::from_secs(1));
        assert!(!s.exists("read").await.unwrap());
        // The sweep removes what idled out (idle, read, counter, and plain by its TTL), and
        // keeps what was used, though its expiry-index item is older than its deadline.
        assert_eq!(cache.purge_expired().await.unwrap(), 4);
        assert_eq!(s.get::<i32>("touched").await.unwrap(), Some(2));
        clock.advance(Duration::from_secs(10));
        assert_eq!(cache.purge_expired().await.unwrap(), 1);
        assert_eq!(cache.usage().await.unwrap().entries, 0);
        cache.shutdown().await;
    }
}

// Time to idle on every backend, without timing: a use (read, bulk read, touch, counter and
// set writes) sets the entry's expiry back to `tti`, an explicit `expire` moves it for the
// current idle period, and a write's own TTL does not apply. Then an unused entry does expire
// (bounded polling).
#[tokio::test]
async fn time_to_idle_resets_on_use_on_every_backend() {
    let tti = Duration::from_secs(50);
    let mut config = config();
    config.namespaces.insert(
        "idle_ns".into(),
        deeper_cache::NamespaceConfig { tti: Some(tti) },
    );
    config.namespaces.insert(
        "idle_fast".into(),
        deeper_cache::NamespaceConfig {
            tti: Some(Duration::from_millis(40)),
        },
    );
    let cache = Cache::start(config).await.unwrap();
    let s = cache.namespace("idle_ns").unwrap();
    let within_tti = |t: Option<Ttl>| matches!(t, Some(Ttl::After(d)) if d <= tti && d > Duration::from_secs(40));
    s.put_with_ttl("v", &1, Ttl::Never).await.unwrap();
    assert!(within_tti(s.ttl("v").await.unwrap()), "a write sets tti");
    s.put_many(&[("m", 1)], Duration::from_secs(3_600)).await.unwrap();
    assert!(within_tti(s.ttl("m").await.unwrap()));
    let long = Duration::from_secs(3_600);
    let far = |t: Option<Ttl>| matches!(t, Some(Ttl::After(d)) if d > Duration::from_secs(3_000));
    // get
    assert!(s.expire("v", long).await.unwrap());
    assert!(far(s.ttl("v").await.unwrap()));
    assert_eq!(s.get::<i32>("v").await.unwrap(), Some(1));
    assert!(within_tti(s.ttl("v").await.unwrap()), "get is a use");
    // get_many
    s.expire("m", long).await.unwrap();
    assert_eq!(s.get_many::<i32, _>(&["m"]).await.unwrap(), [Some(1)]);
    assert!(within_tti(s.ttl("m").await.unwrap()), "get_many is a use");
    // touch
    s.expire("m", long).await.unwrap();
    assert!(s.touch("m").await.unwrap());
    assert!(within_tti(s.ttl("m").await.unwrap()), "touch is a use");
    // exists / ttl are not uses
    s.expire("m", long).await.unwrap();
    assert!(s.exists("m").await.unwrap());
    assert!(far(s.ttl("m").await.unwrap()));
    // counters and sets
    s.increment_with_ttl("c", 1, Ttl::Never).await.unwrap();
    assert!(within_tti(s.ttl("c").await.unwrap()));
    s.expire("c", long).await.unwrap();
    s.increment("c", 1).await.unwrap();
    assert!(within_tti(s.ttl("c").await.unwrap()), "an update is a use");
    s.add_to_set("set", &"a").await.unwrap();
    s.expire("set", long).await.unwrap();
    assert!(s.is_member("set", &"a").await.unwrap());
    assert!(within_tti(s.ttl("set").await.unwrap()), "a set read is a use");
    // An unused entry idles out.
    let fast = cache.namespace("idle_fast").unwrap();
    fast.put("gone", &1).await.unwrap();
    for _ in 0..500 {
        if !fast.exists("gone").await.unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!fast.exists("gone").await.unwrap());
    cache.shutdown().await;
}
