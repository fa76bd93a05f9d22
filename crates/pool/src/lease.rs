//! What a request holds while it uses the pool: a [`Lease`] on a connection (an HTTP/1.1
//! connection to itself, or one HTTP/2 stream), or a [`ConnectPermit`] to open a new one.
//!
//! Both give back what they hold when dropped, so a cancelled request (a client that went
//! away, a timeout) can never leak a slot of the per-host limit. They hold only a `Weak`
//! reference: a dropped client closes its connections even while leases are out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;

use crate::body::RequestBody;
use crate::error::BoxError;
use crate::host::Out;
use crate::key::Key;
use crate::pool::{H1Conn, H1Tx, H2Tx, Shared, SharedRef};
use crate::retry::Failure;
use crate::stats::CloseReason;

/// What a waiter receives when a resource frees up.
pub(crate) enum Grant {
    Lease(Lease),
    Connect(ConnectPermit),
}

impl Grant {
    /// Takes back what a waiter did not take, without running any `Drop` that would lock
    /// the pool (its lock is held).
    pub(crate) fn defuse(self) -> Option<Out<H1Tx, H2Tx>> {
        match self {
            Grant::Lease(lease) => lease.defuse(),
            Grant::Connect(permit) => Some(Out::Connect {
                expect_h2: permit.defuse(),
            }),
        }
    }
}

/// One request counted in its host's in-flight gauge while this lives: held by the permit
/// that opens a connection, then by the lease that uses it.
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) enum Conn {
    H1(H1Conn),
    H2 {
        id: u64,
        tx: H2Tx,
    },
    /// Already given back.
    Gone,
}

/// The right to send one request on a pooled connection.
pub(crate) struct Lease {
    shared: Weak<Shared>,
    key: Key,
    conn: Conn,
    reused: bool,
    /// Set when the response says the connection must not be reused.
    no_reuse: Option<CloseReason>,
    _in_flight: Option<InFlight>,
}

impl Lease {
    pub(crate) fn h1(
        shared: &SharedRef,
        key: &Key,
        conn: H1Conn,
        reused: bool,
        in_flight: Option<InFlight>,
    ) -> Self {
        Self {
            shared: SharedRef::downgrade(shared),
            key: key.clone(),
            conn: Conn::H1(conn),
            reused,
            no_reuse: None,
            _in_flight: in_flight,
        }
    }

    pub(crate) fn h2(
        shared: &SharedRef,
        key: &Key,
        id: u64,
        tx: H2Tx,
        reused: bool,
        in_flight: Option<InFlight>,
    ) -> Self {
        Self {
            shared: SharedRef::downgrade(shared),
            key: key.clone(),
            conn: Conn::H2 { id, tx },
            reused,
            no_reuse: None,
            _in_flight: in_flight,
        }
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// The connection had carried a request before this one.
    pub(crate) fn is_reused(&self) -> bool {
        self.reused
    }

    pub(crate) fn is_h2(&self) -> bool {
        matches!(self.conn, Conn::H2 { .. })
    }

    /// Sends on the leased connection. hyper hands the request back when it never wrote it.
    pub(crate) async fn send(
        &mut self,
        req: Request<RequestBody>,
    ) -> Result<Response<Incoming>, SendFailure> {
        match &mut self.conn {
            Conn::H1(c) => {
                // A connection goes back to the pool the moment its response body ends;
                // hyper's dispatcher may need one more turn before it takes the next
                // request (its `poll_ready` is not ready at once). Wait for that turn here rather
                // than leave the connection out of the pool meanwhile, where the next
                // request would miss it and open another.
                // Almost always ready at once: skip building the timer then.
                let tx = c.tx_mut();
                let ready = if tx.is_ready() {
                    Ok(())
                } else {
                    Self::ready_within(tx).await
                };
                if let Err(error) = ready {
                    // Closed while idle (or stuck): nothing was written, send it elsewhere.
                    self.no_reuse = Some(CloseReason::ServerClose);
                    return Err(SendFailure {
                        error,
                        request: Some(req),
                        failure: Failure::NotWritten,
                    });
                }
                tx.try_send_request(req).await.map_err(failed)
            }
            Conn::H2 { tx, .. } => tx.try_send_request(req).await.map_err(failed),
            // A lease is never used after giving its connection back; if it were, handing
            // the request back unwritten keeps the caller correct (it goes elsewhere).
            Conn::Gone => Err(SendFailure {
                error: "connection already released".into(),
                request: Some(req),
                failure: Failure::NotWritten,
            }),
        }
    }

    async fn ready_within(tx: &mut H1Tx) -> Result<(), BoxError> {
        match tokio::time::timeout(READY_WAIT, tx.ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Box::new(e) as BoxError),
            Err(_) => {
                Err(format!("connection not ready for a request within {READY_WAIT:?}").into())
            }
        }
    }

    /// Learns from the response head whether and how long the connection may be reused.
    pub(crate) fn note_response<B>(&mut self, resp: &Response<B>, keep_alive_margin: Duration) {
        let Conn::H1(conn) = &mut self.conn else {
            return;
        };
        if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            self.no_reuse = Some(CloseReason::Upgraded);
            return;
        }
        if resp.version() < http::Version::HTTP_11 || crate::hint::connection_close(resp.headers())
        {
            self.no_reuse = Some(CloseReason::ServerClose);
            return;
        }
        if let Some(hint) = crate::hint::keep_alive_timeout(resp.headers()) {
            conn.set_idle_hint(crate::hint::idle_life(hint, keep_alive_margin));
        }
    }

    /// The response body was read to its end: the connection can serve the next request.
    pub(crate) fn body_done(mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::H1(conn) => {
                if let Some(reason) = self.no_reuse {
                    shared.discard_h1(&self.key, conn, reason);
                } else {
                    // Idle at once, even if hyper's dispatcher has not yet turned to wait for
                    // the next request: `send` waits for that turn.
                    shared.put_idle(&self.key, conn);
                }
            }
            Conn::H2 { id, .. } => shared.release_stream(&self.key, id),
            Conn::Gone => {}
        }
    }

    /// The caller dropped the response body before its end.
    pub(crate) fn body_dropped(mut self, body: Incoming) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::H1(conn) => {
                if let Some(reason) = self.no_reuse {
                    drop(body);
                    shared.discard_h1(&self.key, conn, reason);
                } else {
                    crate::drain::spawn(shared, self.key.clone(), conn, body);
                }
            }
            // Dropping the body resets just this stream (RST_STREAM CANCEL); the connection
            // is unaffected.
            Conn::H2 { id, .. } => {
                drop(body);
                shared.release_stream(&self.key, id);
            }
            Conn::Gone => {}
        }
    }

    /// Takes the connection out without giving it back (the pool's lock is held).
    fn defuse(mut self) -> Option<Out<H1Tx, H2Tx>> {
        let reused = self.reused;
        match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::H1(conn) => Some(Out::H1 { conn, reused }),
            Conn::H2 { id, tx } => Some(Out::H2 { id, tx, reused }),
            Conn::Gone => None,
        }
    }
}

/// How long a pooled HTTP/1.1 connection may take to become ready for the next request.
const READY_WAIT: Duration = Duration::from_secs(1);

/// A failed send: the error, the request if hyper never wrote it, and what kind of failure
/// it was for the retry rules.
pub(crate) struct SendFailure {
    pub(crate) error: BoxError,
    pub(crate) request: Option<Request<RequestBody>>,
    pub(crate) failure: Failure,
}

fn failed(e: TrySendError<Request<RequestBody>>) -> SendFailure {
    let mut e = e;
    let request = e.take_message();
    let error = e.into_error();
    let failure = if request.is_some() {
        Failure::NotWritten
    } else {
        crate::classify::failure(&error)
    };
    SendFailure {
        error: Box::new(error),
        request,
        failure,
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let conn = std::mem::replace(&mut self.conn, Conn::Gone);
        if matches!(conn, Conn::Gone) {
            return;
        }
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        match conn {
            // Dropped mid-request (cancelled, failed): the connection's state is unknown.
            Conn::H1(c) => {
                shared.discard_h1(&self.key, c, self.no_reuse.unwrap_or(CloseReason::Error))
            }
            Conn::H2 { id, .. } => shared.release_stream(&self.key, id),
            Conn::Gone => {}
        }
    }
}

/// The right to open one new connection to a host, counted against its limit.
pub(crate) struct ConnectPermit {
    shared: Weak<Shared>,
    key: Key,
    expect_h2: bool,
    armed: bool,
    in_flight: Option<InFlight>,
}

impl ConnectPermit {
    pub(crate) fn new(
        shared: &SharedRef,
        key: &Key,
        expect_h2: bool,
        in_flight: Option<InFlight>,
    ) -> Self {
        Self {
            shared: SharedRef::downgrade(shared),
            key: key.clone(),
            expect_h2,
            armed: true,
            in_flight,
        }
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    pub(crate) fn expect_h2(&self) -> bool {
        self.expect_h2
    }

    /// The connection was established (or the attempt ended): the permit is used up.
    /// Returns the request's place in the in-flight gauge, for the lease.
    pub(crate) fn consume(mut self) -> Option<InFlight> {
        self.armed = false;
        self.in_flight.take()
    }

    /// Takes the permit back under the pool's lock; returns whether it expected HTTP/2.
    pub(crate) fn defuse(mut self) -> bool {
        self.armed = false;
        self.expect_h2
    }
}

impl Drop for ConnectPermit {
    fn drop(&mut self) {
        if self.armed {
            if let Some(shared) = self.shared.upgrade() {
                shared.connect_failed(&self.key, self.expect_h2, false);
            }
        }
    }
}
