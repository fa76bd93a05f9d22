//! What response headers say about the connection's future: `Connection: close`, and the
//! `Keep-Alive: timeout=N` hint a server gives before it closes an idle connection.

use std::time::Duration;

use http::header::{HeaderMap, HeaderName, CONNECTION};

/// Not among `http`'s constants; a `&str` name would be parsed on every response.
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// The response asks for the connection to be closed.
pub(crate) fn connection_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("close"))
}

/// The `timeout` parameter of a `Keep-Alive` header, if any (`Keep-Alive: timeout=5, max=100`).
pub(crate) fn keep_alive_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(&KEEP_ALIVE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("timeout")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
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
