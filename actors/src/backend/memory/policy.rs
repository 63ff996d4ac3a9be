//! Eviction policies of a bounded table: which entry leaves when a limit is reached.
//!
//! The policy only orders entries; the table owns them. Every policy node names one entry
//! (namespace id and key, the key's allocation shared with the map) and lives in a slab; the
//! queues are intrusive doubly-linked lists over slab indices, so insert, remove, move and
//! evict are O(1). The whole structure sits behind one mutex in the table, taken by inserts of
//! new keys and by removals; never by reads, except under `lru` (see below).
//!
//! - **`lru`**: one list in recency order. A hit moves the entry to the front, which needs the
//!   mutex: exact LRU (the deterministic test relies on it) at the price of one short global
//!   lock per hit. Use it when exact recency matters more than read scalability.
//! - **`lfu`** (the default): W-TinyLFU admission over CLOCK queues. New entries enter a small
//!   window (1 % of the entries, at least one). When the table is full, the window's oldest
//!   entry (the candidate) competes with the main queue's CLOCK victim: the candidate is kept
//!   only if a count-min sketch (4-bit counters, halved every `10 × capacity` additions) says
//!   it was used more often than the victim; otherwise the candidate goes. Reads do not touch
//!   the policy: a hit bumps a saturating 4-bit counter inside the entry (one relaxed atomic
//!   on the entry already in cache; a hot entry saturates and stops writing). The counter is
//!   folded into the sketch when the policy next looks at that entry, and doubles as the
//!   CLOCK reference bit (an entry with hits gets a second chance). The sketch remembers
//!   evicted keys, so a key that keeps coming back is eventually admitted, while a one-time
//!   scan never displaces the hot set (`tests/eviction.rs`, `benches/hit_ratio.rs`).
//! - **`reject`**: no queues and no per-entry metadata; the mutex only keeps the entry count
//!   exact.
//!
//! # Why this `lfu` (measured with `benches/hit_ratio.rs`, figures in `docs/PERFORMANCE.md`)
//! - TinyLFU admission is what makes `loop` (a cyclic scan just larger than the cache) reach
//!   98–99 % of OPT where LRU gets 0. S3-FIFO (FIFO queues, a ghost queue instead of a
//!   sketch) was not built: by reasoning, not measurement, its ghost queue (as long as the main
//!   queue) is shorter than `loop`'s reuse distance, so it would stay near LRU there.
//! - CLOCK instead of LRU queues keeps reads off the mutex, so a get-hit costs the same as on
//!   an unbounded table (`benches/sweep_latency.rs`), below moka's.
//! - A fixed 1 % window. Caffeine-style hill climbing of the window was implemented and
//!   measured: +3 to +6 points on OLTP and +2 on sprite, but −4 to −12 on `loop`, −5.7 on
//!   2_pools at 100 entries and no better on zigzag, so it was left out. Caffeine's random
//!   admission of warm candidates (a hash-flooding defence) cost up to 4 points on `loop` and is
//!   left out too (moka does not have it either).
//! - Result: within one point of moka on every trace and capacity but three (sprite at 500 and
//!   1000 entries, −1.2 / −1.3; P3 at 160,000, −1.1) and one clear loss (zigzag at 256 entries,
//!   4.3 % against moka's 9.7 %, where plain LRU is optimal); above moka on OLTP, P3 at 20,000,
//!   the Zipf and the scan-mix workloads.

use std::sync::Arc;

use crate::config::EvictionPolicy;

/// "No policy node": the entry is not tracked (unbounded table, or the `reject` policy).
pub(crate) const NO_NODE: u32 = u32::MAX;

/// Largest value of an entry's hit counter.
pub(crate) const MAX_HITS: u8 = 15;

/// What [`Resident::take_hits`] answers for an entry that expired (or is gone): evict it
/// first, whatever its frequency.
pub(crate) const EXPIRED: u8 = u8::MAX;

/// The policy's view of the table: the hits an entry collected since the policy last looked.
pub(crate) trait Resident {
    /// Returns and resets the entry's hit counter (at most [`MAX_HITS`]), or [`EXPIRED`].
    fn take_hits(&self, ns: u32, key: &str) -> u8;
    /// The sketch hash of an entry.
    fn hash(&self, ns: u32, key: &str) -> u64;
}

#[derive(Debug)]
struct Node {
    key: Arc<str>,
    ns: u32,
    prev: u32,
    next: u32,
    list: u8,
}

/// An intrusive list over slab indices: `head` is the newest (most recent), `tail` the oldest.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NO_NODE,
            tail: NO_NODE,
            len: 0,
        }
    }
}

/// LRU's only list, and LFU's window.
const WINDOW: u8 = 0;
/// LFU's main (CLOCK) queue.
const MAIN: u8 = 1;

/// The policy state of one bounded table (behind the table's mutex).
#[derive(Debug)]
pub(crate) struct Policy {
    kind: EvictionPolicy,
    nodes: Vec<Node>,
    free: Vec<u32>,
    lists: [List; 2],
    /// Entries in the table (all namespaces), exact: every insert of a new key and every
    /// removal happens under the mutex.
    len: u64,
    sketch: Sketch,
    empty: Arc<str>,
}

impl Policy {
    /// A policy of `kind` for about `capacity` entries (sizes the frequency sketch).
    pub(crate) fn new(kind: EvictionPolicy, capacity: u64) -> Self {
        Policy {
            kind,
            nodes: Vec::new(),
            free: Vec::new(),
            lists: [List::default(); 2],
            len: 0,
            sketch: if kind == EvictionPolicy::Lfu {
                Sketch::new(capacity)
            } else {
                Sketch::new(0)
            },
            empty: Arc::from(""),
        }
    }

    /// Entries in the table.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Bytes of policy metadata (slab, free list, sketch), for the footprint report.
    pub(crate) fn metadata_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.sketch.table.capacity() * 8
    }

    /// Registers a new entry; returns its node (or [`NO_NODE`] under `reject`).
    pub(crate) fn insert(&mut self, ns: u32, key: &Arc<str>, hash: u64) -> u32 {
        self.len += 1;
        if self.kind == EvictionPolicy::Reject {
            return NO_NODE;
        }
        if self.kind == EvictionPolicy::Lfu {
            self.sketch.ensure_capacity(self.len);
            self.sketch.increment(hash);
        }
        let node = Node {
            key: key.clone(),
            ns,
            prev: NO_NODE,
            next: NO_NODE,
            list: WINDOW,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.push_head(WINDOW, idx);
        idx
    }

    /// Forgets a removed entry.
    pub(crate) fn remove(&mut self, node: u32) {
        self.len = self.len.saturating_sub(1);
        if node == NO_NODE || node as usize >= self.nodes.len() {
            return;
        }
        self.unlink(node);
        let n = &mut self.nodes[node as usize];
        n.key = self.empty.clone();
        self.free.push(node);
    }

    /// `lru`: marks an entry as just used. `key` identifies the entry the caller read (its
    /// node may have been freed and reused since; then nothing moves).
    pub(crate) fn touch(&mut self, node: u32, key: usize) {
        if self.kind != EvictionPolicy::Lru || node as usize >= self.nodes.len() {
            return;
        }
        if Arc::as_ptr(&self.nodes[node as usize].key) as *const u8 as usize != key {
            return;
        }
        let list = self.nodes[node as usize].list;
        if self.lists[list as usize].head != node {
            self.unlink(node);
            self.push_head(list, node);
        }
    }

    /// The entry to evict next, as (node, namespace id, key). The caller removes it from the
    /// table and then calls [`Policy::remove`]. `None` when nothing is tracked.
    pub(crate) fn victim(&mut self, table: &impl Resident) -> Option<(u32, u32, Arc<str>)> {
        let node = match self.kind {
            EvictionPolicy::Reject => None,
            EvictionPolicy::Lru => self.tail(WINDOW),
            EvictionPolicy::Lfu => self.victim_lfu(table),
        }?;
        let n = &self.nodes[node as usize];
        Some((node, n.ns, n.key.clone()))
    }

    fn victim_lfu(&mut self, table: &impl Resident) -> Option<u32> {
        let target = ((self.len / 100) as usize).max(1);
        if self.lists[MAIN as usize].len == 0 {
            // The first eviction: everything is still in the window. Move all but the window's
            // share to the main queue, oldest first, then compete as usual.
            while self.lists[WINDOW as usize].len > target {
                let n = self.lists[WINDOW as usize].tail;
                self.unlink(n);
                self.push_head(MAIN, n);
            }
            if self.lists[MAIN as usize].len == 0 {
                return self.tail(WINDOW);
            }
        }
        if self.lists[WINDOW as usize].len <= target {
            return Some(self.clock_victim(table).0);
        }
        let candidate = self.lists[WINDOW as usize].tail;
        let (cns, ckey) = self.ns_key(candidate);
        let chash = table.hash(cns, &ckey);
        let chits = table.take_hits(cns, &ckey);
        if chits == EXPIRED {
            return Some(candidate);
        }
        self.sketch.add(chash, chits);
        let (victim, expired) = self.clock_victim(table);
        let (vns, vkey) = self.ns_key(victim);
        if expired {
            // Already expired (hits were folded by clock_victim): it goes, the candidate stays.
            self.unlink(candidate);
            self.push_head(MAIN, candidate);
            return Some(victim);
        }
        if self.admit(chash, table.hash(vns, &vkey)) {
            self.unlink(candidate);
            self.push_head(MAIN, candidate);
            Some(victim)
        } else {
            Some(candidate)
        }
    }

    /// The main queue's CLOCK victim: from the oldest end, entries with hits since the last
    /// look get a second chance (their hits go into the sketch, they move to the front).
    /// Returns the victim and whether it has expired.
    fn clock_victim(&mut self, table: &impl Resident) -> (u32, bool) {
        let mut budget = self.lists[MAIN as usize].len;
        loop {
            let n = self.lists[MAIN as usize].tail;
            let (ns, key) = self.ns_key(n);
            let hits = table.take_hits(ns, &key);
            if hits == EXPIRED || hits == 0 || budget == 0 {
                return (n, hits == EXPIRED);
            }
            self.sketch.add(table.hash(ns, &key), hits);
            self.unlink(n);
            self.push_head(MAIN, n);
            budget -= 1;
        }
    }

    /// TinyLFU admission: the candidate replaces the victim only if it is more frequent; a tie
    /// keeps the victim. (Caffeine also admits a warm candidate at random 1 time in 128 to
    /// blunt hash flooding; measured here it cost up to 4 points on the `loop` trace, and moka
    /// does not do it either, so it is left out.)
    fn admit(&mut self, candidate: u64, victim: u64) -> bool {
        self.sketch.frequency(candidate) > self.sketch.frequency(victim)
    }

    fn ns_key(&self, n: u32) -> (u32, Arc<str>) {
        let node = &self.nodes[n as usize];
        (node.ns, node.key.clone())
    }

    fn tail(&self, list: u8) -> Option<u32> {
        let t = self.lists[list as usize].tail;
        (t != NO_NODE).then_some(t)
    }

    fn push_head(&mut self, list: u8, n: u32) {
        let l = &mut self.lists[list as usize];
        let old = l.head;
        l.head = n;
        if old == NO_NODE {
            l.tail = n;
        }
        l.len += 1;
        let node = &mut self.nodes[n as usize];
        node.list = list;
        node.prev = NO_NODE;
        node.next = old;
        if old != NO_NODE {
            self.nodes[old as usize].prev = n;
        }
    }

    fn unlink(&mut self, n: u32) {
        let (prev, next, list) = {
            let node = &self.nodes[n as usize];
            (node.prev, node.next, node.list)
        };
        let l = &mut self.lists[list as usize];
        if l.head != n && prev == NO_NODE {
            return; // not linked
        }
        if prev == NO_NODE {
            l.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        let l = &mut self.lists[list as usize];
        if next == NO_NODE {
            l.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.lists[list as usize].len -= 1;
        let node = &mut self.nodes[n as usize];
        node.prev = NO_NODE;
        node.next = NO_NODE;
    }
}

/// A count-min sketch of 4-bit counters, 16 per `u64`, depth 4 (the TinyLFU frequency
/// estimate). Every `10 × width` additions all counters are halved, so old popularity fades.
#[derive(Debug)]
struct Sketch {
    table: Vec<u64>,
    mask: usize,
    additions: u64,
    sample: u64,
}

const SEEDS: [u64; 4] = [
    0xc3a5_c85c_97cb_3127,
    0xb492_b66f_be98_f273,
    0x9ae1_6a3b_2f90_404f,
    0xcbf2_9ce4_8422_2325,
];

impl Sketch {
    fn new(capacity: u64) -> Self {
        if capacity == 0 {
            return Sketch {
                table: Vec::new(),
                mask: 0,
                additions: 0,
                sample: u64::MAX,
            };
        }
        let width = capacity.clamp(64, 1 << 26).next_power_of_two() as usize;
        Sketch {
            table: vec![0; width],
            mask: width - 1,
            additions: 0,
            sample: 10 * width as u64,
        }
    }

    /// Grows the sketch (losing its counts) when the table holds far more entries than it
    /// was sized for (a byte-bounded table of small entries).
    fn ensure_capacity(&mut self, len: u64) {
        if !self.table.is_empty() && len > 2 * self.table.len() as u64 && len < (1 << 26) {
            *self = Sketch::new(len);
        }
    }

    #[inline]
    fn slot(&self, hash: u64, i: usize) -> (usize, u32) {
        let h = (hash ^ SEEDS[i]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let h = h ^ (h >> 29);
        (((h >> 32) as usize) & self.mask, ((h & 15) as u32) * 4)
    }

    fn frequency(&self, hash: u64) -> u8 {
        if self.table.is_empty() {
            return 0;
        }
        (0..4)
            .map(|i| {
                let (s, shift) = self.slot(hash, i);
                ((self.table[s] >> shift) & 15) as u8
            })
            .min()
            .unwrap_or(0)
    }

    fn increment(&mut self, hash: u64) {
        if self.table.is_empty() {
            return;
        }
        let mut added = false;
        for i in 0..4 {
            let (s, shift) = self.slot(hash, i);
            if (self.table[s] >> shift) & 15 < 15 {
                self.table[s] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                for c in &mut self.table {
                    *c = (*c >> 1) & 0x7777_7777_7777_7777;
                }
                self.additions /= 2;
            }
        }
    }

    fn add(&mut self, hash: u64, times: u8) {
        for _ in 0..times.min(MAX_HITS) {
            self.increment(hash);
        }
    }
}
