//! `[pool]`: one key per `gangway_pool::Builder` setter, same names, same defaults but for
//! `max_connections_per_host` (finite here; see `conn::fds`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{Deserializer, Error as _, IgnoredAny};
use serde::Deserialize;
use toml::Spanned;

use super::duration;

/// Upstream connection pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSection {
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Idle HTTP/1.1 connections kept per upstream host.
    pub max_idle_per_host: usize,
    /// Open connections per host (idle + busy + connecting); `None` = unlimited (only
    /// when built in code: the file's default is 1024, see `conn::fds`).
    pub max_connections_per_host: Option<usize>,
    /// How long a request waits for a connection when `max_connections_per_host` is reached.
    pub checkout_timeout: Duration,
    /// DNS + TCP + TLS budget. Not a `[pool]` key: copied from `timeouts.upstream_connect`
    /// so there is a single place to set it.
    pub connect_timeout: Duration,
    /// Close a connection after this many requests; `None` = no limit.
    pub max_requests_per_connection: Option<u64>,
    /// Stop reusing a connection this long after it opened; `None` = no limit.
    pub max_connection_lifetime: Option<Duration>,
    /// Speak only HTTP/1.1 upstream.
    pub http1_only: bool,
    /// Speak only HTTP/2 upstream (h2c prior knowledge on `http://`).
    pub http2_only: bool,
    /// Streams per HTTP/2 connection before the server's SETTINGS arrive.
    pub http2_initial_max_streams: usize,
    /// HTTP/2 PING interval; `None` = off.
    pub http2_keep_alive_interval: Option<Duration>,
    /// Largest request body kept for a retry on a fresh connection.
    pub retry_body_limit: usize,
    /// Bytes read from an abandoned response body to keep its connection.
    pub drain_limit: u64,
    /// Stop reusing a connection this long before the server's `Keep-Alive: timeout`.
    pub keep_alive_margin: Duration,
    /// Extra PEM CA roots for `https://` upstreams, on top of the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Local address outgoing connections bind to; `None` = the OS's choice.
    pub local_address: Option<IpAddr>,
}

impl Default for PoolSection {
    fn default() -> Self {
        PoolSection {
            idle_timeout: Duration::from_secs(90),
            // A gateway's upstream sees the concurrency of all its clients: the pool's
            // client-sized default (32) closed and reopened connections on every burst.
            max_idle_per_host: 1024,
            // Finite, so that the file descriptors a configuration needs can be counted
            // (`conn::fds`) and one upstream cannot take them all (Envoy's default too).
            max_connections_per_host: Some(1024),
            checkout_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_requests_per_connection: None,
            max_connection_lifetime: None,
            http1_only: false,
            http2_only: false,
            http2_initial_max_streams: 256,
            http2_keep_alive_interval: None,
            retry_body_limit: 64 * 1024,
            drain_limit: 64 * 1024,
            keep_alive_margin: Duration::from_secs(1),
            ca_file: None,
            local_address: None,
        }
    }
}

impl PoolSection {
    /// A pool builder with every setting applied.
    pub fn builder(&self) -> gangway_pool::Builder {
        let mut builder = gangway_pool::Builder::new();
        builder
            .idle_timeout(self.idle_timeout)
            .max_idle_per_host(self.max_idle_per_host)
            .checkout_timeout(self.checkout_timeout)
            .connect_timeout(self.connect_timeout)
            .retry_body_limit(self.retry_body_limit)
            .drain_limit(self.drain_limit)
            .keep_alive_margin(self.keep_alive_margin)
            .http2_initial_max_streams(self.http2_initial_max_streams);
        if let Some(max) = self.max_connections_per_host {
            builder.max_connections_per_host(max);
        }
        if let Some(max) = self.max_requests_per_connection {
            builder.max_requests_per_connection(max);
        }
        if let Some(lifetime) = self.max_connection_lifetime {
            builder.max_connection_lifetime(lifetime);
        }
        if self.http1_only {
            builder.http1_only();
        }
        if self.http2_only {
            builder.http2_only();
        }
        if let Some(interval) = self.http2_keep_alive_interval {
            builder.http2_keep_alive_interval(interval);
        }
        if let Some(path) = &self.ca_file {
            builder.add_root_certificates_pem(path.clone());
        }
        if let Some(addr) = self.local_address {
            builder.local_address(addr);
        }
        builder
    }
}

/// `[pool]` as written; spans kept on the keys with cross-field or filesystem checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPool {
    #[serde(deserialize_with = "duration::non_zero")]
    idle_timeout: Duration,
    max_idle_per_host: usize,
    #[serde(deserialize_with = "some_at_least_one")]
    max_connections_per_host: Option<usize>,
    #[serde(deserialize_with = "duration::non_zero")]
    checkout_timeout: Duration,
    #[serde(deserialize_with = "moved_to_timeouts")]
    connect_timeout: Option<()>,
    #[serde(deserialize_with = "some_at_least_one")]
    max_requests_per_connection: Option<u64>,
    #[serde(deserialize_with = "duration::optional")]
    max_connection_lifetime: Option<Duration>,
    pub(super) http1_only: Option<Spanned<bool>>,
    pub(super) http2_only: Option<Spanned<bool>>,
    #[serde(deserialize_with = "at_least_one")]
    http2_initial_max_streams: usize,
    #[serde(deserialize_with = "duration::optional")]
    http2_keep_alive_interval: Option<Duration>,
    #[serde(deserialize_with = "duration::size_usize")]
    retry_body_limit: usize,
    #[serde(deserialize_with = "duration::size")]
    drain_limit: u64,
    #[serde(deserialize_with = "duration::deserialize")]
    keep_alive_margin: Duration,
    pub(super) ca_file: Option<Spanned<PathBuf>>,
    local_address: Option<IpAddr>,
}

impl Default for RawPool {
    fn default() -> Self {
        let d = PoolSection::default();
        RawPool {
            idle_timeout: d.idle_timeout,
            max_idle_per_host: d.max_idle_per_host,
            max_connections_per_host: d.max_connections_per_host,
            checkout_timeout: d.checkout_timeout,
            connect_timeout: None,
            max_requests_per_connection: d.max_requests_per_connection,
            max_connection_lifetime: d.max_connection_lifetime,
            http1_only: None,
            http2_only: None,
            http2_initial_max_streams: d.http2_initial_max_streams,
            http2_keep_alive_interval: d.http2_keep_alive_interval,
            retry_body_limit: d.retry_body_limit,
            drain_limit: d.drain_limit,
            keep_alive_margin: d.keep_alive_margin,
            ca_file: None,
            local_address: d.local_address,
        }
    }
}

impl RawPool {
    /// The section once `validate.rs` has checked the spanned keys; `ca_file` is already
    /// resolved against the config's directory.
    pub(super) fn into_section(
        self,
        connect_timeout: Duration,
        ca_file: Option<PathBuf>,
    ) -> PoolSection {
        PoolSection {
            idle_timeout: self.idle_timeout,
            max_idle_per_host: self.max_idle_per_host,
            max_connections_per_host: self.max_connections_per_host,
            checkout_timeout: self.checkout_timeout,
            connect_timeout,
            max_requests_per_connection: self.max_requests_per_connection,
            max_connection_lifetime: self.max_connection_lifetime,
            http1_only: self.http1_only.is_some_and(|b| *b.get_ref()),
            http2_only: self.http2_only.is_some_and(|b| *b.get_ref()),
            http2_initial_max_streams: self.http2_initial_max_streams,
            http2_keep_alive_interval: self.http2_keep_alive_interval,
            retry_body_limit: self.retry_body_limit,
            drain_limit: self.drain_limit,
            keep_alive_margin: self.keep_alive_margin,
            ca_file,
            local_address: self.local_address,
        }
    }
}

/// Two places for one setting drift apart; point at the one that exists.
fn moved_to_timeouts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    IgnoredAny::deserialize(d)?;
    Err(D::Error::custom(
        "set the upstream connect timeout as timeouts.upstream_connect",
    ))
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(D::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

fn some_at_least_one<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialEq + From<u8>,
{
    let value = T::deserialize(d)?;
    if value == T::from(0) {
        return Err(D::Error::custom(
            "must be at least 1 (leave the key out for no limit)",
        ));
    }
    Ok(Some(value))
}
