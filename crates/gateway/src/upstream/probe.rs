//! Active health checks: one task per server of a group with `[upstream.health]`, probing
//! `GET path` through the gateway's pool (keep-alive: a probe reuses the connection of the
//! last one, or of live traffic), at jittered intervals. Each result goes through the
//! [`health::State`] machine; when a server changes sides the group learns it
//! ([`Group::set_checked`]), one line is logged and the change counted.
//!
//! A task holds its group weakly and ends when the group is gone; the gateway also aborts
//! the tasks at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::Empty;
use tokio::task::JoinHandle;

use super::balance::thread_rng;
use super::health::{self, Change, State};
use super::Group;

/// State changes seen by the probes so far, over every group (a metric).
pub static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Starts the probes of every server of every group in `groups` that has active checks.
pub fn spawn_all(groups: &[Arc<Group>], client: &gangway_pool::Client) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for group in groups {
        let Some(settings) = group.settings().health.clone() else {
            continue;
        };
        for index in 0..group.servers().len() {
            tasks.push(tokio::spawn(probe_loop(
                Arc::downgrade(group),
                index,
                settings.clone(),
                client.clone(),
            )));
        }
    }
    tasks
}

async fn probe_loop(
    group: Weak<Group>,
    index: usize,
    settings: health::Settings,
    client: gangway_pool::Client,
) {
    let mut state = State::default();
    tokio::time::sleep(health::first_delay(settings.interval, thread_rng())).await;
    loop {
        let Some(g) = group.upgrade() else { return };
        let Some(server) = g.servers().get(index) else {
            return;
        };
        let uri = format!("{}{}", server.upstream, settings.path);
        let passed = probe(&client, &uri, server.connect_to, &settings).await;
        let (next, change) = state.after(passed, &settings);
        if health::releases_ejection(state, passed, change) {
            g.uneject(index, std::time::Instant::now());
        }
        state = next;
        if let Some(change) = change {
            g.set_checked(index, state.usable());
            CHANGES.fetch_add(1, Ordering::Relaxed);
            match change {
                Change::Up => {
                    tracing::info!(group = %g.name(), server = %server.upstream, "health check passed: server back in rotation");
                }
                Change::Down => {
                    tracing::warn!(group = %g.name(), server = %server.upstream, "health check failed: server out of rotation");
                }
            }
        } else if matches!(state, State::Healthy { failures: 0 }) {
            // The first pass from Unknown: record it without a log line (nothing changed).
            g.set_checked(index, true);
        }
        drop(g);
        tokio::time::sleep(health::next_delay(settings.interval, thread_rng())).await;
    }
}

/// One probe: an answer with an expected status within `timeout` passes.
async fn probe(
    client: &gangway_pool::Client,
    uri: &str,
    connect_to: Option<std::net::SocketAddr>,
    settings: &health::Settings,
) -> bool {
    let Ok(uri) = uri.parse::<Uri>() else {
        return false;
    };
    let Ok(mut req) = Request::get(uri)
        .header(http::header::USER_AGENT, "gangway-health-check")
        .body(Empty::<Bytes>::new())
    else {
        return false;
    };
    if let Some(addr) = connect_to {
        // One address of a host name: probe that address, under the name.
        req.extensions_mut().insert(gangway_pool::ConnectTo(addr));
    }
    match tokio::time::timeout(settings.timeout, client.request(req)).await {
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            // Read the (small) body so the connection goes back to the pool.
            let body = http_body_util::BodyExt::collect(resp.into_body());
            let _ = tokio::time::timeout(settings.timeout, body).await;
            settings.expected(status)
        }
        _ => false,
    }
}
