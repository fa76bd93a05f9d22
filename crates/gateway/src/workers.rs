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
//! and no thundering herd on one shared socket.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The worker threads. Dropping it stops them (their tasks are dropped).
#[derive(Debug)]
pub struct Workers {
    threads: Vec<Worker>,
}

#[derive(Debug)]
struct Worker {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` (at least 1) worker threads named `gangway-worker-N`.
    pub fn start(count: usize) -> io::Result<Workers> {
        let mut threads = Vec::with_capacity(count.max(1));
        for i in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
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
                handle,
                stop: Some(stop),
                thread: Some(thread),
            });
        }
        Ok(Workers { threads })
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
        self.threads[i % self.threads.len()].handle.spawn(fut)
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
pub fn bind_shared(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let probe = socket(addr)?;
    probe.bind(addr).map_err(named)?;
    let addr = probe.local_addr().map_err(named)?;
    drop(probe);
    let mut listeners = Vec::with_capacity(count.max(1));
    for _ in 0..count.max(1) {
        let socket = socket(addr)?;
        socket.set_reuseport(true).map_err(named)?;
        socket.bind(addr).map_err(named)?;
        let listener = socket.listen(BACKLOG).map_err(named)?;
        listeners.push(listener.into_std().map_err(named)?);
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
