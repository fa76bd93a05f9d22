use super::*;

fn parse(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("valid exposition")
}

#[test]
fn families_have_help_and_type_and_parse() {
    let mut text = PromText::new();
    text.family(
        "gangway_pool_connections_closed_total",
        "Upstream connections closed, by reason.",
        MetricType::Counter,
    )
    .sample(
        &[("upstream", "127.0.0.1:3000"), ("reason", "idle_timeout")],
        3.0,
    )
    .sample(&[("upstream", "127.0.0.1:3000"), ("reason", "error")], 1.0);
    text.family(
        "gangway_requests_in_flight",
        "Requests being served.",
        MetricType::Gauge,
    )
    .sample(&[], 7.0);
    text.family(
        "gangway_upstream_response_seconds",
        "Time to the upstream's response head.",
        MetricType::Histogram,
    )
    .histogram(
        &[("upstream", "127.0.0.1:3000")],
        &[0.005, 0.1, 1.0],
        &[2, 3, 0, 1],
        4.25,
    );
    let text = text.into_string();
    let scrape = parse(&text);
    for name in [
        "gangway_pool_connections_closed_total",
        "gangway_requests_in_flight",
        "gangway_upstream_response_seconds",
    ] {
        assert!(scrape.docs.contains_key(name), "HELP for {name}: {text}");
        assert!(text.contains(&format!("# TYPE {name} ")), "TYPE for {name}");
    }
    let closed: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "gangway_pool_connections_closed_total")
        .collect();
    assert_eq!(closed.len(), 2);
    assert!(closed
        .iter()
        .all(|s| matches!(s.value, prometheus_parse::Value::Counter(_))));
    assert_eq!(closed[0].labels.get("reason"), Some("idle_timeout"));

    let hist = scrape
        .samples
        .iter()
        .find(|s| s.metric == "gangway_upstream_response_seconds")
        .expect("histogram");
    let prometheus_parse::Value::Histogram(buckets) = &hist.value else {
        panic!("not a histogram: {:?}", hist.value);
    };
    let cumulative: Vec<(f64, f64)> = buckets.iter().map(|b| (b.less_than, b.count)).collect();
    assert_eq!(
        cumulative,
        [(0.005, 2.0), (0.1, 5.0), (1.0, 5.0), (f64::INFINITY, 6.0)]
    );
    assert!(
        text.contains("gangway_upstream_response_seconds_sum{upstream=\"127.0.0.1:3000\"} 4.25\n")
    );
    assert!(
        text.contains("gangway_upstream_response_seconds_count{upstream=\"127.0.0.1:3000\"} 6\n")
    );
}

#[test]
fn hostile_label_values_and_help_are_escaped() {
    let hostile = "a\"b\\c\nd}e,f=\"g";
    let mut text = PromText::new();
    text.family("x_total", "Help with \\ and\nnewline.", MetricType::Counter)
        .sample(&[("route", hostile)], 1.0);
    let text = text.into_string();
    assert_eq!(
        text,
        "# HELP x_total Help with \\\\ and\\nnewline.\n# TYPE x_total counter\n\
         x_total{route=\"a\\\"b\\\\c\\nd}e,f=\\\"g\"} 1\n"
    );
    // prometheus-parse's label matcher does not follow escaped quotes, so the parse check
    // uses a value with a backslash and a newline only.
    let mut text = PromText::new();
    text.family("y_total", "Help.", MetricType::Counter)
        .sample(&[("route", "a\\b\nc")], 1.0);
    let scrape = parse(text.as_str());
    assert_eq!(scrape.samples.len(), 1, "{}", text.as_str());
}

#[test]
fn values() {
    let cases = [
        (0.0, "0"),
        (42.0, "42"),
        (-3.0, "-3"),
        (0.25, "0.25"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (1e20, "100000000000000000000"),
    ];
    for (v, want) in cases {
        let mut out = String::new();
        push_value(&mut out, v);
        assert_eq!(out, want, "{v}");
    }
}
