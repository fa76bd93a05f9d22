//! A route's own runtime state (#13 items 8, 9), built with the app from the routes:
//! its rate-limit buckets (the CORS proxy's [`RateLimiter`], one implementation for both)
//! and the pool it sends through.
//!
//! Most routes use the app's one route pool. A route (or its group) that asks for another
//! protocol or connect timeout than `[pool]`/`[timeouts]` gets a pool built with those
//! settings, one per distinct combination, so the pool's internals stay as they are: the
//! version policy and the connect timeout are settings of a pool, not of a request.

use std::time::Duration;

use crate::config::PoolSection;
use crate::cors::RateLimiter;
use crate::route::limits::Protocol;
use crate::route::Route;

/// What one pool is built with, beside `[pool]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolKey {
    protocol: Option<Protocol>,
    connect: Duration,
}

/// Per-route limiters and pools, by route index (the router's order).
#[derive(Debug, Default)]
pub struct PerRoute {
    limiters: Vec<Option<RateLimiter>>,
    /// Index into `pools`; `None` = the app's route pool.
    pool_of: Vec<Option<usize>>,
    pools: Vec<(String, gangway_pool::Client)>,
}

impl PerRoute {
    /// Builds the state for `routes`; `connect` is `timeouts.upstream_connect`.
    pub fn build(
        pool: &PoolSection,
        connect: Duration,
        routes: &[Route],
    ) -> Result<PerRoute, gangway_pool::Error> {
        let mut keys: Vec<PoolKey> = Vec::new();
        let mut out = PerRoute::default();
        for route in routes {
            out.limiters.push(
                route
                    .rate_limit
                    .map(|r| RateLimiter::new(r.per_second, r.burst)),
            );
            let key = PoolKey {
                protocol: route.protocol,
                connect: route.connect_timeout.unwrap_or(connect),
            };
            let default = key.protocol.is_none() && key.connect == connect;
            if default || route.upstream.is_none() {
                out.pool_of.push(None);
                continue;
            }
            let at = match keys.iter().position(|k| *k == key) {
                Some(at) => at,
                None => {
                    let mut builder = pool.builder();
                    builder.connect_timeout(key.connect);
                    match key.protocol {
                        Some(Protocol::Http1) => builder.http1_only(),
                        Some(Protocol::Http2) => builder.http2_only(),
                        None => &mut builder,
                    };
                    out.pools.push((label(key, connect), builder.build()?));
                    keys.push(key);
                    keys.len() - 1
                }
            };
            out.pool_of.push(Some(at));
        }
        Ok(out)
    }

    /// The rate limiter of route `index`, if it has one.
    pub fn limiter(&self, index: usize) -> Option<&RateLimiter> {
        self.limiters.get(index).and_then(Option::as_ref)
    }

    /// The pool route `index` sends through: its own, else `default`.
    pub fn client<'a>(
        &'a self,
        index: usize,
        default: &'a gangway_pool::Client,
    ) -> &'a gangway_pool::Client {
        self.pool_of
            .get(index)
            .copied()
            .flatten()
            .and_then(|at| self.pools.get(at))
            .map_or(default, |(_, client)| client)
    }

    /// The pool a group's health probes and resolver use, given the first route naming
    /// the group (every route naming a group shares its protocol): that route's pool,
    /// else `default`.
    pub fn client_for(
        &self,
        route: Option<usize>,
        default: &gangway_pool::Client,
    ) -> gangway_pool::Client {
        route.map_or(default, |i| self.client(i, default)).clone()
    }

    /// The routes' own pools with their metric labels (`routes-http2`, …).
    pub fn pools(&self) -> impl Iterator<Item = (&str, &gangway_pool::Client)> {
        self.pools.iter().map(|(label, c)| (label.as_str(), c))
    }
}

/// `routes-http2`, `routes-http1-connect-2000ms`, `routes-connect-500ms`: the connect
/// timeout only when it is not `timeouts.upstream_connect`.
fn label(key: PoolKey, default_connect: Duration) -> String {
    let mut label = String::from("routes");
    if let Some(p) = key.protocol {
        label.push('-');
        label.push_str(p.as_str());
    }
    if key.connect != default_connect {
        label.push_str(&format!("-connect-{}ms", key.connect.as_millis()));
    }
    label
}

#[cfg(test)]
mod tests;
