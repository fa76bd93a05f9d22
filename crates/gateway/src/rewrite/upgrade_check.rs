//! When a 101 may become a tunnel (issue #17 item 5). Before, any 101 from the upstream was
//! spliced: with `Upgrade: h2c` (which the gateway strips) or an `Upgrade` without
//! `Connection: upgrade` (not an upgrade at all), an upstream answering 101 got a raw
//! tunnel past the strict checker and routing. Now the request as forwarded must have
//! asked for an upgrade, and the 101 must switch to a protocol it asked for; any other 101
//! is a 502 and the upstream connection is closed.

use http::header::{HeaderMap, CONNECTION, UPGRADE};
use http::StatusCode;

/// What to do with an upstream response to a forwarded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpliceDecision {
    /// Not a 101: an ordinary response.
    NotSwitching,
    /// A 101 that answers the request's upgrade: splice the two connections.
    Splice,
    /// A 101 that must not be spliced: answer 502 and close the upstream connection.
    BadGateway(SpliceRefusal),
}

/// Why a 101 is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpliceRefusal {
    /// The forwarded request was not an upgrade.
    NotRequested,
    /// The 101 has no `Upgrade` field.
    NoProtocol,
    /// The 101 switches to a protocol the request did not offer.
    OtherProtocol,
}

impl std::fmt::Display for SpliceRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpliceRefusal::NotRequested => "upstream switched protocols without an upgrade request",
            SpliceRefusal::NoProtocol => "upstream's 101 names no protocol",
            SpliceRefusal::OtherProtocol => {
                "upstream switched to a protocol that was not asked for"
            }
        })
    }
}

/// The protocols the forwarded request offers: only when `Connection` has the `upgrade`
/// token and `Upgrade` is present; `h2c` never counts (it is not forwarded).
pub fn offered_protocols(request: &HeaderMap) -> Vec<String> {
    let connection_upgrade = tokens(request, CONNECTION)
        .iter()
        .any(|t| t.eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Vec::new();
    }
    tokens(request, UPGRADE)
        .into_iter()
        .filter(|p| !p.eq_ignore_ascii_case("h2c"))
        .collect()
}

/// Decides on the upstream's response `status`/`response` headers to the forwarded
/// `request` headers.
pub fn decide(request: &HeaderMap, status: StatusCode, response: &HeaderMap) -> SpliceDecision {
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return SpliceDecision::NotSwitching;
    }
    let offered = offered_protocols(request);
    if offered.is_empty() {
        return SpliceDecision::BadGateway(SpliceRefusal::NotRequested);
    }
    let chosen = tokens(response, UPGRADE);
    if chosen.is_empty() {
        return SpliceDecision::BadGateway(SpliceRefusal::NoProtocol);
    }
    // Protocol names compare case-insensitively (RFC 9110 §7.8); a version, when given,
    // must match too: `websocket` answers `websocket`, `HTTP/2.0` answers `HTTP/2.0`.
    let asked = |p: &String| offered.iter().any(|o| o.eq_ignore_ascii_case(p));
    if chosen.iter().all(asked) {
        SpliceDecision::Splice
    } else {
        SpliceDecision::BadGateway(SpliceRefusal::OtherProtocol)
    }
}

/// Comma-separated elements of every `name` field, trimmed, empty ones dropped; fields
/// that are not text give nothing.
fn tokens(headers: &HeaderMap, name: http::header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim_matches([' ', '\t']))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
