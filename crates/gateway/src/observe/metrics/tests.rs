use super::*;

#[test]
fn counts_by_route_and_status() {
    let m = Metrics::new(["users", "profiles"]);
    m.observe(m.route(0), 200, Duration::from_millis(3), 10);
    m.observe(m.route(0), 200, Duration::from_millis(30), 10);
    m.observe(m.unrouted(), 404, Duration::from_micros(50), 3);
    let text = m.render(&[]);
    assert!(
        text.contains("gangway_requests_total{route=\"users\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("gangway_requests_total{route=\"(none)\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gangway_request_duration_seconds_bucket{route=\"users\",le=\"0.005\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gangway_request_duration_seconds_count{route=\"users\"} 2"),
        "{text}"
    );
    assert!(!text.contains("route=\"profiles\",status"), "{text}");
}

#[test]
fn out_of_range_status_is_ignored() {
    let m = Metrics::new(["a"]);
    m.observe(m.route(0), 42, Duration::ZERO, 0);
    m.observe(m.route(7), 999, Duration::ZERO, 0);
    assert!(!m.render(&[]).contains("status=\"42\""));
}
