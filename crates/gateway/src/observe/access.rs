//! The access line: one per request, rendered from a plain [`AccessRecord`] into a caller's
//! buffer in one of three formats. Hand-written (no serde on the hot path): escaping is a
//! byte scan, numbers go through `itoa`-style digit loops, and the timestamp's text is
//! cached per second and per thread.
//!
//! JSON keys, in order: `time`, `client`, `method`, `host`, `path`, `protocol`, `status`,
//! `bytes_in`, `bytes_out`, `duration_ms`, `upstream`, `upstream_ms`, `attempts`, `reused`,
//! `outcome`, `fault`, `request_id`, `user_agent`. Absent values are `null` in JSON and
//! `-` in the other formats.

use std::net::SocketAddr;
use std::time::Duration;

/// Line formats (`[log] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// One JSON object per line.
    Json,
    /// logfmt: `key=value` pairs, values quoted when needed.
    Text,
    /// nginx/Apache `combined`, then the request id (quoted) and the duration in ms.
    Combined,
}

/// Everything one access line says. Borrowed: building one copies nothing.
///
/// `T` is the type of the values copied from request headers (`host`, `request_id`,
/// `user_agent`, `referer`): `str`, or `[u8]` for header bytes as they arrived, so that the
/// common all-ASCII value is never validated as UTF-8 — the logfmt scan that looks for
/// bytes to quote also finds any byte `>= 0x80`, and only then is the value checked. A
/// header value that is not valid UTF-8 is logged as absent (`-`, `null`).
#[derive(Debug)]
pub struct AccessRecord<'a, T: ?Sized = str> {
    /// When the request arrived, since the Unix epoch (a `Duration`, not a `SystemTime`:
    /// the caller's clock reading converts once, not again here).
    pub time: Duration,
    /// The client's address and port.
    pub client: Option<SocketAddr>,
    /// Request method: an HTTP token (`http::Method` admits nothing else), written as it
    /// is, without an escape scan.
    pub method: &'a str,
    /// `Host` (or `:authority`).
    pub host: Option<&'a T>,
    /// Path with query, as received.
    pub path: &'a str,
    /// `HTTP/1.1`, `HTTP/2.0`, … (a token: written as it is).
    pub protocol: &'a str,
    /// Status sent to the client.
    pub status: u16,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Arrival to last byte sent (or abort).
    pub duration: Duration,
    /// The upstream server address, when one was used.
    pub upstream: Option<&'a str>,
    /// Time to the upstream's response head.
    pub upstream_time: Option<Duration>,
    /// Upstream attempts (0 when none was made).
    pub attempts: u32,
    /// Whether the (last) upstream connection was reused from the pool.
    pub reused: bool,
    /// How the exchange ended (`ok`, `client_abort`, `upstream_error`, …; a token: written
    /// as it is).
    pub outcome: &'a str,
    /// The failure class, when it failed.
    pub fault: Option<&'a str>,
    /// The request id.
    pub request_id: &'a T,
    /// The request id is known to be plain printable ASCII with nothing to quote or escape
    /// (one the gateway made: hex): written as it is, without a scan.
    pub request_id_plain: bool,
    /// `User-Agent`.
    pub user_agent: Option<&'a T>,
    /// `Referer`: only the `combined` format shows it.
    pub referer: Option<&'a T>,
}

// By hand: a derive would ask `T: Clone`, which `str` and `[u8]` are not.
impl<T: ?Sized> Clone for AccessRecord<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for AccessRecord<'_, T> {}

/// A header-sourced value as text for the JSON and combined formats: `None` when it is not
/// valid UTF-8 (logged as absent).
fn text<T: AsRef<[u8]> + ?Sized>(value: Option<&T>) -> Option<&str> {
    std::str::from_utf8(value?.as_ref()).ok()
}

/// Appends one line (ending in `\n`) for `record` in `format` to `out`.
pub fn render<T: AsRef<[u8]> + ?Sized>(
    format: AccessFormat,
    record: &AccessRecord<'_, T>,
    out: &mut Vec<u8>,
) {
    match format {
        AccessFormat::Json => render_json(record, out),
        AccessFormat::Text => render_logfmt(record, out),
        AccessFormat::Combined => render_combined(record, out),
    }
}

fn render_json<T: AsRef<[u8]> + ?Sized>(r: &AccessRecord<'_, T>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":\"");
    rfc3339_ms_since(r.time, out);
    out.extend_from_slice(b"\",\"client\":");
    match r.client {
        Some(addr) => {
            out.push(b'"');
            push_addr(addr, out);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"method\":");
    json_token(r.method, out);
    out.extend_from_slice(b",\"host\":");
    json_opt(text(r.host), out);
    out.extend_from_slice(b",\"path\":");
    json_str(r.path, out);
    out.extend_from_slice(b",\"protocol\":");
    json_token(r.protocol, out);
    out.extend_from_slice(b",\"status\":");
    push_u64(u64::from(r.status), out);
    out.extend_from_slice(b",\"bytes_in\":");
    push_u64(r.bytes_in, out);
    out.extend_from_slice(b",\"bytes_out\":");
    push_u64(r.bytes_out, out);
    out.extend_from_slice(b",\"duration_ms\":");
    push_ms(r.duration, out);
    out.extend_from_slice(b",\"upstream\":");
    json_opt(r.upstream, out);
    out.extend_from_slice(b",\"upstream_ms\":");
    match r.upstream_time {
        Some(d) => push_ms(d, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"attempts\":");
    push_u64(u64::from(r.attempts), out);
    out.extend_from_slice(if r.reused {
        b",\"reused\":true"
    } else {
        b",\"reused\":false"
    });
    out.extend_from_slice(b",\"outcome\":");
    json_token(r.outcome, out);
    out.extend_from_slice(b",\"fault\":");
    json_opt(r.fault, out);
    out.extend_from_slice(b",\"request_id\":");
    if r.request_id_plain {
        json_token_bytes(r.request_id.as_ref(), out);
    } else {
        json_str(text(Some(r.request_id)).unwrap_or("-"), out);
    }
    out.extend_from_slice(b",\"user_agent\":");
    json_opt(text(r.user_agent), out);
    out.extend_from_slice(b"}\n");
}

fn render_logfmt<T: AsRef<[u8]> + ?Sized>(r: &AccessRecord<'_, T>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"time=");
    rfc3339_ms_since(r.time, out);
    out.extend_from_slice(b" client=");
    match r.client {
        Some(addr) => push_addr(addr, out),
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" method=");
    logfmt_token(r.method, out);
    out.extend_from_slice(b" host=");
    logfmt_value(r.host.map(AsRef::as_ref), out);
    out.extend_from_slice(b" path=");
    logfmt_value(Some(r.path.as_bytes()), out);
    out.extend_from_slice(b" protocol=");
    logfmt_token(r.protocol, out);
    out.extend_from_slice(b" status=");
    push_u64(u64::from(r.status), out);
    out.extend_from_slice(b" bytes_in=");
    push_u64(r.bytes_in, out);
    out.extend_from_slice(b" bytes_out=");
    push_u64(r.bytes_out, out);
    out.extend_from_slice(b" duration_ms=");
    push_ms(r.duration, out);
    out.extend_from_slice(b" upstream=");
    logfmt_value(r.upstream.map(str::as_bytes), out);
    out.extend_from_slice(b" upstream_ms=");
    match r.upstream_time {
        Some(d) => push_ms(d, out),
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" attempts=");
    push_u64(u64::from(r.attempts), out);
    out.extend_from_slice(if r.reused {
        b" reused=true outcome="
    } else {
        b" reused=false outcome="
    });
    logfmt_token(r.outcome, out);
    match r.fault {
        None => out.extend_from_slice(b" fault=- request_id="),
        Some(fault) => {
            out.extend_from_slice(b" fault=");
            logfmt_value(Some(fault.as_bytes()), out);
            out.extend_from_slice(b" request_id=");
        }
    }
    if r.request_id_plain {
        out.extend_from_slice(r.request_id.as_ref());
    } else {
        logfmt_value(Some(r.request_id.as_ref()), out);
    }
    out.extend_from_slice(b" user_agent=");
    logfmt_value(r.user_agent.map(AsRef::as_ref), out);
    out.push(b'\n');
}

/// `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer"
/// "$http_user_agent" "$request_id" $duration_ms`
fn render_combined<T: AsRef<[u8]> + ?Sized>(r: &AccessRecord<'_, T>, out: &mut Vec<u8>) {
    match r.client {
        Some(addr) => push_ip(addr, false, out),
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" - - [");
    clf_time(r.time, out);
    out.extend_from_slice(b"] \"");
    clf_escape(r.method, out);
    out.push(b' ');
    clf_escape(r.path, out);
    out.push(b' ');
    clf_escape(r.protocol, out);
    out.extend_from_slice(b"\" ");
    push_u64(u64::from(r.status), out);
    out.push(b' ');
    push_u64(r.bytes_out, out);
    let request_id = text(Some(r.request_id));
    for value in [text(r.referer), text(r.user_agent), request_id] {
        out.extend_from_slice(b" \"");
        clf_escape(value.unwrap_or("-"), out);
        out.push(b'"');
    }
    out.push(b' ');
    push_ms(r.duration, out);
    out.push(b'\n');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// [`CLASS`] bit: the byte is escaped in a JSON string.
const JSON_ESCAPE: u8 = 1;
/// [`CLASS`] bit: the byte makes a logfmt value quoted.
const LOGFMT_QUOTE: u8 = 2;
/// [`CLASS`] bit: a byte `>= 0x80`: the value must be checked for UTF-8.
const HIGH: u8 = 4;

/// What each byte needs, looked up once per byte: one load and a test instead of a chain
/// of comparisons (scanning values is most of a line's cost).
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let special = b == b'"' || b == b'\\' || b == 0x7f;
        if b < 0x20 || special {
            table[i] |= JSON_ESCAPE;
        }
        if b <= b' ' || b == b'=' || special {
            table[i] |= LOGFMT_QUOTE;
        }
        if b >= 0x80 {
            table[i] |= HIGH;
        }
        i += 1;
    }
    table
}

/// A JSON string: `"`, `\` and control characters escaped; other bytes (UTF-8) as they are.
fn json_str(s: &str, out: &mut Vec<u8>) {
    json_str_from(s.as_bytes(), 0, out);
}

/// [`json_str`] for UTF-8 bytes whose first `clean` are known to need no escape (a logfmt
/// scan stopped there): they are not scanned again.
fn json_str_from(bytes: &[u8], clean: usize, out: &mut Vec<u8>) {
    out.push(b'"');
    let mut start = 0;
    let mut from = clean;
    while let Some(offset) =
        scan::first_escape(&bytes[from..], |b| CLASS[usize::from(b)] & JSON_ESCAPE != 0)
    {
        let i = from + offset;
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => b"",
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
        from = start;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A token (method, protocol, outcome): nothing in it needs escaping, so no scan.
fn json_token(s: &str, out: &mut Vec<u8>) {
    json_token_bytes(s.as_bytes(), out);
}

/// [`json_token`] for bytes known to be plain ASCII.
fn json_token_bytes(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// A token as a logfmt value: never quoted (`-` stands for an empty one).
fn logfmt_token(s: &str, out: &mut Vec<u8>) {
    if s.is_empty() {
        out.push(b'-');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn json_opt(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => json_str(s, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A logfmt value: bare when it is non-empty and has no space, `=`, `"` or control byte;
/// otherwise quoted with `"`, `\` and control bytes escaped. Absent, or not valid UTF-8,
/// = `-`.
// Inlined: for the short plain values of a line (host, upstream, path) the call itself
// was a fifth of the cost.
#[inline(always)]
fn logfmt_value(s: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(s) = s else {
        out.push(b'-');
        return;
    };
    // One scan for both questions (quote it? check its UTF-8?): a plain ASCII value, the
    // common case, is copied as it is.
    match scan::first_special(s, |b| CLASS[usize::from(b)] & (LOGFMT_QUOTE | HIGH) != 0) {
        None if !s.is_empty() => out.extend_from_slice(s),
        None => out.extend_from_slice(b"\"\""),
        Some(at) => logfmt_special(s, at, out),
    }
}

/// [`logfmt_value`] from the first byte that is a quoting reason or `>= 0x80`, at `at`
/// (the bytes before it are plain ASCII).
#[inline(never)]
fn logfmt_special(s: &[u8], at: usize, out: &mut Vec<u8>) {
    let rest = &s[at..];
    // After an ASCII prefix, `s` is UTF-8 exactly when `rest` is.
    if !rest.is_ascii() && std::str::from_utf8(rest).is_err() {
        out.push(b'-');
        return;
    }
    // The bytes before the first one that forces quoting need no JSON escape either
    // (every escaped byte also forces quoting), so quoting resumes from there. Most often
    // (a space in a user agent) that is the byte the first scan stopped at.
    if CLASS[usize::from(rest[0])] & LOGFMT_QUOTE != 0 {
        return json_str_from(s, at, out);
    }
    match rest
        .iter()
        .position(|&b| CLASS[usize::from(b)] & LOGFMT_QUOTE != 0)
    {
        None => out.extend_from_slice(s),
        Some(clean) => json_str_from(s, at + clean, out),
    }
}

/// nginx's escaping for its log: `"`, `\` and bytes outside printable ASCII become `\xHH`.
fn clf_escape(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.extend_from_slice(b"\\x");
            out.push(HEX[usize::from(b >> 4)].to_ascii_uppercase());
            out.push(HEX[usize::from(b & 0xf)].to_ascii_uppercase());
        } else {
            out.push(b);
        }
    }
}

pub mod frame;
mod numbers;
mod scan;
mod time;
use numbers::{push_addr, push_ip, push_ms, push_u64};
pub use time::rfc3339_ms;
use time::{clf_time, rfc3339_ms_since};

#[cfg(test)]
mod tests;
