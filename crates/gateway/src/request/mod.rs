//! Everything between "hyper handed us a request" and "its response body ended".
//!
//! [`handle`] is the entry and the only place that picks a path: the strict checker's
//! verdict (a refusal), the health check, or the listener's mode. Every path works on one
//! [`Exchange`], built here, and hands its response back here, where
//! [`Exchange::finish`] ends it (or gives it to the streamed body to end): that is the one
//! place a request is counted and logged.
//!
//! - `route_mode`, `cors_mode`: what each mode checks, and the [`Target`] it picks;
//! - `upstream`: the leg both modes share (rewrite, body, pool call, response);
//! - `inbound`, `body`: request and response bodies with their limits; `upgrade`: 101s;
//! - `error`: failures → short text responses; `exchange`, `access`: the end of a request.

pub mod body;
pub mod error;
pub mod exchange;
pub mod inbound;
pub mod per_route;
pub mod upgrade;
pub mod upstream;

mod access;
mod cors_mode;
mod forwarding;
mod group;
mod guard;
mod route_mode;
mod route_rules;
pub mod tunnel;

use std::sync::Arc;

use http::header::{CONNECTION, ORIGIN};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo, Mode};
use crate::strict::Violation;

pub use body::{Outcome, ProxyBody, StreamLimits};
pub use error::{text_response, Fault, GatewayError};
pub use exchange::Exchange;
pub use upstream::{Target, Wait};

/// Serves one request: refused with `violation` when the strict checker found one, else
/// the health check, else the listener's mode.
///
/// Everything up to the upstream call is decided synchronously (`plan`); this future
/// awaits only the call itself. Each async level would hold (and copy, per request) its
/// child's whole future, so a route-mode request goes from here straight to
/// [`upstream::call`]; the rare, larger paths (CORS, groups) are boxed.
///
/// `then` maps the ended response to what the connection serves (its own wrapper, its
/// checks): taking it here, with owned arguments, makes this the connection's whole
/// per-request future rather than one a wrapper future holds (and copies) again.
pub async fn handle<R>(
    app: Arc<App>,
    conn: ConnInfo,
    violation: Option<Violation>,
    req: Request<Incoming>,
    then: impl FnOnce(Response<ProxyBody>) -> R,
) -> R {
    let (app, conn) = (&app, &conn);
    let mut ex = Exchange::new(app, conn, &req);
    forwarding::note_client(app, conn, &mut ex, req.headers());
    let resp = match plan(app, conn, &mut ex, violation, &req) {
        Plan::Answer(resp) => resp,
        // Boxed: the CORS path's future is the larger of the two, and an unboxed branch
        // would size (and copy, per request) every route-mode request's future with it.
        Plan::Cors(cors) => Box::pin(cors_mode::handle(app, cors, conn, &mut ex, req)).await,
        Plan::Route(Ok(route_mode::Next::Answer(resp))) => resp,
        Plan::Route(Ok(route_mode::Next::Forward(target, group))) => {
            let rules = target.headers.clone();
            let sent = match group {
                None => upstream::call(app, conn, &mut ex, req, target, |_| ()).await,
                // Not boxed: with its retry loop boxed apart, the group's first attempt is
                // no larger than the single-URL call, so the box would only add a move and
                // an allocation.
                Some(group) => group::call(app, conn, &mut ex, req, target, &group).await,
            };
            match sent {
                Ok(resp) => route_rules::on_response(rules.as_ref(), resp),
                Err(err) => ex.fail(err),
            }
        }
        Plan::Route(Err(err)) => ex.fail(err),
    };
    then(ex.finish(resp))
}

/// What [`handle`] does with a request, decided before anything is awaited.
enum Plan<'a> {
    /// Answered by the gateway (a refusal, the health or readiness check).
    Answer(Response<ProxyBody>),
    /// A CORS-mode listener's request.
    Cors(&'a crate::app::CorsMode),
    /// A route-mode listener's request, routed.
    Route(Result<route_mode::Next<'a>, GatewayError>),
}

/// The strict checker's verdict, the request form, SNI, the health and readiness checks,
/// then the listener's mode (and in route mode, the route).
fn plan<'a>(
    app: &'a Arc<App>,
    conn: &ConnInfo,
    ex: &mut Exchange,
    violation: Option<Violation>,
    req: &Request<Incoming>,
) -> Plan<'a> {
    let resp = if let Some(violation) = violation {
        refuse(app, conn, ex, req, violation)
    } else if let Err(err) = guard::request_form(req.method(), req.uri()) {
        let mut resp = ex.fail(err);
        if req.version() < Version::HTTP_2 {
            // A refused CONNECT's client may already be sending tunnel bytes.
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    } else if req
        .extensions()
        .get::<crate::conn::sni::Misdirected>()
        .is_some()
    {
        // RFC 9110 §15.5.20: the client retries on a connection with the right SNI.
        let text = "misdirected request: this connection's certificate does not serve this host";
        ex.fail(GatewayError::new(
            StatusCode::MISDIRECTED_REQUEST,
            Fault::Client,
            text,
        ))
    } else if req.uri().path() == app.settings.health_path
        && (req.method() == Method::GET || req.method() == Method::HEAD)
    {
        ex.count_in(app.metrics.gateway());
        health()
    } else if req.uri().path() == app.settings.ready_path
        && (req.method() == Method::GET || req.method() == Method::HEAD)
    {
        ex.count_in(app.metrics.gateway());
        ready(app)
    } else {
        return match (conn.mode, &app.cors) {
            (Mode::Cors, Some(cors)) => Plan::Cors(cors),
            _ => Plan::Route(route_mode::target(app, conn, ex, req)),
        };
    };
    Plan::Answer(resp)
}

/// The health check answer.
pub fn health() -> Response<ProxyBody> {
    text_response(StatusCode::OK, "ok\n")
}

/// The readiness answer: 200 while serving normally, 503 while draining and, with
/// `ready_requires_servers`, while an upstream group has no usable server (every one
/// ejected or failing its health checks).
pub fn ready(app: &App) -> Response<ProxyBody> {
    if !app.readiness.is_ready() {
        return text_response(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    if app.settings.ready_requires_servers {
        let now = std::time::Instant::now();
        let groups = app.groups.all();
        let empty = groups
            .iter()
            .find(|g| !(0..g.servers().len()).any(|s| g.usable(s, now)));
        if let Some(group) = empty {
            let text = format!("no usable server in upstream {}\n", group.name());
            return text_response(StatusCode::SERVICE_UNAVAILABLE, text);
        }
    }
    text_response(StatusCode::OK, "ready\n")
}

/// The strict checker's refusal: its status and text, `Connection: close` on HTTP/1 (the
/// bytes after it can't be trusted), and on a CORS listener the CORS headers (a page may
/// read a 414 for an over-long target URL).
fn refuse(
    app: &App,
    conn: &ConnInfo,
    ex: &mut Exchange,
    req: &Request<Incoming>,
    violation: Violation,
) -> Response<ProxyBody> {
    let message = match violation {
        Violation::TargetTooLong => {
            format!(
                "request target longer than {} bytes",
                app.settings.max_uri_bytes
            )
        }
        _ => violation.to_string(),
    };
    let mut resp = ex.fail(GatewayError::new(
        violation.status(),
        Fault::Client,
        message,
    ));
    if let (Mode::Cors, Some(cors)) = (conn.mode, &app.cors) {
        cors.policy
            .add_response_headers(req.headers().get(ORIGIN), resp.headers_mut());
    }
    if req.version() < Version::HTTP_2 {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
