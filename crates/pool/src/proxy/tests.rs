use super::*;

#[test]
fn base64_rfc4648_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
        ("user:secret", "dXNlcjpzZWNyZXQ="),
    ];
    for (input, want) in cases {
        assert_eq!(base64(input.as_bytes()), want, "{input}");
    }
}

#[test]
fn parses_proxy_urls() {
    let p = Proxy::new("http://user:secret@Proxy.Test:3128/").expect("valid");
    assert_eq!((p.host(), p.port()), ("proxy.test", 3128));
    assert_eq!(
        p.auth().map(|a| a.as_bytes()),
        Some(&b"Basic dXNlcjpzZWNyZXQ="[..])
    );
    assert_eq!(
        p.to_string(),
        "http://proxy.test:3128",
        "no credentials shown"
    );
    let p = Proxy::new("http://[::1]").expect("valid");
    assert_eq!((p.host(), p.port(), p.auth()), ("::1", 80, None));
    for bad in [
        "https://p:1",
        "p:3128",
        "http://",
        "http://p:x",
        "http://p/path",
    ] {
        assert!(Proxy::new(bad).is_err(), "{bad}");
    }
}

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn environment_and_no_proxy() {
    let p = Proxies::default()
        .with_env(env(&[
            ("HTTP_PROXY", "http://up:1"),
            ("http_proxy", "http://low:2"),
            ("HTTPS_PROXY", "http://secure:3"),
            ("NO_PROXY", "internal.test, .corp.test,127.0.0.1"),
        ]))
        .expect("valid");
    let pick = |https, host| p.pick(https, host).map(|p| p.to_string());
    let cases = [
        (false, "example.com", Some("http://low:2")),
        (true, "example.com", Some("http://secure:3")),
        (false, "internal.test", None),
        (false, "a.internal.test", None),
        (false, "notinternal.test", Some("http://low:2")),
        (true, "x.corp.test", None),
        (true, "corp.test", None),
        (false, "127.0.0.1", None),
    ];
    for (https, host, want) in cases {
        assert_eq!(pick(https, host).as_deref(), want, "{host}");
    }
    let all = Proxies::default()
        .with_env(env(&[("https_proxy", "http://s:1"), ("no_proxy", "*")]))
        .expect("valid");
    assert!(all.pick(true, "anything").is_none());
    assert!(all.pick(false, "anything").is_none(), "no http proxy set");
    let builder_wins = Proxies {
        http: Proxy::new("http://mine:9").ok(),
        ..Proxies::default()
    }
    .with_env(env(&[("http_proxy", "http://env:1")]))
    .expect("valid");
    assert_eq!(
        builder_wins
            .pick(false, "x")
            .map(|p| p.to_string())
            .as_deref(),
        Some("http://mine:9")
    );
    assert!(Proxies::default()
        .with_env(env(&[("http_proxy", "socks5://x:1")]))
        .is_err());
}

#[test]
fn connect_status_lines() {
    assert_eq!(
        connect_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
        Some(200)
    );
    assert_eq!(
        connect_status(b"HTTP/1.0 407 Proxy Auth\r\n\r\n"),
        Some(407)
    );
    assert_eq!(connect_status(b"SSH-2.0\r\n\r\n"), None);
}
