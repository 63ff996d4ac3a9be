// Expiry rules in real time, on every backend (the memory planes read the system clock here).
// Sub-second TTLs, and every wait for an expiry is a bounded poll, never a fixed sleep that
// would have to guess the backend's timing.

use std::future::Future;
use std::time::{Duration, Instant};

use deeper_cache::Ttl;

/// A TTL short enough to wait for, long enough that the steps done before it runs out take
/// a fraction of it even on a loaded machine.
const SHORT: Duration = Duration::from_millis(300);

/// Polls `check` every 10 ms until it holds; fails after 5 s.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts `ttl` is `Some(After(d))` with `max - slack < d <= max`.
fn assert_ttl_near(ttl: Option<Ttl>, max: Duration, slack: Duration) {
    match ttl {
        Some(Ttl::After(d)) => assert!(
            d <= max && d + slack > max,
            "remaining {d:?}, expected within {slack:?} below {max:?}"
        ),
        other => panic!("expected a finite ttl near {max:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn real_time_expired_entry_is_a_miss_on_every_read_path() {
    let cache = cache().await;
    cache.put_with_ttl("v", &"value", SHORT).await.unwrap();
    cache.increment_with_ttl("c", 5, SHORT).await.unwrap();
    assert!(cache.exists("v").await.unwrap(), "live before its ttl");
    assert_ttl_near(cache.ttl("v").await.unwrap(), SHORT, SHORT);
    wait_until("v expired", || async { !cache.exists("v").await.unwrap() }).await;
    wait_until("c expired", || async { !cache.exists("c").await.unwrap() }).await;

    assert_eq!(cache.get::<String>("v").await.unwrap(), None);
    assert_eq!(
        cache.get_or("v", "default".to_string()).await.unwrap(),
        "default"
    );
    assert_eq!(cache.ttl("v").await.unwrap(), None);
    assert!(
        !cache.delete("v").await.unwrap(),
        "deleting an expired entry removes nothing live"
    );
    assert_eq!(cache.get::<i64>("c").await.unwrap(), None);
    assert_eq!(
        cache.increment("c", 1).await.unwrap(),
        1,
        "expired counter restarts at 0"
    );

    // Patterns and clears do not count expired entries.
    cache.put_with_ttl("p:1", &1, SHORT).await.unwrap();
    cache.put_with_ttl("p:2", &1, Ttl::Never).await.unwrap();
    wait_until("p:1 expired", || async { !cache.exists("p:1").await.unwrap() }).await;
    assert_eq!(cache.delete_pattern("p:*").await.unwrap(), 1);
    let ns = cache.namespace("short").unwrap();
    ns.put_with_ttl("a", &1, SHORT).await.unwrap();
    ns.put_with_ttl("b", &1, Ttl::Never).await.unwrap();
    wait_until("a expired", || async { !ns.exists("a").await.unwrap() }).await;
    assert_eq!(ns.clear().await.unwrap(), 1);
    cache.shutdown().await;
}

#[tokio::test]
async fn real_time_overwrite_replaces_value_and_ttl() {
    let cache = cache().await;
    cache.put_with_ttl("k", &"first", SHORT).await.unwrap();
    cache
        .put_with_ttl("k", &"second", Ttl::Never)
        .await
        .unwrap();
    assert_eq!(cache.ttl("k").await.unwrap(), Some(Ttl::Never));
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("second"),
        "the first ttl no longer applies"
    );
    cache.put_with_ttl("k", &42, SHORT).await.unwrap();
    assert_ttl_near(cache.ttl("k").await.unwrap(), SHORT, SHORT);
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(42));
    cache.shutdown().await;
}

#[tokio::test]
async fn real_time_ttl_reports_remaining_time() {
    let cache = cache().await;
    assert_eq!(cache.ttl("absent").await.unwrap(), None);
    cache
        .put_with_ttl("k", &1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_ttl_near(
        cache.ttl("k").await.unwrap(),
        Duration::from_secs(10),
        Duration::from_secs(2),
    );
    // put uses the configured default TTL (3600 s).
    cache.put("d", &1).await.unwrap();
    assert_ttl_near(
        cache.ttl("d").await.unwrap(),
        Duration::from_secs(3600),
        Duration::from_secs(2),
    );
    cache.shutdown().await;
}

#[tokio::test]
async fn real_time_get_or_store_with_ttl_expires() {
    let cache = cache().await;
    let gen_value = |v: u8| move || async move { Ok::<_, std::io::Error>(v) };
    let v: u8 = cache
        .get_or_store_with_ttl("k", SHORT, gen_value(1))
        .await
        .unwrap();
    assert_eq!(v, 1);
    let v: u8 = cache
        .get_or_store_with_ttl("k", SHORT, gen_value(2))
        .await
        .unwrap();
    assert_eq!(v, 1, "a hit before the ttl runs out");
    wait_until("k expired", || async { !cache.exists("k").await.unwrap() }).await;
    let v: u8 = cache
        .get_or_store_with_ttl("k", SHORT, gen_value(2))
        .await
        .unwrap();
    assert_eq!(v, 2, "expired entry is a miss, generator ran again");
    cache.shutdown().await;
}

#[tokio::test]
async fn real_time_counters_get_their_ttl_on_creation_only() {
    let cache = cache().await;
    assert_eq!(cache.increment("c", 1).await.unwrap(), 1);
    assert_eq!(cache.increment("c", 10).await.unwrap(), 11);
    assert_eq!(cache.decrement("c", 4).await.unwrap(), 7);
    assert_eq!(cache.get::<i64>("c").await.unwrap(), Some(7));
    assert_eq!(cache.decrement("neg", 3).await.unwrap(), -3);

    // TTL applies when the counter is created, not on later increments.
    let ten = Duration::from_secs(10);
    cache.increment_with_ttl("t", 1, ten).await.unwrap();
    cache.increment_with_ttl("t", 1, SHORT).await.unwrap();
    cache.increment_with_ttl("t", 1, Ttl::Never).await.unwrap();
    assert_ttl_near(cache.ttl("t").await.unwrap(), ten, Duration::from_secs(2));
    assert_eq!(cache.get::<i64>("t").await.unwrap(), Some(3));

    // Expired: starts again from 0, with the TTL of the new creation (the default here).
    cache.increment_with_ttl("s", 5, SHORT).await.unwrap();
    wait_until("s expired", || async { !cache.exists("s").await.unwrap() }).await;
    assert_eq!(cache.increment("s", 1).await.unwrap(), 1);
    assert_ttl_near(
        cache.ttl("s").await.unwrap(),
        Duration::from_secs(3600),
        Duration::from_secs(2),
    );

    // A counter written with put is a counter too.
    cache.put("p", &100i64).await.unwrap();
    assert_eq!(cache.increment("p", 1).await.unwrap(), 101);
    cache.shutdown().await;
}
