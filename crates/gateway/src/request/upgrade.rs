//! HTTP/1.1 Upgrade (WebSocket and friends) passing through: once both sides agreed on
//! `101 Switching Protocols`, the two connections are spliced and bytes copied both ways
//! until either side closes.

use http::Request;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;

use gangway_pool::rt::TokioIo;

/// Takes the client side's pending upgrade, if the request asks for one.
pub fn take_client_side(req: &mut Request<Incoming>) -> Option<OnUpgrade> {
    if req.version() != http::Version::HTTP_11 || !req.headers().contains_key(http::header::UPGRADE)
    {
        return None;
    }
    Some(hyper::upgrade::on(req))
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
pub fn splice(client: OnUpgrade, upstream_parts: &mut http::response::Parts) {
    let Some(upstream) = upstream_parts.extensions.remove::<OnUpgrade>() else {
        tracing::warn!("upstream answered 101 without an upgradeable connection");
        return;
    };
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            Ok((up, down)) => tracing::debug!(
                client_to_upstream = up,
                upstream_to_client = down,
                "upgraded connection closed"
            ),
            Err(e) => tracing::debug!(error = %e, "upgraded connection ended with error"),
        }
    });
}
