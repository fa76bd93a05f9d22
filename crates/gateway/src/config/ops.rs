//! Operations settings: `[health]` (liveness and readiness paths) and `[shutdown]`.
//!
//! Liveness says "the process works" (an orchestrator restarts it when this fails);
//! readiness says "send me traffic" (a load balancer stops sending when this fails). They
//! are separate paths because a draining gateway is alive but not ready.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::duration;
use super::schema::absolute_path;

/// `[health]`: the endpoints the gateway answers itself, on every listener, before routing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawHealth")]
pub struct Health {
    /// Liveness: `200 OK` whenever the process serves at all.
    pub path: String,
    /// Readiness: `200 OK` when this instance should get traffic; `503` before the config is
    /// loaded, while draining (including `[shutdown] delay`), and, with
    /// [`ready_requires_servers`](Self::ready_requires_servers), while a route has no usable
    /// upstream server.
    pub ready_path: String,
    /// Readiness also fails while any route's upstream group has no usable server.
    ///
    /// Off by default: when every replica of a gateway shares the same upstreams, failing
    /// readiness on all of them at once takes the whole gateway out of the load balancer, and
    /// the clients get connection errors instead of a `502` that says which upstream is down.
    pub ready_requires_servers: bool,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            path: "/healthcheck".to_owned(),
            ready_path: "/ready".to_owned(),
            ready_requires_servers: false,
        }
    }
}

/// `[health]` as written; [`Health`] after the check that needs both paths.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHealth {
    #[serde(deserialize_with = "absolute_path")]
    path: String,
    #[serde(deserialize_with = "absolute_path")]
    ready_path: String,
    ready_requires_servers: bool,
}

impl Default for RawHealth {
    fn default() -> Self {
        let Health {
            path,
            ready_path,
            ready_requires_servers,
        } = Health::default();
        RawHealth {
            path,
            ready_path,
            ready_requires_servers,
        }
    }
}

impl TryFrom<RawHealth> for Health {
    type Error = String;

    fn try_from(raw: RawHealth) -> Result<Self, String> {
        // One path cannot answer both questions: a draining instance must fail readiness
        // while still passing liveness, or the orchestrator kills it mid-drain.
        if raw.path == raw.ready_path {
            return Err(format!(
                "path and ready_path are both \"{}\"; liveness and readiness need different paths",
                raw.path
            ));
        }
        Ok(Health {
            path: raw.path,
            ready_path: raw.ready_path,
            ready_requires_servers: raw.ready_requires_servers,
        })
    }
}

/// `[shutdown]`: what happens between SIGTERM and the end of the process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// After SIGTERM, how long readiness fails while requests are still served normally,
    /// before the drain (`[timeouts] shutdown_grace`) starts. `0s` (the default) = drain at
    /// once.
    ///
    /// Why: on Kubernetes the endpoint removal and the SIGTERM race; for a few seconds after
    /// SIGTERM, load balancers still send new connections. Keeping the listener open for
    /// that time turns what would be refused connections into served requests. Keep
    /// `delay + shutdown_grace` below `terminationGracePeriodSeconds`.
    #[serde(deserialize_with = "delay")]
    pub delay: Duration,
}

/// The longest `[shutdown] delay`: beyond it a typo (`"5m"` for `"5s"`) would hold every
/// deploy for minutes.
pub const MAX_SHUTDOWN_DELAY: Duration = Duration::from_secs(300);

fn delay<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = duration::deserialize(d)?;
    if value > MAX_SHUTDOWN_DELAY {
        return Err(D::Error::custom(format!(
            "must be at most {}s",
            MAX_SHUTDOWN_DELAY.as_secs()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
