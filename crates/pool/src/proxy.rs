//! Outbound `http://` proxies: which requests go through one (the builder's proxy, or
//! `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` when opted in), and the CONNECT tunnel for
//! `https://` targets. Plain `http://` targets go to the proxy in absolute-form
//! (`GET http://host/path HTTP/1.1`, see `client::shape_for_wire`), with `Proxy-Authorization`
//! on every request; `https://` targets get a tunnel (`CONNECT host:port`, the credentials on
//! the CONNECT) and TLS end to end through it, so the proxy never sees the traffic.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Kind};
use crate::key::Key;

/// An `http://` proxy: host, port and optional Basic credentials.
///
/// ```
/// let proxy = gangway_pool::Proxy::new("http://user:secret@proxy.internal:3128")?;
/// let client = gangway_pool::Client::builder().proxy(proxy).build()?;
/// # Ok::<(), gangway_pool::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy(Arc<ProxyInner>);

#[derive(PartialEq, Eq, Hash)]
struct ProxyInner {
    host: Box<str>,
    port: u16,
    /// `Basic base64(user:password)`, from the URL's userinfo.
    auth: Option<HeaderValue>,
}

impl Proxy {
    /// Parses `http://[user[:password]@]host[:port][/]` (port 80 when omitted). Userinfo
    /// becomes Basic `Proxy-Authorization` credentials, taken as written (not
    /// percent-decoded).
    ///
    /// # Errors
    /// Not an `http://` URL with a host ([`Error::is_config`](crate::Error)); `https://`
    /// proxies are not supported.
    pub fn new(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::new(Kind::Config).with(format!("proxy {url:?}: {why}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// proxies are supported"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("a proxy URL has no path"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let authority = hostport
            .parse::<http::uri::Authority>()
            .map_err(|_| bad("invalid host or port"))?;
        // `Authority` accepts `p:x` and reports no port; a proxy URL must not fall back to
        // port 80 on a typo.
        let after_host = hostport.rsplit_once(']').map_or(hostport, |(_, rest)| rest);
        let port = match authority.port_u16() {
            Some(port) => port,
            None if after_host.contains(':') => return Err(bad("invalid port")),
            None => 80,
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let auth = match userinfo {
            Some(u) => {
                let value = format!("Basic {}", base64(u.as_bytes()));
                Some(HeaderValue::from_str(&value).map_err(|_| bad("invalid credentials"))?)
            }
            None => None,
        };
        Ok(Self(Arc::new(ProxyInner {
            host: host.to_ascii_lowercase().into(),
            port,
            auth,
        })))
    }

    pub(crate) fn host(&self) -> &str {
        &self.0.host
    }

    pub(crate) fn port(&self) -> u16 {
        self.0.port
    }

    pub(crate) fn auth(&self) -> Option<&HeaderValue> {
        self.0.auth.as_ref()
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the credentials: this ends up in logs and error messages.
        if self.0.host.contains(':') {
            write!(f, "http://[{}]:{}", self.0.host, self.0.port)
        } else {
            write!(f, "http://{}:{}", self.0.host, self.0.port)
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Which proxy, if any, a target goes through.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    pub(crate) http: Option<Proxy>,
    pub(crate) https: Option<Proxy>,
    /// `NO_PROXY` entries, lowercase, leading dots removed; `*` bypasses every target.
    pub(crate) no_proxy: Vec<String>,
    /// Read the environment at build time for what the builder left unset.
    pub(crate) from_env: bool,
}

impl Proxies {
    pub(crate) fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// Fills what the builder left unset from environment variables read by `var`
    /// (lowercase names first, as curl reads them, then uppercase).
    pub(crate) fn with_env(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            var(name)
                .or_else(|| var(&name.to_ascii_uppercase()))
                .filter(|v| !v.trim().is_empty())
        };
        if self.http.is_none() {
            self.http = get("http_proxy")
                .map(|u| Proxy::new(u.trim()))
                .transpose()?;
        }
        if self.https.is_none() {
            self.https = get("https_proxy")
                .map(|u| Proxy::new(u.trim()))
                .transpose()?;
        }
        if let Some(list) = get("no_proxy") {
            self.no_proxy.extend(
                list.split(',')
                    .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
                    .filter(|e| !e.is_empty()),
            );
        }
        Ok(self)
    }

    /// The proxy for a target, or `None` for a direct connection.
    pub(crate) fn pick(&self, https: bool, host: &str) -> Option<&Proxy> {
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        let bypass = self.no_proxy.iter().any(|entry| {
            entry == "*"
                || host == entry
                || (host.len() > entry.len()
                    && host.ends_with(entry.as_str())
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.')
        });
        (!bypass).then_some(proxy)
    }

    /// The pool key for a request: [`Key::for_request`], through the proxy that applies.
    /// A pinned address ([`ConnectTo`](crate::ConnectTo)) connects directly: the caller
    /// chose where the connection goes.
    pub(crate) fn key(
        &self,
        uri: &http::Uri,
        pinned: Option<std::net::SocketAddr>,
    ) -> Result<Key, Error> {
        let key = Key::for_request(uri, pinned)?;
        if self.is_empty() || pinned.is_some() {
            return Ok(key);
        }
        Ok(match self.pick(key.is_https(), key.host()) {
            Some(proxy) => key.with_proxy(proxy.clone()),
            None => key,
        })
    }
}

/// Longest CONNECT response head read.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// Opens a CONNECT tunnel to `key`'s host and port through the proxy `tcp` is connected
/// to. Returns when the proxy answered 2xx; the stream then carries the target's bytes.
pub(crate) async fn tunnel(tcp: &mut TcpStream, key: &Key, proxy: &Proxy) -> Result<(), Error> {
    let fail = |why: String| Error::new(Kind::Connect).with(format!("proxy {proxy}: {why}"));
    let target = if key.host().contains(':') {
        format!("[{}]:{}", key.host(), key.port())
    } else {
        format!("{}:{}", key.host(), key.port())
    };
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
    if let Some(auth) = proxy.auth() {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp.write_all(&head)
        .await
        .map_err(|e| fail(format!("sending CONNECT: {e}")))?;
    // Byte by byte: nothing past the head may be consumed, it belongs to the tunnel.
    let mut got = Vec::with_capacity(256);
    while !got.ends_with(b"\r\n\r\n") {
        if got.len() >= MAX_CONNECT_HEAD {
            return Err(fail("CONNECT response head too large".into()));
        }
        let byte = tcp
            .read_u8()
            .await
            .map_err(|e| fail(format!("reading the CONNECT response: {e}")))?;
        got.push(byte);
    }
    let status = connect_status(&got).ok_or_else(|| fail("malformed CONNECT response".into()))?;
    match status {
        200..=299 => Ok(()),
        407 => Err(fail("proxy authentication required (407)".into())),
        other => Err(fail(format!("CONNECT {target} answered {other}"))),
    }
}

/// The status code of an HTTP/1.x response head.
pub(crate) fn connect_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.trim().parse().ok()
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials.
pub(crate) fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
