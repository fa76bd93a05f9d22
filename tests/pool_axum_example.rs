//! gangway-pool's `axum_gateway` example, run in-process: the example file is compiled
//! into this test (`#[path]`), so the test drives the very code `cargo run --example`
//! runs, flags included, without building or spawning a second binary.

#[allow(dead_code)] // `main` is the binary's; the test calls `Args`, `serve` directly.
#[path = "../crates/pool/examples/axum_gateway.rs"]
mod axum_gateway;

use std::collections::BTreeMap;

use bytes::Bytes;
use clap::Parser;
use gangway_pool::Client;
use gangway_tests::body::{full, Body};
use gangway_tests::gateway::closed_addr;
use gangway_tests::upstream::{Listening, Upstream};
use gangway_tests::{init_tracing, within};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::net::TcpListener;

/// A fixed answer per path, with end-to-end headers (a repeated one included) and
/// hop-by-hop ones the gateway must drop; the body echoes method, target and request body.
async fn answer(name: &'static str, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status = if name == "users" { 201 } else { 200 };
    let mut echo = format!("{name} {} {}\n", parts.method, parts.uri).into_bytes();
    echo.extend_from_slice(&body);
    Response::builder()
        .status(status)
        .header("content-type", "text/x-test; charset=utf-8")
        .header("x-upstream", name)
        .header("set-cookie", "a=1")
        .header("set-cookie", "b=2")
        .header("cache-control", "no-store")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .header("keep-alive", "timeout=30")
        .body(full(echo))
        .expect("valid response")
}

async fn upstream(name: &'static str) -> Listening {
    Upstream::http1()
        .handler(move |req, _ctx| answer(name, req))
        .run()
        .await
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn send(client: &Client, req: Request<http_body_util::Full<Bytes>>) -> Got {
    let resp = client.request(req).await.expect("request");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Got {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn request(method: &str, url: &str, body: &'static str) -> Request<http_body_util::Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .header("connection", "x-client-hop")
        .header("x-client-hop", "dropped")
        .header("x-forwarded-for", "10.1.2.3")
        .header("x-end-to-end", "kept")
        .body(http_body_util::Full::new(Bytes::from_static(
            body.as_bytes(),
        )))
        .expect("valid request")
}

/// Each header name with its values in order (a `HeaderMap` keeps the order of one name's
/// values, not the order across names), without the ones that differ between two answers
/// by design: `date` ticks, and the test upstream numbers its connections and requests.
fn end_to_end(headers: &HeaderMap) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (name, value) in headers {
        if !["date", "x-conn-id", "x-req-seq"].contains(&name.as_str()) {
            out.entry(name.to_string())
                .or_default()
                .push(value.as_bytes().to_vec());
        }
    }
    out
}

/// The upstream's answer asked directly, minus its hop-by-hop headers.
fn without_hops(headers: &HeaderMap) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out = end_to_end(headers);
    for hop in ["connection", "x-hop", "keep-alive"] {
        assert!(out.remove(hop).is_some(), "the upstream sent {hop}");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_routes_byte_exact_and_404s_the_rest() {
    init_tracing();
    within("axum example", async {
        let users = upstream("users").await;
        let profiles = upstream("profiles").await;
        let args = axum_gateway::Args::try_parse_from([
            "axum_gateway".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--route".into(),
            format!("/users={}", users.url("")),
            "--route".into(),
            format!("/profiles={}", profiles.url("/")),
            "--route".into(),
            format!("/down=http://{}", closed_addr()),
        ])
        .expect("the documented flags parse");
        let listener = TcpListener::bind(args.listen).await.expect("bind");
        let gw = listener.local_addr().expect("addr");
        tokio::spawn(axum_gateway::serve(listener, args.routes, Client::new()));

        let client = Client::builder().http1_only().build().expect("client");
        let cases = [
            (
                "users",
                "GET",
                "/users/42?x=1",
                "",
                &users,
                StatusCode::CREATED,
            ),
            (
                "profiles",
                "POST",
                "/profiles/7",
                "streamed both ways",
                &profiles,
                StatusCode::OK,
            ),
        ];
        for (name, method, path, body, up, status) in cases {
            let direct = send(&client, request(method, &up.url(path), body)).await;
            let via = send(
                &client,
                request(method, &format!("http://{gw}{path}"), body),
            )
            .await;
            assert_eq!(direct.status, status, "{path} direct");
            assert_eq!(via.status, direct.status, "{path} status");
            assert_eq!(via.body, direct.body, "{path} body");
            assert_eq!(
                via.body,
                format!("{name} {method} {path}\n{body}").as_bytes(),
                "{path} echo"
            );
            assert_eq!(
                end_to_end(&via.headers),
                without_hops(&direct.headers),
                "{path} headers"
            );
            assert_eq!(via.headers.get_all("date").iter().count(), 1, "{path} date");

            // What the upstream saw from the gateway: its own Host, the chain extended,
            // the client's hop-by-hop headers gone, end-to-end ones kept.
            let seen = up.requests().pop().expect("a request reached the upstream");
            let h = |name: &str| seen.headers.get(name).map(|v| v.as_bytes().to_vec());
            assert_eq!(seen.uri.to_string(), path);
            assert_eq!(h("host"), Some(up.addr().to_string().into_bytes()));
            assert_eq!(h("x-forwarded-for"), Some(b"10.1.2.3, 127.0.0.1".to_vec()));
            assert_eq!(h("x-forwarded-host"), Some(gw.to_string().into_bytes()));
            assert_eq!(h("x-end-to-end"), Some(b"kept".to_vec()));
            assert_eq!(h("x-client-hop"), None);
        }

        let nope = send(&client, request("GET", &format!("http://{gw}/nope"), "")).await;
        assert_eq!(nope.status, StatusCode::NOT_FOUND);
        let prefix_only = send(&client, request("GET", &format!("http://{gw}/usersX"), "")).await;
        assert_eq!(
            prefix_only.status,
            StatusCode::NOT_FOUND,
            "a prefix matches whole segments"
        );

        let down = send(&client, request("GET", &format!("http://{gw}/down/x"), "")).await;
        assert_eq!(down.status, StatusCode::BAD_GATEWAY);
        assert_eq!(&down.body[..], b"upstream unavailable\n");
    })
    .await;
}
