use std::time::Duration;

use super::*;
use crate::observe::access::render;

fn full<'a>() -> AccessRecord<'a, [u8]> {
    AccessRecord {
        time: Duration::new(1_795_926_127, 123_456_789),
        client: Some("192.0.2.7:51234".parse().expect("addr")),
        method: "GET",
        host: Some(b"api.example"),
        path: "/users/42?x=1",
        protocol: "HTTP/1.1",
        status: 200,
        bytes_in: 17,
        bytes_out: 1234,
        duration: Duration::from_micros(12_345),
        upstream: Some("127.0.0.1:3000"),
        upstream_time: Some(Duration::from_micros(10_001)),
        attempts: 2,
        reused: true,
        outcome: "ok",
        fault: Some("upstream"),
        request_id: b"0af7651916cd43dd8448eb211c80319c",
        request_id_plain: true,
        user_agent: Some(b"curl/8.5.0 \xff"),
        referer: Some(b"https://a.example/"),
    }
}

fn sparse<'a>() -> AccessRecord<'a, [u8]> {
    AccessRecord {
        time: Duration::ZERO,
        client: Some("[2001:db8::1]:443".parse().expect("addr")),
        method: "PURGE",
        host: None,
        path: "",
        protocol: "HTTP/2.0",
        status: 431,
        bytes_in: u64::MAX,
        bytes_out: 0,
        duration: Duration::ZERO,
        upstream: None,
        upstream_time: None,
        attempts: 0,
        reused: false,
        outcome: "refused",
        fault: None,
        request_id: b"",
        request_id_plain: false,
        user_agent: None,
        referer: None,
    }
}

fn line(format: AccessFormat, r: &AccessRecord<'_, [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    render(format, r, &mut out);
    out
}

#[test]
fn a_decoded_record_renders_the_same_line() {
    let no_client = AccessRecord {
        client: None,
        ..sparse()
    };
    for record in [full(), sparse(), no_client] {
        for format in [
            AccessFormat::Json,
            AccessFormat::Text,
            AccessFormat::Combined,
        ] {
            let mut bytes = Vec::new();
            encode(format, &record, &mut bytes);
            let (f, decoded) = decode(&bytes).expect("decodes");
            assert_eq!(f, format);
            assert_eq!(line(format, &decoded), line(format, &record), "{record:?}");
            assert_eq!(decoded.client, record.client);
            assert_eq!(decoded.upstream_time, record.upstream_time);
            assert_eq!(decoded.referer, record.referer);
        }
    }
}

#[test]
fn anything_but_one_whole_record_is_refused() {
    let mut bytes = Vec::new();
    encode(AccessFormat::Text, &full(), &mut bytes);
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_none(),
            "a record cut at {len} bytes"
        );
    }
    bytes.push(0);
    assert!(decode(&bytes).is_none(), "a trailing byte");
    let mut bad_format = Vec::new();
    encode(AccessFormat::Json, &sparse(), &mut bad_format);
    bad_format[0] = 9;
    assert!(decode(&bad_format).is_none(), "an unknown format");
}
