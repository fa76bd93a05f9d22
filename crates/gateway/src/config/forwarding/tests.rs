use crate::config::{parse_with_base, Config, ConfigError};

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with_base(text, "t.toml", None)
}

#[test]
fn default_trusts_nobody() {
    let c = parse("").expect("empty config");
    assert!(c.forwarding.trusted_proxies.is_empty());
    assert!(!c.forwarding.emit_forwarded);
}

#[test]
fn blocks_parse() {
    let c =
        parse("[forwarding]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nemit_forwarded = true\n")
            .expect("config");
    let t = &c.forwarding.trusted_proxies;
    assert!(t.contains("10.2.3.4".parse().expect("ip")));
    assert!(t.contains("::1".parse().expect("ip")));
    assert!(!t.contains("192.0.2.1".parse().expect("ip")));
    assert!(c.forwarding.emit_forwarded);
}

#[test]
fn bad_entries_are_named() {
    for (text, needle) in [
        (
            "[forwarding]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/40\"]\n",
            "entry 1",
        ),
        (
            "[forwarding]\ntrusted_proxies = [\"proxy.internal\"]\n",
            "entry 0",
        ),
        ("[forwarding]\ntrusted = []\n", "trusted"),
    ] {
        let e = parse(text).expect_err(text).to_string();
        assert!(
            e.contains(needle) && e.contains("forwarding"),
            "{text}: {e}"
        );
    }
}
