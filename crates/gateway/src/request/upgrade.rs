//! HTTP/1.1 Upgrade (WebSocket and friends) passing through: once both sides agreed on
//! `101 Switching Protocols`, the two connections are spliced and bytes copied both ways
//! until either side closes.

use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;

use gangway_pool::rt::TokioIo;

use crate::app::App;

use super::tunnel::{self, TunnelHold};

/// The client side of an upgrade: its pending upgrade and what the connection lends the
/// tunnel (see [`super::tunnel`]).
#[derive(Debug)]
pub struct ClientSide {
    upgrade: OnUpgrade,
    hold: Option<Arc<TunnelHold>>,
}

/// Takes the client side's pending upgrade, if the request asks for one.
pub fn take_client_side(req: &mut Request<Incoming>) -> Option<ClientSide> {
    if req.version() != http::Version::HTTP_11 || !req.headers().contains_key(http::header::UPGRADE)
    {
        return None;
    }
    let hold = req.extensions_mut().remove::<Arc<TunnelHold>>();
    Some(ClientSide {
        upgrade: hyper::upgrade::on(req),
        hold,
    })
}

/// The upgrade fields of the request as forwarded (`Connection` and `Upgrade`), kept for
/// [`crate::rewrite::upgrade_check::decide`] once the request itself has gone to the pool.
/// Empty, without allocating, when the request asks for no upgrade.
pub fn asked(forwarded: &http::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    if forwarded.contains_key(http::header::UPGRADE) {
        for name in [http::header::CONNECTION, http::header::UPGRADE] {
            for value in forwarded.get_all(&name) {
                out.append(name.clone(), value.clone());
            }
        }
    }
    out
}

/// After a 101 from upstream: spawns the splice between the client and the upstream.
pub fn splice(app: &Arc<App>, client: ClientSide, upstream_parts: &mut http::response::Parts) {
    let Some(upstream) = upstream_parts.extensions.remove::<OnUpgrade>() else {
        tracing::warn!("upstream answered 101 without an upgradeable connection");
        return;
    };
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let ClientSide { upgrade, hold } = client;
        let (client, upstream) = match tokio::try_join!(upgrade, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "upgrade failed");
                return;
            }
        };
        app.metrics.tunnel_opened();
        tunnel::run(
            TokioIo::new(client),
            TokioIo::new(upstream),
            app.settings.tunnel_idle,
            hold,
        )
        .await;
        app.metrics.tunnel_closed();
    });
}
