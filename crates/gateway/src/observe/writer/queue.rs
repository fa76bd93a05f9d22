//! The writer's queues: one per worker thread (threads are spread over a fixed set), so two
//! workers logging at once never touch the same lock or buffer.
//!
//! Why: with one shared buffer, every line moved the lock's cache line, the buffer's length
//! and its tail from one core to the other while both workers served requests — a cost per
//! line that a single-threaded measurement does not show. Each queue here sits on its own
//! cache lines; the writer thread visits each one once per batch.
//!
//! Lines from different threads may leave in a different order than they were queued
//! (each thread's own lines keep their order), as with nginx's per-worker log buffers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

/// One thread's (or a few threads') queued bytes.
// Aligned so that two queues never share a cache line (128: adjacent-line prefetching pairs
// 64-byte lines on x86).
#[repr(align(128))]
pub(super) struct Queue {
    pending: Mutex<Pending>,
    /// Something is queued here: what the writer thread looks at before it sleeps. Set by the
    /// first line of a batch, cleared when the writer takes the batch.
    queued: AtomicBool,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    lines: u64,
}

/// What [`Queue::push`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Queued. `first`: the queue was empty (the writer thread may be asleep); `crossed`:
    /// the queue just reached the early-write size.
    Queued { first: bool, crossed: bool },
    /// Not queued: the queue is full, or the writer is closed.
    Dropped,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            pending: Mutex::new(Pending::default()),
            queued: AtomicBool::new(false),
        }
    }

    /// Appends `line` unless that would take the queue past `capacity` bytes or `closed` is
    /// set (checked under the queue's lock, so a line is either refused or seen by the
    /// writer thread's last pass, never lost between the two).
    pub(super) fn push(
        &self,
        line: &[u8],
        capacity: usize,
        write_at: usize,
        closed: &AtomicBool,
    ) -> Pushed {
        let mut pending = self.pending.lock();
        if closed.load(Ordering::SeqCst) || pending.buf.len() + line.len() > capacity {
            return Pushed::Dropped;
        }
        let before = pending.buf.len();
        pending.buf.extend_from_slice(line);
        pending.lines += 1;
        let first = before == 0;
        if first {
            // Sequentially consistent with the writer thread's `sleeping` flag: either it
            // sees this queue non-empty before it sleeps, or the caller sees it asleep and
            // wakes it (see `LogWriter::write_line`).
            self.queued.store(true, Ordering::SeqCst);
        }
        Pushed::Queued {
            first,
            crossed: before < write_at && pending.buf.len() >= write_at,
        }
    }

    /// Swaps the queued bytes with `into` (empty, its capacity kept for the next batch);
    /// returns how many lines they hold.
    pub(super) fn take(&self, into: &mut Vec<u8>) -> u64 {
        let mut pending = self.pending.lock();
        std::mem::swap(&mut pending.buf, into);
        self.queued.store(false, Ordering::SeqCst);
        std::mem::take(&mut pending.lines)
    }
}

/// The set of queues, and which one the current thread uses.
pub(super) struct Queues {
    queues: Box<[Queue]>,
}

impl Queues {
    /// Twice the machine's parallelism, at least 4, at most 64: the workers (one per core by
    /// default) rarely share a queue, and the few other threads that log (the main thread,
    /// the exporter's) take the rest. An unused queue is a mutex and an empty `Vec`.
    pub(super) fn new() -> Queues {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Queues::with_count((cores * 2).clamp(4, 64))
    }

    pub(super) fn with_count(count: usize) -> Queues {
        Queues {
            queues: (0..count.max(1)).map(|_| Queue::new()).collect(),
        }
    }

    /// The current thread's queue.
    pub(super) fn mine(&self) -> &Queue {
        &self.queues[thread_number() % self.queues.len()]
    }

    /// Whether any queue holds lines (as far as their flags tell).
    pub(super) fn any_queued(&self) -> bool {
        self.queues.iter().any(|q| q.queued.load(Ordering::SeqCst))
    }

    pub(super) fn len(&self) -> usize {
        self.queues.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Queue> {
        self.queues.iter()
    }
}

/// A number per thread, given out in the order threads first log: consecutive workers get
/// consecutive queues.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: Cell<Option<usize>> = const { Cell::new(None) };
    }
    NUMBER
        .try_with(|n| match n.get() {
            Some(number) => number,
            None => {
                let number = NEXT.fetch_add(1, Ordering::Relaxed);
                n.set(Some(number));
                number
            }
        })
        // During thread teardown: any queue will do.
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
