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
#[derive(Debug, Clone, Parser)]
#[command(name = "gangway", version, about)]
pub struct Cli {
    /// Config file (TOML); every key is listed in README.md (Configuration reference).
    #[arg(long, value_name = "FILE", conflicts_with = "check_config")]
    pub config: Option<PathBuf>,

    /// Check a config file (merged with the other flags) and exit: status 0 if valid.
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,

    /// Add a listener on IP:PORT (repeatable).
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// Add a route PREFIX=URL, e.g. /users=http://127.0.0.1:3000 (repeatable).
    #[arg(long = "route", value_name = "PREFIX=URL", value_parser = parse_route)]
    pub routes: Vec<Route>,

    /// Serve metrics on this IP:PORT (replaces [admin] address).
    #[arg(long, value_name = "ADDR")]
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
    pub cors_allow_targets: Vec<String>,

    /// Serve browser ORIGIN, e.g. https://app.example (repeatable; adds to [cors] allow_origins).
    #[arg(long = "cors-allow-origin", value_name = "ORIGIN", value_parser = config::normalize_origin)]
    pub cors_allow_origins: Vec<String>,
}

fn parse_route(text: &str) -> Result<Route, String> {
    let (prefix, url) = text
        .split_once('=')
        .ok_or_else(|| format!("\"{text}\" is not PREFIX=URL"))?;
    Route::new(prefix, url).map_err(|e| e.to_string())
}

impl Cli {
    /// `--check-config` was given: validate, report, exit.
    pub fn check_only(&self) -> bool {
        self.check_config.is_some()
    }

    /// The config file (`--config` or `--check-config`), if any.
    pub fn config_file(&self) -> Option<&PathBuf> {
        self.config.as_ref().or(self.check_config.as_ref())
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
                mode,
            });
        }

        if !self.routes.is_empty() {
            let mut routes = std::mem::take(&mut config.router).into_routes();
            routes.extend(self.routes);
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
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("gangway").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        cli(args).expect("flags parse").into_config()
    }

    #[test]
    fn flags_alone_build_the_users_profiles_gateway() {
        let c = config(&[
            "--listen",
            "127.0.0.1:2000",
            "--route",
            "/users=http://127.0.0.1:3000",
            "--route",
            "/profiles=http://127.0.0.1:4000",
            "--admin",
            "127.0.0.1:9901",
            "--log-level",
            "debug",
        ])
        .expect("valid");
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(
            c.listeners.first().map(|l| l.mode),
            Some(ListenerMode::Routes)
        );
        let uri = c
            .router
            .route("/users/42?x=1")
            .map(|m| m.upstream_uri.to_string());
        assert_eq!(uri.as_deref(), Ok("http://127.0.0.1:3000/users/42?x=1"));
        assert_eq!(c.admin.address.map(|a| a.port()), Some(9901));
        assert_eq!(c.log.level, "debug");
    }

    #[test]
    fn flags_add_to_and_override_the_file() {
        let path =
            std::env::temp_dir().join(format!("gangway-cli-test-{}.toml", std::process::id()));
        let file = "[[listener]]\naddress = \"127.0.0.1:2000\"\n[[route]]\nprefix = \"/users\"\nupstream = \"http://127.0.0.1:3000\"\n[log]\nlevel = \"warn\"\n[cors]\nallow_targets = [\"a.example\"]\n";
        std::fs::write(&path, file).expect("write");
        let path_str = path.to_str().expect("utf-8 temp path");
        let c = config(&[
            "--config",
            path_str,
            "--listen",
            "127.0.0.1:2001",
            "--cors-proxy",
            "--route",
            "/profiles=http://127.0.0.1:4000",
            "--log-level",
            "info",
            "--cors-allow-target",
            "a.example",
            "--cors-allow-target",
            "b.example:8443",
            "--cors-allow-origin",
            "https://app.example",
        ])
        .expect("valid");
        let modes: Vec<_> = c
            .listeners
            .iter()
            .map(|l| (l.address.port(), l.mode))
            .collect();
        assert_eq!(
            modes,
            [(2000, ListenerMode::Routes), (2001, ListenerMode::Cors)]
        );
        assert_eq!(c.router.routes().len(), 2);
        assert_eq!(c.log.level, "info");
        assert_eq!(c.cors.allow_targets, ["a.example", "b.example:8443"]);
        assert_eq!(c.cors.allow_origins, ["https://app.example"]);

        let dup = config(&["--config", path_str, "--route", "/users/=http://x:1"]);
        assert_eq!(
            dup.map(|_| ()).map_err(|e| e.to_string()),
            Err("command line: --route: duplicate route prefix \"/users\"".to_owned())
        );
        let check = cli(&["--check-config", path_str]).expect("parses");
        assert!(check.check_only());
        assert!(check.into_config().is_ok());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn bad_flags_are_refused() {
        for args in [
            &["--listen", "localhost:2000"][..],
            &["--route", "/users"],
            &["--route", "/users=ftp://x"],
            &["--route", "users=http://x"],
            &["--log-level", "info,=["],
            &["--cors-proxy"],
            &["--cors-allow-target", "http://x/"],
            &["--cors-allow-origin", "ftp://app.example/x"],
            &["--config", "a.toml", "--check-config", "b.toml"],
            &["--frobnicate"],
        ] {
            assert!(cli(args).is_err(), "{args:?}");
        }
        let none = config(&["--route", "/a=http://x:1"])
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            none,
            Err(
                "command line: listener: at least one [[listener]] (or --listen ADDR) is required"
                    .to_owned()
            )
        );
        let twice = config(&["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:1"]);
        assert!(twice.is_err());
        let admin_clash = config(&["--listen", "127.0.0.1:1", "--admin", "127.0.0.1:1"]);
        assert!(admin_clash.is_err());
        let ephemeral = config(&[
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ]);
        assert!(ephemeral.is_ok(), "port 0 never clashes");
        let missing = config(&["--config", "/nonexistent/gangway.toml"]).map_err(|e| e.to_string());
        assert!(missing.is_err_and(|e| e.starts_with("/nonexistent/gangway.toml: cannot read")));
    }
}
