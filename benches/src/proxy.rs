//! The comparison proxy: hyper-util's legacy `Client` behind hyper-util's auto server
//! (HTTP/1.1, and HTTP/2 by prior knowledge on the same port), shaped like axum's
//! reverse-proxy example: replace the URI with the upstream's, send, return the response.
//!
//! Two changes from the example, both in its favour and both what gangway does too:
//! `TCP_NODELAY` on both sides (hyper-util's `HttpConnector` defaults to Nagle), and the
//! request's version set to HTTP/1.1 (an h2c request would otherwise be refused by an
//! HTTP/1.1 pooled connection).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use crate::Args;

type ProxyClient = Client<HttpConnector, Incoming>;
type ProxyResponse = Response<Either<Incoming, Empty<Bytes>>>;

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let listen = args.str("listen")?;
    let upstream: Arc<str> = args.str("upstream")?.trim_end_matches('/').into();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: ProxyClient = Client::builder(TokioExecutor::new()).build(connector);
    eprintln!("hyperutil-proxy listening on {listen} -> {upstream}");
    loop {
        let stream = crate::accept(&listener).await;
        let client = client.clone();
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let client = client.clone();
                let upstream = Arc::clone(&upstream);
                async move { Ok::<_, Infallible>(forward(&client, &upstream, req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    client: &ProxyClient,
    upstream: &str,
    mut req: Request<Incoming>,
) -> ProxyResponse {
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let uri: Uri = match format!("{upstream}{pq}").parse() {
        Ok(u) => u,
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    match client.request(req).await {
        Ok(resp) => resp.map(Either::Left),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    }
}

fn status(code: StatusCode) -> ProxyResponse {
    let mut resp = Response::new(Either::Right(Empty::new()));
    *resp.status_mut() = code;
    resp
}
