//! The logfmt value and JSON escape scans, eight bytes at a time: most values in a line
//! (host, upstream, request id) are plain ASCII that needs neither quoting nor UTF-8
//! validation, and a word-wide test finds that in fewer instructions than a per-byte table
//! lookup. A word with a hit gives the hit's position from its lowest flag.

/// Every byte 0x01.
const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// Every byte's high bit.
const HIGHS: u64 = ONES * 0x80;

const fn splat(b: u8) -> u64 {
    ONES * b as u64
}

/// High bit set in (at least) the lowest zero byte of `y`. A borrow can also flag a byte
/// above a real zero byte, never one below it: the lowest flag is exact, and the whole is
/// zero exactly when no byte is zero.
#[inline(always)]
fn zero_bytes(y: u64) -> u64 {
    y.wrapping_sub(ONES) & !y
}

/// High bits flagging the bytes of `w` (little-endian) that stop a bare logfmt value:
/// `< 0x21` (controls and space), `"`, `=`, `\`, DEL, and every byte `>= 0x80` (not a
/// quoting reason, but the value must then be checked for UTF-8). Exact for the lowest
/// flagged byte, like [`zero_bytes`].
#[inline(always)]
fn logfmt_hits(w: u64) -> u64 {
    // `w - 0x21…` borrows through a byte below 0x21; `!w` drops bytes with the high bit
    // set (flagged by `| w` anyway).
    let below = w.wrapping_sub(splat(0x21)) & !w;
    let specials = zero_bytes(w ^ splat(b'"'))
        | zero_bytes(w ^ splat(b'='))
        | zero_bytes(w ^ splat(b'\\'))
        | zero_bytes(w ^ splat(0x7f));
    (below | specials | w) & HIGHS
}

/// High bits flagging the bytes of `w` a JSON string escapes: `< 0x20`, `"`, `\`, DEL
/// (bytes `>= 0x80` are UTF-8, written as they are). Exact for the lowest flagged byte.
#[inline(always)]
fn json_hits(w: u64) -> u64 {
    let below = w.wrapping_sub(splat(0x20)) & !w;
    let specials =
        zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\')) | zero_bytes(w ^ splat(0x7f));
    (below | specials) & HIGHS
}

/// The little-endian word of the eight bytes of `s` at `at`.
#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// The index of the first byte of `s` that is not plain printable ASCII for logfmt (see
/// [`logfmt_hits`]; `is_special` says the same per byte), or `None` when `s` can be
/// written bare as it is.
pub(super) fn first_special(s: &[u8], is_special: impl Fn(u8) -> bool) -> Option<usize> {
    first_hit(s, logfmt_hits, is_special)
}

/// The index of the first byte of `s` a JSON string escapes (see [`json_hits`];
/// `is_escaped` says the same per byte).
pub(super) fn first_escape(s: &[u8], is_escaped: impl Fn(u8) -> bool) -> Option<usize> {
    first_hit(s, json_hits, is_escaped)
}

/// The first byte `hits` flags in a word, or `per_byte` flags in a value too short for one.
#[inline(always)]
fn first_hit(s: &[u8], hits: impl Fn(u64) -> u64, per_byte: impl Fn(u8) -> bool) -> Option<usize> {
    let len = s.len();
    if len < 8 {
        return s.iter().position(|&b| per_byte(b));
    }
    let mut at = 0;
    while at + 8 <= len {
        let found = hits(word(s, at));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at < len {
        // The last eight bytes, overlapping ones already found plain: a hit is in the tail.
        let last = len - 8;
        let found = hits(word(s, last));
        if found != 0 {
            return Some(last + (found.trailing_zeros() / 8) as usize);
        }
    }
    None
}
