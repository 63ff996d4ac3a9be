//! The `deeper-cache-admin` binary, spawned against a running cache's admin listener (memory
//! and Redis backends): every command, `--json`, the token from the environment, and the exit
//! codes scripts rely on (0 ok, 2 usage or refused input, 3 not found, 4 unauthorized or
//! forbidden, 5 unreachable).
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::process::{Command, Output};

use deeper_cache::Cache;
use serde_json::Value;
use support::RedisServer;
use support::admin::{ADMIN, READ, memory_cache, redis_cache};

/// Runs the CLI against `url` with `token` in its environment.
async fn cli(url: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deeper-cache-admin"));
    cmd.arg("--url").arg(url).args(args);
    cmd.env_remove("DEEPER_CACHE_ADMIN_TOKEN")
        .env_remove("DEEPER_CACHE_ADMIN_URL");
    if let Some(t) = token {
        cmd.env("DEEPER_CACHE_ADMIN_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("the CLI runs"))
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn code(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "exit code; stdout: {} stderr: {}",
        stdout(o),
        stderr(o)
    );
}

async fn every_command(cache: &Cache) {
    let users = cache.namespace("users").unwrap();
    for i in 0..30 {
        users
            .put(&format!("user:{i:02}"), &format!("secret-value-{i}"))
            .await
            .unwrap();
    }
    cache
        .namespace("pages")
        .unwrap()
        .increment("views", 3)
        .await
        .unwrap();
    let _ = users.get::<String>("user:01").await.unwrap();
    let url = format!("http://{}", cache.admin_addr().unwrap());
    let url = url.as_str();

    let o = cli(url, Some(READ), &["stats"]).await;
    code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains("NAMESPACE") && text.contains("users"),
        "{text}"
    );
    let o = cli(url, Some(READ), &["stats", "--json"]).await;
    code(&o, 0);
    let stats: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(stats["namespaces"]["users"]["hits"].as_u64().unwrap() >= 1);

    let o = cli(url, Some(READ), &["health"]).await;
    code(&o, 0);
    assert!(stdout(&o).contains("ready"), "{}", stdout(&o));

    let o = cli(url, Some(READ), &["namespaces", "--json"]).await;
    code(&o, 0);
    let names: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        names["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "users" && n["keys"] == 30),
        "{names}"
    );

    // Keys: one page with a hint, then every page.
    let o = cli(
        url,
        Some(READ),
        &["keys", "users", "user:*", "--limit", "7"],
    )
    .await;
    code(&o, 0);
    assert!(stdout(&o).lines().count() <= 7);
    assert!(stderr(&o).contains("--cursor"), "{}", stderr(&o));
    let o = cli(
        url,
        Some(READ),
        &["keys", "users", "user:*", "--limit", "7", "--all"],
    )
    .await;
    code(&o, 0);
    let mut keys: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    keys.sort();
    let expected: Vec<String> = (0..30).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(keys, expected);
    let o = cli(url, Some(READ), &["keys", "users", "user:[", "--json"]).await;
    code(&o, 2);
    assert!(stderr(&o).contains("invalid pattern"), "{}", stderr(&o));

    // Inspect: metadata, never the value (show_values is off).
    let o = cli(url, Some(READ), &["inspect", "users", "user:05"]).await;
    code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains("kind") && text.contains("value") && text.contains("ttl_ms"),
        "{text}"
    );
    assert!(!text.contains("secret-value"), "{text}");
    let o = cli(url, Some(READ), &["inspect", "users", "nope"]).await;
    code(&o, 3);

    // Deleting: a read token is forbidden (4), nothing goes.
    let o = cli(url, Some(READ), &["del", "users", "user:05"]).await;
    code(&o, 4);
    assert!(stderr(&o).contains("admin token"), "{}", stderr(&o));
    assert!(users.get::<String>("user:05").await.unwrap().is_some());
    let o = cli(url, Some(ADMIN), &["del", "users", "user:05"]).await;
    code(&o, 0);
    assert!(users.get::<String>("user:05").await.unwrap().is_none());
    let o = cli(url, Some(ADMIN), &["del", "users", "user:05"]).await;
    code(&o, 3);

    // Bulk deletes need --yes.
    let o = cli(url, Some(ADMIN), &["del-pattern", "users", "user:1*"]).await;
    code(&o, 2);
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    let o = cli(
        url,
        Some(ADMIN),
        &["del-pattern", "users", "user:1*", "--yes", "--json"],
    )
    .await;
    code(&o, 0);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["removed"], 10);
    let o = cli(url, Some(ADMIN), &["clear", "users"]).await;
    code(&o, 2);
    let o = cli(url, Some(ADMIN), &["clear", "users", "-y"]).await;
    code(&o, 0);
    assert_eq!(stdout(&o).trim(), "removed 19 from users");
    let o = cli(url, Some(ADMIN), &["purge"]).await;
    code(&o, 0);
    assert_eq!(
        cache
            .namespace("pages")
            .unwrap()
            .get::<i64>("views")
            .await
            .unwrap(),
        Some(3)
    );

    // Watch refreshes (twice here) and stops.
    let o = cli(
        url,
        Some(READ),
        &["watch", "--interval", "0.1", "--count", "2"],
    )
    .await;
    code(&o, 0);
    assert_eq!(stdout(&o).matches("NAMESPACE").count(), 2);
    let o = cli(
        url,
        Some(READ),
        &["watch", "--interval", "0.1", "--count", "2", "--json"],
    )
    .await;
    code(&o, 0);
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_memory() {
    let cache = memory_cache().await;
    every_command(&cache).await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_redis() {
    let server = RedisServer::start();
    let cache = redis_cache(&server.url(), "cli").await;
    every_command(&cache).await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_their_exit_codes_and_never_print_the_token() {
    let cache = memory_cache().await;
    let url = format!("http://{}", cache.admin_addr().unwrap());

    let o = cli(&url, None, &["stats"]).await;
    code(&o, 4);
    assert!(
        stderr(&o).contains("DEEPER_CACHE_ADMIN_TOKEN"),
        "{}",
        stderr(&o)
    );
    let o = cli(&url, Some("wrong-token-0123456789"), &["stats"]).await;
    code(&o, 4);
    // The flag works too, and the token is never echoed (not even by --help).
    let o = cli(&url, None, &["--token", READ, "stats"]).await;
    code(&o, 0);
    let o = cli(&url, Some(ADMIN), &["--help"]).await;
    code(&o, 0);
    assert!(stdout(&o).contains("DEEPER_CACHE_ADMIN_TOKEN"));
    assert!(!stdout(&o).contains(ADMIN), "--help shows the token");
    let o = cli(&url, Some(ADMIN), &["clear", "users", "-y"]).await;
    assert!(!stdout(&o).contains(ADMIN) && !stderr(&o).contains(ADMIN));

    // Usage errors: clap's 2.
    code(&cli(&url, Some(READ), &["inspect", "users"]).await, 2);
    code(&cli(&url, Some(READ), &["frobnicate"]).await, 2);
    code(
        &cli("https://example.invalid", Some(READ), &["stats"]).await,
        2,
    );

    // Nobody listening: 5.
    cache.shutdown().await;
    let o = cli(&url, Some(READ), &["stats"]).await;
    code(&o, 5);
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}
