//! Driving a served connection to its end: beside it, the stop and close signals and the
//! `idle` watchdog (close, or park an idle HTTP/1 connection); and the log lines of how it
//! ended.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::app::{App, ConnInfo};
use crate::request;

use super::{idle, shutdown, Signals};

/// How [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Driven {
    /// The connection is over; dropping it closes the socket.
    Ended,
    /// hyper's connection ended with the socket open, to be parked (see `park`).
    Parked,
}

/// Serves a connection to its end. On the stop signal it asks the connection to finish
/// gracefully (HTTP/1.1: after the request in flight; HTTP/2: GOAWAY); on the close signal
/// (the grace period is over) it stops polling, and returning drops the connection.
pub(super) async fn drive<C>(
    mut conn: std::pin::Pin<&mut C>,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
    app: &Arc<App>,
    info: &ConnInfo,
    signals: &mut Signals,
    watchdog: Watchdog<'_, impl std::future::Future<Output = idle::Due>>,
) -> Driven
where
    C: std::future::Future<Output = Result<(), hyper::Error>>,
{
    let Watchdog {
        expired,
        h2,
        activity,
    } = watchdog;
    let mut expired = std::pin::pin!(expired);
    tokio::select! {
        // Connection first: when the stop came before the connection was first polled,
        // this reads the request already waiting, so the graceful shutdown below finishes
        // it instead of closing the connection as idle.
        biased;
        r = conn.as_mut() => log_end(app, info, r.err()),
        _ = shutdown::signalled(&mut signals.stop) => {
            graceful(conn.as_mut());
            tokio::select! {
                r = conn.as_mut() => log_end(app, info, r.err()),
                _ = shutdown::signalled(&mut signals.close) => log_closed(info),
                // A head still trickling in is not waited for.
                _ = &mut expired => {}
            }
        }
        due = &mut expired => match due {
            idle::Due::Park => {
                // hyper ends an idle connection at once; a request that slipped in is
                // served first (with `Connection: close`: the connection is not parked).
                graceful(conn.as_mut());
                tokio::select! {
                    r = conn.as_mut() => {
                        if activity.parked() && r.is_ok() {
                            return Driven::Parked;
                        }
                        log_end(app, info, r.err());
                    }
                    _ = shutdown::signalled(&mut signals.close) => log_closed(info),
                }
            }
            idle::Due::Close(phase) => {
                tracing::debug!(client = %info.peer, ?phase, "client connection timed out; closing");
                if h2 {
                    // GOAWAY, then the close once the client acknowledged it (its PING) —
                    // or at the bound below for a client that never answers.
                    graceful(conn.as_mut());
                    tokio::select! {
                        r = conn.as_mut() => log_end(app, info, r.err()),
                        _ = tokio::time::sleep(GOAWAY_WAIT) => {}
                        _ = shutdown::signalled(&mut signals.close) => log_closed(info),
                    }
                }
                // HTTP/1: nothing is in flight (idle) or the head is late: just close.
            }
        },
    }
    Driven::Ended
}

/// What `drive` waits on beside the connection: its `idle` deadline.
pub(super) struct Watchdog<'a, F> {
    pub(super) expired: F,
    pub(super) h2: bool,
    pub(super) activity: &'a idle::Activity,
}

/// How long an HTTP/2 connection closed for idleness may take to acknowledge its GOAWAY.
const GOAWAY_WAIT: Duration = Duration::from_secs(5);

/// Dropping the connection closes the socket and cancels its in-flight request (the
/// upstream request too: the pool closes an HTTP/1.1 connection whose request was dropped).
fn log_closed(info: &ConnInfo) {
    tracing::debug!(client = %info.peer, "grace period over; connection closed");
}

fn log_end(app: &Arc<App>, info: &ConnInfo, err: Option<hyper::Error>) {
    if let Some(e) = err {
        // hyper answered this one itself (431 or 400) and never handed it to the service:
        // it still gets its access line.
        if e.is_parse_too_large() {
            request::Exchange::unparsed(app, info, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        } else if e.is_parse() {
            request::Exchange::unparsed(app, info, StatusCode::BAD_REQUEST);
        }
        tracing::debug!(client = %info.peer, error = %e, "connection ended with error");
    }
}
