//! The admin HTTP API through a real listener on port 0: every endpoint on the memory, Redis
//! and tiered backends, paging through 10,000 keys (each exactly once, also while other keys
//! are written on the memory backend), roles and status codes, size limits, bad input, values
//! hidden unless enabled, the start-time refusal of a non-loopback listener without tokens,
//! the router mounted in an application's own server, and the audit log of deleting calls.
#![allow(clippy::field_reassign_with_default)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deeper_cache::{AdminConfig, Cache, CacheConfig, CacheError, Tokens};
use serde_json::{Value, json};
use support::admin::{
    ADMIN, Http, READ, Req, all_keys, enc, memory_cache, redis_cache, with_admin,
};
use support::{RedisServer, tiered_config, unique_prefix};

/// A workload every backend test starts from: 25 users, a set, a counter, a short-lived key.
async fn fill(cache: &Cache) {
    let users = cache.namespace("users").unwrap();
    for i in 0..25 {
        users
            .put(&format!("user:{i:02}"), &format!("secret-value-{i}"))
            .await
            .unwrap();
    }
    users.add_to_set("roles", &"admin").await.unwrap();
    users.add_to_set("roles", &"ops").await.unwrap();
    cache
        .namespace("pages")
        .unwrap()
        .increment("views", 7)
        .await
        .unwrap();
    users
        .put_with_ttl("temp", &1, Duration::from_millis(30))
        .await
        .unwrap();
    let _ = users.get::<String>("user:01").await.unwrap();
    let _ = users.get::<String>("absent").await.unwrap();
}

/// Every endpoint, on whichever backend `cache` runs.
async fn every_endpoint(cache: &Cache, backend: &str) {
    fill(cache).await;
    let http = Http::of(cache);

    // The page and its assets, with a strict CSP.
    let page = http.get("/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("deeper-cache"), "{}", page.body);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let r = http.get(asset, None).await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.len() > 1000, "{asset} is embedded");
    }

    // Probes need no token.
    for probe in ["/api/v1/health/live", "/api/v1/health/ready"] {
        let r = http.get(probe, None).await;
        assert_eq!(
            (r.status, r.json()["status"].clone()),
            (200, json!("up")),
            "{probe}"
        );
    }

    let who = http.get("/api/v1/whoami", Some(READ)).await.json();
    assert_eq!(who["role"], "read");
    assert_eq!(who["backend"], backend);
    assert_eq!(who["show_values"], false);
    assert_eq!(
        http.get("/api/v1/whoami", Some(ADMIN)).await.json()["role"],
        "admin"
    );

    let health = http.get("/api/v1/health", Some(READ)).await.json();
    assert_eq!(health["live"], true, "{health}");
    assert_eq!(health["ready"], true, "{health}");
    assert_eq!(health["backend_reachable"], true);
    assert_eq!(health["backend"], backend);
    if backend == "memory" {
        assert_eq!(health["breaker"], Value::Null);
    } else {
        assert_eq!(health["breaker"], "closed", "{health}");
    }

    let stats = http.get("/api/v1/stats", Some(READ)).await.json();
    assert_eq!(stats["backend"], backend);
    let users = &stats["namespaces"]["users"];
    assert!(users["hits"].as_u64().unwrap() >= 1, "{stats}");
    assert!(users["misses"].as_u64().unwrap() >= 1, "{stats}");
    assert!(users["hit_ratio"].as_f64().is_some());
    if backend == "memory" {
        assert_eq!(users["items"], 27, "{stats}");
    }

    let usage = http.get("/api/v1/usage", Some(READ)).await.json();
    match backend {
        "memory" => {
            assert_eq!(usage["entries"], 28, "{usage}");
            assert!(usage["bytes"].as_u64().unwrap() > 0, "{usage}");
        }
        // The tiered backend's usage is its L1's (what this node read).
        "tiered" => assert!(usage["entries"].as_u64().is_some(), "{usage}"),
        _ => assert_eq!(usage["namespaces"], json!([]), "{usage}"),
    }

    let sup = http.get("/api/v1/supervisor", Some(READ)).await.json();
    assert_eq!(sup["restarts"], 0);
    assert!(!sup["children"].as_array().unwrap().is_empty());

    let names = http.get("/api/v1/namespaces", Some(READ)).await.json();
    assert_eq!(names["complete"], true);
    let counts: BTreeMap<String, u64> = names["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().into(),
                n["keys"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(counts["users"] >= 26, "{names}");
    assert_eq!(counts["pages"], 1, "{names}");

    // Keys: a pattern, paging by cursor, a small page size.
    let (keys, pages) = all_keys(&http, "users", Some("user:*"), 10).await;
    let expected: Vec<String> = (0..25).map(|i| format!("user:{i:02}")).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "each key exactly once");
    assert!(pages >= 3, "25 keys in pages of 10");
    let (one, _) = all_keys(&http, "users", Some("user:1?"), 100).await;
    assert_eq!(one.len(), 10);

    // One entry's metadata; the value stays hidden.
    let e = http
        .get("/api/v1/entry?ns=users&key=user%3A03", Some(READ))
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    let e = e.json();
    assert_eq!(
        (&e["namespace"], &e["key"], &e["kind"]),
        (&json!("users"), &json!("user:03"), &json!("value"))
    );
    assert_eq!(e["size"], json!("secret-value-3".len() + 2), "{e}");
    let ttl = e["ttl_ms"].as_u64().expect("the default TTL is finite");
    assert!(ttl > 3_000_000 && ttl <= 3_600_000, "{e}");
    assert_eq!(e["value"], Value::Null, "values are hidden by default");
    assert!(!e.to_string().contains("secret-value"));
    if backend == "tiered" {
        assert!(e["l1"].is_object(), "{e}");
    }
    let set = http
        .get("/api/v1/entry?ns=users&key=roles", Some(READ))
        .await
        .json();
    assert_eq!(set["kind"], "set", "{set}");
    assert_eq!(set["members"], 2, "{set}");
    let counter = http
        .get("/api/v1/entry?ns=pages&key=views", Some(READ))
        .await
        .json();
    assert_eq!(counter["kind"], "value", "{counter}");
    let absent = http
        .get("/api/v1/entry?ns=users&key=nope", Some(READ))
        .await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.json()["kind"], "not_found");

    // Deleting endpoints with the admin token.
    let d = http
        .delete("/api/v1/entry?ns=users&key=user%3A00", Some(ADMIN))
        .await;
    assert_eq!((d.status, d.json()["deleted"].clone()), (200, json!(true)));
    let d = http
        .delete("/api/v1/entry?ns=users&key=user%3A00", Some(ADMIN))
        .await;
    assert_eq!(d.json()["deleted"], false);
    assert_eq!(
        cache
            .namespace("users")
            .unwrap()
            .get::<String>("user:00")
            .await
            .unwrap(),
        None
    );
    let r = http
        .post(
            "/api/v1/delete-pattern",
            Some(ADMIN),
            &json!({"ns": "users", "pattern": "user:1*"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["removed"].clone()),
        (200, json!(10)),
        "{}",
        r.body
    );
    tokio::time::sleep(Duration::from_millis(60)).await; // `temp` expires
    let r = http
        .post("/api/v1/purge-expired", Some(ADMIN), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http
        .post("/api/v1/clear", Some(ADMIN), &json!({"ns": "users"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["removed"], 15, "14 users and the set: {}", r.body);
    assert_eq!(
        cache
            .namespace("pages")
            .unwrap()
            .get::<i64>("views")
            .await
            .unwrap(),
        Some(7),
        "clear touches one namespace only"
    );
    let (left, _) = all_keys(&http, "users", None, 100).await;
    assert!(left.is_empty(), "{left:?}");

    // An unknown endpoint is a JSON 404.
    let r = http.get("/api/v1/nope", Some(READ)).await;
    assert_eq!(
        (r.status, r.json()["kind"].clone()),
        (404, json!("not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_every_endpoint() {
    let cache = memory_cache().await;
    every_endpoint(&cache, "memory").await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_every_endpoint() {
    let server = RedisServer::start();
    let cache = redis_cache(&server.url(), "adm").await;
    every_endpoint(&cache, "redis").await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiered_every_endpoint() {
    let server = RedisServer::start();
    let config = tiered_config(&server.url(), &unique_prefix("adm"), "node_a");
    let cache = Cache::start(with_admin(config)).await.unwrap();
    support::until_tracking(&cache, true, Duration::from_secs(10)).await;
    every_endpoint(&cache, "tiered").await;
    cache.shutdown().await;
}

/// 10,000 keys in pages of 1,000 (the cap) and 97: each exactly once.
async fn ten_thousand(cache: &Cache) {
    let ns = cache.namespace("big").unwrap();
    let mut tasks = Vec::new();
    for part in 0..8 {
        let ns = ns.clone();
        tasks.push(tokio::spawn(async move {
            for i in (part..10_000).step_by(8) {
                ns.put(&format!("k{i:05}"), &i).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let http = Http::of(cache);
    let expected: BTreeSet<String> = (0..10_000).map(|i| format!("k{i:05}")).collect();
    for limit in [1_000, 97] {
        let (keys, pages) = all_keys(&http, "big", None, limit).await;
        assert_eq!(
            keys.len(),
            10_000,
            "limit {limit}: no key twice, none missing"
        );
        let set: BTreeSet<String> = keys.into_iter().collect();
        assert_eq!(set, expected, "limit {limit}");
        assert!(pages >= 10_000 / limit, "limit {limit}: {pages} pages");
    }
    // Over the cap: refused, with the cap named.
    let r = http.get("/api/v1/keys?ns=big&limit=1001", Some(READ)).await;
    assert_eq!(r.status, 400);
    assert!(r.error().contains("admin.max_page_size"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_pages_through_ten_thousand_keys() {
    let cache = memory_cache().await;
    ten_thousand(&cache).await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_pages_through_ten_thousand_keys_with_scan() {
    let server = RedisServer::start();
    let cache = redis_cache(&server.url(), "big").await;
    ten_thousand(&cache).await;
    cache.shutdown().await;
}

/// On the memory backend, a key present for the whole walk is returned exactly once even while
/// other keys come and go and present ones are overwritten; no key is ever returned twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_paging_under_concurrent_writes_returns_each_stable_key_once() {
    let cache = memory_cache().await;
    let ns = cache.namespace("live").unwrap();
    for i in 0..10_000 {
        ns.put(&format!("s{i:05}"), &i).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ns, stop) = (ns.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // New keys before, between and after the stable ones; old ones deleted; stable
                // ones overwritten.
                let key = match n % 3 {
                    0 => format!("a{n}"),
                    1 => format!("s{:05}x{n}", n % 10_000),
                    _ => format!("z{n}"),
                };
                ns.put(&key, &n).await.unwrap();
                if n >= 50 {
                    let old = n - 50;
                    let old_key = match old % 3 {
                        0 => format!("a{old}"),
                        1 => format!("s{:05}x{old}", old % 10_000),
                        _ => format!("z{old}"),
                    };
                    ns.delete(&old_key).await.unwrap();
                }
                ns.put(&format!("s{:05}", (n * 7919) % 10_000), &n)
                    .await
                    .unwrap();
                n += 1;
                if n % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            n
        })
    };
    let http = Http::of(&cache);
    let (keys, pages) = all_keys(&http, "live", None, 100).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    assert!(
        writes > 100,
        "the writer ran during the walk ({writes} writes)"
    );
    let mut seen = BTreeMap::<&str, u32>::new();
    for k in &keys {
        *seen.entry(k).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "returned twice: {twice:?}");
    for i in 0..10_000 {
        let k = format!("s{i:05}");
        assert_eq!(
            seen.get(k.as_str()),
            Some(&1),
            "{k} missing ({pages} pages)"
        );
    }
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_status_codes() {
    let cache = memory_cache().await;
    cache.put("k", &1).await.unwrap();
    let http = Http::of(&cache);
    let reads = [
        "/api/v1/whoami",
        "/api/v1/health",
        "/api/v1/stats",
        "/api/v1/usage",
        "/api/v1/supervisor",
        "/api/v1/namespaces",
        "/api/v1/keys",
        "/api/v1/entry?key=k",
    ];
    for path in reads {
        let none = http.get(path, None).await;
        assert_eq!(none.status, 401, "{path} without a token");
        assert!(
            none.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(none.json()["kind"], "unauthorized");
        assert_eq!(
            http.get(path, Some("wrong-token-0123456789")).await.status,
            401
        );
        assert_eq!(http.get(path, Some(READ)).await.status, 200, "{path} read");
        assert_eq!(
            http.get(path, Some(ADMIN)).await.status,
            200,
            "{path} admin"
        );
    }
    // A token of the right length that differs in its last byte, one that is a prefix.
    let mut near = READ.to_string();
    near.pop();
    assert_eq!(http.get("/api/v1/stats", Some(&near)).await.status, 401);
    near.push('X');
    assert_eq!(http.get("/api/v1/stats", Some(&near)).await.status, 401);
    for auth in ["Basic abc", "Bearer", "Bearer ", READ, "bearer x"] {
        let r = http
            .send(Req {
                method: "GET",
                target: "/api/v1/stats".into(),
                authorization: Some(auth.into()),
                ..Req::default()
            })
            .await;
        assert_eq!(r.status, 401, "Authorization: {auth}");
    }

    let writes: [(&str, &str, Option<Value>); 4] = [
        ("DELETE", "/api/v1/entry?key=k", None),
        (
            "POST",
            "/api/v1/delete-pattern",
            Some(json!({"pattern": "*"})),
        ),
        ("POST", "/api/v1/clear", Some(json!({"ns": "default"}))),
        ("POST", "/api/v1/purge-expired", Some(json!({}))),
    ];
    for (method, path, body) in &writes {
        let req = |token| Req {
            method,
            target: path.to_string(),
            token,
            body: body.as_ref().map(|b| (b.to_string(), "application/json")),
            ..Req::default()
        };
        assert_eq!(http.send(req(None)).await.status, 401, "{method} {path}");
        assert_eq!(
            http.send(req(Some("wrong-token-0123456789"))).await.status,
            401
        );
        let r = http.send(req(Some(READ))).await;
        assert_eq!(r.status, 403, "{method} {path} with a read token");
        assert!(r.error().contains("admin token"), "{}", r.body);
        assert_eq!(
            cache.get::<i64>("k").await.unwrap(),
            Some(1),
            "nothing deleted by a refused call"
        );
    }
    for (method, path, body) in &writes {
        let r = http
            .send(Req {
                method,
                target: path.to_string(),
                token: Some(ADMIN),
                body: body.as_ref().map(|b| (b.to_string(), "application/json")),
                ..Req::default()
            })
            .await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    }
    // Security headers on every answer.
    let r = http.get("/api/v1/stats", Some(READ)).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(r.header("access-control-allow-origin").is_none());
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_limits_and_bad_input_get_400_with_the_caches_text() {
    let cache = memory_cache().await;
    let http = Http::of(&cache);
    let expect_400 = |r: &support::admin::Reply, kind: &str, text: &str| {
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json()["kind"], kind, "{}", r.body);
        assert_eq!(r.error(), text);
    };

    // The cache's own error text, as the facade reports it.
    let bad_glob = cache.keys(Some("user:["), None, 10).await.unwrap_err();
    assert!(matches!(bad_glob, CacheError::InvalidPattern { .. }));
    let r = http
        .get(
            &format!("/api/v1/keys?pattern={}", enc("user:[")),
            Some(READ),
        )
        .await;
    expect_400(&r, "invalid_pattern", &bad_glob.to_string());
    let r = http
        .post(
            "/api/v1/delete-pattern",
            Some(ADMIN),
            &json!({"ns": "users", "pattern": "user:["}),
        )
        .await;
    expect_400(&r, "invalid_pattern", &bad_glob.to_string());

    let long_key = "k".repeat(deeper_cache::MAX_KEY_BYTES + 1);
    let bad_key = cache.inspect(&long_key, None).await.unwrap_err();
    let r = http
        .get(&format!("/api/v1/entry?key={long_key}"), Some(READ))
        .await;
    expect_400(&r, "invalid_key", &bad_key.to_string());
    let empty_key = cache.inspect("", None).await.unwrap_err();
    let r = http.get("/api/v1/entry?key=", Some(READ)).await;
    expect_400(&r, "invalid_key", &empty_key.to_string());
    let r = http.delete("/api/v1/entry?key=", Some(ADMIN)).await;
    expect_400(&r, "invalid_key", &empty_key.to_string());

    let long_ns = "n".repeat(deeper_cache::MAX_NAMESPACE_BYTES + 1);
    let bad_ns = cache.namespace(&long_ns).unwrap_err();
    let r = http
        .get(&format!("/api/v1/keys?ns={long_ns}"), Some(READ))
        .await;
    expect_400(&r, "invalid_namespace", &bad_ns.to_string());
    let r = http
        .post("/api/v1/clear", Some(ADMIN), &json!({"ns": long_ns}))
        .await;
    expect_400(&r, "invalid_namespace", &bad_ns.to_string());

    let r = http
        .get("/api/v1/keys?cursor=not-a-cursor", Some(READ))
        .await;
    assert_eq!(
        (r.status, r.json()["kind"].clone()),
        (400, json!("invalid_cursor"))
    );
    for limit in ["0", "-1", "abc", "1001"] {
        let r = http
            .get(&format!("/api/v1/keys?limit={limit}"), Some(READ))
            .await;
        assert_eq!(r.status, 400, "limit={limit}: {}", r.body);
    }
    let r = http.get("/api/v1/keys?colour=red", Some(READ)).await;
    assert_eq!(r.status, 400, "unknown parameters are refused: {}", r.body);
    let r = http.get("/api/v1/entry", Some(READ)).await;
    assert_eq!(r.status, 400, "a missing key: {}", r.body);

    // Bodies: not JSON, wrong type, unknown field, too large.
    let send = |body: String, ctype: &'static str| Req {
        method: "POST",
        target: "/api/v1/delete-pattern".into(),
        token: Some(ADMIN),
        body: Some((body, ctype)),
        ..Req::default()
    };
    assert_eq!(
        http.send(send("{".into(), "application/json")).await.status,
        400
    );
    assert_eq!(
        http.send(send(r#"{"pattern": 5}"#.into(), "application/json"))
            .await
            .status,
        400
    );
    assert_eq!(
        http.send(send(
            r#"{"pattern": "*", "x": 1}"#.into(),
            "application/json"
        ))
        .await
        .status,
        400
    );
    assert_eq!(
        http.send(send(r#"{"pattern": "*"}"#.into(), "text/plain"))
            .await
            .status,
        415
    );
    let huge = json!({"pattern": "a".repeat(AdminConfig::default().max_body_bytes)}).to_string();
    let r = http.send(send(huge, "application/json")).await;
    assert_eq!(r.status, 413, "{}", r.body);

    // A query string over admin.max_query_bytes.
    let long = "x".repeat(AdminConfig::default().max_query_bytes + 1);
    let r = http
        .get(&format!("/api/v1/keys?pattern={long}"), Some(READ))
        .await;
    assert_eq!(r.status, 414, "{}", r.body);
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_shown_only_when_enabled_and_capped() {
    let mut config = with_admin(CacheConfig::default());
    config.admin.show_values = true;
    config.admin.max_value_bytes = 8;
    let cache = Cache::start(config).await.unwrap();
    cache.put("short", &"abc").await.unwrap();
    cache.put("long", &"0123456789abcdef").await.unwrap();
    cache.add_to_set("set", &"m1").await.unwrap();
    let http = Http::of(&cache);
    assert_eq!(
        http.get("/api/v1/whoami", Some(READ)).await.json()["show_values"],
        true
    );
    let e = http.get("/api/v1/entry?key=short", Some(READ)).await.json();
    assert_eq!(
        (&e["value"], &e["value_truncated"]),
        (&json!("\"abc\""), &json!(false))
    );
    let e = http.get("/api/v1/entry?key=long", Some(READ)).await.json();
    assert_eq!(
        (&e["value"], &e["value_truncated"]),
        (&json!("\"0123456"), &json!(true))
    );
    assert_eq!(e["size"], 18);
    let e = http.get("/api/v1/entry?key=set", Some(READ)).await.json();
    assert_eq!(e["value"], "[\"m1\"]", "{e}");
    cache.shutdown().await;

    // Off by default, whatever the entry.
    let cache = memory_cache().await;
    cache.put("long", &"0123456789abcdef").await.unwrap();
    let e = Http::of(&cache)
        .get("/api/v1/entry?key=long", Some(ADMIN))
        .await
        .json();
    assert_eq!(e["value"], Value::Null);
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_without_tokens_is_refused_at_start() {
    let mut config = CacheConfig::default();
    config.admin.enabled = true;
    config.admin.listen = "0.0.0.0:0".into();
    let err = Cache::start(config.clone()).await.unwrap_err();
    match &err {
        CacheError::Config { key, message, .. } => {
            assert_eq!(key, "admin.listen");
            assert!(message.contains("without a token"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // With a token it starts.
    config.admin.admin_tokens = Tokens::new([ADMIN]);
    let cache = Cache::start(config).await.unwrap();
    let addr = cache.admin_addr().unwrap();
    assert!(addr.ip().is_unspecified());
    cache.shutdown().await;

    // Invalid tokens are refused with the token redacted.
    let mut config = with_admin(CacheConfig::default());
    config.admin.admin_tokens = Tokens::new(["short"]);
    let err = Cache::start(config).await.unwrap_err().to_string();
    assert!(
        err.contains("admin.admin_tokens") && !err.contains("short\""),
        "{err}"
    );
    // One token for both roles.
    let mut config = with_admin(CacheConfig::default());
    config.admin.read_tokens = Tokens::new([ADMIN]);
    assert!(Cache::start(config).await.is_err());
    // A taken port fails the start cleanly.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = with_admin(CacheConfig::default());
    config.admin.listen = taken.local_addr().unwrap().to_string();
    let err = Cache::start(config).await.unwrap_err().to_string();
    assert!(err.contains("cannot listen"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_loopback_is_read_only_and_checks_the_host() {
    let mut config = CacheConfig::default();
    config.admin.enabled = true;
    config.admin.listen = "127.0.0.1:0".into();
    let cache = Cache::start(config).await.unwrap();
    cache.put("k", &1).await.unwrap();
    let http = Http::of(&cache);
    let r = http.get("/api/v1/stats", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        http.get("/api/v1/whoami", None).await.json()["role"],
        "read"
    );
    let r = http.delete("/api/v1/entry?key=k", None).await;
    assert_eq!(r.status, 403);
    assert!(r.error().contains("admin.admin_tokens"), "{}", r.body);
    assert_eq!(
        http.get("/api/v1/stats", Some("any-token-0123456789"))
            .await
            .status,
        401
    );
    // DNS rebinding: a page elsewhere reaching the loopback listener under its own name.
    let r = http
        .send(Req {
            method: "GET",
            target: "/api/v1/stats".into(),
            host: Some("evil.example:80".into()),
            ..Req::default()
        })
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    for host in ["localhost", "127.0.0.1:1234", "[::1]:9"] {
        let r = http
            .send(Req {
                method: "GET",
                target: "/api/v1/stats".into(),
                host: Some(host.into()),
                ..Req::default()
            })
            .await;
        assert_eq!(r.status, 200, "Host: {host}");
    }
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_mounts_in_an_applications_own_server() {
    let cache = Cache::start(CacheConfig::default()).await.unwrap();
    cache.put("k", &1).await.unwrap();
    let config = AdminConfig {
        read_tokens: Tokens::new([READ]),
        admin_tokens: Tokens::new([ADMIN]),
        ..AdminConfig::default()
    };
    let app = deeper_cache::admin::axum::Router::new()
        .nest(
            "/cache-admin",
            deeper_cache::admin::router(cache.clone(), config).unwrap(),
        )
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        deeper_cache::admin::axum::serve(listener, app)
            .await
            .unwrap();
    });
    let mut http = Http::new(addr);
    http.prefix = "/cache-admin".into();
    let page = http.get("", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("\"cache-admin/assets/app.js\""),
        "{}",
        page.body
    );
    assert_eq!(http.get("/assets/app.js", None).await.status, 200);
    assert_eq!(http.get("/api/v1/stats", None).await.status, 401);
    assert_eq!(
        http.get("/api/v1/entry?key=k", Some(READ)).await.status,
        200
    );
    let r = http.delete("/api/v1/entry?key=k", Some(ADMIN)).await;
    assert_eq!(r.json()["deleted"], true);
    // Invalid settings are refused when the router is built.
    let bad = AdminConfig {
        max_page_size: 0,
        ..AdminConfig::default()
    };
    assert!(deeper_cache::admin::router(cache.clone(), bad).is_err());
    server.abort();
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_listener_and_probes_report_it() {
    let cache = memory_cache().await;
    let addr = cache.admin_addr().unwrap();
    let clone = cache.clone();
    drop(clone); // a clone going away keeps the listener
    assert_eq!(
        Http::new(addr)
            .get("/api/v1/health/live", None)
            .await
            .status,
        200
    );
    cache.shutdown().await;
    let refused = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
        .await
        .unwrap();
    assert!(refused.is_err(), "the listener stopped with the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_calls_are_logged_at_info_without_values_or_tokens() {
    let logs = support::logs::capture();
    let cache = memory_cache().await;
    let users = cache.namespace("users").unwrap();
    for i in 0..5 {
        users
            .put(&format!("user:{i}"), &format!("secret-value-{i}"))
            .await
            .unwrap();
    }
    let http = Http::of(&cache);
    http.delete("/api/v1/entry?ns=users&key=user%3A0", Some(ADMIN))
        .await;
    http.post(
        "/api/v1/delete-pattern",
        Some(ADMIN),
        &json!({"ns": "users", "pattern": "user:[12]"}),
    )
    .await;
    http.post("/api/v1/clear", Some(ADMIN), &json!({"ns": "users"}))
        .await;
    http.post("/api/v1/purge-expired", Some(ADMIN), &json!({}))
        .await;
    // Refused calls are not logged as deletions.
    http.post("/api/v1/clear", Some(READ), &json!({"ns": "users"}))
        .await;
    let text = logs.text();
    let calls = logs.lines_with(&["INFO", "deeper_cache::admin", "admin call"]);
    let find = |action: &str| {
        calls
            .iter()
            .find(|l| l.contains(&format!("action=\"{action}\"")))
            .unwrap_or_else(|| panic!("no INFO line for {action}: {calls:#?}"))
            .clone()
    };
    let del = find("delete");
    assert!(
        del.contains("role=\"admin\"") && del.contains("removed=1"),
        "{del}"
    );
    assert!(
        del.contains("namespace=\"users\"") && del.contains("user:0"),
        "{del}"
    );
    assert!(del.contains("peer=127.0.0.1:"), "{del}");
    assert!(find("delete_pattern").contains("removed=2"));
    assert!(find("clear").contains("removed=2"));
    assert!(find("purge_expired").contains("removed=0"));
    assert_eq!(
        calls
            .iter()
            .filter(|l| l.contains("action=\"clear\""))
            .count(),
        1,
        "the refused clear is not logged as one"
    );
    assert!(!text.contains("secret-value"), "a value reached the logs");
    assert!(
        !text.contains(ADMIN) && !text.contains(READ),
        "a token reached the logs"
    );
    cache.shutdown().await;
}

#[test]
fn tokens_come_from_the_environment_and_are_never_shown() {
    let config = deeper_cache::ConfigLoader::new()
        .env_vars([
            ("DEEPER_CACHE__ADMIN__ENABLED", "true"),
            ("DEEPER_CACHE__ADMIN__LISTEN", "0.0.0.0:9569"),
            (
                "DEEPER_CACHE__ADMIN__READ_TOKENS",
                "r-token-0123456789abcdef",
            ),
            (
                "DEEPER_CACHE__ADMIN__ADMIN_TOKENS",
                "a-token-0123456789abcdef, b-token-0123456789abcdef",
            ),
        ])
        .load()
        .unwrap();
    assert_eq!(config.admin.read_tokens.len(), 1);
    assert_eq!(config.admin.admin_tokens.len(), 2);
    assert!(config.admin.enabled);
    let shown = format!("{config:?} {}", serde_json::to_string(&config).unwrap());
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    // The shipped defaults: off, loopback, no tokens, values hidden.
    let d = deeper_cache::ConfigLoader::new()
        .env_vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    assert_eq!(d.admin, AdminConfig::default());
    assert!(!d.admin.enabled && !d.admin.show_values && !d.admin.has_tokens());
    assert_eq!(d.admin.listen, "127.0.0.1:9569");
}
