//! Bodies for the test servers: the boxed response body type, `full`/`empty` helpers and
//! a deterministic byte pattern that can be streamed in 64 KiB chunks without allocating.
//!
//! The pattern is `byte[i] = (i % 251) as u8`. 251 is prime and not a divisor of any
//! power of two, so a dropped, duplicated or reordered chunk shows up in [`is_pattern`].

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};

/// The error type of every test body: anything boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body type handlers of [`crate::upstream::Upstream`] return.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Size of the frames [`PatternBody`] yields (and fault servers write).
pub const CHUNK: usize = 64 * 1024;

const PERIOD: usize = 251;
const PATTERN_LEN: usize = CHUNK + PERIOD;
static PATTERN: [u8; PATTERN_LEN] = make_pattern();

const fn make_pattern() -> [u8; PATTERN_LEN] {
    let mut a = [0u8; PATTERN_LEN];
    let mut i = 0;
    while i < PATTERN_LEN {
        a[i] = (i % PERIOD) as u8;
        i += 1;
    }
    a
}

/// The pattern byte at absolute offset `i` of a pattern body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % PERIOD as u64) as u8
}

/// `len` (at most [`CHUNK`]) pattern bytes starting at absolute offset `offset`, without
/// allocating: the bytes are a slice of a static table.
pub fn pattern_chunk(offset: u64, len: usize) -> Bytes {
    assert!(len <= CHUNK, "pattern_chunk is at most CHUNK bytes");
    let start = (offset % PERIOD as u64) as usize;
    Bytes::from_static(&PATTERN[start..start + len])
}

/// Whether `body` is exactly the pattern starting at absolute offset `start`.
pub fn is_pattern(body: &[u8], start: u64) -> bool {
    body.iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(start + i as u64))
}

/// A whole body from bytes.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// A body of `len` pattern bytes streamed in [`CHUNK`]-sized frames. With `exact_size` it
/// reports its length (so HTTP/1 servers send `Content-Length`); without, it does not
/// (so they send `Transfer-Encoding: chunked`).
#[derive(Debug)]
pub struct PatternBody {
    pos: u64,
    len: u64,
    exact_size: bool,
}

impl PatternBody {
    /// A pattern body of `len` bytes; see the type doc for `exact_size`.
    pub fn new(len: u64, exact_size: bool) -> Self {
        Self {
            pos: 0,
            len,
            exact_size,
        }
    }

    /// Boxes it as a [`Body`].
    pub fn boxed(self) -> Body {
        BodyExt::boxed_unsync(self)
    }
}

impl http_body::Body for PatternBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let left = self.len - self.pos;
        if left == 0 {
            return Poll::Ready(None);
        }
        let n = left.min(CHUNK as u64) as usize;
        let chunk = pattern_chunk(self.pos, n);
        self.pos += n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos == self.len
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact_size {
            SizeHint::with_exact(self.len - self.pos)
        } else {
            SizeHint::default()
        }
    }
}
