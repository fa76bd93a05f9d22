//! The TOML configuration: parsing, validation, and the plain-data [`Config`] the server
//! runs from. README.md's configuration reference lists every key; `gangway.example.toml` is a working file.
//!
//! Every error names the key and where it is (`gangway.toml:7:11: route[1].upstream: …`),
//! and nothing here panics on any input: the parser is a fuzz target.
//!
//! # Layout
//! - `schema`: the validated types and their defaults.
//! - `cors`: `[cors]`'s pattern lists, parsed once and kept with their text ([`Parsed`]).
//! - `pool`: `[pool]` and [`PoolSection::builder`].
//! - `ops`: `[health]` (liveness, readiness) and `[shutdown]`.
//! - `upstream`: `[[upstream]]` groups, and the command line's server lists.
//! - `validate`: the file as written, and the checks that need several keys or the disk.
//! - `observe`: `[tracing]`, `[request_id]`, the access log's path.
//! - `duration`: `"30s"` durations and `"64KiB"` sizes.
//! - `print`: [`Config::to_toml`], the effective configuration for `--print-config`.
//! - `error`: [`ConfigError`], line/column and key-path recovery.

mod cors;
mod duration;
mod error;
mod forwarding;
mod observe;
mod ops;
mod pool;
mod print;
mod route_extras;
mod route_rules;
mod schema;
mod upstream;
mod validate;

use std::path::Path;

pub use cors::Parsed;
pub use duration::{parse_duration, parse_size};
pub use error::ConfigError;
pub use forwarding::Forwarding;
pub use observe::{RequestId, Tracing};
pub use ops::MAX_SHUTDOWN_DELAY;
pub use pool::PoolSection;
pub use schema::{
    Admin, Config, Cors, Health, Limits, Listener, ListenerMode, Log, LogFormat, RateLimit,
    Runtime, Shutdown, Timeouts, TlsFiles,
};

pub(crate) use cors::{normalize_origin, normalize_target};
pub(crate) use schema::check_log_level;
pub use upstream::{parse_server_list, ServerSpec, UpstreamGroup, MAX_RETRIES};
pub(crate) use validate::{parse_listen_address, same_port};

/// Reads and validates a config file. Relative paths inside it (TLS files, `ca_file`) are
/// resolved against the file's directory, so the gateway can start from any directory.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let config = load_partial(path)?;
    config.require_listener(&path.display().to_string())?;
    Ok(config)
}

/// Parses and validates config text; `origin` names it in errors (usually the file name).
/// Relative paths are resolved against the working directory.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let config = parse_with_base(text, origin, None)?;
    config.require_listener(origin)?;
    Ok(config)
}

/// [`load`] without the listener requirement: the command line may add listeners.
pub(crate) fn load_partial(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&origin, "", format!("cannot read the file: {e}")))?;
    parse_with_base(&text, &origin, path.parent())
}

fn parse_with_base(
    text: &str,
    origin: &str,
    base_dir: Option<&Path>,
) -> Result<Config, ConfigError> {
    let raw: validate::RawConfig =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, text, &e))?;
    let base_dir = base_dir.filter(|dir| !dir.as_os_str().is_empty());
    raw.validate(&validate::Source {
        origin,
        text,
        base_dir,
    })
}

/// Field by field, the routing table by its routes: what `--print-config`'s round trip
/// promises to keep.
impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.listeners == other.listeners
            && self.router.routes() == other.router.routes()
            && self.pool == other.pool
            && self.limits == other.limits
            && self.timeouts == other.timeouts
            && self.health == other.health
            && self.admin == other.admin
            && self.log == other.log
            && self.cors == other.cors
            && self.runtime == other.runtime
            && self.forwarding == other.forwarding
    }
}

impl Config {
    /// The last check, once the file and the command line are merged.
    pub(crate) fn require_listener(&self, origin: &str) -> Result<(), ConfigError> {
        if self.listeners.is_empty() {
            return Err(ConfigError::new(
                origin,
                "listener",
                "at least one [[listener]] (or --listen ADDR) is required",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
