//! `tower::Service` for [`Client`] (cargo feature `tower`), so the pool slots under tower
//! middleware (timeouts, concurrency limits, retries of the caller's own) and into
//! frameworks that take a service.
//!
//! `poll_ready` is always ready: the per-host limit and its FIFO queue live inside the
//! request (a client serves many hosts, and readiness cannot name one), so back-pressure
//! shows up as the request waiting, then failing with [`Error::is_pool_exhausted`] after
//! [`Builder::checkout_timeout`](crate::Builder::checkout_timeout).
//!
//! `Client` takes any request body type, so a direct caller names it once (a framework or
//! a layer stack that fixes the request type needs nothing):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Empty;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! type Req = http::Request<Empty<Bytes>>;
//! let client = gangway_pool::Client::new();
//! let mut svc = ServiceBuilder::new()
//!     .timeout(Duration::from_secs(5))
//!     .concurrency_limit(64)
//!     .service(client);
//! let req: Req = http::Request::get("http://127.0.0.1:3000/users/42").body(Empty::new())?;
//! let resp = ServiceExt::<Req>::ready(&mut svc).await?.call(req).await?;
//! println!("{}", resp.status());
//!
//! // `oneshot` takes the request, so the body type is inferred.
//! let req = http::Request::get("http://127.0.0.1:3000/users/43").body(Empty::<Bytes>::new())?;
//! let resp = svc.clone().oneshot(req).await?;
//! println!("{}", resp.status());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;

use crate::body::ResponseBody;
use crate::client::Client;
use crate::error::{BoxError, Error};

/// The future [`Client`]'s `Service::call` returns: [`Client::request`], boxed (its type
/// cannot be named).
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Error>> + Send + 'static>>;

impl<B> tower_service::Service<Request<B>> for Client
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = Error;
    type Future = ResponseFuture;

    /// Always ready: waiting for a connection happens per host, inside `call`.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    /// Sends the request through the shared pool, as [`Client::request`] does.
    fn call(&mut self, req: Request<B>) -> Self::Future {
        // A clone shares the pool; the future must own its client to be 'static.
        let client = self.clone();
        Box::pin(async move { client.request(req).await })
    }
}
