//! A small gateway in axum: routes forwarded to upstreams through one shared
//! [`gangway_pool::Client`].
//!
//! ```text
//! cargo run --release -p gangway-pool --example axum_gateway -- \
//!     --listen 127.0.0.1:8080 --route /users=http://127.0.0.1:9001 --route /profiles=http://127.0.0.1:9002
//! ```
//!
//! `--route PREFIX=URL` forwards `PREFIX` and everything under `PREFIX/` to `URL` with the
//! path and query unchanged (`/users/42?x=1` → `URL/users/42?x=1`; a path in `URL` is put
//! in front). Other paths get `404`. The upstream's answer (status, end-to-end headers,
//! body) reaches the client unchanged; a failed upstream gives `502` (`504` on a timeout)
//! with a one-line text body and one log line.
//!
//! The questions this answers next to the code:
//!
//! - **One pool, shared by clones.** [`main`] builds one `Client`; axum clones the state
//!   (and with it the client) into every request. A clone is an `Arc` inside: every
//!   handler uses the same connections, limits and counters. Never build a client per
//!   request: that opens a connection per request.
//! - **Tasks.** `axum::serve` runs one tokio task per accepted client connection, and the
//!   handler — including the upstream request — runs in it. The pool adds one task per
//!   *upstream* connection (hyper's connection driver) and one idle reaper per client;
//!   nothing per request. Bodies stream through both ways: the client's request body is
//!   handed to the pool as it arrives, the upstream's response body to axum as it arrives.
//! - **Which pool a request uses.** Inside the one client, connections are kept per
//!   (scheme, host, port) of the upstream URI, so `/users` and `/profiles` on two
//!   upstreams use two per-host pools, and two routes to one upstream share one.
//!
//! Proxy hygiene: hop-by-hop headers (`Connection` and what it names, `Keep-Alive`, `TE`,
//! `Transfer-Encoding`, `Upgrade`, …) are removed both ways; `Host` becomes the upstream's
//! authority (the client's goes to `X-Forwarded-Host`); the client address is appended to
//! `X-Forwarded-For`.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri};
use axum::routing::any;
use axum::Router;
use clap::Parser;
use tokio::net::TcpListener;

/// Command line: these flags are the example's contract.
#[derive(Debug, Parser)]
#[command(about = "Forwards axum routes to upstreams through one gangway-pool Client")]
pub struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: SocketAddr,
    /// A route, `PREFIX=URL` (e.g. `/users=http://127.0.0.1:9001`); repeatable.
    #[arg(long = "route", value_parser = parse_route, required = true)]
    pub routes: Vec<Route>,
}

/// One `--route`: requests under `prefix` go to `upstream`.
#[derive(Debug, Clone)]
pub struct Route {
    /// Path prefix, starting with `/`, without a trailing `/`.
    pub prefix: String,
    /// Scheme and authority, plus an optional base path.
    pub upstream: Uri,
}

/// Parses `PREFIX=URL`.
pub fn parse_route(s: &str) -> Result<Route, String> {
    let (prefix, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected PREFIX=URL"))?;
    let prefix = prefix.trim_end_matches('/');
    if !prefix.starts_with('/') || prefix.contains(['{', '}', '*']) {
        return Err(format!(
            "{prefix:?}: the prefix must be a plain path like /users"
        ));
    }
    let upstream: Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    match upstream.scheme_str() {
        Some("http" | "https") if upstream.authority().is_some() => {}
        _ => return Err(format!("{url:?}: expected http://host:port or https://…")),
    }
    Ok(Route {
        prefix: prefix.to_string(),
        upstream,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("axum_gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(args.listen).await?;
        tracing::info!(listen = %args.listen, routes = args.routes.len(), "listening");
        serve(listener, args.routes, gangway_pool::Client::new()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum_gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves `routes` on `listener` until the listener fails, forwarding through `client`.
pub async fn serve(
    listener: TcpListener,
    routes: Vec<Route>,
    client: gangway_pool::Client,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(routes, client).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The router: each prefix (alone and with anything under it) to its upstream; 404 else.
pub fn app(routes: Vec<Route>, client: gangway_pool::Client) -> Router {
    let mut router = Router::new();
    for route in routes {
        let upstream = route.upstream.clone();
        let handler =
            move |state: State<gangway_pool::Client>,
                  peer: ConnectInfo<SocketAddr>,
                  req: Request| { forward(state, peer, upstream.clone(), req) };
        router = router
            .route(&route.prefix, any(handler.clone()))
            .route(&format!("{}/{{*rest}}", route.prefix), any(handler));
    }
    router
        .fallback(|| async { text(StatusCode::NOT_FOUND, "no route\n") })
        .with_state(client)
}

async fn forward(
    State(client): State<gangway_pool::Client>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upstream: Uri,
    req: Request,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let uri = match upstream_uri(&upstream, &parts.uri) {
        Ok(uri) => uri,
        Err(e) => {
            tracing::info!(uri = %parts.uri, error = %e, "bad request target");
            return text(StatusCode::BAD_REQUEST, "bad request target\n");
        }
    };
    let client_host = parts.headers.remove(header::HOST);
    remove_hop_by_hop(&mut parts.headers);
    forwarding_headers(&mut parts.headers, peer, client_host);
    parts.uri = uri;
    // HTTP/2 clients: the pool picks the upstream's version by itself.
    parts.version = axum::http::Version::HTTP_11;
    let target = parts.uri.clone();
    // The request body streams to the upstream as it arrives (axum's Body is an
    // `http_body::Body`); nothing is buffered here.
    match client.request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            remove_hop_by_hop(&mut parts.headers);
            // The version is per hop: an HTTP/1.0 upstream's answer goes out in the
            // client connection's version, not as an HTTP/1.0 status line.
            parts.version = axum::http::Version::HTTP_11;
            // The response body streams back the same way.
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) if e.is_timeout() => {
            tracing::warn!(upstream = %target, error = %e, "upstream timed out");
            text(StatusCode::GATEWAY_TIMEOUT, "upstream timed out\n")
        }
        Err(e) => {
            tracing::warn!(upstream = %target, error = %e, "upstream failed");
            text(StatusCode::BAD_GATEWAY, "upstream unavailable\n")
        }
    }
}

/// `upstream` (scheme, authority, optional base path) + the request's path and query.
fn upstream_uri(upstream: &Uri, incoming: &Uri) -> Result<Uri, axum::http::Error> {
    let base = upstream.path().trim_end_matches('/');
    let pq = incoming.path_and_query().map_or("/", |pq| pq.as_str());
    let mut parts = upstream.clone().into_parts();
    parts.path_and_query = Some(format!("{base}{pq}").parse()?);
    Ok(Uri::from_parts(parts)?)
}

/// RFC 9110 §7.6.1: `Connection`, the fields it names, and the classic hop-by-hop set.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::try_from(t.trim()).ok())
        // Framing and forwarding fields stay whatever a peer nominates.
        .filter(|n| *n != header::HOST && *n != header::CONTENT_LENGTH && n != "x-forwarded-for")
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// `Host` is the upstream's (set by the pool from the URI); the client's goes to
/// `X-Forwarded-Host`; the client's address is appended to `X-Forwarded-For`.
fn forwarding_headers(headers: &mut HeaderMap, peer: SocketAddr, client_host: Option<HeaderValue>) {
    let xff = HeaderName::from_static("x-forwarded-for");
    let chain: Vec<&str> = headers
        .get_all(&xff)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = peer.ip().to_string();
    let value = if chain.is_empty() {
        ip
    } else {
        format!("{}, {ip}", chain.join(", "))
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(xff, value);
    }
    if let Some(host) = client_host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
