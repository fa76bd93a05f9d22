//! `[forwarding]`: whose forwarding headers are believed (issue #17 item 6). The rules live
//! in [`crate::rewrite::forwarded`]; this is the configuration that feeds them.
//!
//! ```toml
//! [forwarding]
//! trusted_proxies = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]   # default: none
//! emit_forwarded = true                                             # default: false
//! ```

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use crate::rewrite::forwarded::{Cidr, TrustedProxies};

/// `[forwarding]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Forwarding {
    /// Peers (CIDR blocks or single addresses) whose `X-Forwarded-*` and `Forwarded` headers
    /// are appended to; from everyone else they are replaced or removed. Default: none.
    #[serde(deserialize_with = "cidrs")]
    pub trusted_proxies: TrustedProxies,
    /// Also send an RFC 7239 `Forwarded` element upstream. Default: false.
    pub emit_forwarded: bool,
}

fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<TrustedProxies, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    let mut blocks = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let cidr = text
            .parse::<Cidr>()
            .map_err(|e| D::Error::custom(format!("entry {i}: {e}")))?;
        blocks.push(cidr);
    }
    Ok(TrustedProxies::new(blocks))
}

#[cfg(test)]
mod tests;
