//! Serving an HTTP/1 connection: every byte shown to the strict checker before hyper
//! parses it, and hyper's connection rebuilt on the same socket after each park (see
//! `park`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use http::header::UPGRADE;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::io::{AsyncRead, AsyncWrite};

use gangway_pool::rt::{TokioIo, TokioTimer};

use super::drive::{drive, Driven, Watchdog};
use super::h1_after::H1After;
use super::idle::{self, Activity, Budget};
use super::park::{ReadReady, Replay};
use super::strict_io::{StrictConn, StrictIo};
use super::{shutdown, sni, Conn};
use crate::request;

impl Conn {
    /// Serves `stream` as HTTP/1.1 to its end.
    pub(super) async fn serve_h1<S>(
        &mut self,
        stream: S,
        activity: Arc<Activity>,
        sni: Option<sni::Chosen>,
        budget: Budget,
    ) where
        S: AsyncRead + AsyncWrite + ReadReady + Unpin + Send + 'static,
    {
        let (info, limits) = (self.info, Arc::clone(&self.limits));
        // Every byte passes the strict checker before hyper parses it (see `strict_io`).
        let strict = StrictConn::new(limits.strict());
        let stream = idle::Watched::new(stream, Arc::clone(&activity));
        let mut io = Replay::new(StrictIo::new(stream, Arc::clone(&strict)));
        let live = Arc::clone(&self.app);
        let hold = Arc::clone(&self.hold);
        let requests = Arc::clone(&activity);
        let mut service = service_fn(move |mut req: Request<Incoming>| {
            let busy = requests.begin();
            // Asked when hyper hands the request over, so in request order.
            let violation = strict.next_request();
            sni::mark_misdirected(sni.as_ref(), &mut req);
            if req.headers().contains_key(UPGRADE) {
                // A tunnel this request may become keeps the connection's permit.
                req.extensions_mut().insert(Arc::clone(&hold));
            }
            let after = H1After::new(Arc::clone(&strict), violation, &mut req);
            let app = live.load();
            // Boxed per request: hyper keeps room for the service's future in a box of
            // its own for the connection's whole life, idle or not; a pointer there
            // instead of the future's kilobytes keeps an idle keep-alive connection small.
            Box::pin(request::handle(
                app,
                info,
                violation,
                req,
                move |mut resp| {
                    after.apply(&mut resp);
                    Ok::<_, Infallible>(resp.map(|b| idle::Tracked::new(b, busy)))
                },
            ))
        });
        let parked = Budget {
            park_after: None,
            ..budget
        };
        let budget = Budget {
            park_after: S::PARKS.then_some(limits.client_park),
            ..budget
        };
        loop {
            let conn = http1::Builder::new()
                .timer(TokioTimer)
                // Off: `idle` runs header_read with the sniffing time counted (hyper's
                // timer would start afresh) and client_idle between requests.
                .header_read_timeout(None)
                .max_headers(limits.max_headers)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            // Boxed: parked, the task holds none of hyper's state, not even room for it.
            let mut conn = Box::pin(conn);
            let expired = activity.expired(budget);
            // Boxed: freed while parked, so the task keeps no room for it.
            let driven = Box::pin(drive(
                conn.as_mut(),
                |c| c.graceful_shutdown(),
                &self.app.load(),
                &info,
                &mut self.signals,
                Watchdog {
                    expired,
                    h2: false,
                    activity: &activity,
                },
            ))
            .await;
            if driven == Driven::Ended {
                return;
            }
            let Some(http1::Parts {
                io: parts_io,
                read_buf,
                service: parts_service,
                ..
            }) = Pin::into_inner(conn).into_parts()
            else {
                return;
            };
            io = parts_io.into_inner();
            io.replay(read_buf);
            service = parts_service;
            tracing::trace!(client = %info.peer, "idle connection parked");
            // Both ends of this park counted in one `App`, whatever a reload does meanwhile.
            let app = self.app.load();
            app.metrics.connection_parked(true);
            // Nothing of hyper's is held from here until the next bytes arrive.
            let woke = tokio::select! {
                biased;
                r = std::future::poll_fn(|cx| io.poll_read_ready(cx)) => r.is_ok(),
                _ = shutdown::signalled(&mut self.signals.stop) => false,
                // client_idle, counted from when the connection went idle (nothing is
                // read while parked, so the phase cannot change).
                _ = tokio::time::sleep_until(activity.idle_until(parked)) => false,
            };
            app.metrics.connection_parked(false);
            if !woke {
                return;
            }
        }
    }
}
