//! Grace periods for namespace reclamation: which writes may still be putting entries into a
//! namespace table the reclaimer is about to drop.
//!
//! Every write into a namespace table runs between [`enter`] and the guard's drop, on one
//! thread and without awaiting (table writes are synchronous). Each thread counts its entries
//! and exits in a slot of its own, so the hot path touches no line another core writes.
//! [`wait`] returns once every write that had entered before it was called has exited: the
//! reclaimer marks the tables it wants to drop as retired, waits for a grace period, and then
//! knows that every later write saw the mark (the mark and the entry counter are both
//! sequentially consistent, so of a write and the reclaimer at least one sees the other).
//!
//! Used by `namespaces.rs` (the writers' entry point and the reclaimer).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One thread's counts, alone on its cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot {
    entered: AtomicU64,
    exited: AtomicU64,
}

/// Every thread's slot. A slot is allocated once per thread that ever writes to a table and
/// kept for the life of the process (128 B each; a thread that ended leaves an idle slot that
/// never holds a grace period up), so the hot path reaches it without a reference count.
static SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: &'static Slot = {
        let slot: &'static Slot = Box::leak(Box::default());
        SLOTS.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
        slot
    };
}

/// A write in progress; its drop marks the write as exited.
#[derive(Debug)]
pub(super) struct Writing(&'static Slot);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.exited.fetch_add(1, Ordering::Release);
    }
}

/// Marks the start of a write on this thread. Check the table's retired mark **after** this.
#[inline]
pub(super) fn enter() -> Writing {
    let slot = MINE.with(|s| *s);
    slot.entered.fetch_add(1, Ordering::SeqCst);
    Writing(slot)
}

/// Blocks until every write that entered before this call has exited (a few microseconds:
/// writes never await). Synchronous on purpose: a writer waiting for the reclaimer must never
/// be able to keep the reclaimer from running.
pub(super) fn wait() {
    let slots: Vec<(&'static Slot, u64)> = SLOTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|s| (*s, s.entered.load(Ordering::SeqCst)))
        .collect();
    for (slot, entered) in slots {
        // A thread runs one write at a time, so its exits reaching its entries at the time of
        // the snapshot means its write then in progress (if any) is over.
        let mut spins = 0u32;
        while slot.exited.load(Ordering::Acquire) < entered {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}
