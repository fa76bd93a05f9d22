use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gangway_pool::rt::TokioIo;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::sync::mpsc;

use super::*;
use crate::observe::trace::{decide, new_span_id, FreshIds};

/// A one-route OTLP receiver on loopback: every POST body is decoded and sent to the test.
async fn receiver() -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<(String, String, ExportTraceServiceRequest)>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let content_type = req
                            .headers()
                            .get(http::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        if let Ok(decoded) = body
                            .ok()
                            .and_then(|b| ExportTraceServiceRequest::decode(b).ok())
                            .ok_or(())
                        {
                            let _ = tx.send((path, content_type, decoded));
                        }
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "current_thread")]
async fn spans_reach_a_loopback_collector_with_trace_and_parent() {
    let (addr, mut rx) = receiver().await;
    let settings = OtlpSettings::new(format!("http://{addr}"));
    let exporter = OtlpExporter::start(&settings, gangway_pool::Client::new()).expect("start");

    // The client's trace, continued.
    let incoming = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ctx = decide(Some(incoming), None, 0.0, FreshIds::random());
    assert!(ctx.sampled);
    let attempt_id = new_span_id();
    let start = SystemTime::now();
    let end = start + Duration::from_millis(3);
    let upstream = http::uri::Authority::from_static("127.0.0.1:3000");
    exporter.export(SpanRecord::attempt(
        &ctx,
        attempt_id,
        &Attempt {
            start,
            end,
            method: "GET",
            server: &upstream,
            attempt: 1,
            retry_reason: None,
            reused: true,
            status: Some(200),
        },
    ));
    exporter.export(SpanRecord::server(&ctx, start, end, "GET", "/api", 200));
    // Flushing blocks until the export is done: off this (current-thread) runtime.
    let exporter = tokio::task::spawn_blocking(move || {
        exporter.flush().expect("flush");
        exporter
    })
    .await
    .expect("flush task");

    let mut spans = Vec::new();
    let mut path = String::new();
    let mut content_type = String::new();
    while spans.len() < 2 {
        let (p, ct, req) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("export within 20 s")
            .expect("receiver alive");
        path = p;
        content_type = ct;
        for rs in req.resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
    }
    assert_eq!(path, "/v1/traces");
    assert_eq!(content_type, "application/x-protobuf");
    let trace_id = hex::decode("4bf92f3577b34da6a3ce929d0e0e4736");
    let server = spans.iter().find(|s| s.kind == 2).expect("server span");
    let client = spans.iter().find(|s| s.kind == 3).expect("client span");
    assert_eq!(server.trace_id, trace_id);
    assert_eq!(client.trace_id, trace_id);
    // Server span: child of the client's span; attempt: child of the server span.
    assert_eq!(server.parent_span_id, hex::decode("00f067aa0ba902b7"));
    assert_eq!(server.span_id, ctx.span_id.to_vec());
    assert_eq!(client.parent_span_id, ctx.span_id.to_vec());
    assert_eq!(client.span_id, attempt_id.to_vec());
    assert_eq!(server.name, "GET /api");
    let reused = client
        .attributes
        .iter()
        .find(|kv| kv.key == "gangway.pool.reused")
        .expect("reused attribute");
    assert!(format!("{:?}", reused.value).contains("BoolValue(true)"));
    tokio::task::spawn_blocking(move || drop(exporter))
        .await
        .expect("shutdown");
}

#[test]
fn traces_url() {
    let cases = [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
        ("https://c/prefix", "https://c/prefix/v1/traces"),
    ];
    for (endpoint, want) in cases {
        assert_eq!(OtlpSettings::new(endpoint).traces_url(), want);
    }
}

mod hex {
    pub fn decode(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or(0))
            .collect()
    }
}
