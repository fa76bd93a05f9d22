use super::*;

type Opt = Option<&'static str>;
type Pairs = &'static [(&'static str, &'static str)];
/// (policy, request headers, expected origin or error)
type OriginCase<'a> = (&'a CorsPolicy, HeaderMap, Result<Opt, OriginError>);
/// (name, policy, request, status, allow-origin, allow-headers, allow-credentials)
type PreflightCase = (&'static str, CorsPolicy, HeaderMap, u16, Opt, Opt, Opt);
/// (name, policy, origin, allow-origin, allow-credentials, set-cookie kept)
type ResponseCase = (&'static str, CorsPolicy, Opt, Opt, Opt, bool);

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("test header value")
}

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        let name = HeaderName::from_bytes(k.as_bytes()).expect("test header name");
        m.append(name, hv(v));
    }
    m
}

fn policy(origins: &[&str], credentials: bool) -> CorsPolicy {
    CorsPolicy {
        allow_origins: origins
            .iter()
            .map(|o| OriginPattern::parse(o).expect("test pattern"))
            .collect(),
        allow_credentials: credentials,
        ..CorsPolicy::default()
    }
}

fn get<'a>(m: &'a HeaderMap, name: &str) -> Option<&'a str> {
    m.get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn origin_patterns() {
    // (pattern, origin, allowed)
    let cases: &[(&str, &str, bool)] = &[
        ("https://app.example.com", "https://app.example.com", true),
        ("https://app.example.com", "https://APP.example.com", true),
        ("https://app.example.com", "HTTPS://app.example.com", true),
        (
            "https://app.example.com",
            "https://app.example.com:443",
            true,
        ),
        ("https://app.example.com", "http://app.example.com", false),
        (
            "https://app.example.com",
            "https://app.example.com:8443",
            false,
        ),
        (
            "https://app.example.com",
            "https://evil.app.example.com",
            false,
        ),
        (
            "https://app.example.com",
            "https://app.example.com.evil.net",
            false,
        ),
        ("https://app.example.com", "https://app.example.com/", false),
        ("https://app.example.com", "null", false),
        ("*.example.com", "https://a.example.com", true),
        ("*.example.com", "http://a.b.example.com", true),
        ("*.example.com", "https://example.com", false),
        ("*.example.com", "https://badexample.com", false),
        ("*.example.com", "https://a.example.com:8443", false),
        ("*.example.com", "ftp://a.example.com", false),
        ("https://*.example.com", "https://a.example.com", true),
        ("https://*.example.com", "http://a.example.com", false),
        (
            "https://*.example.com:8443",
            "https://a.example.com:8443",
            true,
        ),
        ("http://localhost:3000", "http://localhost:3000", true),
        ("http://localhost:3000", "http://localhost", false),
        ("http://[::1]:3000", "http://[0::1]:3000", true),
        ("app.example.com", "http://app.example.com", true),
        ("app.example.com", "https://app.example.com", true),
        (
            "chrome-extension://abcdef",
            "chrome-extension://abcdef",
            true,
        ),
        ("*", "https://anything.test", true),
        ("*", "null", true),
    ];
    for (pattern, origin, want) in cases {
        let p = policy(&[pattern], false);
        let got = p.check_origin(&map(&[("origin", origin)]));
        assert_eq!(
            got.is_ok(),
            *want,
            "pattern {pattern} origin {origin}: {got:?}"
        );
    }
    for bad in [
        "",
        "https://",
        "https://a b",
        "*.",
        "a.*.com",
        "https://h:0",
        "https://h/x",
        "1x://h",
        "https://h:65536",
        "https://h:000443",
        "https://h:1:2",
        "https://u@h",
        "https://[fe80::1%lo]",
        "https://[v1.x]",
        "https://[::1",
    ] {
        assert!(OriginPattern::parse(bad).is_err(), "pattern {bad:?}");
    }
}

#[test]
fn check_origin_results() {
    let any = policy(&[], false);
    let listed = policy(&["https://app.example.com"], false);
    let optional = CorsPolicy {
        require_header: false,
        ..CorsPolicy::default()
    };
    let any_creds = policy(&[], true);
    let cases: Vec<OriginCase> = vec![
        (
            &any,
            map(&[("origin", "https://x.test")]),
            Ok(Some("https://x.test")),
        ),
        (
            &any,
            map(&[("x-requested-with", "XMLHttpRequest")]),
            Ok(None),
        ),
        (&any, map(&[]), Err(OriginError::MissingRequiredHeader)),
        (&optional, map(&[]), Ok(None)),
        (&any, map(&[("origin", "null")]), Ok(Some("null"))),
        (
            &any_creds,
            map(&[("origin", "null")]),
            Err(OriginError::NotAllowed("null".into())),
        ),
        (
            &any_creds,
            map(&[("origin", "https://x.test")]),
            Ok(Some("https://x.test")),
        ),
        (
            &listed,
            map(&[("origin", "https://evil.test")]),
            Err(OriginError::NotAllowed("https://evil.test".into())),
        ),
        (
            &listed,
            map(&[
                ("origin", "https://app.example.com"),
                ("origin", "https://app.example.com"),
            ]),
            Err(OriginError::DuplicateOrigin),
        ),
        // X-Requested-With does not bypass the origin allowlist when an
        // Origin is present.
        (
            &listed,
            map(&[("origin", "https://evil.test"), ("x-requested-with", "x")]),
            Err(OriginError::NotAllowed("https://evil.test".into())),
        ),
    ];
    for (i, (p, headers, want)) in cases.into_iter().enumerate() {
        let got = p.check_origin(&headers);
        let got = match &got {
            Ok(o) => Ok(o.as_ref().and_then(|v| v.to_str().ok())),
            Err(e) => Err(e.clone()),
        };
        assert_eq!(got, want, "case {i}");
    }
    assert_eq!(
        OriginError::MissingRequiredHeader.to_string(),
        "Missing required request header. Must specify one of: origin,x-requested-with"
    );
    let weird = HeaderValue::from_bytes(b"https://a\xffb\tc").expect("obs-text");
    assert_eq!(sanitise(&weird), "https://a?b?c");
}

#[test]
fn preflight_detection() {
    let cases: &[(Method, Pairs, bool)] = &[
        (
            Method::OPTIONS,
            &[
                ("origin", "https://a.test"),
                ("access-control-request-method", "PUT"),
            ],
            true,
        ),
        (Method::OPTIONS, &[("origin", "https://a.test")], false),
        (
            Method::OPTIONS,
            &[("access-control-request-method", "PUT")],
            false,
        ),
        (
            Method::GET,
            &[
                ("origin", "https://a.test"),
                ("access-control-request-method", "PUT"),
            ],
            false,
        ),
    ];
    for (method, headers, want) in cases {
        assert_eq!(
            is_preflight(method, &map(headers)),
            *want,
            "{method} {headers:?}"
        );
    }
}

#[test]
fn preflight_answers() {
    let req = |origin: &str, method: &str, hdrs: &str| {
        map(&[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", hdrs),
        ])
    };
    // (policy, request, status, allow-origin, allow-headers, credentials)
    let restricted = CorsPolicy {
        allow_headers: Some(vec![HeaderName::from_static("x-api-key")]),
        ..policy(&["https://app.example.com"], false)
    };
    let creds_any = policy(&[], true);
    let cases: Vec<PreflightCase> = vec![
        (
            "any origin, no credentials: *",
            policy(&[], false),
            req("https://a.test", "PUT", "X-Foo, content-type,x-foo"),
            204,
            Some("*"),
            Some("x-foo, content-type"),
            None,
        ),
        (
            "credentials: origin echoed, never *",
            creds_any.clone(),
            req("https://a.test", "PUT", ""),
            204,
            Some("https://a.test"),
            None,
            Some("true"),
        ),
        (
            "listed origin with header allowlist",
            restricted.clone(),
            req("https://app.example.com", "DELETE", "x-api-key, x-other"),
            204,
            Some("https://app.example.com"),
            Some("x-api-key"),
            None,
        ),
        (
            "origin not allowed: 403",
            restricted.clone(),
            req("https://evil.test", "GET", ""),
            403,
            None,
            None,
            None,
        ),
        (
            "null origin with credentials: 403",
            creds_any,
            req("null", "GET", ""),
            403,
            None,
            None,
            None,
        ),
    ];
    for (name, p, headers, status, acao, acah, acac) in cases {
        let res = p.preflight_response(&headers);
        let h = res.headers();
        assert_eq!(res.status().as_u16(), status, "{name}");
        assert_eq!(get(h, "access-control-allow-origin"), acao, "{name}");
        assert_eq!(get(h, "access-control-allow-headers"), acah, "{name}");
        assert_eq!(get(h, "access-control-allow-credentials"), acac, "{name}");
        let vary: Vec<&str> = h
            .get_all(VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            vary,
            [
                "origin",
                "access-control-request-method",
                "access-control-request-headers"
            ],
            "{name}"
        );
        if status == 204 {
            assert_eq!(
                get(h, "access-control-allow-methods"),
                Some("GET, POST, PUT, PATCH, DELETE, HEAD"),
                "{name}"
            );
            assert_eq!(get(h, "access-control-max-age"), Some("600"), "{name}");
        } else {
            assert_eq!(get(h, "access-control-allow-methods"), None, "{name}");
        }
    }
}

#[test]
fn preflight_for_a_method_not_allowed_does_not_list_it() {
    let p = CorsPolicy {
        allow_methods: vec![Method::GET],
        ..CorsPolicy::default()
    };
    let res = p.preflight_response(&map(&[
        ("origin", "https://a.test"),
        ("access-control-request-method", "DELETE"),
    ]));
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(res.headers(), "access-control-allow-methods"),
        Some("GET")
    );
    assert!(!p.method_allowed(&Method::DELETE));
    assert!(p.method_allowed(&Method::GET));
}

#[test]
fn response_headers() {
    let upstream = || {
        map(&[
            ("content-type", "text/plain"),
            ("content-length", "2"),
            ("x-request-id", "7"),
            ("etag", "\"abc\""),
            ("set-cookie", "a=1"),
            (
                "access-control-allow-origin",
                "https://upstream-choice.test",
            ),
            ("access-control-allow-credentials", "true"),
            ("vary", "Accept-Encoding"),
        ])
    };
    // (name, policy, origin, acao, acac, set-cookie kept)
    let pass = CorsPolicy {
        pass_set_cookie: true,
        ..policy(&[], false)
    };
    let cases: Vec<ResponseCase> = vec![
        (
            "any origin: *",
            policy(&[], false),
            Some("https://a.test"),
            Some("*"),
            None,
            false,
        ),
        (
            "no Origin, any: *",
            policy(&[], false),
            None,
            Some("*"),
            None,
            false,
        ),
        (
            "credentials: echoed",
            policy(&[], true),
            Some("https://a.test"),
            Some("https://a.test"),
            Some("true"),
            false,
        ),
        (
            "credentials, no Origin: none",
            policy(&[], true),
            None,
            None,
            None,
            false,
        ),
        (
            "listed: echoed",
            policy(&["*.example.com"], false),
            Some("https://a.example.com"),
            Some("https://a.example.com"),
            None,
            false,
        ),
        (
            "listed, other origin: none",
            policy(&["*.example.com"], false),
            Some("https://evil.test"),
            None,
            None,
            false,
        ),
        (
            "pass_set_cookie",
            pass,
            Some("https://a.test"),
            Some("*"),
            None,
            true,
        ),
    ];
    for (name, p, origin, acao, acac, cookie) in cases {
        let mut h = upstream();
        let origin = origin.map(hv);
        p.add_response_headers(origin.as_ref(), &mut h);
        assert_eq!(get(&h, "access-control-allow-origin"), acao, "{name}");
        assert_eq!(get(&h, "access-control-allow-credentials"), acac, "{name}");
        assert_eq!(h.contains_key("set-cookie"), cookie, "{name}");
        let vary: Vec<&str> = h
            .get_all(VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(vary, ["Accept-Encoding", "origin"], "{name}");
        let expose = get(&h, "access-control-expose-headers");
        match acao {
            Some(_) => assert_eq!(expose, Some("etag, vary, x-request-id"), "{name}"),
            None => assert_eq!(expose, None, "{name}"),
        }
        assert!(
            !h.contains_key("access-control-allow-credentials") || p.allow_credentials,
            "{name}"
        );
    }
}

#[test]
fn credentials_never_produce_a_wildcard() {
    let origins: &[&[&str]] = &[&[], &["*"], &["*.example.com"], &["https://a.example.com"]];
    for allow in origins {
        let p = policy(allow, true);
        for origin in [
            None,
            Some("https://a.example.com"),
            Some("null"),
            Some("https://evil.test"),
        ] {
            let origin = origin.map(hv);
            let mut h = HeaderMap::new();
            p.add_response_headers(origin.as_ref(), &mut h);
            assert_ne!(
                get(&h, "access-control-allow-origin"),
                Some("*"),
                "{allow:?} {origin:?}"
            );
            let mut req = map(&[("access-control-request-method", "GET")]);
            if let Some(o) = &origin {
                req.insert(ORIGIN, o.clone());
            }
            let pre = p.preflight_response(&req);
            assert_ne!(
                get(pre.headers(), "access-control-allow-origin"),
                Some("*"),
                "{allow:?} {origin:?}"
            );
        }
    }
}

#[test]
fn vary_is_not_duplicated() {
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["origin"]),
        (&["Origin"], &["Origin"]),
        (&["accept-encoding, ORIGIN"], &["accept-encoding, ORIGIN"]),
        (&["*"], &["*"]),
        (&["accept"], &["accept", "origin"]),
    ];
    for (before, after) in cases {
        let mut h = HeaderMap::new();
        for v in *before {
            h.append(VARY, hv(v));
        }
        append_vary(&mut h, "origin");
        let got: Vec<&str> = h
            .get_all(VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(got, *after, "{before:?}");
    }
}

#[test]
fn request_credentials_are_stripped_unless_configured() {
    let client = || {
        map(&[
            ("cookie", "session=1"),
            ("authorization", "Bearer x"),
            ("origin", "https://a.test"),
            ("x-requested-with", "XMLHttpRequest"),
            ("accept", "*/*"),
        ])
    };
    // (forward_cookies, forward_authorization, cookie kept, auth kept)
    let cases = [
        (false, false, false, false),
        (true, false, true, false),
        (false, true, false, true),
    ];
    for (cookies, auth, keep_cookie, keep_auth) in cases {
        let p = CorsPolicy {
            forward_cookies: cookies,
            forward_authorization: auth,
            ..CorsPolicy::default()
        };
        let mut h = client();
        p.strip_request_headers(&mut h);
        assert_eq!(h.contains_key("cookie"), keep_cookie);
        assert_eq!(h.contains_key("authorization"), keep_auth);
        assert!(
            h.contains_key("origin")
                && h.contains_key("x-requested-with")
                && h.contains_key("accept")
        );
    }
}
