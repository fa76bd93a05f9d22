use std::time::Duration;

use super::*;

const EXAMPLE: &str = include_str!("../../../../gangway.example.toml");

fn err(text: &str) -> String {
    match parse(text, "gangway.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const LISTENER: &str = "[[listener]]\naddress = \"127.0.0.1:2000\"\n";

#[test]
fn example_file_is_the_users_profiles_gateway() {
    let config = parse(EXAMPLE, "gangway.example.toml").expect("example parses");
    assert_eq!(config.listeners.len(), 1);
    let listener = config.listeners.first().expect("listener");
    assert_eq!(listener.address.to_string(), "127.0.0.1:2000");
    assert_eq!(
        (listener.tls.as_ref(), listener.mode),
        (None, ListenerMode::Routes)
    );
    let routed = |path: &str| {
        config
            .router
            .route(path)
            .map(|m| m.upstream_uri.to_string())
            .expect("routes")
    };
    assert_eq!(
        routed("/users/42?x=1"),
        "http://127.0.0.1:3000/users/42?x=1"
    );
    assert_eq!(routed("/profiles/7"), "http://127.0.0.1:4000/profiles/7");
    // Every section but [admin] is commented out, so everything else is at its default;
    // metrics are on (127.0.0.1 only) so the README's metrics example works as pasted.
    assert_eq!(config.pool, PoolSection::default());
    assert_eq!(config.limits, Limits::default());
    assert_eq!(config.timeouts, Timeouts::default());
    assert_eq!(config.health, Health::default());
    assert_eq!(
        config.admin,
        Admin {
            address: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9901))),
            ..Admin::default()
        }
    );
    assert_eq!(config.log, Log::default());
    assert_eq!(config.cors, Cors::default());
}

#[test]
fn every_key_can_be_set() {
    let text = r#"
[[listener]]
address = "[::1]:2000"
mode = "cors"
[[route]]
prefix = "/api/"
upstream = "https://api.example.com/v1"
strip_prefix = true
preserve_host = true
response_timeout = "5s"
name = "api"
[pool]
idle_timeout = "30s"
max_idle_per_host = 4
max_connections_per_host = 64
checkout_timeout = "2s"
max_requests_per_connection = 1000
max_connection_lifetime = "10m"
http1_only = true
http2_only = false
http2_initial_max_streams = 50
http2_keep_alive_interval = "20s"
retry_body_limit = "16KiB"
drain_limit = 1024
keep_alive_margin = "500ms"
local_address = "127.0.0.1"
[limits]
max_connections = 10
max_header_bytes = "16k"
max_headers = 50
max_uri_bytes = 4096
max_body_bytes = "1MiB"
[timeouts]
header_read = "5s"
client_body_idle = "6s"
upstream_connect = "7s"
upstream_response = "8s"
upstream_body_idle = "9s"
shutdown_grace = "0s"
[health]
path = "/health"
[admin]
address = "127.0.0.1:9901"
metrics_path = "/m"
[log]
level = "warn,gangway=debug"
access_log = false
format = "json"
[cors]
allow_targets = ["api.example.com", "*.example.org:8443"]
allow_origins = ["https://app.example"]
allow_credentials = true
max_age = "1h"
require_header = false
forward_cookies = true
forward_authorization = true
pass_set_cookie = true
rate_limit = { per_second = 2, burst = 5 }
max_response_bytes = "1MiB"
total_timeout = "5s"
[runtime]
workers = 3
"#;
    let c = parse(text, "all.toml").expect("parses");
    assert_eq!(c.runtime.worker_count(), 3);
    assert_eq!(
        c.listeners.first().map(|l| l.mode),
        Some(ListenerMode::Cors)
    );
    let route = c.router.routes().first().expect("route");
    assert_eq!(
        (route.prefix.as_str(), route.name.as_str()),
        ("/api", "api")
    );
    assert!(route.strip_prefix && route.preserve_host);
    assert_eq!(route.response_timeout, Some(Duration::from_secs(5)));
    assert_eq!(c.pool.max_connections_per_host, Some(64));
    assert_eq!(c.pool.connect_timeout, Duration::from_secs(7));
    assert_eq!(c.pool.retry_body_limit, 16 * 1024);
    assert!(c.pool.http1_only && !c.pool.http2_only);
    assert_eq!(c.limits.max_header_bytes, 16 * 1024);
    assert_eq!(c.limits.max_body_bytes, Some(1 << 20));
    assert_eq!(c.timeouts.shutdown_grace, Duration::ZERO);
    assert_eq!(c.admin.address.map(|a| a.port()), Some(9901));
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(
        c.cors.allow_targets,
        ["api.example.com", "*.example.org:8443"]
    );
    assert_eq!(c.cors.allow_origins, ["https://app.example"]);
    assert_eq!(
        c.cors.rate_limit,
        Some(RateLimit {
            per_second: 2.0,
            burst: 5
        })
    );
    c.pool
        .builder()
        .build()
        .expect("pool builds from the section");
}

#[test]
fn workers_default_to_one_per_cpu() {
    let c = parse("[[listener]]\naddress = \"127.0.0.1:1\"\n", "w.toml").expect("parses");
    assert_eq!(c.runtime.workers, 0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.runtime.worker_count(), cpus);
    assert!(err("[runtime]\nworkers = -1\n").contains("runtime.workers"));
}

#[test]
fn semantic_errors_name_key_and_line() {
    let routes = format!(
        "{LISTENER}[[route]]\nprefix = \"/a\"\nupstream = \"http://h:1\"\n\n[[route]]\nprefix = \"/b\"\nupstream = \"ftp://h\"\n"
    );
    assert_eq!(
        err(&routes),
        "gangway.toml:9:12: route[1].upstream: scheme \"ftp\" is not http or https"
    );
    let cases: &[(String, &str)] = &[
        (format!("{LISTENER}[[route]]\nprefix = \"/a/\"\nupstream = \"http://h:1\"\n[[route]]\nprefix = \"/a\"\nupstream = \"http://g:1\"\n"),
            "gangway.toml:7:10: route[1].prefix: duplicate prefix \"/a\" (also route[0])"),
        (format!("{LISTENER}[[route]]\nprefix = \"a\"\nupstream = \"http://h:1\"\n"),
            "gangway.toml:4:10: route[0].prefix: must start with /"),
        (format!("{LISTENER}[[listener]]\naddress = \"127.0.0.1:2000\"\n"),
            "gangway.toml:4:11: listener[1].address: 127.0.0.1:2000 is already used by listener[0]"),
        (format!("{LISTENER}[admin]\naddress = \"127.0.0.1:2000\"\n"),
            "gangway.toml:4:11: admin.address: 127.0.0.1:2000 is already used by listener[0]"),
        (format!("{LISTENER}tls = {{ cert = \"/nonexistent/c.pem\", key = \"k.pem\" }}\n"),
            "gangway.toml:3:16: listener[0].tls.cert: file not found: /nonexistent/c.pem"),
        (format!("{LISTENER}[pool]\nhttp1_only = true\nhttp2_only = true\n"),
            "gangway.toml:5:14: pool.http2_only: http1_only and http2_only cannot both be true"),
        (format!("{LISTENER}[cors]\nallow_credentials = true\n"),
            "gangway.toml:4:21: cors.allow_credentials: allow_credentials needs an allow_origins list without \"*\": credentials are never offered to every site"),
        ("[[listener]]\naddress = \"[::1]:0\"\n[[listener]]\naddress = \"[::1]:0\"\n[admin]\naddress = \"[::1]:0\"\ncolor = 1\n".to_owned(),
            "gangway.toml:7:1: admin.color: unknown field `color`, expected `address` or `metrics_path`"),
        ("[[route]]\nprefix = \"/a\"\nupstream = \"http://h:1\"\n".to_owned(),
            "gangway.toml: listener: at least one [[listener]] (or --listen ADDR) is required"),
    ];
    for (text, want) in cases {
        assert_eq!(&err(text), want, "{text}");
    }
}

#[test]
fn parse_errors_name_key_and_line() {
    let cases: &[(String, &str)] = &[
        (format!("{LISTENER}[pool]\nidle_timout = \"1s\"\n"),
            "gangway.toml:4:1: pool.idle_timout: unknown field `idle_timout`"),
        (format!("color = true\n{LISTENER}"),
            "gangway.toml:1:1: color: unknown field `color`"),
        (format!("{LISTENER}color = true\n"),
            "gangway.toml:3:1: listener[0].color: unknown field `color`"),
        (format!("{LISTENER}[[route]]\nprefix = \"/a\"\nupstream = \"http://h\"\nretries = 3\n"),
            "gangway.toml:6:1: route[0].retries: unknown field `retries`"),
        (format!("{LISTENER}[timeouts]\nheader_read = 30\n"),
            "gangway.toml:4:15: timeouts.header_read: a duration needs a unit, e.g. \"30s\" or \"30ms\""),
        (format!("{LISTENER}[timeouts]\nupstream_connect = \"0s\"\n"),
            "gangway.toml:4:20: timeouts.upstream_connect: must be greater than 0"),
        (format!("{LISTENER}[timeouts]\nheader_read = \"30 seconds\"\n"),
            "gangway.toml:4:15: timeouts.header_read: invalid duration"),
        (format!("{LISTENER}[limits]\nmax_body_bytes = \"10 gigs\"\n"),
            "gangway.toml:4:18: limits.max_body_bytes: invalid size \"10 gigs\""),
        (format!("{LISTENER}[limits]\nmax_header_bytes = \"1k\"\n"),
            "gangway.toml:4:20: limits.max_header_bytes: must be at least 8KiB"),
        ("[[listener]]\naddress = \"gateway.example:2000\"\n".to_owned(),
            "gangway.toml:2:11: listener[0].address: \"gateway.example:2000\" is not IP:PORT, :PORT or localhost:PORT"),
        (format!("{LISTENER}mode = \"tunnel\"\n"),
            "gangway.toml:3:8: listener[0].mode: unknown variant `tunnel`"),
        (format!("{LISTENER}[pool]\nconnect_timeout = \"1s\"\n"),
            "gangway.toml:4:19: pool.connect_timeout: set the upstream connect timeout as timeouts.upstream_connect"),
        (format!("{LISTENER}[cors]\nallow_targets = [\"ok.example\",\n  \"http://bad/\"]\n"),
            "gangway.toml:5:3: cors.allow_targets[1]: invalid target pattern \"http://bad/\""),
        (format!("{LISTENER}[[route]]\nprefix = \"/a\"\n"),
            "gangway.toml:3:1: route[0]: missing field `upstream`"),
        (format!("{LISTENER}[log]\nlevel = \"info,=[\"\n"),
            "gangway.toml:4:9: log.level: invalid log level"),
        (format!("{LISTENER}[limits]\nmax_headers = \"many\"\n"),
            "gangway.toml:4:15: limits.max_headers: invalid type: string \"many\", expected usize"),
        (format!("{LISTENER}[limits\n"), "gangway.toml:3:8: "),
    ];
    let failures: Vec<String> = cases
        .iter()
        .map(|(text, want)| (err(text), want, text))
        .filter(|(got, want, _)| !got.starts_with(*want))
        .map(|(got, want, text)| format!("got  {got}\nwant {want}…\nfor\n{text}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn relative_paths_follow_the_config_file() {
    let dir = std::env::temp_dir().join(format!("gangway-config-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tls")).expect("temp dir");
    for file in ["tls/cert.pem", "tls/key.pem"] {
        std::fs::write(dir.join(file), "").expect("write");
    }
    let text = "[[listener]]\naddress = \"127.0.0.1:2443\"\ntls = { cert = \"tls/cert.pem\", key = \"tls/key.pem\" }\n";
    std::fs::write(dir.join("gw.toml"), text).expect("write");
    let config = load(dir.join("gw.toml")).expect("loads");
    let tls = config
        .listeners
        .first()
        .and_then(|l| l.tls.clone())
        .expect("tls");
    assert_eq!(tls.cert, dir.join("tls/cert.pem"));
    let missing = load(dir.join("nope.toml")).expect_err("missing file");
    assert!(
        missing.to_string().contains("cannot read the file"),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn garbage_never_panics() {
    // Every prefix of the example, and a few hostile shapes: errors, never panics.
    let mut inputs: Vec<String> = (0..=EXAMPLE.len())
        .filter(|i| EXAMPLE.is_char_boundary(*i))
        .map(|i| EXAMPLE.get(..i).unwrap_or_default().to_owned())
        .collect();
    inputs.extend(
        [
            "\u{0}", "[[", "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "listener = 5",
            "[[listener]]\naddress = 1", "[[listener]]\naddress = \"1.2.3.4:5\"\ntls = 3",
            "route = [{}]", "[pool]\nmax_idle_per_host = -1", "[limits]\nmax_connections = 1e400",
            "[cors]\nrate_limit = { per_second = nan, burst = 1 }", "d = 1979-05-27T07:32:00Z",
            "[[listener]]\naddress = \"1.2.3.4:5\"\n[timeouts]\nheader_read = \"18446744073709551615d\"",
        ]
        .map(str::to_owned),
    );
    for input in &inputs {
        let _ = parse(input, "fuzz.toml");
    }
}

/// Found by the `config` fuzz target (fuzz/corpus/config/seed-crash-log-level-non-ascii):
/// tracing-subscriber panicked on a directive with leading whitespace and a non-ASCII
/// character. Directives are trimmed before it sees them.
#[test]
fn log_level_directives_are_trimmed() {
    assert_eq!(
        check_log_level(" info , gangway=debug ,").as_deref(),
        Ok("info,gangway=debug")
    );
    assert_eq!(
        check_log_level("info, é=debug").as_deref(),
        Ok("info,é=debug")
    );
    assert!(check_log_level(" , ").is_err());
    let text = format!("{LISTENER}[log]\nlevel = \"warn,\\t\\u00ff\\u00ffb=x\"\n");
    let _ = parse(&text, "gangway.toml");
    let config = parse(
        &format!("{LISTENER}[log]\nlevel = \"warn, é=debug\"\n"),
        "g.toml",
    )
    .expect("valid level");
    assert_eq!(config.log.level, "warn,é=debug");
}

/// Found by the `config` fuzz target (fuzz/corpus/config/seed-crash-log-level-regex): a
/// field filter's value is compiled into a DFA, which for some short regexes takes minutes.
#[test]
fn log_level_field_filters_are_refused() {
    let started = std::time::Instant::now();
    let text = format!("{LISTENER}[log]\nlevel = \"info,[s{{f=(a|b)*a(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)}}]=debug\"\n");
    assert_eq!(
        err(&text),
        "gangway.toml:4:9: log.level: field filters ({field=value}) are not supported in the log level; use RUST_LOG"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(check_log_level("info,[request]=debug").is_ok());
}

/// Issue #18: allowlist patterns with international names are stored in the ASCII form
/// the proxy compares converted targets against.
#[test]
fn international_target_patterns_become_punycode() {
    let text = format!(
        "{LISTENER}[cors]\nallow_targets = [\"münchen.de\", \"*.bücher.example:8443\", \"plain.example\"]\n"
    );
    let config = parse(&text, "g.toml").expect("valid");
    assert_eq!(
        config.cors.allow_targets,
        [
            "xn--mnchen-3ya.de",
            "*.xn--bcher-kva.example:8443",
            "plain.example"
        ]
    );
    assert!(err(&format!(
        "{LISTENER}[cors]\nallow_targets = [\"xn--a.ü\"]\n"
    ))
    .contains("cors.allow_targets[0]: invalid target pattern"));
}

#[test]
fn listener_certificates_validate_and_print_back() {
    let dir = std::env::temp_dir().join(format!("gangway-config-certs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for file in ["a.pem", "a.key", "b.pem", "b.key"] {
        std::fs::write(dir.join(file), "").expect("write");
    }
    let text = "[[listener]]\naddress = \"127.0.0.1:2443\"\n\
                tls = { cert = \"a.pem\", key = \"a.key\" }\n\
                certificates = [{ cert = \"b.pem\", key = \"b.key\" }]\n";
    std::fs::write(dir.join("gw.toml"), text).expect("write");
    let config = load(dir.join("gw.toml")).expect("loads");
    let listener = config.listeners.first().expect("listener");
    let files = listener.tls_files();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1].cert, dir.join("b.pem"));
    // --print-config writes them back, and reading that gives the same listener.
    let printed = config.to_toml();
    assert!(printed.contains("certificates = [{ cert = "), "{printed}");
    let back = parse(&printed, "printed.toml").expect("printed config parses");
    assert_eq!(back.listeners, config.listeners);
    assert_eq!(back.to_toml(), printed);

    // `certificates` without `tls`, and a missing file, are refused with their key.
    let cases = [
        (
            "[[listener]]\naddress = \"127.0.0.1:2443\"\ncertificates = [{ cert = \"b.pem\", key = \"b.key\" }]\n",
            "listener[0].certificates: needs `tls`",
        ),
        (
            "[[listener]]\naddress = \"127.0.0.1:2443\"\ntls = { cert = \"a.pem\", key = \"a.key\" }\n\
             certificates = [{ cert = \"b.pem\", key = \"nope.key\" }]\n",
            "listener[0].certificates[0].key: file not found",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(dir.join("bad.toml"), text).expect("write");
        let err = load(dir.join("bad.toml")).expect_err(want);
        assert!(err.to_string().contains(want), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
