use http::HeaderValue;

use super::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn fresh() -> FreshIds {
    FreshIds {
        trace_id: [0x11; 16],
        span_id: [0x22; 8],
    }
}

#[test]
fn parse_table() {
    let valid = format!("00-{TRACE}-{PARENT}-01");
    let cases: Vec<(String, Option<u8>)> = vec![
        (valid.clone(), Some(1)),
        (format!("00-{TRACE}-{PARENT}-00"), Some(0)),
        // Unknown flag bits are carried, not refused.
        (format!("00-{TRACE}-{PARENT}-09"), Some(9)),
        // A later version: its first four fields, then `-` or the end.
        (format!("01-{TRACE}-{PARENT}-01"), Some(1)),
        (
            format!("cc-{TRACE}-{PARENT}-01-what-the-future-holds"),
            Some(1),
        ),
        (format!("cc-{TRACE}-{PARENT}-01x"), None),
        // Version 00 has exactly four fields.
        (format!("00-{TRACE}-{PARENT}-01-extra"), None),
        (format!("ff-{TRACE}-{PARENT}-01"), None),
        (format!("00-{}-{PARENT}-01", "0".repeat(32)), None),
        (format!("00-{TRACE}-{}-01", "0".repeat(16)), None),
        (format!("00-{}-{PARENT}-01", TRACE.to_uppercase()), None),
        (format!("00-{TRACE}-{PARENT}-0g"), None),
        (format!("00_{TRACE}-{PARENT}-01"), None),
        (format!("00-{TRACE}-{PARENT}"), None),
        (format!(" 00-{TRACE}-{PARENT}-01"), None),
        (String::new(), None),
        ("00-é".to_owned() + &"a".repeat(60), None),
    ];
    for (text, flags) in cases {
        let parsed = parse_traceparent(text.as_bytes());
        assert_eq!(parsed.map(|p| p.flags), flags, "{text:?}");
        if let Some(p) = parsed {
            let mut hex = [0u8; 32];
            hex_into(&p.trace_id, &mut hex);
            assert_eq!(&hex, TRACE.as_bytes());
            let mut hex = [0u8; 16];
            hex_into(&p.parent_id, &mut hex);
            assert_eq!(&hex, PARENT.as_bytes());
        }
    }
}

#[test]
fn continue_a_valid_trace() {
    let tp = format!("00-{TRACE}-{PARENT}-01");
    let state = HeaderValue::from_static("congo=t61rcWkgMzE");
    let ctx = decide(Some(tp.as_bytes()), Some(&state), 0.0, fresh());
    assert_eq!(ctx.span_id, [0x22; 8]);
    assert!(ctx.parent_id.is_some());
    // Parent-based: the client sampled it, so do we, whatever the ratio.
    assert!(ctx.sampled);
    assert_eq!(ctx.tracestate.as_ref(), Some(&state));
    let upstream = ctx.traceparent_for(&[0x33; 8]);
    assert_eq!(upstream, format!("00-{TRACE}-3333333333333333-01").as_str());

    let unsampled = format!("00-{TRACE}-{PARENT}-00");
    let ctx = decide(Some(unsampled.as_bytes()), None, 1.0, fresh());
    assert!(!ctx.sampled);
    assert!(ctx
        .traceparent_for(&ctx.span_id)
        .to_str()
        .is_ok_and(|s| s.ends_with("-00")));
}

#[test]
fn start_a_trace_when_absent_or_invalid() {
    let state = HeaderValue::from_static("congo=t61rcWkgMzE");
    for incoming in [None, Some(&b"garbage"[..])] {
        let ctx = decide(incoming, Some(&state), 1.0, fresh());
        assert_eq!(ctx.trace_id, [0x11; 16]);
        assert_eq!(ctx.parent_id, None);
        assert!(ctx.sampled);
        assert_eq!(ctx.tracestate, None);
        let ctx = decide(incoming, None, 0.0, fresh());
        assert!(!ctx.sampled);
    }
}

#[test]
fn ratio_sampling_table() {
    let mut low = [0u8; 16];
    let mut high = [0u8; 16];
    high[8] = 0xff;
    let mut mid = [0u8; 16];
    mid[8] = 0x7f;
    let cases = [
        (low, 0.0, false),
        (low, 0.01, true),
        (high, 0.99, false),
        (high, 1.0, true),
        (mid, 0.5, true),
        (high, 0.5, false),
        (mid, f64::NAN, false),
        (mid, -1.0, false),
    ];
    for (id, ratio, want) in cases {
        assert_eq!(ratio_sampled(&id, ratio), want, "{id:?} {ratio}");
    }
    low[15] = 1;
    assert!(ratio_sampled(&low, 0.001));
}

#[test]
fn ratio_is_roughly_honoured() {
    let n = 20_000;
    let sampled = (0..n)
        .filter(|_| decide(None, None, 0.1, FreshIds::random()).sampled)
        .count();
    // 10% of 20 000 is 2 000; the standard deviation is ~42.
    assert!((1_700..2_300).contains(&sampled), "{sampled}");
}

#[test]
fn fresh_ids_are_never_zero() {
    for _ in 0..1_000 {
        let ids = FreshIds::random();
        assert_ne!(ids.trace_id, [0; 16]);
        assert_ne!(ids.span_id, [0; 8]);
    }
}
