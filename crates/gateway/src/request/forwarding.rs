//! `[forwarding]` wired into the request path (issue #17 item 6). The rules are
//! [`crate::rewrite::forwarded`]'s; here they meet the rewrite, which appends the peer to
//! `X-Forwarded-For` and sets `X-Forwarded-Proto`/`-Host` itself:
//! - before the rewrite, an untrusted peer's forwarding headers are removed (so the rewrite's
//!   values replace them) and a trusted peer's `X-Forwarded-Proto`/`-Host` are set aside;
//! - after it, the trusted values are put back and, when asked, an RFC 7239 `Forwarded`
//!   element is appended.
//!
//! The client address of logs and rate limits is the first untrusted hop ([`client_ip`]).

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, FORWARDED};

use crate::app::{App, ConnInfo};
use crate::rewrite::forwarded::{self, UNTRUSTED_REMOVED};

use super::exchange::Exchange;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The client as logs and rate limits see it: the peer, or from a trusted proxy the first
/// untrusted hop of `X-Forwarded-For`.
pub fn client_ip(app: &App, conn: &ConnInfo, headers: &HeaderMap) -> IpAddr {
    let trusted = &app.settings.forwarding.trusted_proxies;
    if trusted.is_empty() {
        return conn.peer.ip().to_canonical();
    }
    forwarded::client_address(conn.peer.ip(), headers, trusted)
}

/// Records [`client_ip`] as the exchange's client when it is not the peer.
pub fn note_client(app: &App, conn: &ConnInfo, ex: &mut Exchange, headers: &HeaderMap) {
    if app.settings.forwarding.trusted_proxies.is_empty() {
        return;
    }
    let client = client_ip(app, conn, headers);
    if client != conn.peer.ip().to_canonical() {
        ex.set_client(client);
    }
}

/// What a trusted peer said that the rewrite would overwrite.
#[derive(Debug, Default)]
pub struct Stash {
    trusted: bool,
    proto: Option<HeaderValue>,
    host: Option<HeaderValue>,
    forwarded: Option<HeaderValue>,
}

/// Before the rewrite: strips an untrusted peer's forwarding headers, stashes a trusted
/// peer's scheme, host and `Forwarded`.
pub fn before_rewrite(app: &App, conn: &ConnInfo, headers: &mut HeaderMap) -> Stash {
    let trusted = app
        .settings
        .forwarding
        .trusted_proxies
        .contains(conn.peer.ip().to_canonical());
    if !trusted {
        // One pass over the names present instead of nine hashed removals: most requests
        // carry none of these fields (this was ~1.2k instructions per request).
        let present: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_forwarding_field(name))
            .cloned()
            .collect();
        for name in &present {
            headers.remove(name);
        }
        return Stash::default();
    }
    Stash {
        trusted,
        proto: last(headers, &X_FORWARDED_PROTO),
        host: last(headers, &X_FORWARDED_HOST),
        forwarded: joined(headers, &FORWARDED),
    }
}

/// After the rewrite: a trusted peer's scheme and host describe the original request, so
/// they are put back; then the `Forwarded` element, when `emit_forwarded` is on.
pub fn after_rewrite(app: &App, conn: &ConnInfo, headers: &mut HeaderMap, stash: Stash) {
    if let Some(proto) = stash.proto {
        headers.insert(X_FORWARDED_PROTO.clone(), proto);
    }
    if let Some(host) = stash.host {
        headers.insert(X_FORWARDED_HOST.clone(), host);
    }
    if !app.settings.forwarding.emit_forwarded {
        return;
    }
    let proto = if conn.tls { "https" } else { "http" };
    let element =
        forwarded::forwarded_element(conn.peer.ip(), proto, headers.get(&X_FORWARDED_HOST));
    let value = match stash.forwarded.filter(|_| stash.trusted) {
        Some(chain) => format!("{}, {element}", String::from_utf8_lossy(chain.as_bytes())),
        None => element,
    };
    match HeaderValue::from_str(&value) {
        Ok(v) => {
            headers.insert(FORWARDED, v);
        }
        Err(_) => {
            headers.remove(FORWARDED);
        }
    }
}

/// A field an untrusted peer may not set: [`UNTRUSTED_REMOVED`] and the `X-Forwarded-*`
/// fields the rewrite writes itself.
/// A match on the text (a length switch, then one compare) rather than nine `HeaderName`
/// comparisons per field.
fn is_forwarding_field(name: &HeaderName) -> bool {
    let listed = matches!(
        name.as_str(),
        "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "forwarded"
            | "x-real-ip"
            | "x-forwarded-port"
            | "x-forwarded-prefix"
            | "x-original-url"
            | "x-rewrite-url"
    );
    debug_assert_eq!(
        listed,
        UNTRUSTED_REMOVED.contains(name)
            || [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST].contains(&name)
    );
    listed
}

fn last(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    headers.get_all(name).iter().next_back().cloned()
}

/// Every value of `name` joined with `", "`, as one value.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut out: Vec<u8> = Vec::new();
    for v in headers.get_all(name) {
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    (!out.is_empty())
        .then(|| HeaderValue::from_bytes(&out).ok())
        .flatten()
}
