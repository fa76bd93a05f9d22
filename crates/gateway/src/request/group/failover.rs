//! The retry loop of a group route, entered only after the first attempt failed (most
//! requests never come here, and this future is boxed so that theirs stays small).
//!
//! Each round asks [`retry::decide`] about the failed attempt (which spends the group's
//! retry budget), picks a server not yet tried, and sends the request there: the one the
//! pool gave back with its error (rewritten already, only re-targeted), or a copy of the
//! spare head after a 5xx answer (rewritten afresh).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response};
use http_body_util::{Either, Full};

use crate::app::{App, ConnInfo};
use crate::config::MAX_RETRIES;
use crate::upstream::retry::{self, Decision};
use crate::upstream::{Group, Server, ServerHandle};

use super::super::error::GatewayError;
use super::super::exchange::Exchange;
use super::super::inbound::Progress;
use super::super::upstream::{response_by, Wait};
use super::{deadline, no_server, pick, server_uri, settle, Rewrite, Sent};

/// A copy of the client's head, kept for a retry after a 5xx answer (which consumes the
/// request), with the route's path and query for the next server's URI.
pub(super) struct Spare {
    /// The client's head before the rewrite.
    pub parts: http::request::Parts,
    /// The route's upstream path and query.
    pub path: Option<PathAndQuery>,
    /// The request body, read in full.
    pub body: Bytes,
}

/// What the retry loop needs of the request and its route.
pub(super) struct Failover<'a> {
    pub app: &'a Arc<App>,
    pub conn: &'a ConnInfo,
    pub client: &'a gangway_pool::Client,
    pub wait: Wait,
    /// How a spare head is rewritten.
    pub rewrite: Rewrite<'a>,
    pub group: &'a Group,
    pub progress: &'a Progress,
    /// The body was read in full (a retry sends it again); `false`: it streamed once, to
    /// the first server.
    pub replayable: bool,
    pub spare: Option<Box<Spare>>,
    pub idempotent: bool,
}

/// Settles the first attempt (sent to `handle`'s server at `sent_at`, with the result
/// `sent`) and retries it per the group's policy; `asked` is the upgrade the sent head asks
/// for (rewritten again with a spare head).
pub(super) async fn run(
    state: Failover<'_>,
    ex: &mut Exchange,
    asked: &mut HeaderMap,
    handle: ServerHandle<'_>,
    sent: Sent,
    sent_at: Instant,
) -> Result<Response<gangway_pool::ResponseBody>, GatewayError> {
    let Failover {
        app,
        conn,
        client,
        wait,
        rewrite,
        group,
        progress,
        replayable,
        spare,
        idempotent,
    } = state;
    let policy = group.settings().retry;
    let first = handle.index();
    let mut failed = match settle(&handle, policy.on_5xx, wait, sent, sent_at)? {
        Ok(resp) => return Ok(resp),
        Err(failed) => failed,
    };
    drop(handle);
    // At most `MAX_RETRIES + 1` attempts: a fixed array, no allocation.
    let mut tried = [first; MAX_RETRIES as usize + 1];
    let mut attempts = 1usize;
    // The server of the previous attempt, whose name a given-back request's `Host` has.
    let mut previous: &Server = group.servers().get(first).ok_or_else(|| no_server(group))?;
    loop {
        let now = failed.now;
        let request = retry::Request {
            idempotent,
            body_replayable: replayable,
            response_started: false,
        };
        let so_far = retry::Progress {
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            untried: group.untried(&tried[..attempts], now),
        };
        let failure = failed.failure;
        let decision = retry::decide(failure, request, policy, so_far, || {
            let allowed = group.budget().try_retry(now);
            if !allowed {
                group.stats().record_budget_refusal();
            }
            allowed
        });
        // Retried only with a request to send: the one given back, or the spare copy.
        let sendable = failed.back.is_some() || spare.is_some();
        match (decision, failed.resp.take()) {
            (Decision::Retry, _) if attempts < tried.len() && sendable => {
                ex.attempt_failed(failure);
                tracing::debug!(group = %group.name(), server = %previous.upstream, ?failure, "retrying on another server");
            }
            (_, Some(resp)) => return Ok(resp),
            (Decision::Stop(stop), None) => {
                tracing::debug!(group = %group.name(), server = %previous.upstream, ?failure, stop = stop.as_str(), "not retried");
                return Err(failed.error);
            }
            (Decision::Retry, None) => return Err(failed.error),
        }

        let headers = match (&failed.back, &spare) {
            (Some(back), _) => back.headers(),
            (None, Some(spare)) => &spare.parts.headers,
            (None, None) => return Err(no_server(group)),
        };
        let (handle, server) = pick(group, headers, conn, &tried[..attempts], now)?;
        let upstream = &server.upstream;
        let request = match (failed.back.take(), &spare) {
            (Some(mut back), _) => {
                let uri = server_uri(back.uri().path_and_query().cloned(), upstream)?;
                *back.uri_mut() = uri;
                retarget(ex, &mut back, previous, server);
                back.map(Either::Right)
            }
            (None, Some(spare)) => {
                let mut attempt = spare.parts.clone();
                let body = Full::new(spare.body.clone());
                *asked = rewrite.prepare(
                    app,
                    conn,
                    ex,
                    &mut attempt,
                    spare.path.clone(),
                    server,
                    &body,
                )?;
                Request::from_parts(attempt, Either::Left(body))
            }
            (None, None) => return Err(no_server(group)),
        };
        ex.retrying(&upstream.authority);
        group.stats().record_retry();
        if let Some(slot) = tried.get_mut(attempts) {
            *slot = handle.index();
        }
        attempts += 1;

        let sent = {
            let request = std::pin::pin!(client.request(request));
            let (first, extend) = deadline(ex, wait, now, progress);
            response_by(request, first, extend).await
        };
        match settle(&handle, policy.on_5xx, wait, sent, now)? {
            Ok(resp) => return Ok(resp),
            Err(next) => failed = next,
        }
        previous = server;
    }
}

/// Points a request the pool gave back (rewritten for `previous`, its URI set already) at
/// `server`: its `Host` where it named the previous server (not a preserved client `Host`,
/// not one a header rule set), the attempt's `traceparent`, the address to connect to.
/// Nothing else of the rewrite depends on the server, so it is not run again (it would add
/// a second `X-Forwarded-For` value, for one).
fn retarget(
    ex: &mut Exchange,
    req: &mut Request<gangway_pool::RequestBody>,
    previous: &Server,
    server: &Server,
) {
    let headers = req.headers_mut();
    let prev = &previous.upstream.authority;
    let named_previous = headers
        .get(http::header::HOST)
        .is_some_and(|h| h.as_bytes() == prev.as_str().as_bytes());
    if named_previous {
        if let Some(host) = crate::rewrite::host_value::host_value(&server.upstream.authority) {
            headers.insert(http::header::HOST, host);
        }
    }
    ex.trace_attempt(headers, &server.upstream.authority);
    match server.connect_to {
        Some(addr) => req.extensions_mut().insert(gangway_pool::ConnectTo(addr)),
        None => req.extensions_mut().remove::<gangway_pool::ConnectTo>(),
    };
}
