use std::time::Duration;

use super::*;
use crate::config::parse;
use crate::upstream::health::StatusMatch;

const LISTENER: &str = "[[listener]]\naddress = \"127.0.0.1:2000\"\n";

fn ok(text: &str) -> crate::config::Config {
    match parse(&format!("{LISTENER}{text}"), "g.toml") {
        Ok(c) => c,
        Err(e) => panic!("refused: {e}\n{text}"),
    }
}

/// The error, with the line numbers of `text` (the listener's two lines taken off).
fn err(text: &str) -> String {
    match parse(&format!("{LISTENER}{text}"), "g.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            let line = e.line().map_or(0, |l| l - 2);
            format!(
                "{line}:{}: {}: {}",
                e.column().unwrap_or(0),
                e.key().unwrap_or(""),
                e.message()
            )
        }
    }
}

#[test]
fn the_issue_example() {
    let c = ok(r#"
[[upstream]]
name = "users"
servers = ["http://127.0.0.1:3001", "http://127.0.0.1:3002"]
balance = "least_requests"
retries = 2
retry_on = ["5xx"]
resolve_interval = "5s"
[upstream.health]
path = "/health"
interval = "2s"
[[route]]
prefix = "/users"
upstream = "users"
[[route]]
prefix = "/profiles"
upstream = "http://127.0.0.1:4000"
"#);
    let [g] = c.upstreams.as_slice() else {
        panic!("one group: {:?}", c.upstreams)
    };
    assert_eq!(g.name, "users");
    let urls: Vec<String> = g.servers.iter().map(|s| s.upstream.to_string()).collect();
    assert_eq!(urls, ["http://127.0.0.1:3001", "http://127.0.0.1:3002"]);
    assert!(g.servers.iter().all(|s| s.weight == 1));
    assert_eq!(g.settings.policy, Policy::LeastRequests);
    assert_eq!(
        g.settings.retry,
        retry::Policy {
            retries: 2,
            on_5xx: true
        }
    );
    assert_eq!(g.resolve_interval, Duration::from_secs(5));
    let health = g.settings.health.as_ref().expect("health on");
    assert_eq!(
        (
            health.path.as_str(),
            health.interval,
            health.timeout,
            health.healthy_after,
            health.unhealthy_after
        ),
        (
            "/health",
            Duration::from_secs(2),
            Duration::from_secs(1),
            2,
            3
        )
    );
    assert_eq!(health.expected_status, [StatusMatch::Class(2)]);
    let users = c.router.route("/users/1").expect("routed");
    assert_eq!(users.route.group.as_deref(), Some("users"));
    // A group route's target is origin-form: each attempt's server supplies scheme and
    // authority (the request path tests check the full URI each server receives).
    assert_eq!(users.upstream_uri.to_string(), "/users/1");
    let profiles = c.router.route("/profiles/1").expect("routed");
    assert_eq!(profiles.route.group, None);
}

#[test]
fn defaults() {
    let c = ok("[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\"]\n");
    let [g] = c.upstreams.as_slice() else {
        panic!("one group")
    };
    assert_eq!(g.settings.policy, Policy::LeastRequests);
    assert_eq!(g.settings.hash_on, None);
    assert_eq!(g.settings.retry, retry::Policy::default());
    assert_eq!(g.settings.budget, budget::Settings::default());
    assert_eq!(g.settings.outlier, outlier::Settings::default());
    assert_eq!(
        g.settings.health, None,
        "active checks are off without [upstream.health]"
    );
    assert_eq!(g.resolve_interval, Duration::from_secs(5));
    assert!(ok("").upstreams.is_empty());
}

#[test]
fn every_key() {
    let c = ok(r#"
[[upstream]]
name = "sessions"
servers = ["http://a:1", { url = "https://b:2", weight = 3 }, { url = "http://c" }]
balance = "hash"
hash_on = "cookie:session"
retries = 0
resolve_interval = "30s"
[upstream.health]
path = "/ready"
interval = "500ms"
timeout = "250ms"
healthy_after = 1
unhealthy_after = 5
expected_status = [200, "3xx"]
[upstream.outlier]
consecutive_failures = 3
base_ejection = "30s"
max_ejection = "10m"
max_ejected_percent = 10
[upstream.retry_budget]
percent = 50
min_per_second = 0
window = "30s"
"#);
    let [g] = c.upstreams.as_slice() else {
        panic!("one group")
    };
    let servers: Vec<(String, u32)> = g
        .servers
        .iter()
        .map(|s| (s.upstream.to_string(), s.weight))
        .collect();
    assert_eq!(
        servers,
        [
            ("http://a:1".into(), 1),
            ("https://b:2".into(), 3),
            ("http://c:80".into(), 1)
        ]
    );
    assert_eq!(g.settings.policy, Policy::Hash);
    assert_eq!(g.settings.hash_on, Some(HashOn::Cookie("session".into())));
    assert_eq!(
        g.settings.retry,
        retry::Policy {
            retries: 0,
            on_5xx: false
        }
    );
    assert_eq!(g.resolve_interval, Duration::from_secs(30));
    let h = g.settings.health.as_ref().expect("health");
    assert_eq!(
        (
            h.path.as_str(),
            h.interval,
            h.timeout,
            h.healthy_after,
            h.unhealthy_after
        ),
        (
            "/ready",
            Duration::from_millis(500),
            Duration::from_millis(250),
            1,
            5
        )
    );
    assert_eq!(
        h.expected_status,
        [StatusMatch::Exact(200), StatusMatch::Class(3)]
    );
    assert_eq!(
        g.settings.outlier,
        outlier::Settings {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(600),
            max_ejected_percent: 10,
        }
    );
    assert_eq!(
        g.settings.budget,
        budget::Settings {
            ratio: 0.5,
            min_per_second: 0,
            window: Duration::from_secs(30)
        }
    );
}

#[test]
fn errors_name_line_column_and_key() {
    let one = "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\"]\n";
    for (text, want) in [
        (
            "[[route]]\nprefix = \"/u\"\nupstream = \"users\"\n".to_owned(),
            "3:12: route[0].upstream: no [[upstream]] named \"users\" (a single server is a URL: http://host:port)",
        ),
        (
            format!("{one}[[upstream]]\nname = \"a\"\nservers = [\"http://y:1\"]\n"),
            "5:8: upstream[1].name: duplicate upstream name \"a\" (also upstream[0])",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = []\n".to_owned(),
            "3:11: upstream[0].servers: empty servers: a group needs at least one server",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\", { url = \"http://y:1\", weight = 0 }]\n".to_owned(),
            "3:26: upstream[0].servers[1].weight: weight 0: must be 1 to 10000",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\"]\nbalance = \"hash\"\n".to_owned(),
            "4:11: upstream[0].balance: balance = \"hash\" needs hash_on (\"header:NAME\", \"cookie:NAME\" or \"client_ip\")",
        ),
        (
            format!("{one}hash_on = \"client_ip\"\n"),
            "4:11: upstream[0].hash_on: hash_on is only used with balance = \"hash\"",
        ),
        (
            format!("{one}balance = \"hash\"\nhash_on = \"ip\"\n"),
            "5:11: upstream[0].hash_on: invalid hash_on \"ip\": expected \"header:NAME\", \"cookie:NAME\" or \"client_ip\"",
        ),
        (
            "[[upstream]]\nname = \"a b\"\nservers = [\"http://x:1\"]\n".to_owned(),
            "2:8: upstream[0].name: \"a b\" is not a group name (letters, digits, _ - . only)",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\", \"http://x:1/\"]\n".to_owned(),
            "3:26: upstream[0].servers[1]: server http://x:1 is listed twice",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1/api\"]\n".to_owned(),
            "3:12: upstream[0].servers[0]: \"http://x:1/api\": a group's server is scheme://host:port without a path (its servers are replicas; the route's path is forwarded as it is)",
        ),
        (
            "[[upstream]]\nname = \"a\"\nservers = [\"ftp://x:1\"]\n".to_owned(),
            "3:12: upstream[0].servers[0]: \"ftp://x:1\": scheme \"ftp\" is not http or https",
        ),
        (
            format!("{one}retry_on = [\"5xx\", \"4xx\"]\n"),
            "4:20: upstream[0].retry_on[1]: \"4xx\" is not a retry condition (only \"5xx\": 502, 503 and 504 for idempotent requests; connection failures are always retried)",
        ),
        (format!("{one}retries = 11\n"), "4:11: upstream[0].retries: at most 10"),
        (
            format!("{one}[upstream.health]\npath = \"/h\"\nexpected_status = [200, \"6xx\"]\n"),
            "6:25: upstream[0].health.expected_status[1]: \"6xx\" is not a status (100-599) or a class such as \"2xx\"",
        ),
        (
            format!("{one}[upstream.outlier]\nbase_ejection = \"1m\"\nmax_ejection = \"30s\"\n"),
            "6:16: upstream[0].outlier.max_ejection: must be at least base_ejection",
        ),
        (format!("{one}[upstream.outlier]\nmax_ejected_percent = 101\n"), "5:23: upstream[0].outlier.max_ejected_percent: at most 100"),
        (format!("{one}[upstream.retry_budget]\nwindow = \"1500ms\"\n"), "5:10: upstream[0].retry_budget.window: whole seconds from 1s to 60s"),
    ] {
        assert_eq!(err(&text), want, "{text}");
    }
}

#[test]
fn serde_level_errors_keep_their_key() {
    let one = "[[upstream]]\nname = \"a\"\nservers = [\"http://x:1\"]\n";
    for (text, key) in [
        (
            format!("{one}balance = \"least_conn\"\n"),
            "upstream[0].balance",
        ),
        (
            format!("{one}resolve_interval = \"0s\"\n"),
            "upstream[0].resolve_interval",
        ),
        (format!("{one}servers_extra = 1\n"), "upstream[0]"),
        (
            format!("{one}[upstream.health]\ninterval = \"2s\"\n"),
            "upstream[0].health",
        ),
        (
            format!("{one}[upstream.health]\npath = \"/h\"\nhealthy_after = 0\n"),
            "upstream[0].health.healthy_after",
        ),
        (
            format!("{one}[upstream.outlier]\nconsecutive_failures = 0\n"),
            "upstream[0].outlier.consecutive_failures",
        ),
        (
            "[[upstream]]\nservers = [\"http://x:1\"]\n".to_owned(),
            "upstream[0]",
        ),
    ] {
        let shown = err(&text);
        assert!(
            shown.contains(&format!(": {key}: ")) || shown.contains(&format!(": {key}.")),
            "{shown}\n{text}"
        );
    }
}

#[test]
fn existing_route_urls_keep_their_errors() {
    for (upstream, want) in [
        ("ftp://x", "scheme \"ftp\" is not http or https"),
        ("localhost:3000", "missing scheme (http:// or https://)"),
    ] {
        let shown = err(&format!(
            "[[route]]\nprefix = \"/u\"\nupstream = \"{upstream}\"\n"
        ));
        assert!(shown.ends_with(want), "{shown}");
    }
}

#[test]
fn server_lists() {
    let list = parse_server_list("http://127.0.0.1:3001, http://127.0.0.1:3002").expect("valid");
    let urls: Vec<String> = list.iter().map(|s| s.upstream.to_string()).collect();
    assert_eq!(urls, ["http://127.0.0.1:3001", "http://127.0.0.1:3002"]);
    assert!(list.iter().all(|s| s.weight == 1));
    assert_eq!(parse_server_list("https://a").map(|l| l.len()), Ok(1));
    for (text, want) in [
        (
            "http://a:1,,http://b:1",
            "empty server in the list \"http://a:1,,http://b:1\"",
        ),
        ("http://a:1,", "empty server in the list \"http://a:1,\""),
        ("http://a:1,http://a:1", "server http://a:1 is listed twice"),
        (
            "http://a:1,b:1",
            "\"b:1\": missing scheme (http:// or https://)",
        ),
    ] {
        assert_eq!(parse_server_list(text), Err(want.to_owned()), "{text}");
    }
    assert!(
        parse_server_list("http://a:1/x,http://b:1").is_err_and(|e| e.contains("without a path"))
    );
}
