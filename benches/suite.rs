//! Side-by-side benchmark suite: deeper-cache's data planes against moka, a naive actor cache
//! and the bare actor RPC floor, all measured in ONE process run (see docs/PERFORMANCE.md).
//!
//! ```sh
//! cargo bench --bench suite -- --quick   # ~2 min (or DC_BENCH_QUICK=1), median of 3 rounds
//! cargo bench --bench suite              # ~10 min, median of 7 rounds
//! ```
//!
//! Scenarios (`--only ops,blockon,codec,stampede,metrics,memory` runs a subset):
//! - `ops`: get-hit, get-miss, put, increment, get_or_store-hit and a 90/10 read/write mix at
//!   1, 2, 8 and 64 caller tasks, with 64 B and 4 KiB values, on a current-thread runtime and
//!   a 2-worker multi-thread runtime. Subjects: deeper-cache `direct`, `rpc` with 1 partition
//!   and with one partition per core; peers `moka::future::Cache`, `moka::sync::Cache`, a
//!   `Mutex<HashMap<String, Vec<u8>>>` behind one ractor actor (the naive design), a bare
//!   ractor echo actor and a bare tokio mpsc + oneshot echo task. Callers are tasks spawned on
//!   the runtime; each loops until a deadline and counts its operations.
//! - `blockon`: the same get-hit driven by `block_on` from outside the workers (labelled apart).
//! - `codec`: JSON encode/decode of the values, the codec's share of a get and a put.
//! - `stampede`: 1,000 callers on one cold key, 5 ms generator: `get_or_store` vs moka's
//!   `get_with` vs a naive get-then-put.
//! - `metrics`: get-hit and put with metrics recording on (Prometheus recorder installed) vs off.
//! - `memory`: resident memory per entry for 1,000,000 entries of 64 B values (and 100,000 of
//!   4 KiB), one subject per child process (this binary re-executed with `--child-mem`).
//!
//! Every figure is the median over rounds; every ratio compares figures of the same run. When
//! the binary runs without `--bench` (e.g. `cargo test --benches`) it does a smoke run with
//! tiny windows.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig, DataPlaneMode, codec};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, oneshot};

/// Distinct keys per value size (and counters, and miss keys).
const KEYS: usize = 10_000;
/// moka's `max_capacity` in the ops scenarios: above the working set, so nothing is evicted
/// (deeper-cache's table is unbounded by default).
const MOKA_CAPACITY: u64 = 100_000;
/// Value sizes: 64 B and 4 KiB.
const SIZES: [usize; 2] = [64, 4096];
const SIZE_LABELS: [&str; 2] = ["64 B", "4 KiB"];
/// Caller tasks.
const TASKS: [usize; 4] = [1, 2, 8, 64];
/// A caller checks the clock every this many operations.
const CHECK_EVERY: u64 = 32;
/// A caller yields to the scheduler every this many operations (like a request handler that
/// awaits something else now and then), so tasks interleave even when no operation parks.
const YIELD_EVERY: u64 = 256;

// ---------------------------------------------------------------------------------------------
// Run parameters
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Params {
    label: &'static str,
    rounds: usize,
    window: Duration,
    warmup: Duration,
    mem_entries: usize,
    mem_large_entries: usize,
    stampede_rounds: usize,
    only: Option<Vec<String>>,
}

impl Params {
    fn from_args(args: &[String]) -> Params {
        let quick = args.iter().any(|a| a == "--quick")
            || std::env::var("DC_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let bench = args.iter().any(|a| a == "--bench");
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .or_else(|| {
                args.iter()
                    .find_map(|a| a.strip_prefix("--only=").map(|_| a))
            })
            .map(|v| {
                v.trim_start_matches("--only=")
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            });
        let mut p = if !bench && !quick {
            // `cargo test --benches` and friends: prove it runs, measure nothing.
            Params {
                label: "smoke (no --bench: tiny windows, figures meaningless)",
                rounds: 1,
                window: Duration::from_millis(2),
                warmup: Duration::from_millis(1),
                mem_entries: 10_000,
                mem_large_entries: 1_000,
                stampede_rounds: 1,
                only: None,
            }
        } else if quick {
            Params {
                label: "quick (median of 3 rounds, 50 ms windows)",
                rounds: 3,
                window: Duration::from_millis(50),
                warmup: Duration::from_millis(12),
                mem_entries: 1_000_000,
                mem_large_entries: 100_000,
                stampede_rounds: 3,
                only: None,
            }
        } else {
            Params {
                label: "full (median of 7 rounds, 100 ms windows)",
                rounds: 7,
                window: Duration::from_millis(100),
                warmup: Duration::from_millis(25),
                mem_entries: 1_000_000,
                mem_large_entries: 100_000,
                stampede_rounds: 7,
                only: None,
            }
        };
        p.only = only;
        p
    }

    fn runs(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == scenario))
    }
}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// Keys and values every subject shares.
struct Data {
    /// Pre-populated keys, per value size.
    keys: [Vec<String>; 2],
    /// Never written.
    miss: Vec<String>,
    /// Pre-populated counters.
    counters: Vec<String>,
    /// The value as deeper-cache stores it (a `String`, JSON-encoded by the codec).
    text: [String; 2],
    /// The same payload as the peers store it (`Vec<u8>`).
    bytes: [Vec<u8>; 2],
}

impl Data {
    fn new() -> Data {
        let keys = |tag: &str| (0..KEYS).map(|i| format!("bench:{tag}:{i}")).collect();
        Data {
            keys: [keys("s"), keys("l")],
            miss: keys("miss"),
            counters: keys("ctr"),
            text: SIZES.map(|n| "v".repeat(n)),
            bytes: SIZES.map(|n| vec![b'v'; n]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------------------------

/// A bare ractor actor that answers every call with its input.
struct EchoActor;

struct Echo(u64, RpcReplyPort<u64>);

impl Actor for EchoActor {
    type Msg = Echo;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Echo>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Echo>,
        Echo(n, reply): Echo,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(n);
        Ok(())
    }
}

/// The naive design: a `Mutex<HashMap>` owned by one actor, every operation an actor call.
struct NaiveActor;

enum NaiveMsg {
    Get(String, RpcReplyPort<Option<Vec<u8>>>),
    Put(String, Vec<u8>, RpcReplyPort<()>),
    Incr(String, i64, RpcReplyPort<i64>),
}

impl Actor for NaiveActor {
    type Msg = NaiveMsg;
    type State = Mutex<HashMap<String, Vec<u8>>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<NaiveMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(Mutex::new(HashMap::new()))
    }

    // The lock is the point: the naive design guards its map with a mutex and takes it on
    // every operation (uncontended here, since only the actor touches it).
    #[allow(clippy::mut_mutex_lock)]
    async fn handle(
        &self,
        _: ActorRef<NaiveMsg>,
        msg: NaiveMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let mut map = state.lock().unwrap_or_else(|p| p.into_inner());
        match msg {
            NaiveMsg::Get(k, reply) => {
                let _ = reply.send(map.get(&k).cloned());
            }
            NaiveMsg::Put(k, v, reply) => {
                map.insert(k, v);
                let _ = reply.send(());
            }
            NaiveMsg::Incr(k, delta, reply) => {
                let slot = map.entry(k).or_insert_with(|| b"0".to_vec());
                let n = std::str::from_utf8(slot)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0)
                    + delta;
                *slot = n.to_string().into_bytes();
                let _ = reply.send(n);
            }
        }
        Ok(())
    }
}

type EchoTx = mpsc::UnboundedSender<(u64, oneshot::Sender<u64>)>;

fn start_tokio_echo() -> EchoTx {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    tokio::spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n);
        }
    });
    tx
}

async fn call<M: ractor::Message, R: Send + 'static>(
    actor: &ActorRef<M>,
    build: impl FnOnce(RpcReplyPort<R>) -> M,
) -> R {
    match actor.call(build, None).await {
        Ok(CallResult::Success(r)) => r,
        _ => panic!("actor call failed"),
    }
}

// ---------------------------------------------------------------------------------------------
// Subjects and operations
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Who {
    Direct,
    Rpc1,
    RpcN,
    MokaFuture,
    MokaSync,
    Naive,
    RactorEcho,
    RactorEchoTimeout,
    TokioEcho,
}

impl Who {
    const CACHES: [Who; 6] = [
        Who::Direct,
        Who::Rpc1,
        Who::RpcN,
        Who::MokaFuture,
        Who::MokaSync,
        Who::Naive,
    ];
    const ECHOES: [Who; 3] = [Who::RactorEcho, Who::RactorEchoTimeout, Who::TokioEcho];

    fn label(self) -> String {
        match self {
            Who::Direct => "deeper-cache direct".into(),
            Who::Rpc1 => "deeper-cache rpc, 1 partition".into(),
            Who::RpcN => format!("deeper-cache rpc, {} partitions", cores()),
            Who::MokaFuture => "moka::future::Cache".into(),
            Who::MokaSync => "moka::sync::Cache".into(),
            Who::Naive => "naive: Mutex<HashMap> behind 1 actor".into(),
            Who::RactorEcho => "bare ractor echo (1 actor call)".into(),
            Who::RactorEchoTimeout => "ractor echo inside `tokio::time::timeout_at`".into(),
            Who::TokioEcho => "bare tokio mpsc+oneshot echo".into(),
        }
    }

    fn is_rpc(self) -> bool {
        matches!(self, Who::Rpc1 | Who::RpcN | Who::Naive)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    GetHit,
    GetMiss,
    Put,
    Incr,
    GosHit,
    Mix,
    Echo,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::GetHit => "get (hit)",
            Op::GetMiss => "get (miss)",
            Op::Put => "put (overwrite)",
            Op::Incr => "increment (10,000 counters)",
            Op::GosHit => "get_or_store (hit)",
            Op::Mix => "90/10 get/put mix",
            Op::Echo => "echo (one round trip)",
        }
    }

    /// Whether the value size matters (otherwise measured once, at index 0).
    fn sized(self) -> bool {
        matches!(self, Op::GetHit | Op::Put | Op::GosHit | Op::Mix)
    }

    /// What each peer runs for this operation.
    fn peer_note(self) -> &'static str {
        match self {
            Op::GetHit | Op::GetMiss => "moka: `get`; naive: `Get` call",
            Op::Put => "moka: `insert` (key and value cloned); naive: `Put` call",
            Op::Incr => {
                "moka: `entry_by_ref(k).and_upsert_with(+1)` on a `Cache<String, i64>`; naive: `Incr` call (ASCII counter)"
            }
            Op::GosHit => "moka: `get_with_by_ref` of a present key; naive: `Get` call",
            Op::Mix => "every 10th operation a put, the rest get-hits",
            Op::Echo => "",
        }
    }
}

enum Subject {
    Dc(Cache),
    MokaF {
        values: moka::future::Cache<String, Vec<u8>>,
        counters: moka::future::Cache<String, i64>,
    },
    MokaS {
        values: moka::sync::Cache<String, Vec<u8>>,
        counters: moka::sync::Cache<String, i64>,
    },
    Naive(ActorRef<NaiveMsg>),
    RactorEcho(ActorRef<Echo>),
    /// The echo call bounded by a tokio timeout: how `rpc` mode bounded each call by
    /// `call_timeout_ms` before its deadline alarm (`actors/src/deadline.rs`).
    RactorEchoTimeout(ActorRef<Echo>),
    TokioEcho(EchoTx),
}

fn dc_config(mode: DataPlaneMode, partitions: usize) -> CacheConfig {
    let mut c = CacheConfig::default();
    c.adapter.mode = mode;
    c.adapter.partitions = partitions;
    c
}

impl Subject {
    /// Starts `who` on the current runtime and pre-populates it.
    async fn start(who: Who, d: &Data) -> Subject {
        let s = match who {
            Who::Direct => Subject::Dc(
                Cache::start(dc_config(DataPlaneMode::Direct, 0))
                    .await
                    .expect("start"),
            ),
            Who::Rpc1 => Subject::Dc(
                Cache::start(dc_config(DataPlaneMode::Rpc, 1))
                    .await
                    .expect("start"),
            ),
            Who::RpcN => Subject::Dc(
                Cache::start(dc_config(DataPlaneMode::Rpc, cores()))
                    .await
                    .expect("start"),
            ),
            Who::MokaFuture => Subject::MokaF {
                values: moka::future::Cache::new(MOKA_CAPACITY),
                counters: moka::future::Cache::new(MOKA_CAPACITY),
            },
            Who::MokaSync => Subject::MokaS {
                values: moka::sync::Cache::new(MOKA_CAPACITY),
                counters: moka::sync::Cache::new(MOKA_CAPACITY),
            },
            Who::Naive => Subject::Naive(
                Actor::spawn(None, NaiveActor, ())
                    .await
                    .expect("spawn naive actor")
                    .0,
            ),
            Who::RactorEcho => Subject::RactorEcho(
                Actor::spawn(None, EchoActor, ())
                    .await
                    .expect("spawn echo actor")
                    .0,
            ),
            Who::RactorEchoTimeout => Subject::RactorEchoTimeout(
                Actor::spawn(None, EchoActor, ())
                    .await
                    .expect("spawn echo actor")
                    .0,
            ),
            Who::TokioEcho => Subject::TokioEcho(start_tokio_echo()),
        };
        if !matches!(
            s,
            Subject::RactorEcho(_) | Subject::RactorEchoTimeout(_) | Subject::TokioEcho(_)
        ) {
            for size in 0..2 {
                for i in 0..KEYS {
                    s.op(d, Op::Put, size, i).await;
                }
            }
            for i in 0..KEYS {
                s.op(d, Op::Incr, 0, i).await;
            }
        }
        s
    }

    async fn stop(&self) {
        match self {
            Subject::Dc(c) => c.shutdown().await,
            Subject::Naive(a) => a.stop(None),
            Subject::RactorEcho(a) | Subject::RactorEchoTimeout(a) => a.stop(None),
            _ => {}
        }
    }

    /// One operation on key `i`; results are checked, so a failing call cannot pass for a
    /// fast one.
    #[inline]
    async fn op(&self, d: &Data, op: Op, size: usize, i: usize) {
        let key = &d.keys[size][i];
        let len = SIZES[size];
        let op = match op {
            Op::Mix if i % 10 == 0 => Op::Put,
            Op::Mix => Op::GetHit,
            other => other,
        };
        match (self, op) {
            (Subject::Dc(c), Op::GetHit) => {
                let v: Option<String> = c.get(key).await.expect("get");
                assert_eq!(v.map(|v| v.len()), Some(len), "expected a hit");
            }
            (Subject::Dc(c), Op::GetMiss) => {
                let v: Option<String> = c.get(&d.miss[i]).await.expect("get");
                assert!(v.is_none(), "expected a miss");
            }
            (Subject::Dc(c), Op::Put) => c.put(key, &d.text[size]).await.expect("put"),
            (Subject::Dc(c), Op::Incr) => {
                black_box(c.increment(&d.counters[i], 1).await.expect("increment"));
            }
            (Subject::Dc(c), Op::GosHit) => {
                let v = c
                    .get_or_store(key, || async {
                        Err::<String, &str>("the generator ran on a hit")
                    })
                    .await
                    .expect("get_or_store hit");
                assert_eq!(v.len(), len);
            }
            (Subject::MokaF { values, .. }, Op::GetHit) => {
                let v = values.get(key.as_str()).await;
                assert_eq!(v.map(|v| v.len()), Some(len), "expected a hit");
            }
            (Subject::MokaF { values, .. }, Op::GetMiss) => {
                assert!(values.get(d.miss[i].as_str()).await.is_none());
            }
            (Subject::MokaF { values, .. }, Op::Put) => {
                values.insert(key.clone(), d.bytes[size].clone()).await;
            }
            (Subject::MokaF { counters, .. }, Op::Incr) => {
                let e = counters
                    .entry_by_ref(d.counters[i].as_str())
                    .and_upsert_with(|e| async move { e.map_or(1, |e| e.into_value() + 1) })
                    .await;
                black_box(e.into_value());
            }
            (Subject::MokaF { values, .. }, Op::GosHit) => {
                let v = values
                    .get_with_by_ref(key.as_str(), async { Vec::new() })
                    .await;
                assert_eq!(v.len(), len, "the init future ran on a hit");
            }
            (Subject::MokaS { values, .. }, Op::GetHit) => {
                let v = values.get(key.as_str());
                assert_eq!(v.map(|v| v.len()), Some(len), "expected a hit");
            }
            (Subject::MokaS { values, .. }, Op::GetMiss) => {
                assert!(values.get(d.miss[i].as_str()).is_none());
            }
            (Subject::MokaS { values, .. }, Op::Put) => {
                values.insert(key.clone(), d.bytes[size].clone());
            }
            (Subject::MokaS { counters, .. }, Op::Incr) => {
                let e = counters
                    .entry_by_ref(d.counters[i].as_str())
                    .and_upsert_with(|e| e.map_or(1, |e| e.into_value() + 1));
                black_box(e.into_value());
            }
            (Subject::MokaS { values, .. }, Op::GosHit) => {
                let v = values.get_with_by_ref(key.as_str(), Vec::new);
                assert_eq!(v.len(), len, "the init closure ran on a hit");
            }
            (Subject::Naive(a), Op::GetHit | Op::GosHit) => {
                let v = call(a, |r| NaiveMsg::Get(key.clone(), r)).await;
                assert_eq!(v.map(|v| v.len()), Some(len), "expected a hit");
            }
            (Subject::Naive(a), Op::GetMiss) => {
                let v = call(a, |r| NaiveMsg::Get(d.miss[i].clone(), r)).await;
                assert!(v.is_none());
            }
            (Subject::Naive(a), Op::Put) => {
                call(a, |r| NaiveMsg::Put(key.clone(), d.bytes[size].clone(), r)).await;
            }
            (Subject::Naive(a), Op::Incr) => {
                black_box(call(a, |r| NaiveMsg::Incr(d.counters[i].clone(), 1, r)).await);
            }
            (Subject::RactorEcho(a), Op::Echo) => {
                let n = i as u64;
                assert_eq!(call(a, |r| Echo(n, r)).await, n);
            }
            (Subject::RactorEchoTimeout(a), Op::Echo) => {
                let n = i as u64;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                let r = tokio::time::timeout_at(deadline, call(a, |r| Echo(n, r)))
                    .await
                    .expect("echo within the timeout");
                assert_eq!(r, n);
            }
            (Subject::TokioEcho(tx), Op::Echo) => {
                let (reply, rx) = oneshot::channel();
                tx.send((i as u64, reply)).expect("echo task alive");
                assert_eq!(rx.await.expect("echo reply"), i as u64);
            }
            _ => unreachable!("operation not supported by this subject"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Runs `op` from `tasks` tasks spawned on `rt` until `window` has passed; returns operations
/// per second (all tasks together, over the wall time until the last task stopped).
fn measure(
    rt: &Runtime,
    s: &Arc<Subject>,
    d: &Arc<Data>,
    op: Op,
    size: usize,
    tasks: usize,
    window: Duration,
) -> f64 {
    rt.block_on(async {
        let start = Instant::now();
        let deadline = start + window;
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let (s, d) = (s.clone(), d.clone());
                tokio::spawn(async move {
                    let mut i = t * (KEYS / tasks.max(1)) % KEYS;
                    let mut n = 0u64;
                    loop {
                        for _ in 0..CHECK_EVERY {
                            s.op(&d, op, size, i).await;
                            i += 1;
                            if i == KEYS {
                                i = 0;
                            }
                        }
                        n += CHECK_EVERY;
                        if Instant::now() >= deadline {
                            break;
                        }
                        if n % YIELD_EVERY == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    (n, Instant::now())
                })
            })
            .collect();
        let (mut ops, mut end) = (0u64, start);
        for h in handles {
            let (n, e) = h.await.expect("caller task");
            ops += n;
            end = end.max(e);
        }
        ops as f64 / (end - start).as_secs_f64()
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Rt {
    Current,
    Multi,
}

impl Rt {
    fn label(self) -> &'static str {
        match self {
            Rt::Current => "current-thread",
            Rt::Multi => "multi-thread (2 workers)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Rt::Current => "ct",
            Rt::Multi => "mt",
        }
    }

    fn build(self) -> Runtime {
        match self {
            Rt::Current => Builder::new_current_thread().enable_all().build(),
            Rt::Multi => Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        }
        .expect("runtime")
    }
}

/// Samples (operations per second) per runtime, subject, operation, size and task count.
type Key = (Rt, Who, Op, usize, usize);

#[derive(Default)]
struct Results {
    samples: HashMap<Key, Vec<f64>>,
}

impl Results {
    fn add(&mut self, k: Key, v: f64) {
        self.samples.entry(k).or_default().push(v);
    }

    /// Median operations per second.
    fn ops(&self, k: Key) -> Option<f64> {
        self.samples.get(&k).map(|v| median(v))
    }

    /// Median nanoseconds per operation.
    fn ns(&self, k: Key) -> Option<f64> {
        self.ops(k).map(|o| 1e9 / o)
    }

    /// Cost ratio of `subject` to `reference` (time per operation ÷ the reference's): the
    /// median of the per-round ratios. Within a round the subjects of one cell run back to
    /// back, so a per-round ratio cancels most of the load drift of a shared machine.
    fn cost(&self, subject: Key, reference: Key) -> Option<f64> {
        let (s, r) = (self.samples.get(&subject)?, self.samples.get(&reference)?);
        let ratios: Vec<f64> = s.iter().zip(r).map(|(s, r)| r / s).collect();
        (!ratios.is_empty()).then(|| median(&ratios))
    }

    /// Throughput of `b` ÷ throughput of `a`, median of per-round ratios (that is the cost
    /// ratio of `a` to `b`).
    fn gain(&self, a: Key, b: Key) -> Option<f64> {
        self.cost(a, b)
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.1} ns")
    } else {
        format!("{} ns", thousands(ns.round() as u64))
    }
}

fn fmt_ops(ops: f64) -> String {
    if ops >= 1e6 {
        format!("{:.2} M/s", ops / 1e6)
    } else {
        format!("{:.0} k/s", ops / 1e3)
    }
}

fn fmt_ratio(r: f64) -> String {
    format!("{r:.2}×")
}

fn fmt_dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn read_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn loadavg() -> String {
    read_file("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn command(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Resident set size of this process, in bytes (`/proc/self/statm`, 4 KiB pages).
fn rss_bytes() -> u64 {
    read_file("/proc/self/statm")
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn progress(msg: &str) {
    if let Some(l) = loadavg()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        && let Ok(mut v) = LOADS.lock()
    {
        v.push(l);
    }
    eprintln!("[suite {:>7.1}s] {msg}", started().elapsed().as_secs_f64());
}

/// 1-minute load averages sampled at each progress line.
static LOADS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

fn started() -> &'static Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now)
}

// ---------------------------------------------------------------------------------------------
// Scenario: operations
// ---------------------------------------------------------------------------------------------

fn variants() -> Vec<(Op, usize)> {
    let mut v = Vec::new();
    for op in [
        Op::GetHit,
        Op::GetMiss,
        Op::Put,
        Op::Incr,
        Op::GosHit,
        Op::Mix,
    ] {
        if op.sized() {
            v.push((op, 0));
            v.push((op, 1));
        } else {
            v.push((op, 0));
        }
    }
    v.push((Op::Echo, 0));
    v
}

fn run_ops(p: &Params, d: &Arc<Data>, res: &mut Results) {
    for rtk in [Rt::Current, Rt::Multi] {
        let rt = rtk.build();
        let subjects: Vec<(Who, Arc<Subject>)> = Who::CACHES
            .iter()
            .chain(Who::ECHOES.iter())
            .map(|&w| (w, Arc::new(rt.block_on(Subject::start(w, d)))))
            .collect();
        progress(&format!("ops on {}: subjects started", rtk.label()));
        for round in 0..p.rounds {
            for (op, size) in variants() {
                for &tasks in &TASKS {
                    let mut who: Vec<_> = subjects
                        .iter()
                        .filter(|(w, _)| (op == Op::Echo) == Who::ECHOES.contains(w))
                        .collect();
                    let len = who.len();
                    who.rotate_left(round % len);
                    for (w, s) in who {
                        measure(&rt, s, d, op, size, tasks, p.warmup);
                        let v = measure(&rt, s, d, op, size, tasks, p.window);
                        res.add((rtk, *w, op, size, tasks), v);
                    }
                }
            }
            progress(&format!(
                "ops on {}: round {}/{} done (load {})",
                rtk.label(),
                round + 1,
                p.rounds,
                loadavg()
            ));
        }
        for (_, s) in &subjects {
            rt.block_on(s.stop());
        }
    }
}

fn report_ops(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## Operations: figures and ratios\n\n\
         1 task: latency in ns/op. 2, 8, 64 tasks: throughput in operations per second (all \
         tasks together). In parentheses, the **cost ratio** to `moka::future::Cache` running \
         the same operation on the same runtime with the same number of tasks (time per op \
         ÷ moka's, so below 1.00× is faster than moka); rows of designs that make an actor \
         call per operation also give the ratio to the bare ractor echo (`e`). Ratios are the \
         median of per-round ratios (the subjects of one cell run back to back in each round)."
    );
    for (op, size) in variants() {
        if op == Op::Echo {
            continue;
        }
        let title = if op.sized() {
            format!("{}, {} values", op.label(), SIZE_LABELS[size])
        } else {
            op.label().to_owned()
        };
        let _ = writeln!(
            out,
            "\n### {title}\n\n{}\n\n| subject | runtime | 1 task | 2 tasks | 8 tasks | 64 tasks |\n|---|---|---|---|---|---|",
            op.peer_note()
        );
        for rtk in [Rt::Current, Rt::Multi] {
            for w in Who::CACHES {
                let mut row = format!("| {} | {} |", w.label(), rtk.short());
                for &t in &TASKS {
                    let k = (rtk, w, op, size, t);
                    let Some(ops) = res.ops(k) else {
                        row.push_str(" – |");
                        continue;
                    };
                    let fig = if t == 1 {
                        fmt_ns(1e9 / ops)
                    } else {
                        fmt_ops(ops)
                    };
                    let mut cell = fig;
                    let mut ratios = Vec::new();
                    if let Some(m) = res.cost(k, (rtk, Who::MokaFuture, op, size, t)) {
                        ratios.push(fmt_ratio(m));
                    }
                    if w.is_rpc()
                        && let Some(e) = res.cost(k, (rtk, Who::RactorEcho, Op::Echo, 0, t))
                    {
                        ratios.push(format!("e {}", fmt_ratio(e)));
                    }
                    if !ratios.is_empty() {
                        let _ = write!(cell, " ({})", ratios.join(", "));
                    }
                    let _ = write!(row, " {cell} |");
                }
                let _ = writeln!(out, "{row}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n### Floors: one round trip, no cache work\n\n| peer | runtime | 1 task | 2 tasks | 8 tasks | 64 tasks |\n|---|---|---|---|---|---|"
    );
    for rtk in [Rt::Current, Rt::Multi] {
        for w in Who::ECHOES {
            let mut row = format!("| {} | {} |", w.label(), rtk.short());
            for &t in &TASKS {
                match res.ops((rtk, w, Op::Echo, 0, t)) {
                    Some(o) if t == 1 => {
                        let _ = write!(row, " {} |", fmt_ns(1e9 / o));
                    }
                    Some(o) => {
                        let _ = write!(row, " {} |", fmt_ops(o));
                    }
                    None => row.push_str(" – |"),
                }
            }
            let _ = writeln!(out, "{row}");
        }
    }
    // Scaling from 1 to 2 tasks on the 2-worker runtime.
    let _ = writeln!(
        out,
        "\n### Scaling from 1 to 2 tasks (multi-thread runtime, 2 workers, 2 cores)\n\n\
         Throughput with 2 tasks ÷ throughput with 1 task (median of per-round ratios): 2.00× \
         is perfect scaling, below 1.00× is a collapse.\n\n\
         | subject | get-hit 64 B | put 64 B | 90/10 mix 64 B | increment | 8 tasks ÷ 1 (get-hit 64 B) |\n|---|---|---|---|---|---|"
    );
    for w in Who::CACHES.iter().chain(Who::ECHOES.iter()) {
        let scale = |op: Op, t: usize| {
            let op = if Who::ECHOES.contains(w) {
                Op::Echo
            } else {
                op
            };
            res.gain((Rt::Multi, *w, op, 0, 1), (Rt::Multi, *w, op, 0, t))
                .map_or("–".into(), fmt_ratio)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            w.label(),
            scale(Op::GetHit, 2),
            scale(Op::Put, 2),
            scale(Op::Mix, 2),
            scale(Op::Incr, 2),
            scale(Op::GetHit, 8)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: block_on from outside the workers
// ---------------------------------------------------------------------------------------------

fn run_blockon(p: &Params, d: &Arc<Data>, res: &mut Results) {
    let rt = Rt::Multi.build();
    let who = [Who::Direct, Who::RpcN, Who::MokaFuture, Who::RactorEcho];
    let subjects: Vec<(Who, Arc<Subject>)> = who
        .iter()
        .map(|&w| (w, Arc::new(rt.block_on(Subject::start(w, d)))))
        .collect();
    for _ in 0..p.rounds {
        for (w, s) in &subjects {
            let op = if *w == Who::RactorEcho {
                Op::Echo
            } else {
                Op::GetHit
            };
            for window in [p.warmup, p.window] {
                let v = rt.block_on(async {
                    let start = Instant::now();
                    let deadline = start + window;
                    let (mut n, mut i) = (0u64, 0usize);
                    while Instant::now() < deadline {
                        for _ in 0..CHECK_EVERY {
                            s.op(d, op, 0, i).await;
                            i = (i + 1) % KEYS;
                        }
                        n += CHECK_EVERY;
                    }
                    n as f64 / start.elapsed().as_secs_f64()
                });
                if window == p.window {
                    // Runtime tag `Current` is reused here to file the block_on figures apart.
                    res.add((Rt::Current, *w, op, 0, 0), v);
                }
            }
        }
    }
    for (_, s) in &subjects {
        rt.block_on(s.stop());
    }
}

fn report_blockon(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## Caller outside the runtime's workers (`block_on` on the main thread)\n\n\
         Not a data-plane comparison: the caller is a plain thread driving `block_on` on the \
         2-worker runtime, so any reply from a worker must wake a parked thread. get-hit of \
         64 B values, 1 caller, ns/op; ratio to moka::future driven the same way.\n\n\
         | subject | ns/op | × moka::future |\n|---|---|---|"
    );
    let m = (Rt::Current, Who::MokaFuture, Op::GetHit, 0, 0);
    for w in [Who::Direct, Who::RpcN, Who::MokaFuture, Who::RactorEcho] {
        let op = if w == Who::RactorEcho {
            Op::Echo
        } else {
            Op::GetHit
        };
        let k = (Rt::Current, w, op, 0, 0);
        if let Some(ns) = res.ns(k) {
            let r = res.cost(k, m).map_or("–".into(), fmt_ratio);
            let _ = writeln!(out, "| {} | {} | {r} |", w.label(), fmt_ns(ns));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: codec
// ---------------------------------------------------------------------------------------------

/// ns per call of `f`, over `window`.
fn time_loop(window: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

struct CodecResults {
    /// [size] -> (encode ns, decode ns, copy ns) samples.
    encode: [Vec<f64>; 2],
    decode: [Vec<f64>; 2],
    copy: [Vec<f64>; 2],
    encoded_len: [usize; 2],
}

fn run_codec(p: &Params, d: &Data) -> CodecResults {
    let mut r = CodecResults {
        encode: Default::default(),
        decode: Default::default(),
        copy: Default::default(),
        encoded_len: [0; 2],
    };
    for _ in 0..p.rounds {
        for size in 0..2 {
            let text = &d.text[size];
            let raw = codec::encode(text).expect("encode");
            r.encoded_len[size] = raw.len();
            let window = p.window / 2;
            r.encode[size].push(time_loop(window, || {
                black_box(codec::encode(black_box(text)).expect("encode"));
            }));
            r.decode[size].push(time_loop(window, || {
                let s: String = codec::decode(black_box(&raw)).expect("decode");
                black_box(s);
            }));
            r.copy[size].push(time_loop(window, || {
                black_box(black_box(&d.bytes[size]).clone());
            }));
        }
    }
    r
}

fn report_codec(out: &mut String, c: &CodecResults, res: &Results) {
    let _ = writeln!(
        out,
        "\n## Value codec (JSON, `deeper_cache::codec`)\n\n\
         The value is a `String` of 64 or 4,096 ASCII chars; `copy` is a plain `Vec<u8>` clone \
         of the same payload (the floor any codec pays to hand back an owned value). The share \
         columns divide the codec's cost by a whole 1-task `direct` get-hit (decode) or put \
         (encode) of the same size, from the operations scenario of this run (ct / mt). \
         Encoding is by sonic-rs; decoding by serde_json, except a string without escapes, \
         which is checked as UTF-8 (simdutf8) and copied out (`codec::decode`); the stored \
         `Bytes` owns exactly the encoded bytes (copied out of the encode buffer at its size).\n\n\
         | value | encoded | encode | decode | copy (floor) | decode ÷ get-hit (ct / mt) | encode ÷ put (ct / mt) |\n|---|---|---|---|---|---|---|"
    );
    for (size, label) in SIZE_LABELS.iter().enumerate() {
        let (e, dd, cp) = (
            median(&c.encode[size]),
            median(&c.decode[size]),
            median(&c.copy[size]),
        );
        let share = |op: Op, x: f64| {
            [Rt::Current, Rt::Multi]
                .map(|rt| {
                    res.ns((rt, Who::Direct, op, size, 1))
                        .map_or("–".into(), |t| format!("{:.0} %", 100.0 * x / t))
                })
                .join(" / ")
        };
        let _ = writeln!(
            out,
            "| {label} | {} B | {} | {} | {} | {} | {} |",
            c.encoded_len[size],
            fmt_ns(e),
            fmt_ns(dd),
            fmt_ns(cp),
            share(Op::GetHit, dd),
            share(Op::Put, e)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: stampede
// ---------------------------------------------------------------------------------------------

const STAMPEDE_CALLERS: usize = 1_000;
const GENERATOR: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Stampede {
    DirectGetOrStore,
    RpcGetOrStore,
    MokaGetWith,
    NaiveGetThenPut,
}

impl Stampede {
    const ALL: [Stampede; 4] = [
        Stampede::DirectGetOrStore,
        Stampede::RpcGetOrStore,
        Stampede::MokaGetWith,
        Stampede::NaiveGetThenPut,
    ];

    fn label(self) -> String {
        match self {
            Stampede::DirectGetOrStore => "deeper-cache `get_or_store` (direct)".into(),
            Stampede::RpcGetOrStore => {
                format!("deeper-cache `get_or_store` (rpc, {} partitions)", cores())
            }
            Stampede::MokaGetWith => "moka::future `get_with`".into(),
            Stampede::NaiveGetThenPut => "naive get-then-put (deeper-cache direct)".into(),
        }
    }
}

/// (generator runs, total time) per subject.
type StampedeResults = HashMap<Stampede, Vec<(usize, Duration)>>;

fn run_stampede(p: &Params, d: &Data) -> StampedeResults {
    let rt = Rt::Multi.build();
    let direct = rt
        .block_on(Cache::start(dc_config(DataPlaneMode::Direct, 0)))
        .expect("start");
    let rpc = rt
        .block_on(Cache::start(dc_config(DataPlaneMode::Rpc, cores())))
        .expect("start");
    let moka: moka::future::Cache<String, String> = moka::future::Cache::new(MOKA_CAPACITY);
    let value = d.text[0].clone();
    let mut out = StampedeResults::new();
    for round in 0..p.stampede_rounds {
        for s in Stampede::ALL {
            let key = format!("stampede:{s:?}:{round}");
            let runs = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let handles: Vec<_> = (0..STAMPEDE_CALLERS)
                .map(|_| {
                    let (runs, key, value) = (runs.clone(), key.clone(), value.clone());
                    let (direct, rpc, moka) = (direct.clone(), rpc.clone(), moka.clone());
                    rt.spawn(async move {
                        let generate = || async {
                            runs.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(GENERATOR).await;
                            Ok::<String, &str>(value.clone())
                        };
                        let got: String = match s {
                            Stampede::DirectGetOrStore => {
                                direct.get_or_store(&key, generate).await.expect("gos")
                            }
                            Stampede::RpcGetOrStore => {
                                rpc.get_or_store(&key, generate).await.expect("gos")
                            }
                            Stampede::MokaGetWith => {
                                moka.get_with_by_ref(key.as_str(), async {
                                    generate().await.expect("generator")
                                })
                                .await
                            }
                            Stampede::NaiveGetThenPut => {
                                match direct.get::<String>(&key).await.expect("get") {
                                    Some(v) => v,
                                    None => {
                                        let v = generate().await.expect("generator");
                                        direct.put(&key, &v).await.expect("put");
                                        v
                                    }
                                }
                            }
                        };
                        assert_eq!(got.len(), value.len());
                    })
                })
                .collect();
            rt.block_on(async {
                for h in handles {
                    h.await.expect("stampede caller");
                }
            });
            let took = start.elapsed();
            out.entry(s)
                .or_default()
                .push((runs.load(Ordering::Relaxed), took));
        }
    }
    rt.block_on(direct.shutdown());
    rt.block_on(rpc.shutdown());
    out
}

fn report_stampede(out: &mut String, r: &StampedeResults) {
    let _ = writeln!(
        out,
        "\n## Stampede: {} concurrent callers, one cold key, {} ms generator\n\n\
         Multi-thread runtime (2 workers); every caller is a task spawned at once; the \
         generator counts its runs and sleeps 5 ms (tokio timer). Total time: from the first \
         spawn until the last caller has its value. Median (min–max) over rounds; each round \
         uses a fresh key.\n\n\
         | subject | generator runs | total time | × get_or_store (direct) |\n|---|---|---|---|",
        STAMPEDE_CALLERS,
        GENERATOR.as_millis()
    );
    let med_time = |s: Stampede| {
        r.get(&s).map(|v| {
            let t: Vec<f64> = v.iter().map(|x| x.1.as_secs_f64()).collect();
            median(&t)
        })
    };
    let base = med_time(Stampede::DirectGetOrStore);
    for s in Stampede::ALL {
        let Some(v) = r.get(&s) else { continue };
        let runs: Vec<f64> = v.iter().map(|x| x.0 as f64).collect();
        let (rmin, rmax) = (
            v.iter().map(|x| x.0).min().unwrap_or(0),
            v.iter().map(|x| x.0).max().unwrap_or(0),
        );
        let times: Vec<f64> = v.iter().map(|x| x.1.as_secs_f64()).collect();
        let t = median(&times);
        let (tmin, tmax) = (
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max),
        );
        let ratio = base.map_or("–".into(), |b| fmt_ratio(t / b));
        let _ = writeln!(
            out,
            "| {} | {} ({rmin}–{rmax}) | {} ({}–{}) | {ratio} |",
            s.label(),
            median(&runs),
            fmt_dur(Duration::from_secs_f64(t)),
            fmt_dur(Duration::from_secs_f64(tmin)),
            fmt_dur(Duration::from_secs_f64(tmax)),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: metrics overhead
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Metrics {
    On,
    Off,
}

struct MetricsResults {
    /// (runtime, mode, op, tasks, on/off) -> ops/s samples, one per A/B pair.
    ops: HashMap<(Rt, Who, Op, usize, Metrics), Vec<f64>>,
    /// (runtime, mode, op, tasks) -> ns of deferred upkeep per recorded operation.
    upkeep_ns: HashMap<(Rt, Who, Op, usize), Vec<f64>>,
    /// Growth of resident memory while metrics-on gets ran with no upkeep: (ops, bytes).
    growth: Option<(u64, u64)>,
    /// (what, ns on 1 thread, ns per thread on 2 threads) of the recording primitives.
    primitives: Vec<(&'static str, f64, f64)>,
    /// A/B pairs per cell and the window of each half.
    pairs: usize,
    window: Duration,
}

impl MetricsResults {
    fn median_ops(&self, k: (Rt, Who, Op, usize, Metrics)) -> Option<f64> {
        self.ops.get(&k).map(|v| median(v))
    }

    /// on ÷ off cost ratio: median of the per-pair ratios.
    fn overhead(&self, rt: Rt, w: Who, op: Op, tasks: usize) -> Option<f64> {
        let on = self.ops.get(&(rt, w, op, tasks, Metrics::On))?;
        let off = self.ops.get(&(rt, w, op, tasks, Metrics::Off))?;
        let r: Vec<f64> = on.iter().zip(off).map(|(on, off)| off / on).collect();
        (!r.is_empty()).then(|| median(&r))
    }
}

fn run_metrics(p: &Params, d: &Arc<Data>) -> MetricsResults {
    let handle = deeper_cache::prometheus::install_recorder().expect("install the recorder");
    let mut r = MetricsResults {
        ops: HashMap::new(),
        upkeep_ns: HashMap::new(),
        growth: None,
        primitives: Vec::new(),
        pairs: p.rounds * 5,
        window: p.window / 5,
    };
    for rtk in [Rt::Current, Rt::Multi] {
        let rt = rtk.build();
        let mut subjects = HashMap::new();
        for w in [Who::Direct, Who::RpcN] {
            for m in [Metrics::On, Metrics::Off] {
                let (mode, partitions) = if w == Who::Direct {
                    (DataPlaneMode::Direct, 0)
                } else {
                    (DataPlaneMode::Rpc, cores())
                };
                let mut c = dc_config(mode, partitions);
                c.metrics.enabled = m == Metrics::On;
                let cache = rt.block_on(Cache::start(c)).expect("start");
                let s = Subject::Dc(cache);
                rt.block_on(async {
                    for i in 0..KEYS {
                        s.op(d, Op::Put, 0, i).await;
                    }
                });
                subjects.insert((w, m), Arc::new(s));
            }
        }
        handle.run_upkeep();
        for w in [Who::Direct, Who::RpcN] {
            for op in [Op::GetHit, Op::Put] {
                for tasks in [1, 2] {
                    for m in [Metrics::Off, Metrics::On] {
                        measure(&rt, &subjects[&(w, m)], d, op, 0, tasks, p.warmup);
                    }
                    handle.run_upkeep();
                    // Alternating A/B pairs (off-on, on-off, ...): a pair's two halves run
                    // back to back, so its ratio is nearly free of the machine's load drift.
                    for k in 0..r.pairs {
                        let order = if k % 2 == 0 {
                            [Metrics::Off, Metrics::On]
                        } else {
                            [Metrics::On, Metrics::Off]
                        };
                        for m in order {
                            let v = measure(&rt, &subjects[&(w, m)], d, op, 0, tasks, r.window);
                            r.ops.entry((rtk, w, op, tasks, m)).or_default().push(v);
                            if m == Metrics::On {
                                // Drain the histogram samples of this window, as the exporter's
                                // upkeep or a scrape would, and time it per operation.
                                let t = Instant::now();
                                handle.run_upkeep();
                                let per_op = t.elapsed().as_nanos() as f64
                                    / (v * r.window.as_secs_f64()).max(1.0);
                                r.upkeep_ns
                                    .entry((rtk, w, op, tasks))
                                    .or_default()
                                    .push(per_op);
                            }
                        }
                    }
                }
            }
        }
        for s in subjects.values() {
            rt.block_on(s.stop());
        }
        progress(&format!("metrics on {} done", rtk.label()));
    }
    r.primitives = metric_primitives(p.window);
    r.growth = child_growth(p.mem_entries as u64);
    r
}

/// ns per call of what one recorded operation does, on 1 thread and on 2 threads sharing the
/// same handles (as two workers recording hits of one namespace do).
fn metric_primitives(window: Duration) -> Vec<(&'static str, f64, f64)> {
    let counter = metrics::counter!(
        "deeper_hub_core_cache_operations_total",
        "cache" => "suite_probe", "operation" => "get", "namespace" => "default", "status" => "hit"
    );
    let histogram = metrics::histogram!(
        "deeper_hub_core_cache_operation_duration_seconds",
        "cache" => "suite_probe", "operation" => "get", "namespace" => "default"
    );
    let start = Instant::now();
    let probes: [(&'static str, &(dyn Fn() + Sync)); 3] = [
        ("`Counter::increment(1)`", &|| counter.increment(1)),
        ("`Histogram::record(secs)`", &|| {
            histogram.record(black_box(2.5e-7))
        }),
        ("`Instant::now()` + `elapsed()` (std)", &|| {
            black_box(black_box(start).elapsed());
        }),
    ];
    let mut out = Vec::new();
    for (name, f) in probes {
        let one = time_loop(window, f);
        let two = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..2).map(|_| sc.spawn(|| time_loop(window, f))).collect();
            let v: Vec<f64> = hs.into_iter().map(|h| h.join().expect("probe")).collect();
            median(&v)
        });
        out.push((name, one, two));
    }
    // Drain what the probes recorded.
    if let Some(h) = deeper_cache::prometheus::render() {
        black_box(h);
    }
    out
}

/// Runs the no-upkeep growth measurement in a child process (a clean heap).
fn child_growth(ops: u64) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--child-metrics-growth", &ops.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("GROWTH "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    (f.len() == 2).then(|| (f[0], f[1]))
}

/// Child process: a Prometheus recorder installed with `install_recorder()` and nothing that
/// renders or runs upkeep; `ops` get-hits on a metrics-on cache; prints the RSS growth.
fn child_metrics_growth(ops: u64) {
    let _handle = deeper_cache::prometheus::install_recorder().expect("install the recorder");
    let rt = Rt::Multi.build();
    rt.block_on(async {
        let cache = Cache::start(dc_config(DataPlaneMode::Direct, 0))
            .await
            .expect("start");
        cache.put("k", &"v".repeat(64)).await.expect("put");
        for _ in 0..10_000 {
            black_box(cache.get::<String>("k").await.expect("get"));
        }
        let before = rss_bytes();
        for _ in 0..ops {
            black_box(cache.get::<String>("k").await.expect("get"));
        }
        let after = rss_bytes();
        println!("GROWTH {ops} {}", after.saturating_sub(before));
    });
}

fn report_metrics(out: &mut String, r: &MetricsResults) {
    let _ = writeln!(
        out,
        "\n## Metrics recording overhead (issue 5)\n\n\
         \"on\": `deeper_cache::prometheus::install_recorder()` installed once in this process \
         and a cache with `metrics.enabled = true` (a counter increment and a latency \
         histogram sample per operation); \"off\": `metrics.enabled = false` (the \
         per-namespace striped counts only). get-hit and put of 64 B values. Measured in {} \
         alternating A/B pairs of {} windows per row (off-on, on-off, ...); the ratio is the \
         median of the per-pair ratios, the figures the medians of each side. The recorder's \
         upkeep (draining histogram samples into buckets) runs after each \"on\" window, \
         outside the measured time; its cost per recorded operation is the last column. \
         1 task: ns/op; 2 tasks: ops/s. Target: on ÷ off ≤ 1.10×.\n\n\
         | mode | runtime | operation | tasks | off | on | on ÷ off (cost) | deferred upkeep per op | target |\n|---|---|---|---|---|---|---|---|---|",
        r.pairs,
        fmt_dur(r.window)
    );
    for w in [Who::Direct, Who::RpcN] {
        for rtk in [Rt::Current, Rt::Multi] {
            for op in [Op::GetHit, Op::Put] {
                for tasks in [1, 2] {
                    let (Some(on), Some(off), Some(ratio)) = (
                        r.median_ops((rtk, w, op, tasks, Metrics::On)),
                        r.median_ops((rtk, w, op, tasks, Metrics::Off)),
                        r.overhead(rtk, w, op, tasks),
                    ) else {
                        continue;
                    };
                    let fig = |o: f64| {
                        if tasks == 1 {
                            fmt_ns(1e9 / o)
                        } else {
                            fmt_ops(o)
                        }
                    };
                    let up = r
                        .upkeep_ns
                        .get(&(rtk, w, op, tasks))
                        .map_or("–".into(), |v| format!("{:.1} ns", median(v)));
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {tasks} | {} | {} | {} | {up} | {} |",
                        w.label(),
                        rtk.short(),
                        if op == Op::GetHit { "get (hit)" } else { "put" },
                        fig(off),
                        fig(on),
                        fmt_ratio(ratio),
                        if ratio <= 1.10 { "met" } else { "not met" }
                    );
                }
            }
        }
    }
    if !r.primitives.is_empty() {
        let _ = writeln!(
            out,
            "\nWhat one recorded operation does, with the same recorder (ns per call; \"2 threads\" \
             = two threads hammering the same handle, as two workers recording hits of one \
             namespace do):\n\n| primitive | 1 thread | 2 threads (per thread) |\n|---|---|---|"
        );
        for (name, one, two) in &r.primitives {
            let _ = writeln!(out, "| {name} | {} | {} |", fmt_ns(*one), fmt_ns(*two));
        }
    }
    if let Some((ops, bytes)) = r.growth {
        let _ = writeln!(
            out,
            "\nWithout upkeep (child process: `install_recorder()`, nothing rendering or running \
             upkeep, one task): {} metrics-on get-hits grew resident memory by {:.1} MiB ({:.1} \
             bytes per operation).",
            thousands(ops),
            bytes as f64 / (1024.0 * 1024.0),
            bytes as f64 / ops.max(1) as f64
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: memory per entry (child processes)
// ---------------------------------------------------------------------------------------------

const MEM_SUBJECTS: [&str; 3] = ["deeper-cache", "moka-sync", "moka-future"];

/// Child process: fill one subject with `entries` entries of `size`-byte values, print the
/// resident memory before and after.
fn child_mem(subject: &str, entries: usize, size: usize) {
    let rt = Rt::Multi.build();
    let key = |i: usize| format!("key:{i:07}");
    let text = "v".repeat(size);
    let bytes = vec![b'v'; size];
    let (before, after, held) = rt.block_on(async {
        match subject {
            "deeper-cache" => {
                let c = Cache::start(dc_config(DataPlaneMode::Direct, 0))
                    .await
                    .expect("start");
                c.put("warm", &text).await.expect("put");
                let before = rss_bytes();
                for i in 0..entries {
                    c.put(&key(i), &text).await.expect("put");
                }
                let after = rss_bytes();
                let held = c.usage().await.expect("usage").entries - 1;
                (before, after, held)
            }
            "moka-sync" => {
                let c: moka::sync::Cache<String, Vec<u8>> =
                    moka::sync::Cache::new(entries as u64 + 1);
                c.insert("warm".into(), bytes.clone());
                c.run_pending_tasks();
                let before = rss_bytes();
                for i in 0..entries {
                    c.insert(key(i), bytes.clone());
                }
                c.run_pending_tasks();
                let after = rss_bytes();
                (before, after, c.entry_count() - 1)
            }
            "moka-future" => {
                let c: moka::future::Cache<String, Vec<u8>> =
                    moka::future::Cache::new(entries as u64 + 1);
                c.insert("warm".into(), bytes.clone()).await;
                c.run_pending_tasks().await;
                let before = rss_bytes();
                for i in 0..entries {
                    c.insert(key(i), bytes.clone()).await;
                }
                c.run_pending_tasks().await;
                let after = rss_bytes();
                (before, after, c.entry_count() - 1)
            }
            other => panic!("unknown memory subject {other}"),
        }
    });
    println!("MEMRESULT {subject} {entries} {size} {before} {after} {held}");
}

struct MemRow {
    subject: &'static str,
    entries: usize,
    size: usize,
    before: u64,
    after: u64,
    held: u64,
}

fn run_memory(p: &Params) -> Vec<MemRow> {
    let exe = std::env::current_exe().expect("current exe");
    let mut rows = Vec::new();
    for (entries, size) in [(p.mem_entries, 64), (p.mem_large_entries, 4096)] {
        for subject in MEM_SUBJECTS {
            let out = std::process::Command::new(&exe)
                .args([
                    "--child-mem",
                    subject,
                    &entries.to_string(),
                    &size.to_string(),
                ])
                .output()
                .expect("run the memory child");
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(line) = text.lines().find(|l| l.starts_with("MEMRESULT ")) else {
                panic!(
                    "memory child {subject} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            rows.push(MemRow {
                subject,
                entries,
                size,
                before: f[4].parse().unwrap_or(0),
                after: f[5].parse().unwrap_or(0),
                held: f[6].parse().unwrap_or(0),
            });
            progress(&format!("memory: {subject} {entries} x {size} B done"));
        }
    }
    rows
}

fn report_memory(out: &mut String, rows: &[MemRow]) {
    let _ = writeln!(
        out,
        "\n## Memory per entry\n\n\
         One subject per child process (this binary re-executed with `--child-mem`): resident \
         memory (`/proc/self/statm`) after the runtime and an empty cache are up, then after \
         inserting the entries; per entry = growth ÷ entries. Keys `key:0000000` (11 B). \
         deeper-cache stores the JSON-encoded `String` (value + 2 quote bytes), moka a \
         `Vec<u8>` of the value (moka's `max_capacity` = entries + 1, so nothing is evicted). \
         Ratio to moka::sync.\n\n\
         | subject | entries | value | held | RSS growth | per entry | payload (key + value) | × moka::sync |\n|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let per = r.after.saturating_sub(r.before) as f64 / r.entries as f64;
        let moka = rows
            .iter()
            .find(|m| m.subject == "moka-sync" && m.size == r.size)
            .map(|m| m.after.saturating_sub(m.before) as f64 / m.entries as f64);
        let _ = writeln!(
            out,
            "| {} | {} | {} B | {} | {:.1} MiB | {:.0} B | {} B | {} |",
            r.subject,
            thousands(r.entries as u64),
            r.size,
            thousands(r.held),
            r.after.saturating_sub(r.before) as f64 / (1024.0 * 1024.0),
            per,
            11 + r.size,
            moka.map_or("–".into(), |m| fmt_ratio(per / m))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

fn report_targets(out: &mut String, res: &Results, metrics: Option<&MetricsResults>) {
    let _ = writeln!(
        out,
        "\n## Targets (issue 9, issue 5)\n\n| target | figures (this run) | verdict |\n|---|---|---|"
    );
    let verdict = |ok: bool| if ok { "met" } else { "not met" };
    for rtk in [Rt::Current, Rt::Multi] {
        for (op, what) in [(Op::GetHit, "get-hit"), (Op::Put, "put")] {
            for (size, label) in SIZE_LABELS.iter().enumerate() {
                let kd = (rtk, Who::Direct, op, size, 1);
                let kf = (rtk, Who::MokaFuture, op, size, 1);
                let ks = (rtk, Who::MokaSync, op, size, 1);
                if let (Some(d), Some(mf), Some(ms), Some(rf), Some(rs)) = (
                    res.ns(kd),
                    res.ns(kf),
                    res.ns(ks),
                    res.cost(kd, kf),
                    res.cost(kd, ks),
                ) {
                    let _ = writeln!(
                        out,
                        "| `direct` {what} ≤ moka ({}, {label}, 1 task) | direct {} vs moka::future {} ({}), moka::sync {} ({}) | {} vs future, {} vs sync |",
                        rtk.short(),
                        fmt_ns(d),
                        fmt_ns(mf),
                        fmt_ratio(rf),
                        fmt_ns(ms),
                        fmt_ratio(rs),
                        verdict(rf <= 1.0),
                        verdict(rs <= 1.0)
                    );
                }
            }
        }
    }
    for rtk in [Rt::Current, Rt::Multi] {
        for w in [Who::Rpc1, Who::RpcN] {
            let (kg, ke) = (
                (rtk, w, Op::GetHit, 0, 1),
                (rtk, Who::RactorEcho, Op::Echo, 0, 1),
            );
            if let (Some(g), Some(e), Some(r)) = (res.ns(kg), res.ns(ke), res.cost(kg, ke)) {
                let _ = writeln!(
                    out,
                    "| `rpc` get-hit ≤ 1.5× ractor echo ({}, {}, 64 B, 1 task) | {} vs echo {} = {} | {} |",
                    rtk.short(),
                    w.label(),
                    fmt_ns(g),
                    fmt_ns(e),
                    fmt_ratio(r),
                    verdict(r <= 1.5)
                );
            }
        }
    }
    for w in [Who::Direct, Who::Rpc1, Who::RpcN] {
        let (k1, k2) = (
            (Rt::Multi, w, Op::GetHit, 0, 1),
            (Rt::Multi, w, Op::GetHit, 0, 2),
        );
        if let (Some(a), Some(b), Some(g)) = (res.ops(k1), res.ops(k2), res.gain(k1, k2)) {
            let _ = writeln!(
                out,
                "| throughput rises from 1 to 2 tasks (mt, get-hit 64 B): {} | {} → {} ({}) | {} |",
                w.label(),
                fmt_ops(a),
                fmt_ops(b),
                fmt_ratio(g),
                verdict(g > 1.05)
            );
        }
    }
    if let Some(m) = metrics {
        for rtk in [Rt::Current, Rt::Multi] {
            for op in [Op::GetHit, Op::Put] {
                for tasks in [1, 2] {
                    let get = |x| m.median_ops((rtk, Who::Direct, op, tasks, x));
                    let (Some(on), Some(off), Some(r)) = (
                        get(Metrics::On),
                        get(Metrics::Off),
                        m.overhead(rtk, Who::Direct, op, tasks),
                    ) else {
                        continue;
                    };
                    let fig = |o: f64| {
                        if tasks == 1 {
                            fmt_ns(1e9 / o)
                        } else {
                            fmt_ops(o)
                        }
                    };
                    let _ = writeln!(
                        out,
                        "| metrics on ÷ off ≤ 1.10× (direct, {}, {}, {tasks} task{}) | on {} vs off {} = {} | {} |",
                        rtk.short(),
                        if op == Op::GetHit { "get-hit" } else { "put" },
                        if tasks == 1 { "" } else { "s" },
                        fig(on),
                        fig(off),
                        fmt_ratio(r),
                        verdict(r <= 1.10)
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child-metrics-growth") {
        let ops = args.get(i + 1).and_then(|s| s.parse().ok()).expect("ops");
        child_metrics_growth(ops);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-mem") {
        let subject = args.get(i + 1).expect("subject");
        let entries = args.get(i + 2).and_then(|s| s.parse().ok()).expect("n");
        let size = args.get(i + 3).and_then(|s| s.parse().ok()).expect("size");
        child_mem(subject, entries, size);
        return;
    }
    let _ = started();
    let p = Params::from_args(&args);
    let load_start = loadavg();
    let d = Arc::new(Data::new());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# deeper-cache side-by-side suite\n\n\
         | | |\n|---|---|\n\
         | mode | {} |\n| cores (`available_parallelism`) | {} |\n| CPU | {} |\n| kernel | {} |\n| rustc | {} |\n| commit | {} |\n| load average at start | {} |",
        p.label,
        cores(),
        read_file("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map_or("unknown".into(), |s| s
                .trim_start_matches([' ', '\t', ':'])
                .to_owned()),
        read_file("/proc/sys/kernel/osrelease").trim(),
        command("rustc", &["--version"]),
        {
            let head = command("git", &["rev-parse", "--short", "HEAD"]);
            let dirty = command("git", &["status", "--porcelain", "--untracked-files=no"]);
            if dirty.is_empty() || dirty == "unknown" {
                head
            } else {
                format!(
                    "{head} + uncommitted changes in {} files",
                    dirty.lines().count()
                )
            }
        },
        load_start
    );
    let mut res = Results::default();
    if p.runs("ops") {
        progress("scenario ops");
        run_ops(&p, &d, &mut res);
    }
    if p.runs("blockon") {
        progress("scenario blockon");
        run_blockon(&p, &d, &mut res);
    }
    let codec = p.runs("codec").then(|| {
        progress("scenario codec");
        run_codec(&p, &d)
    });
    let stampede = p.runs("stampede").then(|| {
        progress("scenario stampede");
        run_stampede(&p, &d)
    });
    let metrics = p.runs("metrics").then(|| {
        progress("scenario metrics");
        run_metrics(&p, &d)
    });
    let memory = p.runs("memory").then(|| {
        progress("scenario memory");
        run_memory(&p)
    });

    if p.runs("ops") {
        report_ops(&mut out, &res);
    }
    if p.runs("blockon") {
        report_blockon(&mut out, &res);
    }
    if let Some(c) = &codec {
        report_codec(&mut out, c, &res);
    }
    if let Some(s) = &stampede {
        report_stampede(&mut out, s);
    }
    if let Some(m) = &metrics {
        report_metrics(&mut out, m);
    }
    if let Some(m) = &memory {
        report_memory(&mut out, m);
    }
    report_targets(&mut out, &res, metrics.as_ref());
    let loads = LOADS.lock().map(|v| v.clone()).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nLoad average: {load_start} at start, {} at the end; 1-minute load sampled {} times \
         during the run: min {:.2}, median {:.2}, max {:.2}. Total {:.0} s.",
        loadavg(),
        loads.len(),
        loads.iter().copied().fold(f64::INFINITY, f64::min),
        median(&loads),
        loads.iter().copied().fold(0.0, f64::max),
        started().elapsed().as_secs_f64()
    );
    println!("{out}");
}
