//! Route mode for a route that names an upstream group: each attempt picks a server
//! through [`Group::pick`], its outcome is reported for passive health
//! ([`Group::report`]), and a failed attempt is tried again on a server not yet tried when
//! [`retry::decide`] says so (which spends the group's retry budget).
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
use http::uri::Uri;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo};
use crate::config::MAX_RETRIES;
use crate::upstream::outlier::Outcome;
use crate::upstream::retry::{self, Decision, Failure};
use crate::upstream::stats::FailureKind;
use crate::upstream::{Group, RequestKeyInput};

use super::body::ProxyBody;
use super::error::{Fault, GatewayError};
use super::exchange::Exchange;
use super::inbound::{BodyEnd, InboundBody, InboundError, Progress};
use super::upgrade;
use super::upstream::{prepare_head, response_within, timed_out, Leg, Target, Wait};

/// Largest request body held in memory so that it can be sent to another server: 64 KiB
/// covers API calls (JSON, forms) while bounding the memory a burst of uploads can pin
/// (nginx buffers bodies to replay them too; HAProxy's `retry-on` needs the body in its
/// buffer, 16 KiB by default).
pub const REPLAY_BODY_LIMIT: u64 = 64 * 1024;

/// The request body as the attempts see it.
enum Held {
    /// Read in full: every attempt sends a copy (a `Bytes` clone, no byte copy).
    Replay(Bytes),
    /// Streamed: the first attempt takes it.
    Once(Option<InboundBody>),
}

/// What the next attempt sends.
enum Next {
    /// The client's head, not yet rewritten: the first attempt.
    First(http::request::Parts),
    /// The request the pool gave back with the previous attempt's error: rewritten
    /// already, to be re-targeted.
    Back(Request<gangway_pool::RequestBody>),
    /// A copy of the spare head (a retry after a 5xx answer).
    Spare,
}

/// Sends `req` to a server of `group`, failing over per the group's retry policy.
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
    let (mut held, progress) = if unread {
        // Nothing to read and nothing to mark read (the connection puts a `BodyEnd` only
        // on a request with a body): every attempt sends an empty body, no collect.
        (Held::Replay(Bytes::new()), Progress::fixed())
    } else {
        let (inbound, progress) = super::upstream::inbound(app, body, end, target.max_body_bytes);
        let held = if empty || small {
            // Read to its end (an empty body in one poll): that also marks it read for the
            // connection, which keeps it alive after the response.
            let bytes = inbound
                .collect()
                .await
                .map_err(|e| body_error(e.as_ref()))?
                .to_bytes();
            Held::Replay(bytes)
        } else {
            Held::Once(Some(inbound))
        };
        (held, progress)
    };
    let replayable = matches!(held, Held::Replay(_));
    let idempotent = is_idempotent(&parts.method);
    let policy = group.settings().retry;
    // One clock reading serves the budget, the first pick and the first attempt's
    // time-to-head (they are microseconds apart); a failure takes a new one. Without a body
    // to read, the request's arrival is that reading (routing took microseconds), as the
    // exchange's own time-to-head counts from it too; a body read first takes a new one.
    let mut now = if unread { ex.started() } else { Instant::now() };
    group.budget().record_request(now);

    // The first attempt sends the client's head itself (no copy, and its header map keeps
    // the spare room hyper gave it for the headers the rewrite adds). A failure that
    // another server may take hands the request back in the pool's error
    // (`take_request`), rewritten already: a retry only re-targets it. The one case where
    // nothing comes back is a 5xx answer (`retry_on = ["5xx"]`): the response consumed the
    // request, so a copy is kept, taken before the rewrite, when that retry can happen.
    let spare = (policy.on_5xx
        && idempotent
        && replayable
        && policy.retries > 0
        && group.servers().len() > 1)
        .then(|| parts.clone());
    let mut next = Next::First(parts);

    // At most `MAX_RETRIES + 1` attempts: a fixed array, no allocation per request.
    let mut tried = [0usize; MAX_RETRIES as usize + 1];
    let mut attempts = 0usize;
    let mut asked = http::HeaderMap::new();
    // The server of the previous attempt, whose name a given-back request's `Host` has.
    let mut previous: Option<http::uri::Authority> = None;
    let (handle, resp) = loop {
        let headers = match &next {
            Next::First(parts) => &parts.headers,
            Next::Back(req) => req.headers(),
            Next::Spare => match &spare {
                Some(spare) => &spare.headers,
                None => return Err(no_server(group)),
            },
        };
        let input = RequestKeyInput {
            headers,
            client_ip: conn.peer.ip(),
        };
        let Some(handle) = group.pick(&input, &tried[..attempts], now) else {
            return Err(no_server(group));
        };
        let Some(server) = handle.server() else {
            return Err(no_server(group));
        };
        let upstream = &server.upstream;
        let uri = server_uri(&target.uri, upstream)?;
        let request = match std::mem::replace(&mut next, Next::Spare) {
            Next::Back(mut req) => {
                retarget(
                    ex,
                    &mut req,
                    uri,
                    previous.as_ref(),
                    upstream,
                    server.connect_to,
                );
                req.map(Either::Right)
            }
            first_or_spare => {
                let mut attempt = match (first_or_spare, &spare) {
                    (Next::First(parts), _) => parts,
                    (_, Some(spare)) => spare.clone(),
                    (_, None) => return Err(no_server(group)),
                };
                let leg = Leg {
                    authority: &upstream.authority,
                    preserve_host: target.preserve_host,
                    upgrades: target.upgrades,
                };
                asked = prepare_head(app, conn, ex, &mut attempt, uri, leg, |h| {
                    if let Some(rules) = &target.headers {
                        rules.on_request(h);
                    }
                })?;
                let body = match &mut held {
                    Held::Replay(bytes) => Either::Left(Full::new(bytes.clone())),
                    Held::Once(body) => match body.take() {
                        Some(body) => Either::Right(body),
                        // decide() never retries an unreplayable body that was taken; be safe.
                        None => return Err(no_server(group)),
                    },
                };
                crate::rewrite::bodyless::frame_body(&attempt.method, &mut attempt.headers, &body);
                if let Some(addr) = server.connect_to {
                    // One address of a host name: the URI keeps the name (Host, SNI,
                    // verification).
                    attempt.extensions.insert(gangway_pool::ConnectTo(addr));
                }
                Request::from_parts(attempt, Either::Left(body))
            }
        };
        if attempts == 0 {
            ex.sending(&upstream.authority, &progress);
        } else {
            ex.retrying(&upstream.authority);
            group.stats().record_retry();
        }
        if let Some(slot) = tried.get_mut(attempts) {
            *slot = handle.index();
        }
        attempts += 1;

        let sent_at = now;
        let request = std::pin::pin!(target.client.request(request));
        let sent = match target.wait {
            Wait::Total(total) => {
                tokio::time::timeout_at((ex.started() + total).into(), request).await
            }
            Wait::Head(t) => response_within(request, t, &progress).await,
        };
        let timed_out_now = sent.is_err();
        now = Instant::now();
        if let Ok(Ok(_)) = &sent {
            server
                .stats()
                .record_head(now.saturating_duration_since(sent_at));
        }
        let (failure, error, resp) = match sent {
            Ok(Ok(resp)) => match resp.status().as_u16() {
                s @ 502..=504 if policy.on_5xx => (
                    Failure::Status(s),
                    GatewayError::new(resp.status(), Fault::Upstream, "upstream error"),
                    Some(resp),
                ),
                s => {
                    // A gateway error from the server counts against its health even when
                    // it is passed on as it is.
                    if (502..=504).contains(&s) {
                        group.report_failure(&handle, FailureKind::Status, now);
                    } else {
                        group.report(&handle, Outcome::Success, now);
                    }
                    break (handle, resp);
                }
            },
            Ok(Err(mut e)) => {
                let error = GatewayError::from_call(&e);
                if error.fault() == Fault::Client {
                    // The client's body failed: nothing to hold against the server.
                    return Err(error);
                }
                if let Some(back) = e.take_request() {
                    next = Next::Back(back);
                }
                (classify(&e), error, None)
            }
            Err(_) => (Failure::Other, timed_out(target.wait), None),
        };
        group.report_failure(&handle, FailureKind::of(failure, timed_out_now), now);
        let request = retry::Request {
            idempotent,
            body_replayable: replayable,
            response_started: false,
        };
        let progress_so_far = retry::Progress {
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            untried: group.untried(&tried[..attempts], now),
        };
        let decision = retry::decide(failure, request, policy, progress_so_far, || {
            let allowed = group.budget().try_retry(now);
            if !allowed {
                group.stats().record_budget_refusal();
            }
            allowed
        });
        // Retried only with a request to send: the one given back, or the spare copy.
        let sendable = matches!(next, Next::Back(_)) || spare.is_some();
        match (decision, resp) {
            (Decision::Retry, _) if attempts < tried.len() && sendable => {
                previous = Some(upstream.authority.clone());
                ex.attempt_failed(failure);
                tracing::debug!(group = %group.name(), server = %upstream, ?failure, "retrying on another server");
            }
            (_, Some(resp)) => break (handle, resp),
            (Decision::Stop(stop), None) => {
                tracing::debug!(group = %group.name(), server = %upstream, ?failure, stop = stop.as_str(), "not retried");
                return Err(error);
            }
            (Decision::Retry, None) => return Err(error),
        }
    };
    // The server's in-flight count covers the wait for the response head, which is what
    // `least_requests` weighs (a slow server is slow to answer).
    drop(handle);

    let deadline = match target.wait {
        Wait::Head(_) => None,
        Wait::Total(total) => Some(ex.started() + total),
    };
    super::upstream::respond(
        app,
        ex,
        target.max_response_bytes,
        resp,
        &asked,
        client_upgrade,
        deadline,
    )
}

/// Points a request the pool gave back (rewritten for `previous`) at `server`: its URI,
/// its `Host` where it named the previous server (not a preserved client `Host`, not one
/// a header rule set), the attempt's `traceparent`, the address to connect to. Nothing
/// else of the rewrite depends on the server, so it is not run again (it would add a
/// second `X-Forwarded-For` value, for one).
fn retarget(
    ex: &mut Exchange,
    req: &mut Request<gangway_pool::RequestBody>,
    uri: Uri,
    previous: Option<&http::uri::Authority>,
    server: &crate::route::Upstream,
    connect_to: Option<std::net::SocketAddr>,
) {
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    let named_previous = previous.is_some_and(|prev| {
        headers
            .get(http::header::HOST)
            .is_some_and(|h| h.as_bytes() == prev.as_str().as_bytes())
    });
    if named_previous {
        if let Some(host) = crate::rewrite::host_value::host_value(&server.authority) {
            headers.insert(http::header::HOST, host);
        }
    }
    ex.trace_attempt(headers, &server.authority);
    match connect_to {
        Some(addr) => req.extensions_mut().insert(gangway_pool::ConnectTo(addr)),
        None => req.extensions_mut().remove::<gangway_pool::ConnectTo>(),
    };
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

/// The route's upstream URI with `server`'s scheme and authority (a group's servers have
/// no base path, so the path is the route's). Only the path is taken from the route's URI:
/// cloning its scheme and authority to drop them again would cost as much as the rest.
fn server_uri(route_uri: &Uri, server: &crate::route::Upstream) -> Result<Uri, GatewayError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(server.scheme());
    parts.authority = Some(server.authority.clone());
    parts.path_and_query = route_uri.path_and_query().cloned();
    Uri::from_parts(parts).map_err(|e| {
        GatewayError::new(
            StatusCode::BAD_GATEWAY,
            Fault::Upstream,
            format!("bad upstream URI: {e}"),
        )
    })
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
