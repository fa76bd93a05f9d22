//! Proxy header rewriting: pure functions over request/response heads.
//!
//! Works on `Parts` so bodies stream through untouched. Called once per request on the hot
//! path: no `HeaderMap` clone, static header names, and no allocation for the common request
//! without a `Connection` header beyond the values we must add (Host, X-Forwarded-For, Via).
//!
//! Order matters (a client can nominate any field as hop-by-hop): the client's `Connection`
//! nominations are applied *before* we add our own headers, and may never remove `Host`,
//! framing, or the forwarding headers we append to.

pub mod bodyless;
pub mod forwarded;
pub mod h2_to_h1;
pub(crate) mod host_value;
pub mod upgrade_check;

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;

use http::header::{
    CONNECTION, CONTENT_LENGTH, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE, VIA,
};
use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, Version};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

static HTTPS: HeaderValue = HeaderValue::from_static("https");
static HTTP: HeaderValue = HeaderValue::from_static("http");
static TRAILERS: HeaderValue = HeaderValue::from_static("trailers");
static UPGRADE_TOKEN: HeaderValue = HeaderValue::from_static("upgrade");

/// Removed from every forwarded message (RFC 9110 §7.6.1 plus RFC 2616's list). `Upgrade`
/// is handled separately because an upgrade keeps it.
static HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    // Only meaningful with `Upgrade: h2c`, which is never forwarded (h2c smuggling).
    HeaderName::from_static("http2-settings"),
];

/// Fields a `Connection` nomination may not remove: framing and identity, and the
/// forwarding headers we append to (so `Connection: close, X-Forwarded-For` can't erase
/// the chain before we add to it).
static PROTECTED: [HeaderName; 6] = [
    HOST,
    CONTENT_LENGTH,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    VIA,
];

/// What [`rewrite_request`] needs to know about the connection and the route.
#[derive(Debug, Clone, Copy)]
pub struct RewriteCtx<'a> {
    /// The downstream peer.
    pub client_addr: SocketAddr,
    /// The request arrived over TLS.
    pub inbound_tls: bool,
    /// `host:port` of the upstream, used as `Host` unless `preserve_host`.
    pub upstream_authority: &'a Authority,
    /// Forward the client's `Host` (or `:authority`) unchanged.
    pub preserve_host: bool,
    /// Our pseudonym in `Via`, e.g. `"gangway"`.
    pub via: &'a str,
}

/// A request head we refuse to forward; every variant is a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    /// HTTP/1.1 without `Host`, or HTTP/2 without `:authority` and `Host` (RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` header (RFC 9112 §3.2).
    MultipleHosts,
    /// `Host` disagrees with the authority of the request target (`:authority` or
    /// absolute-form); we refuse rather than guess which one the client meant.
    HostMismatch,
    /// A header whose value is malformed (named, lower case).
    BadHeader(&'static str),
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::MissingHost => f.write_str("missing Host header"),
            RewriteError::MultipleHosts => f.write_str("more than one Host header"),
            RewriteError::HostMismatch => {
                f.write_str("Host header does not match the request target")
            }
            RewriteError::BadHeader(name) => write!(f, "invalid {name} header"),
        }
    }
}

impl std::error::Error for RewriteError {}

/// Turns an inbound request head into the one sent upstream. See the module docs for the
/// order of steps; on error the head may be partly rewritten and must be discarded.
pub fn rewrite_request(
    parts: &mut http::request::Parts,
    upstream_uri: Uri,
    ctx: &RewriteCtx<'_>,
) -> Result<(), RewriteError> {
    // 1. Validate everything before changing anything.
    let original_host = original_host(parts)?;
    let inbound_te = parts.headers.contains_key(TRANSFER_ENCODING);
    let content_length = canonical_content_length(&parts.headers)?;
    let upgrade = is_upgrade_request(parts);
    let te_trailers = is_te_trailers(&parts.headers);
    let headers = &mut parts.headers;

    // 2. + 3. The client's nominations first, then the fixed hop-by-hop list.
    let has_via = remove_hop_by_hop(headers, upgrade);
    if upgrade {
        headers.insert(CONNECTION, UPGRADE_TOKEN.clone());
    }
    // RFC 9110 §10.1.4 makes clients nominate TE in Connection, so it was just removed
    // even when it was the one value worth keeping.
    if te_trailers {
        headers.insert(TE, TRAILERS.clone());
    }

    // 4. Framing: the client side re-frames the body; never copy inbound framing bytes.
    match content_length {
        // TE overrides CL (RFC 9112 §6.3); the body length is the decoded one.
        _ if inbound_te => {
            headers.remove(CONTENT_LENGTH);
        }
        Some(Some(canonical)) => {
            headers.insert(CONTENT_LENGTH, canonical);
        }
        Some(None) | None => {}
    }

    // 5. Host.
    let host = match (&original_host, ctx.preserve_host) {
        (Some(host), true) => host.clone(),
        // Without a client host (HTTP/1.0) there is nothing to preserve; an HTTP/1.1
        // upstream still needs one.
        _ => {
            host_value::host_value(ctx.upstream_authority).ok_or(RewriteError::BadHeader("host"))?
        }
    };
    headers.insert(HOST, host);

    // 6. Forwarding headers, added after the nominations so they can't be stripped.
    // `::ffff:a.b.c.d` from a dual-stack socket is an IPv4 client.
    let client_ip = ctx.client_addr.ip().to_canonical();
    let xff = if headers.contains_key(&X_FORWARDED_FOR) {
        let mut xff = join_list(headers, &X_FORWARDED_FOR);
        let _ = write!(xff, "{client_ip}");
        HeaderValue::from_bytes(&xff).map_err(|_| RewriteError::BadHeader("x-forwarded-for"))
    } else {
        // The common first hop: the peer's value, made once per thread and address.
        host_value::client_ip_value(client_ip, |buf| format_ip(buf, client_ip))
            .ok_or(RewriteError::BadHeader("x-forwarded-for"))
    }?;
    headers.insert(X_FORWARDED_FOR.clone(), xff);
    let proto = if ctx.inbound_tls { &HTTPS } else { &HTTP };
    headers.insert(X_FORWARDED_PROTO.clone(), proto.clone());
    match original_host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    let via = via_value(headers, has_via, parts.version, ctx.via)
        .ok_or(RewriteError::BadHeader("via"))?;
    headers.insert(VIA, via);

    // 7. Target and version; the pool chooses the wire protocol per upstream.
    parts.uri = upstream_uri;
    parts.version = Version::HTTP_11;
    Ok(())
}

/// Cleans an upstream response head before it goes downstream. `upgraded` is true when the
/// request was an upgrade that this response accepts (a 101 keeps `Upgrade`).
pub fn rewrite_response(parts: &mut http::response::Parts, via: &str, upgraded: bool) {
    let keep_upgrade = upgraded && parts.status == StatusCode::SWITCHING_PROTOCOLS;
    let headers = &mut parts.headers;
    let has_via = remove_hop_by_hop(headers, keep_upgrade);
    if keep_upgrade {
        headers.insert(CONNECTION, UPGRADE_TOKEN.clone());
    }
    // Only a misconfigured pseudonym can fail here; a missing Via is better than a panic.
    if let Some(value) = via_value(headers, has_via, parts.version, via) {
        headers.insert(VIA, value);
    }
    // The gateway speaks its own protocol version to the client: an HTTP/1.0 upstream's
    // version (kept in Via above) must not become the status line an HTTP/1.1 client reads.
    parts.version = Version::HTTP_11;
}

/// An HTTP/1.1 request asking to switch protocols (`Connection: upgrade` + `Upgrade`), e.g.
/// WebSocket. `h2c` is never an upgrade we pass on: an upstream that accepts it would speak
/// HTTP/2 on a socket we treat as a blind tunnel (h2c smuggling).
pub fn is_upgrade_request(parts: &http::request::Parts) -> bool {
    parts.version == Version::HTTP_11
        && has_token(&parts.headers, &CONNECTION, b"upgrade")
        && parts.headers.contains_key(UPGRADE)
        && !has_token(&parts.headers, &UPGRADE, b"h2c")
}

/// Host validation per RFC 9112 §3.2 / RFC 9113 §8.3.1; returns the host the client asked
/// for (for `X-Forwarded-Host` and `preserve_host`).
fn original_host(parts: &http::request::Parts) -> Result<Option<HeaderValue>, RewriteError> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(RewriteError::MultipleHosts);
    }
    if let Some(host) = host {
        check_host(host.as_bytes())?;
    }
    let target = parts.uri.authority();
    if let Some(target) = target {
        check_host(target.as_str().as_bytes())?;
    }
    match (host, target) {
        (Some(host), Some(target))
            if !host
                .as_bytes()
                .eq_ignore_ascii_case(target.as_str().as_bytes()) =>
        {
            Err(RewriteError::HostMismatch)
        }
        (Some(host), _) => Ok(Some(host.clone())),
        (None, _) if parts.version == Version::HTTP_11 => Err(RewriteError::MissingHost),
        (None, Some(target)) => HeaderValue::from_str(target.as_str())
            .map(Some)
            .map_err(|_| RewriteError::BadHeader("host")),
        (None, None) if parts.version == Version::HTTP_2 => Err(RewriteError::MissingHost),
        (None, None) => Ok(None),
    }
}

fn check_host(bytes: &[u8]) -> Result<(), RewriteError> {
    // The usual `name[:port]`: checked on the bytes, no UTF-8 pass (every request).
    if crate::syntax::is_plain_authority(bytes) {
        return Ok(());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| RewriteError::BadHeader("host"))?;
    crate::route::split_authority(text)
        .map(|_| ())
        .map_err(|_| RewriteError::BadHeader("host"))
}

/// `None`: no Content-Length. `Some(None)`: one value, already canonical (kept as is, no
/// allocation). `Some(Some(v))`: the canonical replacement for `005` or repeated equal values.
fn canonical_content_length(
    headers: &HeaderMap,
) -> Result<Option<Option<HeaderValue>>, RewriteError> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let bad = RewriteError::BadHeader("content-length");
    let length = parse_decimal(first.as_bytes()).ok_or(bad.clone())?;
    let mut repeated = false;
    for other in values {
        if parse_decimal(other.as_bytes()) != Some(length) {
            return Err(bad);
        }
        repeated = true;
    }
    let canonical = first.len() == 1 || first.as_bytes().first() != Some(&b'0');
    Ok(Some(if canonical && !repeated {
        None
    } else {
        Some(HeaderValue::from(length))
    }))
}

fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn is_te_trailers(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(TE).iter();
    matches!(
        (values.next(), values.next()),
        (Some(v), None) if trim(v.as_bytes()).eq_ignore_ascii_case(b"trailers")
    )
}

/// Removes what `Connection` nominates (minus [`PROTECTED`]), then the fixed list. Returns
/// whether the message carries `Via` (protected, so still there), seen in the same pass.
fn remove_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) -> bool {
    // One pass over the names present, matching each against the fixed list and the
    // `Connection` tokens, instead of a hashed lookup per listed name or token: most
    // messages carry none of them, or only `Connection: keep-alive` (this runs twice per
    // proxied request).
    let mut present = 0u16;
    let mut has_via = false;
    let mut nominated: Vec<HeaderName> = Vec::new();
    let connection = headers.get_all(CONNECTION);
    let has_connection = nominates_other_fields(&connection);
    for name in headers.keys() {
        if let Some(i) = hop_by_hop_index(name) {
            present |= 1 << i;
        } else if name == UPGRADE {
            if !keep_upgrade {
                present |= 1 << HOP_BY_HOP.len();
            }
        } else if name == VIA {
            has_via = true;
        } else if has_connection && is_nominated(&connection, name) && !PROTECTED.contains(name) {
            nominated.push(name.clone());
        }
    }
    for name in &nominated {
        headers.remove(name);
    }
    if present == 0 {
        return has_via;
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if present & (1 << HOP_BY_HOP.len()) != 0 {
        headers.remove(UPGRADE);
    }
    has_via
}

/// The position of `name` in [`HOP_BY_HOP`]: a match on the text (a length switch and
/// one compare) rather than nine `HeaderName` comparisons for every field of every message.
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    let i = match name.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "proxy-authorization" => 4,
        "te" => 5,
        "trailer" => 6,
        "transfer-encoding" => 7,
        "http2-settings" => 8,
        _ => return None,
    };
    debug_assert_eq!(HOP_BY_HOP.get(i), Some(name));
    Some(i)
}

/// Whether any `Connection` token could name a field the fixed list does not already
/// remove: `Connection: keep-alive` (most responses) or `upgrade` nominates nothing more,
/// which spares matching every field against the tokens.
fn nominates_other_fields(connection: &http::header::GetAll<'_, HeaderValue>) -> bool {
    connection.iter().any(|value| {
        value.as_bytes().split(|b| *b == b',').any(|token| {
            let token = trim(token);
            !token.is_empty()
                && !token.eq_ignore_ascii_case(b"keep-alive")
                && !token.eq_ignore_ascii_case(b"upgrade")
                && !HOP_BY_HOP
                    .iter()
                    .any(|name| token.eq_ignore_ascii_case(name.as_str().as_bytes()))
        })
    })
}

/// Whether a `Connection` token names `name` (names are lower case; tokens any case).
fn is_nominated(connection: &http::header::GetAll<'_, HeaderValue>, name: &HeaderName) -> bool {
    let name = name.as_str().as_bytes();
    connection.iter().any(|value| {
        value
            .as_bytes()
            .split(|b| *b == b',')
            .any(|token| trim(token).eq_ignore_ascii_case(name))
    })
}

/// Writes `ip` as text into `buf`, returning the length. IPv4 by hand: `Display` goes
/// through the formatting machinery (padding support), ten times the work per request.
fn format_ip(buf: &mut [u8; 64], ip: std::net::IpAddr) -> usize {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    buf[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    buf[len] = b'0' + (octet / 10) % 10;
                    len += 1;
                }
                buf[len] = b'0' + octet % 10;
                len += 1;
            }
            len
        }
        std::net::IpAddr::V6(v6) => {
            let mut rest = &mut buf[..];
            let _ = write!(rest, "{v6}");
            64 - rest.len()
        }
    }
}

/// `Via` with our hop appended: `<existing>, <version> <pseudonym>`.
fn via_value(
    headers: &HeaderMap,
    has_via: bool,
    version: Version,
    pseudonym: &str,
) -> Option<HeaderValue> {
    let protocol = match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    };
    if pseudonym == "gangway" && !has_via {
        // The default pseudonym on a message without Via: a static value, no allocation.
        return Some(HeaderValue::from_static(match version {
            Version::HTTP_09 => "0.9 gangway",
            Version::HTTP_10 => "1.0 gangway",
            Version::HTTP_2 => "2 gangway",
            Version::HTTP_3 => "3 gangway",
            _ => "1.1 gangway",
        }));
    }
    let mut via = join_list(headers, &VIA);
    let _ = write!(via, "{protocol} {pseudonym}");
    HeaderValue::from_bytes(&via).ok()
}

/// All values of a list-valued header joined into one, followed by `", "` when non-empty,
/// ready for our element to be appended.
fn join_list(headers: &HeaderMap, name: &HeaderName) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for value in headers.get_all(name) {
        let value = trim(value.as_bytes());
        if !value.is_empty() {
            out.extend_from_slice(value);
            out.extend_from_slice(b", ");
        }
    }
    out
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &[u8]) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|b| *b == b',')
            .any(|t| trim(t).eq_ignore_ascii_case(token))
    })
}

/// Optional whitespace (SP / HTAB) trimmed from both ends.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
