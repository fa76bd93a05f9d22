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
//! fields; the lengths of the six `str` fields, then their bytes together (so that the
//! writer thread checks them as UTF-8 in one call, not six); then each header-sourced field
//! as a `u32` length and its bytes. [`decode`] refuses anything [`encode`] did not write.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{AccessFormat, AccessRecord};

// Flags: which optional fields are present, and three booleans (an IPv6 client, `reused`,
// a plain request id).
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

/// The fixed part's largest size: format, flags, status, attempts, time, duration,
/// upstream time, bytes in and out, an IPv6 client, the six `str` lengths.
const HEAD: usize = 1 + 2 + 2 + 4 + 12 + 8 + 8 + 8 + 8 + 18 + 6 * 4;

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
    let strs = [
        r.method,
        r.path,
        r.protocol,
        r.outcome,
        r.upstream.unwrap_or(""),
        r.fault.unwrap_or(""),
    ];
    // The fixed part is assembled on the stack and appended with one copy.
    let mut head = [0u8; HEAD];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        head[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&[match format {
        AccessFormat::Json => 0,
        AccessFormat::Text => 1,
        AccessFormat::Combined => 2,
    }]);
    put(&flags.to_le_bytes());
    put(&r.status.to_le_bytes());
    put(&r.attempts.to_le_bytes());
    put(&r.time.as_secs().to_le_bytes());
    put(&r.time.subsec_nanos().to_le_bytes());
    put(&nanos(r.duration).to_le_bytes());
    put(&nanos(r.upstream_time.unwrap_or_default()).to_le_bytes());
    put(&r.bytes_in.to_le_bytes());
    put(&r.bytes_out.to_le_bytes());
    match r.client {
        Some(SocketAddr::V4(a)) => {
            put(&a.ip().octets());
            put(&a.port().to_le_bytes());
        }
        Some(SocketAddr::V6(a)) => {
            put(&a.ip().octets());
            put(&a.port().to_le_bytes());
        }
        None => {}
    }
    for s in strs {
        put(&len32(s.as_bytes()).to_le_bytes());
    }
    out.extend_from_slice(&head[..at]);
    for s in strs {
        out.extend_from_slice(&s.as_bytes()[..len32(s.as_bytes()) as usize]);
    }
    text(out, r.request_id);
    for value in [r.host, r.user_agent, r.referer].into_iter().flatten() {
        text(out, value);
    }
}

/// A field's length as stored: lengths come from one request's head, far below 4 GiB;
/// clamped rather than wrapped.
fn len32(value: &[u8]) -> u32 {
    u32::try_from(value.len()).unwrap_or(u32::MAX)
}

/// Durations as whole nanoseconds (a `u64` holds 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn text(out: &mut Vec<u8>, value: &[u8]) {
    let len = len32(value);
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
    let mut lens = [0usize; 6];
    for len in &mut lens {
        *len = u32::from_le_bytes(c.take()?) as usize;
    }
    let total = lens
        .iter()
        .try_fold(0usize, |sum, &len| sum.checked_add(len))?;
    let mut strs = std::str::from_utf8(c.bytes(total)?).ok()?;
    let mut next = |len: usize| {
        let (s, rest) = strs.split_at_checked(len)?;
        strs = rest;
        Some(s)
    };
    let [method, path, protocol, outcome, upstream, fault] = lens.map(&mut next);
    let (method, path, protocol, outcome) = (method?, path?, protocol?, outcome?);
    let upstream = upstream?;
    let upstream = (flags & UPSTREAM != 0).then_some(upstream);
    let fault = fault?;
    let fault = (flags & FAULT != 0).then_some(fault);
    let request_id = c.text()?;
    let host = c.text_if(flags & HOST != 0)?;
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

    fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let (value, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(value)
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        self.bytes(len)
    }

    /// A present optional field's bytes; `Some(None)` when absent, `None` when short.
    fn text_if(&mut self, present: bool) -> Option<Option<&'a [u8]>> {
        if present {
            self.text().map(Some)
        } else {
            Some(None)
        }
    }
}

#[cfg(test)]
mod tests;
