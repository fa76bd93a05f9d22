use crate::config;

const ROUTES: &str = r#"
[[listener]]
address = "127.0.0.1:2000"
[[route]]
host = "API.example.com."
prefix = "/users/*"
upstream = "http://127.0.0.1:3000"
methods = ["get", "POST"]
rewrite_prefix = "/v2/"
[[route]]
host = "*.example.com"
prefix = "/users/admin"
upstream = "http://127.0.0.1:3000"
respond = { status = 403, body = "blocked" }
[[route]]
prefix = "/"
upstream = "http://127.0.0.1:3000"
redirect = { to = "https://example.com{path}?{query}" }
"#;

#[test]
fn rules_round_trip_through_print_config() {
    let c = config::parse(ROUTES, "routes.toml").expect("valid");
    let text = c.to_toml();
    let back = config::parse(&text, "printed").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(back == c, "round trip differs\n{text}");
    assert_eq!(back.to_toml(), text, "printing is stable");
    for line in [
        "host = \"api.example.com\"",
        "host = \"*.example.com\"",
        "prefix = \"/users\"",
        "methods = [\"GET\", \"POST\"]",
        "rewrite_prefix = \"/v2\"",
        "respond = { body = \"blocked\", status = 403 }",
        "redirect = { status = 308, to = \"https://example.com{path}?{query}\" }",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[test]
fn bad_rules_name_file_line_column() {
    let base = "[[listener]]\naddress = \"127.0.0.1:2000\"\n[[route]]\nprefix = \"/a\"\nupstream = \"http://127.0.0.1:1\"\n";
    for (extra, want) in [
        ("methods = [\"G T\"]", "r.toml:6:11: route[0].methods: \"G T\" is not an HTTP method"),
        ("methods = []", "r.toml:6:11: route[0].methods: must list at least one method (leave it out to allow all)"),
        ("respond = { status = 700 }", "r.toml:6:11: route[0].respond.status: must be 200 to 599"),
        ("redirect = { to = \"/x\", status = 200 }", "r.toml:6:12: route[0].redirect.status: must be 301, 302, 303, 307 or 308"),
        ("redirect = { to = \"/{uri}\" }", "r.toml:6:12: route[0].redirect.to: the only placeholders are {path} and {query}"),
        ("rewrite_prefix = \"v2\"", "r.toml:6:18: route[0].rewrite_prefix: invalid route prefix \"v2\": must start with /"),
        ("host = \"a.*.com\"", "r.toml:6:8: route[0].host: invalid route host \"a.*.com\": a * is only supported as the whole first label (*.example.com)"),
    ] {
        let text = format!("{base}{extra}\n");
        let err = config::parse(&text, "r.toml").map(|_| ()).expect_err(extra);
        assert_eq!(err.to_string(), want, "{extra}");
    }
}
