//! An access record as bytes, so that a worker hands the writer thread a copy of the record
//! and the writer thread renders the line.
//!
//! Why: rendering a line takes about 0.2 µs in a tight loop, but about 1.3 µs on a worker
//! between two requests, where its code and tables are cold and push the request path's own
//! out of the caches (measured with the two configurations running at the same time, pinned,
//! on this project's 2-core benchmark host). Copying the record's fields is a few short
//! copies; the writer thread renders a whole batch at once, with everything hot.
//!
//! The layout is private to this process (never stored, never sent): little-endian fixed
//! fields, then each text field as a `u32` length and its bytes. [`decode`] refuses anything
//! [`encode`] did not write.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{AccessFormat, AccessRecord};

// Flags: which optional fields are present, and two booleans.
const CLIENT: u16 = 1;
const CLIENT_V6: u16 = 1 << 1;
const HOST: u16 = 1 << 2;
const UPSTREAM: u16 = 1 << 3;
const UPSTREAM_TIME: u16 = 1 << 4;
const REUSED: u16 = 1 << 5;
const FAULT: u16 = 1 << 6;
const ID_PLAIN: u16 = 1 << 7;
const USER_AGENT: u16 = 1 << 8;
const REFERER: u16 = 1 << 9;

/// Appends `record`, to be rendered in `format`, to `out`.
pub fn encode(format: AccessFormat, r: &AccessRecord<'_, [u8]>, out: &mut Vec<u8>) {
    let mut flags = 0;
    let mut set = |on: bool, flag: u16| {
        if on {
            flags |= flag;
        }
    };
    set(r.client.is_some(), CLIENT);
    set(matches!(r.client, Some(SocketAddr::V6(_))), CLIENT_V6);
    set(r.host.is_some(), HOST);
    set(r.upstream.is_some(), UPSTREAM);
    set(r.upstream_time.is_some(), UPSTREAM_TIME);
    set(r.reused, REUSED);
    set(r.fault.is_some(), FAULT);
    set(r.request_id_plain, ID_PLAIN);
    set(r.user_agent.is_some(), USER_AGENT);
    set(r.referer.is_some(), REFERER);
    out.push(match format {
        AccessFormat::Json => 0,
        AccessFormat::Text => 1,
        AccessFormat::Combined => 2,
    });
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&r.status.to_le_bytes());
    out.extend_from_slice(&r.attempts.to_le_bytes());
    out.extend_from_slice(&r.time.as_secs().to_le_bytes());
    out.extend_from_slice(&r.time.subsec_nanos().to_le_bytes());
    out.extend_from_slice(&nanos(r.duration).to_le_bytes());
    out.extend_from_slice(&nanos(r.upstream_time.unwrap_or_default()).to_le_bytes());
    out.extend_from_slice(&r.bytes_in.to_le_bytes());
    out.extend_from_slice(&r.bytes_out.to_le_bytes());
    match r.client {
        Some(SocketAddr::V4(a)) => {
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
        }
        Some(SocketAddr::V6(a)) => {
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
        }
        None => {}
    }
    text(out, r.method.as_bytes());
    text(out, r.path.as_bytes());
    text(out, r.protocol.as_bytes());
    text(out, r.outcome.as_bytes());
    text(out, r.request_id);
    for value in [
        r.host,
        r.upstream.map(str::as_bytes),
        r.fault.map(str::as_bytes),
        r.user_agent,
        r.referer,
    ]
    .into_iter()
    .flatten()
    {
        text(out, value);
    }
}

/// Durations as whole nanoseconds (a `u64` holds 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn text(out: &mut Vec<u8>, value: &[u8]) {
    // Lengths come from one request's head, far below 4 GiB; clamp rather than wrap.
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&value[..len as usize]);
}

/// Reads what [`encode`] wrote: the format and a record borrowing from `bytes`. `None` when
/// `bytes` is not exactly one encoded record.
pub fn decode(bytes: &[u8]) -> Option<(AccessFormat, AccessRecord<'_, [u8]>)> {
    let mut c = Cursor(bytes);
    let format = match c.take::<1>()?[0] {
        0 => AccessFormat::Json,
        1 => AccessFormat::Text,
        2 => AccessFormat::Combined,
        _ => return None,
    };
    let flags = u16::from_le_bytes(c.take()?);
    let status = u16::from_le_bytes(c.take()?);
    let attempts = u32::from_le_bytes(c.take()?);
    let secs = u64::from_le_bytes(c.take()?);
    let subsec = u32::from_le_bytes(c.take()?);
    let duration = Duration::from_nanos(u64::from_le_bytes(c.take()?));
    let upstream_time = Duration::from_nanos(u64::from_le_bytes(c.take()?));
    let bytes_in = u64::from_le_bytes(c.take()?);
    let bytes_out = u64::from_le_bytes(c.take()?);
    let client = if flags & CLIENT == 0 {
        None
    } else if flags & CLIENT_V6 != 0 {
        let ip = Ipv6Addr::from(c.take::<16>()?);
        Some(SocketAddr::new(
            IpAddr::V6(ip),
            u16::from_le_bytes(c.take()?),
        ))
    } else {
        let ip = Ipv4Addr::from(c.take::<4>()?);
        Some(SocketAddr::new(
            IpAddr::V4(ip),
            u16::from_le_bytes(c.take()?),
        ))
    };
    let method = std::str::from_utf8(c.text()?).ok()?;
    let path = std::str::from_utf8(c.text()?).ok()?;
    let protocol = std::str::from_utf8(c.text()?).ok()?;
    let outcome = std::str::from_utf8(c.text()?).ok()?;
    let request_id = c.text()?;
    let host = c.text_if(flags & HOST != 0)?;
    let upstream = c.str_if(flags & UPSTREAM != 0)?;
    let fault = c.str_if(flags & FAULT != 0)?;
    let user_agent = c.text_if(flags & USER_AGENT != 0)?;
    let referer = c.text_if(flags & REFERER != 0)?;
    if !c.0.is_empty() || subsec >= 1_000_000_000 {
        return None;
    }
    Some((
        format,
        AccessRecord {
            time: Duration::new(secs, subsec),
            client,
            method,
            host,
            path,
            protocol,
            status,
            bytes_in,
            bytes_out,
            duration,
            upstream,
            upstream_time: (flags & UPSTREAM_TIME != 0).then_some(upstream_time),
            attempts,
            reused: flags & REUSED != 0,
            outcome,
            fault,
            request_id,
            request_id_plain: flags & ID_PLAIN != 0,
            user_agent,
            referer,
        },
    ))
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        let (value, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(value)
    }

    /// A present optional field's bytes; `Some(None)` when absent, `None` when short.
    fn text_if(&mut self, present: bool) -> Option<Option<&'a [u8]>> {
        if present {
            self.text().map(Some)
        } else {
            Some(None)
        }
    }

    fn str_if(&mut self, present: bool) -> Option<Option<&'a str>> {
        match self.text_if(present)? {
            Some(bytes) => std::str::from_utf8(bytes).ok().map(Some),
            None => Some(None),
        }
    }
}

#[cfg(test)]
mod tests;
