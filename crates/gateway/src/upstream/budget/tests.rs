use super::*;

fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

#[test]
fn quiet_group_gets_the_minimum() {
    let start = Instant::now();
    let b = Budget::new(Settings::default(), start);
    // No requests at all: 3 per second × 10 s.
    let granted = (0..100).filter(|_| b.try_retry(at(start, 500))).count();
    assert_eq!(granted, 30);
}

#[test]
fn ratio_of_recent_requests() {
    let start = Instant::now();
    let settings = Settings {
        min_per_second: 0,
        ..Settings::default()
    };
    let b = Budget::new(settings, start);
    for _ in 0..1000 {
        b.record_request(at(start, 100));
    }
    let granted = (0..1000).filter(|_| b.try_retry(at(start, 200))).count();
    assert_eq!(granted, 200);
    assert_eq!(b.totals(at(start, 200)), (1000, 200));
    // Ten seconds later those requests (and retries) have left the window.
    assert_eq!(b.totals(at(start, 10_100)), (0, 0));
    assert!(!b.try_retry(at(start, 10_100)));
    // Nine seconds later they still count.
    assert_eq!(b.totals(at(start, 9_900)), (1000, 200));
}

#[test]
fn buckets_are_reused_across_laps() {
    let start = Instant::now();
    let b = Budget::new(Settings::default(), start);
    b.record_request(at(start, 0));
    b.record_request(at(start, 20_000)); // same slot, two laps later
    assert_eq!(b.totals(at(start, 20_000)), (1, 0));
    // A clock reading from before the reset (another thread) is dropped, not mixed in.
    b.record_request(at(start, 0));
    assert_eq!(b.totals(at(start, 20_000)), (1, 0));
}

/// Acceptance (issue 11): every server answers 503, `retry_on = ["5xx"]`, `retries = 2`:
/// the servers see at most 1.2 × the client requests + the minimum. 100 requests a second
/// for 60 simulated seconds.
#[test]
fn brownout_does_not_multiply_load() {
    let start = Instant::now();
    let settings = Settings::default();
    let b = Budget::new(settings, start);
    let retries_per_request = 2;
    let (mut client, mut server) = (0u64, 0u64);
    for ms in (0..60_000).step_by(10) {
        let now = at(start, ms);
        b.record_request(now);
        client += 1;
        server += 1;
        for _ in 0..retries_per_request {
            if !b.try_retry(now) {
                break;
            }
            server += 1;
        }
    }
    let window = settings.window.as_secs() as f64;
    let minimum =
        f64::from(settings.min_per_second) * 60.0 + f64::from(settings.min_per_second) * window;
    let bound = 1.2 * client as f64 + minimum;
    assert!(
        (server as f64) <= bound,
        "{server} server requests for {client} client requests (bound {bound})"
    );
    // And the budget is used, not simply closed: well over the client count.
    assert!(
        server as f64 > 1.15 * client as f64,
        "{server} for {client}"
    );
}
