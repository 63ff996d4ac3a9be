//! The [`Cache`] facade handle.

use std::sync::Arc;

use deeper_cache_actors::{
    CacheConfig, CacheError, CacheResult, CacheService, CacheStats, Clock, Glob, MAX_KEY_BYTES,
    MAX_NAMESPACE_BYTES, NsStats, StampedeConfig, SupervisorStatus, TableUsage, Ttl, codec, ops,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Namespace of keys written through the root handle.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A handle to a running cache: cheap to clone, `Send + Sync`, every call async.
///
/// - **Start / stop**: [`Cache::start`], [`Cache::shutdown`].
/// - **Values**: [`get`](Cache::get), [`get_or`](Cache::get_or), [`put`](Cache::put),
///   [`put_with_ttl`](Cache::put_with_ttl), [`delete`](Cache::delete),
///   [`exists`](Cache::exists), [`ttl`](Cache::ttl), [`get_or_store`](Cache::get_or_store).
/// - **Counters**: [`increment`](Cache::increment), [`decrement`](Cache::decrement),
///   [`increment_with_ttl`](Cache::increment_with_ttl).
/// - **Sets**: [`add_to_set`](Cache::add_to_set), [`remove_from_set`](Cache::remove_from_set),
///   [`set_members`](Cache::set_members), [`is_member`](Cache::is_member).
/// - **Invalidation**: [`clear`](Cache::clear), [`delete_pattern`](Cache::delete_pattern).
/// - **Namespaces**: [`namespace`](Cache::namespace) returns a scoped handle.
///
/// Values are any serde type; they are encoded once, in the caller's task, by the shared codec.
/// Each call is bounded by `call_timeout_ms` and follows actor restarts (see
/// [`CacheService`](deeper_cache_actors::CacheService) for the exact guarantee).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use deeper_cache::{Cache, CacheConfig, Ttl};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), deeper_cache::CacheError> {
/// let cache = Cache::start(CacheConfig::default()).await?;
/// cache.put("greeting", &"hello").await?;
/// assert_eq!(cache.get::<String>("greeting").await?.as_deref(), Some("hello"));
///
/// let profiles = cache.namespace("profiles")?;
/// profiles.put_with_ttl("42", &vec![1, 2, 3], Duration::from_secs(60)).await?;
/// assert_eq!(cache.get::<Vec<u8>>("42").await?, None); // other namespace
/// assert_eq!(profiles.increment("views", 1).await?, 1);
/// cache.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    pub(crate) service: CacheService,
    /// This handle's namespace and its statistics (metric handles resolved once).
    pub(crate) ns: Arc<NsStats>,
    /// `true` for handles made by [`Cache::namespace`]: `clear()` then clears only that
    /// namespace.
    scoped: bool,
    pub(crate) default_ttl: Ttl,
    /// `stampede.*` settings: wait timeout and `get_or_refresh` defaults.
    pub(crate) stampede: StampedeConfig,
}

impl Cache {
    /// Starts a standalone cache tree with `config` (see [`ConfigLoader`](crate::ConfigLoader)
    /// to read it from files and the environment).
    ///
    /// # Errors
    /// [`CacheError::Config`] for invalid settings; [`CacheError::Start`] when the tree cannot
    /// start (for example the instance `name` is already in use).
    pub async fn start(config: CacheConfig) -> CacheResult<Cache> {
        Self::start_with(config, Clock::system()).await
    }

    /// Starts a cache whose expiry follows a [`ManualClock`](crate::ManualClock) (tests only).
    ///
    /// # Errors
    /// As [`Cache::start`].
    #[cfg(feature = "testing")]
    pub async fn start_with_clock(
        config: CacheConfig,
        clock: &crate::ManualClock,
    ) -> CacheResult<Cache> {
        Self::start_with(config, clock.clock()).await
    }

    /// Starts the cache tree linked under the application's own supervisor actor (`parent`).
    ///
    /// When the cache tree fails (more than `supervisor.max_restarts` restarts within
    /// `supervisor.max_seconds`), `parent` receives `SupervisionEvent::ActorFailed` for
    /// [`Cache::supervisor_cell`]; meanwhile calls return `Unavailable` at once. The parent can
    /// then call [`Cache::restart_linked`]: the new tree takes over the same table and every
    /// clone of this handle works again. See `examples/embedded.rs`.
    ///
    /// # Errors
    /// As [`Cache::start`].
    pub async fn start_linked(
        config: CacheConfig,
        parent: crate::ractor::ActorCell,
    ) -> CacheResult<Cache> {
        serve_metrics(&config)?;
        let default_ttl = config.default_ttl_seconds.0;
        let stampede = config.stampede.clone();
        let service = CacheService::start_linked(config, Clock::system(), parent).await?;
        Ok(Self::from_service(service, default_ttl, stampede))
    }

    /// Starts a new cache tree under `parent` after the previous one failed, keeping the
    /// table (entries, counters, sets, TTLs) and the handles.
    ///
    /// # Errors
    /// [`CacheError::ShutDown`] after `shutdown()`; [`CacheError::Start`] if the previous tree
    /// is still running or the new one cannot start.
    pub async fn restart_linked(&self, parent: crate::ractor::ActorCell) -> CacheResult<()> {
        self.service.restart_linked(parent).await
    }

    /// The cache supervisor's actor cell (to recognise its supervision events in a parent).
    pub fn supervisor_cell(&self) -> crate::ractor::ActorCell {
        self.service.supervisor_cell()
    }

    fn from_service(service: CacheService, default_ttl: Ttl, stampede: StampedeConfig) -> Cache {
        Cache {
            ns: service.namespace(DEFAULT_NAMESPACE),
            service,
            scoped: false,
            default_ttl,
            stampede,
        }
    }

    async fn start_with(config: CacheConfig, clock: Clock) -> CacheResult<Cache> {
        serve_metrics(&config)?;
        let default_ttl = config.default_ttl_seconds.0;
        let stampede = config.stampede.clone();
        let service = CacheService::start(config, clock).await?;
        Ok(Self::from_service(service, default_ttl, stampede))
    }

    /// Stops the whole tree and waits for it. Afterwards every call on every clone returns
    /// [`CacheError::ShutDown`]. Calling it twice is harmless.
    pub async fn shutdown(&self) {
        self.service.shutdown().await;
    }

    /// The instance name (from `name` in the config, or generated).
    pub fn name(&self) -> &str {
        self.service.name()
    }

    /// The namespace this handle reads and writes.
    pub fn namespace_name(&self) -> &str {
        self.ns.name()
    }

    /// A handle scoped to namespace `name`: its keys never collide with other namespaces'
    /// keys, its `clear()` clears only it, and its patterns match only inside it.
    ///
    /// # Errors
    /// [`CacheError::InvalidNamespace`] for an empty name or one longer than
    /// [`MAX_NAMESPACE_BYTES`].
    pub fn namespace(&self, name: &str) -> CacheResult<Cache> {
        if name.is_empty() || name.len() > MAX_NAMESPACE_BYTES {
            return Err(CacheError::InvalidNamespace {
                reason: format!(
                    "a namespace name must be 1 to {MAX_NAMESPACE_BYTES} bytes, got {}",
                    name.len()
                ),
            });
        }
        Ok(Cache {
            service: self.service.clone(),
            ns: self.service.namespace(name),
            scoped: true,
            default_ttl: self.default_ttl,
            stampede: self.stampede.clone(),
        })
    }

    /// Reads `key` and decodes it as `T`. `Ok(None)` on a miss (absent or expired).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`]; [`CacheError::Codec`] when the stored value is not a `T`
    /// (the entry stays as it is); [`CacheError::WrongType`] when the key holds a set;
    /// `Timeout` / `Unavailable` / `ShutDown`. A backend that cannot be reached (Redis down)
    /// is not an error here but a miss, `Ok(None)` (spec §11); the backend logs it
    /// (rate-limited) and it is counted as an error.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> CacheResult<Option<T>> {
        check_key(key)?;
        match self.service.run(&self.ns, key, ops::Get).await {
            Ok(Some(raw)) => self.decode_fresh(&raw),
            Ok(None) | Err(CacheError::BackendUnavailable { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads `key`, or returns `default` on a miss (the seed's `get(key, default)`).
    ///
    /// # Errors
    /// As [`Cache::get`].
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> CacheResult<T> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Stores `value` under `key` with the configured default TTL (`default_ttl_seconds`),
    /// replacing any previous value and TTL.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::Codec`], [`CacheError::ValueTooLarge`];
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> CacheResult<()> {
        self.put_with_ttl(key, value, self.default_ttl).await
    }

    /// Stores `value` under `key` with an explicit TTL: a [`Duration`](std::time::Duration) or
    /// [`Ttl::Never`].
    ///
    /// # Errors
    /// As [`Cache::put`], plus [`CacheError::InvalidTtl`] for a zero duration.
    pub async fn put_with_ttl<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: impl Into<Ttl>,
    ) -> CacheResult<()> {
        check_key(key)?;
        let ttl = self.write_ttl(ttl.into())?;
        let raw = self.encode(value)?;
        self.service
            .run(&self.ns, key, ops::Put { value: raw, ttl })
            .await
    }

    /// Removes `key`; `true` when a live entry was removed.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`]; `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn delete(&self, key: &str) -> CacheResult<bool> {
        check_key(key)?;
        self.service.run(&self.ns, key, ops::Delete).await
    }

    /// Whether `key` holds a live (unexpired) entry.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`]; `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn exists(&self, key: &str) -> CacheResult<bool> {
        check_key(key)?;
        self.service.run(&self.ns, key, ops::Exists).await
    }

    /// Remaining time to live of `key`: `None` when absent or expired, `Some(Ttl::Never)` when
    /// it never expires, `Some(Ttl::After(remaining))` otherwise (millisecond granularity).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`]; `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn ttl(&self, key: &str) -> CacheResult<Option<Ttl>> {
        check_key(key)?;
        self.service.run(&self.ns, key, ops::TtlOf).await
    }

    /// Atomically adds `amount` to the integer counter at `key` and returns the new value. A
    /// missing or expired key starts from 0 and gets the default TTL. The counter reads back
    /// with `get::<i64>`.
    ///
    /// # Errors
    /// [`CacheError::NotAnInteger`] when the key holds something else, and
    /// [`CacheError::Overflow`] past `i64`; in both cases the value is unchanged.
    /// `Timeout` / `Unavailable` / `ShutDown` (an increment is never retried once delivered).
    pub async fn increment(&self, key: &str, amount: i64) -> CacheResult<i64> {
        self.increment_with_ttl(key, amount, self.default_ttl).await
    }

    /// As [`Cache::increment`], with the TTL applied when the counter is created (an existing
    /// counter keeps its TTL).
    ///
    /// # Errors
    /// As [`Cache::increment`], plus [`CacheError::InvalidTtl`].
    pub async fn increment_with_ttl(
        &self,
        key: &str,
        amount: i64,
        ttl_on_create: impl Into<Ttl>,
    ) -> CacheResult<i64> {
        check_key(key)?;
        let ttl = self.write_ttl(ttl_on_create.into())?;
        self.service
            .run(
                &self.ns,
                key,
                ops::Increment {
                    delta: amount,
                    ttl_on_create: ttl,
                },
            )
            .await
    }

    /// Atomically subtracts `amount`; see [`Cache::increment`].
    ///
    /// # Errors
    /// As [`Cache::increment`]; `decrement(key, i64::MIN)` is an [`CacheError::Overflow`].
    pub async fn decrement(&self, key: &str, amount: i64) -> CacheResult<i64> {
        let delta = amount.checked_neg().ok_or(CacheError::Overflow)?;
        self.increment(key, delta).await
    }

    /// Adds `member` to the set at `key` (created with the default TTL when missing); `true`
    /// when it was not already a member. Atomic per key.
    ///
    /// # Errors
    /// [`CacheError::WrongType`] when the key holds a plain value; codec and call errors.
    pub async fn add_to_set<M: Serialize + ?Sized>(
        &self,
        key: &str,
        member: &M,
    ) -> CacheResult<bool> {
        check_key(key)?;
        let raw = self.encode(member)?;
        let req = ops::AddToSet {
            member: raw,
            ttl_on_create: self.write_ttl(self.default_ttl)?,
        };
        self.service.run(&self.ns, key, req).await
    }

    /// Removes `member` from the set at `key`; `true` when it was there. Removing the last
    /// member removes the key.
    ///
    /// # Errors
    /// [`CacheError::WrongType`] when the key holds a plain value; codec and call errors.
    pub async fn remove_from_set<M: Serialize + ?Sized>(
        &self,
        key: &str,
        member: &M,
    ) -> CacheResult<bool> {
        check_key(key)?;
        let raw = self.encode(member)?;
        self.service
            .run(&self.ns, key, ops::RemoveFromSet { member: raw })
            .await
    }

    /// The members of the set at `key` (empty when absent), in no particular order.
    ///
    /// # Errors
    /// [`CacheError::WrongType`]; [`CacheError::Codec`] when a member is not an `M`.
    pub async fn set_members<M: DeserializeOwned>(&self, key: &str) -> CacheResult<Vec<M>> {
        check_key(key)?;
        self.service
            .run(&self.ns, key, ops::SetMembers)
            .await?
            .iter()
            .map(|raw| codec::decode(raw))
            .collect()
    }

    /// Whether `member` is in the set at `key`.
    ///
    /// # Errors
    /// [`CacheError::WrongType`]; codec and call errors.
    pub async fn is_member<M: Serialize + ?Sized>(
        &self,
        key: &str,
        member: &M,
    ) -> CacheResult<bool> {
        check_key(key)?;
        let raw = self.encode(member)?;
        self.service
            .run(&self.ns, key, ops::IsMember { member: raw })
            .await
    }

    /// Removes every entry this handle can see: the whole cache on the root handle, only the
    /// namespace on a handle from [`Cache::namespace`]. Returns the number of live entries
    /// removed.
    ///
    /// # Errors
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn clear(&self) -> CacheResult<u64> {
        let all = !self.scoped;
        self.service
            .run(&self.ns, ops::ALL_KEYS, ops::Clear { all })
            .await
    }

    /// Deletes the keys of this handle's namespace that match `pattern` (Redis `MATCH` glob:
    /// `*`, `?`, `[abc]`, `[a-z]`, `[^a]`, `\` escapes) and returns how many went.
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`] for a malformed pattern; call errors.
    pub async fn delete_pattern(&self, pattern: &str) -> CacheResult<u64> {
        let pattern = Glob::new(pattern)?;
        let key = pattern.as_str().to_owned();
        self.service
            .run(&self.ns, &key, ops::DeletePattern { pattern })
            .await
    }

    /// Runs an expiry sweep now instead of waiting for `memory.cleanup_interval_ms`, and
    /// returns how many expired entries it removed. Reads never need it (expired entries are
    /// misses anyway); it frees memory.
    ///
    /// # Errors
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn purge_expired(&self) -> CacheResult<u64> {
        self.service.purge_expired().await
    }

    /// Entries and estimated bytes held by the in-memory table, per namespace (empty for other
    /// backends). Includes expired entries not yet swept.
    ///
    /// # Errors
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn usage(&self) -> CacheResult<TableUsage> {
        self.service.usage().await
    }

    /// Totals and per-namespace figures: hits, misses, hit ratio, items, bytes, evictions by
    /// reason, operations by kind, errors. Serializable (serde).
    ///
    /// Operation counts are exact; items and bytes include expired entries not yet swept.
    ///
    /// # Errors
    /// `Timeout` / `Unavailable` / `ShutDown`.
    pub async fn stats(&self) -> CacheResult<CacheStats> {
        self.service.stats().await
    }

    /// Registers a listener called once for every entry the in-memory table removes on its own
    /// (expired, or evicted by the `lru`/`lfu` policy), after the table's locks are released;
    /// replaces any previous listener. Returns `false` for backends without a local table.
    /// Keep it quick: it runs on the thread that caused the removal.
    pub fn on_eviction(&self, listener: impl Fn(&crate::Eviction) + Send + Sync + 'static) -> bool {
        self.service.set_eviction_listener(Some(Arc::new(listener)))
    }

    /// Arms a fault for the next handler call (or `pre_start`) of one child (tests only).
    #[cfg(feature = "testing")]
    pub fn inject_fault(&self, child: crate::ChildKind, fault: crate::Fault) {
        self.service.inject_fault(child, fault);
    }

    /// The supervisor's strategy, restart count, and children with their current actor ids and
    /// restart counts.
    ///
    /// # Errors
    /// `ShutDown`, or `Unavailable` when the supervisor does not answer.
    pub async fn supervisor_status(&self) -> CacheResult<SupervisorStatus> {
        self.service.supervisor_status().await
    }
}

impl Cache {
    /// The TTL a write sends: validated, then spread by `ttl_jitter`.
    pub(crate) fn write_ttl(&self, ttl: Ttl) -> CacheResult<Ttl> {
        Ok(ttl.validate()?.jittered(self.service.ttl_jitter()))
    }

    /// Encodes a value or set member, refusing it past `memory.max_value_bytes` before it is
    /// copied or sent, and refusing nesting the decoder could not read back.
    pub(crate) fn encode<T: Serialize + ?Sized>(&self, value: &T) -> CacheResult<bytes::Bytes> {
        codec::encode_within(value, self.service.max_value_bytes())
    }

    /// Decodes a stored value; a value written by `get_or_refresh` whose freshness stamp has
    /// passed is stale, which plain reads treat as a miss.
    pub(crate) fn decode_fresh<T: DeserializeOwned>(&self, raw: &[u8]) -> CacheResult<Option<T>> {
        match codec::unwrap(raw) {
            Some(env) if self.service.clock().epoch_ms() >= env.fresh_until_ms => Ok(None),
            Some(env) => codec::decode(env.value).map(Some),
            None => codec::decode(raw).map(Some),
        }
    }
}

/// Starts the built-in Prometheus endpoint when the configuration asks for it.
fn serve_metrics(config: &CacheConfig) -> CacheResult<()> {
    let p = &config.metrics.prometheus;
    if !p.enabled {
        return Ok(());
    }
    #[cfg(feature = "prometheus")]
    {
        let addr = p.listen.parse().map_err(|_| CacheError::Config {
            key: "metrics.prometheus.listen".into(),
            value: format!("{:?}", p.listen),
            message: "expected an address such as 127.0.0.1:9568".into(),
        })?;
        crate::prometheus::serve(addr).map(|_| ())
    }
    #[cfg(not(feature = "prometheus"))]
    Err(CacheError::Config {
        key: "metrics.prometheus.enabled".into(),
        value: "true".into(),
        message: "deeper-cache was built without its `prometheus` feature".into(),
    })
}

pub(crate) fn check_key(key: &str) -> CacheResult<()> {
    if key.is_empty() {
        return Err(CacheError::InvalidKey {
            reason: "the key is empty".into(),
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CacheError::InvalidKey {
            reason: format!(
                "the key is {} bytes; the maximum is {MAX_KEY_BYTES}",
                key.len()
            ),
        });
    }
    Ok(())
}
