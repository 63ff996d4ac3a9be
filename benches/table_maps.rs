//! Compares dashmap 6, scc 3 and papaya 0.2 as the in-memory cache table (docs/PERFORMANCE.md).
//! Table: String -> Entry { value: Bytes (64 B), expires_at_ms: u64 }, 100_000 entries.
#![allow(missing_docs)]
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const N: usize = 100_000;
const NOW: u64 = 1_000_000;
const LIVE_TTL: u64 = 1_000_000; // live entries expire at NOW + this
const SWEEP_BATCH: usize = 1_000;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    expires_at_ms: u64,
}

type Dash = dashmap::DashMap<String, Entry>;
type Scc = scc::HashMap<String, Entry>;
type Pap = papaya::HashMap<String, Entry>;

// ---------- data generation (no rand dependency) ----------
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn keys() -> Vec<String> {
    (0..N).map(|i| format!("key:{i}")).collect()
}

fn shuffled_idx(seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..N).collect();
    let mut r = XorShift(seed);
    for i in (1..v.len()).rev() {
        let j = (r.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

fn payload64() -> Bytes {
    Bytes::from(vec![b'x'; 64])
}

/// `value_of(i)` gives the Bytes; `exp_of(i)` the expiry.
fn entries(
    value_of: impl Fn(usize) -> Bytes,
    exp_of: impl Fn(usize) -> u64,
) -> Vec<(String, Entry)> {
    keys()
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            (
                k,
                Entry {
                    value: value_of(i),
                    expires_at_ms: exp_of(i),
                },
            )
        })
        .collect()
}

fn live_entries() -> Vec<(String, Entry)> {
    let p = payload64();
    entries(|_| p.clone(), |_| NOW + LIVE_TTL)
}

struct Maps {
    dash: Dash,
    scc: Scc,
    pap: Pap,
}

fn build(data: &[(String, Entry)]) -> Maps {
    let dash = Dash::new();
    let scc = Scc::new();
    let pap = Pap::new();
    {
        let p = pap.pin();
        for (k, v) in data {
            dash.insert(k.clone(), v.clone());
            assert!(scc.insert_sync(k.clone(), v.clone()).is_ok());
            p.insert(k.clone(), v.clone());
        }
    }
    assert_eq!((dash.len(), scc.len(), pap.len()), (N, N, N));
    Maps { dash, scc, pap }
}

/// Cycling cursor over a shuffled index.
struct Cursor {
    idx: Vec<usize>,
    pos: usize,
}
impl Cursor {
    fn new(seed: u64) -> Self {
        Cursor {
            idx: shuffled_idx(seed),
            pos: 0,
        }
    }
    #[inline]
    fn next(&mut self) -> usize {
        let i = self.idx[self.pos];
        self.pos += 1;
        if self.pos == self.idx.len() {
            self.pos = 0;
        }
        i
    }
}

// ---------- per-map operations ----------
#[inline]
fn check(e: &Entry, now: u64) -> Option<Bytes> {
    if e.expires_at_ms > now {
        Some(e.value.clone())
    } else {
        None
    }
}

#[inline]
fn get_dash(m: &Dash, k: &str, now: u64) -> Option<Bytes> {
    m.get(k).and_then(|e| check(&e, now))
}
#[inline]
fn get_scc(m: &Scc, k: &str, now: u64) -> Option<Bytes> {
    m.read_sync(k, |_, e| check(e, now)).flatten()
}
#[inline]
fn get_pap(m: &Pap, k: &str, now: u64) -> Option<Bytes> {
    m.pin().get(k).and_then(|e| check(e, now)) // pin per op, like a real cache call
}

fn parse_i64(b: &[u8]) -> i64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
fn incr_bytes(b: &Bytes) -> Bytes {
    use std::io::Write;
    let n = parse_i64(b) + 1;
    let mut buf = [0u8; 20];
    let mut w = &mut buf[..];
    write!(w, "{n}").unwrap();
    let len = 20 - w.len();
    Bytes::copy_from_slice(&buf[..len])
}

// ---------- benches ----------
fn bench_get(c: &mut Criterion) {
    let ks = keys();
    let m = build(&live_entries());
    let mut g = c.benchmark_group("get_hit");
    macro_rules! b {
        ($name:literal, $f:ident, $map:expr) => {
            g.bench_function($name, |bch| {
                let mut cur = Cursor::new(0x9E37_79B9_7F4A_7C15);
                let now = black_box(NOW);
                bch.iter(|| {
                    let r = $f($map, &ks[cur.next()], now);
                    debug_assert!(r.is_some());
                    black_box(r)
                })
            });
        };
    }
    b!("dashmap", get_dash, &m.dash);
    b!("scc", get_scc, &m.scc);
    b!("papaya", get_pap, &m.pap);
    g.finish();
}

fn bench_insert(c: &mut Criterion) {
    let ks = keys();
    let m = build(&live_entries());
    let p = payload64();
    let mut g = c.benchmark_group("insert_overwrite");
    let mk = || Entry {
        value: p.clone(),
        expires_at_ms: black_box(NOW + LIVE_TTL),
    };
    g.bench_function("dashmap", |b| {
        let mut cur = Cursor::new(1);
        b.iter(|| black_box(m.dash.insert(ks[cur.next()].clone(), mk())))
    });
    g.bench_function("scc", |b| {
        let mut cur = Cursor::new(1);
        // insert_sync fails on an existing key; upsert_sync overwrites.
        b.iter(|| black_box(m.scc.upsert_sync(ks[cur.next()].clone(), mk())))
    });
    g.bench_function("papaya", |b| {
        let mut cur = Cursor::new(1);
        b.iter(|| {
            let pin = m.pap.pin();
            black_box(pin.insert(ks[cur.next()].clone(), mk()).is_some())
        })
    });
    g.finish();
    assert_eq!((m.dash.len(), m.scc.len(), m.pap.len()), (N, N, N));
}

fn bench_update(c: &mut Criterion) {
    let ks = keys();
    let data = entries(|i| Bytes::from(i.to_string()), |_| NOW + LIVE_TTL);
    let m = build(&data);
    // ops[i] counts executed increments per map, to check the final sums exactly.
    let ops = [Cell::new(0i64), Cell::new(0i64), Cell::new(0i64)];
    let mut g = c.benchmark_group("update_incr");
    g.bench_function("dashmap", |b| {
        let mut cur = Cursor::new(2);
        b.iter(|| {
            ops[0].set(ops[0].get() + 1);
            // RefMut holds the shard write lock: atomic per key.
            let mut e = m.dash.get_mut(ks[cur.next()].as_str()).unwrap();
            e.value = incr_bytes(&e.value);
            black_box(e.value.len())
        })
    });
    g.bench_function("scc", |b| {
        let mut cur = Cursor::new(2);
        b.iter(|| {
            ops[1].set(ops[1].get() + 1);
            // bucket write lock held during the closure.
            m.scc
                .update_sync(ks[cur.next()].as_str(), |_, e| {
                    e.value = incr_bytes(&e.value);
                    e.value.len()
                })
                .unwrap()
        })
    });
    g.bench_function("papaya", |b| {
        let mut cur = Cursor::new(2);
        b.iter(|| {
            ops[2].set(ops[2].get() + 1);
            // CAS loop; closure is Fn (may be retried) and must build a new Entry.
            // update() takes K by value -> a key String clone per op.
            let pin = m.pap.pin();
            pin.update(ks[cur.next()].clone(), |e| Entry {
                value: incr_bytes(&e.value),
                expires_at_ms: e.expires_at_ms,
            })
            .map(|e| e.value.len())
            .unwrap()
        })
    });
    g.finish();
    // sanity: sum of all counters grew by exactly the number of executed increments.
    let base: i64 = (0..N as i64).sum();
    let d: i64 = ks
        .iter()
        .map(|k| parse_i64(&m.dash.get(k.as_str()).unwrap().value))
        .sum();
    let s: i64 = ks
        .iter()
        .map(|k| {
            m.scc
                .read_sync(k.as_str(), |_, e| parse_i64(&e.value))
                .unwrap()
        })
        .sum();
    let pin = m.pap.pin();
    let p: i64 = ks
        .iter()
        .map(|k| parse_i64(&pin.get(k.as_str()).unwrap().value))
        .sum();
    let want = [
        base + ops[0].get(),
        base + ops[1].get(),
        base + ops[2].get(),
    ];
    assert_eq!([d, s, p], want, "lost or extra increments");
}

fn bench_contended_get(c: &mut Criterion) {
    const THREADS: u32 = 2;
    let ks = keys();
    let m = build(&live_entries());
    let mut g = c.benchmark_group("get_hit_2threads");
    macro_rules! b {
        ($name:literal, $f:ident, $map:expr) => {
            g.bench_function($name, |bch| {
                let map = $map;
                let ks = &ks;
                bch.iter_custom(|iters| {
                    let barrier = Barrier::new(THREADS as usize + 1);
                    std::thread::scope(|s| {
                        let hs: Vec<_> = (0..THREADS)
                            .map(|t| {
                                let barrier = &barrier;
                                s.spawn(move || {
                                    let mut cur = Cursor::new(0xABCD + t as u64);
                                    let now = black_box(NOW);
                                    barrier.wait();
                                    for _ in 0..iters {
                                        black_box($f(map, &ks[cur.next()], now));
                                    }
                                })
                            })
                            .collect();
                        barrier.wait();
                        let start = Instant::now();
                        for h in hs {
                            h.join().unwrap();
                        }
                        // total elapsed / (THREADS * iters) per op; criterion divides by iters.
                        start.elapsed() / THREADS
                    })
                })
            });
        };
    }
    b!("dashmap", get_dash, &m.dash);
    b!("scc", get_scc, &m.scc);
    b!("papaya", get_pap, &m.pap);
    g.finish();
}

/// Sweep: iterate the first SWEEP_BATCH entries the map yields, collect expired keys, remove them.
/// Untimed setup (per iteration) puts back what the previous batch removed, then marks every 4th
/// entry of the window (in the map's own iteration order) as expired and the rest as live. This keeps
/// ~250 expired per batch for every map; without it, re-inserted keys drift out of the window
/// (papaya does not reuse tombstone slots) and papaya's batches become 0-removal scans.
fn bench_sweep(c: &mut Criterion) {
    let p = payload64();
    let data = entries(
        |_| p.clone(),
        |i| if i % 4 == 0 { NOW - 1 } else { NOW + LIVE_TTL },
    );
    let m = build(&data);
    let mut g = c.benchmark_group("sweep_batch_1000");
    let stash: RefCell<Vec<(String, Entry)>> = RefCell::new(Vec::with_capacity(SWEEP_BATCH));
    let (batches, removed) = (Cell::new(0u64), Cell::new(0u64));
    let exp_at = |j: usize| if j % 4 == 0 { NOW - 1 } else { NOW + LIVE_TTL };

    macro_rules! b {
        ($name:literal, $len:expr, $reinsert:expr, $window:expr, $set_exp:expr, $sweep:expr) => {
            stash.borrow_mut().clear();
            batches.set(0);
            removed.set(0);
            g.bench_function($name, |bch| {
                bch.iter_batched(
                    || {
                        for (k, v) in stash.borrow_mut().drain(..) {
                            $reinsert(k, v);
                        }
                        let w: Vec<String> = $window();
                        for (j, k) in w.iter().enumerate() {
                            $set_exp(k.as_str(), exp_at(j));
                        }
                    },
                    |()| {
                        let now = black_box(NOW);
                        let mut st = stash.borrow_mut();
                        let n = $sweep(now, &mut *st);
                        batches.set(batches.get() + 1);
                        removed.set(removed.get() + n as u64);
                        n
                    },
                    BatchSize::PerIteration,
                )
            });
            eprintln!(
                "  [{}] avg removed per batch: {:.1} over {} batches",
                $name,
                removed.get() as f64 / batches.get().max(1) as f64,
                batches.get()
            );
            assert_eq!($len + stash.borrow().len(), N, "entries lost in sweep");
        };
    }

    b!(
        "dashmap",
        m.dash.len(),
        |k, v| {
            m.dash.insert(k, v);
        },
        || m.dash
            .iter()
            .take(SWEEP_BATCH)
            .map(|r| r.key().clone())
            .collect(),
        |k: &str, exp| m.dash.get_mut(k).unwrap().expires_at_ms = exp,
        |now: u64, st: &mut Vec<(String, Entry)>| {
            // must collect first: removing while an iterator holds a shard guard deadlocks.
            let expired: Vec<String> = m
                .dash
                .iter()
                .take(SWEEP_BATCH)
                .filter(|r| r.value().expires_at_ms < now)
                .map(|r| r.key().clone())
                .collect();
            for k in expired {
                if let Some(kv) = m.dash.remove(&k) {
                    st.push(kv);
                }
            }
            st.len()
        }
    );
    b!(
        "scc",
        m.scc.len(),
        |k, v| {
            let _ = m.scc.insert_sync(k, v);
        },
        || {
            let mut w = Vec::with_capacity(SWEEP_BATCH);
            m.scc.iter_sync(|k, _| {
                w.push(k.clone());
                w.len() < SWEEP_BATCH
            });
            w
        },
        |k: &str, exp| {
            m.scc.update_sync(k, |_, e| e.expires_at_ms = exp).unwrap();
        },
        |now: u64, st: &mut Vec<(String, Entry)>| {
            let mut expired = Vec::new();
            let mut seen = 0;
            m.scc.iter_sync(|k, v| {
                seen += 1;
                if v.expires_at_ms < now {
                    expired.push(k.clone());
                }
                seen < SWEEP_BATCH
            });
            for k in expired {
                if let Some(kv) = m.scc.remove_sync(&k) {
                    st.push(kv);
                }
            }
            st.len()
        }
    );
    b!(
        "papaya",
        m.pap.len(),
        |k, v| {
            m.pap.pin().insert(k, v);
        },
        || m.pap
            .pin()
            .iter()
            .take(SWEEP_BATCH)
            .map(|(k, _)| k.clone())
            .collect(),
        |k: &str, exp| {
            m.pap
                .pin()
                .update(k.to_owned(), |e| Entry {
                    value: e.value.clone(),
                    expires_at_ms: exp,
                })
                .unwrap();
        },
        |now: u64, st: &mut Vec<(String, Entry)>| {
            let pin = m.pap.pin();
            let expired: Vec<String> = pin
                .iter()
                .take(SWEEP_BATCH)
                .filter(|(_, v)| v.expires_at_ms < now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in expired {
                // remove returns &V under the guard; clone it only to re-insert in setup.
                if let Some(v) = pin.remove(&k) {
                    st.push((k, v.clone()));
                }
            }
            st.len()
        }
    );
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_get, bench_insert, bench_update, bench_contended_get, bench_sweep
}
criterion_main!(benches);
