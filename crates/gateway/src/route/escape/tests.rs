use super::*;

use EscapedSlashes::{Keep, Reject, Unescape};
use PathRefusal::{AboveRoot, Backslash, EscapedDotSlash};

/// (path, reject, unescape): `Ok(path to route)` or the refusal. `keep` always routes the
/// path unchanged.
#[allow(clippy::type_complexity)]
const TABLE: &[(&str, Result<&str, PathRefusal>, Result<&str, PathRefusal>)] = &[
    // The examples.
    ("/users/..%2fadmin", Err(EscapedDotSlash), Ok("/admin")),
    ("/users/%2e%2e%2fadmin", Err(EscapedDotSlash), Ok("/admin")),
    ("/users/..%5cadmin", Err(EscapedDotSlash), Ok("/admin")),
    ("/users/..\\admin", Err(Backslash), Ok("/admin")),
    (
        "/api/..%2f..%2fadmin/keys",
        Err(EscapedDotSlash),
        Err(AboveRoot),
    ),
    // Case, and the dot on either side.
    ("/users/..%2Fadmin", Err(EscapedDotSlash), Ok("/admin")),
    ("/users/..%5Cadmin", Err(EscapedDotSlash), Ok("/admin")),
    ("/users/x%2f..", Err(EscapedDotSlash), Ok("/users/")),
    ("/users/x%2f%2E%2E/y", Err(EscapedDotSlash), Ok("/users/y")),
    ("/users/.%2fadmin", Err(EscapedDotSlash), Ok("/users/admin")),
    (
        "/a/b/..%2f..%2f..%2fetc",
        Err(EscapedDotSlash),
        Err(AboveRoot),
    ),
    // Escaped slashes away from dots are data (an id with a slash in it).
    ("/users/a%2fb", Ok("/users/a%2fb"), Ok("/users/a/b")),
    ("/users/a%5Cb", Ok("/users/a%5Cb"), Ok("/users/a/b")),
    (
        "/files/v1.2%2Fnotes",
        Ok("/files/v1.2%2Fnotes"),
        Ok("/files/v1.2/notes"),
    ),
    (
        "/files/v1.%2Fnotes",
        Err(EscapedDotSlash),
        Ok("/files/v1./notes"),
    ),
    (
        "/files/x%2f.hidden",
        Err(EscapedDotSlash),
        Ok("/files/x/.hidden"),
    ),
    // Ordinary paths are untouched by both.
    ("/", Ok("/"), Ok("/")),
    ("/users/42", Ok("/users/42"), Ok("/users/42")),
    (
        "/users/a.b/c..d",
        Ok("/users/a.b/c..d"),
        Ok("/users/a.b/c..d"),
    ),
    ("/users/%41%2e", Ok("/users/%41%2e"), Ok("/users/%41.")),
    // Plain dot segments are the router's job in reject mode; unescape resolves them.
    ("/users/../admin", Ok("/users/../admin"), Ok("/admin")),
    (
        "/users/%2e%2e/admin",
        Ok("/users/%2e%2e/admin"),
        Ok("/admin"),
    ),
    ("/..", Ok("/.."), Err(AboveRoot)),
    // Backslashes alone.
    ("/users\\admin", Err(Backslash), Ok("/users/admin")),
    ("/a\\..\\..\\b", Err(Backslash), Err(AboveRoot)),
    // Double encoding is not decoded: the upstream we model decodes once.
    (
        "/users/..%252fadmin",
        Ok("/users/..%252fadmin"),
        Ok("/users/..%252fadmin"),
    ),
    // A truncated escape is not an escape.
    ("/users/..%2", Ok("/users/..%2"), Ok("/users/..%2")),
];

#[test]
fn table() {
    for &(path, reject, unescape) in TABLE {
        assert_eq!(
            classify(path, Reject).as_deref().map_err(|e| *e),
            reject,
            "reject {path:?}"
        );
        assert_eq!(
            classify(path, Unescape).as_deref().map_err(|e| *e),
            unescape,
            "unescape {path:?}"
        );
        assert_eq!(classify(path, Keep).as_deref(), Ok(path), "keep {path:?}");
    }
}

#[test]
fn default_is_reject() {
    assert_eq!(EscapedSlashes::default(), Reject);
}

#[test]
fn unchanged_paths_are_borrowed() {
    assert!(matches!(
        classify("/users/42", Reject),
        Ok(Cow::Borrowed(_))
    ));
    assert!(matches!(
        classify("/users/42", Unescape),
        Ok(Cow::Borrowed(_))
    ));
}

/// What each example means to a lenient upstream: the escapes the issue reproduced.
#[test]
fn lenient_upstream_resolves_the_escapes() {
    for (path, resolved) in [
        ("/users/..%2fadmin", "/admin"),
        ("/users/%2e%2e%2fadmin", "/admin"),
        ("/users/..%5cadmin", "/admin"),
        ("/users/..\\admin", "/admin"),
        // `/api` → `/public` with strip_prefix: the upstream receives this.
        ("/public/..%2f..%2fadmin/keys", "/admin/keys"),
        ("/../../x", "/x"),
        ("/a/./b/", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("", "/"),
    ] {
        assert_eq!(lenient_resolve(path), resolved, "{path:?}");
    }
}

/// Whatever reject or unescape lets through, a lenient upstream keeps under the prefix the
/// path was routed on (the property the fuzz target checks at scale).
#[test]
fn accepted_paths_stay_under_their_prefix() {
    for &(path, _, _) in TABLE {
        for mode in [Reject, Unescape] {
            let Ok(routed) = classify(path, mode) else {
                continue;
            };
            // What the router does next: plain dot segments resolved, refusing a climb.
            let Some(routed) = resolve_dots(&routed.replace("%2e", "."), false) else {
                continue;
            };
            let prefix = routed
                .get(1..)
                .and_then(|r| r.split('/').next())
                .map_or("/".to_owned(), |s| format!("/{s}"));
            let lenient = lenient_resolve(&routed);
            assert!(
                is_under(&lenient, &prefix),
                "{mode:?} {path:?}: routed {routed:?} under {prefix:?}, upstream sees {lenient:?}"
            );
        }
    }
}

#[test]
fn prefix_containment() {
    assert!(is_under("/users", "/users"));
    assert!(is_under("/users/x", "/users"));
    assert!(is_under("/users/x", "/users/"));
    assert!(!is_under("/usersx", "/users"));
    assert!(!is_under("/admin", "/users"));
    assert!(is_under("/anything", "/"));
}

#[test]
fn refusals_have_text() {
    for r in [Backslash, EscapedDotSlash, AboveRoot] {
        assert!(!r.to_string().is_empty());
    }
}
