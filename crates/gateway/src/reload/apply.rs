//! One reload: read and validate the file, decide what may change, build the new `App`,
//! swap it in. Every failure leaves the running state untouched and is one error line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::plan::plan;
use super::Live;
use crate::app::App;
use crate::cli::Cli;
use crate::config::Config;
use crate::gateway::build_app;

/// How long a replaced pool's requests in flight may take before its connections close.
/// Requests already running keep their connections until then; new ones use the new pool.
pub const RETIRED_POOL_GRACE: Duration = Duration::from_secs(60);

/// The new `App` for `new`, reusing what `plan` says may be kept from `old`. Returns the
/// `App` and, when the pool was replaced, the old client to shut down.
pub fn rebuild(
    old_config: &Config,
    old: &App,
    new: &Config,
    own: &[SocketAddr],
) -> Result<(App, Option<gangway_pool::Client>), String> {
    let plan = plan(old_config, new)?;
    let mut app = build_app(new, own).map_err(|e| e.to_string())?;
    app.readiness = Arc::clone(&old.readiness);
    // Same destination: the running writer, with the new format (see `AccessLog::carried`).
    if let Some(kept) = old.access.as_ref().and_then(|a| a.carried(&new.log)) {
        app.access = Some(kept);
    }
    if !plan.keep_pool {
        return Ok((app, Some(old.client.clone())));
    }
    // The fresh client holds no connection yet: dropping it costs nothing.
    app.client = old.client.clone();
    for upstream in &plan.removed {
        if let Ok(uri) = format!("{upstream}/").parse::<http::Uri>() {
            // Idle connections close now, busy ones when their request ends.
            let _ = app.client.close_key(&uri, None);
        }
    }
    Ok((app, None))
}

/// Re-reads the config the process was started with (`cli`: the same file and flags) and,
/// if it is valid and allowed, installs it. Returns the new config on success; on failure
/// logs one error line and counts it. `why` names the trigger for the log.
pub fn reload(
    cli: &Cli,
    live: &Live,
    running: &Config,
    own: &[SocketAddr],
    why: &str,
) -> Option<Config> {
    let file = cli
        .config_file()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "command line".to_owned());
    let result = cli
        .clone()
        .into_config()
        .map_err(|e| e.to_string())
        .and_then(|config| {
            let old = live.load();
            rebuild(running, &old, &config, own)
                .map(|built| (config, built))
                .map_err(|e| format!("{file}: {e}"))
        });
    match result {
        Ok((config, (app, retired))) => {
            // The new groups' checks and resolver tasks; the old ones end with the old
            // groups (they hold them weakly).
            drop(app.groups.spawn_tasks(
                |route| app.per_route.client_for(route, &app.client),
                &crate::upstream::dns::Resolver::of(&config),
            ));
            // A new access-log destination has a new writer: SIGUSR1 reopens it too.
            if let Some(access) = app.access.as_ref().filter(|_| {
                !running.log.access_log || running.log.access_log_path != config.log.access_log_path
            }) {
                if let Err(e) = crate::observe::writer::reopen_on_sigusr1(vec![access.reopener()]) {
                    tracing::warn!(error = %e, "cannot listen for SIGUSR1; the access log will not be reopened");
                }
            }
            live.store(Arc::new(app));
            live.record(true);
            if let Some(client) = retired {
                tokio::spawn(async move {
                    client.shutdown(Instant::now() + RETIRED_POOL_GRACE).await;
                });
            }
            tracing::info!(
                trigger = why,
                file = %file,
                routes = config.router.routes().len(),
                "configuration reloaded"
            );
            Some(config)
        }
        Err(e) => {
            live.record(false);
            // The error names file:line:col and key (ConfigError's Display).
            tracing::error!(
                trigger = why,
                "config reload failed, keeping the running config: {e}"
            );
            None
        }
    }
}
