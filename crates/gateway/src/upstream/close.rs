//! Closing the gateway's upstream pools at shutdown: once the listeners have stopped and
//! the downstream connections are drained, nothing will ask the pools for a connection
//! again, so their idle keep-alive connections close now instead of lingering until the
//! process exits (an upstream sees a clean FIN, not a reset at exit).

use std::time::Instant;

use crate::app::App;

/// Shuts down the route pool and the CORS pool (if any) with `deadline` for requests still
/// in flight on them. Returns `true` when both finished before the deadline.
pub async fn close_pools(app: &App, deadline: Instant) -> bool {
    let routes = app.client.shutdown(deadline);
    let clean = match &app.cors {
        Some(cors) => {
            let (a, b) = tokio::join!(routes, cors.client.shutdown(deadline));
            a && b
        }
        None => routes.await,
    };
    // The routes' own pools (another protocol or connect timeout), with the same deadline.
    let mut clean = clean;
    for (_, client) in app.per_route.pools() {
        clean &= client.shutdown(deadline).await;
    }
    if clean {
        tracing::info!("upstream pools closed");
    } else {
        tracing::warn!("upstream requests still open at the end of the grace period; closed");
    }
    clean
}
