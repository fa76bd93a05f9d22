//! `sd_notify(3)`: state messages to the service manager over a datagram Unix socket.

use std::io;

/// A state change the service manager is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Startup finished: listening, config loaded (`READY=1`). Also ends a reload.
    Ready,
    /// A reload started (`RELOADING=1` + `MONOTONIC_USEC`); `Ready` follows when it ends,
    /// whether the new config was taken or refused.
    Reloading,
    /// Shutdown started (`STOPPING=1`).
    Stopping,
}

/// The datagram for `state`. `monotonic_usec` is `CLOCK_MONOTONIC` in microseconds, which
/// `Type=notify-reload` requires with `RELOADING=1` (systemd uses it to tell this reload
/// from an earlier one).
pub fn message(state: State, monotonic_usec: i128) -> String {
    match state {
        State::Ready => "READY=1\n".to_owned(),
        State::Reloading => format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}\n"),
        State::Stopping => "STOPPING=1\n".to_owned(),
    }
}

/// Where `NOTIFY_SOCKET` points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A filesystem path (absolute).
    Path(std::path::PathBuf),
    /// A name in Linux's abstract namespace (`@name`, without the `@`).
    Abstract(Vec<u8>),
}

/// Sends state messages to the service manager; built from `NOTIFY_SOCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    target: Target,
}

impl Notifier {
    /// The notifier for `NOTIFY_SOCKET`, or `None` when it is unset (not started by systemd
    /// with `Type=notify`/`notify-reload`). Clears the variable so that child processes do
    /// not talk to the service manager in our name: call it early in `main`, before other
    /// threads start.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        std::env::remove_var("NOTIFY_SOCKET");
        let value = value.into_string().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "NOTIFY_SOCKET is not UTF-8")
        })?;
        Notifier::new(&value).map(Some)
    }

    /// A notifier for a socket address written as in `NOTIFY_SOCKET`: an absolute path, or
    /// `@name` for the abstract namespace.
    pub fn new(address: &str) -> io::Result<Notifier> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let target = if let Some(name) = address.strip_prefix('@') {
            if name.is_empty() {
                return Err(invalid("NOTIFY_SOCKET=@ names no socket".to_owned()));
            }
            Target::Abstract(name.as_bytes().to_vec())
        } else if address.starts_with('/') {
            Target::Path(address.into())
        } else {
            // vsock: addresses (systemd in VMs) and relative paths are not supported.
            return Err(invalid(format!(
                "NOTIFY_SOCKET={address:?} is neither an absolute path nor @abstract"
            )));
        };
        Ok(Notifier { target })
    }

    /// Tells the service manager `state`. Never blocks: when the manager's queue is full
    /// the message is refused with `WouldBlock` (the caller logs it and goes on).
    pub fn notify(&self, state: State) -> io::Result<()> {
        let usec = match state {
            State::Reloading => monotonic_usec()?,
            State::Ready | State::Stopping => 0,
        };
        self.send(message(state, usec).as_bytes())
    }

    #[cfg(unix)]
    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        let sent = match &self.target {
            Target::Path(path) => socket.send_to(datagram, path)?,
            Target::Abstract(name) => send_abstract(&socket, name, datagram)?,
        };
        if sent != datagram.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn send(&self, _datagram: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "sd_notify needs Unix sockets",
        ))
    }
}

/// `CLOCK_MONOTONIC` in microseconds. std's `Instant` reads that clock but does not expose
/// it, and reading it ourselves needs `unsafe`: sd-notify wraps the call.
#[cfg(unix)]
fn monotonic_usec() -> io::Result<i128> {
    match sd_notify::NotifyState::monotonic_usec_now()? {
        sd_notify::NotifyState::MonotonicUsec(usec) => Ok(usec),
        _ => Err(io::Error::other("sd-notify returned no MONOTONIC_USEC")),
    }
}

#[cfg(not(unix))]
fn monotonic_usec() -> io::Result<i128> {
    Ok(0)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(
    socket: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    datagram: &[u8],
) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(datagram, &address)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn send_abstract(
    _socket: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _datagram: &[u8],
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract socket names exist on Linux only",
    ))
}
