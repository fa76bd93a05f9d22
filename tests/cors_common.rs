//! Helpers shared by the `cors_*` suites (included with `#[path]`; not a test target).
//!
//! A CORS-mode gateway is started from TOML text, exactly as an operator would write it
//! (`[[listener]] mode = "cors"` plus a `[cors]` section), on 127.0.0.1 with a free port.
//! Requests go through the raw HTTP/1.1 client so the test controls every byte of the
//! request target (`/?url=...`), which is the point of most of these tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use gangway::Running;
use gangway_tests::raw::{self, RawResponse};
use gangway_tests::upstream::Listening;

/// A running CORS-mode gateway.
#[derive(Debug)]
pub struct Gateway {
    /// The CORS listener's address.
    pub addr: SocketAddr,
    running: Running,
}

/// The config every suite starts from: one CORS listener on `listen`, short timeouts,
/// no access log. `extra` is appended as is (a `[cors]` section, `[admin]`, …).
pub fn config_text(listen: &str, extra: &str) -> String {
    format!(
        "[[listener]]\naddress = \"{listen}\"\nmode = \"cors\"\n\n\
         [timeouts]\nshutdown_grace = \"0s\"\nupstream_connect = \"2s\"\n\n\
         [log]\naccess_log = false\n\n{extra}\n"
    )
}

impl Gateway {
    /// Starts a gateway on 127.0.0.1:0 with `extra` config text (usually a `[cors]`
    /// section).
    pub async fn start(extra: &str) -> Gateway {
        Self::start_text(&config_text("127.0.0.1:0", extra)).await
    }

    /// Starts a gateway from a whole config text.
    pub async fn start_text(text: &str) -> Gateway {
        gangway_tests::init_tracing();
        let config = gangway::config::parse(text, "test")
            .unwrap_or_else(|e| panic!("test config must be valid: {e}\n{text}"));
        let running = gangway::start(&config)
            .await
            .unwrap_or_else(|e| panic!("gateway must start: {e}"));
        let addr = *running.addrs.first().expect("one listener");
        Gateway { addr, running }
    }

    /// Stops the gateway.
    pub async fn stop(self) {
        self.running.shutdown().await;
    }

    /// Sends one request with the raw client and reads the response.
    pub async fn send(&self, req: &Req) -> RawResponse {
        let bytes = req.to_bytes(self.addr);
        raw::send_raw(self.addr, &bytes)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", req.method, req.target))
    }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The gateway request target for proxying `url` (encoded once, as a browser page would).
pub fn proxied(url: &str) -> String {
    format!("/?url={}", enc(url))
}

/// A request to the gateway; by default it carries `Origin: http://page.test`.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The origin the default [`Req`] comes from.
pub const ORIGIN: &str = "http://page.test";

impl Req {
    /// `method target` from [`ORIGIN`], no body.
    pub fn new(method: &str, target: impl Into<String>) -> Req {
        Req {
            method: method.to_owned(),
            target: target.into(),
            headers: vec![("Origin".into(), ORIGIN.into())],
            body: Vec::new(),
        }
    }

    /// `GET` of the proxied `url`.
    pub fn get(url: &str) -> Req {
        Req::new("GET", proxied(url))
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Removes every header named `name`.
    pub fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Sets the body (sent with `Content-Length`).
    pub fn body(mut self, body: &[u8]) -> Req {
        self.body = body.to_vec();
        self
    }

    fn to_bytes(&self, gateway: SocketAddr) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {gateway}\r\n",
            self.method, self.target
        );
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// `true` when one of the `Vary` values lists `name` (case-insensitive).
pub fn varies_on(resp: &RawResponse, name: &str) -> bool {
    resp.header_all("vary")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(name))
}

/// The names listed in `Access-Control-Expose-Headers`, lowercase.
pub fn exposed(resp: &RawResponse) -> Vec<String> {
    resp.header("access-control-expose-headers")
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the CORS headers a page needs to read `resp`: `Access-Control-Allow-Origin`
/// equal to `allow_origin`, and `Vary: Origin`.
#[track_caller]
pub fn assert_cors(resp: &RawResponse, allow_origin: &str, what: &str) {
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some(allow_origin),
        "{what}: Access-Control-Allow-Origin; response {} {:?}\n{}",
        resp.status,
        resp.headers,
        resp.body_str()
    );
    assert!(
        varies_on(resp, "origin"),
        "{what}: Vary must list Origin: {:?}",
        resp.headers
    );
}

/// Asserts the upstream never saw a connection, let alone a request.
#[track_caller]
pub fn assert_untouched(up: &Listening, what: &str) {
    assert_eq!(up.requests_seen(), 0, "{what}: upstream saw a request");
    assert_eq!(
        up.connections_accepted(),
        0,
        "{what}: upstream accepted a connection"
    );
}

/// A `[cors]` section allowlisting `addrs` (so loopback upstreams are reachable) plus
/// `more` lines.
pub fn cors_allowing(addrs: &[SocketAddr], more: &str) -> String {
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[cors]\nallow_targets = [{}]\n{more}\n", list.join(", "))
}

/// A port that was free a moment ago (bind :0, read, close). For the few tests that must
/// put the gateway's own port into its config before it starts.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}
