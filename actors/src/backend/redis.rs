//! The Redis backend: one cache shared by every node of an application.
//!
//! # Layout
//! Every key is `{key_prefix}:{namespace}:{key}` (`backend/redis/keys.rs` escapes the
//! namespace part so namespaces stay apart). Values are the shared codec's bytes (JSON), so `redis-cli GET` shows them
//! as written; counters are Redis integers (`INCRBY`), sets are Redis sets, TTLs are Redis TTLs
//! (`PX`, millisecond granularity, as on the memory backend).
//!
//! | operation | Redis |
//! |---|---|
//! | `get` / `put` / `delete` / `exists` / `ttl` | `GET` / `SET … [PX ms]` / `UNLINK` / `EXISTS` / `PTTL` |
//! | `increment` | `INCRBY`; with a TTL, `MULTI` { `SET k 0 PX ms NX`; `INCRBY` } (the TTL only on creation) |
//! | `add_to_set` | `SADD`; with a TTL, the same kind of script |
//! | `remove_from_set` / `set_members` / `is_member` | `SREM` / `SMEMBERS` / `SISMEMBER` |
//! | `get_many` / `put_many` / `delete_many` | one `MGET` / one `MULTI` pipeline of `SET … [PX ms]` / one `UNLINK`, each on one connection (one round trip per call) |
//! | `expire` / `touch` | `PEXPIRE` (`PERSIST` + `EXISTS` for no expiry) / `TOUCH` |
//! | `clear` / `delete_pattern` | `SCAN MATCH … COUNT n` + `UNLINK` in batches — never `KEYS`, never `FLUSHDB` |
//! | `clear` of a namespace with `redis.namespace_generations` | `INCR {prefix}::gen:{namespace}`; the old generation unlinked in the background (`redis/generations.rs`) |
//! | `list_keys` / `inspect` / `namespaces` (admin) | `SCAN MATCH … COUNT` / `TYPE`, `PTTL`, `STRLEN`, `GETRANGE`, `SCARD`, `SSCAN` / `SCAN` (`redis/browse.rs`) |
//!
//! # Degradation
//! Connections are [`ConnectionManager`]s, created lazily (a server that is down when the cache
//! starts does not stop it) and reconnecting by themselves. Each call is bounded by
//! `redis.command_timeout_ms`. A connection failure or a timeout is returned as
//! [`CacheError::BackendUnavailable`] and counted by a circuit breaker: after
//! `redis.breaker_failure_threshold` consecutive failures the breaker opens and calls fail fast
//! (no network, no timeout to wait) until, after `redis.breaker_cooldown_ms`, one call probes
//! the server with a `PING`; success closes the breaker. The ERROR log of connection failures is
//! rate-limited to one line per `redis.error_log_interval_ms`, which counts the failures it
//! stands for. The URL's password never appears in a log, an error or a `Debug` output.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ::redis::aio::ConnectionManagerConfig;
use ::redis::{Client, ErrorKind, RedisError, Script, ServerErrorKind};
use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use bytes::Bytes;

use super::CacheBackend;
use super::browse::{EntryInfo, KeyPage, NamespaceList};
use crate::batch::{EntryList, KeyList};
use crate::config::{RedisConfig, RedisMode};
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::ttl::{IdleTimes, Ttl};

mod breaker;
mod browse;
mod connection;
mod generations;
pub(in crate::backend) mod keys;
mod scan;
pub(in crate::backend) mod stream;

pub use breaker::BreakerState;
use breaker::{Breaker, LogLimiter, Permit};
use connection::{Conn, Source};
use generations::Generations;
use keys::KeyLayout;
use stream::{Stream, StreamSource};

/// Backend name in errors, logs and metric labels.
const NAME: &str = "redis";

/// Hasher routing a key to a connection of the pool (fixed seed: stable for the process).
static ROUTE: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x7ed1_5cac);

/// `SADD` that sets the TTL only when it created the set. All or nothing: a failing `SADD`
/// (WRONGTYPE) wrote nothing, and a failing `PEXPIRE` on the set it just created removes that
/// set again before returning the error (the TTL is validated before the call, so this is a
/// second line of defence, not a path taken).
const SADD_SCRIPT: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
local v = redis.pcall('SADD', KEYS[1], ARGV[1])
if type(v) == 'table' and v.err then return v end
if existed == 0 then
  local e = redis.pcall('PEXPIRE', KEYS[1], ARGV[2])
  if type(e) == 'table' and e.err then
    redis.call('DEL', KEYS[1])
    return e
  end
end
return v
";

/// Deletes a lease only if the caller's token still holds it.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// What kind of entry an operation works on (to name the kinds in a `WrongType` error).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Value,
    Set,
}

/// The kind a Redis `TYPE` reply names, as a `WrongType` error says it.
fn kind_named(redis_type: &str) -> &'static str {
    match redis_type {
        "string" => "a value",
        "set" => "a set",
        "list" => "a list",
        "hash" => "a hash",
        "zset" => "a sorted set",
        "stream" => "a stream",
        _ => "another type",
    }
}

impl Kind {
    fn wrong_type(self) -> CacheError {
        match self {
            Kind::Value => CacheError::WrongType {
                expected: "a value",
                found: "a set",
            },
            Kind::Set => CacheError::WrongType {
                expected: "a set",
                found: "a value",
            },
        }
    }
}

/// How a Redis error is handled.
enum Failure {
    /// The server is unreachable or not serving: counts towards the breaker. `renew` when the
    /// connection manager will not retry by itself (anything but an I/O error).
    Connection { why: String, renew: bool },
    /// The server answered with an error: the breaker sees a healthy server.
    Command(CacheError),
}

/// [`CacheBackend`] on a Redis server. Cheap to clone (every clone shares the connections, the
/// breaker and the log limiter).
///
/// Must be created inside a Tokio runtime (the connections are driven by tasks of it).
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    secrets: Vec<String>,
    /// Where connections come from (`redis.mode`).
    source: Source,
    /// The connections; empty until first used in sentinel mode.
    pool: Vec<ArcSwapOption<Conn>>,
    next: AtomicUsize,
    keys: KeyLayout,
    command_timeout: Duration,
    scan_batch: usize,
    max_value_bytes: usize,
    breaker: Breaker,
    log: LogLimiter,
    sadd: Script,
    release: Script,
    /// Namespace generations this node has read (`redis/generations.rs`).
    generations: Arc<Generations>,
    /// The stream keeping `generations` current, when this backend runs its own.
    generation_stream: std::sync::Mutex<Option<Stream>>,
    /// The namespaces' times to idle (`[namespaces.<name>] tti`), set once at start.
    idle: std::sync::OnceLock<IdleTimes>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.inner.url)
            .field("key_prefix", &self.inner.keys)
            .field("pool_size", &self.inner.pool.len())
            .field("breaker", &self.inner.breaker.state())
            .finish()
    }
}

impl RedisBackend {
    /// A backend for `config`, refusing values (and set members) over `max_value_bytes`.
    ///
    /// Opens no connection: the first call (or the background `PING` this spawns) connects, so
    /// a server that is down now does not fail the cache's start; calls then degrade as the
    /// module documentation describes until it is back.
    ///
    /// # Errors
    /// [`CacheError::Config`] for a URL the Redis client cannot use (the password redacted in
    /// the message), [`CacheError::Start`] outside a Tokio runtime.
    pub fn new(config: &RedisConfig, max_value_bytes: usize) -> CacheResult<RedisBackend> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CacheError::Start {
                reason: "the Redis backend must be created inside a Tokio runtime".into(),
            });
        }
        #[cfg(feature = "redis-tls")]
        {
            // rediss:// needs a process-wide rustls provider; keep the application's if set.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // Every URL's secrets: cluster seeds and sentinels may carry passwords too.
        let mut secrets = config.url.secrets();
        for u in config.urls.iter().chain(&config.sentinel.urls) {
            secrets.extend(u.secrets());
        }
        let scrub = |s: String| scrub(&secrets, s);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout()))
            // The breaker paces reconnection: one attempt per reconnect, no backoff loop.
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(1))
            .set_max_delay(Duration::from_millis(10));
        let (key, shown) = match config.mode {
            RedisMode::Standalone | RedisMode::Sentinel => ("redis.url", config.redacted_url()),
            RedisMode::Cluster => (
                "redis.urls",
                config
                    .urls
                    .iter()
                    .map(|u| u.redacted())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let config_error = |e: RedisError| CacheError::Config {
            key: key.into(),
            value: shown.clone(),
            message: scrub(e.to_string()),
        };
        let source = Source::new(config, manager_config).map_err(config_error)?;
        // A cluster connection multiplexes over every node by itself: one is enough.
        let pool_size = if source.is_cluster() {
            1
        } else {
            config.pool_size.max(1)
        };
        let pool = (0..pool_size)
            .map(|_| ArcSwapOption::new(source.lazy().map(Arc::new)))
            .collect();
        let backend = RedisBackend {
            inner: Arc::new(Inner {
                url: match config.mode {
                    RedisMode::Standalone => config.redacted_url(),
                    RedisMode::Cluster => format!("cluster [{shown}]"),
                    RedisMode::Sentinel => format!(
                        "sentinel {:?} via [{}]",
                        config.sentinel.master_name,
                        config
                            .sentinel
                            .urls
                            .iter()
                            .map(|u| u.redacted())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                secrets,
                source,
                pool,
                next: AtomicUsize::new(0),
                keys: KeyLayout::new(&config.key_prefix),
                command_timeout: config.command_timeout(),
                scan_batch: config.scan_batch_size.max(1),
                max_value_bytes,
                breaker: Breaker::new(
                    config.breaker_failure_threshold,
                    Duration::from_millis(config.breaker_cooldown_ms),
                ),
                log: LogLimiter::new(Duration::from_millis(config.error_log_interval_ms)),
                sadd: Script::new(SADD_SCRIPT),
                release: Script::new(RELEASE_SCRIPT),
                generations: Arc::new(Generations::new(config.namespace_generations)),
                generation_stream: std::sync::Mutex::new(None),
                idle: std::sync::OnceLock::new(),
            }),
        };
        tracing::info!(backend = NAME, url = %backend.inner.url, key_prefix = %config.key_prefix, pool_size = config.pool_size, "redis backend configured");
        // Connect in the background so the first call does not pay for it, and say so at
        // once if the server is unreachable.
        let warm = backend.clone();
        tokio::spawn(async move {
            let _ = warm.ping().await;
        });
        Ok(backend)
    }

    /// `PING`s the server through the breaker (a health check).
    ///
    /// # Errors
    /// [`CacheError::BackendUnavailable`] when the server cannot be reached or the breaker is
    /// open.
    pub async fn ping(&self) -> CacheResult<()> {
        self.call("ping", Kind::Value, true, None, |mut c| async move {
            ::redis::cmd("PING").query_async::<()>(&mut c).await
        })
        .await
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// How many times the breaker has opened since the backend was created.
    pub fn breaker_opens(&self) -> u64 {
        self.inner.breaker.opens()
    }

    /// The key layout (prefix and namespace escaping) this backend writes.
    pub(in crate::backend) fn keys(&self) -> &KeyLayout {
        &self.inner.keys
    }

    /// Where an invalidation stream over this backend's server connects: a RESP3 client (push
    /// messages) with this backend's timeout and secrets.
    pub(in crate::backend) fn stream_source(&self) -> CacheResult<StreamSource> {
        let Some(standalone) = self.inner.source.standalone_client() else {
            return Err(self.unavailable(
                "connect",
                "invalidation streams need redis.mode = \"standalone\"",
            ));
        };
        let info = standalone.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(::redis::ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings))
            .map_err(|e| self.unavailable("connect", e))?;
        Ok(StreamSource {
            client,
            timeout: self.inner.command_timeout,
            secrets: self.inner.secrets.clone(),
        })
    }

    /// The namespace generations this node has read.
    pub(in crate::backend) fn generations(&self) -> &Generations {
        &self.inner.generations
    }

    /// The Redis key of `(ns, key)` in `ns`'s current generation, and that generation.
    #[inline]
    async fn key_of(&self, ns: &str, key: &str) -> CacheResult<(String, u64)> {
        let g = self.generation(ns).await?;
        Ok((self.inner.keys.key_at(ns, g, key), g))
    }

    /// The Redis key of `(ns, key)` in `ns`'s current generation.
    #[inline]
    async fn key(&self, ns: &str, key: &str) -> CacheResult<String> {
        self.key_of(ns, key).await.map(|(k, _)| k)
    }

    /// `GET` and `PTTL` of one key in one round trip: the value and its remaining TTL, `None`
    /// when absent.
    ///
    /// # Errors
    /// As [`CacheBackend::get`].
    pub(in crate::backend) async fn get_with_ttl(
        &self,
        ns: &str,
        key: &str,
    ) -> CacheResult<Option<(Bytes, Ttl, u64)>> {
        let (k, generation) = &self.key_of(ns, key).await?;
        let (value, pttl): (Option<Bytes>, i64) = self
            .call(
                "get",
                Kind::Value,
                true,
                Some(k.as_str()),
                |mut c| async move {
                    ::redis::pipe()
                        .cmd("GET")
                        .arg(k)
                        .cmd("PTTL")
                        .arg(k)
                        .query_async(&mut c)
                        .await
                },
            )
            .await?;
        Ok(value.and_then(|v| ttl_from_pttl(pttl).map(|t| (v, t, *generation))))
    }

    /// `get_with_ttl` of many keys in one round trip (a pipeline of `GET` + `PTTL` per key,
    /// on one connection): the tiered backend's read of its L1 misses.
    ///
    /// # Errors
    /// As [`CacheBackend::get_many`].
    pub(in crate::backend) async fn get_many_with_ttl(
        &self,
        keys: &[(&str, &str)],
    ) -> CacheResult<Vec<Option<(Bytes, Ttl, u64)>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.keys_at(keys.iter().copied()).await?;
        let ks: Vec<(String, Option<u64>)> = at
            .iter()
            .zip(keys)
            .map(|((k, _), (ns, _))| (k.clone(), self.tti_ms(ns)))
            .collect();
        let ks = &ks;
        let replies: Vec<(Option<Bytes>, i64)> = self
            .call("get_many", Kind::Value, true, None, |mut c| async move {
                let mut p = ::redis::pipe();
                // A key holding a set answers GET with WRONGTYPE: a miss there, as `MGET`'s
                // nil, not a failure of the whole pipeline.
                p.ignore_errors();
                for (k, tti) in ks {
                    match tti {
                        // A read in a namespace with a time to idle restarts its timer.
                        Some(ms) => p.cmd("GETEX").arg(k).arg("PX").arg(*ms),
                        None => p.cmd("GET").arg(k),
                    };
                    p.cmd("PTTL").arg(k);
                }
                // Flat replies, two per key.
                let flat: Vec<::redis::Value> = p.query_async(&mut c).await?;
                flat.chunks(2)
                    .map(|pair| {
                        let v: Option<Bytes> = match &pair[0] {
                            ::redis::Value::ServerError(_) => None,
                            v => ::redis::from_redis_value_ref(v)?,
                        };
                        let t: i64 = ::redis::from_redis_value_ref(&pair[1])?;
                        Ok((v, t))
                    })
                    .collect()
            })
            .await?;
        Ok(replies
            .into_iter()
            .zip(at)
            .map(|((v, pttl), (_, g))| v.and_then(|v| ttl_from_pttl(pttl).map(|t| (v, t, g))))
            .collect())
    }

    /// The Redis keys of many `(namespace, key)` pairs with their generations, each
    /// namespace's generation read once.
    async fn keys_at<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> CacheResult<Vec<(String, u64)>> {
        let mut generations: Vec<(&str, u64)> = Vec::new();
        let mut out = Vec::with_capacity(pairs.size_hint().0);
        for (ns, key) in pairs {
            let g = match generations.iter().find(|(n, _)| *n == ns) {
                Some((_, g)) => *g,
                None => {
                    let g = self.generation(ns).await?;
                    generations.push((ns, g));
                    g
                }
            };
            out.push((self.inner.keys.key_at(ns, g, key), g));
        }
        Ok(out)
    }

    /// Gives the namespaces of `idle` a time to idle (once, at start; later calls are
    /// ignored). In such a namespace every write sets `PX tti` (whatever TTL it passes), a
    /// `get` is `GETEX … PX tti`, `get_many` adds a `PEXPIRE` per such key to its round trip,
    /// counter and set operations are followed by a `PEXPIRE`, and `touch` is a `PEXPIRE`:
    /// an entry unused for `tti` expires, as on the memory backend.
    pub fn set_idle_times(&self, idle: IdleTimes) {
        let _ = self.inner.idle.set(idle);
    }

    /// The time to idle of `ns` in milliseconds, if it has one.
    #[inline]
    pub(in crate::backend) fn tti_ms(&self, ns: &str) -> Option<u64> {
        self.inner.idle.get().and_then(|i| i.of(ns))
    }

    /// The TTL a write to `ns` sets: the namespace's time to idle if it has one, else `ttl`.
    fn write_ttl(&self, ns: &str, ttl: Ttl) -> CacheResult<Ttl> {
        match self.tti_ms(ns) {
            Some(ms) => Ok(Ttl::After(Duration::from_millis(ms))),
            None => ttl.validate(),
        }
    }

    /// After a use of `key` in a namespace with a time to idle: its deadline moves to
    /// `now + tti` (`PEXPIRE`; nothing on a key that is gone).
    async fn refresh_idle(&self, ns: &str, key: &str) -> CacheResult<()> {
        let Some(ms) = self.tti_ms(ns) else {
            return Ok(());
        };
        let k = &self.key(ns, key).await?;
        self.call(
            "touch",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd("PEXPIRE")
                    .arg(k)
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
            },
        )
        .await
    }

    /// `SET k value [PX ms]` (idempotent: retried once after an I/O error).
    async fn set(
        &self,
        operation: &'static str,
        k: &str,
        value: &Bytes,
        ttl: Ttl,
    ) -> CacheResult<()> {
        self.call(operation, Kind::Value, true, Some(k), |mut c| async move {
            let mut cmd = ::redis::cmd("SET");
            cmd.arg(k).arg(&value[..]);
            if let Some(ms) = ttl.as_millis() {
                cmd.arg("PX").arg(ms);
            }
            cmd.query_async::<()>(&mut c).await
        })
        .await
    }

    /// The redacted URL this backend talks to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    fn unavailable(&self, operation: &str, why: impl std::fmt::Display) -> CacheError {
        CacheError::BackendUnavailable {
            backend: NAME,
            message: scrub(&self.inner.secrets, format!("{operation}: {why}")),
        }
    }

    fn check_size(&self, len: usize) -> CacheResult<()> {
        if len > self.inner.max_value_bytes {
            return Err(CacheError::ValueTooLarge {
                size: len,
                limit: self.inner.max_value_bytes,
            });
        }
        Ok(())
    }

    /// The connection for a call: the one `route` (a Redis key) hashes to, so every command
    /// on one key goes over one connection, in the order it was issued (what an adapter that
    /// pipelines calls needs to keep a key's operations in order); round-robin for calls on
    /// no single key (`SCAN`, `UNLINK` batches, `PING`).
    #[inline]
    async fn pick(&self, route: Option<&str>) -> Result<(usize, Conn), (usize, String)> {
        let pool = &self.inner.pool;
        let i = match (pool.len(), route) {
            (1, _) => 0,
            (n, Some(key)) => (ROUTE.hash_one(key) % n as u64) as usize,
            (n, None) => self.inner.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        if let Some(c) = &*pool[i].load() {
            return Ok((i, Conn::clone(c)));
        }
        // Sentinel mode before the primary is known (or after it was forgotten).
        let c = self
            .inner
            .source
            .connect(self.inner.command_timeout)
            .await
            .map_err(|why| (i, why))?;
        pool[i].store(Some(Arc::new(c.clone())));
        Ok((i, c))
    }

    /// Replaces connection `i` with a fresh (lazy) one. The connection manager reconnects by
    /// itself after I/O errors; this covers the failures it does not retry (a refused AUTH,
    /// a server still loading its data when the connection was made). In sentinel mode every
    /// connection goes and the next call asks the sentinels for the primary again.
    fn renew(&self, i: usize) {
        let source = &self.inner.source;
        if source.forget_primary() {
            for slot in &self.inner.pool {
                slot.store(None);
            }
            return;
        }
        if let Some(c) = source.lazy() {
            self.inner.pool[i].store(Some(Arc::new(c)));
        }
    }

    /// After a successful probe: `PING`s the other connections of the pool in the
    /// background, so connections that died with the server reconnect before calls use them.
    fn refresh_pool(&self, probed: usize) {
        if self.inner.pool.len() < 2 {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            for (i, slot) in this.inner.pool.iter().enumerate() {
                if i == probed {
                    continue;
                }
                for _ in 0..2 {
                    let Some(c) = slot.load_full() else { break };
                    let mut c = Conn::clone(&c);
                    let ping = ::redis::cmd("PING");
                    let r = tokio::time::timeout(
                        this.inner.command_timeout,
                        ping.query_async::<()>(&mut c),
                    )
                    .await;
                    if matches!(r, Ok(Ok(()))) {
                        break;
                    }
                }
            }
        });
    }

    /// Runs one Redis exchange through the breaker, the timeout and the error mapping.
    ///
    /// With `retry`, an I/O error is retried once on the same connection within the same
    /// timeout: after a server restart a connection's first command fails and reconnects
    /// it, and the retry goes through the new connection. Only for operations whose effect
    /// is the same when applied twice (not `increment`, not the set updates, whose answers
    /// would change).
    async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        kind: Kind,
        retry: bool,
        route: Option<&str>,
        f: F,
    ) -> CacheResult<T>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let inner = &*self.inner;
        let permit = match inner.breaker.acquire() {
            Ok(p) => p,
            Err(retry_in) => {
                // Fail fast; the rejection is counted by the limited ERROR line.
                if let Some(suppressed) = inner.log.admit() {
                    tracing::error!(backend = NAME, url = %inner.url, operation, suppressed, "redis unreachable: circuit breaker open, calls fail fast");
                }
                return Err(self.unavailable(
                    operation,
                    format_args!(
                        "circuit breaker open after repeated connection failures; next probe in {} ms",
                        retry_in.as_millis()
                    ),
                ));
            }
        };
        let (slot, conn) = match self.pick(route).await {
            Ok(picked) => picked,
            Err((slot, why)) => {
                self.connection_failure(permit, slot, true, operation, &why);
                return Err(self.unavailable(operation, why));
            }
        };
        if permit == Permit::Probe {
            // A dead connection fails its first command and reconnects in the background:
            // PING twice so a server that is back is found on this probe.
            let mut ok = false;
            let mut last = String::new();
            let mut renew = false;
            for _ in 0..2 {
                let mut c = conn.clone();
                let ping = ::redis::cmd("PING");
                match tokio::time::timeout(inner.command_timeout, ping.query_async::<()>(&mut c))
                    .await
                {
                    Ok(Ok(())) => {
                        ok = true;
                        break;
                    }
                    Ok(Err(e)) => {
                        renew = !e.is_io_error();
                        last = e.to_string();
                    }
                    Err(_) => last = "PING timed out".into(),
                }
            }
            if !ok {
                self.connection_failure(permit, slot, renew, operation, &last);
                return Err(self.unavailable(operation, last));
            }
            self.success(permit);
            self.refresh_pool(slot);
        }
        let deadline = tokio::time::Instant::now() + inner.command_timeout;
        let mut result = tokio::time::timeout_at(deadline, f(conn.clone())).await;
        if retry && matches!(&result, Ok(Err(e)) if e.is_io_error()) {
            result = tokio::time::timeout_at(deadline, f(conn)).await;
        }
        match result {
            Ok(Ok(v)) => {
                self.success(permit);
                Ok(v)
            }
            Ok(Err(e)) => match classify(&e, kind) {
                Failure::Command(err) => {
                    self.success(permit);
                    Err(match err {
                        CacheError::BackendUnavailable { message, .. } => {
                            self.unavailable(operation, message)
                        }
                        CacheError::WrongType { expected, found } => CacheError::WrongType {
                            expected,
                            found: self.type_of(route, deadline).await.unwrap_or(found),
                        },
                        other => other,
                    })
                }
                Failure::Connection { why, renew } => {
                    self.connection_failure(permit, slot, renew, operation, &why);
                    Err(self.unavailable(operation, why))
                }
            },
            Err(_) => {
                let why = format!(
                    "no answer within redis.command_timeout_ms ({} ms)",
                    inner.command_timeout.as_millis()
                );
                self.connection_failure(permit, slot, false, operation, &why);
                Err(self.unavailable(operation, why))
            }
        }
    }

    /// What kind of entry `key` holds (`TYPE`), to name it in a `WrongType` error; `None`
    /// when there is no key or no answer before `deadline`.
    async fn type_of(
        &self,
        key: Option<&str>,
        deadline: tokio::time::Instant,
    ) -> Option<&'static str> {
        let key = key?;
        let (_, mut c) = self.pick(Some(key)).await.ok()?;
        let mut cmd = ::redis::cmd("TYPE");
        cmd.arg(key);
        match tokio::time::timeout_at(deadline, cmd.query_async::<String>(&mut c)).await {
            Ok(Ok(t)) if t != "none" => Some(kind_named(&t)),
            _ => None,
        }
    }

    #[inline]
    fn success(&self, permit: Permit) {
        if self.inner.breaker.success(permit) {
            tracing::info!(backend = NAME, url = %self.inner.url, "redis reachable again: circuit breaker closed");
        }
    }

    fn connection_failure(
        &self,
        permit: Permit,
        slot: usize,
        renew: bool,
        operation: &str,
        why: &str,
    ) {
        let inner = &*self.inner;
        let why = scrub(&inner.secrets, why.to_string());
        // In sentinel mode any failure may mean the primary moved: ask the sentinels again.
        if renew || inner.source.follows_failover() {
            self.renew(slot);
        }
        if inner.breaker.failure(permit) {
            tracing::warn!(backend = NAME, url = %inner.url, "circuit breaker opened: redis calls fail fast until a probe succeeds");
        }
        if let Some(suppressed) = inner.log.admit() {
            tracing::error!(backend = NAME, url = %inner.url, operation, error = %why, suppressed, "redis connection failure");
        }
    }

    /// `SREM` / `SISMEMBER`: a set command on one member answering 0 or 1.
    async fn member_command(
        &self,
        op: &'static str,
        command: &'static str,
        read_only: bool,
        ns: &str,
        key: &str,
        member: &Bytes,
    ) -> CacheResult<bool> {
        let k = &self.key(ns, key).await?;
        self.call(
            op,
            Kind::Set,
            read_only,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd(command)
                    .arg(k)
                    .arg(&member[..])
                    .query_async::<u64>(&mut c)
                    .await
                    .map(|n| n > 0)
            },
        )
        .await
    }
}

/// Replaces every secret in `s` by `***`.
fn scrub(secrets: &[String], mut s: String) -> String {
    for secret in secrets {
        if s.contains(secret.as_str()) {
            s = s.replace(secret.as_str(), "***");
        }
    }
    s
}

/// Sorts a Redis error into a connection failure or a command error (mapped to the cache's
/// error for that case).
fn classify(e: &RedisError, kind: Kind) -> Failure {
    let text = e.to_string();
    match e.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown,
        ) => Failure::Connection {
            why: text,
            renew: true,
        },
        ErrorKind::Server(_) | ErrorKind::Extension => {
            let code = e.code().unwrap_or_default();
            let lower = text.to_ascii_lowercase();
            if code == "WRONGTYPE" || lower.contains("wrongtype") {
                Failure::Command(kind.wrong_type())
            } else if code == "NOAUTH" || code == "WRONGPASS" || lower.contains("noauth") {
                Failure::Connection {
                    why: text,
                    renew: true,
                }
            } else if lower.contains("overflow") {
                Failure::Command(CacheError::Overflow)
            } else if lower.contains("not an integer") {
                Failure::Command(CacheError::NotAnInteger)
            } else {
                Failure::Command(CacheError::BackendUnavailable {
                    backend: NAME,
                    message: text,
                })
            }
        }
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
            Failure::Command(CacheError::BackendUnavailable {
                backend: NAME,
                message: format!("unexpected reply: {text}"),
            })
        }
        _ => Failure::Connection {
            renew: !e.is_io_error(),
            why: text,
        },
    }
}

/// `plain k`, or in a namespace with a time to idle (`tti` ms) `idle k idle_args… ms`
/// (`GET` / `GETEX k PX ms`, `TOUCH` / `PEXPIRE k ms`).
fn idle_or(k: &str, tti: Option<u64>, plain: &str, idle: &str, idle_args: &[&str]) -> ::redis::Cmd {
    match tti {
        Some(ms) => {
            let mut cmd = ::redis::cmd(idle);
            cmd.arg(k).arg(idle_args).arg(ms);
            cmd
        }
        None => {
            let mut cmd = ::redis::cmd(plain);
            cmd.arg(k);
            cmd
        }
    }
}

/// `PTTL` reply → [`Ttl`].
fn ttl_from_pttl(ms: i64) -> Option<Ttl> {
    match ms {
        -2 => None,
        ms if ms < 0 => Some(Ttl::Never),
        // A key whose expiry is due this millisecond: still live, 1 ms left at most.
        0 => Some(Ttl::After(Duration::from_millis(1))),
        ms => Some(Ttl::After(Duration::from_millis(ms.unsigned_abs()))),
    }
}

#[async_trait]
impl CacheBackend for RedisBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get(&self, ns: &str, key: &str) -> CacheResult<Option<Bytes>> {
        let k = &self.key(ns, key).await?;
        let tti = self.tti_ms(ns);
        self.call(
            "get",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                // A hit in a namespace with a time to idle restarts its timer.
                idle_or(k, tti, "GET", "GETEX", &["PX"])
                    .query_async(&mut c)
                    .await
            },
        )
        .await
    }

    async fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.check_size(value.len())?;
        let ttl = self.write_ttl(ns, ttl)?;
        let k = &self.key(ns, key).await?;
        self.set("put", k, &value, ttl).await
    }

    async fn delete(&self, ns: &str, key: &str) -> CacheResult<bool> {
        let k = &self.key(ns, key).await?;
        self.call(
            "delete",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd("UNLINK")
                    .arg(k)
                    .query_async::<u64>(&mut c)
                    .await
                    .map(|n| n > 0)
            },
        )
        .await
    }

    async fn exists(&self, ns: &str, key: &str) -> CacheResult<bool> {
        let k = &self.key(ns, key).await?;
        self.call(
            "exists",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd("EXISTS")
                    .arg(k)
                    .query_async::<u64>(&mut c)
                    .await
                    .map(|n| n > 0)
            },
        )
        .await
    }

    async fn ttl(&self, ns: &str, key: &str) -> CacheResult<Option<Ttl>> {
        let k = &self.key(ns, key).await?;
        self.call(
            "ttl",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd("PTTL")
                    .arg(k)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(ttl_from_pttl)
            },
        )
        .await
    }

    async fn increment(&self, ns: &str, key: &str, delta: i64, ttl: Ttl) -> CacheResult<i64> {
        // Validated before the MULTI below: Redis runs every queued command even when one
        // fails, so an invalid `PX` would leave the INCRBY applied.
        let ttl = self.write_ttl(ns, ttl)?;
        let k = &self.key(ns, key).await?;
        let n = match ttl.as_millis() {
            None => {
                self.call(
                    "increment",
                    Kind::Value,
                    false,
                    Some(k.as_str()),
                    |mut c| async move {
                        ::redis::cmd("INCRBY")
                            .arg(k)
                            .arg(delta)
                            .query_async(&mut c)
                            .await
                    },
                )
                .await?
            }
            Some(ms) => {
                // MULTI { SET k 0 PX ms NX; INCRBY k delta }: a new counter starts at 0 with
                // the TTL, an existing one keeps its TTL, and a failing INCRBY (WRONGTYPE, not
                // an integer, overflow) changes nothing (SET NX did nothing on an existing
                // key; on a new one INCRBY cannot fail). The SET cannot fail (`ms` is
                // validated; NX on an existing key of any type is a no-op; out of memory
                // aborts the whole transaction). Not a Lua script: Lua numbers are doubles and would round counters
                // past 2^53.
                self.call(
                    "increment",
                    Kind::Value,
                    false,
                    Some(k.as_str()),
                    |mut c| async move {
                        let mut p = ::redis::pipe();
                        p.atomic()
                            .cmd("SET")
                            .arg(k)
                            .arg(0)
                            .arg("PX")
                            .arg(ms)
                            .arg("NX")
                            .ignore()
                            .cmd("INCRBY")
                            .arg(k)
                            .arg(delta);
                        p.query_async::<(i64,)>(&mut c).await.map(|(v,)| v)
                    },
                )
                .await?
            }
        };
        self.refresh_idle(ns, key).await?;
        Ok(n)
    }

    async fn add_to_set(&self, ns: &str, key: &str, member: Bytes, ttl: Ttl) -> CacheResult<bool> {
        self.check_size(member.len())?;
        let ttl = self.write_ttl(ns, ttl)?;
        let k = &self.key(ns, key).await?;
        let member = &member;
        let added: u64 = match ttl.as_millis() {
            None => {
                self.call(
                    "add_to_set",
                    Kind::Set,
                    false,
                    Some(k.as_str()),
                    |mut c| async move {
                        ::redis::cmd("SADD")
                            .arg(k)
                            .arg(&member[..])
                            .query_async(&mut c)
                            .await
                    },
                )
                .await?
            }
            Some(ms) => {
                let script = &self.inner.sadd;
                self.call(
                    "add_to_set",
                    Kind::Set,
                    false,
                    Some(k.as_str()),
                    |mut c| async move {
                        script
                            .key(k)
                            .arg(&member[..])
                            .arg(ms)
                            .invoke_async(&mut c)
                            .await
                    },
                )
                .await?
            }
        };
        self.refresh_idle(ns, key).await?;
        Ok(added > 0)
    }

    async fn remove_from_set(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        let removed = self
            .member_command("remove_from_set", "SREM", false, ns, key, &member)
            .await?;
        self.refresh_idle(ns, key).await?;
        Ok(removed)
    }

    async fn set_members(&self, ns: &str, key: &str) -> CacheResult<Vec<Bytes>> {
        let k = &self.key(ns, key).await?;
        let members: Vec<Bytes> = self
            .call(
                "set_members",
                Kind::Set,
                true,
                Some(k.as_str()),
                |mut c| async move { ::redis::cmd("SMEMBERS").arg(k).query_async(&mut c).await },
            )
            .await?;
        if !members.is_empty() {
            self.refresh_idle(ns, key).await?;
        }
        Ok(members)
    }

    async fn is_member(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        let found = self
            .member_command("is_member", "SISMEMBER", true, ns, key, &member)
            .await?;
        self.refresh_idle(ns, key).await?;
        Ok(found)
    }

    async fn clear(&self, ns: Option<&str>) -> CacheResult<u64> {
        let keys = &self.inner.keys;
        match ns {
            Some(ns) if self.inner.generations.enabled() => self.next_generation(ns).await,
            Some(ns) => {
                self.scan_unlink("clear", keys.namespace_pattern_at(ns, 0), |_| true)
                    .await
            }
            None => {
                // The cache's own keys (leases, which expire by themselves; namespace
                // generations, which must outlive every entry) are neither removed nor counted.
                let internal = keys.internal_start();
                let internal = internal.as_bytes();
                self.scan_unlink("clear", keys.all_pattern(), |k| !k.starts_with(internal))
                    .await
            }
        }
    }

    async fn take_lease(
        &self,
        ns: &str,
        key: &str,
        token: u64,
        ttl_ms: u64,
    ) -> CacheResult<Option<bool>> {
        let k = &self.inner.keys.lease_key(ns, key);
        let taken: Option<String> = self
            .call(
                "take_lease",
                Kind::Value,
                false,
                Some(k.as_str()),
                |mut c| async move {
                    ::redis::cmd("SET")
                        .arg(k)
                        .arg(token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms.max(1))
                        .query_async(&mut c)
                        .await
                },
            )
            .await?;
        Ok(Some(taken.is_some()))
    }

    async fn release_lease(&self, ns: &str, key: &str, token: u64) -> CacheResult<()> {
        let k = &self.inner.keys.lease_key(ns, key);
        let script = &self.inner.release;
        self.call(
            "release_lease",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                script
                    .key(k)
                    .arg(token.to_string())
                    .invoke_async::<u64>(&mut c)
                    .await
            },
        )
        .await
        .map(|_| ())
    }

    async fn lease_held(&self, ns: &str, key: &str) -> CacheResult<Option<bool>> {
        let k = &self.inner.keys.lease_key(ns, key);
        self.call(
            "lease_held",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                ::redis::cmd("EXISTS")
                    .arg(k)
                    .query_async::<u64>(&mut c)
                    .await
                    .map(|n| Some(n > 0))
            },
        )
        .await
    }

    async fn delete_pattern(&self, ns: &str, pattern: &Glob) -> CacheResult<u64> {
        let keys = &self.inner.keys;
        let generation = self.generation(ns).await?;
        let start = keys.namespace_start_at(ns, generation);
        let start = start.as_bytes();
        let server_pattern = keys.glob_pattern_at(ns, generation, pattern);
        self.scan_unlink("delete_pattern", server_pattern, |k| {
            k.strip_prefix(start)
                .and_then(|rest| std::str::from_utf8(rest).ok())
                .is_some_and(|rest| pattern.matches(rest))
        })
        .await
    }

    async fn get_many(&self, keys: &KeyList) -> CacheResult<Vec<Option<Bytes>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let ks: Vec<String> = self
            .keys_at(keys.iter())
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let ks = &ks;
        let idle: Vec<(&String, u64)> = keys
            .iter()
            .zip(ks)
            .filter_map(|((ns, _), k)| self.tti_ms(ns).map(|ms| (k, ms)))
            .collect();
        let idle = &idle;
        // One MGET on one connection: a set answers nil, as documented for every backend.
        // Keys of namespaces with a time to idle get a PEXPIRE in the same round trip.
        let cluster = self.inner.source.is_cluster();
        let values: Vec<Option<Bytes>> = self
            .call("get_many", Kind::Value, true, None, |mut c| async move {
                // On a cluster the client splits MGET per slot; a pipeline could not span slots,
                // so the PEXPIREs follow one by one there.
                if idle.is_empty() || cluster {
                    return ::redis::cmd("MGET").arg(ks).query_async(&mut c).await;
                }
                let mut p = ::redis::pipe();
                p.cmd("MGET").arg(ks);
                for (k, ms) in idle {
                    p.cmd("PEXPIRE").arg(*k).arg(*ms).ignore();
                }
                p.query_async::<(Vec<Option<Bytes>>,)>(&mut c)
                    .await
                    .map(|(v,)| v)
            })
            .await?;
        if cluster {
            for (k, ms) in idle {
                self.call(
                    "get_many",
                    Kind::Value,
                    true,
                    Some(k.as_str()),
                    |mut c| async move {
                        ::redis::cmd("PEXPIRE")
                            .arg(*k)
                            .arg(*ms)
                            .query_async::<()>(&mut c)
                            .await
                    },
                )
                .await?;
            }
        }
        Ok(values)
    }

    async fn put_many(&self, entries: &EntryList) -> CacheResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut cmds = Vec::with_capacity(entries.len());
        for (ns, key, value, ttl) in entries.iter() {
            self.check_size(value.len())?;
            cmds.push((ns, key, value, self.write_ttl(ns, ttl)?));
        }
        let at = self
            .keys_at(cmds.iter().map(|(ns, key, _, _)| (*ns, *key)))
            .await?;
        let cmds: Vec<_> = cmds
            .into_iter()
            .zip(at)
            .map(|((_, _, value, ttl), (k, _))| (k, value, ttl))
            .collect();
        let cmds = &cmds;
        if self.inner.source.is_cluster() {
            // A transaction cannot span slots: on a cluster each SET goes to its slot's
            // primary on its own (validation above stays all-or-nothing; a failure part-way
            // leaves the earlier keys written, as separate puts would).
            for (k, value, ttl) in cmds {
                self.set("put_many", k, value, *ttl).await?;
            }
            return Ok(());
        }
        // One MULTI/EXEC pipeline on one connection: every SET or none (a SET with a
        // validated PX cannot fail inside the transaction; out of memory aborts all of it).
        self.call("put_many", Kind::Value, true, None, |mut c| async move {
            let mut p = ::redis::pipe();
            p.atomic();
            for (k, value, ttl) in cmds {
                p.cmd("SET").arg(k).arg(&value[..]);
                if let Some(ms) = ttl.as_millis() {
                    p.arg("PX").arg(ms);
                }
                p.ignore();
            }
            p.query_async::<()>(&mut c).await
        })
        .await
    }

    async fn delete_many(&self, keys: &KeyList) -> CacheResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let ks: Vec<String> = self
            .keys_at(keys.iter())
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let ks = &ks;
        // One UNLINK: a key listed twice is removed (and counted) once.
        self.call("delete_many", Kind::Value, true, None, |mut c| async move {
            ::redis::cmd("UNLINK").arg(ks).query_async(&mut c).await
        })
        .await
    }

    async fn expire(&self, ns: &str, key: &str, ttl: Ttl) -> CacheResult<bool> {
        let ttl = ttl.validate()?;
        let k = &self.key(ns, key).await?;
        self.call(
            "expire",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                match ttl.as_millis() {
                    Some(ms) => ::redis::cmd("PEXPIRE")
                        .arg(k)
                        .arg(ms)
                        .query_async::<u64>(&mut c)
                        .await
                        .map(|n| n > 0),
                    // PERSIST answers 0 for a key without a TTL too: EXISTS tells them apart.
                    None => {
                        let mut p = ::redis::pipe();
                        p.cmd("PERSIST").arg(k).ignore().cmd("EXISTS").arg(k);
                        p.query_async::<(u64,)>(&mut c).await.map(|(n,)| n > 0)
                    }
                }
            },
        )
        .await
    }

    async fn touch(&self, ns: &str, key: &str) -> CacheResult<bool> {
        let k = &self.key(ns, key).await?;
        let tti = self.tti_ms(ns);
        self.call(
            "touch",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                // In a namespace with a time to idle: the timer restarts.
                idle_or(k, tti, "TOUCH", "PEXPIRE", &[])
                    .query_async::<u64>(&mut c)
                    .await
                    .map(|n| n > 0)
            },
        )
        .await
    }
    async fn list_keys(
        &self,
        ns: &str,
        pattern: Option<&Glob>,
        cursor: Option<&str>,
        limit: usize,
    ) -> CacheResult<KeyPage> {
        self.list_page(ns, pattern, cursor, limit).await
    }

    async fn inspect(
        &self,
        ns: &str,
        key: &str,
        value_bytes: Option<usize>,
    ) -> CacheResult<Option<EntryInfo>> {
        self.inspect_key(ns, key, value_bytes).await
    }

    async fn namespaces(&self, scan_limit: u64) -> CacheResult<NamespaceList> {
        self.namespace_scan(scan_limit).await
    }

    async fn ping(&self) -> CacheResult<()> {
        RedisBackend::ping(self).await
    }

    fn breaker_state(&self) -> Option<BreakerState> {
        Some(RedisBackend::breaker_state(self))
    }

    fn stop(&self) {
        let stream = match self.inner.generation_stream.lock() {
            Ok(mut s) => s.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(stream) = stream {
            stream.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pttl_mapping() {
        assert_eq!(ttl_from_pttl(-2), None);
        assert_eq!(ttl_from_pttl(-1), Some(Ttl::Never));
        assert_eq!(
            ttl_from_pttl(1500),
            Some(Ttl::After(Duration::from_millis(1500)))
        );
    }

    #[test]
    fn scrub_replaces_every_secret() {
        let secrets = vec!["p@ss".to_string(), "p%40ss".to_string()];
        assert_eq!(
            scrub(&secrets, "auth p@ss failed for redis://:p%40ss@h".into()),
            "auth *** failed for redis://:***@h"
        );
    }

    #[test]
    fn config_debug_and_url_are_redacted() {
        let config = RedisConfig {
            url: "redis://user:s3cr%40t@localhost:6379/2".into(),
            ..RedisConfig::default()
        };
        assert_eq!(config.redacted_url(), "redis://user:***@localhost:6379/2");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert_eq!(config.url.secrets(), vec!["s3cr%40t", "s3cr@t"]);
        let plain = RedisConfig::default();
        assert_eq!(plain.redacted_url(), plain.url.expose_secret());
        assert!(plain.url.secrets().is_empty());
    }
}
