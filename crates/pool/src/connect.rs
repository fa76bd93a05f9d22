//! Resolve, vet and connect: DNS, the caller's address filter, TCP with `TCP_NODELAY`.
//! Nothing about HTTP here.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

use crate::error::{Error, Kind};

/// A future returned by [`Resolve::resolve`].
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static>>;

/// Turns a host name into addresses. Plug one in with
/// [`Builder::resolver`](crate::Builder::resolver); the default uses the system resolver.
///
/// IP literals in the URI never reach the resolver.
pub trait Resolve: Send + Sync + 'static {
    /// Resolves `host` (no brackets, lowercase) for a connection to `port`.
    fn resolve(&self, host: &str, port: u16) -> Resolving;
}

/// Vets resolved addresses before the pool connects to them.
///
/// Called once per new connection with every address the host resolved to. Returning an
/// error refuses the connection (the request fails with
/// [`Error::is_address_refused`](crate::Error::is_address_refused)); returning `Ok` lets
/// the pool connect to exactly those addresses, with no second lookup.
///
/// Implemented for closures `Fn(&str, u16, &[SocketAddr]) -> Result<(), String>`.
pub trait AddressFilter: Send + Sync + 'static {
    /// Accepts or refuses the addresses `host:port` resolved to. The error text says why,
    /// and ends up in the pool's error message.
    fn check(&self, host: &str, port: u16, addrs: &[SocketAddr]) -> Result<(), String>;
}

impl<F> AddressFilter for F
where
    F: Fn(&str, u16, &[SocketAddr]) -> Result<(), String> + Send + Sync + 'static,
{
    fn check(&self, host: &str, port: u16, addrs: &[SocketAddr]) -> Result<(), String> {
        self(host, port, addrs)
    }
}

/// The system resolver (`getaddrinfo` on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Resolving {
        let target = format!("{host}:{port}");
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }
}

/// Resolves and filters the addresses for `host:port`; a `pinned` address (a per-address
/// key) replaces the lookup but still goes through the filter.
pub(crate) async fn addresses(
    host: &str,
    port: u16,
    pinned: Option<SocketAddr>,
    resolver: Option<&dyn Resolve>,
    filter: Option<&dyn AddressFilter>,
) -> Result<Vec<SocketAddr>, Error> {
    let addrs = match (pinned, host.parse::<IpAddr>()) {
        (Some(addr), _) => vec![addr],
        (None, Ok(ip)) => vec![SocketAddr::new(ip, port)],
        (None, Err(_)) => {
            let resolving = match resolver {
                Some(r) => r.resolve(host, port),
                None => SystemResolver.resolve(host, port),
            };
            let addrs = resolving
                .await
                .map_err(|e| Error::new(Kind::Resolve).with(e))?;
            if addrs.is_empty() {
                return Err(Error::new(Kind::Resolve).with("no addresses"));
            }
            addrs
        }
    };
    if let Some(filter) = filter {
        filter
            .check(host, port, &addrs)
            .map_err(|why| Error::new(Kind::AddressRefused).with(why))?;
    }
    Ok(addrs)
}

/// How long an attempt has before the next address is tried alongside it (RFC 8305 §5's
/// recommended "Connection Attempt Delay").
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The order to try addresses in (RFC 8305 §4): families interleaved, starting with the
/// family of the resolver's first answer, each family in resolver order.
pub(crate) fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut lead, mut other): (Vec<_>, Vec<_>) = addrs
        .iter()
        .copied()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    let mut out = Vec::with_capacity(addrs.len());
    lead.reverse();
    other.reverse();
    while !lead.is_empty() || !other.is_empty() {
        out.extend(lead.pop());
        out.extend(other.pop());
    }
    out
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Connects with Happy Eyeballs (RFC 8305): addresses interleaved by family, a new attempt
/// every [`ATTEMPT_DELAY`] while earlier ones are still pending (at once when they all
/// failed), the first to succeed wins and the others are dropped. Each attempt has at most
/// `per_attempt`; the caller bounds the whole.
pub(crate) async fn tcp(
    addrs: &[SocketAddr],
    local: Option<IpAddr>,
    per_attempt: Option<Duration>,
) -> Result<TcpStream, Error> {
    let order = interleave(addrs);
    let attempt = |addr: SocketAddr| -> Attempt {
        Box::pin(async move {
            match per_attempt {
                Some(limit) => tokio::time::timeout(limit, tcp_one(addr, local))
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect to {addr} timed out after {limit:?}"),
                        ))
                    }),
                None => tcp_one(addr, local).await,
            }
        })
    };
    let mut pending: Vec<Attempt> = Vec::new();
    let mut next = 0;
    let mut last: Option<io::Error> = None;
    let mut delay = Box::pin(tokio::time::sleep(Duration::ZERO));
    let raced = std::future::poll_fn(|cx| {
        while next < order.len() && (pending.is_empty() || delay.as_mut().poll(cx).is_ready()) {
            pending.push(attempt(order[next]));
            next += 1;
            delay
                .as_mut()
                .reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
        }
        let mut i = 0;
        while i < pending.len() {
            match pending[i].as_mut().poll(cx) {
                Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                Poll::Ready(Err(e)) => {
                    last = Some(e);
                    drop(pending.swap_remove(i));
                }
                Poll::Pending => i += 1,
            }
        }
        if pending.is_empty() {
            if next >= order.len() {
                let cause = last
                    .take()
                    .unwrap_or_else(|| io::Error::other("no address to connect to"));
                return Poll::Ready(Err(cause));
            }
            // Every attempt failed: the next starts now, not after the delay.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await;
    raced.map_err(|cause| Error::new(Kind::Connect).with(cause))
}

async fn tcp_one(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = local {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    // Requests and small responses must not wait for Nagle's delayed-ACK dance.
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests;
