//! What a gateway needs besides sending requests: per-address pools, a lock-free in-flight
//! gauge per pool key, draining one key, and closing the whole client gracefully.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::Uri;

use super::Client;
use crate::error::Error;

/// A request extension: connect to this resolved address instead of resolving the URI's
/// host, while the host still goes into `Host`/`:authority`, TLS SNI and certificate
/// verification.
///
/// Each address is a pool key of its own (its own idle connections, limits and stats,
/// shown as `http://host:port via addr`), so a load balancer can spread requests over the
/// addresses of one name and drain one of them. The address filter still sees the address.
///
/// ```no_run
/// # async fn run(client: gangway_pool::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let mut req = http::Request::get("https://api.example.com/v1")
///     .body(http_body_util::Empty::<bytes::Bytes>::new())?;
/// req.extensions_mut()
///     .insert(gangway_pool::ConnectTo("192.0.2.10:443".parse()?));
/// let resp = client.request(req).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectTo(pub SocketAddr);

/// A request extension: deadlines for this request, overriding the client's
/// [`Builder::request_timeout`](crate::Builder::request_timeout) and
/// [`Builder::response_head_timeout`](crate::Builder::response_head_timeout) where set.
/// A deadline that passes fails the request (or its body) with
/// [`Error::is_timeout`](crate::Error::is_timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestTimeouts {
    /// Until the end of the response body.
    pub total: Option<std::time::Duration>,
    /// Until the response head.
    pub response_head: Option<std::time::Duration>,
}

/// The number of requests in flight on one pool key: holding a connection or an HTTP/2
/// stream (from checkout until the response body ended or was dropped) or opening a
/// connection. Requests still queued for a connection are not counted.
///
/// Get it once with [`Client::in_flight`] and read it per request: a relaxed atomic load,
/// no lock. While any handle lives the key's counters are kept. A key is counted from the
/// first [`Client::in_flight`] call for it on (requests that had already checked out then
/// are not in the count): keys nobody asks about pay nothing for the gauge.
#[derive(Debug, Clone)]
pub struct InFlightCount(Arc<AtomicUsize>);

impl InFlightCount {
    /// The current count.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Client {
    /// The in-flight gauge of the pool key for `uri` (scheme, host, port) and, when given,
    /// the [`ConnectTo`] address.
    ///
    /// # Errors
    /// A URI that is not absolute `http`/`https` ([`Error::is_invalid_uri`]).
    pub fn in_flight(
        &self,
        uri: &Uri,
        connect_to: Option<SocketAddr>,
    ) -> Result<InFlightCount, Error> {
        let key = self.shared.config.proxies.key(uri, connect_to)?;
        Ok(InFlightCount(self.shared.in_flight(&key)))
    }

    /// Closes every idle connection now; busy ones are untouched and are kept as usual.
    pub fn close_idle(&self) {
        self.shared.close_idle();
    }

    /// Drains one pool key (the `uri`'s scheme, host and port, and the [`ConnectTo`]
    /// address if given): its idle connections close now, busy ones close when their
    /// request ends, HTTP/2 connections take no new streams. Later requests to the key
    /// open new connections. For taking an upstream address out of rotation.
    ///
    /// # Errors
    /// A URI that is not absolute `http`/`https` ([`Error::is_invalid_uri`]).
    pub fn close_key(&self, uri: &Uri, connect_to: Option<SocketAddr>) -> Result<(), Error> {
        let key = self.shared.config.proxies.key(uri, connect_to)?;
        self.shared.close_key(&key);
        Ok(())
    }

    /// Closes the client gracefully: new requests, and requests waiting for a connection,
    /// fail at once with an error for which [`Error::is_closed`] is true ("the client is
    /// shut down"); idle connections close now; requests in flight may finish until
    /// `deadline`, their connections closing as they end; at the deadline the connections
    /// still open are closed. Returns `true` when everything finished before the deadline.
    ///
    /// Applies to every clone of this client. Needs a tokio runtime with a timer.
    pub async fn shutdown(&self, deadline: Instant) -> bool {
        self.shared.shutdown(deadline).await
    }
}
