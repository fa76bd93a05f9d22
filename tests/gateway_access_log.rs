//! The access log's `outcome` tells a complete response from an aborted one (the upstream
//! failed mid-body) and from a client that left, including for responses without a body.
//!
//! The gateway writes JSON access lines to a file (`[log] access_log_path`) that the test
//! reads back.

use std::sync::OnceLock;
use std::time::Duration;

use gangway_tests::access::{json_field, AccessFile};
use gangway_tests::fault::Fault;
use gangway_tests::gateway::{get, route, start_gateway};
use gangway_tests::raw::{send_raw, RawConn};
use gangway_tests::upstream::Upstream;
use gangway_tests::{wait_until, within};

static LOG: OnceLock<AccessFile> = OnceLock::new();

/// This binary's access log file (shared by its gateways).
fn log() -> &'static AccessFile {
    LOG.get_or_init(|| AccessFile::new("access"))
}

/// The access line for `path` (unique per request in this file), once it is written.
async fn access_line(path: &str) -> String {
    let needle = format!("\"path\":\"{path}\"");
    let find = || log().lines().into_iter().find(|l| l.contains(&needle));
    let found = wait_until(Duration::from_secs(2), || find().is_some()).await;
    assert!(found, "no access line for {path}:\n{:#?}", log().lines());
    find().unwrap_or_default()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    json_field(line, name)
}

#[tokio::test]
async fn access_log_outcomes() {
    within("access log", async {
        let up = Upstream::http1().run().await;
        let reset = Fault::ResetMidBody.run().await;
        let toml = format!(
            "{}{}{}",
            route("/", &up.url("")),
            route("/reset", &reset.url("")),
            log().log_section()
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];

        let r = send_raw(addr, &get("/bytes/100")).await.expect("bytes");
        assert_eq!(r.status, 200);
        let line = access_line("/bytes/100").await;
        assert_eq!(field(&line, "outcome"), Some("complete"), "{line}");
        assert_eq!(field(&line, "bytes_out"), Some("100"), "{line}");
        assert_eq!(field(&line, "status"), Some("200"), "{line}");

        // No body at all: hyper never polls it, and it is still complete.
        let r = send_raw(addr, &get("/status/204")).await.expect("204");
        assert_eq!(r.status, 204);
        let line = access_line("/status/204").await;
        assert_eq!(field(&line, "outcome"), Some("complete"), "{line}");
        let mut c = RawConn::connect(addr).await.expect("connect");
        let r = c
            .request(b"HEAD /bytes/7 HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("HEAD");
        assert_eq!(r.status, 200);
        let line = access_line("/bytes/7").await;
        assert_eq!(field(&line, "outcome"), Some("complete"), "{line}");

        let r = send_raw(addr, &get("/reset/1")).await.expect("reset");
        assert!(!r.closed_cleanly);
        let line = access_line("/reset/1").await;
        assert_eq!(field(&line, "outcome"), Some("aborted"), "{line}");

        let mut c = RawConn::connect(addr).await.expect("connect");
        c.send(&get("/bytes/1000000000")).await.expect("send");
        assert!(wait_until(Duration::from_secs(2), || up.in_flight() == 1).await);
        drop(c);
        let line = access_line("/bytes/1000000000").await;
        assert_eq!(field(&line, "outcome"), Some("client_gone"), "{line}");
    })
    .await;
}
