use super::*;

fn route(prefix: &str, url: &str) -> Route {
    Route::new(prefix, url).expect("valid route")
}

fn stripped(prefix: &str, url: &str) -> Route {
    Route {
        strip_prefix: true,
        ..route(prefix, url)
    }
}

fn router(routes: Vec<Route>) -> Router {
    Router::new(routes).expect("valid router")
}

/// `Ok((route name, upstream uri))` or the error.
type Expected<'a> = Result<(&'a str, &'a str), RouteError>;

fn check(router: &Router, cases: &[(&str, Expected<'_>)]) {
    for (input, want) in cases {
        let got = router
            .route(input)
            .map(|m| (m.route.name.clone(), m.upstream_uri.to_string()));
        let want = want
            .clone()
            .map(|(name, uri)| (name.to_owned(), uri.to_owned()));
        assert_eq!(got, want, "input {input:?}");
        // The request-target variant must agree byte for byte, whether it reuses the
        // inbound target or builds a new one.
        if let Ok(pq) = PathAndQuery::try_from(*input) {
            let via_pq = router
                .route_pq(&pq)
                .map(|m| (m.route.name.clone(), m.upstream_uri.to_string()));
            assert_eq!(via_pq, got, "route_pq, input {input:?}");
        }
    }
}

fn users_profiles() -> Router {
    router(vec![
        route("/users", "http://127.0.0.1:3000"),
        route("/profiles", "http://127.0.0.1:4000"),
    ])
}

#[test]
fn users_profiles_example() {
    let r = users_profiles();
    check(
        &r,
        &[
            (
                "/users/42?x=1",
                Ok(("/users", "http://127.0.0.1:3000/users/42?x=1")),
            ),
            ("/users", Ok(("/users", "http://127.0.0.1:3000/users"))),
            ("/users/", Ok(("/users", "http://127.0.0.1:3000/users/"))),
            ("/users?x", Ok(("/users", "http://127.0.0.1:3000/users?x"))),
            ("/users?", Ok(("/users", "http://127.0.0.1:3000/users?"))),
            (
                "/profiles/7",
                Ok(("/profiles", "http://127.0.0.1:4000/profiles/7")),
            ),
            ("/usersx", Err(RouteError::NotFound)),
            ("/Users/1", Err(RouteError::NotFound)),
            ("/", Err(RouteError::NotFound)),
            ("//users/1", Err(RouteError::NotFound)),
            ("/users;x/1", Err(RouteError::NotFound)),
            ("/api%2f..%2fusers", Err(RouteError::NotFound)),
        ],
    );
}

#[test]
fn longest_prefix_wins_on_segment_boundaries() {
    let r = router(vec![
        route("/", "http://root:1"),
        route("/api", "http://api:1"),
        route("/api/v2", "http://v2:1"),
        route("/api/v2x", "http://v2x:1"),
    ]);
    check(
        &r,
        &[
            ("/api/v2/a", Ok(("/api/v2", "http://v2:1/api/v2/a"))),
            ("/api/v2", Ok(("/api/v2", "http://v2:1/api/v2"))),
            ("/api/v2x/a", Ok(("/api/v2x", "http://v2x:1/api/v2x/a"))),
            ("/api/v3", Ok(("/api", "http://api:1/api/v3"))),
            ("/api/v", Ok(("/api", "http://api:1/api/v"))),
            ("/apix", Ok(("/", "http://root:1/apix"))),
            ("/", Ok(("/", "http://root:1/"))),
            ("//x", Ok(("/", "http://root:1//x"))),
        ],
    );
}

#[test]
fn strip_prefix_and_base_paths() {
    let r = router(vec![
        stripped("/users/", "http://u:3000"),
        stripped("/v1", "https://api.example.com/v1/"),
        route("/keep", "https://api.example.com/base"),
        stripped("/", "http://root:80/r"),
    ]);
    check(
        &r,
        &[
            ("/users/42?x=1", Ok(("/users", "http://u:3000/42?x=1"))),
            ("/users", Ok(("/users", "http://u:3000/"))),
            ("/users/", Ok(("/users", "http://u:3000/"))),
            ("/users?q", Ok(("/users", "http://u:3000/?q"))),
            ("/v1/a/b", Ok(("/v1", "https://api.example.com:443/v1/a/b"))),
            ("/v1", Ok(("/v1", "https://api.example.com:443/v1/"))),
            (
                "/keep/x",
                Ok(("/keep", "https://api.example.com:443/base/keep/x")),
            ),
            ("/other", Ok(("/", "http://root:80/r/other"))),
        ],
    );
}

#[test]
fn dot_segments_resolve_then_match_within_the_route() {
    let r = router(vec![
        route("/users", "http://u:1"),
        route("/profiles", "http://p:1"),
        route("/a/b", "http://ab:1"),
    ]);
    check(
        &r,
        &[
            ("/users/x/../42", Ok(("/users", "http://u:1/users/42"))),
            ("/users/./42/.", Ok(("/users", "http://u:1/users/42/"))),
            ("/users/x/..", Ok(("/users", "http://u:1/users/"))),
            (
                "/users/x/%2e%2e/1?q=..",
                Ok(("/users", "http://u:1/users/1?q=..")),
            ),
            ("/users/x/%2E./1", Ok(("/users", "http://u:1/users/1"))),
            ("/users/%2e/1", Ok(("/users", "http://u:1/users/1"))),
            ("/./users", Ok(("/users", "http://u:1/users"))),
            ("/a/b/c/../d", Ok(("/a/b", "http://ab:1/a/b/d"))),
            // Walking from one route into another is refused, not re-routed.
            ("/users/../profiles/1", Err(RouteError::BadPath)),
            ("/users/%2e%2e/profiles/1", Err(RouteError::BadPath)),
            ("/a/x/../b/1", Err(RouteError::BadPath)),
            ("/a/b/../b/1", Err(RouteError::BadPath)),
            // Above the root.
            ("/users/../../etc/passwd", Err(RouteError::BadPath)),
            ("/..", Err(RouteError::BadPath)),
            ("/%2e%2e/users", Err(RouteError::BadPath)),
            // Not dot-segments: forwarded as they are.
            ("/users/...", Ok(("/users", "http://u:1/users/..."))),
            ("/users/.x/..y", Ok(("/users", "http://u:1/users/.x/..y"))),
            (
                "/users/%252e%252e/x",
                Ok(("/users", "http://u:1/users/%252e%252e/x")),
            ),
        ],
    );
}

#[test]
fn catch_all_allows_dots_down_to_root_only() {
    let r = router(vec![route("/", "http://root:1")]);
    check(
        &r,
        &[
            ("/a/../b", Ok(("/", "http://root:1/b"))),
            ("/a/..", Ok(("/", "http://root:1/"))),
            ("/a/../..", Err(RouteError::BadPath)),
        ],
    );
}

#[test]
fn odd_bytes_are_forwarded_exactly() {
    let r = users_profiles();
    check(
        &r,
        &[
            (
                "/users/a%2Fb;c=d?q=%20+x",
                Ok(("/users", "http://127.0.0.1:3000/users/a%2Fb;c=d?q=%20+x")),
            ),
            (
                "/users//x//",
                Ok(("/users", "http://127.0.0.1:3000/users//x//")),
            ),
            (
                "/users/%7E~!$&'()*+,=:@",
                Ok(("/users", "http://127.0.0.1:3000/users/%7E~!$&'()*+,=:@")),
            ),
            (
                "/users/a?x=1?y=/../",
                Ok(("/users", "http://127.0.0.1:3000/users/a?x=1?y=/../")),
            ),
        ],
    );
}

#[test]
fn malformed_targets_are_bad_paths() {
    let r = router(vec![route("/", "http://root:1")]);
    for input in [
        "*",
        "",
        "users",
        "?x",
        "http://evil/x",
        "/a b",
        "/a\u{0}",
        "/.#..x",
        "/a?b#c",
    ] {
        assert_eq!(
            r.route(input).map(|_| ()),
            Err(RouteError::BadPath),
            "input {input:?}"
        );
    }
}

#[test]
fn upstream_parsing() {
    let ok = |url: &str, https: bool, auth: &str, base: &str| {
        let u = Upstream::parse(url).expect(url);
        assert_eq!(
            (u.https, u.authority.as_str(), u.base_path.as_str()),
            (https, auth, base),
            "{url}"
        );
    };
    ok("http://127.0.0.1:3000", false, "127.0.0.1:3000", "");
    ok("http://127.0.0.1:3000/", false, "127.0.0.1:3000", "");
    ok(
        "https://API.example.com/v1/",
        true,
        "api.example.com:443",
        "/v1",
    );
    ok("HTTP://h", false, "h:80", "");
    ok("http://[::1]:8080/x", false, "[::1]:8080", "/x");
    ok("http://[::1]", false, "[::1]:80", "");
    for (url, reason) in [
        ("ftp://x", "scheme \"ftp\" is not http or https"),
        ("//x/y", "missing scheme (http:// or https://)"),
        ("http://u:p@h/", "userinfo (user@) is not allowed"),
        ("http://h/?q", "a query (?) is not allowed"),
        ("http://h/#f", "a fragment (#) is not allowed"),
        ("http://h:99999", "port out of range"),
        ("http://h:8x", "invalid port"),
        ("http://h:0", "port 0 is not a valid upstream port"),
        ("http://:80", "missing host"),
        (
            "http://h/a/../b",
            "dot-segments are not allowed in the path",
        ),
    ] {
        match Upstream::parse(url) {
            Err(RouteError::InvalidUpstream { reason: got, .. }) => {
                assert_eq!(got, reason, "{url}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(Upstream::parse("").is_err());
    assert!(Upstream::parse("http://").is_err());
}

#[test]
fn prefixes_and_duplicates() {
    assert_eq!(route("/users/", "http://h").prefix, "/users");
    assert_eq!(route("/", "http://h").prefix, "/");
    assert_eq!(route("/users/", "http://h").name, "/users");
    for bad in ["users", "", "/a?b", "/a#b", "/a/../b", "/a b", "/./x"] {
        assert!(
            matches!(
                Route::new(bad, "http://h"),
                Err(RouteError::InvalidPrefix { .. })
            ),
            "{bad:?}"
        );
    }
    let dup = Router::new(vec![route("/a", "http://h"), route("/a/", "http://g")]);
    assert_eq!(
        dup.map(|_| ()),
        Err(RouteError::DuplicatePrefix("/a".into()))
    );
    assert_eq!(RouteError::NotFound.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(RouteError::BadPath.status(), http::StatusCode::BAD_REQUEST);
}

fn hosted(host: &str, prefix: &str, url: &str) -> Route {
    Route {
        host: Some(host.to_owned()),
        ..route(prefix, url)
    }
}

#[test]
fn host_then_longest_prefix() {
    let r = router(vec![
        hosted("a.example", "/users", "http://a:1"),
        hosted("B.Example.", "/users", "http://b:1"),
        hosted("*.example", "/", "http://wild:1"),
        hosted("*.x.example", "/", "http://wildx:1"),
        route("/users/*", "http://c:1"),
        route("/", "http://root:1"),
    ]);
    let cases: &[(Option<&str>, &str, Result<&str, RouteError>)] = &[
        (Some("a.example"), "/users/1", Ok("http://a:1/users/1")),
        (Some("A.EXAMPLE:2000"), "/users/1", Ok("http://a:1/users/1")),
        (Some("a.example."), "/users", Ok("http://a:1/users")),
        (Some("b.example"), "/users/1", Ok("http://b:1/users/1")),
        // a.example has no `/other`: the wildcard's `/` is next in line.
        (Some("a.example"), "/other", Ok("http://wild:1/other")),
        (Some("z.example"), "/users/1", Ok("http://wild:1/users/1")),
        (
            Some("q.x.example"),
            "/users/1",
            Ok("http://wildx:1/users/1"),
        ),
        (Some("deep.q.x.example"), "/", Ok("http://wildx:1/")),
        // A wildcard needs a label in front of the suffix.
        (Some("example"), "/users/1", Ok("http://c:1/users/1")),
        (Some("other.test"), "/users/1", Ok("http://c:1/users/1")),
        (Some("other.test"), "/x", Ok("http://root:1/x")),
        (None, "/users/1", Ok("http://c:1/users/1")),
        (Some("[::1]:80"), "/users/1", Ok("http://c:1/users/1")),
        (Some(""), "/users/1", Ok("http://c:1/users/1")),
    ];
    for (host, path, want) in cases {
        let got = r
            .route_host(*host, path)
            .map(|m| m.upstream_uri.to_string());
        assert_eq!(got, want.clone().map(str::to_owned), "{host:?} {path}");
        let pq = PathAndQuery::try_from(*path).expect("pq");
        let via_pq = r
            .route_host_pq(*host, &pq)
            .map(|m| m.upstream_uri.to_string());
        assert_eq!(via_pq, got, "pq {host:?} {path}");
    }
}

#[test]
fn same_prefix_on_two_hosts_is_fine_twice_on_one_is_not() {
    assert!(Router::new(vec![
        hosted("a.example", "/u", "http://a:1"),
        hosted("b.example", "/u", "http://b:1"),
        route("/u", "http://c:1"),
    ])
    .is_ok());
    assert_eq!(
        Router::new(vec![
            hosted("a.example", "/u", "http://a:1"),
            hosted("A.example", "/u/", "http://b:1"),
        ])
        .map(|_| ())
        .map_err(|e| e.to_string()),
        Err("duplicate route prefix \"a.example/u\"".to_owned())
    );
}

#[test]
fn star_prefix_and_host_patterns() {
    for (prefix, want) in [("/users/*", "/users"), ("/*", "/"), ("/users/", "/users")] {
        assert_eq!(route(prefix, "http://x:1").prefix, want, "{prefix}");
    }
    for bad in ["/users*", "/a/*/b", "/*/x", "/users/**"] {
        let err = Route::new(bad, "http://x:1")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            err.as_ref()
                .is_err_and(|e| e.contains("a * is only supported at the end")),
            "{bad}: {err:?}"
        );
    }
    for (pattern, want) in [
        ("API.Example.com.", Ok("api.example.com")),
        ("*.Example.com", Ok("*.example.com")),
        ("a.*.com", Err(())),
        ("*", Err(())),
        ("a.example:80", Err(())),
        ("a..b", Err(())),
        ("", Err(())),
    ] {
        let got = host::normalize_pattern(pattern).map_err(|_| ());
        assert_eq!(got.as_deref().map_err(|_| ()), want, "{pattern}");
    }
}

/// `cargo test -p gangway --release --lib route::tests::lookup_cost -- --ignored --nocapture`
/// prints the cost of one lookup among 1 000 hosts × routes (figure in BENCHMARKS.md).
#[test]
#[ignore = "benchmark; run by hand in release mode"]
fn lookup_cost_with_1000_hosts_and_routes() {
    let mut routes = Vec::new();
    for i in 0..500 {
        routes.push(hosted(
            &format!("h{i}.example"),
            &format!("/p{i}"),
            "http://u:1",
        ));
        routes.push(hosted(
            &format!("*.w{i}.example"),
            &format!("/q{i}"),
            "http://u:1",
        ));
    }
    for i in 0..1000 {
        routes.push(route(&format!("/r{i}/x"), "http://u:1"));
    }
    let r = router(routes);
    let probes: Vec<(String, PathAndQuery)> = (0..1000)
        .map(|i| match i % 3 {
            0 => (
                format!("H{}.example:8080", i % 500),
                format!("/p{}/a?b", i % 500),
            ),
            1 => (
                format!("a.b.w{}.example", i % 500),
                format!("/q{}/a", i % 500),
            ),
            _ => (format!("other{i}.test"), format!("/r{i}/x/y")),
        })
        .map(|(h, p)| (h, PathAndQuery::try_from(p).expect("pq")))
        .collect();
    let rounds = 200;
    let start = std::time::Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for (h, pq) in &probes {
            found += usize::from(r.route_host_pq(Some(h), pq).is_ok());
        }
    }
    let per = start.elapsed().as_nanos() / (rounds * probes.len()) as u128;
    assert_eq!(found, rounds * probes.len());
    println!("route lookup, 2000 routes (500 hosts, 500 wildcards, 1000 paths): {per} ns/lookup");
}

#[test]
fn rewrite_prefix_replaces_the_matched_prefix() {
    let rw = |prefix: &str, to: &str| Route {
        rewrite_prefix: Some(to.to_owned()),
        name: format!("{prefix}->{to}"),
        ..route(prefix, "http://u:1")
    };
    let r = router(vec![rw("/users", "/v2"), rw("/old", "/"), rw("/", "/root")]);
    for (input, want) in [
        ("/users/42?x=%20", "http://u:1/v2/42?x=%20"),
        ("/users", "http://u:1/v2"),
        ("/users/", "http://u:1/v2/"),
        ("/users/a/../b", "http://u:1/v2/b"),
        ("/old/a", "http://u:1/a"),
        ("/old", "http://u:1/"),
        ("/x", "http://u:1/root/x"),
    ] {
        let got = r.route(input).map(|m| m.upstream_uri.to_string());
        assert_eq!(got.as_deref(), Ok(want), "{input}");
    }
}
