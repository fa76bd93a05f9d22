use std::time::{Duration, UNIX_EPOCH};

use crate::observe::access::rfc3339_ms;

#[test]
fn rfc3339_with_milliseconds() {
    let cases = [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
        (1_796_012_509, 123, "2026-11-30T04:21:49.123Z"),
        (4_107_542_399, 999, "2100-02-28T23:59:59.999Z"),
    ];
    for (secs, ms, want) in cases {
        let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms);
        let mut out = Vec::new();
        rfc3339_ms(t, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), want, "{secs}");
    }
}

#[test]
fn host_and_user_agent_match_header_map_get() {
    use http::header::{ACCEPT, HOST, USER_AGENT};
    use http::{HeaderMap, HeaderValue};

    use super::host_and_user_agent;

    let value = HeaderValue::from_static;
    let few = [(HOST, "a.example"), (ACCEPT, "*/*"), (USER_AGENT, "ua/1")];
    let repeated = [
        (HOST, "first"),
        (USER_AGENT, "u1"),
        (HOST, "second"),
        (USER_AGENT, "u2"),
    ];
    let neither = [(ACCEPT, "*/*")];
    let mut many: Vec<_> = (0..12).map(|_| (ACCEPT, "x")).collect();
    many.extend([(USER_AGENT, "late-ua"), (HOST, "late-host")]);
    for headers in [&few[..], &repeated[..], &neither[..], &many[..], &[]] {
        let mut map = HeaderMap::new();
        for (name, v) in headers {
            map.append(name.clone(), value(v));
        }
        let (host, user_agent) = host_and_user_agent(&map);
        assert_eq!(host, map.get(HOST), "{headers:?}");
        assert_eq!(user_agent, map.get(USER_AGENT), "{headers:?}");
    }
}
