//! The admin listener: Prometheus metrics, the upstream groups' state (`GET /upstreams`,
//! JSON) and a health check, kept off the traffic listeners so they can be firewalled
//! separately.

use std::convert::Infallible;
use std::sync::Arc;

use http::{header, HeaderValue, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use gangway_pool::rt::{TokioIo, TokioTimer};

use crate::conn::shutdown::Shutdown;
use crate::request::text_response;

/// Serves `/metrics` (or the configured path) and the health path until shutdown.
pub async fn serve(
    listener: TcpListener,
    live: Arc<crate::reload::Live>,
    metrics_path: String,
    shutdown: Shutdown,
) {
    let mut stop = shutdown.subscribe();
    let metrics_path: Arc<str> = metrics_path.into();
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let live = Arc::clone(&live);
        let metrics_path = Arc::clone(&metrics_path);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let live = Arc::clone(&live);
                let metrics_path = Arc::clone(&metrics_path);
                async move {
                    let app = live.load();
                    let resp = if req.uri().path() == &*metrics_path {
                        let mut resp = text_response(StatusCode::OK, live.render_metrics());
                        resp.headers_mut().insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/plain; version=0.0.4"),
                        );
                        resp
                    } else if req.uri().path() == "/upstreams" {
                        let body = crate::upstream::report::json(&app.groups.current());
                        let mut resp = text_response(StatusCode::OK, format!("{body:#}\n"));
                        resp.headers_mut().insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        );
                        resp
                    } else if req.uri().path() == app.settings.health_path {
                        crate::request::health()
                    } else {
                        text_response(StatusCode::NOT_FOUND, "not found\n")
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
