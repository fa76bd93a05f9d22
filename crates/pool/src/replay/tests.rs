use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::{Method, Request, Version};
use http_body::Body;

use super::Replay;

fn parts(req: Request<()>) -> http::request::Parts {
    req.into_parts().0
}

/// Every header (repeated names, their order, custom names, sensitive values, bytes above
/// ASCII), the method, version and the path with its query come back as they went in.
#[test]
fn round_trips_the_head() {
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri("http://example.test:8080/a/b?x=1&y=%20")
        .version(Version::HTTP_11)
        .header(HOST, "example.test:8080")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("x-empty", "")
        .header("x-custom-header-with-a-long-name", "v")
        .body(())
        .expect("request");
    let mut secret = HeaderValue::from_static("Bearer abc");
    secret.set_sensitive(true);
    req.headers_mut().insert("authorization", secret);
    req.headers_mut().insert(
        "x-latin1",
        HeaderValue::from_bytes(b"caf\xe9").expect("obs-text value"),
    );
    let parts = parts(req);
    let replay = Replay::capture(&parts, Bytes::from_static(b"body"));
    let again = replay.request().expect("parses back");
    assert_eq!(again.method(), Method::PUT);
    assert_eq!(again.version(), Version::HTTP_11);
    assert_eq!(again.uri(), "/a/b?x=1&y=%20");
    assert_eq!(again.headers(), &parts.headers);
    let order = |h: &http::HeaderMap| {
        h.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec(), v.is_sensitive()))
            .collect::<Vec<_>>()
    };
    assert_eq!(order(again.headers()), order(&parts.headers));
    assert!(again.headers()["authorization"].is_sensitive());
    assert_eq!(again.body().size_hint().exact(), Some(4));
}

/// No headers and no path: the replay is `/` with an empty map; an empty body stays empty.
#[test]
fn bare_request() {
    let req = Request::get("http://h/").body(()).expect("request");
    let replay = Replay::capture(&parts(req), Bytes::new());
    let again = replay.request().expect("parses back");
    assert_eq!(again.uri(), "/");
    assert!(again.headers().is_empty());
    assert!(again.body().is_end_stream());
    // Used twice (it never is, but it must not be consumed by the first use).
    assert!(replay.request().is_some());
}

/// A corrupted copy gives `None`, never a panic or a wrong request.
#[test]
fn corrupt_copy_is_refused() {
    let req = Request::get("http://h/p")
        .header("x-a", "1")
        .body(())
        .expect("request");
    let good = Replay::capture(&parts(req), Bytes::new());
    for cut in 0..good.head.len() {
        let mut bad = Replay::capture(
            &parts(Request::get("http://h/p").body(()).expect("request")),
            Bytes::new(),
        );
        bad.head = good.head[..cut].to_vec();
        bad.path_len = good.path_len.min(cut);
        if let Some(req) = bad.request() {
            // A cut that falls between entries is a shorter, still valid head.
            assert!(req.headers().len() <= 1, "cut at {cut}");
        }
    }
    let mut bad = Replay::capture(
        &parts(Request::get("http://h/p").body(()).expect("request")),
        Bytes::new(),
    );
    bad.head = b"/p\xff\xff\xff\xff\0\0\0\0\0".to_vec();
    bad.path_len = 2;
    assert!(bad.request().is_none());
}
