//! Opening one upstream connection: resolve, connect, TLS, then the HTTP/1.1 or HTTP/2
//! handshake, with hyper's connection task spawned on tokio.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::client::conn::{http1, http2};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::AbortHandle;

use crate::body::RequestBody;
use crate::config::{Config, HttpVersionPolicy};
use crate::connect;
use crate::error::{Error, Kind};
use crate::key::Key;
use crate::rt::{TokioExecutor, TokioIo, TokioTimer};
use crate::tls::Tls;

/// How often a new HTTP/2 connection looks whether the server's SETTINGS have arrived.
const SETTINGS_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// The sending half of a fresh connection; hyper's connection task already runs.
pub(crate) enum Established {
    H1(http1::SendRequest<RequestBody>),
    H2 {
        tx: http2::SendRequest<RequestBody>,
        /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS, kept current by the connection task.
        max_streams: Arc<AtomicUsize>,
    },
}

/// Opens a connection to `key`. `on_close` runs when hyper's connection task ends, whatever
/// the reason, so the pool can forget the connection at once. The abort handle ends that
/// task (a shutdown past its deadline).
pub(crate) async fn establish(
    config: &Config,
    tls: Option<&Tls>,
    key: &Key,
    on_close: impl FnOnce() + Send + 'static,
) -> Result<(Established, AbortHandle), Error> {
    // Through a proxy, the TCP connection (and so the resolver and the address filter) is
    // the proxy's; the target's name goes to the proxy.
    let (host, port, pinned) = match key.proxy() {
        Some(proxy) => (proxy.host(), proxy.port(), None),
        None => (key.host(), key.port(), key.addr()),
    };
    let addrs = connect::addresses(
        host,
        port,
        pinned,
        config.resolver.as_deref(),
        config.address_filter.as_deref(),
    )
    .await?;
    let mut tcp =
        connect::tcp(&addrs, config.local_address, config.connect_attempt_timeout).await?;
    if let Some(proxy) = key.proxy() {
        if key.is_https() {
            crate::proxy::tunnel(&mut tcp, key, proxy).await?;
        } else {
            // A forward proxy speaks HTTP/1.1 to us whatever the version policy says.
            return handshake(config, tcp, false, on_close).await;
        }
    }
    if key.is_https() {
        let tls = tls.ok_or_else(|| Error::new(Kind::Tls).with("TLS is not configured"))?;
        let (stream, alpn_h2) = tls.connect(key.host(), tcp).await?;
        let h2 = match config.version {
            HttpVersionPolicy::Http2Only if !alpn_h2 => {
                return Err(Error::new(Kind::Handshake).with("server did not accept ALPN h2"))
            }
            _ => alpn_h2,
        };
        handshake(config, stream, h2, on_close).await
    } else {
        let h2 = config.version == HttpVersionPolicy::Http2Only;
        handshake(config, tcp, h2, on_close).await
    }
}

async fn handshake<T>(
    config: &Config,
    io: T,
    h2: bool,
    on_close: impl FnOnce() + Send + 'static,
) -> Result<(Established, AbortHandle), Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let mut builder = http2::Builder::new(TokioExecutor);
        builder
            .timer(TokioTimer)
            // Zero until the server's SETTINGS arrive: the watch below tells "not known yet"
            // (0) from the server's limit (or usize::MAX when it sets none), and no stream is
            // opened on a guess the server would answer with REFUSED_STREAM.
            .initial_max_send_streams(0)
            .adaptive_window(true);
        if let Some(interval) = config.h2_keep_alive_interval {
            builder
                .keep_alive_interval(interval)
                .keep_alive_while_idle(true);
        }
        let (tx, conn) = builder
            .handshake(io)
            .await
            .map_err(|e| Error::new(Kind::Handshake).with(e))?;
        let max_streams = Arc::new(AtomicUsize::new(0));
        let watch = Arc::clone(&max_streams);
        let (settings_tx, settings_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut settings_tx = Some(settings_tx);
            // hyper reads frames in a task of its own and wakes this one only for requests,
            // so nothing wakes us when the server's SETTINGS arrive: until they have, look
            // again every millisecond.
            let mut tick = tokio::time::interval(SETTINGS_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Polling through this wrapper lets the pool see the peer's stream limit: hyper
            // would otherwise queue streams past it silently.
            let result = std::future::poll_fn(|cx| {
                let poll = conn.as_mut().poll(cx);
                let max = conn.current_max_send_streams();
                watch.store(max, Ordering::Relaxed);
                if settings_tx.is_some() {
                    if max > 0 {
                        if let Some(tx) = settings_tx.take() {
                            let _ = tx.send(());
                        }
                    } else {
                        // Ready ticks are used up; the first pending one registers the waker.
                        while tick.poll_tick(cx).is_ready() {}
                    }
                }
                poll
            })
            .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, "upstream h2 connection ended with error");
            }
            on_close();
        });
        // The server's SETTINGS are the first frame it sends (RFC 9113 §3.4). Waiting for
        // them before the pool hands out streams means the first burst of requests is
        // spread by the server's real SETTINGS_MAX_CONCURRENT_STREAMS, not by a guess it
        // would refuse streams above (bounded by the connect timeout around us).
        settings_rx.await.map_err(|_| {
            Error::new(Kind::Handshake).with("connection closed before the server's SETTINGS")
        })?;
        Ok((Established::H2 { tx, max_streams }, task.abort_handle()))
    } else {
        let (mut tx, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| Error::new(Kind::Handshake).with(e))?;
        // A task of its own, on purpose. Driving the connection inside the task of the
        // request holding it (no task hop, a watch waker while idle) was built and measured
        // with benches/profile.sh: 50.2k instructions per proxied request against 49.8k
        // here. hyper's dispatcher work (≈ 12.9k: encode, parse, IO) is the same wherever it
        // runs; the task hop it saves (≈ 0.9k of scheduling, allocation and channel) is
        // spent again on larger futures moved by value and on more polls of the server
        // connection's task, which the upstream socket then wakes directly.
        let task = tokio::spawn(async move {
            // Upgrades (WebSocket) need the IO handed over after a 101.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream h1 connection ended with error");
            }
            on_close();
        });
        // `is_ready()` right after the handshake is racy (the dispatcher has not been polled
        // yet); waiting here makes the first send deterministic.
        tx.ready()
            .await
            .map_err(|e| Error::new(Kind::Handshake).with(e))?;
        Ok((Established::H1(tx), task.abort_handle()))
    }
}
