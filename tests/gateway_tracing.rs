//! W3C Trace Context and OTLP export (#14 item 4), end to end: a client's `traceparent` is
//! continued at the upstream (same trace id, the gateway's attempt span as the parent), and
//! the gateway exports, to an OTLP/HTTP receiver on loopback decoding
//! `opentelemetry-proto`, one server span for the request and one client span per upstream
//! attempt — here two, the group's first server refusing connections.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use gangway_pool::rt::TokioIo;
use gangway_tests::gateway::{closed_addr, get_with, start_gateway};
use gangway_tests::raw::send_raw;
use gangway_tests::upstream::Upstream;
use gangway_tests::within;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::mpsc;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP receiver on loopback: every decoded span is sent to the test.
async fn receiver() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Span>) {
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
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        if let Some(decoded) = body
                            .ok()
                            .and_then(|b| ExportTraceServiceRequest::decode(b).ok())
                        {
                            for rs in decoded.resource_spans {
                                for ss in rs.scope_spans {
                                    for span in ss.spans {
                                        let _ = tx.send(span);
                                    }
                                }
                            }
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

#[tokio::test]
async fn client_trace_is_continued_upstream_and_exported_with_a_span_per_attempt() {
    let (collector, mut spans) = receiver().await;
    let up = Upstream::http1().run().await;
    let dead = closed_addr();
    let toml = format!(
        "[tracing]\notlp_endpoint = \"http://{collector}\"\nsample_ratio = 0.0\n\n\
         [[upstream]]\nname = \"g\"\nservers = [\"http://{dead}\", \"{}\"]\nbalance = \"round_robin\"\n\n\
         [[route]]\nprefix = \"/g\"\nupstream = \"g\"\n",
        up.url("")
    );
    let gw = start_gateway(&toml).await;
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");
    let extra = format!("traceparent: {traceparent}\r\ntracestate: vendor=opaque\r\n");
    let resp = within("request", send_raw(gw.addrs[0], &get_with("/g/x", &extra)))
        .await
        .expect("response");
    assert_eq!(resp.status, 200);

    // At the upstream: the same trace, a new parent (the gateway's attempt span).
    let seen = up.requests();
    assert_eq!(seen.len(), 1, "the dead server took nothing");
    let sent = seen[0]
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent sent upstream");
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"));
    assert_ne!(
        parts[2], CLIENT_SPAN,
        "the upstream's parent is the gateway's span"
    );
    assert_eq!(
        seen[0].headers.get("tracestate").map(|v| v.as_bytes()),
        Some(&b"vendor=opaque"[..])
    );

    // Exported: one server span and two attempt spans, all in the client's trace.
    let app = std::sync::Arc::clone(&gw.app);
    tokio::task::spawn_blocking(move || {
        app.tracer.as_ref().expect("tracer").flush().expect("flush");
    })
    .await
    .expect("flush task");
    let mut got = Vec::new();
    while got.len() < 3 {
        let span = tokio::time::timeout(Duration::from_secs(20), spans.recv())
            .await
            .expect("spans exported within 20 s")
            .expect("receiver alive");
        got.push(span);
    }
    assert!(got.iter().all(|s| hex(&s.trace_id) == TRACE_ID));
    let servers: Vec<&Span> = got.iter().filter(|s| s.kind == 2).collect();
    let mut attempts: Vec<&Span> = got.iter().filter(|s| s.kind == 3).collect();
    assert_eq!((servers.len(), attempts.len()), (1, 2), "{got:#?}");
    let server = servers[0];
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    for a in &attempts {
        assert_eq!(
            a.parent_span_id, server.span_id,
            "attempts are children of the request"
        );
    }
    // The second attempt is the one the upstream saw, and says why it is a retry.
    assert_eq!(hex(&attempts[1].span_id), parts[2]);
    assert_ne!(attempts[0].span_id, attempts[1].span_id);
    assert_eq!(
        attribute(attempts[0], "server.port"),
        Some(&Value::IntValue(i64::from(dead.port())))
    );
    assert_eq!(
        attribute(attempts[1], "server.port"),
        Some(&Value::IntValue(i64::from(up.addr().port())))
    );
    assert_eq!(attribute(attempts[0], "gangway.retry_reason"), None);
    assert_eq!(
        attribute(attempts[1], "gangway.retry_reason"),
        Some(&Value::StringValue("connect".to_owned()))
    );
    assert!(matches!(
        attribute(attempts[1], "gangway.pool.reused"),
        Some(Value::BoolValue(_))
    ));
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn without_an_endpoint_traceparent_passes_through_untouched() {
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&gangway_tests::gateway::route("/a", &up.url(""))).await;
    assert!(gw.app.tracer.is_none());
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");
    let extra = format!("traceparent: {traceparent}\r\n");
    let resp = within("request", send_raw(gw.addrs[0], &get_with("/a/x", &extra)))
        .await
        .expect("response");
    assert_eq!(resp.status, 200);
    let seen = up.requests();
    assert_eq!(
        seen[0].headers.get("traceparent").map(|v| v.as_bytes()),
        Some(traceparent.as_bytes())
    );
    assert_eq!(gw.shutdown().await, 0);
}
