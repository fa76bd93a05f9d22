use std::time::Duration;

use crate::config::{parse, Health, Shutdown, MAX_SHUTDOWN_DELAY};

const LISTENER: &str = "[[listener]]\naddress = \"127.0.0.1:2000\"\n";

fn parsed(extra: &str) -> Result<(Health, Shutdown), String> {
    parse(&format!("{LISTENER}{extra}"), "g.toml")
        .map(|c| (c.health, c.shutdown))
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_when_the_sections_are_absent() {
    let (health, shutdown) = parsed("").expect("parses");
    assert_eq!(health.path, "/healthcheck");
    assert_eq!(health.ready_path, "/ready");
    assert!(!health.ready_requires_servers);
    assert_eq!(shutdown.delay, Duration::ZERO);
    assert_eq!((health, shutdown), (Health::default(), Shutdown::default()));
}

#[test]
fn every_key_can_be_set() {
    let text =
        "[health]\npath = \"/live\"\nready_path = \"/readyz\"\nready_requires_servers = true\n\
                [shutdown]\ndelay = \"5s\"\n";
    let (health, shutdown) = parsed(text).expect("parses");
    assert_eq!(
        health,
        Health {
            path: "/live".into(),
            ready_path: "/readyz".into(),
            ready_requires_servers: true,
        }
    );
    assert_eq!(shutdown.delay, Duration::from_secs(5));
}

#[test]
fn a_section_may_set_one_key_and_keep_the_other_defaults() {
    let (health, _) = parsed("[health]\nready_path = \"/r\"\n").expect("parses");
    assert_eq!(
        (health.path.as_str(), health.ready_path.as_str()),
        ("/healthcheck", "/r")
    );
    let (health, _) = parsed("[health]\npath = \"/h\"\n").expect("parses");
    assert_eq!(
        (health.path.as_str(), health.ready_path.as_str()),
        ("/h", "/ready")
    );
}

#[test]
fn bad_values_name_the_key_and_place() {
    // (text, what the one error line must contain)
    let cases = [
        ("[health]\nready_path = \"ready\"\n", "health.ready_path"),
        ("[health]\nready_path = \"/r?x\"\n", "not a URL path"),
        (
            "[health]\nready_path = \"/healthcheck\"\n",
            "need different paths",
        ),
        ("[health]\npath = \"/ready\"\n", "need different paths"),
        ("[health]\nready = \"/r\"\n", "unknown field"),
        ("[shutdown]\ndelay = 5\n", "needs a unit"),
        ("[shutdown]\ndelay = \"5m1s\"\n", "at most 300s"),
        ("[shutdown]\ndelay = \"-1s\"\n", "shutdown.delay"),
        ("[shutdown]\ngrace = \"1s\"\n", "unknown field"),
    ];
    for (text, wanted) in cases {
        let error = parsed(text).expect_err(text);
        assert!(error.contains(wanted), "{text:?}: {error}");
        assert!(error.starts_with("g.toml:"), "{text:?}: {error}");
        assert_eq!(error.lines().count(), 1, "{text:?}: {error}");
    }
}

#[test]
fn the_longest_delay_is_accepted() {
    let (_, shutdown) = parsed("[shutdown]\ndelay = \"300s\"\n").expect("parses");
    assert_eq!(shutdown.delay, MAX_SHUTDOWN_DELAY);
}
