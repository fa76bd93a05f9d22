use super::*;

#[test]
fn methods_and_allow() {
    let get_post = [Method::GET, Method::POST];
    let cases: &[(Option<&[Method]>, Method, bool)] = &[
        (None, Method::DELETE, true),
        (Some(&get_post), Method::GET, true),
        (Some(&get_post), Method::HEAD, true),
        (Some(&get_post), Method::PUT, false),
        (Some(&[Method::POST]), Method::HEAD, false),
    ];
    for (list, m, want) in cases {
        assert_eq!(allowed(*list, m), *want, "{list:?} {m}");
    }
    assert_eq!(allow_header(&get_post), "GET, POST, HEAD");
    assert_eq!(allow_header(&[Method::POST]), "POST");
    assert_eq!(
        decide(Some(&get_post), None, &Method::PUT, "/", None),
        Some(Fixed::MethodNotAllowed("GET, POST, HEAD".into()))
    );
    assert_eq!(decide(Some(&get_post), None, &Method::GET, "/", None), None);
}

#[test]
fn respond_and_redirect() {
    let deny = Action::Respond {
        status: StatusCode::FORBIDDEN,
        body: Bytes::from_static(b"no"),
    };
    assert_eq!(
        decide(None, Some(&deny), &Method::GET, "/a", None),
        Some(Fixed::Respond(
            StatusCode::FORBIDDEN,
            Bytes::from_static(b"no")
        ))
    );
    let https = Action::Redirect {
        to: "https://example.com{path}?{query}".into(),
        status: StatusCode::PERMANENT_REDIRECT,
    };
    for (path, query, want) in [
        ("/a/b", Some("x=1"), "https://example.com/a/b?x=1"),
        ("/a/b", None, "https://example.com/a/b"),
        ("/", Some(""), "https://example.com/"),
    ] {
        assert_eq!(
            decide(None, Some(&https), &Method::POST, path, query),
            Some(Fixed::Redirect(StatusCode::PERMANENT_REDIRECT, want.into()))
        );
    }
}

#[test]
fn redirect_templates() {
    assert_eq!(check_redirect("https://x{path}?{query}"), Ok(()));
    assert_eq!(check_redirect("/new"), Ok(()));
    assert!(check_redirect("https://x/{uri}").is_err());
    assert!(check_redirect("https://x/\r\nset-cookie: a").is_err());
    assert!(check_redirect("").is_err());
}

/// The open-redirect guard: a relative Location never starts with `//` or a backslash, and
/// a template cannot let the client pick the host.
#[test]
fn redirects_stay_on_the_configured_host() {
    for (to, path, query, want) in [
        ("{path}", "//evil.example/x", None, "/evil.example/x"),
        ("{path}", "/\\evil.example", None, "/evil.example"),
        ("{path}", "///\\/evil.example", Some("a=1"), "/evil.example"),
        ("/{path}", "/a", None, "/a"),
        ("/{path}", "//evil", None, "/evil"),
        ("{path}?{query}", "//evil", Some("q"), "/evil?q"),
        ("{path}", "/fine//double", None, "/fine//double"),
        (
            "https://example.com{path}",
            "//evil",
            None,
            "https://example.com//evil",
        ),
        ("new{path}", "//x", None, "new//x"),
    ] {
        assert_eq!(location(to, path, query), want, "{to} with {path}");
    }
    for (to, ok) in [
        ("{path}", true),
        ("/{path}", true),
        ("https://example.com{path}?{query}", true),
        ("https://example.com/?{query}", true),
        ("https://example.com?{query}", true),
        ("{query}", false),
        ("//evil.example{path}", false),
        ("\\\\evil.example", false),
        ("/\\evil.example", false),
        ("https://{path}", false),
        ("https://example.com{query}", false),
    ] {
        assert_eq!(
            check_redirect(to).is_ok(),
            ok,
            "{to}: {:?}",
            check_redirect(to)
        );
    }
}
