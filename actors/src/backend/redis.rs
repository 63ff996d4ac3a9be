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
//! | `clear` / `delete_pattern` | `SCAN MATCH … COUNT n` + `UNLINK` in batches — never `KEYS`, never `FLUSHDB` |
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

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, ErrorKind, RedisError, Script, ServerErrorKind};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;

use super::CacheBackend;
use crate::config::RedisConfig;
use crate::error::{CacheError, CacheResult};
use crate::glob::Glob;
use crate::ttl::Ttl;

mod breaker;
pub(in crate::backend) mod keys;

pub use breaker::BreakerState;
use breaker::{Breaker, LogLimiter, Permit};
use keys::KeyLayout;

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
    client: Client,
    manager_config: ConnectionManagerConfig,
    pool: Vec<ArcSwap<ConnectionManager>>,
    next: AtomicUsize,
    keys: KeyLayout,
    command_timeout: Duration,
    scan_batch: usize,
    max_value_bytes: usize,
    breaker: Breaker,
    log: LogLimiter,
    sadd: Script,
    release: Script,
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
        let secrets = config.url.secrets();
        let scrub = |s: String| scrub(&secrets, s);
        let client =
            Client::open(config.url.expose_secret().trim()).map_err(|e| CacheError::Config {
                key: "redis.url".into(),
                value: config.redacted_url(),
                message: scrub(e.to_string()),
            })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout()))
            // The breaker paces reconnection: one attempt per reconnect, no backoff loop.
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(1))
            .set_max_delay(Duration::from_millis(10));
        let mut pool = Vec::with_capacity(config.pool_size);
        for _ in 0..config.pool_size.max(1) {
            let manager =
                ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())
                    .map_err(|e| CacheError::Config {
                        key: "redis.url".into(),
                        value: config.redacted_url(),
                        message: scrub(e.to_string()),
                    })?;
            pool.push(ArcSwap::from_pointee(manager));
        }
        let backend = RedisBackend {
            inner: Arc::new(Inner {
                url: config.redacted_url(),
                secrets,
                client,
                manager_config,
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

    /// A client for the same server as this backend's, speaking RESP3 (for connections that
    /// receive push messages, such as client-side-caching invalidations).
    pub(in crate::backend) fn resp3_client(&self) -> CacheResult<Client> {
        let info = self.inner.client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(::redis::ProtocolVersion::RESP3);
        Client::open(info.set_redis_settings(settings)).map_err(|e| self.unavailable("connect", e))
    }

    /// `redis.command_timeout_ms`.
    pub(in crate::backend) fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    /// Replaces every secret of the URL in `s` by `***`.
    pub(in crate::backend) fn scrub(&self, s: String) -> String {
        scrub(&self.inner.secrets, s)
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
    ) -> CacheResult<Option<(Bytes, Ttl)>> {
        let k = &self.inner.keys.key(ns, key);
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
        Ok(value.and_then(|v| ttl_from_pttl(pttl).map(|t| (v, t))))
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
    fn pick(&self, route: Option<&str>) -> (usize, ConnectionManager) {
        let pool = &self.inner.pool;
        let i = match (pool.len(), route) {
            (1, _) => 0,
            (n, Some(key)) => (ROUTE.hash_one(key) % n as u64) as usize,
            (n, None) => self.inner.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        (i, ConnectionManager::clone(&pool[i].load()))
    }

    /// Replaces connection `i` with a fresh (lazy) one. The connection manager reconnects by
    /// itself after I/O errors; this covers the failures it does not retry (a refused AUTH,
    /// a server still loading its data when the connection was made).
    fn renew(&self, i: usize) {
        if let Ok(m) = ConnectionManager::new_lazy_with_config(
            self.inner.client.clone(),
            self.inner.manager_config.clone(),
        ) {
            self.inner.pool[i].store(Arc::new(m));
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
                    let mut c = ConnectionManager::clone(&slot.load());
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
        F: Fn(ConnectionManager) -> Fut,
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
        let (slot, conn) = self.pick(route);
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
        let (_, mut c) = self.pick(Some(key));
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
        if renew {
            self.renew(slot);
        }
        if inner.breaker.failure(permit) {
            tracing::warn!(backend = NAME, url = %inner.url, "circuit breaker opened: redis calls fail fast until a probe succeeds");
        }
        if let Some(suppressed) = inner.log.admit() {
            tracing::error!(backend = NAME, url = %inner.url, operation, error = %why, suppressed, "redis connection failure");
        }
    }

    /// `SCAN MATCH pattern` over the whole keyspace, `UNLINK`ing (in batches) the keys `keep`
    /// accepts. Returns the number of keys removed.
    async fn scan_unlink(
        &self,
        operation: &'static str,
        pattern: String,
        keep: impl Fn(&[u8]) -> bool,
    ) -> CacheResult<u64> {
        let batch = self.inner.scan_batch;
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            let pattern = &pattern;
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .call(operation, Kind::Value, true, None, |mut c| async move {
                    ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(batch)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            pending.extend(keys.into_iter().filter(|k| keep(k)));
            if pending.len() >= batch || (next == 0 && !pending.is_empty()) {
                let chunk = std::mem::take(&mut pending);
                let chunk = &chunk;
                let n: u64 = self
                    .call(operation, Kind::Value, true, None, |mut c| async move {
                        ::redis::cmd("UNLINK").arg(chunk).query_async(&mut c).await
                    })
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
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
        let k = &self.inner.keys.key(ns, key);
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
        let k = &self.inner.keys.key(ns, key);
        self.call(
            "get",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move { ::redis::cmd("GET").arg(k).query_async(&mut c).await },
        )
        .await
    }

    async fn put(&self, ns: &str, key: &str, value: Bytes, ttl: Ttl) -> CacheResult<()> {
        self.check_size(value.len())?;
        let ttl = ttl.validate()?;
        let k = &self.inner.keys.key(ns, key);
        let value = &value;
        self.call(
            "put",
            Kind::Value,
            true,
            Some(k.as_str()),
            |mut c| async move {
                let mut cmd = ::redis::cmd("SET");
                cmd.arg(k).arg(&value[..]);
                if let Some(ms) = ttl.as_millis() {
                    cmd.arg("PX").arg(ms);
                }
                cmd.query_async::<()>(&mut c).await
            },
        )
        .await
    }

    async fn delete(&self, ns: &str, key: &str) -> CacheResult<bool> {
        let k = &self.inner.keys.key(ns, key);
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
        let k = &self.inner.keys.key(ns, key);
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
        let k = &self.inner.keys.key(ns, key);
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
        let ttl = ttl.validate()?;
        let k = &self.inner.keys.key(ns, key);
        match ttl.as_millis() {
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
                .await
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
                .await
            }
        }
    }

    async fn add_to_set(&self, ns: &str, key: &str, member: Bytes, ttl: Ttl) -> CacheResult<bool> {
        self.check_size(member.len())?;
        let ttl = ttl.validate()?;
        let k = &self.inner.keys.key(ns, key);
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
        Ok(added > 0)
    }

    async fn remove_from_set(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        self.member_command("remove_from_set", "SREM", false, ns, key, &member)
            .await
    }

    async fn set_members(&self, ns: &str, key: &str) -> CacheResult<Vec<Bytes>> {
        let k = &self.inner.keys.key(ns, key);
        self.call(
            "set_members",
            Kind::Set,
            true,
            Some(k.as_str()),
            |mut c| async move { ::redis::cmd("SMEMBERS").arg(k).query_async(&mut c).await },
        )
        .await
    }

    async fn is_member(&self, ns: &str, key: &str, member: Bytes) -> CacheResult<bool> {
        self.member_command("is_member", "SISMEMBER", true, ns, key, &member)
            .await
    }

    async fn clear(&self, ns: Option<&str>) -> CacheResult<u64> {
        let keys = &self.inner.keys;
        match ns {
            Some(ns) => {
                self.scan_unlink("clear", keys.namespace_pattern(ns), |_| true)
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
        let start = keys.namespace_start(ns);
        let start = start.as_bytes();
        self.scan_unlink("delete_pattern", keys.glob_pattern(ns, pattern), |k| {
            k.strip_prefix(start)
                .and_then(|rest| std::str::from_utf8(rest).ok())
                .is_some_and(|rest| pattern.matches(rest))
        })
        .await
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
