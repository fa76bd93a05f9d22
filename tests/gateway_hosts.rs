//! Issue #13 acceptance, host routing: `--route HOST/PREFIX=URL` and `/users/*` on real
//! loopback upstreams; `Host` (HTTP/1.1) and `:authority` (HTTP/2) pick the same routes,
//! case-insensitively and without the port; a `*` inside a prefix is refused at load.

use bytes::Bytes;
use clap::Parser;
use gangway::cli::Cli;
use gangway_tests::raw::{self, collect, send_raw};
use gangway_tests::upstream::{Listening, Upstream};
use gangway_tests::{init_tracing, within};
use http::{Request, StatusCode};
use http_body_util::Empty;

/// Three upstreams behind `a.example/users`, `b.example/users` and `/users/*`, configured
/// from the command line exactly as the issue writes it.
async fn three_sites() -> ([Listening; 3], gangway::Running) {
    let a = Upstream::http1().run().await;
    let b = Upstream::http1().run().await;
    let c = Upstream::http1().run().await;
    let cli = Cli::try_parse_from([
        "gangway".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--route".to_owned(),
        format!("a.example/users={}", a.url("")),
        "--route".to_owned(),
        format!("b.example/users={}", b.url("")),
        "--route".to_owned(),
        format!("/users/*={}", c.url("")),
    ])
    .expect("flags parse");
    let mut config = cli.into_config().expect("flags are a valid config");
    config.log.access_log = false;
    let gw = gangway::start(&config).await.expect("gateway starts");
    ([a, b, c], gw)
}

/// Which of the three upstreams saw a request (asserting exactly one did).
fn served_by(ups: &[Listening; 3], before: [usize; 3]) -> usize {
    let now: Vec<usize> = ups.iter().map(Listening::requests_seen).collect();
    let moved: Vec<usize> = (0..3).filter(|&i| now[i] != before[i]).collect();
    assert_eq!(
        moved.len(),
        1,
        "exactly one upstream serves: {now:?} vs {before:?}"
    );
    moved[0]
}

fn seen(ups: &[Listening; 3]) -> [usize; 3] {
    [0, 1, 2].map(|i| ups[i].requests_seen())
}

const CASES: &[(&str, usize)] = &[
    ("a.example", 0),
    ("A.EXAMPLE:2000", 0),
    ("a.example.", 0),
    ("b.example", 1),
    ("B.Example:80", 1),
    ("c.example", 2),
    ("gateway.test", 2),
    ("127.0.0.1", 2),
];

#[tokio::test]
async fn host_header_picks_the_route_over_http1() {
    init_tracing();
    within("hosts over h1", async {
        let (ups, gw) = three_sites().await;
        for (host, want) in CASES {
            let before = seen(&ups);
            let req = format!("GET /users/42?x=1 HTTP/1.1\r\nhost: {host}\r\n\r\n");
            let r = send_raw(gw.addrs[0], req.as_bytes()).await.expect("h1");
            assert_eq!(r.status, 200, "{host}: {}", r.body_str());
            assert_eq!(served_by(&ups, before), *want, "Host: {host}");
            assert_eq!(r.header("x-path"), Some("/users/42?x=1"), "{host}");
        }
        // `/users/*` is the prefix `/users`: the bare prefix and deeper paths match, a
        // sibling does not.
        let r = send_raw(gw.addrs[0], b"GET /users HTTP/1.1\r\nhost: z\r\n\r\n")
            .await
            .expect("bare");
        assert_eq!(r.status, 200);
        let r = send_raw(gw.addrs[0], b"GET /usersx HTTP/1.1\r\nhost: z\r\n\r\n")
            .await
            .expect("sibling");
        assert_eq!(r.status, 404);
        // A path the host's own routes do not cover is 404 when nothing else covers it.
        let r = send_raw(
            gw.addrs[0],
            b"GET /other HTTP/1.1\r\nhost: a.example\r\n\r\n",
        )
        .await
        .expect("other");
        assert_eq!(r.status, 404);
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

#[tokio::test]
async fn authority_picks_the_route_over_http2() {
    init_tracing();
    within("hosts over h2", async {
        let (ups, gw) = three_sites().await;
        let mut c = raw::h2c_client(gw.addrs[0]).await.expect("h2c handshake");
        for (host, want) in CASES {
            let before = seen(&ups);
            let req = Request::get(format!("http://{host}/users/42?x=1"))
                .body(Empty::<Bytes>::new())
                .expect("request");
            let (parts, _) = collect(c.send_request(req).await.expect("h2 request"))
                .await
                .expect("h2 body");
            assert_eq!(parts.status, StatusCode::OK, "{host}");
            assert_eq!(served_by(&ups, before), *want, ":authority {host}");
        }
        drop(c);
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

#[test]
fn a_star_inside_a_prefix_is_refused_at_load() {
    for flags in [
        &[
            "--check-config",
            "--listen",
            "127.0.0.1:0",
            "--route",
            "/a/*/b=http://127.0.0.1:1",
        ][..],
        &[
            "--check-config",
            "--listen",
            "127.0.0.1:0",
            "--route",
            "/users*=http://127.0.0.1:1",
        ][..],
    ] {
        let err = Cli::try_parse_from(std::iter::once("gangway").chain(flags.iter().copied()))
            .map(|_| ())
            .expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("a * is only supported at the end, as /users/*"),
            "{text}"
        );
    }
    let file = "[[listener]]\naddress = \"127.0.0.1:0\"\n[[route]]\nprefix = \"/a/*/b\"\nupstream = \"http://127.0.0.1:1\"\n";
    let err = gangway::config::parse(file, "star.toml")
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "star.toml:4:10: route[0].prefix: a * is only supported at the end, as /users/* (the same as the prefix /users)"
    );
}

/// A route's own answers: 405 + `Allow`, a fixed 403, a 308 with the placeholders filled;
/// none of them opens a connection to the upstream. `rewrite_prefix` reaches the upstream
/// byte-exact.
#[tokio::test]
async fn methods_respond_redirect_and_rewrite() {
    init_tracing();
    within("route rules", async {
        let up = Upstream::http1().run().await;
        let url = up.url("");
        let toml = format!(
            r#"[[route]]
prefix = "/users/admin"
upstream = "{url}"
respond = {{ status = 403, body = "blocked" }}
[[route]]
prefix = "/users"
upstream = "{url}"
methods = ["GET"]
rewrite_prefix = "/v2"
[[route]]
host = "old.example"
prefix = "/"
upstream = "{url}"
redirect = {{ to = "https://new.example{{path}}?{{query}}" }}
"#
        );
        let gw = gangway_tests::gateway::start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let send = |req: &'static str| async move {
            send_raw(addr, req.as_bytes()).await.expect("response")
        };

        let r = send("DELETE /users/1 HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        let r = send("GET /users/admin/x HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body_str(), "blocked");
        let r =
            send("POST /a/b?c=%20 HTTP/1.1\r\nhost: OLD.example:80\r\ncontent-length: 0\r\n\r\n")
                .await;
        assert_eq!(r.status, 308);
        assert_eq!(r.header("location"), Some("https://new.example/a/b?c=%20"));
        let r = send("GET / HTTP/1.1\r\nhost: old.example\r\n\r\n").await;
        assert_eq!(r.header("location"), Some("https://new.example/"));
        assert_eq!(
            up.connections_accepted(),
            0,
            "answered without the upstream"
        );

        let r = send("GET /users/a%2Fb//c?x=1 HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert_eq!(r.status, 200);
        assert_eq!(up.requests()[0].uri.to_string(), "/v2/a%2Fb//c?x=1");
        let r = send("HEAD /users HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert_eq!(r.status, 200);
        assert_eq!(up.requests()[1].uri.to_string(), "/v2");
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}
