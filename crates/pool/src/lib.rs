//! # gangway-pool
//!
//! A per-host HTTP/1.1 and HTTP/2 upstream connection pool built directly on hyper's
//! low-level [`hyper::client::conn`] handshakes, with its own tokio glue ([`rt`]).
//! See `docs/pool.md` in the repository for the questions users keep asking (which pool,
//! when is a connection reused, how to size it).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use http_body_util::{BodyExt, Empty};
//! let client = gangway_pool::Client::builder()
//!     .max_connections_per_host(16)
//!     .build()?;
//! let req = http::Request::get("https://example.com/").body(Empty::<bytes::Bytes>::new())?;
//! let resp = client.request(req).await?;
//! let body = resp.into_body().collect().await?.to_bytes();
//! println!("{} bytes, {:?}", body.len(), client.stats().total);
//! # Ok(()) }
//! ```
//!
//! ## Cargo features
//! Every feature is off by default.
//! - `tower`: `tower_service::Service<http::Request<B>>` for [`Client`] (needs only the
//!   `tower-service` crate): always ready, the per-host queue is inside `call`, errors are
//!   [`Error`]. Use it under `tower::ServiceBuilder` layers (timeouts, concurrency limits).
//! - `native-roots`: `Builder::native_roots` trusts the operating system's certificate
//!   store (through `rustls-native-certs`), next to or instead of the bundled webpki roots
//!   ([`Builder::webpki_roots`]) and PEM files ([`Builder::add_root_certificates_pem`]).
//!
//! ## Retries
//! A request is sent again only when that cannot duplicate it at the upstream:
//! - never written (hyper handed it back, the pooled connection was found dead): any method;
//! - written on a *reused* connection that then closed or reset before any response byte:
//!   once, on a fresh connection, for idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT,
//!   DELETE) whose body the pool holds a copy of (empty, or up to `retry_body_limit`);
//! - HTTP/2 `REFUSED_STREAM` or a graceful GOAWAY before the stream was processed: once,
//!   any method with a replayable body;
//! - never once a response byte has arrived.
//!
//! A request the pool does not send again may still go elsewhere: when it never left, or
//! its replay copy may safely be sent again, the error gives it back
//! ([`Error::take_request`]), as hyper's `TrySendError::into_message` does.
//!
//! ## Spreading load over addresses, draining, shutdown
//! - [`ConnectTo`] (a request extension) sends a request to one resolved address while the
//!   URI's host stays in `Host`, SNI and certificate checks; each address is a pool key.
//! - [`Client::in_flight`] hands out an [`InFlightCount`] for a key, read without a lock.
//! - [`Client::close_key`] drains one key (idle closed now, in-flight finish);
//!   [`Client::close_idle`] closes every idle connection.
//! - [`Client::shutdown`] refuses new requests, lets in-flight ones finish until a
//!   deadline, then closes what is left.
//!
//! ## Outbound proxies
//! [`Builder::proxy`] (a [`Proxy`], `http://[user:password@]host:port`) sends `http://`
//! targets to the proxy in absolute-form with `Proxy-Authorization`, and `https://` targets
//! through a `CONNECT` tunnel with TLS end to end. [`Builder::proxy_from_env`] (off by
//! default) reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (lowercase first). The proxy is
//! part of the pool key.
//!
//! ## Layout
//! - [`rt`]: hyper's IO, executor and timer traits over tokio (the only `unsafe`).
//! - `config`: [`Builder`] and the settings with their defaults.
//! - `client`: [`Client::request`]: checkout → send → retry → response.
//! - `checkout`: take an idle connection, open one, or wait in the FIFO queue.
//! - `pool` / `host`: the shared state, per-host idle lists, HTTP/2 stream counts, limits.
//! - `lease`: what a request holds while it uses a connection; gives it back on drop.
//! - `connect`, `tls`, `handshake`: opening a connection (DNS, filter, TCP, TLS/ALPN, the
//!   HTTP/1.1 or HTTP/2 handshake).
//! - `body`: the request body the pool sends, the response body that returns connections.
//! - `drain`: reading a dropped body's remainder to keep its connection.
//! - `reaper`: the background task closing expired idle connections.
//! - `retry`, `classify`: when a failed request may be sent again (pure, table-tested);
//!   `replay`: the compact copy of a request head that a retry after a stale connection sends.
//! - `hint`: `Connection: close` and `Keep-Alive: timeout=` parsing.
//! - `tower`: the `tower::Service` impl (feature `tower`).
//! - [`Stats`]: the counters. [`Error`]: the one error type.
#![deny(missing_docs)]

mod body;
mod checkout;
mod classify;
mod client;
mod config;
mod connect;
mod drain;
mod error;
mod handshake;
mod hint;
mod host;
mod key;
mod lease;
mod pool;
mod proxy;
mod reaper;
mod replay;
mod retry;
pub mod rt;
mod stats;
mod tls;
#[cfg(feature = "tower")]
mod tower;

pub use body::{RequestBody, ResponseBody};
pub use client::{Client, ConnectTo, InFlightCount, RequestTimeouts};
pub use config::{Builder, HttpVersionPolicy};
pub use connect::{AddressFilter, Resolve, Resolving, SystemResolver};
pub use error::{BoxError, Error};
pub use proxy::Proxy;
pub use stats::{ClosedStats, HostStats, RetryStats, Stats};
#[cfg(feature = "tower")]
pub use tower::ResponseFuture;
