//! The rules themselves: what a violation is, and the byte-level checks of one field
//! line, one chunk-size line, one `Content-Length`, and the HTTP/2 field rules.

use std::fmt;

use crate::syntax::{is_ows, is_tchar, trim_ows};
use http::header::{CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, StatusCode};

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A line ended by LF without CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A field line starting with whitespace (obsolete line folding).
    ObsFold,
    /// Whitespace between a field name and its colon.
    SpaceBeforeColon,
    /// An empty field name, or one with bytes outside `tchar` (NUL and controls too).
    BadFieldName,
    /// NUL, DEL or another control other than HTAB in a field value.
    BadFieldValue,
    /// A field line without a colon.
    MissingColon,
    /// Not `method SP target SP HTTP/1.x`.
    BadRequestLine,
    /// The request target is over the limit (414).
    TargetTooLong,
    /// The head (or the trailers) are over the limit (431).
    HeadTooLarge,
    /// More fields than the limit (431).
    TooManyFields,
    /// HTTP/1.1 without `Host`.
    MissingHost,
    /// More than one `Host`.
    MultipleHosts,
    /// A `Content-Length` that is not a plain decimal number.
    BadContentLength,
    /// Two `Content-Length` values that differ.
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    LengthAndTransferEncoding,
    /// A `Transfer-Encoding` that is not `chunked` at the end (once), or on HTTP/1.0.
    BadTransferEncoding,
    /// A transfer coding other than `chunked` (501).
    UnsupportedTransferEncoding,
    /// A malformed chunk-size line, or chunk data not followed by CRLF.
    BadChunk,
    /// HTTP/2: a field value with leading or trailing SP/HTAB (RFC 9113 §8.2.1).
    H2Whitespace,
    /// HTTP/2: a connection-specific field (RFC 9113 §8.2.2).
    H2ConnectionField,
}

impl Violation {
    /// The status the request is refused with.
    pub fn status(self) -> StatusCode {
        match self {
            Violation::TargetTooLong => StatusCode::URI_TOO_LONG,
            Violation::HeadTooLarge | Violation::TooManyFields => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Violation::UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Violation::BareLf => "line ended by LF without CR",
            Violation::BareCr => "CR not followed by LF",
            Violation::ObsFold => "folded header line",
            Violation::SpaceBeforeColon => "whitespace before the colon of a header",
            Violation::BadFieldName => "invalid header name",
            Violation::BadFieldValue => "control character in a header value",
            Violation::MissingColon => "header line without a colon",
            Violation::BadRequestLine => "malformed request line",
            Violation::TargetTooLong => "request target too long",
            Violation::HeadTooLarge => "request header too large",
            Violation::TooManyFields => "too many request headers",
            Violation::MissingHost => "missing Host header",
            Violation::MultipleHosts => "more than one Host header",
            Violation::BadContentLength => "invalid Content-Length",
            Violation::ConflictingContentLength => "conflicting Content-Length values",
            Violation::LengthAndTransferEncoding => "both Content-Length and Transfer-Encoding",
            Violation::BadTransferEncoding => "invalid Transfer-Encoding",
            Violation::UnsupportedTransferEncoding => "unsupported transfer coding",
            Violation::BadChunk => "malformed chunked body",
            Violation::H2Whitespace => "header value with leading or trailing whitespace",
            Violation::H2ConnectionField => "connection-specific header in HTTP/2",
        })
    }
}

/// `name: value` with the value's surrounding whitespace trimmed, both checked.
pub(super) fn split_field(line: &[u8]) -> Result<(&[u8], &[u8]), Violation> {
    if line.first().is_some_and(|b| is_ows(*b)) {
        return Err(Violation::ObsFold);
    }
    let colon = line
        .iter()
        .position(|b| *b == b':')
        .ok_or(Violation::MissingColon)?;
    let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
    if name.last().is_some_and(|b| is_ows(*b)) {
        return Err(Violation::SpaceBeforeColon);
    }
    if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
        return Err(Violation::BadFieldName);
    }
    // field-vchar / obs-text, SP and HTAB inside.
    if value
        .iter()
        .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
    {
        return Err(Violation::BadFieldValue);
    }
    Ok((name, value))
}

/// `1*HEXDIG [ *(SP/HTAB) ";" ext ]` where `ext` has no controls but HTAB.
pub(super) fn chunk_size(line: &[u8]) -> Result<u64, Violation> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Violation::BadChunk);
    }
    let size = line[..digits].iter().try_fold(0u64, |n, b| {
        let d = char::from(*b).to_digit(16)?;
        n.checked_mul(16)?.checked_add(u64::from(d))
    });
    let size = size.ok_or(Violation::BadChunk)?;
    let rest = &line[digits..];
    if rest.is_empty() {
        return Ok(size);
    }
    // Whitespace is allowed before the `;` of an extension (BWS), not on its own.
    let ext = &rest[rest.iter().take_while(|b| is_ows(**b)).count()..];
    let valid =
        ext.first() == Some(&b';') && !ext.iter().any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f);
    if valid {
        Ok(size)
    } else {
        Err(Violation::BadChunk)
    }
}

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// HTTP/2 request fields (RFC 9113 §8.2.1, §8.2.2): no value with leading or trailing
/// whitespace (h2 and `http` let those through, and they would reach an HTTP/1.1 upstream
/// as a different value), no connection-specific field (h2 already rejects these as a
/// malformed stream; checked again so the rule does not depend on it).
pub fn check_h2(headers: &HeaderMap) -> Result<(), Violation> {
    for (name, value) in headers {
        let connection_specific = *name == CONNECTION
            || *name == TRANSFER_ENCODING
            || *name == UPGRADE
            || *name == KEEP_ALIVE
            || *name == PROXY_CONNECTION
            || (*name == TE && value.as_bytes() != b"trailers");
        if connection_specific {
            return Err(Violation::H2ConnectionField);
        }
        let v = value.as_bytes();
        if v.first().is_some_and(|b| is_ows(*b)) || v.last().is_some_and(|b| is_ows(*b)) {
            return Err(Violation::H2Whitespace);
        }
    }
    Ok(())
}
