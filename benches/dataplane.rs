//! The standalone data-plane loop: one caller task, 64 B values, 1,000 keys; `direct` and `rpc`
//! (1 partition) get-hit and put beside `moka::future::Cache` and a bare ractor echo actor, all
//! in one process, rounds interleaved so every ratio compares figures of the same moment.
//!
//! ```sh
//! cargo bench --bench dataplane                  # 40 rounds of 30 ms windows per subject
//! cargo bench --bench dataplane -- --rounds 80   # more rounds, tighter ranges
//! cargo bench --bench dataplane -- --max-entries 1000   # bounded, `lfu` (every key sampled)
//! ```
//!
//! Why a separate loop beside `suite.rs`: the suite sweeps task counts, sizes and runtimes, so
//! two measurements of one subject are minutes apart and the shared machine drifts between
//! them. Here each round measures every subject back to back and the ratios are taken per
//! round; the report gives their median and interquartile range. Two builds of this binary
//! run alternately (`before`, `after`, `before`, ...) compare two commits within the noise the
//! ranges show.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deeper_cache::{Cache, CacheConfig, DataPlaneMode};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::runtime::{Builder, Runtime};

/// Keys written before measuring; every get is a hit.
const KEYS: usize = 1_000;
/// Payload length: with JSON's two quotes the stored value is 64 B.
const VALUE_LEN: usize = 62;
/// A caller checks the clock every this many operations.
const CHECK_EVERY: u64 = 64;

/// A bare ractor actor that answers every call with its input: the floor of any actor call.
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

/// The subjects of one runtime.
struct Subjects {
    direct: Cache,
    rpc: Cache,
    moka: moka::future::Cache<String, Arc<[u8]>>,
    echo: ActorRef<Echo>,
    keys: Vec<String>,
    text: String,
    bytes: Arc<[u8]>,
}

impl Subjects {
    /// `max_entries` 0: the default unbounded table; otherwise bounded under `lfu`.
    async fn start(max_entries: u64) -> Subjects {
        let config = |mode| {
            let mut c = CacheConfig::default();
            c.adapter.mode = mode;
            c.adapter.partitions = 1;
            c.memory.max_entries = max_entries;
            c
        };
        let s = Subjects {
            direct: Cache::start(config(DataPlaneMode::Direct))
                .await
                .expect("start direct"),
            rpc: Cache::start(config(DataPlaneMode::Rpc))
                .await
                .expect("start rpc"),
            moka: moka::future::Cache::new(100_000),
            echo: Actor::spawn(None, EchoActor, ()).await.expect("echo").0,
            keys: (0..KEYS).map(|i| format!("bench:{i}")).collect(),
            text: "v".repeat(VALUE_LEN),
            bytes: vec![b'v'; VALUE_LEN].into(),
        };
        for k in &s.keys {
            s.direct.put(k, &s.text).await.expect("put");
            s.rpc.put(k, &s.text).await.expect("put");
            s.moka.insert(k.clone(), s.bytes.clone()).await;
        }
        s
    }

    async fn stop(&self) {
        self.direct.shutdown().await;
        self.rpc.shutdown().await;
        self.echo.stop(None);
    }

    /// One call; results are checked so a failing call cannot pass for a fast one.
    #[inline]
    async fn call(&self, who: Who, i: usize) {
        let key = &self.keys[i];
        match who {
            Who::DirectGet | Who::RpcGet => {
                let c = if who == Who::DirectGet {
                    &self.direct
                } else {
                    &self.rpc
                };
                let v: Option<String> = c.get(key).await.expect("get");
                assert_eq!(v.map(|v| v.len()), Some(VALUE_LEN));
            }
            Who::DirectPut | Who::RpcPut => {
                let c = if who == Who::DirectPut {
                    &self.direct
                } else {
                    &self.rpc
                };
                c.put(key, &self.text).await.expect("put");
            }
            Who::MokaGet => {
                let v = self.moka.get(key).await;
                assert_eq!(v.map(|v| v.len()), Some(VALUE_LEN));
            }
            Who::MokaPut => self.moka.insert(key.clone(), self.bytes.clone()).await,
            Who::Echo => match self.echo.call(|r| Echo(i as u64, r), None).await {
                Ok(CallResult::Success(n)) => {
                    black_box(n);
                }
                _ => panic!("echo failed"),
            },
        }
    }
}

/// The measured calls, in the order each round runs them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Echo,
    MokaGet,
    MokaPut,
    DirectGet,
    DirectPut,
    RpcGet,
    RpcPut,
}

const WHO: [Who; 7] = [
    Who::Echo,
    Who::MokaGet,
    Who::MokaPut,
    Who::DirectGet,
    Who::DirectPut,
    Who::RpcGet,
    Who::RpcPut,
];

impl Who {
    fn label(self) -> &'static str {
        match self {
            Who::Echo => "ractor echo",
            Who::MokaGet => "moka get",
            Who::MokaPut => "moka put",
            Who::DirectGet => "direct get",
            Who::DirectPut => "direct put",
            Who::RpcGet => "rpc get",
            Who::RpcPut => "rpc put",
        }
    }

    /// The moka call this one is compared with.
    fn moka_peer(self) -> Option<Who> {
        match self {
            Who::DirectGet | Who::RpcGet => Some(Who::MokaGet),
            Who::DirectPut | Who::RpcPut => Some(Who::MokaPut),
            _ => None,
        }
    }
}

/// Nanoseconds per call of `who` over `window`, one caller task.
fn measure(rt: &Runtime, s: &Arc<Subjects>, who: Who, window: Duration) -> f64 {
    let s = s.clone();
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            let deadline = start + window;
            let (mut n, mut i) = (0u64, 0usize);
            loop {
                for _ in 0..CHECK_EVERY {
                    s.call(who, i).await;
                    i = (i + 1) % KEYS;
                }
                n += CHECK_EVERY;
                if Instant::now() >= deadline {
                    break;
                }
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .await
        .expect("caller task")
    })
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    // Without `--bench` (e.g. `cargo test --benches`): prove it runs, measure nothing.
    let rounds = arg("--rounds").unwrap_or(if bench { 40 } else { 1 }) as usize;
    let window = Duration::from_millis(arg("--window-ms").unwrap_or(if bench { 30 } else { 1 }));
    let max_entries = arg("--max-entries").unwrap_or(0);

    println!(
        "# dataplane: {rounds} rounds x {} ms per subject, one caller task, 64 B values, {}",
        window.as_millis(),
        if max_entries == 0 {
            "unbounded table".to_string()
        } else {
            format!("max_entries {max_entries} (lfu)")
        }
    );
    for (label, rt) in [
        (
            "current-thread",
            Builder::new_current_thread().enable_all().build(),
        ),
        (
            "multi-thread (2 workers)",
            Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        ),
    ] {
        let rt = rt.expect("runtime");
        let s = Arc::new(rt.block_on(Subjects::start(max_entries)));
        let mut ns: Vec<Vec<f64>> = vec![Vec::new(); WHO.len()];
        for _ in 0..rounds {
            for (w, who) in WHO.iter().enumerate() {
                ns[w].push(measure(&rt, &s, *who, window));
            }
        }
        rt.block_on(s.stop());
        let col = |w: Who| WHO.iter().position(|x| *x == w).expect("subject");
        println!("\n## {label}\n");
        println!("| subject | ns/call (median) | ÷ echo (median, IQR) | ÷ moka (median, IQR) |");
        println!("|---|---|---|---|");
        for (w, who) in WHO.iter().enumerate() {
            let per_round = |peer: usize| -> Vec<f64> {
                ns[w].iter().zip(&ns[peer]).map(|(a, b)| a / b).collect()
            };
            let cell = |v: Vec<f64>| {
                format!(
                    "{:.2} ({:.2}–{:.2})",
                    quantile(&v, 0.5),
                    quantile(&v, 0.25),
                    quantile(&v, 0.75)
                )
            };
            let moka = match who.moka_peer() {
                Some(peer) => cell(per_round(col(peer))),
                None => "–".into(),
            };
            println!(
                "| {} | {:.0} | {} | {} |",
                who.label(),
                quantile(&ns[w], 0.5),
                cell(per_round(col(Who::Echo))),
                moka
            );
        }
    }
}
