//! Facade benchmarks: one `Cache` call, end to end, in the rpc mode (every call is a message to
//! the CacheAdapter actor and a reply on a oneshot). See docs/PERFORMANCE.md.
//!
//! Default config, 64-byte values (a `String` of 64 chars), 10,000 pre-populated keys cycled in
//! order. Operations: get-hit, get-miss, put (overwrite), increment on one counter key and
//! increment spread over 10,000 counter keys.
//!
//! Three groups, one per way of driving the calls:
//! - `facade_current_thread`: current-thread runtime, criterion `to_async` (the actors and the
//!   caller share the one thread; `block_on` drives them all).
//! - `facade_multi_thread_block_on`: 2-worker multi-thread runtime, criterion `to_async`. The
//!   iteration future is driven by `block_on` on the bench thread, so the caller is *outside*
//!   the runtime's workers and every reply wakes a parked thread.
//! - `facade_multi_thread_in_task`: same runtime, `iter_custom` spawning one task that runs the
//!   N operations in a loop and returns its elapsed time (the caller is a task on the runtime,
//!   like an application's request handler).
//!
//! Context peers in each group, driven the same way as the facade calls:
//! - `peer_ractor_echo`: `ActorRef::call` to a bare ractor actor that replies with its input
//!   (no timeout, no backend): the cost of one actor RPC, which every facade call pays.
//! - `peer_tokio_echo`: the same round trip to a bare tokio task over an unbounded mpsc plus a
//!   oneshot reply, the floor under any actor RPC on this runtime.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use deeper_cache::{Cache, CacheConfig};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, oneshot};

const KEYS: usize = 10_000;
const VALUE_LEN: usize = 64;

/// Keys and the value every benchmark shares.
struct Data {
    /// Pre-populated with `value`.
    hit: Vec<String>,
    /// Never written.
    miss: Vec<String>,
    /// Pre-populated counters.
    counters: Vec<String>,
    /// The single hot counter.
    one_counter: String,
    /// 64 ASCII chars.
    value: String,
}

impl Data {
    fn new() -> Data {
        Data {
            hit: (0..KEYS).map(|i| format!("bench:hit:{i}")).collect(),
            miss: (0..KEYS).map(|i| format!("bench:miss:{i}")).collect(),
            counters: (0..KEYS).map(|i| format!("bench:ctr:{i}")).collect(),
            one_counter: "bench:ctr:one".to_owned(),
            value: "v".repeat(VALUE_LEN),
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    GetHit,
    GetMiss,
    Put,
    IncrOne,
    IncrSpread,
}

impl Op {
    const ALL: [(Op, &'static str); 5] = [
        (Op::GetHit, "get_hit"),
        (Op::GetMiss, "get_miss"),
        (Op::Put, "put_overwrite"),
        (Op::IncrOne, "increment_one_key"),
        (Op::IncrSpread, "increment_spread"),
    ];
}

/// One facade call; `i` selects the key. Results are checked so a failing call cannot pass for
/// a fast one.
async fn run_op(cache: &Cache, d: &Data, op: Op, i: usize) {
    let i = i % KEYS;
    match op {
        Op::GetHit => {
            let v: Option<String> = cache.get(&d.hit[i]).await.expect("get");
            assert_eq!(v.map(|s| s.len()), Some(VALUE_LEN), "expected a hit");
        }
        Op::GetMiss => {
            let v: Option<String> = cache.get(&d.miss[i]).await.expect("get");
            assert!(v.is_none(), "expected a miss");
        }
        Op::Put => cache.put(&d.hit[i], &d.value).await.expect("put"),
        Op::IncrOne => {
            black_box(cache.increment(&d.one_counter, 1).await.expect("increment"));
        }
        Op::IncrSpread => {
            black_box(cache.increment(&d.counters[i], 1).await.expect("increment"));
        }
    }
}

/// Starts a cache on `rt` with the default config and pre-populates it.
fn start_cache(rt: &Runtime, d: &Data) -> Cache {
    rt.block_on(async {
        let cache = Cache::start(CacheConfig::default()).await.expect("start");
        for k in &d.hit {
            cache.put(k, &d.value).await.expect("populate");
        }
        for k in &d.counters {
            cache.increment(k, 1).await.expect("populate counters");
        }
        cache.increment(&d.one_counter, 1).await.expect("counter");
        cache
    })
}

/// A bare echo task: the floor of a message + reply round trip on this runtime.
type EchoTx = mpsc::UnboundedSender<(u64, oneshot::Sender<u64>)>;

fn start_echo(rt: &Runtime) -> EchoTx {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    rt.spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n);
        }
    });
    tx
}

async fn echo(tx: &EchoTx, n: u64) {
    let (reply, rx) = oneshot::channel();
    tx.send((n, reply)).expect("echo task alive");
    assert_eq!(rx.await.expect("echo reply"), n);
}

/// A bare ractor actor that answers every call with its input.
struct EchoActor;

struct Echo(u64, RpcReplyPort<u64>);

impl Actor for EchoActor {
    type Msg = Echo;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Echo>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Echo>,
        Echo(n, reply): Echo,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(n);
        Ok(())
    }
}

fn start_ractor_echo(rt: &Runtime) -> ActorRef<Echo> {
    rt.block_on(Actor::spawn(None, EchoActor, ()))
        .expect("spawn echo actor")
        .0
}

async fn ractor_echo(actor: &ActorRef<Echo>, n: u64) {
    match actor.call(|reply| Echo(n, reply), None).await {
        Ok(CallResult::Success(m)) => assert_eq!(m, n),
        _ => panic!("echo actor call failed"),
    }
}

/// Caller driven by criterion's `to_async` (`block_on` on the bench thread).
fn bench_to_async(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, cache: &Cache, d: &Data) {
    for (op, name) in Op::ALL {
        g.bench_function(name, |b| {
            let mut i = 0usize;
            b.to_async(rt).iter(|| {
                i = i.wrapping_add(1);
                let n = i;
                async move { run_op(cache, d, op, n).await }
            })
        });
    }
    let actor = start_ractor_echo(rt);
    g.bench_function("peer_ractor_echo", |b| {
        let mut n = 0u64;
        b.to_async(rt).iter(|| {
            n = n.wrapping_add(1);
            let (actor, n) = (&actor, n);
            async move { ractor_echo(actor, n).await }
        })
    });
    actor.stop(None);
    let tx = start_echo(rt);
    g.bench_function("peer_tokio_echo", |b| {
        let mut n = 0u64;
        b.to_async(rt).iter(|| {
            n = n.wrapping_add(1);
            let (tx, n) = (&tx, n);
            async move { echo(tx, n).await }
        })
    });
}

/// Caller is one task spawned on the runtime, running all `iters` operations.
fn bench_in_task(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, cache: &Cache, d: &Arc<Data>) {
    for (op, name) in Op::ALL {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (cache, d) = (cache.clone(), d.clone());
                rt.block_on(rt.spawn(async move {
                    let start = Instant::now();
                    for n in 0..iters as usize {
                        run_op(&cache, &d, op, n).await;
                    }
                    start.elapsed()
                }))
                .expect("bench task")
            })
        });
    }
    let actor = start_ractor_echo(rt);
    g.bench_function("peer_ractor_echo", |b| {
        b.iter_custom(|iters| {
            let actor = actor.clone();
            rt.block_on(rt.spawn(async move {
                let start = Instant::now();
                for n in 0..iters {
                    ractor_echo(&actor, n).await;
                }
                start.elapsed()
            }))
            .expect("bench task")
        })
    });
    actor.stop(None);
    let tx = start_echo(rt);
    g.bench_function("peer_tokio_echo", |b| {
        b.iter_custom(|iters| {
            let tx = tx.clone();
            rt.block_on(rt.spawn(async move {
                let start = Instant::now();
                for n in 0..iters {
                    echo(&tx, n).await;
                }
                start.elapsed()
            }))
            .expect("bench task")
        })
    });
}

fn current_thread(c: &mut Criterion) {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let d = Data::new();
    let cache = start_cache(&rt, &d);
    let mut g = c.benchmark_group("facade_current_thread");
    bench_to_async(&mut g, &rt, &cache, &d);
    g.finish();
    rt.block_on(cache.shutdown());
}

fn multi_thread_rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread_block_on(c: &mut Criterion) {
    let rt = multi_thread_rt();
    let d = Data::new();
    let cache = start_cache(&rt, &d);
    let mut g = c.benchmark_group("facade_multi_thread_block_on");
    bench_to_async(&mut g, &rt, &cache, &d);
    g.finish();
    rt.block_on(cache.shutdown());
}

fn multi_thread_in_task(c: &mut Criterion) {
    let rt = multi_thread_rt();
    let d = Arc::new(Data::new());
    let cache = start_cache(&rt, &d);
    let mut g = c.benchmark_group("facade_multi_thread_in_task");
    bench_in_task(&mut g, &rt, &cache, &d);
    g.finish();
    rt.block_on(cache.shutdown());
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = current_thread, multi_thread_block_on, multi_thread_in_task
}
criterion_main!(benches);
