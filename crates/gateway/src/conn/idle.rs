//! One clock per client connection for the two "the client is not doing anything" limits:
//! `[timeouts] header_read` (a request head must arrive whole in time) and
//! `[timeouts] client_idle` (a connection with nothing in flight is closed after it).
//!
//! hyper's own header-read timer is off: it restarts when hyper starts parsing, so the
//! time the h2c preface sniffer (or the TLS handshake) spent was added to the head's
//! budget (issue #17 item 4), and it also ran while a keep-alive connection waited for
//! its next request, so idle connections were closed at `header_read` rather than after
//! an idle timeout of their own. Here a connection is always in one [`Phase`]:
//!
//! - `Head` from the accept (sniffing and the TLS handshake included) until the first
//!   request is handed over, and for a later request from its first byte: `header_read`;
//! - `Busy` while a request is being served, until its response body is done: no limit
//!   here (the body timeouts apply);
//! - `Idle` when nothing is in flight (HTTP/1 between requests, HTTP/2 with no stream
//!   open): `client_idle`.
//!
//! [`Activity`] holds the phase; the connection task waits on [`Activity::expired`]
//! beside the connection and closes it (HTTP/2: GOAWAY first) when it fires.
//!
//! A plain HTTP/1 connection idle for [`Budget::park_after`] is first *parked* instead
//! (see `park`): hyper's connection ends without closing the socket, its buffers are
//! freed, and a new one is built when the next bytes arrive. While that happens
//! [`Watched`] keeps hyper from shutting the socket down.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What a connection is doing, for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A request head is expected or arriving.
    Head,
    /// At least one request is being served.
    Busy,
    /// Nothing in flight; waiting for the next request.
    Idle,
}

/// The limits a connection's [`Phase`] is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `[timeouts] header_read`.
    pub header_read: Duration,
    /// `[timeouts] client_idle`.
    pub client_idle: Duration,
    /// An idle connection is parked after this long (`None`: never; HTTP/2 and TLS).
    pub park_after: Option<Duration>,
}

/// What is due when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Close the connection: it has been in this phase too long.
    Close(Phase),
    /// Park the idle connection outside hyper (its socket stays open).
    Park,
}

/// How long [`Activity::expired`] may sleep without looking at the phase again: any
/// deadline a change after now brings is at least this far away. A park due sooner
/// (`client_park` near zero) is looked at every 10 ms, not in a busy loop: a park a few
/// milliseconds late costs nothing.
pub fn horizon(budget: Budget) -> Duration {
    let horizon = budget.header_read.min(budget.client_idle);
    match budget.park_after {
        Some(park) => horizon.min(park.max(Duration::from_millis(10))),
        None => horizon,
    }
}

/// What is due for a connection that entered `phase` at `since`, and when; `None` =
/// nothing by these limits. `writing` (a response's bytes still wait for the socket)
/// keeps an idle connection from being parked: hyper would drop them with its buffers.
pub fn deadline(
    phase: Phase,
    since: Instant,
    budget: Budget,
    writing: bool,
) -> Option<(Instant, Due)> {
    match phase {
        Phase::Head => Some((since + budget.header_read, Due::Close(phase))),
        Phase::Busy => None,
        Phase::Idle => match budget.park_after {
            Some(park) if park < budget.client_idle && !writing => Some((since + park, Due::Park)),
            _ => Some((since + budget.client_idle, Due::Close(phase))),
        },
    }
}

/// A connection's phase, shared by its IO wrapper, its service and its task.
///
/// A phase change does not wake the connection's task (that would be three wake-ups and a
/// timer re-armed per request, measured at ~4k instructions per proxied request). Instead
/// the task sleeps until a check time no later than any deadline a change could bring,
/// `min(header_read, client_idle)` from when it armed, and re-reads the phase then; only
/// a task parked without a timer (the connection busy) is woken, once, when it leaves
/// `Busy`.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Mirrors `phase == Idle` so that a read checks one atomic, not the lock.
    idle: AtomicBool,
    /// The last write to the socket would have blocked (HTTP/1: see [`Watched`]).
    writing: AtomicBool,
    /// Parking: hyper's shutdown of the socket is skipped (see [`Watched`]).
    parking: AtomicBool,
    wake: Notify,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    since: Instant,
    busy: usize,
    /// Requests begun so far.
    begun: u64,
    /// `begun` when parking started.
    parking_at: u64,
    /// The task waits for a notification rather than a timer (it saw `Busy`).
    parked: bool,
}

impl Activity {
    /// A connection accepted at `accepted`: its first head is expected from then on.
    pub fn new(accepted: Instant) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                phase: Phase::Head,
                since: accepted,
                busy: 0,
                begun: 0,
                parking_at: 0,
                parked: false,
            }),
            idle: AtomicBool::new(false),
            writing: AtomicBool::new(false),
            parking: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    /// The connection waits for requests without a head under way (HTTP/2 after its
    /// preface: streams come and go, there is no "head" of the connection).
    pub fn waiting(&self) {
        let mut s = self.state.lock();
        if s.busy == 0 {
            self.set(&mut s, Phase::Idle);
        }
    }

    /// A request was handed to the service; the connection is busy until the returned
    /// guard (carried by the response body) is dropped.
    pub fn begin(self: &Arc<Self>) -> BusyGuard {
        let mut s = self.state.lock();
        s.busy += 1;
        s.begun += 1;
        if s.phase != Phase::Busy {
            self.set(&mut s, Phase::Busy);
        }
        BusyGuard(Arc::clone(self))
    }

    /// Bytes arrived (HTTP/1): while idle, they are the start of the next head.
    pub fn read(&self) {
        if self.idle.load(Ordering::Relaxed) {
            let mut s = self.state.lock();
            if s.phase == Phase::Idle {
                self.set(&mut s, Phase::Head);
            }
        }
    }

    fn end(&self) {
        let mut s = self.state.lock();
        s.busy = s.busy.saturating_sub(1);
        if s.busy == 0 {
            self.set(&mut s, Phase::Idle);
        }
    }

    fn set(&self, s: &mut State, phase: Phase) {
        s.phase = phase;
        s.since = Instant::now();
        self.idle.store(phase == Phase::Idle, Ordering::Relaxed);
        if s.parked && phase != Phase::Busy {
            s.parked = false;
            self.wake.notify_waiters();
        }
    }

    /// Parking is over: hyper's connection ended cleanly, with no request begun since
    /// [`Due::Park`] was returned. `false`: one slipped in, and hyper answered it with
    /// `Connection: close`; the socket must close.
    pub fn parked(&self) -> bool {
        self.parking.store(false, Ordering::Relaxed);
        let s = self.state.lock();
        s.begun == s.parking_at
    }

    /// When an idle connection is to be closed by `budget` (now, if it is not idle).
    pub fn idle_until(&self, budget: Budget) -> Instant {
        let s = self.state.lock();
        match s.phase {
            Phase::Idle => s.since + budget.client_idle,
            Phase::Head | Phase::Busy => Instant::now(),
        }
    }

    /// Resolves when something is due: the connection has been in its phase past its
    /// deadline. On [`Due::Park`] parking has begun (see [`Activity::parked`]).
    pub async fn expired(&self, budget: Budget) -> Due {
        let horizon = horizon(budget);
        loop {
            let changed = self.wake.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before the state is read: a change in between still wakes us.
            changed.as_mut().enable();
            let now = Instant::now();
            let check = {
                let mut s = self.state.lock();
                let writing = self.writing.load(Ordering::Relaxed);
                match deadline(s.phase, s.since, budget, writing) {
                    Some((at, due)) if at <= now => {
                        if due == Due::Park {
                            s.parking_at = s.begun;
                            self.parking.store(true, Ordering::Relaxed);
                        }
                        return due;
                    }
                    Some((at, _)) => Some(at.min(now + horizon)),
                    None => {
                        s.parked = true;
                        None
                    }
                }
            };
            match check {
                Some(at) => tokio::time::sleep_until(at).await,
                None => changed.await,
            }
        }
    }
}

/// Keeps its connection [`Phase::Busy`] while alive.
#[derive(Debug)]
pub struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that keeps its connection busy until it is done (dropped).
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    _busy: BusyGuard,
}

impl<B> Tracked<B> {
    /// `inner`, holding `busy`.
    pub fn new(inner: B, busy: BusyGuard) -> Self {
        Self { inner, _busy: busy }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An HTTP/1 connection's IO, telling its [`Activity`] when bytes arrive.
#[derive(Debug)]
pub struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// Wraps `io`.
    pub fn new(io: S, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.activity
            .writing
            .store(r.is_pending(), Ordering::Relaxed);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        // hyper writes until the socket would block or its buffer is empty, so a blocked
        // last write is the one sign that bytes of a response are still in its buffer.
        this.activity
            .writing
            .store(r.is_pending(), Ordering::Relaxed);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.activity.parking.load(Ordering::Relaxed) {
            // hyper ends its connection to be parked: the socket stays open.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

impl<S> Watched<S> {
    /// The wrapped IO.
    pub fn get_ref(&self) -> &S {
        &self.io
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
impl Activity {
    fn phase(&self) -> (Phase, Instant) {
        let s = self.state.lock();
        (s.phase, s.since)
    }
}
