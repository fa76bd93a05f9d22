//! `rewrite`: raw request-head bytes → what hyper's HTTP/1 server would hand the gateway →
//! `Router::route` → `rewrite_request`, with invariants on the head sent upstream.
//!
//! Each input is run twice:
//! * **hyper mode**: parsed and normalised exactly as hyper 1.x's `Server::parse` does
//!   (`src/proto/h1/role.rs`): strict httparse, ≤ 100 headers, `Method::from_bytes`,
//!   `Uri::from_maybe_shared`, TE on HTTP/1.0 / TE not ending in `chunked` / bad or differing
//!   Content-Length refused, CL dropped next to TE, equal duplicate CLs collapsed. Inputs hyper
//!   refuses are skipped. Here `rewrite_request` may only fail for a Host reason.
//! * **raw mode**: the same header lines appended to the map as they are (CL+TE, `005`,
//!   differing CLs, TE on 1.0 …), as an HTTP/2 or a differently configured front end could
//!   hand them over. `rewrite_request` may refuse; whatever it accepts must meet the same
//!   invariants.
//!
//! Invariants on an accepted request (fuzz/README.md lists the classes):
//! * no hop-by-hop field: Connection (except `Connection: upgrade` on an upgrade),
//!   Keep-Alive, Proxy-Connection, TE other than one `trailers`, Trailer, Transfer-Encoding,
//!   Upgrade unless upgrading, Proxy-Authenticate, Proxy-Authorization, HTTP2-Settings, and no
//!   field the input's Connection header names, unless the gateway sets it itself;
//! * every other field passes through unchanged (same values, same order), and no field
//!   appears that neither the client nor the gateway wrote;
//! * exactly one Host (the upstream's authority, or the client's with `preserve_host`),
//!   one X-Forwarded-For (client chain + peer), X-Forwarded-Proto, Via (chain + our hop),
//!   X-Forwarded-Host iff the client named a host;
//! * no CR, LF or NUL in any name or value;
//! * at most one Content-Length, canonical decimal, equal to the client's, never next to a
//!   Transfer-Encoding and never when the client sent one;
//! * the upstream target is the route's upstream, its path starts with base path + prefix
//!   (unless strip_prefix) on a segment boundary, has no dot-segment, keeps the query, and
//!   equals what an independent reference router computes (same accept/refuse decision);
//! * the head serialises as HTTP/1.1 and re-parses with strict httparse to the same
//!   method, target and fields in order;
//! * nothing panics.
//!
//! And on the path alone (issue #17 item 1): whatever `path_escape::classify` accepts in
//! `reject` or `unescape` mode, once routed, still lies under the route's floor (base path,
//! plus prefix unless stripped) when a lenient upstream (`path_escape::lenient_resolve`:
//! `%2F`/`%5C`/`\` as `/`, `%2e` as `.`, dots resolved) reads the target it is sent.
#![no_main]

use std::net::SocketAddr;

use gangway::route::escape::{classify, is_under, lenient_resolve, EscapedSlashes};
use gangway::rewrite::{rewrite_request, RewriteCtx, RewriteError};
use gangway::route::{Route, RouteError, Router};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use libfuzzer_sys::fuzz_target;

const MAX_HEADERS: usize = 100;
/// hyper's `MAX_URI_LEN`.
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;
const VIA: &str = "gangway";

struct Fixture {
    router: Router,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let route = |prefix: &str, upstream: &str, strip: bool, preserve: bool| {
            let mut r = Route::new(prefix, upstream).expect("fixture route");
            r.strip_prefix = strip;
            r.preserve_host = preserve;
            r
        };
        let router = Router::new(vec![
            route("/users", "http://127.0.0.1:3000", false, false),
            route("/api", "http://127.0.0.1:4000/v1", true, false),
            route("/api/admin", "https://admin.internal:8443/a", false, true),
            route("/", "http://127.0.0.1:5000/root", false, false),
        ])
        .expect("fixture router");
        Fixture { router }
    })
}

/// One header line as httparse returned it.
struct Line {
    name: HeaderName,
    value: HeaderValue,
}

/// The request line and header lines, validated the way hyper validates them.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    lines: Vec<Line>,
}

fuzz_target!(|data: &[u8]| {
    let Some(head) = parse_head(data) else {
        return;
    };
    check_escapes(&head.uri);
    // The connection the request came in on; varied by input so both XFF forms and both
    // schemes are exercised.
    let peers = [
        "10.0.0.1:5555",
        "[::ffff:192.0.2.7]:443",
        "[2001:db8::1]:80",
    ];
    let peer: SocketAddr = peers[data.len() % peers.len()].parse().expect("peer");
    let tls = data.first().is_some_and(|b| b & 1 == 1);

    if let Some(headers) = hyper_headers(&head) {
        check(&head, headers, peer, tls, true);
    }
    let raw = head.lines.iter().fold(HeaderMap::new(), |mut m, l| {
        m.append(l.name.clone(), l.value.clone());
        m
    });
    check(&head, raw, peer, tls, false);
});

/// httparse as hyper's server configures it; `None` where hyper answers 4xx.
fn parse_head(data: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(data) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let target = req.path?;
    if target.len() > MAX_URI_LEN {
        return None;
    }
    let method = Method::from_bytes(req.method?.as_bytes()).ok()?;
    let version = if req.version? == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let uri = Uri::from_maybe_shared(target.as_bytes().to_vec()).ok()?;
    let mut lines = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        lines.push(Line {
            name: HeaderName::from_bytes(h.name.as_bytes()).ok()?,
            // hyper uses `from_maybe_shared_unchecked`: httparse already allowed only HTAB,
            // SP, VCHAR and obs-text, which is exactly what `from_bytes` accepts.
            value: HeaderValue::from_bytes(h.value).expect("httparse value is a HeaderValue"),
        });
    }
    Some(Head {
        method,
        uri,
        version,
        lines,
    })
}

/// The header map hyper's `Server::parse` builds, or `None` when it refuses the request.
fn hyper_headers(head: &Head) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    let (mut is_te, mut is_te_chunked, mut is_cl) = (false, false, false);
    let mut con_len: Option<u64> = None;
    for line in &head.lines {
        if line.name == http::header::TRANSFER_ENCODING {
            if head.version != Version::HTTP_11 {
                return None;
            }
            is_te = true;
            if is_cl && con_len.take().is_some() {
                map.remove(http::header::CONTENT_LENGTH);
            }
            is_te_chunked = line.value.to_str().is_ok_and(|s| {
                s.rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
            });
        } else if line.name == http::header::CONTENT_LENGTH {
            is_cl = true;
            if is_te {
                continue;
            }
            let len = digits(line.value.as_bytes())?;
            match con_len {
                Some(prev) if prev != len => return None,
                Some(_) => continue,
                None => con_len = Some(len),
            }
        }
        map.append(line.name.clone(), line.value.clone());
    }
    if is_te && !is_te_chunked {
        return None;
    }
    Some(map)
}

/// 1*DIGIT without overflow (hyper's `from_digits`).
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn trim_ows(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| *c != b' ' && *c != b'\t');
    let end = b.iter().rposition(|c| *c != b' ' && *c != b'\t');
    match (start, end) {
        (Some(s), Some(e)) => &b[s..=e],
        _ => &[],
    }
}

/// Comma-separated elements of every value of `name`, OWS trimmed, empty ones dropped.
fn tokens<'a>(map: &'a HeaderMap, name: &str) -> Vec<&'a [u8]> {
    map.get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(trim_ows)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Field bytes that print as text in assertion messages.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Text<'a>(&'a [u8]);

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

fn all<'a>(map: &'a HeaderMap, name: &str) -> Vec<Text<'a>> {
    map.get_all(name)
        .iter()
        .map(|v| Text(v.as_bytes()))
        .collect()
}

fn one<'a>(map: &'a HeaderMap, name: &str) -> Text<'a> {
    let values = all(map, name);
    assert_eq!(values.len(), 1, "exactly one {name}: {values:?}");
    values[0]
}

/// Fields the gateway writes itself (or keeps as framing), so a `Connection` nomination of
/// them does not remove them from the output.
const GATEWAY_SET: [&str; 7] = [
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "via",
    "te",
];

/// Hop-by-hop fields that never pass through (Connection/Upgrade/TE are checked apart).
const ALWAYS_HOP: [&str; 6] = [
    "keep-alive",
    "proxy-connection",
    "trailer",
    "transfer-encoding",
    "proxy-authenticate",
    "proxy-authorization",
];

fn check(head: &Head, headers: HeaderMap, peer: SocketAddr, tls: bool, hyper_mode: bool) {
    let fx = fixture();
    // What route mode (request/route_mode.rs) routes on.
    let pq = head
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let routed = fx.router.route(&pq);
    let reference = reference_route(&pq);
    let m = match (routed, reference) {
        (Ok(m), Some((index, upstream_pq))) => {
            assert!(
                std::ptr::eq(m.route, &fx.router.routes()[index]),
                "route for {pq:?}: got {}, reference {}",
                m.route.prefix,
                fx.router.routes()[index].prefix
            );
            assert_eq!(
                m.upstream_uri.path_and_query().map(|p| p.as_str()),
                Some(upstream_pq.as_str()),
                "upstream target for {pq:?}"
            );
            m
        }
        (Err(e), None) => {
            assert!(matches!(e, RouteError::BadPath | RouteError::NotFound));
            let _ = e.to_string();
            return;
        }
        (Ok(m), None) => panic!(
            "{pq:?} routed to {} but the reference refuses",
            m.upstream_uri
        ),
        (Err(e), Some((_, want))) => {
            panic!("{pq:?} refused ({e}) but the reference routes to {want}")
        }
    };
    let route = m.route;
    check_upstream_uri(route, &m.upstream_uri, &pq);

    let input = headers.clone();
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = head.method.clone();
    parts.uri = head.uri.clone();
    parts.version = head.version;
    parts.headers = headers;
    let ctx = RewriteCtx {
        client_addr: peer,
        inbound_tls: tls,
        upstream_authority: &route.upstream.authority,
        preserve_host: route.preserve_host,
        via: VIA,
    };
    let upstream_uri = m.upstream_uri.clone();
    if let Err(e) = rewrite_request(&mut parts, m.upstream_uri, &ctx) {
        let _ = e.to_string();
        check_refusal(head, &input, &e, hyper_mode);
        return;
    }
    let out = &parts.headers;

    // Target and version.
    assert_eq!(parts.uri, upstream_uri);
    assert_eq!(parts.version, Version::HTTP_11);
    assert_eq!(parts.method, head.method);

    // No CR / LF / NUL anywhere.
    for (name, value) in out {
        for b in name
            .as_str()
            .bytes()
            .chain(value.as_bytes().iter().copied())
        {
            assert!(
                !matches!(b, b'\r' | b'\n' | 0),
                "control byte in {name}: {value:?}"
            );
        }
    }

    // Hop-by-hop.
    let upgrading = head.version == Version::HTTP_11
        && tokens(&input, "connection")
            .iter()
            .any(|t| t.eq_ignore_ascii_case(b"upgrade"))
        && input.contains_key("upgrade")
        && !tokens(&input, "upgrade")
            .iter()
            .any(|t| t.eq_ignore_ascii_case(b"h2c"));
    for name in ALWAYS_HOP.iter().chain(["http2-settings"].iter()) {
        assert!(!out.contains_key(*name), "hop-by-hop {name} forwarded");
    }
    if upgrading {
        assert_eq!(one(out, "connection"), Text(b"upgrade"));
        assert_eq!(
            all(out, "upgrade"),
            all(&input, "upgrade"),
            "Upgrade changed"
        );
    } else {
        assert!(!out.contains_key("connection"), "Connection forwarded");
        assert!(
            !out.contains_key("upgrade"),
            "Upgrade forwarded without upgrading"
        );
    }
    let te = all(out, "te");
    let input_te = all(&input, "te");
    if !te.is_empty() {
        assert_eq!(te, vec![Text(b"trailers")], "TE other than trailers");
        assert!(
            input_te.len() == 1 && trim_ows(input_te[0].0).eq_ignore_ascii_case(b"trailers"),
            "TE: trailers invented"
        );
    }
    let nominated: Vec<HeaderName> = tokens(&input, "connection")
        .into_iter()
        .filter_map(|t| HeaderName::from_bytes(t).ok())
        .collect();
    for name in &nominated {
        let exempt = GATEWAY_SET.contains(&name.as_str())
            || (upgrading && (name == "upgrade" || name == "connection"));
        assert!(
            exempt || !out.contains_key(name),
            "{name} named in Connection but forwarded"
        );
    }

    // End-to-end fields pass through untouched; nothing appears from nowhere.
    let managed = |n: &HeaderName| {
        GATEWAY_SET.contains(&n.as_str())
            || ALWAYS_HOP.contains(&n.as_str())
            || matches!(n.as_str(), "connection" | "upgrade" | "http2-settings")
    };
    for name in input.keys() {
        if managed(name) || nominated.contains(name) {
            continue;
        }
        assert_eq!(
            all(out, name.as_str()),
            all(&input, name.as_str()),
            "{name} changed"
        );
    }
    for name in out.keys() {
        assert!(
            input.contains_key(name) || managed(name),
            "{name} appeared from nowhere"
        );
    }

    // Host, and the forwarding headers.
    let original_host: Option<Vec<u8>> = match all(&input, "host").first() {
        Some(h) => Some(h.0.to_vec()),
        None => head.uri.authority().map(|a| a.as_str().as_bytes().to_vec()),
    };
    let host = one(out, "host");
    match (&original_host, route.preserve_host) {
        (Some(orig), true) => assert_eq!(host, Text(orig), "preserved Host"),
        _ => assert_eq!(
            host,
            Text(route.upstream.authority.as_str().as_bytes()),
            "Host"
        ),
    }
    match &original_host {
        Some(orig) => assert_eq!(one(out, "x-forwarded-host"), Text(orig)),
        None => assert!(!out.contains_key("x-forwarded-host")),
    }
    let mut xff = join(&input, "x-forwarded-for");
    xff.extend_from_slice(peer.ip().to_canonical().to_string().as_bytes());
    assert_eq!(one(out, "x-forwarded-for"), Text(&xff), "X-Forwarded-For");
    let proto: &[u8] = if tls { b"https" } else { b"http" };
    assert_eq!(one(out, "x-forwarded-proto"), Text(proto));
    let mut via = join(&input, "via");
    let hop = if head.version == Version::HTTP_10 {
        "1.0"
    } else {
        "1.1"
    };
    via.extend_from_slice(format!("{hop} {VIA}").as_bytes());
    assert_eq!(one(out, "via"), Text(&via), "Via");

    // Framing.
    let input_te_present = input.contains_key("transfer-encoding");
    let cl = all(out, "content-length");
    assert!(cl.len() <= 1, "several Content-Length: {cl:?}");
    if let Some(&Text(value)) = cl.first() {
        assert!(
            !input_te_present,
            "Content-Length kept next to the client's Transfer-Encoding"
        );
        assert!(!out.contains_key("transfer-encoding"));
        assert!(
            value == b"0" || (value.first() != Some(&b'0') && digits(value).is_some()),
            "non-canonical Content-Length {:?}",
            Text(value)
        );
        let first_in = all(&input, "content-length")[0].0;
        assert_eq!(
            digits(value),
            digits(first_in),
            "Content-Length value changed"
        );
    } else if !input_te_present {
        assert!(
            !input.contains_key("content-length"),
            "Content-Length dropped without a Transfer-Encoding"
        );
    }

    // Serialise as HTTP/1.1 and re-parse strictly: the same head comes back.
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut wire = Vec::with_capacity(256);
    wire.extend_from_slice(parts.method.as_str().as_bytes());
    wire.push(b' ');
    wire.extend_from_slice(target.as_bytes());
    wire.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in out {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    let mut slots = vec![httparse::EMPTY_HEADER; out.len() + 1];
    let mut again = httparse::Request::new(&mut slots);
    match again.parse(&wire) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, wire.len(), "bytes left after the head"),
        other => panic!(
            "forwarded head does not re-parse: {other:?}\n{}",
            String::from_utf8_lossy(&wire)
        ),
    }
    assert_eq!(again.method, Some(parts.method.as_str()));
    assert_eq!(again.path, Some(target));
    assert_eq!(again.version, Some(1));
    assert_eq!(again.headers.len(), out.len(), "field count after re-parse");
    for (h, (name, value)) in again.headers.iter().zip(out.iter()) {
        assert!(
            h.name.eq_ignore_ascii_case(name.as_str()),
            "name {} vs {name}",
            h.name
        );
        assert_eq!(h.value, value.as_bytes(), "value of {name} after re-parse");
    }
}

/// No path `classify` lets through (reject or unescape) reaches a lenient upstream outside
/// the route it was routed to.
fn check_escapes(uri: &Uri) {
    let fx = fixture();
    let path = uri.path();
    for mode in [EscapedSlashes::Reject, EscapedSlashes::Unescape] {
        let Ok(routed) = classify(path, mode) else {
            if mode == EscapedSlashes::Reject {
                // Refused only for a reason: a backslash, or an escaped slash touching a dot.
                let lower = path.to_ascii_lowercase();
                assert!(
                    path.contains('\\') || lower.contains("%2f") || lower.contains("%5c"),
                    "{path:?} refused without an escape"
                );
            }
            continue;
        };
        if mode == EscapedSlashes::Reject {
            assert_eq!(routed, path, "reject mode changed the path");
        }
        let mut pq = routed.into_owned();
        if let Some(q) = uri.query() {
            pq.push('?');
            pq.push_str(q);
        }
        let Ok(m) = fx.router.route(&pq) else {
            continue;
        };
        let route = m.route;
        let mut floor = route.upstream.base_path.clone();
        if !route.strip_prefix && route.prefix != "/" {
            floor.push_str(&route.prefix);
        }
        let sent = m.upstream_uri.path();
        let seen = lenient_resolve(sent);
        let floor = if floor.is_empty() { "/" } else { floor.as_str() };
        assert!(
            is_under(&seen, floor),
            "{mode:?}: {path:?} routed to {} as {sent:?}, which a lenient upstream reads as \
             {seen:?}, outside {floor:?}",
            route.prefix
        );
    }
}

/// The gateway's list join: existing elements, then `", "` before ours.
fn join(map: &HeaderMap, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for v in map.get_all(name) {
        let v = trim_ows(v.as_bytes());
        if !v.is_empty() {
            out.extend_from_slice(v);
            out.extend_from_slice(b", ");
        }
    }
    out
}

/// A refusal must have a reason in the input. With hyper's framing checks already passed,
/// only Host problems remain.
fn check_refusal(head: &Head, input: &HeaderMap, e: &RewriteError, hyper_mode: bool) {
    let hosts = all(input, "host");
    match e {
        RewriteError::MultipleHosts => assert!(hosts.len() > 1),
        RewriteError::MissingHost => {
            assert!(hosts.is_empty());
            assert!(head.version == Version::HTTP_11 || head.version == Version::HTTP_2);
        }
        RewriteError::HostMismatch => {
            let authority = head.uri.authority().expect("mismatch needs an authority");
            assert_eq!(hosts.len(), 1);
            assert!(!hosts[0]
                .0
                .eq_ignore_ascii_case(authority.as_str().as_bytes()));
        }
        RewriteError::BadHeader("host") => {
            assert!(!hosts.is_empty() || head.uri.authority().is_some());
        }
        RewriteError::BadHeader("content-length") => {
            assert!(!hyper_mode, "hyper already accepted this Content-Length");
            let values = all(input, "content-length");
            let first = values.first().and_then(|v| digits(v.0));
            assert!(
                first.is_none() || values.iter().any(|v| digits(v.0) != first),
                "valid Content-Length refused: {values:?}"
            );
        }
        other => panic!("unexpected refusal {other:?}"),
    }
    // Host values that are plainly fine must never be refused.
    if hosts.len() == 1 && head.uri.authority().is_none() && plain_host(hosts[0].0) {
        assert!(
            !matches!(e, RewriteError::BadHeader("host")),
            "plain Host {:?} refused",
            hosts[0]
        );
    }
}

/// `name[:port]` with a DNS-ish name and a 1–65535 port: always a valid Host.
fn plain_host(h: &[u8]) -> bool {
    let (name, port) = match h.iter().position(|b| *b == b':') {
        Some(i) => (&h[..i], Some(&h[i + 1..])),
        None => (h, None),
    };
    let name_ok = !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.');
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len()) && digits(p).is_some_and(|n| (1..=65535).contains(&n))
    });
    name_ok && port_ok
}

// ---------------------------------------------------------------------------------------
// Reference router: written from the routing rules (longest prefix on a segment boundary;
// dot-segments, also as %2e, resolved per RFC 3986 §5.2.4; `..` may not climb above `/` nor
// out of the route finally chosen; strip_prefix; base path + path + query), independently
// of route.rs.

fn is_dot(seg: &str) -> usize {
    let lowered = seg.to_ascii_lowercase().replace("%2e", ".");
    match lowered.as_str() {
        "." => 1,
        ".." => 2,
        _ => 0,
    }
}

/// `(index of the route in router.routes(), upstream path-and-query)` or `None` (refused).
fn reference_route(pq: &str) -> Option<(usize, String)> {
    let routes = fixture().router.routes();
    let (path, query) = match pq.find('?') {
        Some(i) => (&pq[..i], Some(&pq[i + 1..])),
        None => (pq, None),
    };
    if !path.starts_with('/') || pq.contains('#') {
        return None;
    }
    let has_dots = path.split('/').any(|s| is_dot(s) > 0);
    let mut lowest = usize::MAX;
    let resolved = if has_dots {
        let mut stack: Vec<&str> = Vec::new();
        let segs: Vec<&str> = path[1..].split('/').collect();
        let mut ends_in_dot = false;
        for seg in &segs {
            ends_in_dot = is_dot(seg) > 0;
            match is_dot(seg) {
                0 => stack.push(seg),
                1 => {}
                _ => {
                    stack.pop()?;
                    lowest = lowest.min(stack.len());
                }
            }
        }
        let mut s: String = stack.iter().map(|seg| format!("/{seg}")).collect();
        if ends_in_dot || s.is_empty() {
            s.push('/');
        }
        s
    } else {
        path.to_owned()
    };
    // Longest prefix on a segment boundary; `/` matches everything.
    let (index, route) = routes
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.prefix == "/"
                || resolved == r.prefix
                || resolved.starts_with(&format!("{}/", r.prefix))
        })
        .max_by_key(|(_, r)| if r.prefix == "/" { 0 } else { r.prefix.len() })?;
    let depth = if route.prefix == "/" {
        0
    } else {
        route.prefix.matches('/').count()
    };
    if lowest != usize::MAX && lowest < depth {
        return None;
    }
    let rest = if route.strip_prefix && route.prefix != "/" {
        &resolved[route.prefix.len()..]
    } else {
        resolved.as_str()
    };
    let mut out = route.upstream.base_path.clone();
    out.push_str(if rest.is_empty() { "/" } else { rest });
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    // Whatever `http` refuses as a path is a refusal of the gateway too.
    http::uri::PathAndQuery::try_from(out.as_str()).ok()?;
    Some((index, out))
}

/// The upstream target never leaves the route: scheme and authority are the route's, the path
/// sits under base path + prefix (unless stripped) on a segment boundary, holds no
/// dot-segment, and the query is the client's.
fn check_upstream_uri(route: &Route, uri: &Uri, pq: &str) {
    assert_eq!(uri.scheme(), Some(&route.upstream.scheme()));
    assert_eq!(uri.authority(), Some(&route.upstream.authority));
    let path = uri.path();
    let mut floor = route.upstream.base_path.clone();
    if !route.strip_prefix && route.prefix != "/" {
        floor.push_str(&route.prefix);
    }
    assert!(
        path.starts_with(&floor) && matches!(path.as_bytes().get(floor.len()), None | Some(b'/')),
        "upstream path {path:?} is outside {floor:?} (request {pq:?})"
    );
    assert!(
        !path.split('/').any(|s| is_dot(s) > 0),
        "dot-segment forwarded: {path:?}"
    );
    let query_in = pq.split_once('?').map(|(_, q)| q);
    assert_eq!(uri.query(), query_in, "query changed");
}
