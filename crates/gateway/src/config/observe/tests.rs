use std::path::PathBuf;

use crate::config::{parse, LogFormat};

fn with(extra: &str) -> String {
    format!("[[listener]]\naddress = \"127.0.0.1:8080\"\n{extra}")
}

#[test]
fn defaults() {
    let c = parse(&with(""), "t.toml").expect("parses");
    assert_eq!(c.tracing.otlp_endpoint, None);
    assert_eq!(c.tracing.sample_ratio, 1.0);
    assert_eq!(c.request_id.header, "x-request-id");
    assert!(c.request_id.trust_incoming);
    assert_eq!(c.log.access_log_path, None);
}

#[test]
fn every_key() {
    let text = with(
        "[log]\naccess_log_path = \"/var/log/gangway/access.log\"\nformat = \"combined\"\n\
         [tracing]\notlp_endpoint = \"http://127.0.0.1:4318\"\nsample_ratio = 0.01\n\
         service_name = \"edge\"\n\
         [request_id]\nheader = \"X-Correlation-Id\"\ntrust_incoming = false\n",
    );
    let c = parse(&text, "t.toml").expect("parses");
    assert_eq!(
        c.log.access_log_path,
        Some(PathBuf::from("/var/log/gangway/access.log"))
    );
    assert_eq!(c.log.format, LogFormat::Combined);
    assert_eq!(
        c.tracing.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(c.tracing.sample_ratio, 0.01);
    assert_eq!(c.tracing.service_name, "edge");
    assert_eq!(c.request_id.header, "x-correlation-id");
    assert!(!c.request_id.trust_incoming);
    assert!(!c.request_id.policy().trust_incoming);
}

#[test]
fn bad_values_name_the_key() {
    let cases = [
        ("[tracing]\nsample_ratio = 1.5\n", "sample_ratio"),
        ("[tracing]\nsample_ratio = -0.1\n", "sample_ratio"),
        ("[tracing]\notlp_endpoint = \"ftp://x\"\n", "otlp_endpoint"),
        (
            "[tracing]\notlp_endpoint = \"not a url\"\n",
            "otlp_endpoint",
        ),
        ("[tracing]\nendpoint = \"http://x\"\n", "endpoint"),
        ("[request_id]\nheader = \"bad header\"\n", "header"),
        ("[log]\nformat = \"xml\"\n", "format"),
    ];
    for (extra, key) in cases {
        let err = parse(&with(extra), "t.toml").expect_err(extra).to_string();
        assert!(err.contains(key), "{extra}: {err}");
    }
}
