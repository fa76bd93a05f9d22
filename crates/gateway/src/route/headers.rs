//! Per-route header rules (`request_headers`, `response_headers`): `remove`, then `set`,
//! then `add`, on the request as it leaves for the upstream and on the response as it
//! leaves for the client.
//!
//! Values are templates with a few variables (`{client_ip}`, `{request_id}`, `{host}`,
//! `{scheme}`), parsed once at load ([`Template::parse`]); a request only fills them in. A
//! value without variables is a ready [`HeaderValue`] and costs one clone per request.
//!
//! Hop-by-hop and framing headers are refused at load ([`check_name`]): `Connection`,
//! `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding` and `Upgrade` describe one connection,
//! `Proxy-*` belong to a proxy hop, `Content-Length` decides where a message ends (a wrong
//! one desynchronises the connection), and `Host` has its own option (`preserve_host`).

use std::io::Write as _;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// One variable a value may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The client's address (the first untrusted hop, as in the access log).
    ClientIp,
    /// The request id (`[request_id]`).
    RequestId,
    /// The `Host` (or `:authority`) the client sent, as sent.
    Host,
    /// `http` or `https`: how the client reached the gateway.
    Scheme,
}

impl Var {
    const ALL: [(&'static str, Var); 4] = [
        ("{client_ip}", Var::ClientIp),
        ("{request_id}", Var::RequestId),
        ("{host}", Var::Host),
        ("{scheme}", Var::Scheme),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(Var),
}

/// A header value, parsed at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// As written, for `--print-config`.
    source: String,
    /// `Some` when the value has no variables.
    fixed: Option<HeaderValue>,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`: literal bytes must be valid in a header value (no control characters)
    /// and every `{...}` must be one of the variables.
    pub fn parse(text: &str) -> Result<Template, String> {
        if text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err("a header value must not contain control characters".into());
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let (before, from) = rest.split_at(open);
            let (name, var) = Var::ALL
                .iter()
                .find(|(name, _)| from.starts_with(name))
                .ok_or_else(|| {
                    "the only variables are {client_ip}, {request_id}, {host} and {scheme}"
                        .to_owned()
                })?;
            if !before.is_empty() {
                pieces.push(Piece::Text(before.to_owned()));
            }
            pieces.push(Piece::Var(*var));
            rest = from.get(name.len()..).unwrap_or("");
        }
        if rest.contains('}') {
            return Err("a } without its {".into());
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let fixed = if pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
            Some(HeaderValue::from_str(text).map_err(|e| e.to_string())?)
        } else {
            None
        };
        Ok(Template {
            source: text.to_owned(),
            fixed,
            pieces,
        })
    }

    /// Whether the value uses `var`.
    pub fn uses(&self, var: Var) -> bool {
        self.pieces.contains(&Piece::Var(var))
    }

    /// The value as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value for one request; `None` when a variable's bytes cannot be in a header
    /// value (the header is then left out rather than the request failed).
    pub fn render(&self, vars: &Vars) -> Option<HeaderValue> {
        if let Some(v) = &self.fixed {
            return Some(v.clone());
        }
        let mut out: Vec<u8> = Vec::with_capacity(self.source.len() + 48);
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
                Piece::Var(Var::ClientIp) => {
                    // Formatted in place: no intermediate String.
                    let _ = write!(out, "{}", vars.client_ip);
                }
                Piece::Var(Var::RequestId) => out.extend_from_slice(vars.request_id.as_bytes()),
                Piece::Var(Var::Host) => {
                    out.extend_from_slice(vars.host.as_ref().map_or(&b""[..], |h| h.as_bytes()));
                }
                Piece::Var(Var::Scheme) => {
                    out.extend_from_slice(if vars.https { b"https" } else { b"http" });
                }
            }
        }
        // The buffer becomes the value without another copy.
        HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
    }
}

/// What the variables stand for in one request.
#[derive(Debug, Clone)]
pub struct Vars {
    /// `{client_ip}`.
    pub client_ip: IpAddr,
    /// `{request_id}`.
    pub request_id: HeaderValue,
    /// `{host}`: empty when the request named none. Gathered only when a rule uses it.
    pub host: Option<HeaderValue>,
    /// `{scheme}`: `https` when true.
    pub https: bool,
}

/// `set`, `add` and `remove` for one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderRules {
    /// Replaces every value of the header (or adds it).
    pub set: Vec<(HeaderName, Template)>,
    /// Appends a value, keeping those already there.
    pub add: Vec<(HeaderName, Template)>,
    /// Removes every value of the header.
    pub remove: Vec<HeaderName>,
}

impl HeaderRules {
    /// Whether any `set` or `add` value uses `var`.
    pub fn uses(&self, var: Var) -> bool {
        self.set.iter().chain(&self.add).any(|(_, t)| t.uses(var))
    }

    /// `true` when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Applies the rules: `remove`, then `set`, then `add` (so `remove` + `add` on one
    /// name replaces what came in with the added value, and `set` + `add` gives both).
    pub fn apply(&self, headers: &mut HeaderMap, vars: &Vars) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            match value.render(vars) {
                Some(v) => {
                    headers.insert(name.clone(), v);
                }
                None => {
                    headers.remove(name);
                }
            }
        }
        for (name, value) in &self.add {
            if let Some(v) = value.render(vars) {
                headers.append(name.clone(), v);
            }
        }
    }
}

/// A route's rules for both directions, with one request's variables: built only for a
/// route that has rules, so a route without pays nothing.
#[derive(Debug, Clone)]
pub struct Bound<'a> {
    /// `request_headers`.
    pub request: &'a HeaderRules,
    /// `response_headers`.
    pub response: &'a HeaderRules,
    /// The request's variables.
    pub vars: Vars,
}

impl Bound<'_> {
    /// Applies `request_headers` to the upstream request's headers.
    pub fn on_request(&self, headers: &mut HeaderMap) {
        self.request.apply(headers, &self.vars);
    }

    /// Applies `response_headers` to the client's response headers.
    pub fn on_response(&self, headers: &mut HeaderMap) {
        self.response.apply(headers, &self.vars);
    }
}

/// The headers no rule may touch, lower-case; `proxy-` is a prefix.
pub const REFUSED: [&str; 9] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
    "proxy-",
];

/// Checks a header name of a rule: a valid token, not hop-by-hop or framing.
pub fn check_name(name: &str) -> Result<HeaderName, String> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("\"{name}\" is not a valid header name"))?;
    let lower = parsed.as_str();
    if lower.starts_with("proxy-") || REFUSED.contains(&lower) {
        return Err(format!(
            "\"{name}\" is a hop-by-hop or framing header, which the gateway manages itself"
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
