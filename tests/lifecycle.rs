//! Start, shutdown, several instances, the no-op backend, and crashes that lose nothing.
#![allow(clippy::field_reassign_with_default)]

mod common;

use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, CacheError, ChildKind, Fault, GetOrStoreError, Ttl};

#[tokio::test]
async fn calls_after_shutdown_return_a_typed_error() {
    let cache = common::cache().await;
    let clone = cache.clone();
    let scoped = cache.namespace("n").unwrap();
    cache.put("k", &1).await.unwrap();
    cache.shutdown().await;
    cache.shutdown().await; // idempotent
    assert_eq!(clone.get::<i32>("k").await, Err(CacheError::ShutDown));
    assert_eq!(scoped.put("k", &1).await, Err(CacheError::ShutDown));
    assert_eq!(clone.increment("c", 1).await, Err(CacheError::ShutDown));
    assert_eq!(clone.clear().await, Err(CacheError::ShutDown));
    assert_eq!(clone.purge_expired().await, Err(CacheError::ShutDown));
    assert_eq!(clone.usage().await, Err(CacheError::ShutDown));
    assert_eq!(clone.supervisor_status().await, Err(CacheError::ShutDown));
    let r: Result<i32, _> = clone
        .get_or_store("k", || async { Ok::<_, std::io::Error>(1) })
        .await;
    assert!(matches!(
        r,
        Err(GetOrStoreError::Cache(CacheError::ShutDown))
    ));
}

#[tokio::test]
async fn shutdown_stops_every_actor_and_frees_the_name() {
    let mut config = CacheConfig::default();
    config.name = Some("lifecycle_named".into());
    let cache = Cache::start(config.clone()).await.unwrap();
    let actors = |prefix: &str| {
        ractor::registry::registered()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .count()
    };
    assert_eq!(actors("lifecycle_named"), 5, "supervisor + 4 children");
    let err = Cache::start(config.clone()).await.unwrap_err();
    assert!(matches!(err, CacheError::Start { .. }), "{err:?}");
    assert!(err.to_string().contains("already in use"));
    cache.shutdown().await;
    assert_eq!(actors("lifecycle_named"), 0, "no actor left behind");
    let again = Cache::start(config).await.unwrap();
    again.put("k", &1).await.unwrap();
    again.shutdown().await;
}

#[tokio::test]
async fn two_caches_in_one_process_do_not_see_each_other() {
    let a = common::cache().await;
    let b = common::cache().await;
    assert_ne!(a.name(), b.name());
    a.put("k", &"a").await.unwrap();
    assert_eq!(b.get::<String>("k").await.unwrap(), None);
    b.put("k", &"b").await.unwrap();
    assert_eq!(a.get::<String>("k").await.unwrap().as_deref(), Some("a"));
    a.clear().await.unwrap();
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("b"));
    a.shutdown().await;
    assert_eq!(b.get::<String>("k").await.unwrap().as_deref(), Some("b"));
    b.shutdown().await;
}

#[tokio::test]
async fn noop_mode_stores_nothing() {
    let mut config = CacheConfig::default();
    config.enabled = false;
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &1).await.unwrap();
    assert_eq!(cache.get::<i32>("k").await.unwrap(), None);
    assert!(!cache.exists("k").await.unwrap());
    assert_eq!(cache.ttl("k").await.unwrap(), None);
    assert!(!cache.delete("k").await.unwrap());
    // Counters: every increment meets a fresh counter.
    assert_eq!(cache.increment("c", 5).await.unwrap(), 5);
    assert_eq!(cache.increment("c", 5).await.unwrap(), 5);
    assert_eq!(cache.get::<i64>("c").await.unwrap(), None);
    assert!(cache.add_to_set("s", &1).await.unwrap());
    assert!(cache.set_members::<i32>("s").await.unwrap().is_empty());
    assert_eq!(cache.clear().await.unwrap(), 0);
    assert_eq!(cache.delete_pattern("*").await.unwrap(), 0);
    let mut runs = 0;
    for _ in 0..3 {
        let v: i32 = cache
            .get_or_store("g", || {
                runs += 1;
                async { Ok::<_, std::io::Error>(7) }
            })
            .await
            .unwrap();
        assert_eq!(v, 7);
    }
    assert_eq!(runs, 3, "get_or_store always runs the generator");
    let status = cache.supervisor_status().await.unwrap();
    let kinds: Vec<_> = status.children.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![ChildKind::Adapter, ChildKind::MetricsReporter]);
    cache.shutdown().await;

    // default_adapter = "noop" does the same with caching enabled.
    let mut config = CacheConfig::default();
    config.default_adapter = deeper_cache::AdapterKind::Noop;
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &1).await.unwrap();
    assert_eq!(cache.get::<i32>("k").await.unwrap(), None);
    cache.shutdown().await;
}

fn actor_id(status: &deeper_cache::SupervisorStatus, kind: ChildKind) -> Option<String> {
    status
        .children
        .iter()
        .find(|c| c.kind == kind)
        .and_then(|c| c.actor_id.clone())
}

#[tokio::test]
async fn a_store_crash_loses_no_entries() {
    let (cache, _clock) = common::cache_with_clock().await;
    for i in 0..1_000 {
        cache.put(&format!("k{i}"), &i).await.unwrap();
    }
    cache.increment("counter", 41).await.unwrap();
    cache.add_to_set("set", &"member").await.unwrap();
    cache
        .put_with_ttl("ttl", &1, Duration::from_secs(30))
        .await
        .unwrap();
    let before = cache.supervisor_status().await.unwrap();

    cache.inject_fault(ChildKind::Store, Fault::Panic);
    // The Store panics on this request; the call follows the restart and gets an answer from
    // the new incarnation.
    let usage = cache.usage().await.unwrap();
    assert_eq!(usage.entries, 1_003);

    let after = cache.supervisor_status().await.unwrap();
    assert_ne!(
        actor_id(&before, ChildKind::Store),
        actor_id(&after, ChildKind::Store)
    );
    assert_eq!(
        actor_id(&before, ChildKind::Adapter),
        actor_id(&after, ChildKind::Adapter),
        "one_for_one: only the Store restarted"
    );
    assert_eq!(
        after
            .children
            .iter()
            .find(|c| c.kind == ChildKind::Store)
            .unwrap()
            .restarts,
        1
    );
    for i in (0..1_000).step_by(37) {
        assert_eq!(cache.get::<i32>(&format!("k{i}")).await.unwrap(), Some(i));
    }
    assert_eq!(cache.increment("counter", 1).await.unwrap(), 42);
    assert!(cache.is_member("set", &"member").await.unwrap());
    assert_eq!(
        cache.ttl("ttl").await.unwrap(),
        Some(Ttl::After(Duration::from_secs(30)))
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn an_adapter_crash_is_followed_by_the_facade() {
    let mut config = CacheConfig::default();
    config.adapter.mode = deeper_cache::DataPlaneMode::Rpc;
    config.adapter.partitions = 1;
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &"kept").await.unwrap();
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    // The panicking call is a read (idempotent): it is retried on the new adapter.
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("kept")
    );
    // An increment that meets the crash before the adapter began applying it is retried and
    // applied exactly once.
    cache.inject_fault(ChildKind::Adapter, Fault::Panic);
    assert_eq!(cache.increment("c", 1).await.unwrap(), 1);
    // One the adapter had begun applying when it died is not retried (it might have been
    // applied): the caller gets Unavailable.
    cache.inject_fault(ChildKind::Adapter, Fault::PanicMidway);
    let err = cache.increment("c", 1).await.unwrap_err();
    assert!(matches!(err, CacheError::Unavailable { .. }), "{err:?}");
    assert_eq!(cache.increment("c", 1).await.unwrap(), 2);
    let status = cache.supervisor_status().await.unwrap();
    let adapter = status
        .children
        .iter()
        .find(|c| c.kind == ChildKind::Adapter)
        .unwrap();
    assert_eq!(adapter.restarts, 3);
    cache.shutdown().await;
}

#[tokio::test]
async fn a_cleanup_crash_is_restarted_and_sweeps_again() {
    let (cache, clock) = common::cache_with_clock().await;
    cache
        .put_with_ttl("short", &1, Duration::from_secs(1))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    cache.inject_fault(ChildKind::Cleanup, Fault::Panic);
    // The sweep request meets the crash; it is retried on the restarted Cleanup.
    assert_eq!(cache.purge_expired().await.unwrap(), 1);
    let status = cache.supervisor_status().await.unwrap();
    assert_eq!(
        status
            .children
            .iter()
            .find(|c| c.kind == ChildKind::Cleanup)
            .unwrap()
            .restarts,
        1
    );
    cache.shutdown().await;
}
