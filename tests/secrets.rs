//! Secrets (issue 17 #2): a Redis password, in every shape a URL can carry one, never shows in
//! any printed form of the configuration, of the cache, or of an error.
//!
//! For each URL below, with the password made of distinctive 4-character fragments joined by
//! the characters that break URL parsing (`#`, `/`, `?`, `@`, `:`, `%`), the test collects:
//! - `Debug` of the `CacheConfig`, of `cfg.redis`, of `cfg.redis.url`; `Display` of the URL;
//!   `redacted_url()`;
//! - `serde_json::to_string(&cfg.redis)` and `serde_json::to_string(&cfg)`;
//! - `Display` and `Debug` of the error of `cfg.validate()` and of `Cache::start(cfg)`, or,
//!   when it starts (nothing listens on the port), `Debug` of the cache and of the errors its
//!   calls return, and the cache's log lines (DEBUG and up);
//! - the same through `ConfigLoader` (the URL from a `DEEPER_CACHE__REDIS__URL` variable, and
//!   from a TOML file), with the loader's own errors;
//!
//! and asserts that none of it contains any fragment of the password: so neither the password
//! as written nor percent-decoded, nor a piece of it that a URL parser cut at a `#` or a `?`.
#![allow(clippy::field_reassign_with_default)]

#[allow(unused_imports)]
mod support;

use std::time::Duration;

use deeper_cache::{AdapterKind, Cache, CacheConfig, ConfigLoader};

/// The pieces every password here is made of: any one of them in an output is a leak.
const FRAGMENTS: [&str; 6] = ["Wq3x", "Lm7y", "Pz2w", "Ty5v", "Rk8u", "Nv6t"];

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    support::redis_server::free_port()
}

/// A Redis URL with a password in every shape a URL can carry one. The fragments of
/// [`FRAGMENTS`] appear only in passwords.
fn urls(port: u16) -> Vec<String> {
    let h = format!("127.0.0.1:{port}");
    let plain = "Wq3xLm7y";
    let hostile = "Wq3x#Lm7y/Pz2w?Ty5v@Rk8u:Nv6t";
    let encoded = "Wq3x%23Lm7y%2FPz2w%3FTy5v%40Rk8u%3ANv6t";
    vec![
        // user:pass, :pass, a user name alone
        format!("redis://app:{plain}@{h}/0"),
        format!("redis://:{plain}@{h}"),
        format!("redis://{plain}@{h}"),
        // one unencoded special character at a time, then all of them
        format!("redis://:Wq3x#Lm7y@{h}"),
        format!("redis://:Wq3x/Lm7y@{h}/0"),
        format!("redis://:Wq3x?Lm7y@{h}"),
        format!("redis://:Wq3x@Lm7y@{h}"),
        format!("redis://app:Wq3x:Lm7y@{h}"),
        format!("redis://:Wq3x%Lm7y@{h}"),
        format!("redis://:Wq3x%zzLm7y@{h}"),
        format!("redis://app:{hostile}@{h}/0"),
        format!("redis://:{hostile}@{h}/0?db=1"),
        // percent-encoded
        format!("redis://app:{encoded}@{h}/0"),
        format!("redis://:{encoded}@{h}"),
        // query parameters
        format!("redis://{h}/0?password={plain}"),
        format!("redis://{h}/0?db=2&pass={plain}&x=1"),
        format!("redis://{h}/0?PASSWORD={encoded}"),
        format!("redis+unix:///tmp/redis.sock?pass={plain}"),
        format!("redis+unix:///tmp/r.sock?db=0&password={encoded}"),
        format!("unix:///tmp/redis.sock?pass={plain}"),
        // both a userinfo password and a query password
        format!("redis://:{plain}@{h}/0?password=Pz2wTy5v"),
        // TLS (needs the `redis-tls` feature; refused by validation without it)
        format!("rediss://app:{plain}@{h}/0"),
        format!("rediss://:{hostile}@{h}"),
        // surrounding whitespace (the client is given the trimmed URL)
        format!("  redis://:{plain}@{h}  "),
        // another scheme
        format!("http://:{plain}@{h}"),
    ]
}

/// Collected outputs, each named by where it came from.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    fn add_err(&mut self, what: &str, e: &dyn std::fmt::Debug, d: &dyn std::fmt::Display) {
        self.add(format!("{what} (Display)"), d.to_string());
        self.add(format!("{what} (Debug)"), format!("{e:?}"));
    }

    /// Panics naming every output that holds a fragment of a password of `url` (and so
    /// the password as written or decoded).
    fn assert_clean(&self, url: &str) {
        let needles: Vec<&str> = FRAGMENTS.into_iter().filter(|f| url.contains(f)).collect();
        assert!(!needles.is_empty(), "{url:?} holds a password");
        let leaks: Vec<String> = self
            .0
            .iter()
            .filter_map(|(what, text)| {
                needles
                    .iter()
                    .find(|n| text.contains(**n))
                    .map(|n| format!("  {what} contains {n:?}: {text}"))
            })
            .collect();
        assert!(
            leaks.is_empty(),
            "the password of {url:?} leaks:\n{}",
            leaks.join("\n")
        );
    }
}

fn redis_config(url: &str) -> CacheConfig {
    let mut cfg = CacheConfig::default();
    cfg.default_adapter = AdapterKind::Redis;
    cfg.redis.url = url.into();
    cfg.redis.key_prefix = support::unique_prefix("secrets");
    cfg.redis.connect_timeout_ms = 200;
    cfg.redis.command_timeout_ms = 200;
    cfg.redis.breaker_failure_threshold = 1;
    cfg.redis.breaker_cooldown_ms = 1;
    cfg.redis.error_log_interval_ms = 1;
    cfg.call_timeout_ms = 1_000;
    cfg.memory.cleanup_interval_ms = 3_600_000;
    cfg.metrics_reporter.report_interval_ms = 3_600_000;
    cfg
}

/// Every printed form of a config, and what validating and starting it says.
async fn outputs_of(cfg: CacheConfig, out: &mut Outputs) {
    out.add("Debug of CacheConfig", format!("{cfg:?}"));
    out.add("Debug of RedisConfig", format!("{:?}", cfg.redis));
    out.add("Debug of the url", format!("{:?}", cfg.redis.url));
    out.add("Display of the url", format!("{}", cfg.redis.url));
    out.add("redacted_url()", cfg.redis.redacted_url());
    out.add(
        "serde_json of RedisConfig",
        serde_json::to_string(&cfg.redis).expect("serializes"),
    );
    out.add(
        "serde_json of CacheConfig",
        serde_json::to_string(&cfg).expect("serializes"),
    );
    out.add(
        "serde_json (pretty) of CacheConfig",
        serde_json::to_string_pretty(&cfg).expect("serializes"),
    );
    if let Err(e) = cfg.validate() {
        out.add_err("CacheConfig::validate error", &e, &e);
    }
    match Cache::start(cfg).await {
        Err(e) => out.add_err("Cache::start error", &e, &e),
        Ok(cache) => {
            out.add("Debug of the Cache", format!("{cache:?}"));
            for _ in 0..3 {
                if let Err(e) = cache.put("k", &1).await {
                    out.add_err("put error", &e, &e);
                }
                if let Err(e) = cache.increment("n", 1).await {
                    out.add_err("increment error", &e, &e);
                }
                if let Err(e) = cache.clear().await {
                    out.add_err("clear error", &e, &e);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if let Ok(stats) = cache.stats().await {
                out.add("Debug of stats", format!("{stats:?}"));
            }
            cache.shutdown().await;
        }
    }
}

#[tokio::test]
async fn the_password_never_shows_in_any_output() {
    let port = dead_port();
    for url in urls(port) {
        assert_no_output_shows_the_password(&url).await;
    }
}

/// Careless schemes with no `//`: the redaction rule starts the userinfo at the scheme's
/// `//`, so with none nothing is redacted, and validation then refuses the URL quoting it.
#[tokio::test]

async fn a_url_without_a_double_slash_does_not_show_the_password() {
    let h = format!("127.0.0.1:{}", dead_port());
    for url in [
        format!("redis:/:Wq3xLm7y@{h}"),
        format!("redis::Wq3xLm7y@{h}"),
        format!(":Wq3xLm7y@{h}"),
    ] {
        assert_no_output_shows_the_password(&url).await;
    }
}

/// Every output of `url` (see the module doc) must be free of its password.
async fn assert_no_output_shows_the_password(url: &str) {
    let logs = support::logs::capture();
    let url = url.to_string();
    {
        let mut out = Outputs::default();
        let before = logs.text().len();
        outputs_of(redis_config(&url), &mut out).await;
        // Through the loader: the URL from the environment...
        let loaded = ConfigLoader::new()
            .without_default_file()
            .env_vars([
                ("DEEPER_CACHE__DEFAULT_ADAPTER", "redis"),
                ("DEEPER_CACHE__REDIS__URL", url.as_str()),
                ("DEEPER_CACHE__REDIS__CONNECT_TIMEOUT_MS", "200"),
                ("DEEPER_CACHE__REDIS__COMMAND_TIMEOUT_MS", "200"),
            ])
            .load();
        match loaded {
            Ok(cfg) => {
                out.add("Debug of the loaded CacheConfig", format!("{cfg:?}"));
                out.add(
                    "serde_json of the loaded CacheConfig",
                    serde_json::to_string(&cfg).expect("serializes"),
                );
            }
            Err(e) => out.add_err("ConfigLoader::load error (env)", &e, &e),
        }
        // ...with another setting wrong, so the loader fails while it holds the URL...
        let e = ConfigLoader::new()
            .without_default_file()
            .env_vars([
                ("DEEPER_CACHE__DEFAULT_ADAPTER", "redis"),
                ("DEEPER_CACHE__REDIS__URL", url.as_str()),
                ("DEEPER_CACHE__REDIS__POOL_SIZE", "many"),
            ])
            .load()
            .expect_err("pool_size = many is refused");
        out.add_err("ConfigLoader::load error (bad pool_size)", &e, &e);
        // ...and from a TOML file (the URL as a TOML literal string).
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("cache.toml");
        std::fs::write(
            &file,
            format!("default_adapter = \"redis\"\n[redis]\nurl = '{url}'\npool_size = 0\n"),
        )
        .expect("write the file");
        match ConfigLoader::new()
            .without_default_file()
            .file(&file)
            .load()
        {
            Ok(cfg) => out.add("Debug of the file's CacheConfig", format!("{cfg:?}")),
            Err(e) => out.add_err("ConfigLoader::load error (file)", &e, &e),
        }

        let text = logs.text();
        out.add("the log lines", text[before..].to_string());
        out.assert_clean(&url);
    }
}

/// A TOML file the parser cannot read, on the line that holds the URL: an unescaped `"` in
/// the password ends the string early, or `url` is set twice. The parser's error (which the
/// loader returns as the `Config` message) quotes the line it failed on, password included.
#[test]

fn a_malformed_config_file_line_does_not_show_the_password() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (i, text) in [
        "default_adapter = \"redis\"\n[redis]\nurl = \"redis://:Wq3x\"Lm7y@127.0.0.1:6379\"\n",
        "[redis]\nurl = \"redis://127.0.0.1:6379\"\nurl = \"redis://:Wq3xLm7y@127.0.0.1:6379\"\n",
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("cache{i}.toml"));
        std::fs::write(&file, text).expect("write the file");
        let e = ConfigLoader::new()
            .without_default_file()
            .file(&file)
            .load()
            .expect_err("a malformed file is refused");
        let mut out = Outputs::default();
        out.add_err("ConfigLoader::load error (malformed file)", &e, &e);
        out.assert_clean(text);
    }
}
