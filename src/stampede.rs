//! Stampede protection: single-flight `get_or_store`, and `get_or_refresh` with
//! stale-while-revalidate and refresh-ahead.
//!
//! See [`Cache::get_or_store_with`] for the exact failure semantics.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deeper_cache_actors::flight::{FlightState, Join, LeaderGuard};
use deeper_cache_actors::stats::Started;
use deeper_cache_actors::{CacheError, FlightEvent, Op, Status, Ttl, codec, ops};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Cache, check_key};
use crate::error::GetOrStoreError;

/// Options of [`Cache::get_or_store_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct StoreOptions {
    ttl: Option<Ttl>,
    wait_timeout: Option<Duration>,
}

impl StoreOptions {
    /// Defaults: the configured default TTL and `stampede.wait_timeout_ms`.
    pub fn new() -> Self {
        Self::default()
    }

    /// TTL of the generated value.
    pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// How long to wait for another caller's generator of the same key.
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }
}

/// Options of [`Cache::get_or_refresh`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[must_use]
pub struct RefreshOptions {
    ttl: Option<Duration>,
    stale_for: Option<Duration>,
    refresh_ahead: Option<f64>,
    wait_timeout: Option<Duration>,
}

impl RefreshOptions {
    /// Defaults: the configured default TTL, `stampede.stale_for_ms`,
    /// `stampede.refresh_ahead` and `stampede.wait_timeout_ms`.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a generated value is fresh.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Stale-while-revalidate grace: after the TTL and for this long, callers get the stale
    /// value at once while exactly one background refresh runs. `Duration::ZERO` turns it off.
    pub fn stale_for(mut self, grace: Duration) -> Self {
        self.stale_for = Some(grace);
        self
    }

    /// Refresh-ahead: a hit in the last `fraction` of the TTL (e.g. `0.1`) starts one
    /// background refresh, so a hot key never goes cold. `0.0` turns it off.
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.refresh_ahead = Some(fraction);
        self
    }

    /// How long a caller waits for another caller's generator on a miss.
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }
}

/// What a lookup found, for the stampede paths.
enum Found<T> {
    /// A fresh value (and, for a stamped value, whether it is in its refresh-ahead window).
    Fresh(T, Option<u64>),
    /// A stamped value past its freshness, still within its grace period.
    Stale(T, u64),
    /// Nothing usable.
    Miss,
}

impl Cache {
    /// Returns the cached value of `key`, or runs `generator`, stores its `Ok` value with the
    /// default TTL and returns it. See [`Cache::get_or_store_with`].
    ///
    /// # Errors
    /// As [`Cache::get_or_store_with`].
    pub async fn get_or_store<T, E, F, Fut>(
        &self,
        key: &str,
        generator: F,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.get_or_store_with(key, StoreOptions::new(), generator)
            .await
    }

    /// As [`Cache::get_or_store`], with an explicit TTL.
    ///
    /// # Errors
    /// As [`Cache::get_or_store_with`].
    pub async fn get_or_store_with_ttl<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: impl Into<Ttl>,
        generator: F,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.get_or_store_with(key, StoreOptions::new().ttl(ttl), generator)
            .await
    }

    /// Returns the cached value of `key`, or produces it once for every concurrent caller.
    ///
    /// - **Hit**: the value; the generator is not called.
    /// - **Miss** (absent or expired): single flight per key in this cache instance. The first
    ///   caller (the *leader*) runs `generator` **in its own task** (never inside an actor),
    ///   stores an `Ok` value and returns it; concurrent callers of the same key wait for that
    ///   value and decode the same bytes. Different keys never wait for each other.
    /// - **Generator error**: the leader gets [`GetOrStoreError::Generator`] with its own error;
    ///   every waiter of that flight gets [`GetOrStoreError::LeaderFailed`] with the error's
    ///   text. Nothing is stored; the next call starts a new flight.
    /// - **Generator panic**: the leader's caller sees the panic (it unwinds through this call,
    ///   as a panic in its own code would); waiters get [`GetOrStoreError::LeaderPanicked`].
    ///   The key is not poisoned: the next call runs the generator again.
    /// - **Leader cancelled** (its future dropped: timeout, client gone): the flight is
    ///   abandoned and one waiter takes over as the new leader with its own generator; no
    ///   waiter waits forever.
    /// - **Wait timeout** (`wait_timeout`, default `stampede.wait_timeout_ms`): a waiter past
    ///   it gets [`GetOrStoreError::WaitTimeout`]; the flight continues for the others.
    /// - **Cache unavailable** (timeout, restarting actors, backend down): the generator still
    ///   runs (still single-flight) and its value is returned; storing is attempted and a
    ///   failure to store is logged, not returned (the spec's degradation rule).
    ///
    /// # Errors
    /// The variants above, and [`GetOrStoreError::Cache`] for a bad key or TTL, a stored value
    /// that is not a `T`, or a cache that was shut down.
    pub async fn get_or_store_with<T, E, F, Fut>(
        &self,
        key: &str,
        options: StoreOptions,
        generator: F,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        check_key(key)?;
        let ttl = self.write_ttl(options.ttl.unwrap_or(self.default_ttl))?;
        let wait = options.wait_timeout.unwrap_or(self.wait_timeout());
        let started = self.ns.start();
        let r = async {
            if let Found::Fresh(v, _) = self.lookup::<T, E>(key).await? {
                return Ok((v, true));
            }
            let store = |value: &T| -> Result<bytes::Bytes, CacheError> { codec::encode(value) };
            let v = self.single_flight(key, wait, generator, store, ttl).await?;
            Ok((v, false))
        }
        .await;
        self.record(started, &r);
        r.map(|(v, _)| v)
    }

    /// Like [`Cache::get_or_store_with`], plus stale-while-revalidate and refresh-ahead, which
    /// refresh in the background and so need a generator that can run again (`Fn`, `'static`).
    ///
    /// - Within the TTL: the cached value. With refresh-ahead on, a hit in the last fraction of
    ///   the TTL starts exactly one background refresh.
    /// - After the TTL, within `stale_for`: the stale value at once, and exactly one background
    ///   refresh. A failed refresh keeps the stale value until the grace ends and logs WARN.
    /// - Past the grace, or absent: a normal single-flight miss.
    ///
    /// The entry is stored with a freshness stamp (wall-clock time, see
    /// [`codec::ENVELOPE_TAG`](deeper_cache_actors::codec::ENVELOPE_TAG)) and a physical TTL
    /// of `ttl + stale_for`; plain `get` reads it as a miss once stale, while `exists` and
    /// `ttl` report the physical entry. Background refreshes are owned by the cache and
    /// aborted by `shutdown()`.
    ///
    /// # Errors
    /// As [`Cache::get_or_store_with`] on a miss; a stale or fresh hit never fails.
    pub async fn get_or_refresh<T, E, F, Fut>(
        &self,
        key: &str,
        options: RefreshOptions,
        generator: F,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: Display + Send + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        check_key(key)?;
        let ttl = options
            .ttl
            .or(match self.default_ttl {
                Ttl::After(d) => Some(d),
                Ttl::Never => None,
            })
            .ok_or_else(|| CacheError::InvalidTtl {
                reason: "get_or_refresh needs a finite ttl (the default ttl is never)".into(),
            })?;
        // The jittered TTL is the refresh plan's: freshness and expiry spread alike.
        let ttl = match self.write_ttl(Ttl::After(ttl))? {
            Ttl::After(d) => d,
            Ttl::Never => ttl,
        };
        let stale_for = options
            .stale_for
            .unwrap_or(Duration::from_millis(self.stampede.stale_for_ms));
        let ahead = options.refresh_ahead.unwrap_or(self.stampede.refresh_ahead);
        if !(0.0..1.0).contains(&ahead) {
            return Err(CacheError::InvalidTtl {
                reason: format!("refresh_ahead must be in [0.0, 1.0), got {ahead}"),
            }
            .into());
        }
        let wait = options.wait_timeout.unwrap_or(self.wait_timeout());
        let plan = RefreshPlan {
            ttl,
            stale_for,
            ahead,
        };
        let generator = Arc::new(generator);
        let started = self.ns.start();
        let r = async {
            match self.lookup::<T, E>(key).await? {
                Found::Fresh(v, stamp) => {
                    if let Some(fresh_until) = stamp
                        && plan.in_refresh_window(fresh_until, self.service.clock().epoch_ms())
                    {
                        self.spawn_refresh(key, plan, fresh_until, generator);
                    }
                    return Ok((v, true));
                }
                Found::Stale(v, fresh_until) => {
                    self.ns.flight_event(FlightEvent::StaleServed);
                    self.spawn_refresh(key, plan, fresh_until, generator);
                    return Ok((v, true));
                }
                Found::Miss => {}
            }
            let clock = self.service.clock().clone();
            let store = move |value: &T| -> Result<bytes::Bytes, CacheError> {
                let json = codec::encode(value)?;
                Ok(plan.wrap(clock.epoch_ms(), &json))
            };
            let generator = move || generator();
            let v = self
                .single_flight(key, wait, generator, store, plan.physical_ttl())
                .await?;
            Ok((v, false))
        }
        .await;
        self.record(started, &r);
        r.map(|(v, _)| v)
    }

    /// How many `get_or_store` generators (and background refreshes) are running now, across
    /// every namespace of this cache.
    pub fn generators_in_flight(&self) -> usize {
        self.service.flights().in_flight()
    }

    fn wait_timeout(&self) -> Duration {
        Duration::from_millis(self.stampede.wait_timeout_ms)
    }

    /// Reads `key` for the stampede paths (recorded by the caller, once per call).
    /// Unavailability is a miss (the generator runs); other cache errors are returned.
    async fn lookup<T: DeserializeOwned, E>(
        &self,
        key: &str,
    ) -> Result<Found<T>, GetOrStoreError<E>> {
        let raw = match self.service.dispatch(&self.ns, key, ops::Get).await {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(Found::Miss),
            Err(e) if e.is_unavailable() => {
                // DEBUG, not WARN: during an outage this fires on every call; the backend logs
                // the outage itself at ERROR, rate-limited.
                tracing::debug!(namespace = %self.ns.name(), key, error = %e, "cache unavailable; running the generator without the cache");
                return Ok(Found::Miss);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(match codec::unwrap(&raw) {
            None => Found::Fresh(codec::decode(&raw)?, None),
            Some(env) => {
                let value = codec::decode(env.value)?;
                if self.service.clock().epoch_ms() < env.fresh_until_ms {
                    Found::Fresh(value, Some(env.fresh_until_ms))
                } else {
                    Found::Stale(value, env.fresh_until_ms)
                }
            }
        })
    }

    /// The miss path shared by `get_or_store_with` and `get_or_refresh`: lead the key's flight
    /// (run `generator`, store with `encode_for_store`) or wait for its leader.
    async fn single_flight<T, E, F, Fut>(
        &self,
        key: &str,
        wait: Duration,
        generator: F,
        encode_for_store: impl Fn(&T) -> Result<bytes::Bytes, CacheError>,
        ttl: Ttl,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = tokio::time::Instant::now() + wait;
        let mut generator = Some(generator);
        loop {
            match self.service.flights().join(self.ns.name(), key) {
                Join::Leader(guard) => {
                    // A flight may have finished between our lookup and our joining.
                    if let Ok(Some(raw)) = self.service.dispatch(&self.ns, key, ops::Get).await
                        && let Ok(Some(v)) = self.decode_fresh::<T>(&raw)
                    {
                        guard.finish(FlightState::Abandoned);
                        return Ok(v);
                    }
                    let Some(generator) = generator.take() else {
                        // Unreachable: a caller leads at most once (it returns as leader).
                        return Err(CacheError::Unavailable {
                            operation: "get_or_store",
                            reason: "generator already used".into(),
                        }
                        .into());
                    };
                    return self
                        .lead_fleet(key, wait, guard, generator, encode_for_store, ttl)
                        .await;
                }
                Join::Waiter(mut rx) => {
                    self.ns.flight_event(FlightEvent::Coalesced);
                    let outcome = tokio::time::timeout_at(
                        deadline,
                        rx.wait_for(|s| *s != FlightState::Running),
                    )
                    .await;
                    let state = match outcome {
                        Err(_) => {
                            self.ns.flight_event(FlightEvent::WaitTimeout);
                            return Err(GetOrStoreError::WaitTimeout { after: wait });
                        }
                        Ok(Ok(state)) => state.clone(),
                        Ok(Err(_)) => FlightState::Abandoned,
                    };
                    match state {
                        FlightState::Done(raw) => return Ok(codec::decode(&raw)?),
                        FlightState::Failed(message) => {
                            return Err(GetOrStoreError::LeaderFailed {
                                message: message.to_string(),
                            });
                        }
                        FlightState::Panicked => {
                            return Err(GetOrStoreError::LeaderPanicked);
                        }
                        // The leader went away: try to take over (or find its value).
                        FlightState::Abandoned | FlightState::Running => {}
                    }
                }
            }
        }
    }

    /// This node's leader of a key's flight: on a backend shared by other nodes, takes the
    /// key's lease first (`stampede.distributed`). Taken: runs the generator, stores, releases.
    /// Held by another node: polls for its value (backoff 2 ms doubling to 50 ms), taking the
    /// lease over if it is let go (its holder failed, died or hung past `stampede.lease_ms`)
    /// before a value appears, and running the generator itself once `wait` has passed: never
    /// an error the caller did not ask for. Redis unreachable: the local single flight alone.
    async fn lead_fleet<T, E, F, Fut>(
        &self,
        key: &str,
        wait: Duration,
        guard: LeaderGuard,
        generator: F,
        encode_for_store: impl Fn(&T) -> Result<bytes::Bytes, CacheError>,
        ttl: Ttl,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize + DeserializeOwned,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if !self.stampede.distributed {
            return self
                .lead(key, guard, generator, encode_for_store, ttl)
                .await;
        }
        let token = fastrand::u64(1..);
        let take = ops::TakeLease {
            token,
            ttl_ms: self.stampede.lease_ms,
        };
        let deadline = tokio::time::Instant::now() + wait;
        let mut backoff = Duration::from_millis(2);
        let mut waited = false;
        loop {
            match self.service.dispatch(&self.ns, key, take).await {
                Ok(None) => {
                    return self
                        .lead(key, guard, generator, encode_for_store, ttl)
                        .await;
                }
                Err(e) => {
                    self.ns.flight_event(FlightEvent::LeaseFallback);
                    tracing::debug!(namespace = %self.ns.name(), key, error = %e, "lease unavailable: local single flight only");
                    return self
                        .lead(key, guard, generator, encode_for_store, ttl)
                        .await;
                }
                Ok(Some(true)) => {
                    if waited {
                        self.ns.flight_event(FlightEvent::LeaseTakeover);
                    }
                    // The holder before us may have stored its value just before letting go.
                    let r = match self.fresh_value::<T>(key).await {
                        Some((v, plain)) => {
                            guard.finish(FlightState::Done(plain));
                            Ok(v)
                        }
                        None => {
                            self.lead(key, guard, generator, encode_for_store, ttl)
                                .await
                        }
                    };
                    let release = ops::ReleaseLease { token };
                    let _ = self.service.dispatch(&self.ns, key, release).await;
                    return r;
                }
                Ok(Some(false)) => {
                    if !waited {
                        self.ns.flight_event(FlightEvent::LeaseWait);
                        waited = true;
                    }
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        self.ns.flight_event(FlightEvent::LeaseWaitTimeout);
                        return self
                            .lead(key, guard, generator, encode_for_store, ttl)
                            .await;
                    }
                    tokio::time::sleep(backoff.min(deadline - now)).await;
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                    if let Some((v, plain)) = self.fresh_value::<T>(key).await {
                        guard.finish(FlightState::Done(plain));
                        return Ok(v);
                    }
                }
            }
        }
    }

    /// The key's fresh value and its plain JSON (for this node's waiters), if one is stored.
    async fn fresh_value<T: DeserializeOwned>(&self, key: &str) -> Option<(T, bytes::Bytes)> {
        let raw = self
            .service
            .dispatch(&self.ns, key, ops::Get)
            .await
            .ok()??;
        let v = self.decode_fresh::<T>(&raw).ok()??;
        let plain = match codec::unwrap(&raw) {
            Some(env) => bytes::Bytes::copy_from_slice(env.value),
            None => raw,
        };
        Some((v, plain))
    }

    /// Runs the generator as the flight's leader, stores an `Ok` value, ends the flight.
    async fn lead<T, E, F, Fut>(
        &self,
        key: &str,
        guard: LeaderGuard,
        generator: F,
        encode_for_store: impl Fn(&T) -> Result<bytes::Bytes, CacheError>,
        ttl: Ttl,
    ) -> Result<T, GetOrStoreError<E>>
    where
        T: Serialize,
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = self.ns.start_generator();
        // A panic here unwinds through the caller; the guard ends the flight as Panicked.
        let result = generator().await;
        self.ns.generator_time(started);
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                guard.finish(FlightState::Failed(Arc::from(e.to_string())));
                return Err(GetOrStoreError::Generator(e));
            }
        };
        let (stored, plain) = match (encode_for_store(&value), codec::encode(&value)) {
            (Ok(s), Ok(p)) => (s, p),
            (Err(e), _) | (_, Err(e)) => {
                guard.finish(FlightState::Failed(Arc::from(e.to_string())));
                return Err(e.into());
            }
        };
        match self
            .service
            .run(&self.ns, key, ops::Put { value: stored, ttl })
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_unavailable() => {
                tracing::debug!(namespace = %self.ns.name(), key, error = %e, "generated value not stored: cache unavailable");
            }
            Err(e) => {
                guard.finish(FlightState::Failed(Arc::from(e.to_string())));
                return Err(e.into());
            }
        }
        guard.finish(FlightState::Done(plain));
        Ok(value)
    }

    /// Records one `get_or_store`/`get_or_refresh` call with exactly one status: hit (served
    /// from the cache, fresh or stale), miss (produced by a generator, ours or a leader's), or
    /// error.
    fn record<T, E>(&self, started: Started, r: &Result<(T, bool), GetOrStoreError<E>>) {
        let status = match r {
            Ok((_, true)) => Status::Hit,
            Ok((_, false)) => Status::Miss,
            Err(_) => Status::Error,
        };
        self.service
            .record(&self.ns, Op::GetOrStore, status, started);
    }

    /// Starts one background refresh of `key` unless one is already running, or the entry was
    /// already refreshed since `seen_fresh_until`.
    fn spawn_refresh<T, E, F, Fut>(
        &self,
        key: &str,
        plan: RefreshPlan,
        seen_fresh_until: u64,
        generator: Arc<F>,
    ) where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: Display + Send + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let Some(guard) = self.service.flights().try_lead(self.ns.name(), key) else {
            return; // a refresh (or a foreground generator) is already running
        };
        let cache = self.clone();
        let key = key.to_string();
        self.service.flights().spawn(async move {
            // Another refresh may have completed between the stale read and this one.
            if let Ok(Some(raw)) = cache.service.dispatch(&cache.ns, &key, ops::Get).await
                && codec::unwrap(&raw).is_some_and(|e| e.fresh_until_ms != seen_fresh_until)
            {
                guard.finish(FlightState::Abandoned);
                return;
            }
            // Across nodes one refresh is enough: if another node holds the key's lease, it is
            // refreshing (or generating) the value; this node keeps serving what it has.
            let token = fastrand::u64(1..);
            let lease = if cache.stampede.distributed {
                let take = ops::TakeLease {
                    token,
                    ttl_ms: cache.stampede.lease_ms,
                };
                cache.service.dispatch(&cache.ns, &key, take).await
            } else {
                Ok(None)
            };
            if matches!(lease, Ok(Some(false))) {
                guard.finish(FlightState::Abandoned);
                return;
            }
            // Released when the refresh ends; a refresh cancelled or panicking midway leaves the
            // lease to expire after `stampede.lease_ms`.
            let taken = matches!(lease, Ok(Some(true)));
            cache.ns.flight_event(FlightEvent::Refresh);
            let started = cache.ns.start_generator();
            let result = generator().await;
            cache.ns.generator_time(started);
            match result {
                Ok(value) => {
                    let stored = codec::encode(&value)
                        .map(|json| (plan.wrap(cache.service.clock().epoch_ms(), &json), json));
                    match stored {
                        Ok((stored, json)) => {
                            let put = ops::Put {
                                value: stored,
                                ttl: plan.physical_ttl(),
                            };
                            if let Err(e) = cache.service.run(&cache.ns, &key, put).await
                            {
                                tracing::warn!(namespace = %cache.ns.name(), key = %key, error = %e, "background refresh not stored");
                            }
                            guard.finish(FlightState::Done(json));
                        }
                        Err(e) => guard.finish(FlightState::Failed(Arc::from(e.to_string()))),
                    }
                }
                Err(e) => {
                    guard.finish(FlightState::Failed(Arc::from(e.to_string())));
                    cache.ns.flight_event(FlightEvent::RefreshFailed);
                    tracing::warn!(namespace = %cache.ns.name(), key = %key, error = %e, "background refresh failed; keeping the stale value until its grace period ends");
                }
            }
            if taken {
                let release = ops::ReleaseLease { token };
                let _ = cache.service.dispatch(&cache.ns, &key, release).await;
            }
        });
    }
}

/// TTL, grace and refresh-ahead of one `get_or_refresh` call.
#[derive(Debug, Clone, Copy)]
struct RefreshPlan {
    ttl: Duration,
    stale_for: Duration,
    ahead: f64,
}

impl RefreshPlan {
    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The entry lives `ttl + stale_for`; its stamp says when it stops being fresh.
    fn physical_ttl(&self) -> Ttl {
        Ttl::After(self.ttl + self.stale_for)
    }

    fn wrap(&self, now_epoch_ms: u64, json: &[u8]) -> bytes::Bytes {
        codec::wrap(
            now_epoch_ms.saturating_add(self.ttl_ms()),
            self.ttl_ms(),
            json,
        )
    }

    /// Whether `now` is in the last `ahead` fraction of the TTL that ends at `fresh_until`.
    fn in_refresh_window(&self, fresh_until: u64, now: u64) -> bool {
        if self.ahead <= 0.0 {
            return false;
        }
        let window = (self.ttl_ms() as f64 * self.ahead) as u64;
        now.saturating_add(window) >= fresh_until
    }
}
