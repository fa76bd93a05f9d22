//! # gangway
//!
//! An HTTP gateway on [`gangway_pool`]: prefix routes to upstreams, or a CORS proxy
//! (`/?url=…`), with bodies streamed end to end.
//!
//! A request flows one way, and the module names say where:
//!
//! ```text
//! conn      accept, one task per connection, h1 / h2c / TLS+ALPN; HTTP/1 bytes pass the
//!           `strict` checker before hyper parses them (conn::strict_io)
//!   → request           one Exchange per request; the strict verdict (400/414/431/501),
//!                       the health check, or the listener's mode: the only place that picks
//!     → route_mode      limits, longest prefix → a Target
//!     | cors_mode       rate limit, preflight, origin, target URL, SSRF → a Target
//!     → upstream        rewrite (hop-by-hop, Host, X-Forwarded-*, Via) → request body →
//!                       gangway_pool::Client::request within its deadline → response rewrite
//!     → body            the upstream's body streamed back; its end ends the Exchange
//!   → exchange          the one place that counts metrics and writes the access line
//! ```
//!
//! ## Layout
//! - `config/`, `cli`: the TOML file and the command line → a validated [`config::Config`].
//! - `gateway`: build the state, bind listeners, run, shut down gracefully.
//! - `conn/`: listeners and connections (`Listener`, `Conn`), TLS (SNI), the strict IO wrapper,
//!   worker runtimes, shutdown signals. It hands each request to `request` and knows no mode.
//! - `request/`: everything between "hyper handed us a request" and "its body ended".
//! - `app`: the shared runtime state (routes, pools, the CORS mode); imports only leaves.
//! - `route/`, `rewrite/`, `strict/`, `cors/`, `syntax`: pure functions (table-tested, fuzzed).
//!   `route/escape` (escaped slashes), `rewrite/forwarded` (trusted proxies),
//!   `rewrite/h2_to_h1`, `rewrite/upgrade_check`, `rewrite/bodyless` (GET/HEAD bodies) are
//!   leaves of the same kind.
//! - `upstream/`: upstream groups — balancing, retry budget, outlier detection, health
//!   checks (pure decisions over atomics).
//! - `observe/`: metrics (`observe::metrics`), the non-blocking log writer, access-line
//!   formats, request ids, trace context, OTLP export, process metrics, log flood control,
//!   the error log's subscriber (`observe::error_log`, level and format reloadable).
//! - `conn/admin`: the admin listener (`/metrics`, `/ready`).
//! - `request/per_route`: a route's own runtime state: rate-limit buckets, its protocol's pool.
//! - `reload/`: the running `App` behind one swap, SIGHUP/`--watch` reloads, readiness.
//! - `conn/systemd`: socket activation (inherited listeners) and `sd_notify` state messages.
//!
//! ## Import direction
//! Imports point down: `gateway`, `reload` → `conn` → `request` → `app` → the leaves
//! (`route/`, `rewrite/`, `strict/`, `cors/`, `syntax`, `config/`, and the state modules `App`
//! holds: `observe::{metrics, access_log, readiness, request_id, flood}`, `upstream/`).
//! `app` never calls up: what needs the whole `App` (`/metrics` rendering in
//! `observe::sink`, reloads in `reload/`) lives above it. `scripts/module-edges.sh` lists the
//! `crate::` edges between modules (a directory's files counted one by one) and fails on a
//! cycle; `scripts/module-edges.sh top` does the same per top-level directory, where
//! cycles remain (e.g. `conn` ↔ `request`, `app` ↔ `observe`/`upstream` through sibling files).
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod conn;
pub mod cors;
pub mod gateway;
pub mod observe;
pub mod reload;
pub mod request;
pub mod rewrite;
pub mod route;
pub mod strict;
pub mod syntax;
pub mod upstream;

pub use conn::{admin, shutdown, systemd, workers};
pub use gateway::{run, start, Running, StartError};
