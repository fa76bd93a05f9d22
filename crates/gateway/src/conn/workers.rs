//! Worker threads: N single-threaded tokio runtimes, each accepting and serving its own
//! connections, like nginx workers.
//!
//! Why not tokio's multi-threaded scheduler: a proxied request wakes two tasks back and
//! forth (the downstream connection's and hyper's upstream connection task). On a
//! work-stealing scheduler those wakes cross threads (futex wakeups, stolen tasks, shared
//! run queues); measured on the 2-core benchmark machine, the same binary served 40–50k
//! req/s multi-threaded and a steady 50–53k on one current-thread runtime, with a lower
//! p99. So a connection lives on one thread from accept to close, and the pool prefers an
//! idle upstream connection whose task runs on the requesting thread (see
//! `gangway_pool::rt::worker_id`), so a request and its upstream connection share a thread.
//!
//! Each worker accepts on its own socket bound with `SO_REUSEPORT` (see [`bind_shared`]):
//! the kernel spreads new connections over the workers, with no hand-over between threads
//! and no thundering herd on one shared socket. The kernel picks by a hash of the client's
//! address, so 64 connections land 24/40 as often as 32/32, and the busier worker's
//! clients see twice the latency (measured: p99 3.0 ms balanced, 7.0 ms at 38/62% CPU).
//! [`Balance`] evens that out: a worker that already serves clearly more connections than
//! the least loaded one hands a new connection over to it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The worker threads. Dropping it stops them (their tasks are dropped).
#[derive(Debug)]
pub struct Workers {
    threads: Vec<Worker>,
    balance: Arc<Balance>,
}

/// Live connections per worker, and the way to hand a connection to another worker.
#[derive(Debug)]
pub struct Balance {
    live: Vec<AtomicUsize>,
    handles: Vec<Handle>,
}

/// Counts one connection on its worker while alive.
#[derive(Debug)]
pub struct LiveGuard {
    balance: Arc<Balance>,
    worker: usize,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if let Some(n) = self.balance.live.get(self.worker) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Balance {
    /// The worker that should serve a connection worker `me` just accepted: `me`, unless it
    /// serves more than the least loaded worker plus some slack (1 + 1/16 of that worker's
    /// count, so small fluctuations never cost a hand-over).
    pub fn pick(&self, me: usize) -> usize {
        let load = |i: usize| self.live.get(i).map_or(0, |n| n.load(Ordering::Relaxed));
        let (least, least_load) = (0..self.live.len())
            .map(|i| (i, load(i)))
            .min_by_key(|&(_, n)| n)
            .unwrap_or((me, 0));
        if load(me) > least_load + 1 + least_load / 16 {
            least
        } else {
            me
        }
    }

    /// Counts a connection on `worker` until the guard drops.
    pub fn enter(self: &Arc<Self>, worker: usize) -> LiveGuard {
        if let Some(n) = self.live.get(worker) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        LiveGuard {
            balance: Arc::clone(self),
            worker,
        }
    }

    /// Runs `serve(stream)` on `worker`: the socket leaves this worker's reactor and joins
    /// the other's.
    pub fn hand_over<F, Fut>(&self, worker: usize, stream: tokio::net::TcpStream, serve: F)
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (Some(handle), Ok(std_stream)) = (self.handles.get(worker), stream.into_std()) else {
            tracing::debug!("accepted socket could not be handed to another worker");
            return;
        };
        handle.spawn(async move {
            match tokio::net::TcpStream::from_std(std_stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::debug!(error = %e, "worker could not register a socket"),
            }
        });
    }
}

#[derive(Debug)]
struct Worker {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` (at least 1) worker threads named `gangway-worker-N`.
    pub fn start(count: usize) -> io::Result<Workers> {
        let mut threads = Vec::with_capacity(count.max(1));
        let mut handles = Vec::with_capacity(count.max(1));
        for i in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let thread = std::thread::Builder::new()
                .name(format!("gangway-worker-{i}"))
                .spawn(move || {
                    gangway_pool::rt::set_worker_id(id);
                    // Serves every task spawned here until told to stop (or the sender is
                    // dropped); dropping the runtime then drops what is left.
                    let _ = runtime.block_on(stopped);
                })?;
            threads.push(Worker {
                stop: Some(stop),
                thread: Some(thread),
            });
        }
        let balance = Arc::new(Balance {
            live: handles.iter().map(|_| AtomicUsize::new(0)).collect(),
            handles,
        });
        Ok(Workers { threads, balance })
    }

    /// The connection balance between the workers.
    pub fn balance(&self) -> &Arc<Balance> {
        &self.balance
    }

    /// How many worker threads run.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Always false: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Runs `fut` on worker `i` (modulo the worker count).
    pub fn spawn_on<F>(&self, i: usize, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles = &self.balance.handles;
        handles[i % handles.len()].spawn(fut)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.threads {
            drop(w.stop.take());
        }
        for w in &mut self.threads {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Binds `count` listening sockets to `addr` with `SO_REUSEPORT`, one per worker.
///
/// `SO_REUSEPORT` would also let a second process (a second gangway started by mistake)
/// bind the same port and silently take half its connections. So the address is first
/// bound once without it: that fails, with the usual "address in use", when anyone holds
/// the port. Port 0 is resolved by that first bind, so every worker gets the same port.
/// Call it within a tokio runtime: the sockets pass through its reactor on the way to
/// std listeners (each worker then registers its own with its own reactor).
pub fn bind_shared(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let probe = socket(addr)?;
    probe.bind(addr).map_err(named)?;
    let addr = probe.local_addr().map_err(named)?;
    drop(probe);
    let mut listeners = Vec::with_capacity(count.max(1));
    #[cfg(unix)]
    for _ in 0..count.max(1) {
        let socket = socket(addr)?;
        socket.set_reuseport(true).map_err(named)?;
        socket.bind(addr).map_err(named)?;
        let listener = socket.listen(BACKLOG).map_err(named)?;
        listeners.push(listener.into_std().map_err(named)?);
    }
    // Without SO_REUSEPORT: one socket, its handle duplicated for every worker (they share
    // one accept queue).
    #[cfg(not(unix))]
    {
        let socket = socket(addr)?;
        socket.bind(addr).map_err(named)?;
        let first = socket
            .listen(BACKLOG)
            .map_err(named)?
            .into_std()
            .map_err(named)?;
        for _ in 1..count.max(1) {
            listeners.push(first.try_clone().map_err(named)?);
        }
        listeners.push(first);
    }
    Ok(listeners)
}

/// Pending connections each worker's socket queues (tokio's `TcpListener::bind` default).
const BACKLOG: u32 = 1024;

fn socket(addr: SocketAddr) -> io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restart may bind while old connections linger in
    // TIME_WAIT.
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clearly_busier_worker_hands_over_to_the_least_loaded() {
        let workers = Workers::start(3).expect("workers");
        let b = workers.balance();
        let mut guards = Vec::new();
        for (worker, n) in [(0, 10), (1, 9), (2, 5)] {
            guards.extend((0..n).map(|_| b.enter(worker)));
        }
        assert_eq!((b.pick(0), b.pick(1), b.pick(2)), (2, 2, 2));
        guards.extend((0..4).map(|_| b.enter(2)));
        // 10 against 9: within the slack, no hand-over.
        assert_eq!((b.pick(0), b.pick(1), b.pick(2)), (0, 1, 2));
        // Connections that end are no longer counted.
        guards.retain(|g| g.worker != 0);
        assert_eq!(b.pick(1), 0);
    }

    #[tokio::test]
    async fn bind_shared_gives_every_worker_the_same_port_and_refuses_a_taken_one() {
        let listeners = bind_shared("127.0.0.1:0".parse().expect("addr"), 3).expect("bind");
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr").port())
            .collect();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| *p == ports[0] && *p != 0));
        let taken = listeners[0].local_addr().expect("addr");
        let err = bind_shared(taken, 2).expect_err("port in use");
        assert!(err.to_string().contains("cannot listen on"), "{err}");
    }
}
