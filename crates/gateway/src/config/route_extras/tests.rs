use crate::config;

const ROUTES: &str = r#"
[[listener]]
address = "127.0.0.1:2000"
[[upstream]]
name = "api"
servers = ["http://127.0.0.1:3001"]
protocol = "http2"
[[route]]
prefix = "/a"
upstream = "http://127.0.0.1:3000"
request_headers = { set = { "X-Env" = "prod", "x-client" = "{client_ip}" }, add = { via-route = "{scheme}://{host}" }, remove = ["Cookie"] }
response_headers = { set = { "Cache-Control" = "no-store" }, remove = ["server"] }
rate_limit = { per_second = 50, burst = 100 }
max_body_bytes = "1MiB"
timeouts = { upstream_response = "5s", upstream_connect = "2s" }
protocol = "http1"
[[route]]
prefix = "/b"
upstream = "api"
[[route]]
prefix = "/old"
redirect = { to = "https://example.com{path}" }
[[route]]
prefix = "/blocked"
respond = { status = 403, body = "no" }
"#;

#[test]
fn extras_round_trip_through_print_config() {
    let c = config::parse(ROUTES, "routes.toml").unwrap_or_else(|e| panic!("{e}"));
    let text = c.to_toml();
    let back = config::parse(&text, "printed").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(back == c, "round trip differs\n{text}");
    assert_eq!(back.to_toml(), text, "printing is stable");
    for line in [
        "request_headers = { add = { via-route = \"{scheme}://{host}\" }, remove = [\"cookie\"], set = { x-client = \"{client_ip}\", x-env = \"prod\" } }",
        "response_headers = { add = {}, remove = [\"server\"], set = { cache-control = \"no-store\" } }",
        "rate_limit = { burst = 100, per_second = 50.0 }",
        "max_body_bytes = \"1MiB\"",
        "response_timeout = \"5s\"",
        "timeouts = { upstream_connect = \"2s\" }",
        "protocol = \"http1\"",
        "protocol = \"http2\"",
        "# upstream: unset (answered by the route)",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let routes = c.router.routes();
    let b = routes.iter().find(|r| r.prefix == "/b").expect("/b");
    assert_eq!(
        b.protocol,
        Some(crate::route::limits::Protocol::Http2),
        "the group's"
    );
    let old = routes.iter().find(|r| r.prefix == "/old").expect("/old");
    assert!(old.upstream.is_none());
}

#[test]
fn bad_extras_name_file_line_column() {
    let base = "[[listener]]\naddress = \"127.0.0.1:2000\"\n[[upstream]]\nname = \"g\"\nservers = [\"http://127.0.0.1:2\"]\n[[route]]\nprefix = \"/a\"\n";
    let up = "upstream = \"http://127.0.0.1:1\"\n";
    for (extra, want) in [
        (format!("{up}request_headers = {{ set = {{ Connection = \"x\" }} }}"), "r.toml:9:29: route[0].request_headers.set: \"Connection\" is a hop-by-hop or framing header, which the gateway manages itself"),
        (format!("{up}response_headers = {{ remove = [\"Transfer-Encoding\"] }}"), "r.toml:9:32: route[0].response_headers.remove: \"Transfer-Encoding\" is a hop-by-hop or framing header, which the gateway manages itself"),
        (format!("{up}request_headers = {{ add = {{ Proxy-Authorization = \"x\" }} }}"), "r.toml:9:29: route[0].request_headers.add: \"Proxy-Authorization\" is a hop-by-hop or framing header, which the gateway manages itself"),
        (format!("{up}request_headers = {{ set = {{ host = \"x\" }} }}"), "r.toml:9:29: route[0].request_headers.set: \"host\" is a hop-by-hop or framing header, which the gateway manages itself"),
        (format!("{up}request_headers = {{ set = {{ x-a = \"{{path}}\" }} }}"), "r.toml:9:35: route[0].request_headers.set.x-a: the only variables are {client_ip}, {request_id}, {host} and {scheme}"),
        (format!("{up}protocol = \"h3\""), "r.toml:9:12: route[0].protocol: must be \"http1\" or \"http2\""),
        ("upstream = \"g\"\nprotocol = \"http2\"".to_owned(), "r.toml:9:12: route[0].protocol: a route naming an [[upstream]] group takes the group's protocol"),
        (format!("{up}response_timeout = \"1s\"\ntimeouts = {{ upstream_response = \"2s\" }}"), "r.toml:10:12: route[0].timeouts: set either response_timeout or timeouts.upstream_response"),
        ("strip_prefix = true".to_owned(), "r.toml:6:1: route[0]: missing field `upstream` (only a route with respond or redirect has none)"),
    ] {
        let text = format!("{base}{extra}\n");
        let err = config::parse(&text, "r.toml").map(|_| ()).expect_err(&extra);
        assert_eq!(err.to_string(), want, "{extra}");
    }
}
