//! Route mode for a route that names an upstream group: each attempt picks a server
//! through [`Group::pick`], its outcome is reported for passive health
//! ([`Group::report`]), and a failed attempt is tried again on a server not yet tried when
//! [`retry::decide`](crate::upstream::retry::decide) says so (which spends the group's retry budget).
//!
//! What may be sent twice, and what never is:
//! - nothing once a response head was passed on (a retry is decided on the head only);
//! - a request body is replayable only when it is absent or small and declared
//!   (`Content-Length` ≤ [`REPLAY_BODY_LIMIT`]): such a body is read in full before the
//!   first attempt and sent from memory; a larger or chunked body streams once, so its
//!   request is retried only when it provably never left (a connect failure);
//! - a written non-idempotent request (a POST reset after it was read) is never sent again.
//!
//! A single-URL route does not come here: it keeps [`super::upstream::call`] and its cost.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::uri::{PathAndQuery, Uri};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo};
use crate::upstream::outlier::Outcome;
use crate::upstream::retry::Failure;
use crate::upstream::stats::FailureKind;
use crate::upstream::{Group, RequestKeyInput, Server, ServerHandle};

use super::body::ProxyBody;
use super::error::{Fault, GatewayError};
use super::exchange::Exchange;
use super::inbound::{BodyEnd, InboundError, Progress};
use super::upgrade;
use super::upstream::{prepare_head, response_by, timed_out, Leg, Target, Wait};

mod failover;

/// Largest request body held in memory so that it can be sent to another server: 64 KiB
/// covers API calls (JSON, forms) while bounding the memory a burst of uploads can pin
/// (nginx buffers bodies to replay them too; HAProxy's `retry-on` needs the body in its
/// buffer, 16 KiB by default).
pub const REPLAY_BODY_LIMIT: u64 = 64 * 1024;

/// Sends `req` to a server of `group`, failing over per the group's retry policy.
///
/// Most requests succeed on the first server, so the first attempt is a straight line like
/// [`super::upstream::call`]: the client's head rewritten in place, one
/// `Request::from_parts`, one await. Only a failed attempt enters the retry loop
/// (`failover`), boxed: its state (the tried servers, the request to re-target, a second
/// pool future) would otherwise size, and be copied with, every request's future.
pub async fn call(
    app: &Arc<App>,
    conn: &ConnInfo,
    ex: &mut Exchange,
    mut req: Request<Incoming>,
    target: Target<'_>,
    group: &Arc<Group>,
) -> Result<Response<ProxyBody>, GatewayError> {
    let client_upgrade = upgrade::take_client_side(&mut req).filter(|_| target.upgrades);
    let (mut parts, body) = req.into_parts();
    let empty = http_body::Body::is_end_stream(&body);
    let small = http_body::Body::size_hint(&body)
        .exact()
        .is_some_and(|n| n <= REPLAY_BODY_LIMIT);
    let end = parts.extensions.remove::<BodyEnd>();
    // Whether nothing was awaited since the request arrived (no body to read).
    let unread = empty && end.is_none();
    // `replay`: what a retry sends again (`None`: the body streams once, to the first server).
    let (body, replay, progress) = if unread {
        // Nothing to read and nothing to mark read (the connection puts a `BodyEnd` only
        // on a request with a body): every attempt sends an empty body, no collect.
        let replay = Bytes::new();
        (
            Either::Left(Full::new(replay.clone())),
            Some(replay),
            Progress::fixed(),
        )
    } else {
        let (inbound, progress) = super::upstream::inbound(app, body, end, target.max_body_bytes);
        if empty || small {
            // Read to its end (an empty body in one poll): that also marks it read for the
            // connection, which keeps it alive after the response.
            let bytes = inbound
                .collect()
                .await
                .map_err(|e| body_error(e.as_ref()))?
                .to_bytes();
            (
                Either::Left(Full::new(bytes.clone())),
                Some(bytes),
                progress,
            )
        } else {
            (Either::Right(inbound), None, progress)
        }
    };
    let idempotent = is_idempotent(&parts.method);
    let policy = group.settings().retry;
    // One clock reading serves the budget, the first pick and the first attempt's
    // deadline and time-to-head (they are microseconds apart); a failure takes a new one.
    // Without a body to read, the request's arrival is that reading (routing took
    // microseconds), as the exchange's own time-to-head counts from it too; a body read
    // first takes a new one.
    let now = if unread { ex.started() } else { Instant::now() };
    group.budget().record_request(now);

    // Fields of `target` are used in place, not moved to locals: every local that lives
    // across the await below grows this future, which the connection moves per request.
    let path = target.uri.into_parts().path_and_query;
    let replayable = replay.is_some();
    // The one case where a retry has no request given back is a 5xx answer
    // (`retry_on = ["5xx"]`): the response consumed the request, so a copy of the client's
    // head is kept, taken before the rewrite, when that retry can happen (boxed: rare).
    let spare = match replay {
        Some(body)
            if policy.on_5xx && idempotent && policy.retries > 0 && group.servers().len() > 1 =>
        {
            Some(Box::new(failover::Spare {
                parts: parts.clone(),
                path: path.clone(),
                body,
            }))
        }
        _ => None,
    };

    let (handle, server) = pick(group, &parts.headers, conn, &[], now)?;
    let upstream = &server.upstream;
    let how = Rewrite {
        preserve_host: target.preserve_host,
        upgrades: target.upgrades,
        rules: target.headers.as_ref(),
    };
    let mut asked = how.prepare(app, conn, ex, &mut parts, path, server, &body)?;
    ex.sending(&upstream.authority, &progress);
    let sent = {
        let request = std::pin::pin!(target.client.request(Request::from_parts(parts, body)));
        let (first, extend) = deadline(ex, target.wait, now, &progress);
        response_by(request, first, extend).await
    };
    let (resp, head_at) = match sent {
        // The common case, settled here: only a failure enters the retry loop.
        Ok(Ok(resp)) if !(group.settings().retry.on_5xx && is_gateway_error(resp.status())) => {
            let head_at = Instant::now();
            answered(&handle, resp.status(), now, head_at);
            (resp, head_at)
        }
        sent => {
            let state = failover::Failover {
                app,
                conn,
                client: target.client,
                wait: target.wait,
                rewrite: how,
                group,
                progress: &progress,
                replayable,
                spare,
                idempotent,
            };
            let resp = Box::pin(failover::run(state, ex, &mut asked, handle, sent, now)).await?;
            (resp, Instant::now())
        }
    };
    super::upstream::respond(
        app,
        ex,
        target.max_response_bytes,
        resp,
        head_at,
        &asked,
        client_upgrade,
        target.wait,
    )
}

/// How a group route rewrites a head for whichever server an attempt goes to.
#[derive(Clone, Copy)]
pub(super) struct Rewrite<'a> {
    pub preserve_host: bool,
    pub upgrades: bool,
    /// The route's `request_headers`.
    pub rules: Option<&'a crate::route::headers::Bound<'a>>,
}

impl Rewrite<'_> {
    /// `parts`, the client's head, made the head of an attempt to `server`: the route's
    /// `path` on the server's URI, the proxy rewrite and the route's header rules, framing
    /// for `body`, and the address to connect to. Returns the upgrade the head asks for.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn prepare<B: http_body::Body>(
        self,
        app: &App,
        conn: &ConnInfo,
        ex: &mut Exchange,
        parts: &mut http::request::Parts,
        path: Option<PathAndQuery>,
        server: &Server,
        body: &B,
    ) -> Result<http::HeaderMap, GatewayError> {
        let upstream = &server.upstream;
        let uri = server_uri(path, upstream)?;
        let leg = Leg {
            authority: &upstream.authority,
            preserve_host: self.preserve_host,
            upgrades: self.upgrades,
        };
        let rules = self.rules;
        let asked = prepare_head(app, conn, ex, parts, uri, leg, |h| {
            if let Some(rules) = rules {
                rules.on_request(h);
            }
        })?;
        crate::rewrite::bodyless::frame_body(&parts.method, &mut parts.headers, body);
        if let Some(addr) = server.connect_to {
            // One address of a host name: the URI keeps the name (Host, SNI, verification).
            parts.extensions.insert(gangway_pool::ConnectTo(addr));
        }
        Ok(asked)
    }
}

/// The first deadline for an attempt sent at `now`, and how the wait for its head is
/// extended while the request body moves on (see `response_by`).
fn deadline<'p>(
    ex: &Exchange,
    wait: Wait,
    now: Instant,
    progress: &'p Progress,
) -> (
    tokio::time::Instant,
    Option<(&'p Progress, std::time::Duration)>,
) {
    match wait {
        // The attempt's clock reading, not a new one.
        Wait::Head(t) => (tokio::time::Instant::from_std(now) + t, Some((progress, t))),
        Wait::Total(total) => ((ex.started() + total).into(), None),
    }
}

/// A failed attempt, as the retry loop needs it.
struct Failed {
    failure: Failure,
    /// What the client gets when it is not retried (and no 5xx answer is passed on).
    error: GatewayError,
    /// A 502/503/504 answer that `retry_on = ["5xx"]` may retry; passed on when not.
    resp: Option<Response<gangway_pool::ResponseBody>>,
    /// The request the pool gave back with its error: rewritten already, to be re-targeted.
    back: Option<Request<gangway_pool::RequestBody>>,
    /// The clock reading after the attempt.
    now: Instant,
}

/// What the pool's call (or its deadline) gave, as [`response_by`] returns it.
type Sent = Result<
    Result<Response<gangway_pool::ResponseBody>, gangway_pool::Error>,
    tokio::time::error::Elapsed,
>;

/// Reports an attempt's outcome for passive health and the server's time-to-head, and
/// sorts it: `Ok(Ok(resp))` to pass on, `Ok(Err(failed))` for the retry rules, `Err` for a
/// failure of the client's own body (nothing to hold against the server, never retried).
fn settle(
    handle: &ServerHandle<'_>,
    on_5xx: bool,
    wait: Wait,
    sent: Sent,
    sent_at: Instant,
) -> Result<Result<Response<gangway_pool::ResponseBody>, Failed>, GatewayError> {
    let now = Instant::now();
    let timed_out_now = sent.is_err();
    let (failure, error, resp, back) = match sent {
        Ok(Ok(resp)) => {
            let status = resp.status();
            if !(on_5xx && is_gateway_error(status)) {
                answered(handle, status, sent_at, now);
                return Ok(Ok(resp));
            }
            record_head(handle, sent_at, now);
            let error = GatewayError::new(status, Fault::Upstream, "upstream error");
            (Failure::Status(status.as_u16()), error, Some(resp), None)
        }
        Ok(Err(mut e)) => {
            let error = GatewayError::from_call(&e);
            if error.fault() == Fault::Client {
                return Err(error);
            }
            let back = e.take_request();
            (classify(&e), error, None, back)
        }
        Err(_) => (Failure::Other, timed_out(wait), None, None),
    };
    handle.report_failure(FailureKind::of(failure, timed_out_now), now);
    Ok(Err(Failed {
        failure,
        error,
        resp,
        back,
        now,
    }))
}

/// A response head that is passed on, sent at `sent_at` and arrived at `now`: the
/// server's time-to-head and its health (a gateway error from the server counts against
/// it even when it is passed on as it is).
fn answered(handle: &ServerHandle<'_>, status: StatusCode, sent_at: Instant, now: Instant) {
    record_head(handle, sent_at, now);
    if is_gateway_error(status) {
        handle.report_failure(FailureKind::Status, now);
    } else {
        handle.report(Outcome::Success, now);
    }
}

fn record_head(handle: &ServerHandle<'_>, sent_at: Instant, now: Instant) {
    if let Some(server) = handle.server() {
        server
            .stats()
            .record_head(now.saturating_duration_since(sent_at));
    }
}

/// 502, 503, 504: what `retry_on = ["5xx"]` retries and passive health counts.
fn is_gateway_error(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// What the retry rules see of a pool error. The pool already retried what it safely
/// could on the same server (a dead pooled connection, REFUSED_STREAM); what reaches here:
/// no connection at all, or a request that failed on its connection before any response
/// byte, which another server may take only if it is idempotent and replayable.
pub fn classify(e: &gangway_pool::Error) -> Failure {
    if e.is_connect() {
        Failure::Connect
    } else if e.is_request() {
        Failure::StaleConnection
    } else {
        Failure::Other
    }
}

/// RFC 9110 §9.2.2.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// `server`'s URI for the route's path and query (a group's servers have no base path, so
/// the path is the route's): built once per attempt, from parts already owned.
fn server_uri(
    path: Option<PathAndQuery>,
    server: &crate::route::Upstream,
) -> Result<Uri, GatewayError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(server.scheme());
    parts.authority = Some(server.authority.clone());
    parts.path_and_query = path;
    Uri::from_parts(parts).map_err(|e| {
        GatewayError::new(
            StatusCode::BAD_GATEWAY,
            Fault::Upstream,
            format!("bad upstream URI: {e}"),
        )
    })
}

/// A server of `group` for an attempt (not one in `tried`): its in-flight handle, and the
/// server itself, borrowed from the group rather than the handle (the handle is dropped
/// when the head arrives).
#[inline]
fn pick<'g>(
    group: &'g Group,
    headers: &http::HeaderMap,
    conn: &ConnInfo,
    tried: &[usize],
    now: Instant,
) -> Result<(ServerHandle<'g>, &'g Server), GatewayError> {
    let input = RequestKeyInput {
        headers,
        client_ip: conn.peer.ip(),
    };
    let handle = group
        .pick(&input, tried, now)
        .ok_or_else(|| no_server(group))?;
    let server = group
        .servers()
        .get(handle.index())
        .ok_or_else(|| no_server(group))?;
    Ok((handle, server))
}

fn no_server(group: &Group) -> GatewayError {
    GatewayError::new(
        StatusCode::BAD_GATEWAY,
        Fault::Upstream,
        format!(
            "no server of upstream \"{}\" could take the request",
            group.name()
        ),
    )
}

/// The client's body failed while it was being read for replay: 413, 408 or 400.
fn body_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> GatewayError {
    let (status, message) = match e.downcast_ref::<InboundError>() {
        Some(InboundError::TooLarge(_)) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        Some(InboundError::Idle(_)) => (StatusCode::REQUEST_TIMEOUT, e.to_string()),
        _ => (StatusCode::BAD_REQUEST, "request body failed".to_owned()),
    };
    GatewayError::new(status, Fault::Client, message)
}
