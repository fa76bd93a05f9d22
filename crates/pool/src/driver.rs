//! An HTTP/1.1 connection driven by whoever holds it, without a task of its own.
//!
//! hyper's `client::conn::http1` splits a connection into the sending half
//! (`SendRequest`) and the `Connection` future that does the IO; the future must be polled
//! for a request to make progress. Spawning it as a task costs every request a hop to that
//! task and back (its wake-up to write the request, the response's wake-up of the caller).
//! An HTTP/1.1 connection carries one request at a time, so [`H1Tx`] keeps the future
//! beside the sender and polls it in the task of the request that holds the connection:
//! [`H1Tx::drive`] around the send, and the response body's `poll_frame` polls it before
//! the body (see `body.rs`).
//!
//! While the connection is idle in the pool nobody polls it. [`H1Tx::park`] polls it once
//! with the connection's [`Watch`] as waker, so the IO registers the watch: when the server
//! closes the idle connection (or sends anything), the watch spawns a short task that polls
//! the connection under the pool's lock and forgets it if it ended.
//!
//! A shutdown past its deadline [aborts](Abort::abort) connections: an HTTP/1.1 one is
//! flagged and the request polling it woken; the next poll drops the connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;
use hyper::client::conn::http1;
use tokio::task::AbortHandle;

use crate::body::RequestBody;
use crate::error::BoxError;
use crate::key::Key;
use crate::pool::Shared;

/// hyper's connection future, with the IO type erased (TCP, TLS, a tunnel).
pub(crate) type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// The sending half of an HTTP/1.1 connection together with the future that drives it.
pub(crate) struct H1Tx {
    tx: http1::SendRequest<RequestBody>,
    /// `None` once the connection ended (or was aborted).
    driver: Option<Driver>,
    watch: Arc<Watch>,
    /// `watch` as a waker, made once per connection.
    idle_waker: Waker,
}

/// What a connection's IO wakes while the connection is idle, and the shutdown's handle on it.
pub(crate) struct Watch {
    id: u64,
    key: Key,
    shared: Weak<Shared>,
    runtime: Option<tokio::runtime::Handle>,
    /// A request holds the connection: wake-ups are its own, the watch ignores them.
    leased: AtomicBool,
    /// A check is already spawned.
    checking: AtomicBool,
    aborted: AtomicBool,
    /// The task that last drove the connection for a request (woken by an abort).
    busy: AtomicWaker,
}

impl Watch {
    pub(crate) fn new(id: u64, key: Key, shared: Weak<Shared>) -> Arc<Self> {
        Arc::new(Self {
            id,
            key,
            shared,
            runtime: tokio::runtime::Handle::try_current().ok(),
            leased: AtomicBool::new(true),
            checking: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            busy: AtomicWaker::new(),
        })
    }
}

impl Wake for Watch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.leased.load(Ordering::Acquire) || self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(runtime) = self.runtime.as_ref() else {
            self.checking.store(false, Ordering::Release);
            return;
        };
        // Not polled here: a waker may run where the pool's lock is held.
        let watch = Arc::clone(self);
        runtime.spawn(async move {
            watch.checking.store(false, Ordering::Release);
            if let Some(shared) = watch.shared.upgrade() {
                shared.check_idle(&watch.key, watch.id);
            }
        });
    }
}

/// A way to end an open connection when a shutdown's deadline passes.
pub(crate) enum Abort {
    /// An HTTP/2 connection's task.
    Task(AbortHandle),
    /// An HTTP/1.1 connection driven by its holder.
    H1(Arc<Watch>),
}

impl Abort {
    pub(crate) fn abort(&self) {
        match self {
            Abort::Task(task) => task.abort(),
            Abort::H1(watch) => {
                watch.aborted.store(true, Ordering::Release);
                watch.busy.wake();
            }
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Abort::Task(task) => task.is_finished(),
            // Forgotten when its `H1Tx` drops.
            Abort::H1(_) => false,
        }
    }
}

impl H1Tx {
    pub(crate) fn new(
        tx: http1::SendRequest<RequestBody>,
        driver: Driver,
        watch: Arc<Watch>,
    ) -> Self {
        let idle_waker = Waker::from(Arc::clone(&watch));
        Self {
            tx,
            driver: Some(driver),
            watch,
            idle_waker,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.driver.is_none() || self.tx.is_closed()
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.driver.is_some() && self.tx.is_ready()
    }

    /// A request takes the connection: from now on it drives it.
    pub(crate) fn lease(&self) {
        self.watch.leased.store(true, Ordering::Release);
    }

    /// Back in the pool (or never taken): the watch notices what happens to it.
    pub(crate) fn unlease(&self) {
        self.watch.leased.store(false, Ordering::Release);
    }

    /// Polls the connection for the request holding it. Ready when the connection ended.
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.driver.is_none() {
            return Poll::Ready(());
        }
        self.watch.busy.register(cx.waker());
        self.poll_driver(cx)
    }

    fn poll_driver(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(driver) = self.driver.as_mut() else {
            return Poll::Ready(());
        };
        if self.watch.aborted.load(Ordering::Acquire) {
            // Dropping the connection fails what is in flight on it.
            self.driver = None;
            return Poll::Ready(());
        }
        match driver.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "upstream h1 connection ended with error");
                }
                self.driver = None;
                Poll::Ready(())
            }
        }
    }

    /// Goes idle: polls the connection once with the watch as its waker, so a close while
    /// idle is noticed. Returns whether it is still open.
    pub(crate) fn park(&mut self) -> bool {
        self.unlease();
        self.poll_idle()
    }

    /// Polls an idle connection (a wake-up of its watch). Returns whether it is still open.
    pub(crate) fn poll_idle(&mut self) -> bool {
        let waker = self.idle_waker.clone();
        let mut cx = Context::from_waker(&waker);
        self.poll_driver(&mut cx).is_pending()
    }

    /// Runs `fut` while driving the connection: what a request on it awaits.
    pub(crate) async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            // The connection first: it writes the request and reads what `fut` waits for.
            let _ = self.poll_drive(cx);
            fut.as_mut().poll(cx)
        })
        .await
    }

    /// Waits until the connection takes a request, driving it meanwhile.
    pub(crate) async fn ready(&mut self) -> Result<(), BoxError> {
        std::future::poll_fn(|cx| {
            let ended = self.poll_drive(cx).is_ready();
            match self.tx.poll_ready(cx) {
                Poll::Ready(Ok(())) if !ended => Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => Poll::Ready(Err("connection closed".into())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(Box::new(e) as BoxError)),
                Poll::Pending if ended => Poll::Ready(Err("connection closed".into())),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Sends `req`, driving the connection until the response head (or the failure).
    pub(crate) async fn send(
        &mut self,
        req: http::Request<RequestBody>,
    ) -> Result<
        http::Response<hyper::body::Incoming>,
        hyper::client::conn::TrySendError<http::Request<RequestBody>>,
    > {
        let sent = self.tx.try_send_request(req);
        self.drive(sent).await
    }

    /// Hands the connection to a task of its own: after a `101 Switching Protocols`, hyper
    /// gives the IO to `hyper::upgrade::on` only from the connection future.
    pub(crate) fn detach(&mut self) {
        let Some(driver) = self.driver.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = driver.await {
                    tracing::debug!(error = %e, "upstream h1 connection ended with error");
                }
            });
        }
    }
}

impl Drop for H1Tx {
    fn drop(&mut self) {
        if let Some(shared) = self.watch.shared.upgrade() {
            shared.untrack(self.watch.id);
        }
    }
}

impl crate::host::Sender for H1Tx {
    fn is_closed(&self) -> bool {
        H1Tx::is_closed(self)
    }
    fn is_ready(&self) -> bool {
        H1Tx::is_ready(self)
    }
}
