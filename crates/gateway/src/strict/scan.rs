//! The whole-line fast path's scanners: a request line or a field line that lies whole in
//! the received bytes and breaks no rule is recognised in one pass, eight bytes at a time
//! where the bytes are many (values, targets). They only ever say "clean, and here are its
//! parts" or "not sure" (`None`): anything else — a violation, a line cut by the end of a
//! read, an unusual shape — goes to the general path (`Checker::head_run` and the per-byte
//! path), which decides the verdict exactly as before. So a scanner may decline more than
//! it must, but must never accept what the general path refuses.
//!
//! Why a fused scan: the general path finds the line end (a vector search), then splits
//! the field and walks its value again for controls. A value's CR *is* a control, so one
//! scan for "a control other than HTAB" finds both the end of a clean value and any bad
//! byte in it; for a small GET this halves the checker's instructions.

use super::{Checker, State, Violation};
use crate::syntax::{is_ows, is_tchar};

const LO: u64 = u64::from_le_bytes([0x01; 8]);
const HI: u64 = u64::from_le_bytes([0x80; 8]);
const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// Flags (the high bit of the byte) the bytes of `x` below `n` (`n ≤ 0x80`). The lowest
/// flag is exact; flags above a flagged byte may be false (the subtraction's borrow), so
/// only the lowest is ever used.
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// Flags the bytes of `x` equal to `b`, with `below`'s caveat.
fn equal(x: u64, b: u8) -> u64 {
    below(x ^ (LO * u64::from(b)), 1)
}

/// The index (≥ `i`) of the first byte of `bytes` that `hit` flags, or `bytes.len()`.
/// `hit` flags a whole word at once (lowest flag exact); `one` is the same test on a byte
/// for the last few bytes.
#[inline(always)]
fn first(bytes: &[u8], mut i: usize, hit: impl Fn(u64) -> u64, one: impl Fn(u8) -> bool) -> usize {
    while let Some(word) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let flags = hit(u64::from_le_bytes(*word));
        if flags != 0 {
            // Little-endian: the lowest flag is the earliest byte.
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if one(b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The index (≥ `i`) of the first control other than HTAB (`< 0x20`, CR and LF included)
/// or DEL: the end of a field value that holds no forbidden byte. `bytes.len()` if none.
pub(super) fn value_end(bytes: &[u8], mut i: usize) -> usize {
    loop {
        i = first(
            bytes,
            i,
            |x| below(x, 0x20) | equal(x, 0x7f),
            |b| b < 0x20 || b == 0x7f,
        );
        // HTAB is allowed in a value: rare, so it costs a restart rather than a third test
        // on every word.
        if bytes.get(i) != Some(&b'\t') {
            return i;
        }
        i += 1;
    }
}

/// The index (≥ `i`) of the first byte outside `0x21..=0x7e` (a request target's bytes):
/// the end of a clean target. `bytes.len()` if none.
pub(super) fn target_end(bytes: &[u8], i: usize) -> usize {
    first(
        bytes,
        i,
        |x| below(x, 0x21) | equal(x, 0x7f) | (x & HI),
        |b| !(0x21..0x7f).contains(&b),
    )
}

/// The length of the run of token characters at the start of `bytes`.
fn token_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| !is_tchar(*b))
        .unwrap_or(bytes.len())
}

/// A clean request line at the start of `bytes`: `token SP target SP HTTP/1.x CRLF` with a
/// target of 1..=`max_uri` visible bytes. Gives whether it is HTTP/1.0 and the line's
/// length with its CRLF.
pub(super) fn request_line(bytes: &[u8], max_uri: usize) -> Option<(bool, usize)> {
    let method = token_len(bytes);
    if method == 0 || bytes.get(method) != Some(&b' ') {
        return None;
    }
    let start = method + 1;
    let end = target_end(bytes, start);
    if end == start || end - start > max_uri || bytes.get(end) != Some(&b' ') {
        return None;
    }
    // The version as one word: two compares instead of two 10-byte slice compares.
    let (version, crlf) = bytes.get(end + 1..)?.split_first_chunk::<8>()?;
    if !crlf.starts_with(b"\r\n") {
        return None;
    }
    let http10 = match u64::from_le_bytes(*version) {
        HTTP_11 => false,
        HTTP_10 => true,
        _ => return None,
    };
    Some((http10, end + 11))
}

/// A clean field line at the start of `bytes`: a token, `:`, a value without controls
/// (HTAB aside) or DEL, CRLF. Gives the name, the value without its surrounding
/// whitespace (what `rules::split_field` gives) and the line's length with its CRLF.
pub(super) fn field_line(bytes: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let colon = token_len(bytes);
    if colon == 0 || bytes.get(colon) != Some(&b':') {
        return None;
    }
    let end = value_end(bytes, colon + 1);
    if bytes.get(end..end + 2) != Some(b"\r\n") {
        return None;
    }
    // OWS around the value; a plain loop (one space before, none after, is the usual).
    let mut start = colon + 1;
    while bytes.get(start).is_some_and(|b| is_ows(*b)) {
        start += 1;
    }
    // `end` is at a CR, never OWS: `start <= end`.
    let mut stop = end.max(start);
    while stop > start && bytes.get(stop - 1).is_some_and(|b| is_ows(*b)) {
        stop -= 1;
    }
    let value = bytes.get(start..stop)?;
    Some((&bytes[..colon], value, end + 2))
}

impl Checker {
    /// The fastest path, for the head of a request: clean lines that lie whole in `bytes`
    /// (the usual case: a whole head in one read), each recognised in one pass by `scan`
    /// and applied as `complete_line` would, as many as follow each other. Declines
    /// (`None`) at the first line `scan` is not sure of, before consuming it, so the
    /// general path below judges that line (and gives its verdict) as before.
    pub(super) fn whole_lines(&mut self, bytes: &[u8]) -> Result<Option<usize>, Violation> {
        if self.cr || !self.partial.is_empty() {
            return Ok(None);
        }
        let max = self.limits.max_header_bytes;
        let mut done = 0;
        loop {
            let rest = &bytes[done..];
            let n = match self.state {
                State::RequestLine => {
                    let Some((http10, n)) = request_line(rest, self.limits.max_uri_bytes) else {
                        break;
                    };
                    if self.used + n > max {
                        break;
                    }
                    self.head.http10 = http10;
                    self.state = State::Fields;
                    n
                }
                State::Fields if rest.starts_with(b"\r\n") => {
                    if self.used + 2 > max {
                        break;
                    }
                    self.used += 2;
                    self.end_head()?;
                    // The head is done: a body or the next request is the general path's.
                    return Ok(Some(done + 2));
                }
                State::Fields => {
                    let Some((name, value, n)) = field_line(rest) else {
                        break;
                    };
                    if self.used + n > max {
                        break;
                    }
                    self.field_parts(name, value)?;
                    n
                }
                _ => break,
            };
            self.used += n;
            done += n;
        }
        Ok((done > 0).then_some(done))
    }
}

/// `name` is `Host` in any case, as one word: `| 0x20` lowers an ASCII letter and maps
/// nothing else onto one (a byte `b` with `b | 0x20 == c` for a lower-case letter `c` is
/// `c` or its upper case), so this is `eq_ignore_ascii_case(b"host")` for any bytes.
pub(super) fn is_host(name: &[u8]) -> bool {
    name.first_chunk::<4>().is_some_and(|w| {
        name.len() == 4 && u32::from_le_bytes(*w) | 0x2020_2020 == u32::from_le_bytes(*b"host")
    })
}

#[cfg(test)]
mod tests;
