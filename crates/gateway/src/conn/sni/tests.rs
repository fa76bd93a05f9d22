use super::*;

fn names() -> Names {
    Names {
        certs: vec![
            vec!["a.example".into(), "www.a.example".into()],
            vec!["b.example".into(), "*.b.example".into()],
            vec!["*.example".into()],
        ],
    }
}

#[test]
fn serving_prefers_exact_names_then_wildcards() {
    let n = names();
    let cases: &[(&str, Option<usize>)] = &[
        ("a.example", Some(0)),
        ("www.a.example", Some(0)),
        ("b.example", Some(1)),
        ("x.b.example", Some(1)),
        ("x.y.b.example", None),
        ("c.example", Some(2)),
        ("example", None),
        ("other.test", None),
        ("127.0.0.1", None),
    ];
    for (name, want) in cases {
        assert_eq!(n.serving(name), *want, "{name}");
    }
}

#[test]
fn chosen_falls_back_to_the_first_certificate() {
    let n = names();
    let cases: &[(Option<&str>, usize)] = &[
        (None, 0),
        (Some("B.Example."), 1),
        (Some("unknown.test"), 0),
        (Some("c.example"), 2),
    ];
    for (sni, want) in cases {
        assert_eq!(n.chosen(*sni), *want, "{sni:?}");
    }
}

#[test]
fn misdirected_only_when_another_certificate_covers_the_host() {
    let n = names();
    let cases: &[(usize, &str, bool)] = &[
        (0, "a.example", false),
        (0, "b.example", true),
        (1, "a.example", true),
        (1, "x.b.example", false),
        // Covered by certificate 0 (exact) and 2 (wildcard): 2 still covers it.
        (2, "a.example", false),
        (0, "c.example", true),
        // Nobody names these: served as before.
        (0, "127.0.0.1", false),
        (1, "other.test", false),
        // An out-of-range index covers nothing.
        (9, "a.example", true),
    ];
    for (used, host, want) in cases {
        assert_eq!(n.misdirected(*used, host), *want, "{used} {host}");
    }
}

#[test]
fn wildcards_cover_one_whole_label() {
    let cases: &[(&str, &str, bool)] = &[
        ("*.example", "a.example", true),
        ("*.example", "example", false),
        ("*.example", ".example", false),
        ("*.example", "a.b.example", false),
        ("a.example", "a.example", false),
        ("*.example", "a.examples", false),
    ];
    for (pattern, name, want) in cases {
        assert_eq!(wildcard_covers(pattern, name), *want, "{pattern} {name}");
    }
}

#[test]
fn load_names_the_missing_file() {
    let files = [TlsFiles {
        cert: "/nonexistent/c.pem".into(),
        key: "/nonexistent/k.pem".into(),
    }];
    let err = CertSet::load(&files).expect_err("missing file");
    assert!(err.contains("/nonexistent/c.pem"), "{err}");
    assert!(CertSet::load(&[]).is_err());
}
