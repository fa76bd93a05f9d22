//! One server of a group: where it is (a URL, and an address for one of a host name's
//! addresses), its weight, and its counters.

use std::net::SocketAddr;
use std::sync::Arc;

use super::stats;
use crate::route::Upstream;

/// One server of a group and its counters.
#[derive(Debug)]
pub struct Server {
    /// Where it is: for a server resolved from a host name, the name (kept for `Host`, SNI
    /// and certificate verification) with one of its addresses in `connect_to`.
    pub upstream: Upstream,
    /// The address to connect to, for a server that is one address of a host name (sent
    /// as the pool's `ConnectTo`, so each address is a pool key of its own).
    pub connect_to: Option<SocketAddr>,
    /// Relative share of requests (≥ 1).
    pub weight: u32,
    pub(super) stats: Arc<stats::ServerStats>,
}

/// What a group is built from: one entry per server (per address for a resolved name).
#[derive(Debug, Clone)]
pub struct ServerInit {
    /// Where it is (see [`Server::upstream`]).
    pub upstream: Upstream,
    /// See [`Server::connect_to`].
    pub connect_to: Option<SocketAddr>,
    /// Relative share of requests.
    pub weight: u32,
    /// Counters carried over from an earlier server set (`None` = new ones).
    pub stats: Option<Arc<stats::ServerStats>>,
}

impl ServerInit {
    /// A server at `upstream` with `weight`, new counters, no pinned address.
    pub fn new(upstream: Upstream, weight: u32) -> ServerInit {
        ServerInit {
            upstream,
            connect_to: None,
            weight,
            stats: None,
        }
    }
}

impl Server {
    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.stats.in_flight()
    }

    /// Requests sent (attempts, retries included).
    pub fn requests(&self) -> u64 {
        self.stats.requests()
    }

    /// Attempts reported as failures.
    pub fn failures(&self) -> u64 {
        self.stats.failures()
    }

    /// Its counters (shared with the same server in a later server set).
    pub fn stats(&self) -> &Arc<stats::ServerStats> {
        &self.stats
    }

    /// The pool's name for this server's connections (its key as the pool displays it:
    /// `http://host:port`, and ` via addr` for one address of a host name), to find its
    /// pool stats.
    pub fn pool_key(&self) -> String {
        let scheme = if self.upstream.https { "https" } else { "http" };
        match self.connect_to {
            Some(addr) => format!("{scheme}://{} via {addr}", self.upstream.authority),
            None => format!("{scheme}://{}", self.upstream.authority),
        }
    }

    /// How it is named in metrics and `/upstreams`: the URL, and the address for a server
    /// resolved from a host name (`http://api.internal:80@10.0.0.7:80`).
    pub fn label(&self) -> String {
        match self.connect_to {
            Some(addr) => format!("{}@{addr}", self.upstream),
            None => self.upstream.to_string(),
        }
    }
}
