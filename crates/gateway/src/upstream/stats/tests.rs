use super::*;

#[test]
fn failure_kinds_from_the_retry_rules() {
    for (failure, timed_out, kind) in [
        (Failure::Connect, false, FailureKind::Connect),
        (Failure::Unwritten, false, FailureKind::Reset),
        (Failure::StaleConnection, false, FailureKind::Reset),
        (Failure::RefusedStream, false, FailureKind::Reset),
        (Failure::Status(503), false, FailureKind::Status),
        (Failure::Other, false, FailureKind::Other),
        (Failure::Other, true, FailureKind::Timeout),
    ] {
        assert_eq!(FailureKind::of(failure, timed_out), kind, "{failure:?}");
    }
}

#[test]
fn counters_and_last_failure() {
    let s = ServerStats::default();
    assert_eq!(s.last_failure(), None);
    s.record_failure(FailureKind::Connect);
    s.record_failure(FailureKind::Connect);
    s.record_failure(FailureKind::Status);
    assert_eq!(s.failures_of(FailureKind::Connect), 2);
    assert_eq!(s.failures(), 3);
    assert_eq!(s.last_failure().map(|(k, _)| k), Some(FailureKind::Status));
}

#[test]
fn head_times_land_in_their_bucket() {
    let s = ServerStats::default();
    s.record_head(Duration::from_micros(400)); // ≤ 0.5 ms
    s.record_head(Duration::from_millis(30)); // ≤ 50 ms
    s.record_head(Duration::from_secs(60)); // +Inf
    let (counts, sum) = s.head_histogram();
    assert_eq!(counts.len(), HEAD_BUCKETS.len() + 1);
    assert_eq!(counts[0], 1);
    assert_eq!(counts[6], 1);
    assert_eq!(counts[HEAD_BUCKETS.len()], 1);
    assert!((sum - 60.0304).abs() < 1e-6, "{sum}");
}

#[test]
fn bucket_bounds_in_nanos_match_the_seconds() {
    for (secs, nanos) in HEAD_BUCKETS.iter().zip(HEAD_BUCKET_NANOS) {
        assert_eq!((secs * 1e9).round() as u64, nanos, "{secs}");
    }
}
