//! The leg both modes share, once a mode has picked a [`Target`]: rewrite the request →
//! stream its body → the pool call within its deadline → errors mapped to responses →
//! response rewrite → the upstream's body streamed back.
//!
//! Picking the target (route mode's router, CORS mode's checks) and calling the pool are
//! kept apart, so a target can later be chosen from a group without touching the call.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::Authority;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo};
use crate::rewrite::upgrade_check::{self, SpliceDecision};
use crate::rewrite::{self, RewriteCtx};

use super::body::{ProxyBody, StreamLimits};
use super::error::{Fault, GatewayError};
use super::exchange::Exchange;
use super::inbound::{InboundBody, Progress};
use super::upgrade;

/// Where a request goes and the rules for its trip: what a mode picks.
#[derive(Debug)]
pub struct Target<'a> {
    /// The pool to call.
    pub client: &'a gangway_pool::Client,
    /// The upstream request's URI (absolute).
    pub uri: Uri,
    /// The upstream's `host[:port]`.
    pub authority: &'a Authority,
    /// Forward the client's `Host` instead of the upstream's.
    pub preserve_host: bool,
    /// How long the upstream may take.
    pub wait: Wait,
    /// Largest response body passed through.
    pub max_response_bytes: Option<u64>,
    /// A `101 Switching Protocols` is spliced through; otherwise `Upgrade` never reaches
    /// the upstream.
    pub upgrades: bool,
    /// Largest request body; `None` = `limits.max_body_bytes` (a route's own overrides it).
    pub max_body_bytes: Option<u64>,
    /// The route's `request_headers` (applied last, after the proxy rewrite) and
    /// `response_headers`, when it has any.
    pub headers: Option<crate::route::headers::Bound<'a>>,
}

/// How long the upstream may take.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// This long for the response head, counted from the request *sent* (the clock
    /// restarts whenever the request body moves on); then the body's idle limit only.
    Head(Duration),
    /// The whole exchange, body included, by `started + this`.
    Total(Duration),
}

/// Sends `req` to `target`; `prepare` sees the upstream request's headers last.
pub async fn call(
    app: &Arc<App>,
    conn: &ConnInfo,
    ex: &mut Exchange,
    mut req: Request<Incoming>,
    target: Target<'_>,
    prepare: impl FnOnce(&mut HeaderMap),
) -> Result<Response<ProxyBody>, GatewayError> {
    // Taken either way: what is not spliced must not stay pending on the connection.
    let client_upgrade = upgrade::take_client_side(&mut req).filter(|_| target.upgrades);
    let (mut parts, body) = req.into_parts();
    let leg = Leg {
        authority: target.authority,
        preserve_host: target.preserve_host,
        upgrades: target.upgrades,
    };
    let rules = target.headers.as_ref();
    let asked = prepare_head(app, conn, ex, &mut parts, target.uri, leg, |h| {
        prepare(h);
        if let Some(rules) = rules {
            rules.on_request(h);
        }
    })?;
    rewrite::bodyless::frame_body(&parts.method, &mut parts.headers, &body);
    let max_body = target.max_body_bytes;
    let (body, progress) = inbound(app, body, parts.extensions.remove(), max_body);
    ex.sending(target.authority, &progress);
    // Pinned here, not inside `response_within`: a future passed by value to an async fn
    // and pinned there is stored twice in its state (the argument and the pinned local).
    let request = pin!(target.client.request(Request::from_parts(parts, body)));
    // One await for both kinds of wait: the request future lives across a single suspend
    // point, so it is not stored in the part of this future every state shares.
    let (first, extend) = match target.wait {
        Wait::Head(t) => (tokio::time::Instant::now() + t, Some((&progress, t))),
        Wait::Total(total) => ((ex.started() + total).into(), None),
    };
    let sent = response_by(request, first, extend).await;
    let resp = match sent {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            let err = GatewayError::from_call(&e);
            app.flood
                .upstream_failure(target.authority.as_str(), "error", &err.message());
            return Err(err);
        }
        Err(_) => {
            let err = timed_out(target.wait);
            app.flood
                .upstream_failure(target.authority.as_str(), "timeout", &err.message());
            return Err(err);
        }
    };
    respond(
        app,
        ex,
        target.max_response_bytes,
        resp,
        Instant::now(),
        &asked,
        client_upgrade,
        target.wait,
    )
}

/// Where one attempt goes, for [`prepare_head`].
#[derive(Clone, Copy)]
pub(super) struct Leg<'a> {
    /// The server's `host:port` (the `Host` sent unless `preserve_host`).
    pub authority: &'a Authority,
    /// Send the client's `Host` instead.
    pub preserve_host: bool,
    /// `Upgrade` may be forwarded.
    pub upgrades: bool,
}

/// The upstream request's head as both legs (a single server here, a group's servers in
/// `group.rs`) send it: HTTP/2 cookie crumbs joined, forwarding headers per the trusted
/// proxies, the proxy rewrite, `Upgrade` dropped where not allowed, `prepare`, the request
/// id, the trace context (with tracing on). Returns the upgrade the request asks for (empty when none), for the 101 check.
pub(super) fn prepare_head(
    app: &App,
    conn: &ConnInfo,
    ex: &mut Exchange,
    parts: &mut http::request::Parts,
    uri: Uri,
    leg: Leg<'_>,
    prepare: impl FnOnce(&mut HeaderMap),
) -> Result<HeaderMap, GatewayError> {
    let ctx = RewriteCtx {
        client_addr: conn.peer,
        inbound_tls: conn.tls,
        upstream_authority: leg.authority,
        preserve_host: leg.preserve_host,
        via: &app.settings.via,
    };
    if parts.version == http::Version::HTTP_2 {
        // RFC 9113 §8.2.3: crumbs are joined before the message leaves HTTP/2.
        rewrite::h2_to_h1::join_cookies(&mut parts.headers);
    }
    let stash = super::forwarding::before_rewrite(app, conn, &mut parts.headers);
    rewrite::rewrite_request(parts, uri, &ctx)
        .map_err(|e| GatewayError::bad_request(e.to_string()))?;
    super::forwarding::after_rewrite(app, conn, &mut parts.headers, stash);
    if !leg.upgrades {
        // A proxied Upgrade would hand the client a raw tunnel to an arbitrary host.
        parts.headers.remove(http::header::UPGRADE);
    }
    prepare(&mut parts.headers);
    ex.trace_attempt(&mut parts.headers, leg.authority);
    parts
        .headers
        .insert(app.request_id.header.clone(), ex.request_id().clone());
    Ok(upgrade::asked(&parts.headers))
}

/// The client's body with the gateway's limits, and the clock its movement resets.
pub(super) fn inbound(
    app: &App,
    body: Incoming,
    end: Option<super::inbound::BodyEnd>,
    max_bytes: Option<u64>,
) -> (InboundBody, Progress) {
    // A request without a body never moves on: no shared clock needed.
    let progress = if http_body::Body::is_end_stream(&body) {
        Progress::fixed()
    } else {
        Progress::new()
    };
    let body = InboundBody::new(
        body,
        app.settings.client_body_idle,
        max_bytes.or(app.settings.max_body_bytes),
    )
    .with_progress(progress.clone())
    .with_end(end);
    (body, progress)
}

/// The response half both legs share (single server here, a group in `group.rs`): size
/// limit, the 101 check, the response rewrite, the splice, the streamed body. `head_at` is
/// the clock reading taken when the head arrived: one reading serves the access line's and
/// the histogram's time to head (and a group's server statistics). With `Wait::Total`,
/// the body must end by the exchange's start + that total.
#[allow(clippy::too_many_arguments)]
pub(super) fn respond(
    app: &Arc<App>,
    ex: &mut Exchange,
    max_response_bytes: Option<u64>,
    resp: Response<gangway_pool::ResponseBody>,
    head_at: Instant,
    asked: &http::HeaderMap,
    client_upgrade: Option<upgrade::ClientSide>,
    wait: Wait,
) -> Result<Response<ProxyBody>, GatewayError> {
    let deadline = match wait {
        Wait::Head(_) => None,
        Wait::Total(total) => Some(ex.started() + total),
    };
    let (mut parts, body) = resp.into_parts();
    ex.head_arrived(parts.status, body.is_reused(), head_at);
    if let (Some(max), Some(len)) = (
        max_response_bytes,
        http_body::Body::size_hint(&body).exact(),
    ) {
        if len > max {
            return Err(GatewayError::new(
                StatusCode::BAD_GATEWAY,
                Fault::Upstream,
                format!("target response larger than {max} bytes"),
            ));
        }
    }
    // A 101 becomes a tunnel only when it answers the upgrade the forwarded request asked
    // for; any other 101 is a 502, and dropping it (with its pending upgrade) closes the
    // upstream connection, which the pool never reuses after a 101.
    let upgraded = match upgrade_check::decide(asked, parts.status, &parts.headers) {
        SpliceDecision::NotSwitching => false,
        SpliceDecision::Splice => client_upgrade.is_some(),
        SpliceDecision::BadGateway(refusal) => {
            return Err(GatewayError::new(
                StatusCode::BAD_GATEWAY,
                Fault::Upstream,
                refusal.to_string(),
            ))
        }
    };
    if parts.status == StatusCode::SWITCHING_PROTOCOLS && !upgraded {
        return Err(GatewayError::new(
            StatusCode::BAD_GATEWAY,
            Fault::Upstream,
            "upstream switched protocols on a request that cannot be upgraded",
        ));
    }
    // Redirects pass to the client as they are: following them here would reach targets
    // no check ever saw.
    rewrite::rewrite_response(&mut parts, &app.settings.via, upgraded);
    if upgraded {
        if let Some(client_side) = client_upgrade {
            upgrade::splice(app, client_side, &mut parts);
        }
    }
    let limits = StreamLimits {
        idle: app.settings.upstream_body_idle,
        max_bytes: max_response_bytes,
        deadline,
    };
    Ok(Response::from_parts(parts, ProxyBody::stream(body, limits)))
}

pub(super) fn timed_out(wait: Wait) -> GatewayError {
    use crate::observe::log_fmt::millis;
    let message = match wait {
        Wait::Head(t) => format!("upstream did not answer within {} ms", millis(t)),
        Wait::Total(t) => format!("target did not answer within {} ms", millis(t)),
    };
    GatewayError::new(StatusCode::GATEWAY_TIMEOUT, Fault::Upstream, message)
}

/// Awaits `fut` until `first`; with `extend`, a deadline that passes after the body moved
/// on moves to the last movement + its timeout. So the wait for a response head counts
/// from the request *sent*: a slow upload is not taken for a slow upstream, while an
/// upstream that stops reading the body (no movement) or answers nothing after it (no
/// movement either) still times out.
pub(super) async fn response_by<F: Future>(
    mut fut: Pin<&mut F>,
    first: tokio::time::Instant,
    extend: Option<(&Progress, Duration)>,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut deadline = first;
    loop {
        match tokio::time::timeout_at(deadline, fut.as_mut()).await {
            Ok(out) => return Ok(out),
            Err(elapsed) => {
                let Some((progress, timeout)) = extend else {
                    return Err(elapsed);
                };
                let next = tokio::time::Instant::from_std(progress.last()) + timeout;
                if next <= deadline {
                    return Err(elapsed);
                }
                deadline = next;
            }
        }
    }
}
