//! The Redis password never leaves the cache: not in an error, a `Debug` output or a log line
//! (captured at DEBUG with a global tracing subscriber), whether the password is right, wrong,
//! or the server is down. Checked on a real server with `requirepass`.
#![allow(clippy::field_reassign_with_default)]

mod support;

use deeper_cache::{Cache, CacheError};
use support::{RedisServer, redis_config, unique_prefix};

/// Asserts that `text` holds neither form (raw or percent-encoded) of `secret`.
fn assert_clean(what: &str, text: &str, secret: &str, encoded: &str) {
    assert!(
        !text.contains(secret) && !text.contains(encoded),
        "{what} leaks the password:\n{text}"
    );
}

#[tokio::test]
async fn the_password_is_redacted_everywhere() {
    let logs = support::logs::capture();
    // `@` and `:` need percent-encoding in the URL: both forms must stay hidden.
    let secret = "s3cret-P@ss:42";
    let encoded = "s3cret-P%40ss%3A42";
    let server = RedisServer::start_with_password(secret);
    assert!(server.url().contains(encoded));

    // The right password: the cache works.
    let good = Cache::start(redis_config(&server.url(), &unique_prefix("auth")))
        .await
        .unwrap();
    good.put("k", &"v").await.unwrap();
    assert_eq!(good.get::<String>("k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(good.increment("n", 2).await.unwrap(), 2);
    assert_clean("Debug of the cache", &format!("{good:?}"), secret, encoded);

    // A wrong password: every call fails with BackendUnavailable, and says nothing secret.
    let wrong_secret = "wr0ng-S3cret";
    let wrong_url = format!("redis://:{wrong_secret}@127.0.0.1:{}", server.port());
    let mut config = redis_config(&wrong_url, &unique_prefix("wrong"));
    config.redis.breaker_cooldown_ms = 20;
    config.redis.error_log_interval_ms = 1;
    let debug = format!("{config:?}");
    assert_clean("Debug of the config", &debug, wrong_secret, wrong_secret);
    assert!(debug.contains("redis://:***@127.0.0.1"), "{debug}");
    let wrong = Cache::start(config).await.unwrap();
    let mut messages = Vec::new();
    for i in 0..20 {
        let e = wrong.put("k", &i).await.unwrap_err();
        assert!(matches!(e, CacheError::BackendUnavailable { .. }), "{e:?}");
        messages.push(format!("{e} | {e:?}"));
        assert_eq!(wrong.get::<i32>("k").await.unwrap(), None);
        if let Err(e) = wrong.increment("n", 1).await {
            messages.push(format!("{e} | {e:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let all = messages.join("\n");
    assert!(
        all.to_lowercase().contains("auth") || all.contains("WRONGPASS"),
        "the error says what failed: {all}"
    );
    assert_clean("errors (wrong password)", &all, wrong_secret, wrong_secret);
    assert_clean(
        "Debug of the cache",
        &format!("{wrong:?}"),
        wrong_secret,
        wrong_secret,
    );

    // The server gone, with the right password in the URL.
    drop(server);
    let mut messages = Vec::new();
    for _ in 0..10 {
        if let Err(e) = good.put("k", &1).await {
            messages.push(format!("{e} | {e:?}"));
        }
    }
    assert!(!messages.is_empty());
    assert_clean(
        "errors (server down)",
        &messages.join("\n"),
        secret,
        encoded,
    );

    good.shutdown().await;
    wrong.shutdown().await;
    let text = logs.text();
    assert!(
        text.contains(":***@127.0.0.1"),
        "the redacted URL is logged:\n{text}"
    );
    assert!(
        !logs.lines_with(&["ERROR", "redis"]).is_empty(),
        "failures were logged:\n{text}"
    );
    assert_clean("the logs", &text, secret, encoded);
    assert_clean("the logs", &text, wrong_secret, wrong_secret);
}
