use super::*;
use crate::upstream::retry::Failure;

#[test]
fn retry_reasons_are_named() {
    let cases = [
        (Failure::Connect, "connect"),
        (Failure::Unwritten, "unwritten"),
        (Failure::StaleConnection, "stale_connection"),
        (Failure::RefusedStream, "refused_stream"),
        (Failure::Status(502), "status_502"),
        (Failure::Status(503), "status_503"),
        (Failure::Status(504), "status_504"),
        (Failure::Status(500), "status"),
        (Failure::Other, "other"),
    ];
    for (failure, want) in cases {
        assert_eq!(retry_reason(failure), want, "{failure:?}");
    }
}

/// A tracer with no exporter: what the request path does to headers, without threads.
fn tracer(sample_ratio: f64) -> Tracer {
    Tracer {
        exporter: None,
        sample_ratio,
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, http::HeaderValue::from_static(value));
    }
    map
}

/// The `traceparent` an attempt put into the upstream request's headers.
fn sent_traceparent(out: &HeaderMap) -> &str {
    out.get("traceparent")
        .expect("traceparent")
        .to_str()
        .expect("ascii")
}

const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_continued_trace_reaches_the_upstream_with_a_new_parent_per_attempt() {
    let tracer = tracer(0.0);
    let inbound = headers(&[("traceparent", INCOMING), ("tracestate", "k=v")]);
    let mut trace = RequestTrace::start(&tracer, &inbound);
    assert!(
        trace.context().sampled,
        "the client's sampled flag is followed"
    );
    let server = Authority::from_static("127.0.0.1:9");
    let mut parents = Vec::new();
    for _ in 0..2 {
        let mut out = inbound.clone();
        trace.begin_attempt(&tracer, "GET", &mut out, &server);
        let sent = sent_traceparent(&out);
        assert_eq!(&sent[..36], &INCOMING[..36], "same version and trace id");
        assert_ne!(&sent[36..52], &INCOMING[36..52], "a new parent id");
        assert!(sent.ends_with("-01"));
        assert_eq!(out.get("tracestate").expect("tracestate"), "k=v");
        parents.push(sent[36..52].to_owned());
    }
    assert_ne!(parents[0], parents[1], "each attempt is its own span");
    Box::new(trace).finish(&tracer, "GET", "api", 200, Duration::from_millis(1));
}

#[test]
fn without_a_valid_traceparent_a_trace_starts_and_tracestate_is_dropped() {
    let tracer = tracer(0.0);
    let inbound = headers(&[("traceparent", "00-zz-bad-01"), ("tracestate", "k=v")]);
    let mut trace = RequestTrace::start(&tracer, &inbound);
    assert!(!trace.context().sampled, "ratio 0 samples no new trace");
    let mut out = inbound.clone();
    trace.begin_attempt(&tracer, "GET", &mut out, &Authority::from_static("a:1"));
    let sent = sent_traceparent(&out);
    assert_eq!(sent.len(), 55);
    assert!(sent.ends_with("-00"), "unsampled: {sent}");
    assert!(out.get("tracestate").is_none());
    assert!(trace.spans.is_none(), "unsampled: no span state kept");
}

#[test]
fn a_tracestate_without_a_traceparent_is_dropped_too() {
    let tracer = tracer(0.0);
    let inbound = headers(&[("tracestate", "k=v")]);
    let mut trace = RequestTrace::start(&tracer, &inbound);
    let mut out = inbound.clone();
    trace.begin_attempt(&tracer, "GET", &mut out, &Authority::from_static("a:1"));
    assert!(out.get("traceparent").is_some());
    assert!(out.get("tracestate").is_none(), "no trace to belong to");
}

#[test]
fn trace_headers_finds_what_get_finds_walked_or_hashed() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let tp2 = "00-00000000000000000000000000000001-0000000000000001-00";
    let mut cases: Vec<Vec<(&'static str, &'static str)>> = vec![
        vec![],
        vec![("host", "a")],
        vec![("traceparent", tp)],
        vec![("host", "a"), ("tracestate", "k=v"), ("traceparent", tp)],
        // Repeated: the first of each, as `get` answers.
        vec![
            ("traceparent", tp),
            ("traceparent", tp2),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
        ],
    ];
    // Past the walk's limit: hashed lookups.
    let mut many = vec![("traceparent", tp), ("tracestate", "k=v")];
    for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
        many.push((name, "x"));
    }
    cases.push(many);
    for pairs in cases {
        let map = headers(&pairs);
        let (parent, state) = trace_headers(&map);
        assert_eq!(parent, map.get(&TRACEPARENT), "{pairs:?}");
        assert_eq!(state, map.get(&TRACESTATE), "{pairs:?}");
    }
}

#[test]
fn a_reused_box_carries_nothing_of_the_request_before() {
    let tracer = tracer(0.0);
    let server = Authority::from_static("127.0.0.1:9");
    // A continued, sampled trace with a tracestate ends and leaves its box on this thread.
    let first = headers(&[("traceparent", INCOMING), ("tracestate", "k=v")]);
    let mut trace = RequestTrace::start_boxed(&tracer, &first);
    trace.begin_attempt(&tracer, "GET", &mut first.clone(), &server);
    let first_box: *const RequestTrace = &*trace;
    trace.finish(&tracer, "GET", "api", 200, Duration::from_millis(1));
    // The next request on the thread has neither header.
    let mut trace = RequestTrace::start_boxed(&tracer, &HeaderMap::new());
    assert!(std::ptr::eq(first_box, &*trace), "the box is reused");
    let mut out = HeaderMap::new();
    trace.begin_attempt(&tracer, "GET", &mut out, &server);
    let sent = sent_traceparent(&out);
    assert_ne!(&sent[3..35], &INCOMING[3..35], "a trace of its own");
    assert!(sent.ends_with("-00"), "ratio 0: not sampled ({sent})");
    assert!(
        out.get("tracestate").is_none(),
        "no tracestate carried over"
    );
    assert!(trace.spans.is_none());
    trace.finish(&tracer, "GET", "", 200, Duration::from_millis(1));
}
