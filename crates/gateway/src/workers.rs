//! Worker threads: N single-threaded tokio runtimes, and the round robin that hands each
//! accepted connection to one of them.
//!
//! Why not tokio's multi-threaded scheduler: a proxied request wakes two tasks back and
//! forth (the downstream connection's and hyper's upstream connection task). On a
//! work-stealing scheduler those wakes cross threads (futex wakeups, stolen tasks, shared
//! run queues); measured on the 2-core benchmark machine, the same binary served 40–50k
//! req/s multi-threaded and a steady 52–53k on one current-thread runtime, with a lower
//! p99. So each connection lives on one thread, like an nginx worker, and the pool prefers
//! an idle upstream connection whose task runs on the requesting thread (see
//! `gangway_pool::rt::worker_id`), so a request and its upstream connection share a thread.
//!
//! The accept loops stay on the caller's runtime; only the accepted socket crosses threads,
//! once per connection.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Where connection tasks run.
#[derive(Clone, Debug, Default)]
pub enum Spawner {
    /// On the runtime that accepted them (tests, embedding in an existing runtime).
    #[default]
    Current,
    /// On the worker threads, round robin.
    Workers(Arc<Workers>),
}

impl Spawner {
    /// Runs `serve(stream)` on the chosen runtime.
    pub fn spawn<F, Fut>(&self, stream: tokio::net::TcpStream, serve: F)
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self {
            Spawner::Current => {
                tokio::spawn(serve(stream));
            }
            Spawner::Workers(w) => w.spawn(stream, serve),
        }
    }
}

/// The worker threads. Dropping the last handle stops them (their tasks are dropped).
#[derive(Debug)]
pub struct Workers {
    threads: Vec<Worker>,
    next: AtomicUsize,
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
        Ok(Workers {
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// How many worker threads run.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Always false: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    fn spawn<F, Fut>(&self, stream: tokio::net::TcpStream, serve: F)
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.threads.len();
        // The socket leaves the accepting runtime's reactor and joins the worker's.
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "accepted socket could not be handed to a worker");
                return;
            }
        };
        self.threads[i].handle.spawn(async move {
            match tokio::net::TcpStream::from_std(std_stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::debug!(error = %e, "worker could not register a socket"),
            }
        });
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
