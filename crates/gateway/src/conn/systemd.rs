//! systemd integration: socket activation (listening sockets inherited from the service
//! manager) and `sd_notify` state messages (`Type=notify-reload`).
//!
//! Both protocols are a few environment variables and file descriptors, and both are no-ops
//! when those are absent, so a gateway started by hand, in a container or under another
//! supervisor behaves as if this module did not exist.
//!
//! # Socket activation
//! The service manager passes `LISTEN_FDS` sockets from fd 3 on, with `LISTEN_PID` = the pid
//! they are meant for and optionally `LISTEN_FDNAMES` (colon-separated, `FileDescriptorName=`
//! in the `.socket` unit). [`take_listeners`] reads them and gives each configured listener
//! the inherited socket bound to the same local address. Because the manager keeps its copy
//! of the socket, a restart refuses no connection (new ones wait in the backlog), and a
//! second process can accept on it while the first drains.
//!
//! Matching is exact (IP and port): `ListenStream=8080` binds `[::]:8080`, which is not the
//! same listener as `0.0.0.0:8080`. An inherited socket that no listener takes is an error at
//! startup, never silently left open: it would accept connections nobody serves.
//!
//! # Notify
//! [`Notifier`] sends `READY=1`, `RELOADING=1` + `MONOTONIC_USEC=…` and `STOPPING=1` to the
//! datagram socket named by `NOTIFY_SOCKET` (a path, or `@name` for Linux's abstract
//! namespace).

mod notify;

use std::fmt;
use std::net::{SocketAddr, TcpListener};

pub use notify::{message, Notifier, State};

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// Why socket activation failed at startup.
#[derive(Debug)]
pub struct ActivationError {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Environment,
    Socket,
    Unmatched,
}

impl ActivationError {
    fn new(kind: Kind, message: String) -> Self {
        ActivationError { kind, message }
    }

    /// `LISTEN_FDS` / `LISTEN_FDNAMES` are malformed.
    pub fn is_environment(&self) -> bool {
        self.kind == Kind::Environment
    }

    /// An inherited descriptor is not a usable TCP socket.
    pub fn is_socket(&self) -> bool {
        self.kind == Kind::Socket
    }

    /// An inherited socket matches no configured listener (or two share one address).
    pub fn is_unmatched(&self) -> bool {
        self.kind == Kind::Unmatched
    }
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "socket activation: {}", self.message)
    }
}

impl std::error::Error for ActivationError {}

/// What the socket-activation variables say, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenEnv {
    /// Names from `LISTEN_FDNAMES`, one per socket (`None` when not given).
    pub names: Vec<Option<String>>,
}

impl ListenEnv {
    /// Reads the three variables as they are now: `None` when no socket is meant for this
    /// process (`LISTEN_FDS` unset, or `LISTEN_PID` unset or another process's pid, as
    /// `sd_listen_fds(3)` does).
    pub fn parse(
        listen_pid: Option<&str>,
        listen_fds: Option<&str>,
        listen_fdnames: Option<&str>,
        own_pid: u32,
    ) -> Result<Option<ListenEnv>, ActivationError> {
        let Some(fds) = listen_fds else {
            return Ok(None);
        };
        if listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) != Some(own_pid) {
            return Ok(None);
        }
        let env_error = |m: String| ActivationError::new(Kind::Environment, m);
        let count: usize = fds
            .trim()
            .parse()
            .map_err(|_| env_error(format!("LISTEN_FDS={fds:?} is not a number")))?;
        // Far beyond any real unit; refuses a value that would make us walk the fd table.
        if count > 1024 {
            return Err(env_error(format!("LISTEN_FDS={count} is too many sockets")));
        }
        let names = match listen_fdnames {
            None => vec![None; count],
            Some(text) => {
                let names: Vec<Option<String>> = text
                    .split(':')
                    .map(|n| (!n.is_empty()).then(|| n.to_owned()))
                    .collect();
                if names.len() != count {
                    return Err(env_error(format!(
                        "LISTEN_FDNAMES has {} names for LISTEN_FDS={count} sockets",
                        names.len()
                    )));
                }
                names
            }
        };
        Ok(Some(ListenEnv { names }))
    }
}

/// One socket inherited from the service manager.
#[derive(Debug)]
pub struct Inherited {
    /// Its descriptor number in this process (3, 4, …).
    pub fd: i32,
    /// Its `LISTEN_FDNAMES` name, if any.
    pub name: Option<String>,
    /// Its local address.
    pub address: SocketAddr,
    /// The socket, blocking as inherited (set non-blocking before handing it to tokio).
    pub listener: TcpListener,
}

impl fmt::Display for Inherited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd {}", self.fd)?;
        if let Some(name) = &self.name {
            write!(f, " ({name:?})")?;
        }
        write!(f, " at {}", self.address)
    }
}

/// Takes the sockets the service manager passed to this process, and clears `LISTEN_PID`,
/// `LISTEN_FDS` and `LISTEN_FDNAMES` so that child processes do not take them too.
///
/// Call it once, early in `main`, before other threads start: it changes the environment.
/// Empty when the process was not socket-activated.
pub fn inherited_from_env() -> Result<Vec<Inherited>, ActivationError> {
    let var = |name: &str| std::env::var(name).ok();
    let parsed = ListenEnv::parse(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    );
    let sockets = match parsed {
        Ok(Some(env)) => take_fds(env),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    sockets
}

fn take_fds(env: ListenEnv) -> Result<Vec<Inherited>, ActivationError> {
    // listenfd does the fd → socket conversion (the one step that needs `unsafe`), after
    // checking with fstat/getsockopt that the descriptor is a TCP socket. It reads
    // LISTEN_PID/LISTEN_FDS itself; `ListenEnv::parse` has already checked them.
    let mut fds = listenfd::ListenFd::from_env();
    let mut sockets = Vec::with_capacity(env.names.len());
    for (index, name) in env.names.into_iter().enumerate() {
        let fd = LISTEN_FDS_START.saturating_add(i32::try_from(index).unwrap_or(i32::MAX));
        let socket_error = |reason: String| {
            ActivationError::new(Kind::Socket, format!("inherited fd {fd}: {reason}"))
        };
        let listener = fds
            .take_tcp_listener(index)
            .map_err(|e| socket_error(e.to_string()))?
            .ok_or_else(|| socket_error("not passed to this process".to_owned()))?;
        let address = listener
            .local_addr()
            .map_err(|e| socket_error(format!("no local address: {e}")))?;
        sockets.push(Inherited {
            fd,
            name,
            address,
            listener,
        });
    }
    Ok(sockets)
}

/// For each configured listener address, the index of the inherited socket bound to the same
/// address, or `None` (bind it as usual). Errors with the index of an inherited socket that no
/// listener takes, or that has the same address as an earlier one.
///
/// A configured port 0 ("any free port") never matches: an inherited socket has a real port.
pub fn assignment(
    configured: &[SocketAddr],
    inherited: &[SocketAddr],
) -> Result<Vec<Option<usize>>, usize> {
    let same = |a: &SocketAddr, b: &SocketAddr| a.ip() == b.ip() && a.port() == b.port();
    if let Some(dup) =
        (0..inherited.len()).find(|&i| inherited[..i].iter().any(|a| same(a, &inherited[i])))
    {
        return Err(dup);
    }
    let mut used = vec![false; inherited.len()];
    let taken = configured
        .iter()
        .map(|want| {
            let found = (want.port() != 0)
                .then(|| inherited.iter().position(|have| same(have, want)))
                .flatten();
            if let Some(i) = found {
                used[i] = true;
            }
            found
        })
        .collect();
    match used.iter().position(|u| !u) {
        Some(unused) => Err(unused),
        None => Ok(taken),
    }
}

/// Gives each configured listener its inherited socket (same local address), in config
/// order; `None` for a listener to bind as usual.
pub fn match_listeners(
    configured: &[SocketAddr],
    inherited: Vec<Inherited>,
) -> Result<Vec<Option<TcpListener>>, ActivationError> {
    let addresses: Vec<SocketAddr> = inherited.iter().map(|s| s.address).collect();
    let taken = assignment(configured, &addresses).map_err(|i| {
        let socket = &inherited[i];
        if addresses[..i].contains(&socket.address) {
            let message = format!("inherited socket {socket} has the address of an earlier one");
            return ActivationError::new(Kind::Unmatched, message);
        }
        let configured: Vec<String> = configured.iter().map(ToString::to_string).collect();
        let configured = match configured.is_empty() {
            true => "none".to_owned(),
            false => configured.join(", "),
        };
        ActivationError::new(
            Kind::Unmatched,
            format!(
                "inherited socket {socket} matches no [[listener]] (configured: {configured}); \
                 the .socket unit's ListenStream= and the listener address must be equal"
            ),
        )
    })?;
    let mut slots: Vec<Option<TcpListener>> =
        inherited.into_iter().map(|s| Some(s.listener)).collect();
    Ok(taken
        .into_iter()
        .map(|i| i.and_then(|i| slots.get_mut(i).and_then(Option::take)))
        .collect())
}

/// [`inherited_from_env`] then [`match_listeners`]: what `main` calls with the configured
/// listener addresses.
pub fn take_listeners(
    configured: &[SocketAddr],
) -> Result<Vec<Option<TcpListener>>, ActivationError> {
    match_listeners(configured, inherited_from_env()?)
}

#[cfg(test)]
mod tests;
