use super::*;

fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("gangway").chain(args.iter().copied()))
}

fn config(args: &[&str]) -> Result<Config, ConfigError> {
    cli(args).expect("flags parse").into_config()
}

#[test]
fn flags_alone_build_the_users_profiles_gateway() {
    let c = config(&[
        "--listen",
        "127.0.0.1:2000",
        "--route",
        "/users=http://127.0.0.1:3000",
        "--route",
        "/profiles=http://127.0.0.1:4000",
        "--admin",
        "127.0.0.1:9901",
        "--log-level",
        "debug",
    ])
    .expect("valid");
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(
        c.listeners.first().map(|l| l.mode),
        Some(ListenerMode::Routes)
    );
    let uri = c
        .router
        .route("/users/42?x=1")
        .map(|m| m.upstream_uri.to_string());
    assert_eq!(uri.as_deref(), Ok("http://127.0.0.1:3000/users/42?x=1"));
    assert_eq!(c.admin.address.map(|a| a.port()), Some(9901));
    assert_eq!(c.log.level, "debug");
}

#[test]
fn flags_add_to_and_override_the_file() {
    let path = std::env::temp_dir().join(format!("gangway-cli-test-{}.toml", std::process::id()));
    let file = "[[listener]]\naddress = \"127.0.0.1:2000\"\n[[route]]\nprefix = \"/users\"\nupstream = \"http://127.0.0.1:3000\"\n[log]\nlevel = \"warn\"\n[cors]\nallow_targets = [\"a.example\"]\n";
    std::fs::write(&path, file).expect("write");
    let path_str = path.to_str().expect("utf-8 temp path");
    let c = config(&[
        "--config",
        path_str,
        "--listen",
        "127.0.0.1:2001",
        "--cors-proxy",
        "--route",
        "/profiles=http://127.0.0.1:4000",
        "--log-level",
        "info",
        "--cors-allow-target",
        "a.example",
        "--cors-allow-target",
        "b.example:8443",
        "--cors-allow-origin",
        "https://app.example",
    ])
    .expect("valid");
    let modes: Vec<_> = c
        .listeners
        .iter()
        .map(|l| (l.address.port(), l.mode))
        .collect();
    assert_eq!(
        modes,
        [(2000, ListenerMode::Routes), (2001, ListenerMode::Cors)]
    );
    assert_eq!(c.router.routes().len(), 2);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.cors.allow_targets, ["a.example", "b.example:8443"]);
    assert_eq!(c.cors.allow_origins, ["https://app.example"]);

    let dup = config(&["--config", path_str, "--route", "/users/=http://x:1"]);
    assert_eq!(
        dup.map(|_| ()).map_err(|e| e.to_string()),
        Err("command line: --route: duplicate route prefix \"/users\"".to_owned())
    );
    let check = cli(&["--check-config", path_str]).expect("parses");
    assert!(check.check_only());
    assert!(check.into_config().is_ok());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_flags_are_refused() {
    for args in [
        &["--listen", "gateway.example:2000"][..],
        &["--listen", ":"],
        &["--listen", ":+2000"],
        &["--listen", "localhost:65536"],
        &["--admin", "gateway.example:9901"],
        &["--route", "/users"],
        &["--route", "/users=ftp://x"],
        &["--route", "users=http://x"],
        &["--log-level", "info,=["],
        &["--cors-proxy"],
        &["--cors-allow-target", "http://x/"],
        &["--cors-allow-origin", "ftp://app.example/x"],
        &["--config", "a.toml", "--check-config", "b.toml"],
        &["--frobnicate"],
    ] {
        assert!(cli(args).is_err(), "{args:?}");
    }
    let none = config(&["--route", "/a=http://x:1"])
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        none,
        Err(
            "command line: listener: at least one [[listener]] (or --listen ADDR) is required"
                .to_owned()
        )
    );
    let twice = config(&["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:1"]);
    assert!(twice.is_err());
    let admin_clash = config(&["--listen", "127.0.0.1:1", "--admin", "127.0.0.1:1"]);
    assert!(admin_clash.is_err());
    let ephemeral = config(&[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ]);
    assert!(ephemeral.is_ok(), "port 0 never clashes");
    let missing = config(&["--config", "/nonexistent/gangway.toml"]).map_err(|e| e.to_string());
    assert!(missing.is_err_and(|e| e.starts_with("/nonexistent/gangway.toml: cannot read")));
}

/// Issue #18: the forms Caddy and Traefik users write.
#[test]
fn listen_addresses_in_caddy_forms() {
    for (text, want) in [
        (":2000", "0.0.0.0:2000"),
        ("localhost:2000", "127.0.0.1:2000"),
        ("LOCALHOST:2000", "127.0.0.1:2000"),
        ("[::]:2000", "[::]:2000"),
        ("[::1]:2000", "[::1]:2000"),
        ("127.0.0.1:2000", "127.0.0.1:2000"),
        (" :2000 ", "0.0.0.0:2000"),
    ] {
        let c = config(&["--listen", text, "--admin", ":9901"]).expect(text);
        let got: Vec<String> = c.listeners.iter().map(|l| l.address.to_string()).collect();
        assert_eq!(got, [want], "{text}");
        assert_eq!(
            c.admin.address.map(|a| a.to_string()).as_deref(),
            Some("0.0.0.0:9901")
        );
    }
    let file = config::parse(
        "[[listener]]\naddress = \":2000\"\n[admin]\naddress = \"localhost:9901\"\n",
        "t.toml",
    )
    .expect("file takes the same forms");
    assert_eq!(
        file.listeners
            .first()
            .map(|l| l.address.to_string())
            .as_deref(),
        Some("0.0.0.0:2000")
    );
    assert_eq!(
        file.admin.address.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9901")
    );
}

/// `--check-config` needs no file when the flags give the whole config.
#[test]
fn check_config_without_a_file() {
    let c = cli(&[
        "--check-config",
        "--listen",
        ":2000",
        "--route",
        "/=http://127.0.0.1:3000",
    ])
    .expect("parses");
    assert!(c.check_only());
    assert_eq!(c.config_file(), None);
    assert!(c.into_config().is_ok());
    let empty = cli(&["--check-config"]).expect("parses").into_config();
    assert!(empty.is_err(), "no listener anywhere");
}

/// `--print-config` output parses back to the same config: every section, every kind
/// of value (durations, sizes, optional keys set and unset, inline tables, arrays).
#[test]
fn print_config_round_trips() {
    let defaults = config(&["--listen", ":2000"]).expect("valid");
    let full = config::parse(
        r#"
[[listener]]
address = "127.0.0.1:2000"
[[listener]]
address = "[::1]:2001"
mode = "cors"
[[route]]
prefix = "/users"
upstream = "http://127.0.0.1:3000/v1"
strip_prefix = true
preserve_host = true
response_timeout = "1m30s"
name = 'users "api" \\ é'
[[route]]
prefix = "/"
upstream = "https://api.example:8443"
[pool]
idle_timeout = "250ms"
max_idle_per_host = 0
max_connections_per_host = 8
max_requests_per_connection = 1000
max_connection_lifetime = "2h"
http2_only = true
http2_keep_alive_interval = "30s"
retry_body_limit = 1000
drain_limit = "1MiB"
keep_alive_margin = "0s"
local_address = "127.0.0.1"
[limits]
max_body_bytes = "10GiB"
max_uri_bytes = 9000
escaped_slashes = "unescape"
[timeouts]
shutdown_grace = "1d"
[forwarding]
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
emit_forwarded = true
[runtime]
workers = 3
[health]
path = "/up"
[admin]
address = "localhost:9901"
metrics_path = "/m"
[log]
level = "warn,gangway=debug"
access_log = false
format = "json"
[cors]
allow_targets = ["api.example", "*.example.org:8443"]
allow_origins = ["https://app.example"]
allow_credentials = true
rate_limit = { per_second = 2.5, burst = 20 }
max_response_bytes = 12345
"#,
        "full.toml",
    )
    .expect("valid");
    for (what, c) in [("defaults", defaults), ("full", full)] {
        let text = c.to_toml();
        let back =
            config::parse(&text, "printed").unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
        assert!(
            back == c,
            "{what}: round trip differs\n{text}\n{c:#?}\n{back:#?}"
        );
        assert_eq!(back.to_toml(), text, "{what}: printing is stable");
    }
}

/// `[[upstream]]` groups and a `--route` comma list print and parse back equal.
#[test]
fn print_config_round_trips_upstream_groups() {
    let dir = std::env::temp_dir().join(format!("gangway-ups-print-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("g.toml");
    std::fs::write(
        &path,
        r#"
[[listener]]
address = "127.0.0.1:2000"
[[upstream]]
name = "users"
servers = ["http://127.0.0.1:3001", { url = "http://127.0.0.1:3002", weight = 3 }]
balance = "hash"
hash_on = "header:x-user-id"
retries = 1
retry_on = ["5xx"]
resolve_interval = "10s"
[upstream.health]
path = "/health"
interval = "2s"
expected_status = [204, "2xx"]
[upstream.outlier]
consecutive_failures = 3
base_ejection = "5s"
[upstream.retry_budget]
percent = 10
min_per_second = 1
window = "5s"
[[upstream]]
name = "plain"
servers = ["http://127.0.0.1:3003"]
[[route]]
prefix = "/users"
upstream = "users"
[[route]]
prefix = "/plain"
upstream = "plain"
"#,
    )
    .expect("write config");
    let path_str = path.to_str().expect("utf-8 temp path");
    let c = config(&[
        "--config",
        path_str,
        "--route",
        "/cli=http://127.0.0.1:3004,http://127.0.0.1:3005",
    ])
    .expect("valid");
    assert_eq!(c.upstreams.len(), 3);
    assert_eq!(c.upstreams[2].name, "cli-cli");
    let text = c.to_toml();
    let back = config::parse(&text, "printed").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(back == c, "round trip differs\n{text}");
    assert_eq!(back.to_toml(), text, "printing is stable");
    let _ = std::fs::remove_dir_all(&dir);
}
