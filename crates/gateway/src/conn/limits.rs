//! Connection-level limits and timeouts: a leaf (it imports only `config` and `strict`),
//! so that `app` can hold the reloadable copy without importing the connection code.

use std::time::Duration;

/// Connection-level limits and timeouts.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Concurrent downstream connections, all listeners together.
    pub max_connections: usize,
    /// Time allowed for a request head (slowloris), and for the TLS handshake.
    pub header_read_timeout: Duration,
    /// Most header fields in a request (431 beyond).
    pub max_headers: usize,
    /// Largest request head in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// Longest request target (414 beyond).
    pub max_uri_bytes: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_streams: u32,
    /// A client connection with nothing in flight this long is closed (see `conn::idle`).
    pub client_idle: Duration,
    /// A plain HTTP/1 connection idle this long is parked (see `conn::park`).
    pub client_park: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(30),
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_uri_bytes: 8 * 1024,
            h2_max_streams: 100,
            client_idle: Duration::from_secs(75),
            client_park: Duration::from_secs(1),
        }
    }
}

impl ServerLimits {
    /// What the strict HTTP/1 checker enforces (the same limits hyper gets).
    pub(super) fn strict(&self) -> crate::strict::Limits {
        crate::strict::Limits {
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            max_uri_bytes: self.max_uri_bytes,
        }
    }
}

impl ServerLimits {
    /// The connection-level limits `config` asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            max_connections: config.limits.max_connections,
            header_read_timeout: config.timeouts.header_read,
            h2_max_streams: config.limits.max_streams_per_connection,
            client_idle: config.timeouts.client_idle,
            client_park: config.timeouts.client_park,
            max_headers: config.limits.max_headers,
            max_header_bytes: config.limits.max_header_bytes,
            max_uri_bytes: config.limits.max_uri_bytes,
        }
    }
}
