//! Hand-rolled HTTP/1.1 framing over any tokio stream, shared by the fault servers and the
//! raw client: read a head up to the blank line, parse it with `httparse`, read a body by
//! `Content-Length`, chunked coding or until close, and say how the body ended.
//!
//! Deliberately independent from hyper, so a hyper bug cannot hide behind itself.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest head accepted before giving up with `InvalidData`.
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD responses, 1xx/204/304, requests without length).
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// A response body delimited by the server closing the connection.
    UntilClose,
}

/// How reading a body (or a stream) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The framing was satisfied (for [`Framing::UntilClose`]: a clean FIN).
    Complete,
    /// The peer closed (FIN) before the framing was satisfied.
    Eof,
    /// A read error (typically `ConnectionReset` after an RST), or `InvalidData` for bad
    /// chunked coding.
    Error(io::ErrorKind),
}

/// A parsed request head.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target exactly as sent.
    pub target: String,
    /// Headers in order, names as sent, values lossily decoded.
    pub headers: Vec<(String, String)>,
}

/// A parsed response head.
#[derive(Clone, Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers in order, names as sent, values lossily decoded.
    pub headers: Vec<(String, String)>,
}

/// Case-insensitive lookup of the first header named `name`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn collect_headers(raw: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    raw.iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Parses a complete request head (ending in the blank line).
pub fn parse_request_head(head: &[u8]) -> io::Result<RequestHead> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => Ok(RequestHead {
            method: req.method.unwrap_or_default().to_owned(),
            target: req.path.unwrap_or_default().to_owned(),
            headers: collect_headers(req.headers),
        }),
        Ok(httparse::Status::Partial) => Err(invalid("partial request head")),
        Err(e) => Err(invalid(format!("bad request head: {e}"))),
    }
}

/// Parses a complete response head (ending in the blank line).
pub fn parse_response_head(head: &[u8]) -> io::Result<ResponseHead> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    match res.parse(head) {
        Ok(httparse::Status::Complete(_)) => Ok(ResponseHead {
            status: res.code.unwrap_or_default(),
            reason: res.reason.unwrap_or_default().to_owned(),
            headers: collect_headers(res.headers),
        }),
        Ok(httparse::Status::Partial) => Err(invalid("partial response head")),
        Err(e) => Err(invalid(format!("bad response head: {e}"))),
    }
}

fn length_or_chunked(headers: &[(String, String)]) -> io::Result<Option<Framing>> {
    if let Some(te) = header(headers, "transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if last.eq_ignore_ascii_case("chunked") {
            return Ok(Some(Framing::Chunked));
        }
        return Ok(None);
    }
    let mut len = None;
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        let n: u64 = v
            .trim()
            .parse()
            .map_err(|_| invalid(format!("bad content-length {v:?}")))?;
        if len.is_some_and(|prev| prev != n) {
            return Err(invalid("conflicting content-length"));
        }
        len = Some(n);
    }
    Ok(len.map(Framing::Length))
}

/// The body framing of a request with these headers.
pub fn request_framing(headers: &[(String, String)]) -> io::Result<Framing> {
    match length_or_chunked(headers)? {
        Some(Framing::Length(0)) => Ok(Framing::Empty),
        Some(f) => Ok(f),
        None if header(headers, "transfer-encoding").is_some() => {
            Err(invalid("request transfer-encoding without final chunked"))
        }
        None => Ok(Framing::Empty),
    }
}

/// The body framing of a response with this status and headers, to a request that was
/// (`head_request`) or was not a HEAD.
pub fn response_framing(
    status: u16,
    headers: &[(String, String)],
    head_request: bool,
) -> io::Result<Framing> {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    Ok(length_or_chunked(headers)?.unwrap_or(Framing::UntilClose))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A tokio stream with a read buffer, speaking HTTP/1.1 framing by hand.
#[derive(Debug)]
pub struct Wire<S> {
    io: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// Wraps a stream.
    pub fn new(io: S) -> Self {
        Self {
            io,
            buf: Vec::new(),
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream, mutably (writes through it bypass nothing: writes are unbuffered).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Bytes read from the stream but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Unwraps the stream, dropping any buffered bytes.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Writes all of `bytes` and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.io.read(&mut tmp).await?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Reads one head, blank line included. `Ok(None)` on EOF before its first byte,
    /// `UnexpectedEof` on EOF inside it, `InvalidData` past [`MAX_HEAD`].
    pub async fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..pos + 4).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("head too large"));
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "EOF inside a head",
                    ))
                };
            }
        }
    }

    async fn fill_or_end(&mut self) -> Result<(), End> {
        match self.fill().await {
            Ok(0) => Err(End::Eof),
            Ok(_) => Ok(()),
            Err(e) => Err(End::Error(e.kind())),
        }
    }

    async fn take_exact(&mut self, mut n: u64, out: &mut Vec<u8>) -> Result<(), End> {
        while n > 0 {
            if self.buf.is_empty() {
                self.fill_or_end().await?;
            }
            let k = (self.buf.len() as u64).min(n) as usize;
            out.extend(self.buf.drain(..k));
            n -= k as u64;
        }
        Ok(())
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, End> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let mut line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                line.truncate(pos);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(End::Error(io::ErrorKind::InvalidData));
            }
            self.fill_or_end().await?;
        }
    }

    async fn read_chunked(&mut self, out: &mut Vec<u8>) -> Result<(), End> {
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| End::Error(io::ErrorKind::InvalidData))?;
            if size == 0 {
                // Trailers until the blank line.
                while !self.read_line().await?.is_empty() {}
                return Ok(());
            }
            self.take_exact(size, out).await?;
            if !self.read_line().await?.is_empty() {
                return Err(End::Error(io::ErrorKind::InvalidData));
            }
        }
    }

    /// Reads one body with `framing`; returns the bytes read (all of them, even when it
    /// ended early) and how it ended.
    pub async fn read_body(&mut self, framing: Framing) -> (Vec<u8>, End) {
        let mut out = Vec::new();
        let res = match framing {
            Framing::Empty => Ok(()),
            Framing::Length(n) => self.take_exact(n, &mut out).await,
            Framing::Chunked => self.read_chunked(&mut out).await,
            Framing::UntilClose => {
                let (rest, end) = self.read_to_close().await;
                return (rest, end);
            }
        };
        match res {
            Ok(()) => (out, End::Complete),
            Err(end) => (out, end),
        }
    }

    /// Reads everything until the peer closes: `Complete` on FIN, `Error` on a read error.
    pub async fn read_to_close(&mut self) -> (Vec<u8>, End) {
        let mut out = std::mem::take(&mut self.buf);
        loop {
            match self.fill().await {
                Ok(0) => return (out, End::Complete),
                Ok(_) => out.append(&mut self.buf),
                Err(e) => return (out, End::Error(e.kind())),
            }
        }
    }
}
