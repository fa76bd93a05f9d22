//! The log writer off the hot path.
//!
//! Callers append a finished line to their thread's bounded byte queue (a short memcpy under
//! a lock no other worker takes: see `queue`) and go on; a dedicated thread swaps the queues
//! out and writes the whole batch. Batches are gathered for up to [`BATCH_INTERVAL`] (sooner
//! once [`WRITE_AT`] bytes are queued in one queue): only a line that finds the thread idle
//! wakes it, so under load a line costs no system call at all — waking the thread per line
//! (a futex wake, then a `write` per line) cost more than formatting the line. When the
//! destination stalls (a pipe nobody drains, a full disk), that thread blocks — never the
//! caller: the queues fill up to their capacity and further lines are dropped and counted
//! ([`LogWriter::dropped`], exported as `gangway_log_lines_dropped_total`), with at most one
//! warning per 10 s.
//!
//! A writer started with [`WriterOptions::render`] queues frames instead of lines
//! ([`LogWriter::with_frame`]) and turns them into lines itself, a batch at a time: the
//! access log's callers only copy a record's fields, and the formatting runs where its code
//! stays hot (see `access::frame`).
//!
//! The same writer serves the error log through [`tracing_subscriber::fmt::MakeWriter`], so
//! neither log can block a worker.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// The default capacity of each thread's queue: room for several thousand typical access
/// lines while the writer thread is in a write.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// How long the writer thread lets lines gather before writing them: the most a line waits
/// in memory (nginx's `access_log … buffer= flush=` makes the same trade, with 1 s or more).
/// Each batch costs the writer thread a timed wait, a wake-up and a `write` (tens of µs of
/// kernel time on a VM): at 10 ms that was measurable per request (≈ 0.2–0.4 µs at 10 k
/// requests/s); at 100 ms it is a tenth of that, and a line still shows within 0.1 s.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(100);

/// A batch this large is written at once, without waiting out [`BATCH_INTERVAL`]: the two
/// buffers the workers and the writer thread swap stay small enough to live in a core's
/// cache (lines appended to a half-megabyte buffer would each touch memory no cache holds,
/// and push the workers' own data out), while still amortising a wake-up over hundreds of
/// lines.
pub const WRITE_AT: usize = 64 * 1024;

/// Dropped-line warnings are rate limited to one per this interval.
const WARN_EVERY: Duration = Duration::from_secs(10);

mod destination;
mod queue;

pub use destination::Destination;

use queue::{Pushed, Queues};

/// What the writer thread is asked to do besides writing.
struct Control {
    reopen: bool,
    /// A queue reached the early-write size: end the batch's gathering now.
    early: bool,
}

struct Shared {
    control: Mutex<Control>,
    wake: Condvar,
    /// The writer thread waits with nothing queued: the first line of a queue wakes it.
    sleeping: AtomicBool,
    /// Set once, when the [`WriterGuard`] goes: lines are refused (and counted) from then on.
    closed: AtomicBool,
    queues: Queues,
    /// Bytes per queue.
    capacity: usize,
    dropped: AtomicU64,
    /// Milliseconds since `epoch` of the last warning, +1 (0 = never warned).
    last_warn: AtomicU64,
    epoch: Instant,
    /// Warn through `tracing` (the access log does; the error log's own writer does not, so
    /// a full error log cannot feed itself).
    warn: bool,
}

/// A cheap, cloneable handle to a log writer thread. Lines are whole records ending in `\n`.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("capacity", &self.shared.capacity)
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// Stops the writer thread when dropped, after it wrote what was queued (waiting at most a
/// second: a stalled destination must not hang shutdown either).
pub struct WriterGuard {
    shared: Arc<Shared>,
    done: mpsc::Receiver<()>,
}

impl std::fmt::Debug for WriterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterGuard")
    }
}

/// Asks the writer thread to reopen its file (logrotate's `postrotate` → `SIGUSR1`).
#[derive(Clone)]
pub struct Reopen {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Reopen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reopen")
    }
}

impl Reopen {
    /// Reopens the destination after the batch in progress; a no-op for stdout.
    pub fn reopen(&self) {
        self.shared.control.lock().reopen = true;
        self.shared.wake.notify_one();
    }
}

/// Settings for [`LogWriter::start`]; see each field for its default.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Bytes a thread's queue holds before its lines are dropped. Default
    /// [`DEFAULT_CAPACITY`] (1 MiB).
    pub capacity: usize,
    /// Warn (through `tracing`, at most once per 10 s) when lines are dropped. Default true;
    /// turn it off for the writer behind the error log itself.
    pub warn_on_drop: bool,
    /// The writer thread's name. Default `gangway-log`.
    pub thread_name: String,
    /// Default `None`: what is queued is finished lines, written as they are. `Some`: what
    /// is queued is frames from [`LogWriter::with_frame`], and the writer thread turns each
    /// into its line with this function (false: the frame is dropped and counted), so the
    /// formatting runs in batches on the writer thread, not on the callers' (see
    /// `access::frame` for why).
    pub render: Option<Render>,
}

/// Turns one frame's payload into a line appended to the buffer; false when it cannot.
pub type Render = fn(&[u8], &mut Vec<u8>) -> bool;

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: DEFAULT_CAPACITY,
            warn_on_drop: true,
            thread_name: "gangway-log".to_owned(),
            render: None,
        }
    }
}

impl LogWriter {
    /// Opens the destination and starts the writer thread.
    pub fn start(
        destination: Destination,
        options: WriterOptions,
    ) -> io::Result<(LogWriter, WriterGuard, Reopen)> {
        let (reopenable, mut out) = match destination {
            Destination::Writer(w) => (None, w),
            other => match other.open()? {
                Some(out) => (Some(other), out),
                None => return Err(io::Error::other("destination without a writer")),
            },
        };
        let shared = Arc::new(Shared {
            control: Mutex::new(Control {
                reopen: false,
                early: false,
            }),
            wake: Condvar::new(),
            sleeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            queues: Queues::new(),
            capacity: options.capacity.max(1),
            dropped: AtomicU64::new(0),
            last_warn: AtomicU64::new(0),
            epoch: Instant::now(),
            warn: options.warn_on_drop,
        });
        let (done_tx, done) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let render = options.render;
        std::thread::Builder::new()
            .name(options.thread_name)
            .spawn(move || {
                run(&thread_shared, reopenable.as_ref(), &mut out, render);
                let _ = done_tx.send(());
            })?;
        let reopen = Reopen {
            shared: Arc::clone(&shared),
        };
        Ok((
            LogWriter {
                shared: Arc::clone(&shared),
            },
            WriterGuard { shared, done },
            reopen,
        ))
    }

    /// Queues one complete line (it should end in `\n`); drops and counts it when the buffer
    /// is full. Never blocks on the destination.
    pub fn write_line(&self, line: &[u8]) {
        let shared = &*self.shared;
        let queue = shared.queues.mine();
        match queue.push(line, shared.capacity, shared.write_at(), &shared.closed) {
            Pushed::Dropped => self.note_dropped(1),
            // Wake the thread when it sleeps with nothing to do, or early when the queue
            // crosses the early-write size; any other line joins the batch being gathered.
            // Only a queue's first line of a batch looks at `sleeping` (the writer thread
            // cannot be asleep with lines queued: see `run`).
            Pushed::Queued { first, crossed } => {
                if crossed || (first && shared.sleeping.load(Ordering::SeqCst)) {
                    // Under the lock the writer thread holds from its last look at the
                    // queues until it waits: the notification cannot fall in between.
                    shared.control.lock().early |= crossed;
                    shared.wake.notify_one();
                }
            }
        }
    }

    /// Queues one frame that `fill` appends to a reusable buffer, for a writer started with
    /// [`WriterOptions::render`]: the writer thread renders it. Dropped and counted, like a
    /// line, when the buffer is full.
    pub fn with_frame(&self, fill: impl FnOnce(&mut Vec<u8>)) {
        with_scratch(|buf| {
            buf.extend_from_slice(&[0; 4]);
            fill(buf);
            match u32::try_from(buf.len() - 4) {
                Ok(len) => {
                    buf[..4].copy_from_slice(&len.to_le_bytes());
                    self.write_line(buf);
                }
                Err(_) => self.note_dropped(1),
            }
        });
    }

    /// Lines dropped so far (buffer full, or the destination failed):
    /// `gangway_log_lines_dropped_total`.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    fn note_dropped(&self, lines: u64) {
        self.shared.note_dropped(lines);
    }
}

/// Runs `f` with this thread's reusable, empty byte buffer.
fn with_scratch(f: impl FnOnce(&mut Vec<u8>)) {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf);
        }
        // Re-entered from inside `f` (it logged): use a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    });
}

impl Shared {
    /// Queued bytes that end a batch early: half the capacity, at most [`WRITE_AT`].
    fn write_at(&self) -> usize {
        (self.capacity / 2).clamp(1, WRITE_AT)
    }

    fn note_dropped(&self, lines: u64) {
        let total = self.dropped.fetch_add(lines, Ordering::Relaxed) + lines;
        if !self.warn {
            return;
        }
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last = self.last_warn.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        // The exchange makes one caller the warner per interval; the stamp is set before the
        // warning is emitted, so a warning that itself gets dropped cannot recurse.
        if due
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                "log destination is not keeping up: lines dropped (gangway_log_lines_dropped_total)"
            );
        }
    }
}

/// The writer thread: gather, swap the queues out, (render their frames,) write, repeat.
fn run(
    shared: &Shared,
    destination: Option<&Destination>,
    out: &mut Box<dyn Write + Send>,
    render: Option<Render>,
) {
    let mut batches: Vec<Vec<u8>> = (0..shared.queues.len()).map(|_| Vec::new()).collect();
    let mut rendered = Vec::new();
    let closing = || shared.closed.load(Ordering::SeqCst);
    loop {
        let reopen = {
            let mut control = shared.control.lock();
            // Sleep while nothing is queued. `sleeping` is set before the queues are looked
            // at, and a queue's first line sets its flag before looking at `sleeping`: one of
            // the two sides always sees the other.
            while !closing() && !control.reopen {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.queues.any_queued() {
                    break;
                }
                shared.wake.wait(&mut control);
            }
            shared.sleeping.store(false, Ordering::SeqCst);
            // Let more lines join the batch, unless closing, reopening or filling up.
            let deadline = Instant::now() + BATCH_INTERVAL;
            while !closing() && !control.reopen && !control.early {
                if shared.wake.wait_until(&mut control, deadline).timed_out() {
                    break;
                }
            }
            control.early = false;
            std::mem::take(&mut control.reopen)
        };
        let closed = closing();
        let (mut taken, mut rendered_lines) = (0, 0);
        rendered.clear();
        for (queue, batch) in shared.queues.iter().zip(&mut batches) {
            let lines = queue.take(batch);
            if batch.is_empty() {
                continue;
            }
            taken += lines;
            match render {
                // Frames: rendered into one buffer, written below.
                Some(render) => {
                    let failed = render_frames(batch, &mut rendered, render);
                    if failed > 0 {
                        shared.note_dropped(failed);
                    }
                    rendered_lines += lines.saturating_sub(failed);
                }
                // Lines: each queue's batch as it is, in one call.
                None => write_out(shared, out, batch, lines),
            }
            shrink(batch);
        }
        if !rendered.is_empty() {
            // The lines rendered, not the frames taken: failed frames were counted above.
            write_out(shared, out, &rendered, rendered_lines);
            shrink(&mut rendered);
        }
        if let Some(destination) = destination.filter(|_| reopen) {
            match destination.open() {
                Ok(Some(new)) => *out = new,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot reopen the log file; keeping the old one")
                }
            }
        }
        // Closed before this pass began and it found nothing: every line accepted before the
        // close has been written (later ones were refused under their queue's lock).
        if closed && taken == 0 {
            return;
        }
    }
}

/// Writes `bytes` (`lines` lines) to `out`; counts them as dropped when it fails.
fn write_out(shared: &Shared, out: &mut Box<dyn Write + Send>, bytes: &[u8], lines: u64) {
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        shared.note_dropped(lines);
    }
}

/// Empties `buf`, and does not keep a huge one around after a burst.
fn shrink(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > 4 * 1024 * 1024 {
        *buf = Vec::new();
    }
}

/// Renders every frame of `batch` (a `u32` length, then the payload) into `out`; returns
/// how many could not be rendered.
fn render_frames(mut batch: &[u8], out: &mut Vec<u8>, render: Render) -> u64 {
    let mut failed = 0;
    while let Some((len, rest)) = batch.split_first_chunk::<4>() {
        let Some((frame, rest)) = rest.split_at_checked(u32::from_le_bytes(*len) as usize) else {
            // Cannot happen (frames are queued whole); count the rest as one.
            return failed + 1;
        };
        if !render(frame, out) {
            failed += 1;
        }
        batch = rest;
    }
    failed
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // Through the lock, so the notification cannot fall between the writer thread's
        // look at `closed` and its wait.
        drop(self.shared.control.lock());
        self.shared.wake.notify_one();
        let _ = self.done.recv_timeout(Duration::from_secs(1));
    }
}

/// The error log's sink: `tracing_subscriber` formats an event and hands it over with one
/// `write` call, which becomes one queued line.
impl io::Write for &LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_line(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Reopens every writer in `reopen` each time the process receives `SIGUSR1` (logrotate's
/// `postrotate`), from a task on the current tokio runtime (so call it once at startup, from
/// within the runtime). The reopen itself happens on each writer's own thread. Unix only (elsewhere
/// returns `Ok` and does nothing).
pub fn reopen_on_sigusr1(reopen: Vec<Reopen>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut usr1 = signal(SignalKind::user_defined1())?;
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                tracing::info!("SIGUSR1: reopening log files");
                for r in &reopen {
                    r.reopen();
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(reopen);
    Ok(())
}

#[cfg(test)]
mod tests;
