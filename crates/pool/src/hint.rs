//! What response headers say about the connection's future: `Connection: close`, and the
//! `Keep-Alive: timeout=N` hint a server gives before it closes an idle connection.

use std::time::Duration;

use http::header::{HeaderMap, HeaderName, CONNECTION};

/// Not among `http`'s constants; a `&str` name would be parsed on every response.
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// The response asks for the connection to be closed.
pub(crate) fn connection_close(headers: &HeaderMap) -> bool {
    // Bytes, not `to_str`: run on every response, and a token is ASCII or not `close`.
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// The `timeout` parameter of a `Keep-Alive` header, if any (`Keep-Alive: timeout=5, max=100`).
pub(crate) fn keep_alive_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(&KEEP_ALIVE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|param| {
            let eq = param.iter().position(|&b| b == b'=')?;
            let (name, value) = (param.get(..eq)?, param.get(eq + 1..)?);
            if !name.trim_ascii().eq_ignore_ascii_case(b"timeout") {
                return None;
            }
            // Quotes trimmed off both ends, as many as there are (`timeout="3"`).
            let digits = value.trim_ascii();
            let start = digits.iter().position(|&b| b != b'"')?;
            let end = digits.iter().rposition(|&b| b != b'"')?;
            std::str::from_utf8(digits.get(start..=end)?)
                .ok()?
                .parse::<u64>()
                .ok()
        })
        .next()
        .map(Duration::from_secs)
}

/// How long to keep a connection idle given the server's hint: the hint minus a safety
/// margin, the margin capped at a quarter of the hint so short hints keep some use.
pub(crate) fn idle_life(hint: Duration, margin: Duration) -> Duration {
    hint.saturating_sub(margin.min(hint / 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn parses_keep_alive_timeout() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<u64>);
        let cases: &[Case] = &[
            (&[("keep-alive", "timeout=5, max=100")], Some(5)),
            (&[("Keep-Alive", "max=100, Timeout = 7")], Some(7)),
            (&[("keep-alive", "timeout=\"3\"")], Some(3)),
            (&[("keep-alive", "timeout=abc")], None),
            (&[("keep-alive", "max=5")], None),
            (&[("keep-alive", "timeout=\"\"")], None),
            (&[("keep-alive", "timeout=")], None),
            (&[("keep-alive", "timeout=\"4")], Some(4)),
            (&[("keep-alive", "max=1,,timeout=9")], Some(9)),
            (&[], None),
        ];
        for (h, want) in cases {
            assert_eq!(
                keep_alive_timeout(&headers(h)),
                want.map(Duration::from_secs),
                "{h:?}"
            );
        }
    }

    #[test]
    fn detects_connection_close() {
        assert!(connection_close(&headers(&[("connection", "Close")])));
        assert!(connection_close(&headers(&[(
            "connection",
            "keep-alive, close"
        )])));
        assert!(!connection_close(&headers(&[("connection", "keep-alive")])));
        assert!(!connection_close(&headers(&[("connection", "closed")])));
        assert!(connection_close(&headers(&[
            ("connection", "keep-alive"),
            ("connection", " close ")
        ])));
        let mut obs = HeaderMap::new();
        obs.insert(
            CONNECTION,
            http::HeaderValue::from_bytes(b"close, caf\xe9").expect("obs-text"),
        );
        assert!(
            connection_close(&obs),
            "a non-ASCII token does not hide close"
        );
        assert!(!connection_close(&headers(&[])));
    }

    #[test]
    fn margin_is_capped_at_a_quarter() {
        let m = Duration::from_secs(1);
        assert_eq!(
            idle_life(Duration::from_secs(1), m),
            Duration::from_millis(750)
        );
        assert_eq!(idle_life(Duration::from_secs(5), m), Duration::from_secs(4));
        assert_eq!(
            idle_life(Duration::from_secs(60), m),
            Duration::from_secs(59)
        );
        assert_eq!(idle_life(Duration::ZERO, m), Duration::ZERO);
    }
}
