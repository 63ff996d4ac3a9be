//! Helpers of the admin interface tests (`tests/admin_*.rs`): tokens, a configuration with the
//! standalone listener on a free loopback port, and a plain HTTP/1.1 client that sends exactly
//! what a test says (any `Host`, any body, any query length).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use deeper_cache::{Cache, CacheConfig, Tokens};
use serde_json::Value;

/// A `read` token of the tests.
pub const READ: &str = "read-token-0123456789abcdef";
/// An `admin` token of the tests.
pub const ADMIN: &str = "admin-token-0123456789abcdef";

/// `base` with the admin listener on `127.0.0.1:0` and both tokens.
pub fn with_admin(mut base: CacheConfig) -> CacheConfig {
    base.admin.enabled = true;
    base.admin.listen = "127.0.0.1:0".into();
    base.admin.read_tokens = Tokens::new([READ]);
    base.admin.admin_tokens = Tokens::new([ADMIN]);
    base
}

/// A memory cache with the admin listener (tokens as in [`with_admin`]).
pub async fn memory_cache() -> Cache {
    let mut c = CacheConfig::default();
    c.memory.cleanup_interval_ms = 3_600_000;
    c.metrics_reporter.report_interval_ms = 3_600_000;
    Cache::start(with_admin(c)).await.expect("cache starts")
}

/// A cache on the Redis backend at `url` (a fresh key prefix) with the admin listener.
pub async fn redis_cache(url: &str, tag: &str) -> Cache {
    let config = super::redis_config(url, &super::unique_prefix(tag));
    Cache::start(with_admin(config))
        .await
        .expect("cache starts")
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `error` text of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct Req<'a> {
    pub method: &'a str,
    pub target: String,
    pub token: Option<&'a str>,
    pub body: Option<(String, &'a str)>,
    pub host: Option<String>,
    pub authorization: Option<String>,
}

/// A client of one admin listener.
#[derive(Debug, Clone)]
pub struct Http {
    pub addr: SocketAddr,
    /// Path prefix where the router is mounted (`""` for the standalone listener).
    pub prefix: String,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http {
            addr,
            prefix: String::new(),
        }
    }

    pub fn of(cache: &Cache) -> Http {
        Http::new(cache.admin_addr().expect("the admin listener runs"))
    }

    pub async fn send(&self, req: Req<'_>) -> Reply {
        let addr = self.addr;
        let target = format!("{}{}", self.prefix, req.target);
        let host = req.host.clone().unwrap_or_else(|| addr.to_string());
        let mut head = format!(
            "{} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
            req.method
        );
        if let Some(a) = &req.authorization {
            head.push_str(&format!("Authorization: {a}\r\n"));
        } else if let Some(t) = req.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = match &req.body {
            Some((b, ctype)) => {
                head.push_str(&format!(
                    "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
                    b.len()
                ));
                b.clone()
            }
            None => {
                if req.method != "GET" && req.method != "HEAD" {
                    head.push_str("Content-Length: 0\r\n");
                }
                String::new()
            }
        };
        head.push_str("\r\n");
        tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).expect("connect to the admin listener");
            s.set_read_timeout(Some(Duration::from_secs(30))).ok();
            s.write_all(head.as_bytes()).expect("send");
            // A refused request may be answered before its body is read: ignore send errors.
            let _ = s.write_all(body.as_bytes());
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw);
            parse(&raw)
        })
        .await
        .expect("the client thread")
    }

    pub async fn get(&self, target: &str, token: Option<&str>) -> Reply {
        self.send(Req {
            method: "GET",
            target: target.to_string(),
            token,
            ..Req::default()
        })
        .await
    }

    pub async fn delete(&self, target: &str, token: Option<&str>) -> Reply {
        self.send(Req {
            method: "DELETE",
            target: target.to_string(),
            token,
            ..Req::default()
        })
        .await
    }

    pub async fn post(&self, target: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(Req {
            method: "POST",
            target: target.to_string(),
            token,
            body: Some((body.to_string(), "application/json")),
            ..Req::default()
        })
        .await
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n..];
        s = s.strip_prefix("\r\n").unwrap_or(s);
    }
    out
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Walks every page of `ns` (pattern `pattern`, `limit` keys a page) through the API.
pub async fn all_keys(
    http: &Http,
    ns: &str,
    pattern: Option<&str>,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut target = format!("/api/v1/keys?ns={}&limit={limit}", enc(ns));
        if let Some(p) = pattern {
            target.push_str(&format!("&pattern={}", enc(p)));
        }
        if let Some(c) = &cursor {
            target.push_str(&format!("&cursor={}", enc(c)));
        }
        let r = http.get(&target, Some(READ)).await;
        assert_eq!(r.status, 200, "{target}: {}", r.body);
        let page = r.json();
        pages += 1;
        let got = page["keys"].as_array().expect("keys");
        assert!(got.len() <= limit, "a page holds at most the limit");
        keys.extend(got.iter().map(|k| k.as_str().expect("a key").to_string()));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (keys, pages),
        }
        assert!(pages < 1_000_000, "the listing does not end");
    }
}
