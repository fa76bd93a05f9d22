//! What a stale-connection retry needs of a request that hyper has already consumed.
//!
//! hyper keeps nothing of a request it has written, so a request that may have to be sent
//! again (see [`crate::retry`]) needs a copy made before the first send. The copy is made on
//! every such request and used almost never, so it is made cheap rather than convenient:
//! the path and every header name and value are copied as bytes into one buffer (one
//! allocation, a few `memcpy`s), instead of cloning the `HeaderMap` (two allocations, a
//! reference-count update or a promotion allocation per value, and as much again to drop
//! it). The rare retry parses the buffer back.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Uri, Version};

use crate::body::RequestBody;

/// A request head and body, kept to send the request again.
pub(crate) struct Replay {
    method: Method,
    version: Version,
    /// The path and query, then per header: name length and value length (u32 each, native
    /// endian), the sensitive flag (one byte), the name and the value.
    head: Vec<u8>,
    path_len: usize,
    body: Bytes,
}

/// Bytes of bookkeeping per header in [`Replay::head`].
const ENTRY: usize = 4 + 4 + 1;

/// Bytes reserved per header: bookkeeping plus a typical name and value.
const ESTIMATE: usize = ENTRY + 48;

impl Replay {
    /// Copies what sending `parts` again needs; `body` is the whole body.
    pub(crate) fn capture(parts: &http::request::Parts, body: Bytes) -> Self {
        let path = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        // One pass: a typical proxied head fits the estimate; a longer one grows the buffer
        // once or twice, which is cheaper than walking the map twice on every request.
        let mut head = Vec::with_capacity(path.len() + parts.headers.len() * ESTIMATE);
        head.extend_from_slice(path.as_bytes());
        for (name, value) in &parts.headers {
            let (name, value_bytes) = (name.as_str().as_bytes(), value.as_bytes());
            // Names and values longer than 4 GiB cannot reach here: hyper and `http` limit
            // them far below that.
            let mut entry = [0u8; ENTRY];
            entry[0..4].copy_from_slice(&(name.len() as u32).to_ne_bytes());
            entry[4..8].copy_from_slice(&(value_bytes.len() as u32).to_ne_bytes());
            entry[8] = u8::from(value.is_sensitive());
            head.extend_from_slice(&entry);
            head.extend_from_slice(name);
            head.extend_from_slice(value_bytes);
        }
        Self {
            method: parts.method.clone(),
            version: parts.version,
            head,
            path_len: path.len(),
            body,
        }
    }

    /// The request to send again, in origin form (the caller shapes it for the wire, which
    /// takes the scheme and authority from the pool key). `None` if the copy does not parse
    /// back, which would be a bug: the caller then reports the original failure.
    pub(crate) fn request(&self) -> Option<Request<RequestBody>> {
        let (path, mut rest) = self.head.split_at_checked(self.path_len)?;
        let path = PathAndQuery::try_from(path).ok()?;
        let mut headers = HeaderMap::new();
        while !rest.is_empty() {
            let (lens, tail) = rest.split_at_checked(ENTRY)?;
            let name_len = u32::from_ne_bytes(lens.get(0..4)?.try_into().ok()?) as usize;
            let value_len = u32::from_ne_bytes(lens.get(4..8)?.try_into().ok()?) as usize;
            let sensitive = lens.get(8) == Some(&1);
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            let name = HeaderName::from_bytes(name).ok()?;
            let mut value = HeaderValue::from_bytes(value).ok()?;
            value.set_sensitive(sensitive);
            headers.append(name, value);
            rest = tail;
        }
        let mut req = Request::new(RequestBody::full(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = Uri::from(path);
        *req.version_mut() = self.version;
        *req.headers_mut() = headers;
        Some(req)
    }
}

#[cfg(test)]
mod tests;
