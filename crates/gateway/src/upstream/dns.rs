//! DNS endpoints: a group server whose URL names a host (not an IP literal) stands for every
//! address the name resolves to, each a server of its own (its own pool key through the
//! pool's `ConnectTo`, its own counters, its share of the balancing), like Envoy's
//! `STRICT_DNS` clusters or a Kubernetes headless Service balanced per pod. The URL keeps
//! the name, so `Host`, TLS SNI and certificate verification use the name.
//!
//! One task per such group resolves its names at start and every `resolve_interval`
//! through the gateway's resolver (the pool's resolver hook; the system's by default).
//! When the set of addresses changed, it builds the group's next server set (addresses
//! that stay keep their counters, in-flight counts and health verdict) and swaps it in
//! ([`super::wiring::GroupCell`]). An address that vanished gets no new requests; requests
//! already sent to it finish on the old set, which they hold; its idle connections are
//! closed (`close_key`). A failed lookup keeps the name's last addresses: a DNS hiccup
//! must not empty a group.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use gangway_pool::Resolve;

use super::wiring::GroupCell;
use super::{Group, ServerInit};
use crate::config::UpstreamGroup;
use crate::route::Upstream;

/// The resolver the gateway's pool and its DNS endpoints share: the system's unless an
/// embedder (or a test) sets one on the config.
#[derive(Clone)]
pub struct Resolver(pub Arc<dyn Resolve>);

impl Resolver {
    /// The config's resolver hook, or the system resolver.
    pub fn of(config: &crate::config::Config) -> Resolver {
        config
            .resolver
            .clone()
            .unwrap_or_else(|| Resolver(Arc::new(gangway_pool::SystemResolver)))
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(..)")
    }
}

/// The host name of `upstream` and its port, when it names a host rather than an IP.
pub fn host_name(upstream: &Upstream) -> Option<(&str, u16)> {
    let host = upstream.authority.host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some((host, upstream.authority.port_u16()?))
}

/// Whether any server of `group` names a host.
pub fn has_names(group: &UpstreamGroup) -> bool {
    group
        .servers
        .iter()
        .any(|s| host_name(&s.upstream).is_some())
}

/// The server set for `group` given each configured server's answer (`answers[i]` for
/// `group.servers[i]`: `None` for an IP literal, `Some(addresses)` for a name, sorted and
/// deduplicated here). A name with no address contributes nothing. Counters are taken
/// from `previous` for every (URL, address) it already had.
pub fn server_set(
    group: &UpstreamGroup,
    answers: &[Option<Vec<SocketAddr>>],
    previous: &Group,
) -> Vec<ServerInit> {
    let carried = |upstream: &Upstream, connect_to: Option<SocketAddr>| {
        previous
            .servers()
            .iter()
            .find(|s| s.connect_to == connect_to && &s.upstream == upstream)
            .map(|s| Arc::clone(s.stats()))
    };
    let mut out = Vec::new();
    for (i, spec) in group.servers.iter().enumerate() {
        match answers.get(i) {
            Some(Some(addrs)) => {
                let mut addrs = addrs.clone();
                addrs.sort_unstable();
                addrs.dedup();
                for addr in addrs {
                    out.push(ServerInit {
                        upstream: spec.upstream.clone(),
                        connect_to: Some(addr),
                        weight: spec.weight,
                        stats: carried(&spec.upstream, Some(addr)),
                    });
                }
            }
            _ => out.push(ServerInit {
                upstream: spec.upstream.clone(),
                connect_to: None,
                weight: spec.weight,
                stats: carried(&spec.upstream, None),
            }),
        }
    }
    out
}

/// Whether `next` differs from the servers of `current` (same servers in the same order
/// means nothing to swap).
pub fn changed(current: &Group, next: &[ServerInit]) -> bool {
    current.servers().len() != next.len()
        || current
            .servers()
            .iter()
            .zip(next)
            .any(|(s, n)| s.upstream != n.upstream || s.connect_to != n.connect_to)
}

/// Resolves `group`'s names every `resolve_interval` and swaps in the new server set when
/// it changed. Ends when the cell is gone (a reload replaced the groups).
pub async fn resolve_loop(
    cell: Weak<GroupCell>,
    config: UpstreamGroup,
    client: gangway_pool::Client,
    resolver: Resolver,
    on_new_set: impl Fn(&Arc<Group>) + Send + 'static,
) {
    loop {
        let Some(live) = cell.upgrade() else { return };
        let current = live.load();
        let mut answers = Vec::with_capacity(config.servers.len());
        for spec in &config.servers {
            let answer = match host_name(&spec.upstream) {
                None => None,
                Some((host, port)) => {
                    let lookup = resolver.0.resolve(host, port);
                    match tokio::time::timeout(Duration::from_secs(10), lookup).await {
                        Ok(Ok(addrs)) if !addrs.is_empty() => Some(addrs),
                        outcome => {
                            let why = match outcome {
                                Ok(Err(e)) => e.to_string(),
                                Ok(Ok(_)) => "no addresses".to_owned(),
                                Err(_) => "timed out".to_owned(),
                            };
                            tracing::warn!(group = %config.name, server = %spec.upstream, error = %why, "resolving a server's name failed; keeping its last addresses");
                            last_addresses(&current, &spec.upstream)
                        }
                    }
                }
            };
            answers.push(answer);
        }
        let next = server_set(&config, &answers, &current);
        if changed(&current, &next) {
            let group = Arc::new(Group::from_specs(
                &config.name,
                next,
                config.settings.clone(),
                Instant::now(),
            ));
            live.store(Arc::clone(&group));
            let addresses: Vec<String> = group.servers().iter().map(|s| s.label()).collect();
            tracing::info!(group = %config.name, servers = ?addresses, "upstream group's addresses changed");
            for gone in current.servers().iter().filter(|s| {
                !group
                    .servers()
                    .iter()
                    .any(|n| n.upstream == s.upstream && n.connect_to == s.connect_to)
            }) {
                // Idle connections close now; busy ones when their request ends.
                if let Ok(uri) = format!("{}/", gone.upstream).parse::<http::Uri>() {
                    let _ = client.close_key(&uri, gone.connect_to);
                }
            }
            on_new_set(&group);
        }
        drop((live, current));
        tokio::time::sleep(config.resolve_interval).await;
    }
}

/// The addresses `upstream` had in `group` (a failed lookup keeps them); `None` when it
/// had none yet (the name stays unresolved: the pool resolves it per connection).
fn last_addresses(group: &Group, upstream: &Upstream) -> Option<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = group
        .servers()
        .iter()
        .filter(|s| &s.upstream == upstream)
        .filter_map(|s| s.connect_to)
        .collect();
    (!addrs.is_empty()).then_some(addrs)
}

#[cfg(test)]
mod tests;
