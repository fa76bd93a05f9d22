use std::time::{Duration, UNIX_EPOCH};

use super::*;

/// 2026-11-29T04:22:07.123Z
fn at() -> Duration {
    Duration::from_millis(1_795_926_127_123)
}

fn record<'a>() -> AccessRecord<'a> {
    AccessRecord {
        time: at(),
        client: Some("192.0.2.7:51234".parse().expect("addr")),
        method: "GET",
        host: Some("api.example"),
        path: "/users/42?x=1",
        protocol: "HTTP/1.1",
        status: 200,
        bytes_in: 0,
        bytes_out: 1234,
        duration: Duration::from_micros(12_345),
        upstream: Some("127.0.0.1:3000"),
        upstream_time: Some(Duration::from_micros(10_001)),
        attempts: 1,
        reused: true,
        outcome: "ok",
        fault: None,
        request_id: "0af7651916cd43dd8448eb211c80319c",
        request_id_plain: false,
        user_agent: Some("curl/8.5.0"),
        referer: None,
    }
}

fn line(format: AccessFormat, r: &AccessRecord<'_>) -> String {
    let mut out = Vec::new();
    render(format, r, &mut out);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn json_has_every_key_in_order() {
    let text = line(AccessFormat::Json, &record());
    assert_eq!(
        text,
        "{\"time\":\"2026-11-29T04:22:07.123Z\",\"client\":\"192.0.2.7:51234\",\"method\":\"GET\",\
         \"host\":\"api.example\",\"path\":\"/users/42?x=1\",\"protocol\":\"HTTP/1.1\",\
         \"status\":200,\"bytes_in\":0,\"bytes_out\":1234,\"duration_ms\":12.345,\
         \"upstream\":\"127.0.0.1:3000\",\"upstream_ms\":10.001,\"attempts\":1,\"reused\":true,\
         \"outcome\":\"ok\",\"fault\":null,\"request_id\":\"0af7651916cd43dd8448eb211c80319c\",\
         \"user_agent\":\"curl/8.5.0\"}\n"
    );
}

#[test]
fn text_and_combined() {
    assert_eq!(
        line(AccessFormat::Text, &record()),
        "time=2026-11-29T04:22:07.123Z client=192.0.2.7:51234 method=GET host=api.example \
         path=\"/users/42?x=1\" protocol=HTTP/1.1 status=200 bytes_in=0 bytes_out=1234 \
         duration_ms=12.345 upstream=127.0.0.1:3000 upstream_ms=10.001 attempts=1 reused=true \
         outcome=ok fault=- request_id=0af7651916cd43dd8448eb211c80319c user_agent=curl/8.5.0\n"
    );
    assert_eq!(
        line(AccessFormat::Combined, &record()),
        "192.0.2.7 - - [29/Nov/2026:04:22:07 +0000] \"GET /users/42?x=1 HTTP/1.1\" 200 1234 \
         \"-\" \"curl/8.5.0\" \"0af7651916cd43dd8448eb211c80319c\" 12.345\n"
    );
}

/// Hostile values: every format stays one line, and JSON stays valid JSON with the value
/// intact.
#[test]
fn hostile_values_are_escaped() {
    let hostile = [
        "a\"b",
        "back\\slash",
        "new\nline",
        "cr\rlf",
        "tab\t",
        "nul\0",
        "esc\x1b[31m",
        "del\x7f",
        "é ünïcode",
        "key=value other=x",
        "",
        "}\n{\"status\":500",
    ];
    for value in hostile {
        let mut r = record();
        r.user_agent = Some(value);
        r.path = value;
        r.host = Some(value);
        r.fault = Some(value);
        for format in [
            AccessFormat::Json,
            AccessFormat::Text,
            AccessFormat::Combined,
        ] {
            let text = line(format, &r);
            assert_eq!(
                text.matches('\n').count(),
                1,
                "{format:?} {value:?}: {text:?}"
            );
            assert!(text.ends_with('\n'));
            assert!(
                !text.bytes().any(|b| b < 0x20 && b != b'\n' || b == 0x7f),
                "{format:?} {value:?}: control byte in {text:?}"
            );
        }
        let json: serde_json::Value =
            serde_json::from_str(&line(AccessFormat::Json, &r)).expect("valid JSON");
        assert_eq!(json["user_agent"], value, "{value:?}");
        assert_eq!(json["path"], value);
        // logfmt: a value with a space, `=` or quote is quoted, so the pair count is stable.
        let text = line(AccessFormat::Text, &r);
        if value.contains([' ', '=', '"']) || value.is_empty() {
            assert!(text.contains("user_agent=\""), "{text}");
        }
        // combined: quotes inside a quoted field are \x22, never a bare `"`.
        let combined = line(AccessFormat::Combined, &r);
        assert_eq!(combined.matches('"').count(), 8, "{combined}");
    }
}

#[test]
fn absent_values() {
    let mut r = record();
    r.client = None;
    r.host = None;
    r.upstream = None;
    r.upstream_time = None;
    r.user_agent = None;
    r.attempts = 0;
    r.reused = false;
    r.fault = Some("no_route");
    r.status = 404;
    let json: serde_json::Value =
        serde_json::from_str(&line(AccessFormat::Json, &r)).expect("json");
    for key in ["client", "host", "upstream", "upstream_ms", "user_agent"] {
        assert!(json[key].is_null(), "{key}");
    }
    assert_eq!(json["fault"], "no_route");
    assert_eq!(json["status"], 404);
    assert_eq!(json.as_object().map(|o| o.len()), Some(18));
    let text = line(AccessFormat::Text, &r);
    assert!(text.contains(" client=- method=GET host=- "), "{text}");
    assert!(line(AccessFormat::Combined, &r).starts_with("- - - ["));
}

#[test]
fn client_addresses() {
    let cases = [
        ("192.0.2.7:51234", "192.0.2.7:51234", "192.0.2.7 "),
        ("0.0.0.0:0", "0.0.0.0:0", "0.0.0.0 "),
        (
            "255.255.255.255:65535",
            "255.255.255.255:65535",
            "255.255.255.255 ",
        ),
        ("[::1]:8080", "[::1]:8080", "::1 "),
        ("[2001:db8::7]:443", "[2001:db8::7]:443", "2001:db8::7 "),
    ];
    for (addr, json, combined) in cases {
        let mut r = record();
        r.client = Some(addr.parse().expect("addr"));
        let value: serde_json::Value =
            serde_json::from_str(&line(AccessFormat::Json, &r)).expect("json");
        assert_eq!(value["client"], json);
        assert!(line(AccessFormat::Combined, &r).starts_with(combined));
    }
}

#[test]
fn time_formatting_across_dates() {
    let cases = [
        (0, "1970-01-01T00:00:00.000Z", "01/Jan/1970:00:00:00 +0000"),
        (
            951_782_400_999,
            "2000-02-29T00:00:00.999Z",
            "29/Feb/2000:00:00:00 +0000",
        ),
        (
            1_795_926_127_123,
            "2026-11-29T04:22:07.123Z",
            "29/Nov/2026:04:22:07 +0000",
        ),
        (
            4_102_444_799_001,
            "2099-12-31T23:59:59.001Z",
            "31/Dec/2099:23:59:59 +0000",
        ),
    ];
    for (ms, rfc, clf) in cases {
        let t = UNIX_EPOCH + Duration::from_millis(ms);
        let mut out = Vec::new();
        rfc3339_ms(t, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), rfc);
        let mut out = Vec::new();
        clf_time(Duration::from_millis(ms), &mut out);
        assert_eq!(String::from_utf8_lossy(&out), clf);
    }
}

#[test]
fn durations_and_numbers() {
    let cases = [
        (Duration::ZERO, "0.000"),
        (Duration::from_nanos(999), "0.000"),
        (Duration::from_micros(1), "0.001"),
        (Duration::from_millis(1500), "1500.000"),
        (Duration::from_micros(7_654_321), "7654.321"),
    ];
    for (d, want) in cases {
        let mut out = Vec::new();
        push_ms(d, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
    for n in [
        0,
        7,
        9,
        10,
        99,
        100,
        101,
        999,
        1000,
        1234,
        9999,
        10_000,
        12_345,
        65535,
        99_999,
        100_000,
        123_456_789,
        u64::MAX,
    ] {
        let mut out = Vec::new();
        push_u64(n, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), n.to_string());
    }
}

/// A rough per-line cost, printed (not asserted): `cargo test -p gangway --release --lib
/// observe::access::tests::render_cost -- --nocapture --ignored`.
#[test]
#[ignore]
fn render_cost() {
    let r = record();
    for format in [
        AccessFormat::Json,
        AccessFormat::Text,
        AccessFormat::Combined,
    ] {
        let mut out = Vec::with_capacity(512);
        let n = 1_000_000u32;
        let start = std::time::Instant::now();
        for _ in 0..n {
            out.clear();
            render(format, std::hint::black_box(&r), &mut out);
            std::hint::black_box(&out);
        }
        println!("{format:?}: {:?} per line", start.elapsed() / n);
    }
}

/// The per-byte definition the word-wide scan must match.
fn special(b: u8) -> bool {
    b <= b' ' || b == b'"' || b == b'=' || b == b'\\' || b >= 0x7f
}

fn first_special_of(s: &[u8]) -> Option<usize> {
    scan::first_special(s, special)
}

/// The bytes a JSON string escapes.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

#[test]
fn scan_finds_every_byte_at_every_word_position() {
    for len in [1, 7, 8, 9, 15, 16, 17, 24, 31, 33] {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut s = vec![b'a'; len];
                s[at] = b;
                let want = special(b).then_some(at);
                assert_eq!(first_special_of(&s), want, "len {len} byte {b:#x} at {at}");
                let want = escaped(b).then_some(at);
                let found = scan::first_escape(&s, escaped);
                assert_eq!(found, want, "json: len {len} byte {b:#x} at {at}");
            }
        }
    }
}

#[test]
fn scan_reports_the_first_of_several_hits() {
    // A borrow can flag bytes above a hit in the same word: the lowest one must win. A
    // small deterministic generator over an alphabet rich in hits and near misses.
    let alphabet = [
        0u8, 1, b' ', b'!', b'"', b'#', b'<', b'=', b'>', b'[', b'\\', b']', 0x7e, 0x7f, 0x80,
        0xc3, 0xff, b'a', b'z', b'0',
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        let s: Vec<u8> = (0..len)
            .map(|i| {
                let pick = (seed >> (i % 60)) as usize;
                // Mostly plain bytes, so hits land anywhere in the value.
                if pick % 5 == 0 {
                    alphabet[pick / 5 % alphabet.len()]
                } else {
                    b'a' + (pick % 26) as u8
                }
            })
            .collect();
        let want = s.iter().position(|&b| special(b));
        assert_eq!(first_special_of(&s), want, "{s:?}");
        let want = s.iter().position(|&b| escaped(b));
        assert_eq!(scan::first_escape(&s, escaped), want, "json: {s:?}");
    }
}

#[test]
fn scan_plain_values() {
    for s in [
        &b""[..],
        b"a",
        b"127.0.0.1:3000",
        b"0af7651916cd43dd8448eb211c80319c",
        b"!#$%&'()*+,-./09:;<>?@AZ[]^_`az{|}~",
    ] {
        assert_eq!(first_special_of(s), None, "{s:?}");
    }
}

fn logfmt(value: &[u8]) -> String {
    let mut out = Vec::new();
    logfmt_value(Some(value), &mut out);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn logfmt_values_with_high_bytes() {
    let cases: [(&[u8], &str); 10] = [
        (b"plain", "plain"),
        (b"", "\"\""),
        ("naïve".as_bytes(), "naïve"),
        ("é ünïcode".as_bytes(), "\"é ünïcode\""),
        (
            "long-ascii-prefix-then-é".as_bytes(),
            "long-ascii-prefix-then-é",
        ),
        ("a=é".as_bytes(), "\"a=é\""),
        (b"\xff\xfe", "-"),
        (b"Mozilla/5.0 \xc3", "-"),
        (b"ascii prefix then \x80", "-"),
        (b"tab\there", "\"tab\\there\""),
    ];
    for (value, want) in cases {
        assert_eq!(logfmt(value), want, "{value:?}");
    }
}

/// Header bytes that are not UTF-8 are logged as absent in every format, as the `str`
/// record with that value missing would be.
#[test]
fn invalid_utf8_header_values_are_absent() {
    let r = record();
    let bytes = AccessRecord::<[u8]> {
        host: Some(b"bad\xffhost"),
        request_id: r.request_id.as_bytes(),
        request_id_plain: r.request_id_plain,
        user_agent: Some(b"\xc3("),
        referer: None,
        time: r.time,
        client: r.client,
        method: r.method,
        path: r.path,
        protocol: r.protocol,
        status: r.status,
        bytes_in: r.bytes_in,
        bytes_out: r.bytes_out,
        duration: r.duration,
        upstream: r.upstream,
        upstream_time: r.upstream_time,
        attempts: r.attempts,
        reused: r.reused,
        outcome: r.outcome,
        fault: r.fault,
    };
    let mut absent = r;
    absent.host = None;
    absent.user_agent = None;
    for format in [
        AccessFormat::Json,
        AccessFormat::Text,
        AccessFormat::Combined,
    ] {
        let mut out = Vec::new();
        render(format, &bytes, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            line(format, &absent),
            "{format:?}"
        );
    }
}

/// An id the gateway made is written without a scan: the line is the same as the scanned one.
#[test]
fn a_plain_request_id_renders_as_a_scanned_one() {
    let scanned = record();
    let mut plain = scanned;
    plain.request_id_plain = true;
    for format in [
        AccessFormat::Json,
        AccessFormat::Text,
        AccessFormat::Combined,
    ] {
        assert_eq!(line(format, &plain), line(format, &scanned), "{format:?}");
    }
}

/// The per-thread table of client texts is indexed by port: addresses sharing a slot
/// (ports 64 apart, or the same port on another IP) never show each other's text.
#[test]
fn client_texts_sharing_a_slot_stay_apart() {
    let addrs = [
        "10.0.0.1:1000",
        "10.0.0.1:1064",
        "10.0.0.2:1000",
        "10.0.0.1:1000",
        "192.168.100.200:1128",
        "1.2.3.4:0",
        "1.2.3.4:64",
    ];
    for _ in 0..2 {
        for addr in addrs {
            let mut r = record();
            r.client = Some(addr.parse().expect("addr"));
            let text = line(AccessFormat::Text, &r);
            assert!(text.contains(&format!(" client={addr} ")), "{text}");
        }
    }
}
