use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method};

use super::needs_chunked;

#[test]
fn chunked_only_for_unsized_get_and_head_bodies() {
    let none = HeaderMap::new();
    let mut cl = HeaderMap::new();
    cl.insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
    let mut te = HeaderMap::new();
    te.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    let table = [
        // (method, headers, end_stream, exact) → chunked?
        (Method::GET, &none, false, None, true),
        (Method::HEAD, &none, false, None, true),
        // No body, or a body of known length (hyper writes Content-Length).
        (Method::GET, &none, true, None, false),
        (Method::GET, &none, false, Some(5), false),
        // Framing already there.
        (Method::GET, &cl, false, None, false),
        (Method::GET, &te, false, None, false),
        // Other methods get chunked from hyper itself.
        (Method::POST, &none, false, None, false),
        (Method::OPTIONS, &none, false, None, false),
        (Method::DELETE, &none, false, None, false),
    ];
    for (method, headers, end, exact, want) in table {
        assert_eq!(
            needs_chunked(&method, headers, end, exact),
            want,
            "{method} {headers:?} end={end} exact={exact:?}"
        );
    }
}
