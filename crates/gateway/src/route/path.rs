//! Route prefixes and request paths: normalising a configured prefix, finding and resolving
//! dot-segments (RFC 3986 §5.2.4).

use std::borrow::Cow;

use http::uri::PathAndQuery;

use super::RouteError;

pub(super) fn normalize_prefix(prefix: &str) -> Result<String, RouteError> {
    let bad = |reason| RouteError::InvalidPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if !prefix.starts_with('/') {
        return Err(bad("must start with /"));
    }
    // `/users/*` is the common notation for "everything under /users": the same as `/users`.
    let prefix = prefix
        .strip_suffix("/*")
        .map_or(prefix, |p| if p.is_empty() { "/" } else { p });
    if prefix.contains('*') {
        return Err(bad(
            "a * is only supported at the end, as /users/* (the same as the prefix /users)",
        ));
    }
    if prefix.contains(['?', '#']) {
        return Err(bad("must not contain ? or #"));
    }
    if PathAndQuery::try_from(prefix).is_err() {
        return Err(bad("contains characters not allowed in a URL path"));
    }
    // A prefix with dot-segments could never match: paths are matched resolved.
    if prefix.split('/').any(|seg| dot_segment(seg) > 0) {
        return Err(bad("must not contain . or .. segments"));
    }
    let trimmed = prefix.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
}

/// 1 for a `.` segment, 2 for `..`, 0 otherwise; `%2e`/`%2E` count as a dot because many
/// upstreams decode before resolving.
pub(super) fn dot_segment(seg: &str) -> usize {
    let mut rest = seg.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return 0,
        };
        dots += 1;
        if dots > 2 {
            return 0;
        }
    }
    dots
}

pub(super) struct Resolved<'p> {
    pub(super) path: Cow<'p, str>,
    /// Lowest depth a `..` left the path at; `None` when there was no `..`.
    pub(super) lowest: Option<usize>,
}

/// RFC 3986 §5.2.4 remove_dot_segments on an absolute path, except that climbing above `/`
/// is an error instead of being clamped (clamping hides an attack, it doesn't fix a typo).
pub(super) fn resolve_dots(path: &str) -> Result<Resolved<'_>, RouteError> {
    if !path.split('/').any(|seg| dot_segment(seg) > 0) {
        return Ok(Resolved {
            path: Cow::Borrowed(path),
            lowest: None,
        });
    }
    let mut out: Vec<&str> = Vec::new();
    let mut lowest: Option<usize> = None;
    let mut trailing_slash = false;
    for seg in path.split('/').skip(1) {
        trailing_slash = false;
        match dot_segment(seg) {
            1 => trailing_slash = true,
            2 => {
                out.pop().ok_or(RouteError::BadPath)?;
                lowest = Some(lowest.map_or(out.len(), |l| l.min(out.len())));
                trailing_slash = true;
            }
            _ => out.push(seg),
        }
    }
    let mut resolved = String::with_capacity(path.len());
    for seg in &out {
        resolved.push('/');
        resolved.push_str(seg);
    }
    if trailing_slash || resolved.is_empty() {
        resolved.push('/');
    }
    Ok(Resolved {
        path: Cow::Owned(resolved),
        lowest,
    })
}
