//! Running the gateway in-process for integration tests.
//!
//! ```ignore
//! let up = Upstream::http1().run().await;
//! let gw = start_gateway(&route("/users", &up.url(""))).await;
//! let resp = raw::send_raw(gw.addrs[0], &get("/users/1")).await?;
//! assert_eq!(gw.shutdown().await, 0);
//! ```
//!
//! [`start_gateway`] takes the TOML of a config file; when it has no `[[listener]]` one on
//! `127.0.0.1:0` is added (the bound port is in `Running::addrs`), and when it has no
//! `[log]` section the access log is turned off (tests read metrics, not logs).

use std::net::SocketAddr;

use gangway::Running;

/// Parses `toml` (see the module docs for what is filled in) and starts the gateway.
/// Panics with the config error or the start error.
pub async fn start_gateway(toml: &str) -> Running {
    let config = gateway_config(toml);
    match gangway::start(&config).await {
        Ok(running) => running,
        Err(e) => panic!("gangway::start failed: {e}\n--- config ---\n{toml}"),
    }
}

/// The validated config [`start_gateway`] would run, for tests that adjust it first.
pub fn gateway_config(toml: &str) -> gangway::config::Config {
    let mut text = String::with_capacity(toml.len() + 64);
    if !toml.contains("[[listener]]") {
        text.push_str("[[listener]]\naddress = \"127.0.0.1:0\"\n\n");
    }
    text.push_str(toml);
    if !toml.contains("[log]") {
        text.push_str("\n[log]\naccess_log = false\n");
    }
    match gangway::config::parse(&text, "test.toml") {
        Ok(config) => config,
        Err(e) => panic!("bad test config: {e}\n--- config ---\n{text}"),
    }
}

/// One `[[route]]` table: `prefix` forwarded to `upstream` (e.g. `up.url("")`).
pub fn route(prefix: &str, upstream: &str) -> String {
    format!("[[route]]\nprefix = \"{prefix}\"\nupstream = \"{upstream}\"\n\n")
}

/// A loopback address nothing listens on (a port bound and released just now; another
/// process could take it in between, which loopback tests accept).
pub fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr")
}

/// `GET path HTTP/1.1` with `Host: gateway.test`, nothing else.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: gateway.test\r\n\r\n").into_bytes()
}

/// `GET path HTTP/1.1` with `Host: gateway.test` and `extra` header lines (each ending in
/// `\r\n`).
pub fn get_with(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: gateway.test\r\n{extra}\r\n").into_bytes()
}

/// `POST path HTTP/1.1` with `Host: gateway.test`, `Content-Length` and `body`.
pub fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nhost: gateway.test\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
