//! The host's state machine driven with fake connections and waiters: each row is one step
//! and the counts it must leave behind.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

#[derive(Clone, Default)]
struct Fake(Arc<AtomicBool>);

impl Sender for Fake {
    fn is_closed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    fn is_ready(&self) -> bool {
        !self.is_closed()
    }
}

#[derive(Clone, Default)]
struct FakeWaiter(Arc<AtomicBool>);

impl Waiting for FakeWaiter {
    fn is_gone(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type T = Host<Fake, Fake, FakeWaiter>;

/// One step of a scenario.
enum Step {
    /// A request arrives; expect what it gets: 'i' idle h1, 's' stream, 'c' connect, 'w' queued.
    Request(char),
    /// The oldest connect permit yields an HTTP/1.1 (`false`) or HTTP/2 connection.
    Connected(bool),
    /// The oldest busy HTTP/1.1 connection finishes cleanly.
    Return,
    /// The oldest busy HTTP/1.1 connection fails.
    Fail,
    /// The oldest HTTP/2 stream ends.
    EndStream,
    /// The oldest waiting request gives up.
    GiveUp,
    /// The server closes every idle connection (their tasks end).
    ServerCloseIdle,
}

/// Counts after a step: (open, connecting, busy_h1, idle, queued waiters).
type Counts = (usize, usize, usize, usize, usize);

struct Run {
    host: T,
    config: Config,
    busy: Vec<H1Conn<Fake>>,
    streams: Vec<u64>,
    permits: Vec<bool>,
    waiters: Vec<FakeWaiter>,
    /// What waiters were handed, in order.
    delivered: Vec<char>,
    next_id: u64,
}

fn kind(out: &Out<Fake, Fake>) -> char {
    match out {
        Out::H1 { .. } => 'i',
        Out::H2 { .. } => 's',
        Out::Connect { .. } => 'c',
    }
}

impl Run {
    fn new(config: Config, expect: ExpectH2) -> Self {
        Self {
            host: Host::new(expect),
            config,
            busy: Vec::new(),
            streams: Vec::new(),
            permits: Vec::new(),
            waiters: Vec::new(),
            delivered: Vec::new(),
            next_id: 1,
        }
    }

    fn hold(&mut self, out: Out<Fake, Fake>) {
        match out {
            Out::H1 { conn, .. } => self.busy.push(conn),
            Out::H2 { id, .. } => self.streams.push(id),
            Out::Connect { expect_h2 } => self.permits.push(expect_h2),
        }
    }

    fn dispatch(&mut self, now: Instant, doomed: &mut Doomed<Fake, Fake>) {
        let mut handed = Vec::new();
        self.host.dispatch(&self.config, now, doomed, |w, out| {
            handed.push((w, out));
            Ok(())
        });
        self.handed(handed);
    }

    fn handed(&mut self, handed: Vec<(FakeWaiter, Out<Fake, Fake>)>) {
        for (w, out) in handed {
            self.waiters.retain(|x| !Arc::ptr_eq(&x.0, &w.0));
            self.delivered.push(kind(&out));
            self.hold(out);
        }
    }

    fn step(&mut self, step: &Step, now: Instant) {
        let mut doomed = Doomed::default();
        match step {
            Step::Request(want) => {
                match self.host.checkout(&self.config, false, now, &mut doomed) {
                    Some(out) => {
                        assert_eq!(kind(&out), *want);
                        self.hold(out);
                    }
                    None => {
                        assert_eq!('w', *want);
                        let w = FakeWaiter::default();
                        self.waiters.push(w.clone());
                        let mut handed = Vec::new();
                        self.host
                            .enqueue(w, false, &self.config, now, &mut doomed, |w, out| {
                                handed.push((w, out));
                                Ok(())
                            });
                        self.handed(handed);
                    }
                }
            }
            Step::Connected(h2) => {
                let expect_h2 = self.permits.remove(0);
                let id = self.next_id;
                self.next_id += 1;
                let fresh = if *h2 {
                    Fresh::H2 {
                        tx: Fake::default(),
                        max_streams: Arc::new(AtomicUsize::new(2)),
                    }
                } else {
                    Fresh::H1(Fake::default())
                };
                match self.host.connected(id, fresh, expect_h2, now, 0) {
                    Opened::H1(conn) => self.busy.push(conn),
                    Opened::H2 { id, .. } => self.streams.push(id),
                }
                self.dispatch(now, &mut doomed);
            }
            Step::Return => {
                let conn = self.busy.remove(0);
                let kept = self.host.put_idle(conn, &self.config, now, &mut doomed);
                self.dispatch(now, &mut doomed);
                if kept {
                    self.host.trim_idle(&self.config, &mut doomed);
                }
            }
            Step::Fail => {
                let conn = self.busy.remove(0);
                self.host.discard_h1(conn, CloseReason::Error, &mut doomed);
                self.dispatch(now, &mut doomed);
            }
            Step::EndStream => {
                let id = self.streams.remove(0);
                self.host.release_stream(id);
                self.dispatch(now, &mut doomed);
            }
            Step::GiveUp => {
                let w = self.waiters.remove(0);
                w.0.store(true, Ordering::Relaxed);
            }
            Step::ServerCloseIdle => {
                for idle in &self.host.idle {
                    idle.conn.tx.0.store(true, Ordering::Relaxed);
                }
                let ids: Vec<u64> = self.host.idle.iter().map(|i| i.conn.id).collect();
                for id in ids {
                    self.host.conn_closed(id, &mut doomed);
                }
                self.dispatch(now, &mut doomed);
            }
        }
    }

    fn counts(&self) -> Counts {
        let h = &self.host;
        let queued = h.waiters.iter().filter(|w| !w.w.is_gone()).count();
        (h.open, h.connecting, h.busy_h1, h.idle.len(), queued)
    }
}

fn limited(max: usize) -> Config {
    Config {
        max_connections_per_host: Some(max),
        ..Config::default()
    }
}

#[test]
fn http1_limit_queue_and_reuse() {
    use Step::*;
    let table: &[(Step, Counts)] = &[
        (Request('c'), (0, 1, 0, 0, 0)),
        (Request('c'), (0, 2, 0, 0, 0)),
        // At the limit of two: the third waits.
        (Request('w'), (0, 2, 0, 0, 1)),
        (Connected(false), (1, 1, 1, 0, 1)),
        (Connected(false), (2, 0, 2, 0, 1)),
        // A returned connection goes straight to the waiter, never idle.
        (Return, (2, 0, 2, 0, 0)),
        (Return, (2, 0, 1, 1, 0)),
        (Request('i'), (2, 0, 2, 0, 0)),
        // A failed connection frees a slot: the next request may connect.
        (Fail, (1, 0, 1, 0, 0)),
        (Request('c'), (1, 1, 1, 0, 0)),
        (Request('w'), (1, 1, 1, 0, 1)),
        // A waiter that gave up is skipped: the idle connection stays idle.
        (GiveUp, (1, 1, 1, 0, 0)),
        (Return, (1, 1, 0, 1, 0)),
        (ServerCloseIdle, (0, 1, 0, 0, 0)),
        (Connected(false), (1, 0, 1, 0, 0)),
    ];
    let mut run = Run::new(limited(2), ExpectH2::Never);
    let now = Instant::now();
    for (i, (step, want)) in table.iter().enumerate() {
        run.step(step, now);
        assert_eq!(run.counts(), *want, "after row {i}");
    }
    assert_eq!(run.delivered, vec!['i']);
    let s = run.host.snapshot();
    assert_eq!((s.connections_opened, s.requests, s.reused), (3, 5, 2));
    assert_eq!(s.closed.error + s.closed.server_close, 2);
}

#[test]
fn http2_burst_waits_for_one_handshake() {
    use Step::*;
    let table: &[(Step, Counts)] = &[
        (Request('c'), (0, 1, 0, 0, 0)),
        // HTTP/2 expected: the rest wait for the connection being opened.
        (Request('w'), (0, 1, 0, 0, 1)),
        (Request('w'), (0, 1, 0, 0, 2)),
        // It allows two streams: the opener and one waiter; the other may now connect.
        (Connected(true), (1, 1, 0, 0, 0)),
        (EndStream, (1, 1, 0, 0, 0)),
        (Request('s'), (1, 1, 0, 0, 0)),
    ];
    let mut run = Run::new(Config::default(), ExpectH2::Always);
    let now = Instant::now();
    for (i, (step, want)) in table.iter().enumerate() {
        run.step(step, now);
        assert_eq!(run.counts(), *want, "after row {i}");
    }
    assert_eq!(run.delivered, vec!['s', 'c']);
}

#[test]
fn expired_and_retired_idle_connections_close() {
    let config = Config {
        idle_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let mut run = Run::new(config, ExpectH2::Never);
    let t0 = Instant::now();
    run.step(&Step::Request('c'), t0);
    run.step(&Step::Connected(false), t0);
    run.step(&Step::Return, t0);
    let mut doomed = Doomed::default();
    assert_eq!(
        run.host.reap(t0, &mut doomed),
        Some(t0 + Duration::from_secs(10))
    );
    assert_eq!(
        run.host.reap(t0 + Duration::from_secs(11), &mut doomed),
        None
    );
    assert_eq!((doomed.len(), run.host.open), (1, 0));
    // Drained: an idle connection closes now, a busy one when it comes back.
    run.step(&Step::Request('c'), t0);
    run.step(&Step::Connected(false), t0);
    run.step(&Step::Request('c'), t0);
    run.step(&Step::Connected(false), t0);
    run.step(&Step::Return, t0);
    let later = t0 + Duration::from_millis(1);
    run.host.retire_all(later, &mut doomed);
    assert_eq!(run.counts(), (1, 0, 1, 0, 0));
    run.step(&Step::Return, later);
    assert_eq!(run.counts(), (0, 0, 0, 0, 0));
    assert_eq!(run.host.snapshot().closed.closed, 2);
}

#[test]
fn expectation_follows_policy() {
    use crate::config::HttpVersionPolicy::*;
    assert_eq!(ExpectH2::new(Auto, true), ExpectH2::UntilH1);
    assert_eq!(ExpectH2::new(Auto, false), ExpectH2::Never);
    assert_eq!(ExpectH2::new(Http2Only, false), ExpectH2::Always);
    assert_eq!(ExpectH2::new(Http1Only, true), ExpectH2::Never);
}
