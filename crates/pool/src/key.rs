//! What makes two upstream connections interchangeable.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::{Scheme, Uri};

use crate::error::{Error, Kind};

/// The pool key: scheme, host and port, and the address when the request names one
/// ([`ConnectTo`](crate::ConnectTo)).
///
/// TLS settings (roots, ALPN list, client certificates) are fixed for a whole
/// [`Client`](crate::Client), so within one client the scheme and authority are everything
/// that tells two connections apart: `http://a:80` and `https://a:443` never share a socket,
/// and the TLS server name (SNI) is the host, so two virtual hosts on one IP never share one
/// either. Two clients never share connections.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key(Arc<KeyInner>);

struct KeyInner {
    https: bool,
    host: Box<str>,
    port: u16,
    /// Connect here instead of resolving the host (a per-address key).
    addr: Option<SocketAddr>,
    /// The outbound proxy the connection goes through, if any.
    proxy: Option<crate::proxy::Proxy>,
    // "host:port" as it goes on the wire (Host header, :authority), computed once. Not
    // part of the identity: `http://a/` and `http://A:80/` are the same upstream.
    authority: http::uri::Authority,
}

impl PartialEq for KeyInner {
    fn eq(&self, other: &Self) -> bool {
        (self.https, &self.host, self.port, self.addr, &self.proxy)
            == (
                other.https,
                &other.host,
                other.port,
                other.addr,
                &other.proxy,
            )
    }
}

impl Eq for KeyInner {}

impl std::hash::Hash for KeyInner {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.https, &self.host, self.port, self.addr, &self.proxy).hash(state);
    }
}

/// How many keys the per-thread memo holds: a group of a few servers sends to each in turn,
/// and a one-key memo would miss on every request of such a rotation.
const MEMO_KEYS: usize = 4;

/// The keys built last on this thread, and the slot the next new key replaces (round
/// robin: a rotation over more servers than slots misses, but never thrashes one slot).
struct Memo {
    keys: [Option<Key>; MEMO_KEYS],
    next: usize,
}

thread_local! {
    /// The last keys built on this thread: a gateway sends request after request to the
    /// same few upstreams, and a hit saves two allocations and the lower-casing.
    static MEMO: std::cell::RefCell<Memo> = const {
        std::cell::RefCell::new(Memo { keys: [None, None, None, None], next: 0 })
    };
}

impl Key {
    /// The key for an absolute URI. A pure function of the URI's scheme and authority,
    /// memoized per thread for the last few seen.
    #[cfg(test)]
    pub(crate) fn from_uri(uri: &Uri) -> Result<Self, Error> {
        Self::for_request(uri, None)
    }

    /// The key for an absolute URI, pinned to `addr` when given.
    pub(crate) fn for_request(uri: &Uri, addr: Option<SocketAddr>) -> Result<Self, Error> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => Some(true),
            Some(s) if *s == Scheme::HTTP => Some(false),
            _ => None,
        };
        let authority = uri.authority().map(|a| a.as_str());
        let hit = https.zip(authority).and_then(|(https, authority)| {
            MEMO.with(|memo| {
                let memo = memo.try_borrow().ok()?;
                memo.keys
                    .iter()
                    .flatten()
                    .find(|key| {
                        key.0.https == https
                            && key.0.addr == addr
                            && key.0.authority.as_str() == authority
                    })
                    .cloned()
            })
        });
        if let Some(key) = hit {
            return Ok(key);
        }
        let key = Self::parse(uri, addr)?;
        MEMO.with(|memo| {
            if let Ok(mut memo) = memo.try_borrow_mut() {
                let at = memo.next % MEMO_KEYS;
                memo.next = at + 1;
                if let Some(slot) = memo.keys.get_mut(at) {
                    *slot = Some(key.clone());
                }
            }
        });
        Ok(key)
    }

    fn parse(uri: &Uri, addr: Option<SocketAddr>) -> Result<Self, Error> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            Some(other) => {
                return Err(Error::new(Kind::InvalidUri)
                    .with(format!("scheme {other:?} is not http or https")))
            }
            None => return Err(Error::new(Kind::InvalidUri).with("URI has no scheme")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::new(Kind::InvalidUri).with("URI has no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::new(Kind::InvalidUri).with("URI carries userinfo"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::new(Kind::InvalidUri).with("URI has an empty host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // Strip IPv6 brackets for resolution and SNI; keep them in the authority.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Key(Arc::new(KeyInner {
            https,
            host: bare.to_ascii_lowercase().into_boxed_str(),
            port,
            addr,
            proxy: None,
            authority: authority.clone(),
        })))
    }

    /// This key through `proxy`: a pool of its own, apart from direct connections.
    pub(crate) fn with_proxy(&self, proxy: crate::proxy::Proxy) -> Self {
        Key(Arc::new(KeyInner {
            https: self.0.https,
            host: self.0.host.clone(),
            port: self.0.port,
            addr: self.0.addr,
            proxy: Some(proxy),
            authority: self.0.authority.clone(),
        }))
    }

    /// The outbound proxy connections for this key go through.
    pub(crate) fn proxy(&self) -> Option<&crate::proxy::Proxy> {
        self.0.proxy.as_ref()
    }

    pub(crate) fn is_https(&self) -> bool {
        self.0.https
    }

    pub(crate) fn host(&self) -> &str {
        &self.0.host
    }

    pub(crate) fn port(&self) -> u16 {
        self.0.port
    }

    /// The address to connect to instead of resolving the host, if pinned.
    pub(crate) fn addr(&self) -> Option<SocketAddr> {
        self.0.addr
    }

    pub(crate) fn authority(&self) -> &http::uri::Authority {
        &self.0.authority
    }

    pub(crate) fn scheme(&self) -> Scheme {
        if self.0.https {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.0.https { "https" } else { "http" };
        if self.0.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.0.host, self.0.port)?;
        } else {
            write!(f, "{scheme}://{}:{}", self.0.host, self.0.port)?;
        }
        if let Some(addr) = self.0.addr {
            write!(f, " via {addr}")?;
        }
        match &self.0.proxy {
            Some(proxy) => write!(f, " via proxy {proxy}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Result<Key, Error> {
        Key::from_uri(&s.parse::<Uri>().expect("test uri"))
    }

    #[test]
    fn default_ports_and_case_fold() {
        let a = key("http://Example.COM/x").expect("valid");
        let b = key("http://example.com:80/y").expect("valid");
        assert!(a == b, "same host and default port must share a key");
        assert_eq!(a.to_string(), "http://example.com:80");
        let c = key("https://example.com/").expect("valid");
        assert!(a != c, "http and https must not share connections");
        assert_eq!(c.port(), 443);
    }

    #[test]
    fn memo_never_mixes_up_keys() {
        let a = key("http://Example.com:8080/x").expect("valid");
        let b = key("https://Example.com:8080/x").expect("valid");
        let c = key("http://Example.com:8080/y").expect("valid");
        assert!(a != b, "the scheme is part of the key, memo or not");
        assert!(a == c);
        assert_eq!(b.to_string(), "https://example.com:8080");
        assert_eq!(c.authority().as_str(), "Example.com:8080");
        assert!(key("ftp://Example.com:8080/").is_err());
    }

    #[test]
    fn pinned_address_is_its_own_key() {
        let uri: Uri = "http://a.test/x".parse().expect("test uri");
        let one = "127.0.0.1:1".parse().ok();
        let plain = Key::for_request(&uri, None).expect("valid");
        let a = Key::for_request(&uri, one).expect("valid");
        let b = Key::for_request(&uri, "127.0.0.1:2".parse().ok()).expect("valid");
        assert!(plain != a && a != b, "each address is a pool of its own");
        assert!(Key::for_request(&uri, one).expect("valid") == a);
        assert_eq!(a.to_string(), "http://a.test:80 via 127.0.0.1:1");
        assert_eq!(a.authority().as_str(), "a.test");
    }

    #[test]
    fn memo_holds_a_rotation_of_servers() {
        let uris: Vec<Uri> = (1..=3)
            .map(|p| format!("http://127.0.0.1:{p}/").parse().expect("test uri"))
            .collect();
        let first: Vec<Key> = uris
            .iter()
            .map(|u| Key::from_uri(u).expect("valid"))
            .collect();
        for _ in 0..3 {
            for (uri, key) in uris.iter().zip(&first) {
                let again = Key::from_uri(uri).expect("valid");
                assert!(
                    Arc::ptr_eq(&again.0, &key.0),
                    "a rotation of 3 hits the memo"
                );
            }
        }
        // More servers than slots: still the right keys.
        for p in 10..20u16 {
            let uri: Uri = format!("http://127.0.0.1:{p}/").parse().expect("test uri");
            assert_eq!(Key::from_uri(&uri).expect("valid").port(), p);
        }
    }

    #[test]
    fn ipv6_literal() {
        let k = key("http://[::1]:8080/").expect("valid");
        assert_eq!(k.host(), "::1");
        assert_eq!(k.to_string(), "http://[::1]:8080");
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        assert!(key("/relative").expect_err("no scheme").is_invalid_uri());
        assert!(key("ftp://x/").expect_err("bad scheme").is_invalid_uri());
        assert!(key("http://u:p@x/").expect_err("userinfo").is_invalid_uri());
    }
}
