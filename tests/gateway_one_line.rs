//! Every kind of request ends in exactly one access line and exactly one metrics
//! observation: routed 200, 404, the health check, 400 (the strict checker's and hyper's),
//! 414, 431 (hyper's own, over 100 fields), upstream 502 and 504, an upstream body aborted
//! midway, and on a CORS listener a preflight, a 403 and a 429.
//!
//! The gateway writes JSON access lines to a file (`[log] access_log_path`) that the test
//! reads back.

use std::sync::OnceLock;
use std::time::Duration;

use gangway::Running;
use gangway_tests::access::{json_field, AccessFile};
use gangway_tests::fault::Fault;
use gangway_tests::gateway::{get, route, start_gateway};
use gangway_tests::raw::{send_raw, RawResponse};
use gangway_tests::upstream::Upstream;
use gangway_tests::{wait_until, within};

static LOG: OnceLock<AccessFile> = OnceLock::new();

/// This binary's access log file (shared by its gateways).
fn log() -> &'static AccessFile {
    LOG.get_or_init(|| AccessFile::new("access"))
}

fn access_lines() -> Vec<String> {
    log().lines()
}

/// Requests counted in the metrics, all slots together.
fn observations(gw: &Running) -> u64 {
    gw.app
        .metrics
        .render(&[])
        .lines()
        .filter(|l| l.starts_with("gangway_request_duration_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    json_field(line, name)
}

/// Sends `bytes`, then waits for the one access line and the one observation it causes.
async fn one(gw: &Running, addr: std::net::SocketAddr, what: &str, bytes: &[u8]) -> String {
    let (lines, seen) = (access_lines().len(), observations(gw));
    let resp: Option<RawResponse> = send_raw(addr, bytes).await.ok();
    let ended = wait_until(Duration::from_secs(3), || {
        access_lines().len() > lines && observations(gw) > seen
    })
    .await;
    assert!(ended, "{what}: no access line or no observation");
    // A second line or count would be written with the first: give it a moment to show.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let now = access_lines();
    assert_eq!(
        now.len(),
        lines + 1,
        "{what}: access lines {:#?}",
        &now[lines..]
    );
    assert_eq!(observations(gw), seen + 1, "{what}: observations");
    let line = now[lines].clone();
    if let Some(resp) = resp {
        if resp.status != 0 {
            let status = resp.status.to_string();
            assert_eq!(
                field(&line, "status"),
                Some(status.as_str()),
                "{what}: {line}"
            );
        }
    }
    for key in [
        "time",
        "client",
        "method",
        "path",
        "protocol",
        "duration_ms",
        "outcome",
    ] {
        assert!(field(&line, key).is_some(), "{what}: no {key} in {line}");
    }
    line
}

#[tokio::test]
async fn every_kind_of_request_has_one_access_line_and_one_observation() {
    within("one line per request", async {
        let up = Upstream::http1().run().await;
        let garbage = Fault::Garbage.run().await;
        let stall = Fault::Stall.run().await;
        let reset = Fault::ResetMidBody.run().await;
        let toml = format!(
            "[[listener]]\naddress = \"127.0.0.1:0\"\n\n\
             [[listener]]\naddress = \"127.0.0.1:0\"\nmode = \"cors\"\n\n\
             {}{}{}{}\
             [timeouts]\nupstream_response = \"300ms\"\nshutdown_grace = \"0s\"\n\n\
             {}\n\
             [cors]\nallow_targets = [\"{}\"]\nallow_origins = [\"http://page.test\"]\n\
             rate_limit = {{ per_second = 0.001, burst = 2 }}\n",
            route("/", &up.url("")),
            route("/garbage", &garbage.url("")),
            route("/stall", &stall.url("")),
            route("/reset", &reset.url("")),
            log().log_section(),
            up.addr(),
        );
        let gw = start_gateway(&toml).await;
        let (routes, cors) = (gw.addrs[0], gw.addrs[1]);

        let line = one(&gw, routes, "routed 200", &get("/bytes/10")).await;
        assert_eq!(field(&line, "outcome"), Some("complete"), "{line}");
        assert_eq!(field(&line, "bytes_out"), Some("10"), "{line}");
        assert_eq!(field(&line, "host"), Some("gateway.test"), "{line}");
        assert!(field(&line, "upstream").is_some(), "{line}");
        assert!(field(&line, "upstream_ms").is_some(), "{line}");
        assert_eq!(field(&line, "fault"), None, "{line}");

        let line = one(&gw, routes, "health", &get("/healthcheck")).await;
        assert_eq!(field(&line, "status"), Some("200"), "{line}");
        assert_eq!(field(&line, "upstream"), None, "{line}");

        // The strict checker's refusal (hyper would have served it) …
        let line = one(
            &gw,
            routes,
            "strict 400",
            b"GET /x HTTP/1.1\r\nhost: gateway.test\r\nhost: other.test\r\n\r\n",
        )
        .await;
        assert_eq!(field(&line, "status"), Some("400"), "{line}");
        assert_eq!(field(&line, "fault"), Some("client"), "{line}");
        // … and hyper's own, answered before the request reached the gateway's service.
        let line = one(
            &gw,
            routes,
            "hyper 400",
            b"GET /x HTTP/1.1\r\nhost: gateway.test\r\nbad header: 1\r\n\r\n",
        )
        .await;
        assert_eq!(field(&line, "status"), Some("400"), "{line}");

        let long = format!("/{}", "a".repeat(9000));
        let line = one(&gw, routes, "414", &get(&long)).await;
        assert_eq!(field(&line, "status"), Some("414"), "{line}");

        let many: String = (0..101).map(|i| format!("x-h{i}: 1\r\n")).collect();
        let req = format!("GET /x HTTP/1.1\r\nhost: gateway.test\r\n{many}\r\n");
        let line = one(&gw, routes, "431", req.as_bytes()).await;
        assert_eq!(field(&line, "status"), Some("431"), "{line}");

        let line = one(&gw, routes, "502", &get("/garbage/1")).await;
        assert_eq!(field(&line, "status"), Some("502"), "{line}");
        assert_eq!(field(&line, "fault"), Some("upstream"), "{line}");
        assert_eq!(field(&line, "attempts"), Some("1"), "{line}");

        let line = one(&gw, routes, "504", &get("/stall/1")).await;
        assert_eq!(field(&line, "status"), Some("504"), "{line}");
        assert_eq!(field(&line, "fault"), Some("upstream"), "{line}");

        let line = one(&gw, routes, "aborted body", &get("/reset/1")).await;
        assert_eq!(field(&line, "outcome"), Some("aborted"), "{line}");
        assert_eq!(field(&line, "fault"), Some("upstream"), "{line}");

        let target = format!("/?url=http%3A%2F%2F{}%2Fx", up.addr());
        let preflight = format!(
            "OPTIONS {target} HTTP/1.1\r\nhost: gateway.test\r\norigin: http://page.test\r\n\
             access-control-request-method: PUT\r\n\r\n"
        );
        let line = one(&gw, cors, "CORS preflight", preflight.as_bytes()).await;
        assert_eq!(field(&line, "method"), Some("OPTIONS"), "{line}");

        let refused = format!(
            "GET {target} HTTP/1.1\r\nhost: gateway.test\r\norigin: http://evil.test\r\n\r\n"
        );
        let line = one(&gw, cors, "CORS 403", refused.as_bytes()).await;
        assert_eq!(field(&line, "status"), Some("403"), "{line}");
        assert_eq!(field(&line, "fault"), Some("client"), "{line}");

        let line = one(&gw, cors, "CORS 429", &get(&target)).await;
        assert_eq!(field(&line, "status"), Some("429"), "{line}");

        // 404 last on the route listener's own gateway: no route matches `/nothing`
        // on a table without `/`.
        let narrow = start_gateway(&format!(
            "{}{}",
            route("/only", &up.url("")),
            log().log_section()
        ))
        .await;
        let line = one(&narrow, narrow.addrs[0], "404", &get("/nothing")).await;
        assert_eq!(field(&line, "status"), Some("404"), "{line}");
        assert_eq!(field(&line, "fault"), Some("client"), "{line}");
        narrow.shutdown().await;
        gw.shutdown().await;
    })
    .await;
}
