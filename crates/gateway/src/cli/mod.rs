//! Command line: run from a config file, from flags, or both.
//!
//! Flags add to the file: `--listen` and `--route` append listeners and routes, the scalar
//! flags (`--admin`, `--log-level`) replace the file's value. Values are checked by clap as
//! they are parsed, with the same rules as the file, so a bad flag fails before anything
//! is read from disk.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, Config, ConfigError, Listener, ListenerMode};
use crate::route::{Route, Router};

const FLAGS: &str = "command line";

/// `gangway`: an HTTP gateway.
// The fields' doc comments are the `--help` text, where `[HOST]` means "optional" and
// `[log] level` names a config table, and a URL is an example: not links, and marking them
// up would show in `--help`.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
#[derive(Debug, Clone, Parser)]
#[command(name = "gangway", version, about)]
pub struct Cli {
    /// Config file (TOML); every key is listed in README.md (Configuration reference).
    #[arg(long, value_name = "FILE", conflicts_with = "check_config")]
    pub config: Option<PathBuf>,

    /// Check the configuration (FILE, if given, merged with the other flags) and exit:
    /// status 0 if valid. Without FILE the flags must give the whole config.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub check_config: Option<Option<PathBuf>>,

    /// Print the effective configuration (file + flags + defaults) as TOML and exit.
    #[arg(long)]
    pub print_config: bool,

    /// Reload when the config file changes (as on SIGHUP). Polls the path, following
    /// symlinks, so a Kubernetes ConfigMap's symlink swap and a rename-replace are both seen.
    #[arg(long, requires = "config")]
    pub watch: bool,

    /// Add a listener on IP:PORT, :PORT (all IPv4 addresses) or localhost:PORT (repeatable).
    #[arg(long = "listen", value_name = "ADDR", value_parser = config::parse_listen_address)]
    pub listen: Vec<SocketAddr>,

    /// Add a route [HOST]PREFIX=URL, e.g. /users=http://127.0.0.1:3000 or
    /// api.example.com/users=http://127.0.0.1:3000 (repeatable); a comma list
    /// PREFIX=URL,URL… balances over those servers (an anonymous upstream group).
    #[arg(long = "route", value_name = "[HOST]PREFIX=URL[,URL…]", value_parser = parse_route)]
    pub routes: Vec<RouteArg>,

    /// Serve metrics on this IP:PORT, :PORT or localhost:PORT (replaces [admin] address).
    #[arg(long, value_name = "ADDR", value_parser = config::parse_listen_address)]
    pub admin: Option<SocketAddr>,

    /// Log level or filter, e.g. info or warn,gangway=debug (replaces [log] level).
    #[arg(long, value_name = "LEVEL", value_parser = config::check_log_level)]
    pub log_level: Option<String>,

    /// Worker threads; 0 = one per CPU (replaces [runtime] workers).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// The --listen listeners run in CORS-proxy mode instead of routing.
    #[arg(long, requires = "listen")]
    pub cors_proxy: bool,

    /// Allow the CORS proxy to fetch HOST[:PORT] (repeatable; adds to [cors] allow_targets).
    #[arg(long = "cors-allow-target", value_name = "HOST[:PORT]", value_parser = config::normalize_target)]
    pub cors_allow_targets: Vec<config::Parsed<crate::cors::TargetPattern>>,

    /// Serve browser ORIGIN, e.g. https://app.example (repeatable; adds to [cors] allow_origins).
    #[arg(long = "cors-allow-origin", value_name = "ORIGIN", value_parser = config::normalize_origin)]
    pub cors_allow_origins: Vec<config::Parsed<crate::cors::OriginPattern>>,
}

/// One `--route`: a route, and the servers of its anonymous group when a list was given.
#[derive(Debug, Clone)]
pub struct RouteArg {
    /// The route (its `upstream` is the first server when a list was given).
    pub route: Route,
    /// `PREFIX=URL,URL…`: the group's servers.
    pub servers: Option<Vec<config::ServerSpec>>,
}

fn parse_route(text: &str) -> Result<RouteArg, String> {
    let (prefix, url) = text
        .split_once('=')
        .ok_or_else(|| format!("\"{text}\" is not PREFIX=URL"))?;
    // A left side not starting with `/` names a host first: `api.example.com/users`.
    let (host, prefix) = match prefix.find('/') {
        Some(0) => (None, prefix),
        Some(at) => (prefix.get(..at), prefix.get(at..).unwrap_or("/")),
        // `users=…` is far more likely a prefix missing its `/` than a host-wide route.
        None => return Err(format!("\"{prefix}\" is not /PREFIX or HOST/PREFIX")),
    };
    let (mut route, servers) = if url.contains(',') {
        let servers = config::parse_server_list(url)?;
        let first = servers
            .first()
            .map(|s| s.upstream.to_string())
            .unwrap_or_default();
        let route = Route::new(prefix, &first).map_err(|e| e.to_string())?;
        (route, Some(servers))
    } else {
        (Route::new(prefix, url).map_err(|e| e.to_string())?, None)
    };
    if let Some(host) = host {
        route.host = Some(crate::route::host::normalize_pattern(host).map_err(|e| e.to_string())?);
    }
    Ok(RouteArg { route, servers })
}

/// The name of a `--route` list's group: `cli` and the prefix (`/users` → `cli-users`),
/// spelled as a group name may be, so `--print-config` writes a file that loads again.
fn anonymous_name(prefix: &str) -> String {
    let tail: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("cli{}", tail.trim_end_matches('-'))
}

impl Cli {
    /// `--check-config` was given: validate, report, exit.
    pub fn check_only(&self) -> bool {
        self.check_config.is_some()
    }

    /// The config file (`--config` or `--check-config FILE`), if any.
    pub fn config_file(&self) -> Option<&PathBuf> {
        self.config
            .as_ref()
            .or(self.check_config.as_ref().and_then(Option::as_ref))
    }

    /// Reads the config file if one was given, then applies the flags.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let (mut config, origin) = match self.config_file() {
            Some(path) => (config::load_partial(path)?, path.display().to_string()),
            None => (Config::default(), FLAGS.to_owned()),
        };

        let mode = if self.cors_proxy {
            ListenerMode::Cors
        } else {
            ListenerMode::Routes
        };
        for address in self.listen {
            if config
                .listeners
                .iter()
                .any(|l| config::same_port(l.address, address))
            {
                let message = format!("{address} is already a listener");
                return Err(ConfigError::new(FLAGS, "--listen", message));
            }
            config.listeners.push(Listener {
                address,
                tls: None,
                certificates: Vec::new(),
                mode,
            });
        }

        if !self.routes.is_empty() {
            let mut routes = std::mem::take(&mut config.router).into_routes();
            for RouteArg { mut route, servers } in self.routes {
                if let Some(servers) = servers {
                    let name = anonymous_name(&route.prefix);
                    if config.upstreams.iter().any(|g| g.name == name) {
                        let message = format!("upstream group \"{name}\" already exists");
                        return Err(ConfigError::new(FLAGS, "--route", message));
                    }
                    route.group = Some(name.clone());
                    config
                        .upstreams
                        .push(config::UpstreamGroup::anonymous(name, servers));
                }
                routes.push(route);
            }
            config.router = Router::new(routes)
                .map_err(|e| ConfigError::new(FLAGS, "--route", e.to_string()))?;
        }

        if let Some(address) = self.admin {
            if config
                .listeners
                .iter()
                .any(|l| config::same_port(l.address, address))
            {
                let message = format!("{address} is already a listener");
                return Err(ConfigError::new(FLAGS, "--admin", message));
            }
            config.admin.address = Some(address);
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
        }
        if let Some(workers) = self.workers {
            config.runtime.workers = workers;
        }
        for target in self.cors_allow_targets {
            if !config.cors.allow_targets.contains(&target) {
                config.cors.allow_targets.push(target);
            }
        }
        for origin in self.cors_allow_origins {
            if !config.cors.allow_origins.contains(&origin) {
                config.cors.allow_origins.push(origin);
            }
        }

        config.require_listener(&origin)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
