use super::*;

#[test]
fn observations_land_in_their_bucket_and_render_cumulatively() {
    let h = Histogram::default();
    h.observe(Duration::from_micros(300)); // ≤ 0.5 ms
    h.observe(Duration::from_millis(3)); // ≤ 5 ms
    h.observe(Duration::from_secs(60)); // +Inf
    assert_eq!(h.count(), 3);
    let idle = Histogram::default();
    let mut out = String::new();
    render_heads(&mut out, [("api", &h), ("idle", &idle)].into_iter());
    let want_lines = [
        "# TYPE gangway_request_head_duration_seconds histogram",
        "gangway_request_head_duration_seconds_bucket{route=\"api\",le=\"0.0005\"} 1",
        "gangway_request_head_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 1",
        "gangway_request_head_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 2",
        "gangway_request_head_duration_seconds_bucket{route=\"api\",le=\"10\"} 2",
        "gangway_request_head_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 3",
        "gangway_request_head_duration_seconds_count{route=\"api\"} 3",
    ];
    for line in want_lines {
        assert!(out.lines().any(|l| l == line), "missing {line}\n{out}");
    }
    assert!(
        !out.contains("idle"),
        "a route without observations is left out"
    );
}
