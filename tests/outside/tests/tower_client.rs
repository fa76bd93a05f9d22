//! `gangway_pool::Client` as a `tower::Service`, from a crate outside the workspace:
//! five requests through `ServiceExt::ready().call()`, one connection opened.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

type Req = http::Request<Empty<Bytes>>;

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts.
async fn server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let body = format!("hello {}", req.uri().path());
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
                });
                let io = gangway_pool::rt::TokioIo::new(tcp);
                let _ = http1::Builder::new().serve_connection(io, svc).await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_requests_through_tower_one_connection() {
    let (addr, accepted) = server().await;
    let mut client = gangway_pool::Client::new();
    let run = async {
        for i in 1..=5 {
            let req: Req = http::Request::get(format!("http://{addr}/{i}"))
                .body(Empty::new())
                .expect("valid request");
            // Client serves any body type: name the request type for ServiceExt.
            let resp = ServiceExt::<Req>::ready(&mut client)
                .await
                .expect("always ready")
                .call(req)
                .await
                .expect("response");
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(body, format!("hello /{i}").as_bytes());
        }
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("five requests within 30 s");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection, reused");
    let total = client.stats().total;
    assert_eq!((total.connections_opened, total.requests), (1, 5));
}
