//! What a reload may change, decided from the running and the new config alone.
//!
//! Listener and admin addresses (and a listener's mode, and whether it is TLS) are refused
//! on reload: re-binding sockets while the old ones drain needs the listener tasks to be
//! restartable one by one, which they are not yet. A refused change keeps the running
//! config whole, like a file that does not parse, and says why in the one error line.
//! A TLS listener's certificates (files, paths, their number) do reload: they live in the
//! `App`, and each handshake takes them from the `App` serving at that moment.

use std::collections::BTreeSet;

use crate::config::Config;

/// What to do with the running state when a new config is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `[pool]` (and the connect timeout it is built with) unchanged: keep the client, and
    /// with it the connections of every server still routed to.
    pub keep_pool: bool,
    /// Upstreams (`scheme://host:port`) routed to before and not after: their pooled
    /// connections are closed when the pool is kept.
    pub removed: Vec<String>,
}

/// Why a new config is refused although it is valid.
pub fn plan(old: &Config, new: &Config) -> Result<Plan, String> {
    if shape(old) != shape(new) {
        return Err(
            "[[listener]] changed (address, mode, or plain/TLS); listeners are not reloaded: \
             restart to apply"
                .to_owned(),
        );
    }
    if old.admin.address != new.admin.address {
        return Err("[admin] address changed; restart to apply".to_owned());
    }
    let keep_pool =
        old.pool == new.pool && old.timeouts.upstream_connect == new.timeouts.upstream_connect;
    let after = upstreams(new);
    let removed = upstreams(old)
        .into_iter()
        .filter(|u| !after.contains(u))
        .collect();
    Ok(Plan { keep_pool, removed })
}

/// What of the listeners must stay as it is: everything but the certificates.
fn shape(config: &Config) -> Vec<(std::net::SocketAddr, crate::config::ListenerMode, bool)> {
    config
        .listeners
        .iter()
        .map(|l| (l.address, l.mode, l.tls.is_some()))
        .collect()
}

/// Every upstream the routes send to, as `scheme://authority`.
fn upstreams(config: &Config) -> BTreeSet<String> {
    config
        .router
        .routes()
        .iter()
        .filter(|r| !r.upstream.is_none())
        .map(|r| {
            let scheme = if r.upstream.https { "https" } else { "http" };
            format!("{scheme}://{}", r.upstream.authority)
        })
        .collect()
}
