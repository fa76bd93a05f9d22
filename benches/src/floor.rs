//! The floor: the least a proxy built on hyper's connection types can do per request, to
//! tell what gangway's own code costs from what hyper's costs wherever it runs.
//!
//! One current-thread runtime per thread, like gangway's workers (`--threads N`, default 1:
//! N listeners on the same port with `SO_REUSEPORT`, which the kernel balances), hyper's
//! HTTP/1 server connection per client connection, and for the upstream side one of:
//!
//! - `--mode conn` (default): one `hyper::client::conn::http1` connection per client
//!   connection, opened on its first request and reused for the next ones, driven by a
//!   task of its own (as gangway-pool drives one). No pool, no routing, no header
//!   rewriting, no checks: the request goes upstream as it came (origin-form URI, the
//!   client's `Host`) and the response comes back as it came.
//! - `--mode pool`: the same, with a shared gangway-pool `Client` (its defaults) in place
//!   of the per-connection upstream connection: what the pool adds to hyper's client.
//!
//! It is not a proxy anyone should run: it forwards hop-by-hop headers, trusts every
//! input and answers any upstream failure with an empty 502.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::uri::{Authority, Parts, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::Args;

type Out = Response<Either<Either<Incoming, gangway_pool::ResponseBody>, Empty<Bytes>>>;

/// The upstream side, shared by every client connection.
enum Upstream {
    Conn(SocketAddr),
    Pool(gangway_pool::Client, Authority),
}

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let listen = args.str("listen")?;
    let upstream: Uri = args
        .str("upstream")?
        .parse()
        .map_err(|e| format!("--upstream: {e}"))?;
    let authority = upstream
        .authority()
        .cloned()
        .ok_or("--upstream needs host:port")?;
    let upstream = Arc::new(match args.opt("mode", String::from("conn"))?.as_str() {
        "conn" => Upstream::Conn(
            authority
                .as_str()
                .parse()
                .map_err(|e| format!("--upstream: an IP address and port: {e}"))?,
        ),
        "pool" => Upstream::Pool(gangway_pool::Client::new(), authority),
        other => return Err(format!("--mode: conn or pool, not {other:?}")),
    });
    let threads: usize = args.opt("threads", 1)?;
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    let mut listeners = Vec::new();
    for _ in 0..threads.max(1) {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(|e| e.to_string())?;
        socket.set_reuseport(true).map_err(|e| e.to_string())?;
        socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
        socket
            .bind(addr)
            .map_err(|e| format!("bind {listen}: {e}"))?;
        listeners.push(socket.listen(1024).map_err(|e| e.to_string())?);
    }
    eprintln!(
        "floor-proxy listening on {listen} ({} threads)",
        listeners.len()
    );
    let first = listeners.remove(0);
    for listener in listeners {
        let upstream = Arc::clone(&upstream);
        let std_listener = listener.into_std().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return eprintln!("floor-proxy: a thread's runtime: {e}"),
            };
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(listener) => serve(listener, upstream).await,
                    Err(e) => eprintln!("floor-proxy: a thread's listener: {e}"),
                }
            });
        });
    }
    serve(first, upstream).await;
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, upstream: Arc<Upstream>) {
    loop {
        let stream = crate::accept(&listener).await;
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            // HTTP/1 serves one request at a time, so the connection's upstream sender is
            // taken for a request and put back once its response head is in.
            let slot: Arc<Mutex<Option<SendRequest<Incoming>>>> = Arc::default();
            let service = service_fn(move |req| {
                let upstream = Arc::clone(&upstream);
                let slot = Arc::clone(&slot);
                async move { Ok::<_, Infallible>(forward(&upstream, &slot, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    upstream: &Upstream,
    slot: &Mutex<Option<SendRequest<Incoming>>>,
    req: Request<Incoming>,
) -> Out {
    let sent = match upstream {
        Upstream::Conn(addr) => send_conn(*addr, slot, req)
            .await
            .map(|r| r.map(Either::Left)),
        Upstream::Pool(client, authority) => {
            let (mut head, body) = req.into_parts();
            let mut parts = Parts::default();
            parts.scheme = Some(Scheme::HTTP);
            parts.authority = Some(authority.clone());
            parts.path_and_query = head.uri.path_and_query().cloned();
            match Uri::from_parts(parts) {
                Ok(uri) => {
                    head.uri = uri;
                    client
                        .request(Request::from_parts(head, body))
                        .await
                        .map(|r| r.map(Either::Right))
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match sent {
        Ok(resp) => resp.map(Either::Left),
        Err(_) => {
            let mut resp = Response::new(Either::Right(Empty::new()));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            resp
        }
    }
}

async fn send_conn(
    addr: SocketAddr,
    slot: &Mutex<Option<SendRequest<Incoming>>>,
    req: Request<Incoming>,
) -> Result<Response<Incoming>, String> {
    let taken = slot.lock().ok().and_then(|mut s| s.take());
    let mut sender = match taken {
        Some(s) => s,
        None => connect(addr).await?,
    };
    // Ready once the previous response's body has been read to its end.
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if let Ok(mut s) = slot.lock() {
        *s = Some(sender);
    }
    Ok(resp)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Incoming>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
