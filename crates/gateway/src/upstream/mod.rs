//! Upstream groups: several servers behind one route, balanced, health-checked and failed
//! over. The decisions are pure and table-tested, one file each; [`Group`] holds the live
//! state (atomics) and is what the request path calls: [`Group::pick`] before an attempt,
//! [`Group::report`] after it, [`retry::decide`] between attempts.
//!
//! - `balance`: the four policies (`least_requests`, `round_robin`, `random`, `hash`) and
//!   the hash key of a request.
//! - `outlier`: passive health, ejection on consecutive failures.
//! - `health`: active checks' state machine and probe timing.
//! - `budget`: the retry budget.
//! - `retry`: whether a failed attempt is tried on another server.
//! - `close`: closing the gateway's pools at shutdown.
//! - `dns`: servers named by host name, one server per address, resolved again over time.
//! - `stats`, `report`: per-server counters, their `/metrics` families and `GET /upstreams`.

pub mod balance;
pub mod budget;
pub mod close;
pub mod dns;
pub mod health;
pub mod outlier;
pub mod probe;
pub mod report;
pub mod retry;
mod server;
pub mod stats;
pub mod wiring;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use http::HeaderMap;

pub use balance::{HashOn, Policy};
pub use server::{Server, ServerInit};

use crate::route::Upstream;

/// The parts of a request a pick may look at.
#[derive(Debug, Clone, Copy)]
pub struct RequestKeyInput<'a> {
    /// The request's headers (`hash_on = "header:…"` / `"cookie:…"`).
    pub headers: &'a HeaderMap,
    /// The downstream peer (`hash_on = "client_ip"`).
    pub client_ip: IpAddr,
}

/// A group's settings, as the config gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Balancing policy.
    pub policy: Policy,
    /// The key for [`Policy::Hash`].
    pub hash_on: Option<HashOn>,
    /// Failover.
    pub retry: retry::Policy,
    /// The retry budget.
    pub budget: budget::Settings,
    /// Passive health.
    pub outlier: outlier::Settings,
    /// Active checks; `None` = off.
    pub health: Option<health::Settings>,
}

/// A named set of servers with its policy and live state.
#[derive(Debug)]
pub struct Group {
    name: String,
    servers: Vec<Server>,
    settings: Settings,
    balancer: balance::Balancer,
    outlier: outlier::Detector,
    budget: budget::Budget,
    panic: AtomicBool,
    panics: AtomicU64,
    stats: stats::GroupStats,
}

/// What [`Group::pick`] chose; holds the server's in-flight count up until dropped. It
/// borrows the group rather than holding an `Arc` of it: the request that picked keeps the
/// group alive anyway, and a reference count shared by every worker is one contended
/// atomic pair per request saved.
#[derive(Debug)]
pub struct ServerHandle<'a> {
    group: &'a Group,
    index: usize,
    /// No server was usable, so this one was chosen among all (panic mode).
    pub panic: bool,
}

impl ServerHandle<'_> {
    /// The server's position in the group.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The server.
    pub fn server(&self) -> Option<&Server> {
        self.group.servers.get(self.index)
    }

    /// [`Group::report`] for this server (the handle knows its group).
    pub fn report(&self, outcome: outlier::Outcome, now: Instant) -> Option<outlier::Event> {
        self.group.report(self, outcome, now)
    }

    /// [`Group::report_failure`] for this server.
    pub fn report_failure(&self, kind: stats::FailureKind, now: Instant) -> Option<outlier::Event> {
        self.group.report_failure(self, kind, now)
    }
}

impl Drop for ServerHandle<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.group.servers.get(self.index) {
            s.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

struct Live<'a> {
    group: &'a Group,
    /// The pick's clock reading on the outlier detector's clock, converted once.
    now_ms: u64,
    tried: &'a [usize],
    ignore_health: bool,
}

impl balance::View for Live<'_> {
    fn usable(&self, server: usize) -> bool {
        if self.tried.contains(&server) {
            return false;
        }
        self.ignore_health || self.group.usable_at(server, self.now_ms)
    }

    fn in_flight(&self, server: usize) -> usize {
        self.group.servers.get(server).map_or(0, Server::in_flight)
    }
}

impl Group {
    /// A group of `servers` (`(upstream, weight)`); `start` is the clock's origin.
    pub fn new(
        name: &str,
        servers: Vec<(Upstream, u32)>,
        settings: Settings,
        start: Instant,
    ) -> Group {
        let specs = servers
            .into_iter()
            .map(|(u, w)| ServerInit::new(u, w))
            .collect();
        Group::from_specs(name, specs, settings, start)
    }

    /// A group of `servers`, each possibly one address of a host name and carrying its
    /// counters over from an earlier server set; `start` is the clock's origin.
    pub fn from_specs(
        name: &str,
        servers: Vec<ServerInit>,
        settings: Settings,
        start: Instant,
    ) -> Group {
        // The hash ring is built on these ids: an address keeps its place on the ring when
        // the others of its name come and go.
        let ids: Vec<String> = servers
            .iter()
            .map(|s| match s.connect_to {
                Some(addr) => format!("{}@{addr}", s.upstream),
                None => s.upstream.to_string(),
            })
            .collect();
        let shape: Vec<(&str, u32)> = ids
            .iter()
            .map(String::as_str)
            .zip(servers.iter().map(|s| s.weight))
            .collect();
        Group {
            name: name.to_owned(),
            balancer: balance::Balancer::new(settings.policy, &shape),
            outlier: outlier::Detector::new(settings.outlier, servers.len(), start),
            budget: budget::Budget::new(settings.budget, start),
            servers: servers
                .into_iter()
                .map(|s| Server {
                    upstream: s.upstream,
                    connect_to: s.connect_to,
                    weight: s.weight.max(1),
                    stats: s.stats.unwrap_or_default(),
                })
                .collect(),
            settings,
            panic: AtomicBool::new(false),
            panics: AtomicU64::new(0),
            stats: stats::GroupStats::default(),
        }
    }

    /// The group's name (`[[upstream]] name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its servers.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The retry budget (the request path records each request and asks it before retries).
    pub fn budget(&self) -> &budget::Budget {
        &self.budget
    }

    /// Picks taken in panic mode so far (a metric).
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// The group's own counters (retries, budget refusals).
    pub fn stats(&self) -> &stats::GroupStats {
        &self.stats
    }

    /// Whether `server` is ejected by passive health now.
    pub fn ejected(&self, server: usize, now: Instant) -> bool {
        !self.outlier.usable(server, now)
    }

    /// Neither ejected nor failing active checks.
    pub fn usable(&self, server: usize, now: Instant) -> bool {
        self.usable_at(server, self.outlier.ms(now))
    }

    /// [`Group::usable`] at a time converted once with `outlier.ms`.
    fn usable_at(&self, server: usize, now_ms: u64) -> bool {
        let checked_ok = self
            .servers
            .get(server)
            .is_some_and(|s| s.stats.checked.load(Ordering::Relaxed) != 2);
        checked_ok && self.outlier.usable_at(server, now_ms)
    }

    /// Chooses a server for one attempt, skipping those in `tried`. When no server is usable
    /// the group is in panic mode (Envoy's term): it chooses among all of them (still not
    /// one in `tried`) rather than fail every request; the first such pick logs one line.
    /// `None` only when every server was tried.
    pub fn pick(
        &self,
        input: &RequestKeyInput<'_>,
        tried: &[usize],
        now: Instant,
    ) -> Option<ServerHandle<'_>> {
        let key = match (&self.settings.policy, &self.settings.hash_on) {
            (Policy::Hash, Some(on)) => on.key(input.headers, input.client_ip),
            _ => None,
        };
        let mut rng = balance::thread_rng;
        let mut live = Live {
            group: self,
            now_ms: self.outlier.ms(now),
            tried,
            ignore_health: false,
        };
        let mut panic = false;
        let index = match self.balancer.pick(&live, key, &mut rng) {
            Some(i) => Some(i),
            None => {
                live.ignore_health = true;
                panic = true;
                self.balancer.pick(&live, key, &mut rng)
            }
        }?;
        // Panic mode is about the group, not about this request's retries: a pick that found
        // nothing only because every healthy server was already tried is not panic.
        let all_down = panic && (0..self.servers.len()).all(|s| !self.usable(s, now));
        if all_down {
            self.panics.fetch_add(1, Ordering::Relaxed);
            if !self.panic.swap(true, Ordering::Relaxed) {
                tracing::warn!(group = %self.name, "no usable server: panic mode, sending to all servers");
            }
        } else if !panic
            // A load first: the swap writes the flag's cache line, which every worker's
            // pick would otherwise contend on while the group is healthy.
            && self.panic.load(Ordering::Relaxed)
            && self.panic.swap(false, Ordering::Relaxed)
        {
            tracing::info!(group = %self.name, "a server is usable again: panic mode over");
        }
        let server = self.servers.get(index)?;
        server.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        server.stats.requests.fetch_add(1, Ordering::Relaxed);
        Some(ServerHandle {
            group: self,
            index,
            panic: all_down,
        })
    }

    /// Records an attempt's outcome for passive health; an ejection logs one line. A
    /// failure reported this way counts as [`stats::FailureKind::Other`]; the request path
    /// says which kind with [`Group::report_failure`].
    pub fn report(
        &self,
        server: &ServerHandle<'_>,
        outcome: outlier::Outcome,
        now: Instant,
    ) -> Option<outlier::Event> {
        match outcome {
            outlier::Outcome::Failure => {
                self.report_failure(server, stats::FailureKind::Other, now)
            }
            outlier::Outcome::Success => self.judge(server, outcome, now),
        }
    }

    /// Records a failed attempt of `kind` (counted for metrics, and for passive health).
    pub fn report_failure(
        &self,
        server: &ServerHandle<'_>,
        kind: stats::FailureKind,
        now: Instant,
    ) -> Option<outlier::Event> {
        if let Some(s) = server.server() {
            s.stats.record_failure(kind);
        }
        self.judge(server, outlier::Outcome::Failure, now)
    }

    fn judge(
        &self,
        server: &ServerHandle<'_>,
        outcome: outlier::Outcome,
        now: Instant,
    ) -> Option<outlier::Event> {
        let event = self.outlier.report(server.index, outcome, now);
        if let (Some(event), Some(s)) = (event, server.server()) {
            match event {
                outlier::Event::Ejected { for_, times } => {
                    s.stats.ejections.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(group = %self.name, server = %s.upstream, seconds = for_.as_secs(), times, "server ejected after consecutive failures")
                }
                outlier::Event::EjectionRefused => {
                    tracing::debug!(group = %self.name, server = %s.upstream, "not ejected: max_ejected_percent reached")
                }
            }
        }
        event
    }

    /// Records the active checks' verdict on a server (`true` = in rotation).
    pub fn set_checked(&self, server: usize, healthy: bool) {
        if let Some(s) = self.servers.get(server) {
            s.stats
                .checked
                .store(if healthy { 1 } else { 2 }, Ordering::Relaxed);
        }
    }

    /// Ends a passive ejection of `server` (its active checks pass again).
    pub fn uneject(&self, server: usize, now: Instant) {
        self.outlier.uneject(server, now);
    }

    /// Servers a next [`Group::pick`] may return given `tried` (for
    /// [`retry::Progress::untried`]): the usable ones, or in panic mode all of them.
    pub fn untried(&self, tried: &[usize], now: Instant) -> usize {
        let left = |healthy_only: bool| {
            (0..self.servers.len())
                .filter(|s| !tried.contains(s) && (!healthy_only || self.usable(*s, now)))
                .count()
        };
        let any_usable = (0..self.servers.len()).any(|s| self.usable(s, now));
        left(any_usable)
    }
}

#[cfg(test)]
mod tests;
