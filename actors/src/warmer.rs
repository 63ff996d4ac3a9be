//! CacheWarmer: the supervised child that preloads data the application registered
//! [`Warmer`]s for, when the cache starts and then every `interval` a warmer asks for.
//!
//! # A warmer
//! An application implements [`Warmer`]: a name, its [`WarmerOptions`] (`required`,
//! `interval`, `timeout`, `retry_after`) and an async `load` that pushes [`WarmEntry`]s
//! (key, value, TTL, namespace) into a [`WarmSink`]. The sink writes them with the backend's
//! `put_many` in batches of [`WARM_BATCH`] entries, so a warmer of a few entries and one that
//! streams millions from a database cursor are the same code (no second copy of a large
//! set is ever held): that is the "stream" form, without tying the API to a stream crate.
//! Warmed entries are ordinary writes: the table's limits and eviction policy apply, the
//! default TTL and `ttl_jitter` apply to an entry without its own TTL.
//!
//! # Runs
//! The actor owns one runner task per warmer (aborted with the incarnation that owns it).
//! Each run calls `load` in a task of its own, bounded by the warmer's `timeout` (then
//! cancelled): an error, a panic (caught at that task's boundary) or a timeout is logged at
//! WARN, counted, and the warmer is run again after `retry_after`, doubling up to five
//! minutes until a run succeeds; after a success the next run is `interval` later (none for a
//! warmer without one). No call of the cache ever waits for a warmer, except `Cache::start`
//! for the first run of a `required` warmer; a failed, panicked or timed-out required
//! warmer fails the start with `CacheError::WarmerFailed` naming it.
//!
//! A warmer's failure is never fatal to the cache: a panic cannot crash the actor, so a
//! warmer that always panics cannot exhaust the supervisor's restart intensity. The actor
//! itself is supervised like the Cleanup actor (strategy, intensity, `supervisor_status()`);
//! a new incarnation does not rerun a warmer whose first run succeeded, it waits for that
//! warmer's next interval.
//!
//! # Metrics
//! `deeper_hub_core_cache_warmer_runs_total{cache, warmer, result}` (`ok`, `error`,
//! `panicked`, `timed_out`), `deeper_hub_core_cache_warmer_run_duration_seconds{cache,
//! warmer}` and `deeper_hub_core_cache_warmer_entries_total{cache, warmer}`, and the same
//! figures in `Cache::warmer_stats()`. Logs name the warmer and count entries, never values.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use tokio::sync::watch;

use crate::backend::CacheBackend;
use crate::batch::{self, EntryList, KeyListBuilder};
use crate::children::ChildKind;
use crate::cleanup::AbortOnDrop;
use crate::codec;
use crate::error::{CacheError, CacheResult, WarmerFailure};
use crate::faults::Faults;
use crate::stats::names;
use crate::ttl::Ttl;

/// Entries a [`WarmSink`] buffers before it writes them with one `put_many`.
pub const WARM_BATCH: usize = 512;

/// Longest wait between retries of a failing warmer.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// The error a [`Warmer::load`] returns: any error type (its text is logged and, for a
/// required warmer, carried by `CacheError::WarmerFailed`).
pub type WarmError = Box<dyn std::error::Error + Send + Sync>;

/// Data an application preloads into the cache: registered with `Cache::builder`, run by the
/// CacheWarmer actor at start and then every [`WarmerOptions::interval`].
///
/// # Example
/// ```
/// use deeper_cache_actors::warmer::{WarmEntry, WarmError, WarmSink, Warmer, WarmerOptions};
///
/// #[derive(Debug)]
/// struct Countries;
///
/// #[async_trait::async_trait]
/// impl Warmer for Countries {
///     fn name(&self) -> &str {
///         "countries"
///     }
///     fn options(&self) -> WarmerOptions {
///         WarmerOptions::default().required()
///     }
///     async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError> {
///         for (code, name) in [("fr", "France"), ("de", "Germany")] {
///             sink.push(WarmEntry::new(code, &name)?.namespace("countries")).await?;
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Warmer: Send + Sync + fmt::Debug + 'static {
    /// The warmer's name in logs, metrics, errors and `warmer_stats()`.
    fn name(&self) -> &str;

    /// When and how it runs (default: once, in the background, 30 s timeout).
    fn options(&self) -> WarmerOptions {
        WarmerOptions::default()
    }

    /// Loads the entries and pushes them into `sink` (pushing as they are read streams a
    /// large set). An error ends the run; entries already pushed stay written.
    ///
    /// # Errors
    /// Whatever the source of the data fails with; `CacheError`s from the sink (an invalid
    /// key, a value too large, the backend) convert with `?`.
    async fn load(&self, sink: &mut WarmSink) -> Result<(), WarmError>;
}

/// How a [`Warmer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmerOptions {
    /// `Cache::start` waits for the first run and fails if it fails (default: `false`).
    pub required: bool,
    /// Run again this long after each successful run (default: `None`, once).
    pub interval: Option<Duration>,
    /// Longest a run may take before it is cancelled and counted `timed_out` (default 30 s).
    pub timeout: Duration,
    /// First wait before a failed run is retried, doubled on each failure up to five minutes
    /// (default 1 s).
    pub retry_after: Duration,
}

impl Default for WarmerOptions {
    fn default() -> Self {
        WarmerOptions {
            required: false,
            interval: None,
            timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
        }
    }
}

impl WarmerOptions {
    /// Marks the warmer required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Runs the warmer again every `interval` after a successful run.
    #[must_use]
    pub fn every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Sets the run timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the first retry delay after a failed run.
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }
}

/// One entry a warmer loads: key, encoded value, TTL (the cache's default when unset) and
/// namespace (the default namespace when unset).
#[derive(Debug, Clone, PartialEq)]
pub struct WarmEntry {
    namespace: Option<String>,
    key: String,
    value: Bytes,
    ttl: Option<Ttl>,
}

impl WarmEntry {
    /// An entry holding `value` encoded by the cache's codec (read back with `get::<T>`).
    ///
    /// # Errors
    /// [`CacheError::Codec`] when `value` cannot be encoded.
    pub fn new<T: Serialize + ?Sized>(key: impl Into<String>, value: &T) -> CacheResult<Self> {
        Ok(WarmEntry {
            namespace: None,
            key: key.into(),
            value: codec::encode(value)?,
            ttl: None,
        })
    }

    /// This entry with a TTL of its own.
    #[must_use]
    pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// This entry in namespace `ns`.
    #[must_use]
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }
}

/// What the sink and the runners share across runs and actor incarnations.
#[derive(Debug)]
pub struct WarmContext {
    /// The cache's name (metric label).
    pub cache: String,
    /// Where entries go.
    pub backend: Arc<dyn CacheBackend>,
    /// TTL of an entry without one.
    pub default_ttl: Ttl,
    /// `ttl_jitter`.
    pub jitter: f64,
    /// `memory.max_value_bytes`.
    pub max_value_bytes: usize,
    /// Whether metrics are exported.
    pub export: bool,
    /// The namespace of an entry without one.
    pub default_namespace: String,
}

/// Where a [`Warmer`] pushes its entries: validates each (key, namespace, value size, TTL)
/// and writes them with `put_many` every [`WARM_BATCH`] entries and at the end of the run.
#[derive(Debug)]
pub struct WarmSink {
    ctx: Arc<WarmContext>,
    progress: Arc<Progress>,
    keys: KeyListBuilder,
    values: Vec<(Bytes, Ttl)>,
}

impl WarmSink {
    /// Adds one entry (written with the next batch).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::InvalidNamespace`],
    /// [`CacheError::ValueTooLarge`], [`CacheError::InvalidTtl`] for the entry (nothing of it
    /// is written); the backend's errors when a full batch is written.
    pub async fn push(&mut self, entry: WarmEntry) -> CacheResult<()> {
        let ns = entry
            .namespace
            .as_deref()
            .unwrap_or(&self.ctx.default_namespace);
        batch::check_namespace(ns)?;
        batch::check_key(&entry.key)?;
        if entry.value.len() > self.ctx.max_value_bytes {
            return Err(CacheError::ValueTooLarge {
                size: entry.value.len(),
                limit: self.ctx.max_value_bytes,
            });
        }
        let ttl = entry
            .ttl
            .unwrap_or(self.ctx.default_ttl)
            .validate()?
            .jittered(self.ctx.jitter);
        self.keys.push(ns, &entry.key);
        self.values.push((entry.value, ttl));
        if self.values.len() >= WARM_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Adds every entry of `entries`.
    ///
    /// # Errors
    /// As [`WarmSink::push`].
    pub async fn extend(
        &mut self,
        entries: impl IntoIterator<Item = WarmEntry>,
    ) -> CacheResult<()> {
        for e in entries {
            self.push(e).await?;
        }
        Ok(())
    }

    /// Writes the buffered entries now.
    ///
    /// # Errors
    /// The backend's errors (`CapacityExceeded` under `reject`, `BackendUnavailable`).
    pub async fn flush(&mut self) -> CacheResult<()> {
        if self.values.is_empty() {
            return Ok(());
        }
        let keys = std::mem::replace(&mut self.keys, KeyListBuilder::with_capacity(WARM_BATCH));
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(WARM_BATCH));
        let n = values.len() as u64;
        let list = EntryList::new(keys.build(), values);
        self.ctx.backend.put_many(&list).await?;
        self.progress.entries.fetch_add(n, Ordering::Relaxed);
        if self.ctx.export {
            metrics::counter!(names::WARMER_ENTRIES, "cache" => self.ctx.cache.clone(), "warmer" => self.progress.name.clone())
                .increment(n);
        }
        Ok(())
    }
}

/// The figures of one warmer (`Cache::warmer_stats()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarmerStats {
    /// The warmer's name.
    pub name: String,
    /// Whether `start` waited for it.
    pub required: bool,
    /// Runs that succeeded.
    pub runs_ok: u64,
    /// Runs whose `load` (or a write) returned an error.
    pub runs_error: u64,
    /// Runs whose `load` panicked.
    pub runs_panicked: u64,
    /// Runs cancelled at their timeout.
    pub runs_timed_out: u64,
    /// Entries written, over all runs.
    pub entries: u64,
    /// Duration of the last finished run, in milliseconds.
    pub last_run_ms: u64,
}

/// Counters and first-run outcome of one warmer; outlives actor incarnations.
#[derive(Debug)]
struct Progress {
    name: String,
    ok: AtomicU64,
    error: AtomicU64,
    panicked: AtomicU64,
    timed_out: AtomicU64,
    entries: AtomicU64,
    last_run_ms: AtomicU64,
    /// `None` until the first run ended, then its outcome.
    first: watch::Sender<Option<Result<(), WarmerFailure>>>,
}

/// The registered warmers of one cache, with their progress. Shared by the service (which
/// waits for required warmers and reports stats) and every CacheWarmer incarnation.
#[derive(Debug)]
pub struct WarmerSet {
    warmers: Vec<(Arc<dyn Warmer>, WarmerOptions, Arc<Progress>)>,
    ctx: Arc<WarmContext>,
}

impl WarmerSet {
    /// The set of `warmers` writing through `ctx`.
    ///
    /// # Errors
    /// [`CacheError::Config`] for two warmers of one name, an empty name or a zero timeout.
    pub fn new(warmers: Vec<Arc<dyn Warmer>>, ctx: WarmContext) -> CacheResult<Self> {
        let mut out: Vec<(Arc<dyn Warmer>, WarmerOptions, Arc<Progress>)> = Vec::new();
        for w in warmers {
            let name = w.name().to_owned();
            let options = w.options();
            let bad = |message: &str| CacheError::Config {
                key: "warmers".into(),
                value: format!("{name:?}"),
                message: message.into(),
            };
            if name.is_empty() {
                return Err(bad("a warmer needs a name"));
            }
            if out.iter().any(|(_, _, p)| p.name == name) {
                return Err(bad("two warmers have this name"));
            }
            if options.timeout.is_zero() || options.interval.is_some_and(|i| i.is_zero()) {
                return Err(bad("a warmer's timeout and interval must be positive"));
            }
            let progress = Arc::new(Progress {
                name,
                ok: AtomicU64::new(0),
                error: AtomicU64::new(0),
                panicked: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                entries: AtomicU64::new(0),
                last_run_ms: AtomicU64::new(0),
                first: watch::Sender::new(None),
            });
            out.push((w, options, progress));
        }
        Ok(WarmerSet {
            warmers: out,
            ctx: Arc::new(ctx),
        })
    }

    /// Whether no warmer is registered (then no CacheWarmer actor runs).
    pub fn is_empty(&self) -> bool {
        self.warmers.is_empty()
    }

    /// Waits for the first run of every required warmer.
    ///
    /// # Errors
    /// [`CacheError::WarmerFailed`] for the first required warmer whose first run failed,
    /// panicked or timed out.
    pub async fn wait_required(&self) -> CacheResult<()> {
        for (_, options, p) in &self.warmers {
            if !options.required {
                continue;
            }
            let mut rx = p.first.subscribe();
            // The runner bounds the run by its timeout; the margin only covers a runner that
            // never started (the actor could not start).
            let waited = tokio::time::timeout(options.timeout + Duration::from_secs(5), async {
                match rx.wait_for(Option::is_some).await {
                    Ok(v) => v.clone().unwrap_or(Err(WarmerFailure::Stopped)),
                    Err(_) => Err(WarmerFailure::Stopped),
                }
            })
            .await
            .unwrap_or(Err(WarmerFailure::TimedOut {
                after: options.timeout,
            }));
            if let Err(cause) = waited {
                return Err(CacheError::WarmerFailed {
                    warmer: p.name.clone(),
                    cause,
                });
            }
        }
        Ok(())
    }

    /// The figures of every warmer, in registration order.
    pub fn stats(&self) -> Vec<WarmerStats> {
        self.warmers
            .iter()
            .map(|(_, o, p)| WarmerStats {
                name: p.name.clone(),
                required: o.required,
                runs_ok: p.ok.load(Ordering::Relaxed),
                runs_error: p.error.load(Ordering::Relaxed),
                runs_panicked: p.panicked.load(Ordering::Relaxed),
                runs_timed_out: p.timed_out.load(Ordering::Relaxed),
                entries: p.entries.load(Ordering::Relaxed),
                last_run_ms: p.last_run_ms.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Runs warmer `index` once; returns the entries it wrote.
    async fn run(&self, index: usize) -> Result<u64, WarmerFailure> {
        let (w, options, p) = &self.warmers[index];
        let started = tokio::time::Instant::now();
        let before = p.entries.load(Ordering::Relaxed);
        let mut sink = WarmSink {
            ctx: self.ctx.clone(),
            progress: p.clone(),
            keys: KeyListBuilder::with_capacity(WARM_BATCH),
            values: Vec::with_capacity(WARM_BATCH),
        };
        let w = w.clone();
        let task = tokio::spawn(async move {
            w.load(&mut sink).await?;
            sink.flush().await?;
            Ok::<(), WarmError>(())
        });
        // Cancels the load at the timeout, and when this run is itself cancelled (the actor
        // stopped): a finished task ignores it.
        let _cancel = CancelOnDrop(task.abort_handle());
        let outcome = match tokio::time::timeout(options.timeout, task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(WarmerFailure::Error {
                message: e.to_string(),
            }),
            Ok(Err(join)) if join.is_panic() => {
                let payload = join.into_panic();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".into());
                Err(WarmerFailure::Panicked { message })
            }
            Ok(Err(_)) => Err(WarmerFailure::Stopped),
            Err(_) => Err(WarmerFailure::TimedOut {
                after: options.timeout,
            }),
        };
        let elapsed = started.elapsed();
        let entries = p.entries.load(Ordering::Relaxed) - before;
        p.last_run_ms.store(
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let (counter, result) = match &outcome {
            Ok(()) => (&p.ok, "ok"),
            Err(WarmerFailure::Error { .. }) => (&p.error, "error"),
            Err(WarmerFailure::Panicked { .. }) => (&p.panicked, "panicked"),
            Err(WarmerFailure::TimedOut { .. }) => (&p.timed_out, "timed_out"),
            Err(_) => (&p.error, "error"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if self.ctx.export {
            let cache = self.ctx.cache.clone();
            metrics::counter!(names::WARMER_RUNS, "cache" => cache.clone(), "warmer" => p.name.clone(), "result" => result)
                .increment(1);
            metrics::histogram!(names::WARMER_DURATION, "cache" => cache, "warmer" => p.name.clone())
                .record(elapsed.as_secs_f64());
        }
        match &outcome {
            Ok(()) => tracing::info!(
                warmer = %p.name,
                entries,
                ms = elapsed.as_millis() as u64,
                "warmer run finished"
            ),
            Err(cause) => tracing::warn!(
                warmer = %p.name,
                entries,
                ms = elapsed.as_millis() as u64,
                %cause,
                "warmer run failed"
            ),
        }
        p.first.send_if_modified(|first| {
            if first.is_none() {
                *first = Some(outcome.clone());
                true
            } else {
                false
            }
        });
        outcome.map(|()| entries)
    }

    /// The loop of warmer `index`: its first run (unless an earlier incarnation's succeeded),
    /// then a run every interval, failed runs retried with a doubling delay.
    async fn runner(self: Arc<Self>, index: usize) {
        let (_, options, p) = &self.warmers[index];
        let mut retry = options.retry_after;
        let first_done = matches!(*p.first.borrow(), Some(Ok(())));
        if first_done {
            match options.interval {
                Some(i) => tokio::time::sleep(i).await,
                None => return,
            }
        }
        loop {
            let delay = match self.run(index).await {
                Ok(_) => {
                    retry = options.retry_after;
                    match options.interval {
                        Some(i) => i,
                        None => return,
                    }
                }
                Err(_) => {
                    let d = retry;
                    retry = (retry * 2).min(MAX_RETRY.max(options.interval.unwrap_or_default()));
                    d
                }
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// Aborts a task when dropped.
struct CancelOnDrop(tokio::task::AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Requests the CacheWarmer actor serves.
#[derive(Debug)]
pub enum WarmerMsg {
    /// Run the named warmer now (besides its schedule); replies with the entries written.
    RunNow {
        /// The warmer's name.
        warmer: String,
        /// The run's outcome (`Stopped` for an unknown name).
        reply: RpcReplyPort<Result<u64, WarmerFailure>>,
    },
}

/// The CacheWarmer actor.
#[derive(Debug, Default)]
pub struct CacheWarmer;

/// What each CacheWarmer incarnation starts from.
#[derive(Debug, Clone)]
pub struct CacheWarmerArgs {
    /// The warmers and their progress.
    pub set: Arc<WarmerSet>,
    /// Test-only fault hooks.
    pub faults: Faults,
}

/// CacheWarmer state: the runner tasks it owns (aborted when it stops or crashes).
#[derive(Debug)]
pub struct CacheWarmerState {
    set: Arc<WarmerSet>,
    faults: Faults,
    _runners: Vec<AbortOnDrop>,
}

impl Actor for CacheWarmer {
    type Msg = WarmerMsg;
    type State = CacheWarmerState;
    type Arguments = CacheWarmerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: CacheWarmerArgs,
    ) -> Result<CacheWarmerState, ActorProcessingErr> {
        args.faults.before_start(ChildKind::CacheWarmer)?;
        let runners = (0..args.set.warmers.len())
            .map(|i| AbortOnDrop(tokio::spawn(args.set.clone().runner(i))))
            .collect();
        Ok(CacheWarmerState {
            set: args.set,
            faults: args.faults,
            _runners: runners,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: WarmerMsg,
        state: &mut CacheWarmerState,
    ) -> Result<(), ActorProcessingErr> {
        state.faults.before_handle(ChildKind::CacheWarmer).await;
        match msg {
            WarmerMsg::RunNow { warmer, reply } => {
                let Some(i) = state
                    .set
                    .warmers
                    .iter()
                    .position(|(_, _, p)| p.name == warmer)
                else {
                    let _ = reply.send(Err(WarmerFailure::Error {
                        message: format!("no warmer named {warmer:?}"),
                    }));
                    return Ok(());
                };
                // Run in a task: the actor stays free for other requests while it runs.
                let set = state.set.clone();
                tokio::spawn(async move {
                    let _ = reply.send(set.run(i).await);
                });
            }
        }
        Ok(())
    }
}
