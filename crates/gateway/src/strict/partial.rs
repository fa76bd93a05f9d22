//! A head line that arrived in pieces, kept small (issue #17 item 10): instead of a copy
//! of every byte so far (hyper's read buffer already holds them, so a stalled 60 KB head
//! cost twice its size), only a *representative* of the line is kept: a short line that
//! the whole-line rules (`Checker::complete_line`) judge exactly as they would judge the
//! real one. What each rule needs:
//!
//! - a field line: its first byte (obs-fold); the name up to the colon — whole while it
//!   is short enough to be one of the names the rules look at, else its first bytes,
//!   whether a byte after them is not a token character, and its last byte (whitespace
//!   before the colon); whether there is a colon; the value only for `Content-Length` and
//!   `Transfer-Encoding` in a head (whose values the rules parse), else just whether it
//!   holds a control character.
//! - the request line: the method's first bytes and whether a later one is not a token
//!   character; the target up to one byte past `max_uri_bytes` (enough to tell "too long"
//!   and, when it is not, every byte); the version's first bytes; whether a fourth part
//!   begins.
//!
//! `tests.rs` feeds lines split at every position and compares the verdicts with the
//! whole-line path.

use crate::syntax::is_tchar;

/// Field names kept whole up to this length: the longest the rules compare with
/// (`transfer-encoding`), plus one so that a longer name never equals it.
const NAME_KEEP: usize = 18;
/// A method's kept bytes: all the rules ask is "a non-empty token".
const METHOD_KEEP: usize = 16;
/// A version's kept bytes: one more than `HTTP/1.1`, so a longer one never equals it.
const VERSION_KEEP: usize = 9;

/// Which line is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// `method SP target SP version`.
    RequestLine {
        /// `Limits::max_uri_bytes`.
        max_uri: usize,
    },
    /// `name: value` in a head (`Content-Length` and `Transfer-Encoding` values kept).
    Field,
    /// `name: value` in a trailer section (no value is parsed).
    Trailer,
}

/// The representative of a line in progress.
#[derive(Debug)]
pub(super) struct Partial {
    shape: Shape,
    /// The representative so far (the part in progress may be summarised below).
    bytes: Vec<u8>,
    /// Bytes of the part in progress (request-line part, or field name before the colon).
    len: usize,
    /// A dropped byte of the part in progress was not a token character.
    dropped_bad: bool,
    /// The part's last byte, once its bytes are being dropped.
    last: Option<u8>,
    /// Request line: spaces seen. Field: the colon was seen (0 or 1).
    part: u8,
    /// Field: the value is kept (a name whose value the rules parse).
    keep_value: bool,
    /// Field: a control character other than HTAB in the (dropped) value.
    value_bad: bool,
}

impl Partial {
    /// An empty line of `shape`.
    pub(super) fn new(shape: Shape) -> Self {
        Self {
            shape,
            bytes: Vec::new(),
            len: 0,
            dropped_bad: false,
            last: None,
            part: 0,
            keep_value: false,
            value_bad: false,
        }
    }

    /// Nothing received yet.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.len == 0 && self.part == 0
    }

    /// Adds bytes of the line (never CR or LF).
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    /// Adds one byte of the line (never CR or LF).
    pub(super) fn push(&mut self, b: u8) {
        match self.shape {
            Shape::RequestLine { max_uri } => self.push_request_line(b, max_uri),
            Shape::Field | Shape::Trailer => self.push_field(b),
        }
    }

    fn push_request_line(&mut self, b: u8, max_uri: usize) {
        if b == b' ' {
            self.close_part();
            self.part = self.part.saturating_add(1);
            if self.part <= 3 {
                self.bytes.push(b' ');
            }
            return;
        }
        let keep = match self.part {
            0 => METHOD_KEEP,
            1 => max_uri.saturating_add(1),
            2 => VERSION_KEEP,
            // A fourth part makes the line malformed whatever it holds.
            _ => 0,
        };
        self.part_byte(b, keep);
    }

    fn push_field(&mut self, b: u8) {
        if self.part == 0 {
            if b == b':' {
                self.close_part();
                self.part = 1;
                self.bytes.push(b':');
                self.keep_value = self.shape == Shape::Field && is_parsed_name(&self.bytes);
                return;
            }
            self.part_byte(b, NAME_KEEP);
        } else if self.keep_value {
            self.bytes.push(b);
        } else {
            self.value_bad |= (b < 0x20 && b != b'\t') || b == 0x7f;
        }
    }

    /// A byte of the part in progress: kept while the part is short, else summarised.
    fn part_byte(&mut self, b: u8, keep: usize) {
        self.len += 1;
        if self.len <= keep {
            self.bytes.push(b);
            return;
        }
        if let Some(prev) = self.last {
            self.dropped_bad |= !is_tchar(prev);
        }
        self.last = Some(b);
    }

    /// The part in progress is complete: its summary joins the representative.
    fn close_part(&mut self) {
        if self.dropped_bad {
            // Not a token character, and not whitespace (which a rule may look for at
            // the part's end).
            self.bytes.push(b'"');
        }
        if let Some(last) = self.last {
            self.bytes.push(last);
        }
        self.len = 0;
        self.dropped_bad = false;
        self.last = None;
    }

    /// The representative of the whole line; the `Partial` is empty again after.
    pub(super) fn finish(&mut self) -> Vec<u8> {
        let in_name = match self.shape {
            Shape::RequestLine { .. } => true,
            Shape::Field | Shape::Trailer => self.part == 0,
        };
        if in_name {
            self.close_part();
        } else if !self.keep_value && self.value_bad {
            self.bytes.push(0x01);
        }
        let line = std::mem::take(&mut self.bytes);
        *self = Self::new(self.shape);
        line
    }
}

/// A head field whose value the rules parse (the name as kept: whole, being short).
fn is_parsed_name(kept: &[u8]) -> bool {
    let name = kept.strip_suffix(b":").unwrap_or(kept);
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding")
}

#[cfg(test)]
mod tests;
