//! [`CacheService`]: the typed, restart-following client of one running cache tree.
//!
//! One entry point serves every operation: [`CacheService::run`] takes a request value (see
//! [`crate::ops`]), records it, and applies it in the caller's task (`direct`) or sends it to
//! the adapter that owns its key (`rpc`). It hides message construction (callers pass
//! requests, never build `AdapterMsg`s), follows restarts (it reads the current adapter from
//! the supervisor's slots on each attempt), and bounds every call by `call_timeout_ms`.
//!
//! # What a caller gets when an actor crashes mid-call
//! - The call was never delivered (the adapter was down): it is retried, with a short backoff,
//!   until a new incarnation takes it or `call_timeout_ms` passes (`Unavailable`).
//! - The call was delivered and the actor died before replying: what happens is the request's
//!   [`Retry`] class. Idempotent requests (reads, `put`, `delete`, set additions/removals,
//!   `clear`, `delete_pattern`) are retried. `increment` is retried only if the adapter never
//!   began applying it (a flag the adapter sets just before it touches the backend); if it had
//!   begun, the outcome is unknown and the call returns `Unavailable` rather than risk
//!   counting twice.
//! - A reply received is final: an acknowledged write is in the table, and the table outlives
//!   every actor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::future::Future;
use std::hash::BuildHasher;

use ractor::concurrency::oneshot;
use ractor::{Actor, ActorCell, ActorRef, RpcReplyPort, SpawnErr};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::adapter::AdapterMsg;
use crate::backend::{
    CacheBackend, MemoryBackend, MemoryTable, NoopBackend, RedisBackend, TableUsage, TieredBackend,
};
use crate::clock::Clock;
use crate::config::{AdapterKind, CacheConfig, DataPlaneMode};
use crate::deadline::Deadlines;
use crate::error::{CacheError, CacheResult};
use crate::faults::Faults;
use crate::flight::Flights;
use crate::ops::{Envelope, Op, Request, Retry, Route, Status};
use crate::slots::Slots;
use crate::stats::{CacheStats, NsStats, StatsRegistry, ratio};
use crate::store::StoreMsg;
use crate::supervisor::{CacheSupervisor, SupervisorArgs, SupervisorMsg, SupervisorStatus};

/// Hasher routing keys to adapter partitions (fixed seed: routing is stable for a process).
static ROUTE_HASHER: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5eed);

/// Source of generated instance names.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// A handle to one running cache tree. Cheap to clone; every clone talks to the same tree.
/// When the last clone is dropped without `shutdown()`, the tree is stopped.
#[derive(Debug, Clone)]
pub struct CacheService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    backend_name: &'static str,
    call_timeout: Duration,
    /// Bounds waiting `rpc` calls by `call_timeout` without a timer per call.
    deadlines: Arc<Deadlines>,
    /// Rings the deadlines' alarms; aborted with the last handle or by `shutdown()`. Only
    /// `rpc` mode waits on replies, so `direct` mode runs no ticker.
    ticker: Option<JoinHandle<()>>,
    slots: Arc<Slots>,
    stats: Arc<StatsRegistry>,
    table: Option<Arc<MemoryTable>>,
    /// Single-flight table of `get_or_store` and its background refresh tasks.
    flights: Arc<Flights>,
    /// The clock entries expire by (manual in tests).
    clock: Clock,
    /// `direct` mode: the backend the caller's task calls itself. `None` in `rpc` mode.
    direct: Option<Arc<dyn CacheBackend>>,
    /// Whether a direct call may wait (a networked backend): then it runs under a
    /// `call_timeout` timer. The memory table and the no-op backend never wait.
    direct_waits: bool,
    /// Everything a supervisor incarnation starts from; kept so the application can start the
    /// tree again (same table, same counters, same handles) after it failed.
    args: SupervisorArgs,
    /// The current supervisor incarnation.
    supervisor: std::sync::Mutex<ActorRef<SupervisorMsg>>,
    /// The supervisor's task, awaited by `shutdown()`.
    join: Mutex<Option<JoinHandle<()>>>,
    /// Test-only fault hooks.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    faults: Faults,
}

impl Inner {
    /// Stops the deadline ticker (`rpc` mode), if there is one.
    fn stop_ticker(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
    }

    fn supervisor(&self) -> ActorRef<SupervisorMsg> {
        match self.supervisor.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker();
        self.args.backend.stop();
        if !self.slots.is_closed() {
            self.slots.closed.store(true, Ordering::Release);
            self.supervisor().stop(Some("cache handle dropped".into()));
        }
    }
}

fn start_error(e: SpawnErr) -> CacheError {
    CacheError::Start {
        reason: match e {
            SpawnErr::ActorAlreadyRegistered(n) => {
                format!("instance name {n:?} is already in use")
            }
            other => other.to_string(),
        },
    }
}

impl CacheService {
    /// Validates `config`, builds the backend and starts the supervision tree.
    ///
    /// # Errors
    /// [`CacheError::Config`] for invalid settings, [`CacheError::Start`] when the tree cannot
    /// start (for example the instance name is already in use).
    pub async fn start(config: CacheConfig, clock: Clock) -> CacheResult<CacheService> {
        Self::start_under(config, clock, None).await
    }

    /// As [`CacheService::start`], with the cache supervisor linked under `parent`: when the
    /// cache tree fails (restart intensity exceeded), `parent` receives `ActorFailed` for the
    /// cell returned by [`CacheService::supervisor_cell`] and may call
    /// [`CacheService::restart_linked`].
    ///
    /// # Errors
    /// As [`CacheService::start`].
    pub async fn start_linked(
        config: CacheConfig,
        clock: Clock,
        parent: ActorCell,
    ) -> CacheResult<CacheService> {
        Self::start_under(config, clock, Some(parent)).await
    }

    async fn start_under(
        config: CacheConfig,
        clock: Clock,
        parent: Option<ActorCell>,
    ) -> CacheResult<CacheService> {
        config.validate()?;
        let name = config.name.clone().unwrap_or_else(|| {
            format!(
                "deeper_cache_{}",
                NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed)
            )
        });
        let clock_for_facade = clock.clone();
        let (backend, table): (Arc<dyn CacheBackend>, _) = match config.effective_adapter() {
            AdapterKind::Memory => {
                let table = Arc::new(MemoryTable::with_config(clock, &config.memory));
                (Arc::new(MemoryBackend::new(table.clone())), Some(table))
            }
            AdapterKind::Noop => (Arc::new(NoopBackend), None),
            // Connects lazily: a Redis that is down now degrades calls, not the start.
            AdapterKind::Redis => (
                Arc::new(RedisBackend::new(
                    &redis_within_call_timeout(&config),
                    config.memory.max_value_bytes,
                )?),
                None,
            ),
            // The L1 is a bounded table the Store and Cleanup actors own and sweep.
            AdapterKind::Tiered => {
                let l1 = config.tiered.l1_memory(&config.memory);
                let table = Arc::new(MemoryTable::with_config(clock, &l1));
                let l2 = RedisBackend::new(
                    &redis_within_call_timeout(&config),
                    config.memory.max_value_bytes,
                )?;
                let backend = TieredBackend::new(&name, table.clone(), l2, &config.tiered)?;
                (Arc::new(backend), Some(table))
            }
        };
        let slots = Arc::new(Slots::new(config.adapter.effective_partitions()));
        let direct = (config.adapter.mode == DataPlaneMode::Direct).then(|| backend.clone());
        // A backend that waits on the network is bounded by `call_timeout_ms` in the caller's
        // task too (the rpc plane bounds every call by its deadline alarm).
        let direct_waits = backend.memory_table().is_none() && backend.name() != "noop";
        let stats = Arc::new(StatsRegistry::new(
            &name,
            config.metrics.enabled,
            config.metrics.latency_sample_every,
            config.metrics.max_namespaces,
        ));
        if config.metrics.enabled {
            crate::stats::describe_metrics();
        }
        let faults = Faults::default();
        let args = SupervisorArgs {
            name: name.clone(),
            config: config.clone(),
            backend: backend.clone(),
            table: table.clone(),
            stats: stats.clone(),
            slots: slots.clone(),
            faults: faults.clone(),
        };
        let (supervisor, join) = spawn_supervisor(args.clone(), parent).await?;
        let deadlines = Arc::new(Deadlines::new(slots.partitions(), config.call_timeout()));
        let ticker = direct.is_none().then(|| deadlines.spawn_ticker());
        Ok(CacheService {
            inner: Arc::new(Inner {
                name,
                backend_name: backend.name(),
                call_timeout: config.call_timeout(),
                deadlines,
                ticker,
                slots,
                stats,
                table,
                flights: Arc::new(Flights::default()),
                clock: clock_for_facade,
                direct,
                direct_waits,
                args,
                supervisor: std::sync::Mutex::new(supervisor),
                join: Mutex::new(Some(join)),
                faults,
            }),
        })
    }

    /// Starts a new supervisor incarnation under `parent` after the previous one failed. The
    /// new tree takes over the same table, counters and handles: every clone of this service
    /// works again.
    ///
    /// # Errors
    /// [`CacheError::ShutDown`] after `shutdown()`; [`CacheError::Start`] when the previous
    /// incarnation is still running or the tree cannot start.
    pub async fn restart_linked(&self, parent: ActorCell) -> CacheResult<()> {
        if self.is_shut_down() {
            return Err(CacheError::ShutDown);
        }
        let mut join = self.inner.join.lock().await;
        if self.inner.supervisor().get_status() < ractor::ActorStatus::Stopping {
            return Err(CacheError::Start {
                reason: "the cache supervisor is still running".into(),
            });
        }
        // Let the old tree finish: its supervisor task, then its children (killed by the
        // supervisor's exit, asynchronously), whose registry names the new tree reuses.
        if let Some(old) = join.take() {
            let _ = old.await;
        }
        let prefix = format!("{}.", self.inner.name);
        let deadline = Instant::now() + self.inner.call_timeout;
        while ractor::registry::registered()
            .iter()
            .any(|n| n.starts_with(&prefix))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (supervisor, handle) = spawn_supervisor(self.inner.args.clone(), Some(parent)).await?;
        if let Ok(mut s) = self.inner.supervisor.lock() {
            *s = supervisor;
        }
        *join = Some(handle);
        Ok(())
    }

    /// The current supervisor's cell, to match supervision events in a parent actor.
    pub fn supervisor_cell(&self) -> ActorCell {
        self.inner.supervisor().get_cell()
    }

    /// The single-flight table shared by every handle of this cache.
    pub fn flights(&self) -> &Arc<Flights> {
        &self.inner.flights
    }

    /// The `ttl_jitter` fraction writes spread their TTLs by.
    pub fn ttl_jitter(&self) -> f64 {
        self.inner.args.config.ttl_jitter
    }

    /// The largest encoded value or set member the cache stores (`memory.max_value_bytes`).
    pub fn max_value_bytes(&self) -> usize {
        self.inner.args.config.memory.max_value_bytes
    }

    /// The clock this cache expires entries by.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The instance name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The backend's name (`memory`, `noop`, ...).
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend_name
    }

    /// Whether `shutdown()` was called (or the tree is gone).
    pub fn is_shut_down(&self) -> bool {
        self.inner.slots.is_closed()
    }

    /// Stops the whole tree and waits for every actor to end; aborts background refreshes.
    /// Idempotent.
    pub async fn shutdown(&self) {
        self.inner.slots.closed.store(true, Ordering::Release);
        self.inner.flights.abort_all();
        self.inner.stop_ticker();
        self.inner.args.backend.stop();
        let join = self.inner.join.lock().await.take();
        if let Some(join) = join {
            self.inner.supervisor().stop(Some("shutdown".into()));
            let _ = join.await;
        }
    }

    /// Sends one request to the current adapter, following restarts within `call_timeout`.
    /// The wait for the reply is bounded by the partition's alarm (`deadline.rs`), not by a
    /// timer per call: an unanswered call ends between `call_timeout` and one alarm tick later.
    ///
    /// `started` is the flag of a [`Retry::UnlessStarted`] request (`None`: idempotent).
    async fn call<R: Send + 'static>(
        &self,
        operation: &'static str,
        partition: usize,
        started: Option<&AtomicBool>,
        build: impl Fn(RpcReplyPort<CacheResult<R>>) -> AdapterMsg,
    ) -> CacheResult<R> {
        let slots = &self.inner.slots;
        let timeout = self.inner.call_timeout;
        let deadline = Instant::now() + timeout;
        let mut backoff = Duration::from_micros(500);
        let unavailable = |reason: &str| CacheError::Unavailable {
            operation,
            reason: reason.to_string(),
        };
        loop {
            if slots.is_closed() {
                return Err(CacheError::ShutDown);
            }
            if slots.is_failed() {
                return Err(unavailable(
                    "the cache supervisor has stopped (restart intensity exceeded)",
                ));
            }
            let (tx, rx) = oneshot();
            let sent = match &*slots.adapter_slot(partition).load() {
                Some(adapter) => adapter.send_message(build(tx.into())).is_ok(),
                None => false,
            };
            if sent {
                match self.inner.deadlines.wait(partition, deadline, rx).await {
                    Ok(Ok(result)) => return result,
                    Err(_) => {
                        return Err(CacheError::Timeout {
                            operation,
                            after: timeout,
                        });
                    }
                    // Delivered, then the actor died before replying.
                    Ok(Err(_)) => {
                        if started.is_some_and(|s| s.load(Ordering::Acquire)) {
                            return Err(unavailable(
                                "the adapter stopped while applying the call; it may or may not have been applied",
                            ));
                        }
                    }
                }
            }
            // Not delivered (adapter down or restarting), or an idempotent call to retry.
            let now = Instant::now();
            if now >= deadline {
                return Err(unavailable(
                    "the adapter did not come back within call_timeout_ms",
                ));
            }
            tokio::time::sleep(backoff.min(deadline - now)).await;
            backoff = (backoff * 2).min(Duration::from_millis(50));
        }
    }

    /// Fails fast after `shutdown()` or when the tree has failed.
    fn check_open(&self, operation: &'static str) -> CacheResult<()> {
        if self.inner.slots.is_closed() {
            return Err(CacheError::ShutDown);
        }
        if self.inner.slots.is_failed() {
            return Err(CacheError::Unavailable {
                operation,
                reason: "the cache supervisor has stopped (restart intensity exceeded)".into(),
            });
        }
        Ok(())
    }

    /// In `direct` mode, the backend to call from the caller's task (after the open checks).
    #[inline]
    fn direct(&self, operation: &'static str) -> CacheResult<Option<&dyn CacheBackend>> {
        match &self.inner.direct {
            None => Ok(None),
            Some(b) => {
                self.check_open(operation)?;
                Ok(Some(&**b))
            }
        }
    }

    /// The adapter partition that serves `(ns, key)`: the same key always goes to the same
    /// partition, so one key's operations are applied in the order they were sent.
    pub fn partition_of(&self, ns: &str, key: &str) -> usize {
        let n = self.inner.slots.partitions();
        if n == 1 {
            return 0;
        }
        (ROUTE_HASHER.hash_one((ns, key)) % n as u64) as usize
    }

    /// Runs one operation under its tracing span and records its outcome: the span carries
    /// cache, operation, namespace, key and backend, and on close the result (hit, miss,
    /// success, error) and the value size. Spans are DEBUG: with DEBUG off they cost a level
    /// check. Values never appear in a span or a log line.
    #[inline]
    async fn observe<T>(
        &self,
        ns: &NsStats,
        op: Op,
        key: &str,
        status: fn(&CacheResult<T>) -> Status,
        size: impl FnOnce(&T) -> Option<usize>,
        work: impl Future<Output = CacheResult<T>>,
    ) -> CacheResult<T> {
        let started = ns.start();
        let span = tracing::debug_span!(
            "cache_op",
            cache = %self.inner.name,
            operation = op.as_str(),
            namespace = %ns.name(),
            key,
            backend = self.inner.backend_name,
            result = tracing::field::Empty,
            size = tracing::field::Empty,
        );
        let r = if span.is_disabled() {
            work.await
        } else {
            work.instrument(span.clone()).await
        };
        let st = status(&r);
        ns.record(op, st, started);
        if !span.is_disabled() {
            span.record("result", st.as_str());
            match &r {
                Ok(v) => {
                    if let Some(n) = size(v) {
                        span.record("size", n);
                    }
                    tracing::debug!(parent: &span, result = st.as_str(), "cache operation");
                }
                Err(e) => tracing::debug!(parent: &span, error = %e, "cache operation failed"),
            }
        }
        r
    }

    /// The statistics (and metric handles) of namespace `name`, created on first use. The
    /// facade's namespace handles hold the result, so no call looks it up again.
    pub fn namespace(&self, name: &str) -> Arc<NsStats> {
        self.inner.stats.namespace(name)
    }

    /// Runs one operation on `key` of namespace `ns` and records it (statistics, metrics, the
    /// `cache_op` span): in the caller's task on the `direct` plane, as a message to the
    /// adapter partition its [`Route`] picks on the `rpc` plane. Namespace-wide requests
    /// (`clear`, `delete_pattern`) run with the key their span shows.
    ///
    /// # Errors
    /// The request's own errors; `ShutDown`, `Unavailable` or `Timeout` like any call.
    pub async fn run<R: Request>(
        &self,
        ns: &Arc<NsStats>,
        key: &str,
        req: R,
    ) -> CacheResult<R::Reply> {
        let size = req.size();
        let reply_size = |r: &R::Reply| R::reply_size(r).or(size);
        let work = self.dispatch(ns, key, req);
        self.observe(ns, R::OP, key, R::status, reply_size, work)
            .await
    }

    /// Runs one operation without recording it (the facade's internal re-checks).
    ///
    /// # Errors
    /// As [`Self::run`].
    pub async fn dispatch<R: Request>(
        &self,
        ns: &Arc<NsStats>,
        key: &str,
        req: R,
    ) -> CacheResult<R::Reply> {
        if let Some(b) = self.direct(R::OP.as_str())? {
            if !self.inner.direct_waits {
                return req.apply(b, ns.name(), key).await;
            }
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(CacheError::NoRuntime {
                    operation: R::OP.as_str(),
                    backend: self.inner.backend_name,
                });
            }
            // A call the backend answers without waiting (a tiered L1 hit) skips the timer:
            // only a call that would wait on the network is bounded by one.
            let mut work = std::pin::pin!(req.apply(b, ns.name(), key));
            let first = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(std::future::Future::poll(work.as_mut(), cx))
            })
            .await;
            if let std::task::Poll::Ready(reply) = first {
                return reply;
            }
            let timeout = self.inner.call_timeout;
            return tokio::time::timeout(timeout, work)
                .await
                .unwrap_or(Err(CacheError::Timeout {
                    operation: R::OP.as_str(),
                    after: timeout,
                }));
        }
        let partition = match R::ROUTE {
            Route::ByKey => self.partition_of(ns.name(), key),
            Route::First => 0,
        };
        let started = (R::RETRY == Retry::UnlessStarted).then(|| Arc::new(AtomicBool::new(false)));
        self.call(R::OP.as_str(), partition, started.as_deref(), |reply| {
            AdapterMsg(
                Envelope {
                    ns: ns.name().clone(),
                    key: key.into(),
                    request: req.clone(),
                    started: started.clone(),
                    reply,
                }
                .carried(),
            )
        })
        .await
    }

    /// Records an operation the facade composes itself (`get_or_store`'s outcome).
    pub fn record(&self, ns: &NsStats, op: Op, status: Status, started: Option<quanta::Instant>) {
        ns.record(op, status, started);
    }

    /// Totals and per-namespace figures: operation counts from the shared statistics, items,
    /// bytes and evictions from the Store (memory backend).
    ///
    /// # Errors
    /// `ShutDown`, `Unavailable` or `Timeout` like any call.
    pub async fn stats(&self) -> CacheResult<CacheStats> {
        let usage = self.usage().await?;
        let mut out = CacheStats {
            cache: self.inner.name.clone(),
            backend: self.inner.backend_name,
            tiers: self.inner.args.backend.tier_stats(),
            ..CacheStats::default()
        };
        let stats = &self.inner.stats;
        for ns in stats.all() {
            out.namespaces.insert(ns.label().to_string(), ns.snapshot());
        }
        // Table figures of namespaces past `metrics.max_namespaces` go to the aggregate.
        for u in &usage.namespaces {
            let key = if stats.is_counted_apart(&u.namespace) {
                u.namespace.clone()
            } else {
                crate::stats::OTHER_NAMESPACES.to_string()
            };
            let s = out.namespaces.entry(key).or_default();
            s.items += u.entries;
            s.bytes += u.bytes;
            s.evictions.ttl += u.evicted_ttl;
            s.evictions.manual += u.evicted_manual;
            s.evictions.lru += u.evicted_lru;
            s.evictions.lfu += u.evicted_lfu;
            s.evictions.capacity += u.evicted_capacity;
        }
        let t = &mut out.total;
        for s in out.namespaces.values() {
            t.hits += s.hits;
            t.misses += s.misses;
            t.items += s.items;
            t.bytes += s.bytes;
            t.errors += s.errors;
            t.evictions.ttl += s.evictions.ttl;
            t.evictions.manual += s.evictions.manual;
            t.evictions.lru += s.evictions.lru;
            t.evictions.lfu += s.evictions.lfu;
            t.evictions.capacity += s.evictions.capacity;
            for (op, n) in &s.operations {
                *t.operations.entry(op).or_default() += n;
            }
            for (event, n) in &s.stampede {
                *t.stampede.entry(event).or_default() += n;
            }
        }
        t.hit_ratio = ratio(t.hits, t.misses);
        Ok(out)
    }

    /// Runs an expiry sweep now (memory backend; `0` for others) and returns how many
    /// entries it removed.
    ///
    /// # Errors
    /// `ShutDown`, `Unavailable` or `Timeout` like any call.
    pub async fn purge_expired(&self) -> CacheResult<u64> {
        if self.inner.table.is_none() {
            return Ok(0);
        }
        self.ask(
            "purge_expired",
            |s| s.cleanup(),
            crate::cleanup::CleanupMsg::SweepNow,
        )
        .await
    }

    /// Sets (or, with `None`, removes) the listener told of every entry the memory table
    /// evicts or expires (see [`EvictionListener`](crate::backend::EvictionListener)). Returns
    /// `false` when the backend is not the memory table (nothing is registered).
    pub fn set_eviction_listener(
        &self,
        listener: Option<crate::backend::EvictionListener>,
    ) -> bool {
        match &self.inner.table {
            Some(table) => {
                table.set_eviction_listener(listener);
                true
            }
            None => false,
        }
    }

    /// Entry and byte counts of the memory table (empty for other backends), asked of the
    /// Store actor.
    ///
    /// # Errors
    /// `ShutDown`, `Unavailable` or `Timeout` like any call.
    pub async fn usage(&self) -> CacheResult<TableUsage> {
        if self.inner.table.is_none() {
            return Ok(TableUsage::default());
        }
        self.ask("usage", |s| s.store(), StoreMsg::Usage).await
    }

    /// Arms a fault for the next handler call (or start) of a child (tests only).
    #[cfg(feature = "testing")]
    pub fn inject_fault(&self, kind: crate::children::ChildKind, fault: crate::faults::Fault) {
        self.inner.faults.arm(kind, fault);
    }

    /// The supervisor's view of its children.
    ///
    /// # Errors
    /// `ShutDown` after shutdown, `Unavailable` if the supervisor does not answer.
    pub async fn supervisor_status(&self) -> CacheResult<SupervisorStatus> {
        if self.is_shut_down() {
            return Err(CacheError::ShutDown);
        }
        self.inner
            .supervisor()
            .call(SupervisorMsg::Status, Some(self.inner.call_timeout))
            .await
            .ok()
            .and_then(|r| r.success_or(()).ok())
            .ok_or(CacheError::Unavailable {
                operation: "supervisor_status",
                reason: "the supervisor did not answer".into(),
            })
    }

    /// One request to a non-adapter actor found through the slots, retried while it restarts.
    async fn ask<M: ractor::Message, R: Send + 'static>(
        &self,
        operation: &'static str,
        find: impl Fn(&Slots) -> Option<ActorRef<M>>,
        build: impl Fn(RpcReplyPort<R>) -> M,
    ) -> CacheResult<R> {
        let deadline = Instant::now() + self.inner.call_timeout;
        loop {
            self.check_open(operation)?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(CacheError::Unavailable {
                    operation,
                    reason: "the actor did not come back within call_timeout_ms".into(),
                });
            }
            if let Some(actor) = find(&self.inner.slots) {
                match actor.call(&build, Some(remaining)).await {
                    Ok(ractor::rpc::CallResult::Success(r)) => return Ok(r),
                    Ok(ractor::rpc::CallResult::Timeout) => {
                        return Err(CacheError::Timeout {
                            operation,
                            after: self.inner.call_timeout,
                        });
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(1).min(remaining)).await;
        }
    }
}

/// The Redis settings with the connect and command timeouts capped at `call_timeout_ms`, so a
/// call is bounded by `call_timeout_ms` on both planes and a command that outlives it counts
/// as a connection failure for the circuit breaker. Says so (WARN) when it caps.
fn redis_within_call_timeout(config: &CacheConfig) -> crate::config::RedisConfig {
    let mut redis = config.redis.clone();
    let cap = config.call_timeout_ms;
    if redis.command_timeout_ms > cap || redis.connect_timeout_ms > cap {
        tracing::warn!(
            call_timeout_ms = cap,
            command_timeout_ms = redis.command_timeout_ms,
            connect_timeout_ms = redis.connect_timeout_ms,
            "redis timeouts above call_timeout_ms are capped at it: no call waits longer than call_timeout_ms"
        );
        redis.command_timeout_ms = redis.command_timeout_ms.min(cap);
        redis.connect_timeout_ms = redis.connect_timeout_ms.min(cap);
    }
    redis
}

/// Spawns a supervisor incarnation, standalone or linked under `parent`.
async fn spawn_supervisor(
    args: SupervisorArgs,
    parent: Option<ActorCell>,
) -> CacheResult<(ActorRef<SupervisorMsg>, JoinHandle<()>)> {
    let name = Some(args.name.clone());
    match parent {
        Some(parent) => Actor::spawn_linked(name, CacheSupervisor, args, parent).await,
        None => Actor::spawn(name, CacheSupervisor, args).await,
    }
    .map_err(start_error)
}
