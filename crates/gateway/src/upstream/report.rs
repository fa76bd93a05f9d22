//! What the outside sees of the groups: the Prometheus families on `/metrics` (labels
//! `upstream` = the group's name and `server` = [`Server::label`]) and the JSON of the
//! admin listener's `GET /upstreams`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::observe::prom::{MetricType, PromText};

use super::stats::{FailureKind, HEAD_BUCKETS};
use super::{Group, Server};

/// A server's state as one word: `ejected` (passive health), `unhealthy` (failing active
/// checks), `healthy` (active checks pass) or `unchecked` (no verdict from checks, not
/// ejected).
pub fn state(group: &Group, index: usize, server: &Server, now: Instant) -> &'static str {
    if server.stats().checked() == Some(false) {
        "unhealthy"
    } else if group.ejected(index, now) {
        "ejected"
    } else if server.stats().checked() == Some(true) {
        "healthy"
    } else {
        "unchecked"
    }
}

/// Writes every upstream family for `groups` into `text` (HELP and TYPE even when there is
/// no group, so dashboards find the names).
pub fn render(groups: &[Arc<Group>], text: &mut PromText) {
    let now = Instant::now();
    let each = |text: &mut PromText,
                name: &str,
                help: &str,
                kind: MetricType,
                value: &dyn Fn(&Group, usize, &Server) -> f64| {
        let mut family = text.family(name, help, kind);
        for g in groups {
            for (i, s) in g.servers().iter().enumerate() {
                let label = s.label();
                family.sample(
                    &[("upstream", g.name()), ("server", &label)],
                    value(g, i, s),
                );
            }
        }
    };
    each(
        text,
        "gangway_upstream_requests_total",
        "Attempts sent to a server of an upstream group, retries included.",
        MetricType::Counter,
        &|_, _, s| s.requests() as f64,
    );
    {
        let mut family = text.family(
            "gangway_upstream_failures_total",
            "Failed attempts per server, by kind (connect, reset, timeout, status = 502/503/504, other).",
            MetricType::Counter,
        );
        for g in groups {
            for s in g.servers() {
                let label = s.label();
                for kind in FailureKind::ALL {
                    family.sample(
                        &[
                            ("upstream", g.name()),
                            ("server", &label),
                            ("kind", kind.as_str()),
                        ],
                        s.stats().failures_of(kind) as f64,
                    );
                }
            }
        }
    }
    each(
        text,
        "gangway_upstream_ejections_total",
        "Times passive health ejected a server.",
        MetricType::Counter,
        &|_, _, s| s.stats().ejections() as f64,
    );
    each(
        text,
        "gangway_upstream_in_flight",
        "Requests sent to a server and waiting for its response head.",
        MetricType::Gauge,
        &|_, _, s| s.in_flight() as f64,
    );
    each(
        text,
        "gangway_upstream_server_usable",
        "1 when a server takes new requests (not ejected, not failing active checks), else 0.",
        MetricType::Gauge,
        &|g, i, _| f64::from(u8::from(g.usable(i, now))),
    );
    {
        let mut family = text.family(
            "gangway_upstream_response_head_seconds",
            "Time from sending an attempt to a server to its response head.",
            MetricType::Histogram,
        );
        for g in groups {
            for s in g.servers() {
                let label = s.label();
                let (counts, sum) = s.stats().head_histogram();
                family.histogram(
                    &[("upstream", g.name()), ("server", &label)],
                    &HEAD_BUCKETS,
                    &counts,
                    sum,
                );
            }
        }
    }
    let per_group = |text: &mut PromText, name: &str, help: &str, value: &dyn Fn(&Group) -> u64| {
        let mut family = text.family(name, help, MetricType::Counter);
        for g in groups {
            family.sample(&[("upstream", g.name())], value(g) as f64);
        }
    };
    per_group(
        text,
        "gangway_upstream_retries_total",
        "Retries sent on another server of the group.",
        &|g| g.stats().retries(),
    );
    per_group(
        text,
        "gangway_upstream_retry_budget_exhausted_total",
        "Retries the retry budget refused.",
        &|g| g.stats().budget_refusals(),
    );
    per_group(
        text,
        "gangway_upstream_panic_total",
        "Picks made with no usable server, among all of them (panic mode).",
        &|g| g.panics(),
    );
    text.family(
        "gangway_upstream_health_changes_total",
        "Servers that changed sides (in or out of rotation) on active health checks.",
        MetricType::Counter,
    )
    .sample(
        &[],
        super::probe::CHANGES.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
}

/// The body of `GET /upstreams`: every group with its servers' state, in-flight count,
/// counters and last failure.
pub fn json(groups: &[Arc<Group>]) -> Value {
    let now = Instant::now();
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let servers: Vec<Value> = g
                .servers()
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let last_failure = s
                        .stats()
                        .last_failure()
                        .map(|(kind, ms)| json!({ "kind": kind.as_str(), "unix_ms": ms }));
                    json!({
                        "server": s.label(),
                        "url": s.upstream.to_string(),
                        "address": s.connect_to.map(|a| a.to_string()),
                        "weight": s.weight,
                        "state": state(g, i, s, now),
                        "in_flight": s.in_flight(),
                        "requests": s.requests(),
                        "failures": s.failures(),
                        "ejections": s.stats().ejections(),
                        "last_failure": last_failure,
                    })
                })
                .collect();
            json!({
                "name": g.name(),
                "retries": g.stats().retries(),
                "retry_budget_exhausted": g.stats().budget_refusals(),
                "servers": servers,
            })
        })
        .collect();
    json!({ "upstreams": groups })
}
