use super::*;
use http::header::{HeaderName, HeaderValue};

use SpliceDecision::{BadGateway, NotSwitching, Splice};
use SpliceRefusal::{NoProtocol, NotRequested, OtherProtocol};

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(
            HeaderName::from_bytes(n.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    m
}

const WS: &[(&str, &str)] = &[("connection", "upgrade"), ("upgrade", "websocket")];

#[test]
fn table() {
    let switching = StatusCode::SWITCHING_PROTOCOLS;
    #[allow(clippy::type_complexity)]
    let cases: &[(
        &str,
        &[(&str, &str)],
        StatusCode,
        &[(&str, &str)],
        SpliceDecision,
    )] = &[
        (
            "websocket",
            WS,
            switching,
            &[("upgrade", "websocket")],
            Splice,
        ),
        (
            "case",
            &[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "WebSocket"),
            ],
            switching,
            &[("upgrade", "websocket")],
            Splice,
        ),
        (
            "one of several",
            &[("connection", "upgrade"), ("upgrade", "foo/2, websocket")],
            switching,
            &[("upgrade", "websocket")],
            Splice,
        ),
        ("200 is ordinary", WS, StatusCode::OK, &[], NotSwitching),
        (
            "no upgrade asked",
            &[],
            switching,
            &[("upgrade", "websocket")],
            BadGateway(NotRequested),
        ),
        (
            "Upgrade without Connection",
            &[("upgrade", "websocket")],
            switching,
            &[("upgrade", "websocket")],
            BadGateway(NotRequested),
        ),
        (
            "Connection without Upgrade",
            &[("connection", "upgrade")],
            switching,
            &[("upgrade", "websocket")],
            BadGateway(NotRequested),
        ),
        (
            "h2c only",
            &[
                ("connection", "upgrade, http2-settings"),
                ("upgrade", "h2c"),
            ],
            switching,
            &[("upgrade", "h2c")],
            BadGateway(NotRequested),
        ),
        (
            "h2c answered with h2c",
            &[("connection", "upgrade"), ("upgrade", "h2c, websocket")],
            switching,
            &[("upgrade", "h2c")],
            BadGateway(OtherProtocol),
        ),
        (
            "other protocol",
            WS,
            switching,
            &[("upgrade", "irc")],
            BadGateway(OtherProtocol),
        ),
        (
            "version differs",
            &[("connection", "upgrade"), ("upgrade", "foo/1")],
            switching,
            &[("upgrade", "foo/2")],
            BadGateway(OtherProtocol),
        ),
        (
            "101 without Upgrade",
            WS,
            switching,
            &[],
            BadGateway(NoProtocol),
        ),
        (
            "101 with empty Upgrade",
            WS,
            switching,
            &[("upgrade", " , ")],
            BadGateway(NoProtocol),
        ),
    ];
    for (name, req, status, resp, want) in cases {
        assert_eq!(decide(&map(req), *status, &map(resp)), *want, "{name}");
    }
}

#[test]
fn offered() {
    assert_eq!(offered_protocols(&map(WS)), ["websocket"]);
    assert!(offered_protocols(&map(&[("upgrade", "websocket")])).is_empty());
    assert_eq!(
        offered_protocols(&map(&[("connection", "Upgrade"), ("upgrade", "h2c, foo")])),
        ["foo"]
    );
}

#[test]
fn refusals_have_text() {
    for r in [NotRequested, NoProtocol, OtherProtocol] {
        assert!(!r.to_string().is_empty());
    }
}
