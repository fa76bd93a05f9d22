//! A tiny upstream for trying the gateway: answers every request with a line naming
//! itself, the method, the path and query it received, and the Host and X-Forwarded-For
//! headers, so you can see what the gateway forwarded.
//!
//! ```text
//! cargo run -p gangway --example demo_upstream -- 127.0.0.1:3000 users
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use gangway_pool::rt::{TokioIo, TokioTimer};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:3000".into())
        .parse()?;
    let name = args.next().unwrap_or_else(|| "upstream".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("demo upstream {name:?} listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let name = name.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let header = |h: &str| {
                    req.headers()
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string()
                };
                let text = format!(
                    "{name}: {} {} (host: {}, x-forwarded-for: {})\n",
                    req.method(),
                    req.uri().path_and_query().map_or("/", |p| p.as_str()),
                    header("host"),
                    header("x-forwarded-for"),
                );
                async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text)))) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
