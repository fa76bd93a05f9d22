//! # gangway
//!
//! An HTTP gateway on [`gangway_pool`]: prefix routes to upstreams, or a CORS proxy
//! (`/?url=…`), with bodies streamed end to end.
//!
//! A request flows one way, and the file names say where:
//!
//! ```text
//! server (accept, one task per connection, h1 / h2c / TLS+ALPN)
//!   → strict_io (HTTP/1: every byte checked by `strict` before hyper parses it;
//!                refusals 400/414/431/501 + close; HTTP/2: field rules)
//!   → handle (health check, or the listener's mode)
//!   → route (longest prefix, dot-segments)       | cors_mode (rate limit, preflight, origin, target, SSRF)
//!   → rewrite (hop-by-hop, Host, X-Forwarded-*, Via)
//!   → gangway_pool::Client::request (checkout, send, safe retries)
//!   → body (stream the upstream's body back, idle timeout, access log at the end)
//! ```
//!
//! ## Layout
//! - `config/`, `cli`: the TOML file and the command line → a validated [`config::Config`].
//! - `gateway`: build the state, bind listeners, run, shut down gracefully.
//! - `server`: accept loop and connection serving; `admin`: `/metrics`.
//! - `app`: the shared runtime state; `shutdown`: signal and drain; `workers`: the
//!   single-threaded runtimes connections are served on.
//! - `route`, `rewrite`: pure functions of the request path (fuzzed).
//! - `strict`: the pure, incremental HTTP/1 request checker (what hyper accepts but a
//!   proxy must refuse); `strict_io`: the IO wrapper and service glue around it.
//! - `forward`: route mode; `cors_mode`: CORS mode's IO; `cors/`: its pure rules.
//! - `inbound`, `body`: request and response bodies with their limits; `upgrade`: 101s.
//! - `error`: failures → 4xx/5xx text responses; `metrics`: counters and histograms.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod body;
pub mod cli;
pub mod config;
pub mod cors;
pub mod cors_mode;
pub mod error;
pub mod forward;
pub mod forwarded;
pub mod gateway;
pub mod h2_to_h1;
pub mod inbound;
pub mod metrics;
pub mod path_escape;
pub mod rewrite;
pub mod route;
pub mod server;
pub mod shutdown;
pub mod strict;
pub mod strict_io;
pub mod tls;
pub mod upgrade;
pub mod upgrade_check;
pub mod workers;

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use app::{App, ConnInfo, Mode};
use body::ProxyBody;

pub use gateway::{run, start, Running, StartError};

/// Serves one request: the health check, or the listener's mode.
pub async fn handle(
    app: &Arc<App>,
    conn: &ConnInfo,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if req.uri().path() == app.settings.health_path
        && (req.method() == Method::GET || req.method() == Method::HEAD)
    {
        let started = std::time::Instant::now();
        let resp = forward::health();
        app.metrics
            .observe(app.metrics.gateway(), 200, started.elapsed(), 3);
        return resp;
    }
    match (conn.mode, &app.cors) {
        // Boxed: the CORS path's future is the larger of the two, and an unboxed branch
        // would size (and copy, per request) every route-mode request's future with it.
        (Mode::Cors, Some(cors)) => Box::pin(cors_mode::handle(app, cors, conn, req)).await,
        _ => forward::handle(app, conn, req).await,
    }
}
