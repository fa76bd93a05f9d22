//! Escaped slashes next to dot segments (issue #17 item 1): what `/users/..%2fadmin` means to
//! an upstream that decodes `%2F`/`%5C` (or treats `\` as `/`) *before* it resolves dot
//! segments. The router sees one segment, `..%2fadmin`, and routes to `/users`; such an
//! upstream sees `/users/../admin` and serves `/admin`.
//!
//! [`classify`] decides what to do with a request path under the `escaped_slashes` setting:
//! - `reject` (the default): a segment where an escaped slash (`%2f`, `%2F`, `%5c`, `%5C`)
//!   touches a dot (`.` or `%2e`), and any raw `\`, refuse the request (400);
//! - `unescape`: decode `%2f`/`%5c`/`\` to `/` and `%2e` to `.`, resolve dot segments, and
//!   route the result (what nginx does: it matches on the decoded, normalised path);
//! - `keep`: route the path as it is (the behaviour before #17): only safe when no route
//!   relies on its prefix as an access boundary.
//!
//! [`lenient_resolve`] is the reference for the worst upstream we protect: the fuzz target
//! checks that nothing [`classify`] accepts resolves, through it, outside its route.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

/// The `escaped_slashes` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscapedSlashes {
    /// Refuse escaped slashes next to dots, and raw backslashes: 400.
    #[default]
    Reject,
    /// Decode escaped slashes, backslashes and encoded dots, resolve, route the result.
    Unescape,
    /// Route the path unchanged (unsafe behind a prefix ACL).
    Keep,
}

impl EscapedSlashes {
    /// The setting as written in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            EscapedSlashes::Reject => "reject",
            EscapedSlashes::Unescape => "unescape",
            EscapedSlashes::Keep => "keep",
        }
    }
}

/// Why [`classify`] refused a path; every variant is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    /// A raw `\` (an upstream may read it as `/`).
    Backslash,
    /// `%2f` / `%5c` next to a dot: a hidden dot segment.
    EscapedDotSlash,
    /// After unescaping, `..` climbs above `/`.
    AboveRoot,
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRefusal::Backslash => "backslash in the request path",
            PathRefusal::EscapedDotSlash => "escaped slash next to a dot segment",
            PathRefusal::AboveRoot => "request path climbs above the root",
        })
    }
}

impl std::error::Error for PathRefusal {}

/// What to route for `path` (the path of the request target, without the query), or why
/// it is refused. Borrowed when the path is routed unchanged.
pub fn classify(path: &str, mode: EscapedSlashes) -> Result<Cow<'_, str>, PathRefusal> {
    match mode {
        EscapedSlashes::Keep => Ok(Cow::Borrowed(path)),
        EscapedSlashes::Reject => {
            if path.contains('\\') {
                return Err(PathRefusal::Backslash);
            }
            if has_escaped_dot_slash(path.as_bytes()) {
                return Err(PathRefusal::EscapedDotSlash);
            }
            Ok(Cow::Borrowed(path))
        }
        EscapedSlashes::Unescape => {
            if !needs_unescape(path.as_bytes()) {
                return Ok(Cow::Borrowed(path));
            }
            let decoded = decode_lenient(path);
            resolve_dots(&decoded, false)
                .map(Cow::Owned)
                .ok_or(PathRefusal::AboveRoot)
        }
    }
}

/// What a lenient upstream makes of `path`: `%2f`/`%5c` (any case) and `\` become `/`,
/// `%2e` becomes `.`, then dot segments are resolved (RFC 3986 §5.2.4, `..` at the root
/// stays at the root).
pub fn lenient_resolve(path: &str) -> String {
    let decoded = decode_lenient(path);
    // Clamping never fails.
    resolve_dots(&decoded, true).unwrap_or_else(|| "/".to_owned())
}

/// Whether `prefix` (a route prefix such as `/users`, or `/`) contains `path` on a segment
/// boundary.
pub fn is_under(path: &str, prefix: &str) -> bool {
    if prefix == "/" || prefix.is_empty() {
        return path.starts_with('/');
    }
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `%XY` at `i` decoded, if it is one of the escapes a lenient upstream decodes.
fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') {
        return None;
    }
    let (hi, lo) = (*b.get(i + 1)?, b.get(i + 2)?.to_ascii_lowercase());
    match (hi, lo) {
        (b'2', b'f') => Some(b'/'),
        (b'5', b'c') => Some(b'\\'),
        (b'2', b'e') => Some(b'.'),
        _ => None,
    }
}

/// A dot (`.` or `%2e`) ends just before `i`.
fn dot_before(b: &[u8], i: usize) -> bool {
    i >= 1 && b[i - 1] == b'.' || i >= 3 && escape_at(b, i - 3) == Some(b'.')
}

/// A dot (`.` or `%2e`) starts at `i`.
fn dot_at(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&b'.') || escape_at(b, i) == Some(b'.')
}

/// Some `%2f`/`%5c` has a dot right before or right after it.
fn has_escaped_dot_slash(b: &[u8]) -> bool {
    (0..b.len()).any(|i| {
        matches!(escape_at(b, i), Some(b'/' | b'\\')) && (dot_before(b, i) || dot_at(b, i + 3))
    })
}

/// Any byte sequence [`decode_lenient`] or dot resolution would change.
fn needs_unescape(b: &[u8]) -> bool {
    b.contains(&b'\\')
        || (0..b.len()).any(|i| escape_at(b, i).is_some())
        || b.split(|c| *c == b'/').any(|s| s == b"." || s == b"..")
}

fn decode_lenient(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match escape_at(b, i) {
            Some(b'/' | b'\\') => {
                out.push(b'/');
                i += 3;
            }
            Some(c) => {
                out.push(c);
                i += 3;
            }
            None => {
                out.push(if b[i] == b'\\' { b'/' } else { b[i] });
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the text stays UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Removes `.` and `..` segments. `None` when `..` climbs above the root and `clamp` is
/// false. A trailing dot segment leaves a trailing `/` (`/a/b/..` → `/a/`).
fn resolve_dots(path: &str, clamp: bool) -> Option<String> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    for seg in rest.split('/') {
        trailing = false;
        match seg {
            "." => trailing = true,
            ".." => {
                trailing = true;
                if stack.pop().is_none() && !clamp {
                    return None;
                }
            }
            s => stack.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in &stack {
        out.push('/');
        out.push_str(seg);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests;
