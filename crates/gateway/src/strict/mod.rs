//! Strict HTTP/1 request checking: a pure, incremental checker that sees a copy of every
//! byte a downstream HTTP/1 connection receives, before hyper parses it.
//!
//! hyper accepts some requests a proxy must refuse, and hides others from the handler
//! (read in hyper's source): HTTP/1.1 without `Host`, bare-LF line ends, and for
//! `Content-Length` + `Transfer-Encoding` it drops the length and reads chunked, so the
//! handler can no longer tell. The checker follows message boundaries itself (the head up
//! to its blank line, then the body by `Content-Length` or by chunked framing) and records
//! the **first** violation with the index of the request it belongs to; after that it stops
//! (the connection is closed after the refusal). `strict_io` feeds it and asks it for the
//! verdict on request *k* when hyper hands request *k* to the service: by then every byte
//! of that head has passed through here.
//!
//! What is refused (RFC 9112 unless noted), with the status sent:
//! - 400: bare LF or bare CR anywhere in a head, chunk line or trailer; obs-fold;
//!   whitespace before the colon; a field name that is not a token (NUL and other
//!   controls included); NUL or another control (HTAB aside) in a field value; a line
//!   without a colon; a malformed request line; no `Host` on HTTP/1.1 or more than one
//!   `Host`; a `Content-Length` that is not `1*DIGIT` (signs, inner spaces, hex, empty,
//!   lists, overflow) or two that differ; `Content-Length` with `Transfer-Encoding`;
//!   `Transfer-Encoding` on HTTP/1.0, or whose final coding is not `chunked`, or with
//!   `chunked` twice; a malformed chunk-size line or chunk data not followed by CRLF.
//! - 501: `Transfer-Encoding` with a coding other than `chunked` before the final
//!   `chunked` (RFC 9112 §6.1: a coding we do not implement).
//! - 414: a request target longer than `max_uri_bytes`.
//! - 431: a head longer than `max_header_bytes`, or more than `max_headers` fields.
//!
//! Accepted on purpose: `Content-Length: 005` (RFC 9110 grammar is `1*DIGIT`; the gateway
//! re-emits it as `5`, see `rewrite.rs`), identical repeated `Content-Length` lines (sent
//! upstream once), and empty lines (CRLF) before a request line (RFC 9112 §2.2).
//!
//! A line that lies whole in the bytes received (the usual case: a whole head in one
//! read) is first offered to `scan`, which recognises a clean request line or field line
//! in one pass (a value's CR is found by the same word-at-a-time scan that looks for
//! controls) and declines anything else; the general path below then decides, so the
//! verdicts are those of the general path alone (`tests.rs` compares both).
//!
//! A line that arrives in pieces is not copied whole: `partial` keeps a short stand-in
//! that gets the same verdict (hyper's buffer already holds the bytes; a stalled 60 KB
//! head cost twice its size with a copy here).
//!
//! HTTP/2 requests are checked field by field in [`check_h2`].

mod partial;
mod rules;
mod scan;

use crate::syntax::{is_tchar, parse_decimal, trim_ows};
use partial::{Partial, Shape};
pub use rules::{check_h2, Violation};
use rules::{chunk_size, split_field};

/// What the checker enforces; the same numbers hyper is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request head (request line + fields, CRLFs included); also bounds trailers.
    pub max_header_bytes: usize,
    /// Most fields in a head.
    pub max_headers: usize,
    /// Longest request target.
    pub max_uri_bytes: usize,
}

/// Longest chunk-size line (size and extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// A violation and the request it belongs to (0 = the connection's first request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Index of the offending request on its connection.
    pub request: u64,
    /// What was wrong.
    pub violation: Violation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: only CRLF may come before the next request line.
    Idle,
    RequestLine,
    Fields,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkCr,
    ChunkLf,
    Trailers,
    /// A verdict was recorded; nothing more is checked.
    Stopped,
}

/// What the head told us so far.
#[derive(Debug, Default)]
struct Head {
    http10: bool,
    fields: usize,
    hosts: usize,
    length: Option<u64>,
    te: bool,
    te_elements: usize,
    te_chunked: usize,
    te_last_chunked: bool,
}

/// The incremental checker for one connection. Feed it every byte received, in order.
#[derive(Debug)]
pub struct Checker {
    limits: Limits,
    state: State,
    request: u64,
    verdict: Option<Verdict>,
    /// A chunk-size line in progress (at most `MAX_CHUNK_LINE` bytes).
    line: Vec<u8>,
    /// A head or trailer line in progress, as a short representative (see `partial`).
    partial: Partial,
    cr: bool,
    used: usize,
    head: Head,
}

impl Checker {
    /// A checker for a new connection.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Idle,
            request: 0,
            verdict: None,
            line: Vec::new(),
            partial: Partial::new(Shape::Field),
            cr: false,
            used: 0,
            head: Head::default(),
        }
    }

    /// The first violation seen, if any.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict
    }

    /// Checks the next received bytes.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.state != State::Stopped {
            let consumed = match self.step(bytes) {
                Ok(n) => n,
                Err(violation) => {
                    self.verdict = Some(Verdict {
                        request: self.request,
                        violation,
                    });
                    self.state = State::Stopped;
                    self.line = Vec::new();
                    self.partial = Partial::new(Shape::Field);
                    return;
                }
            };
            bytes = &bytes[consumed..];
        }
    }

    /// Consumes a prefix of `bytes` (at least one byte) in the current state.
    fn step(&mut self, bytes: &[u8]) -> Result<usize, Violation> {
        let b = bytes[0];
        if self.state == State::Idle && !self.cr && b != b'\r' && b != b'\n' {
            // A request line begins: straight on to the arm below (one step for the usual
            // head, and one call site for `whole_lines`, which then inlines).
            self.state = State::RequestLine;
            self.used = 0;
            self.head = Head::default();
        }
        match self.state {
            State::Idle => {
                match (self.cr, b) {
                    (true, b'\n') => self.cr = false,
                    (true, _) => return Err(Violation::BareCr),
                    (false, b'\r') => self.cr = true,
                    // The only bytes left here: anything else began a request line above.
                    (false, _) => return Err(Violation::BareLf),
                }
                Ok(1)
            }
            State::RequestLine | State::Fields | State::Trailers => {
                if let Some(n) = self.whole_lines(bytes)? {
                    return Ok(n);
                }
                if let Some(n) = self.head_run(bytes)? {
                    return Ok(n);
                }
                if self.head_byte(b)? {
                    self.end_line()?;
                }
                Ok(1)
            }
            State::Body(left) | State::ChunkData(left) => {
                let n = left.min(bytes.len() as u64);
                let rest = left - n;
                self.state = match (self.state, rest) {
                    (State::Body(_), 0) => self.finish_request(),
                    (State::Body(_), _) => State::Body(rest),
                    (_, 0) => State::ChunkCr,
                    (_, _) => State::ChunkData(rest),
                };
                Ok(n as usize)
            }
            State::ChunkSize => {
                if self.line_byte(b, MAX_CHUNK_LINE, Violation::BadChunk)? {
                    let size = chunk_size(&self.line)?;
                    self.line.clear();
                    self.state = if size == 0 {
                        self.used = 0;
                        State::Trailers
                    } else {
                        State::ChunkData(size)
                    };
                }
                Ok(1)
            }
            State::ChunkCr if b == b'\r' => {
                self.state = State::ChunkLf;
                Ok(1)
            }
            State::ChunkLf if b == b'\n' => {
                self.state = State::ChunkSize;
                self.used = 0;
                Ok(1)
            }
            State::ChunkCr | State::ChunkLf => Err(Violation::BadChunk),
            State::Stopped => Ok(bytes.len()),
        }
    }

    /// The fast path for head and trailer lines: the bytes up to the next CR or LF in one
    /// step instead of one at a time, and a line that arrives whole (the usual case) is
    /// checked where it lies, without copying it into `line`. Declines (`None`) whenever the
    /// per-byte path decides something (a CR or LF first, a pending CR, the size budget
    /// running out), so both paths give the same verdict at the same byte.
    fn head_run(&mut self, bytes: &[u8]) -> Result<Option<usize>, Violation> {
        if self.cr {
            return Ok(None);
        }
        // memchr's vector search: most of a head's bytes pass here, ~4× fewer instructions
        // than a byte loop.
        let end = memchr::memchr2(b'\r', b'\n', bytes).unwrap_or(bytes.len());
        let max = self.limits.max_header_bytes;
        if end == 0 || self.used + end > max {
            return Ok(None);
        }
        let whole = self.partial.is_empty()
            && bytes.get(end) == Some(&b'\r')
            && bytes.get(end + 1) == Some(&b'\n')
            && self.used + end + 2 <= max;
        if whole {
            self.used += end + 2;
            self.complete_line(&bytes[..end])?;
            return Ok(Some(end + 2));
        }
        self.used += end;
        self.partial_line().extend(&bytes[..end]);
        Ok(Some(end))
    }

    /// The head or trailer line in progress, its shape set by the state when it starts.
    fn partial_line(&mut self) -> &mut Partial {
        if self.partial.is_empty() {
            let shape = match self.state {
                State::RequestLine => Shape::RequestLine {
                    max_uri: self.limits.max_uri_bytes,
                },
                State::Trailers => Shape::Trailer,
                _ => Shape::Field,
            };
            self.partial = Partial::new(shape);
        }
        &mut self.partial
    }

    /// One byte of a head or trailer line; true when it completed a line.
    fn head_byte(&mut self, b: u8) -> Result<bool, Violation> {
        let max = self.limits.max_header_bytes;
        match self.crlf(b, max, Violation::HeadTooLarge)? {
            Some(ended) => Ok(ended),
            None => {
                self.partial_line().push(b);
                Ok(false)
            }
        }
    }

    /// Adds `b` to the current line (CRLF-terminated, `max` bytes per budget in `used`).
    fn line_byte(&mut self, b: u8, max: usize, too_long: Violation) -> Result<bool, Violation> {
        match self.crlf(b, max, too_long)? {
            Some(ended) => Ok(ended),
            None => {
                self.line.push(b);
                Ok(false)
            }
        }
    }

    /// The size budget and the CRLF rules for one byte of a line: `Some(true)` when it
    /// ended the line, `Some(false)` for a CR, `None` for a byte of the line itself.
    fn crlf(&mut self, b: u8, max: usize, too_long: Violation) -> Result<Option<bool>, Violation> {
        self.used += 1;
        if self.used > max {
            return Err(too_long);
        }
        match (self.cr, b) {
            (true, b'\n') => {
                self.cr = false;
                Ok(Some(true))
            }
            (true, _) => Err(Violation::BareCr),
            (false, b'\r') => {
                self.cr = true;
                Ok(Some(false))
            }
            (false, b'\n') => Err(Violation::BareLf),
            (false, _) => Ok(None),
        }
    }

    fn end_line(&mut self) -> Result<(), Violation> {
        let line = self.partial.finish();
        self.complete_line(&line)
    }

    /// A complete head or trailer line (without its CRLF).
    fn complete_line(&mut self, line: &[u8]) -> Result<(), Violation> {
        match self.state {
            State::RequestLine => self.request_line(line),
            State::Fields if line.is_empty() => self.end_head(),
            State::Fields => self.field(line),
            State::Trailers if line.is_empty() => {
                self.state = self.finish_request();
                Ok(())
            }
            _ => split_field(line).map(|_| ()),
        }
    }

    fn request_line(&mut self, line: &[u8]) -> Result<(), Violation> {
        let mut parts = line.split(|b| *b == b' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Violation::BadRequestLine);
        };
        if method.is_empty() || !method.iter().all(|b| is_tchar(*b)) {
            return Err(Violation::BadRequestLine);
        }
        if target.len() > self.limits.max_uri_bytes {
            return Err(Violation::TargetTooLong);
        }
        if target.is_empty() || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
            return Err(Violation::BadRequestLine);
        }
        self.head.http10 = match version {
            b"HTTP/1.1" => false,
            b"HTTP/1.0" => true,
            _ => return Err(Violation::BadRequestLine),
        };
        self.state = State::Fields;
        Ok(())
    }

    fn field(&mut self, line: &[u8]) -> Result<(), Violation> {
        let (name, value) = split_field(line)?;
        self.field_parts(name, value)
    }

    /// A field of the head, its line already found clean.
    #[inline(always)]
    fn field_parts(&mut self, name: &[u8], value: &[u8]) -> Result<(), Violation> {
        let head = &mut self.head;
        head.fields += 1;
        if head.fields > self.limits.max_headers {
            return Err(Violation::TooManyFields);
        }
        // Only three names matter: the length decides whether to compare at all.
        match name.len() {
            4 if scan::is_host(name) => head.hosts += 1,
            14 if name.eq_ignore_ascii_case(b"content-length") => self.content_length(value)?,
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.transfer_encoding(value)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn content_length(&mut self, value: &[u8]) -> Result<(), Violation> {
        let head = &mut self.head;
        let n = parse_decimal(value).ok_or(Violation::BadContentLength)?;
        if head.length.is_some_and(|prev| prev != n) {
            return Err(Violation::ConflictingContentLength);
        }
        head.length = Some(n);
        Ok(())
    }

    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), Violation> {
        let head = &mut self.head;
        head.te = true;
        for element in value.split(|b| *b == b',') {
            let coding = trim_ows(element);
            if coding.is_empty() || !coding.iter().all(|b| is_tchar(*b)) {
                return Err(Violation::BadTransferEncoding);
            }
            head.te_elements += 1;
            head.te_last_chunked = coding.eq_ignore_ascii_case(b"chunked");
            head.te_chunked += usize::from(head.te_last_chunked);
        }
        Ok(())
    }

    fn end_head(&mut self) -> Result<(), Violation> {
        let head = &self.head;
        if head.hosts > 1 {
            return Err(Violation::MultipleHosts);
        }
        if head.hosts == 0 && !head.http10 {
            return Err(Violation::MissingHost);
        }
        if head.te {
            if head.length.is_some() {
                return Err(Violation::LengthAndTransferEncoding);
            }
            if head.http10 || !head.te_last_chunked || head.te_chunked != 1 {
                return Err(Violation::BadTransferEncoding);
            }
            if head.te_elements > 1 {
                return Err(Violation::UnsupportedTransferEncoding);
            }
            self.used = 0;
            self.state = State::ChunkSize;
            return Ok(());
        }
        let length = head.length;
        self.state = match length {
            Some(n) if n > 0 => State::Body(n),
            _ => self.finish_request(),
        };
        Ok(())
    }

    /// The request is complete: the next bytes belong to the next one.
    fn finish_request(&mut self) -> State {
        self.request += 1;
        // Don't keep a long line's buffer for the life of the connection.
        if self.line.capacity() > 256 {
            self.line = Vec::new();
        }
        State::Idle
    }
}

#[cfg(test)]
mod tests;
