//! Connections per listener: `gangway_listener_connections_accepted_total{listener}` and
//! `gangway_listener_connections_open{listener}`. The listeners are known when the `App`
//! is built (their bound addresses), so counting is a short scan and two relaxed atomic
//! adds — no lock, no allocation per connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::prom::{MetricType, PromText};

/// The per-listener counters.
#[derive(Debug, Default)]
pub struct Listeners {
    slots: Vec<Slot>,
}

#[derive(Debug)]
struct Slot {
    addr: SocketAddr,
    label: String,
    accepted: AtomicU64,
    open: AtomicU64,
}

impl Listeners {
    /// Counters for these bound addresses.
    pub fn new(addrs: &[SocketAddr]) -> Listeners {
        Listeners {
            slots: addrs
                .iter()
                .map(|addr| Slot {
                    addr: *addr,
                    label: addr.to_string(),
                    accepted: AtomicU64::new(0),
                    open: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Which listener a connection whose local address is `local` came through: the one
    /// bound to exactly that address, else one bound to the wildcard address on its port.
    fn find(&self, local: SocketAddr) -> Option<&Slot> {
        let local = SocketAddr::new(local.ip().to_canonical(), local.port());
        self.slots.iter().find(|s| s.addr == local).or_else(|| {
            self.slots
                .iter()
                .find(|s| s.addr.port() == local.port() && s.addr.ip().is_unspecified())
        })
    }

    /// A connection was accepted on the listener at `local`.
    pub fn opened(&self, local: SocketAddr) {
        if let Some(slot) = self.find(local) {
            slot.accepted.fetch_add(1, Ordering::Relaxed);
            slot.open.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection accepted on the listener at `local` ended.
    pub fn closed(&self, local: SocketAddr) {
        if let Some(slot) = self.find(local) {
            slot.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Both families. A listener appears once it has accepted a connection (the admin
    /// listener, which is among the bound addresses but counted elsewhere, never does).
    pub fn render(&self, out: &mut String) {
        let mut text = PromText::new();
        let used = || {
            self.slots
                .iter()
                .filter(|s| s.accepted.load(Ordering::Relaxed) > 0)
        };
        let mut accepted = text.family(
            "gangway_listener_connections_accepted_total",
            "Client connections accepted, by listener.",
            MetricType::Counter,
        );
        for s in used() {
            let n = s.accepted.load(Ordering::Relaxed);
            accepted.sample(&[("listener", &s.label)], n as f64);
        }
        let mut open = text.family(
            "gangway_listener_connections_open",
            "Client connections open now, by listener.",
            MetricType::Gauge,
        );
        for s in used() {
            let n = s.open.load(Ordering::Relaxed);
            open.sample(&[("listener", &s.label)], n as f64);
        }
        out.push_str(text.as_str());
    }
}

#[cfg(test)]
mod tests;
