use super::*;

fn at(start: Instant, secs: u64) -> Instant {
    start + Duration::from_secs(secs)
}

fn fail(d: &Detector, server: usize, times: usize, now: Instant) -> Vec<Event> {
    (0..times)
        .filter_map(|_| d.report(server, Outcome::Failure, now))
        .collect()
}

#[test]
fn max_ejected_table() {
    for (n, percent, want) in [
        (0, 50, 0),
        (1, 50, 0),
        (2, 50, 1),
        (3, 50, 1),
        (4, 50, 2),
        (10, 10, 1),
        (10, 0, 0),
        (3, 100, 3),
        (3, 255, 3),
        (5, 1, 1),
    ] {
        assert_eq!(max_ejected(n, percent), want, "{n} servers, {percent} %");
    }
}

#[test]
fn ejection_time_grows_and_caps() {
    let s = Settings::default();
    let secs = |n| ejection_time(&s, n).as_secs();
    assert_eq!(
        [
            secs(0),
            secs(1),
            secs(2),
            secs(3),
            secs(30),
            secs(31),
            secs(u32::MAX)
        ],
        [10, 10, 20, 30, 300, 300, 300]
    );
}

#[test]
fn consecutive_failures_eject_and_success_resets() {
    let start = Instant::now();
    let d = Detector::new(Settings::default(), 3, start);
    assert!(fail(&d, 0, 4, start).is_empty());
    d.report(0, Outcome::Success, start);
    assert!(
        fail(&d, 0, 4, start).is_empty(),
        "the success reset the count"
    );
    assert_eq!(
        fail(&d, 0, 1, start),
        [Event::Ejected {
            for_: Duration::from_secs(10),
            times: 1
        }]
    );
    assert!(!d.usable(0, at(start, 9)));
    assert!(d.usable(1, at(start, 9)));
    assert_eq!(d.ejected(at(start, 9)), 1);
    // Back after 10 s; the next ejection lasts 20 s.
    assert!(d.usable(0, at(start, 10)));
    assert_eq!(
        fail(&d, 0, 5, at(start, 10)),
        [Event::Ejected {
            for_: Duration::from_secs(20),
            times: 2
        }]
    );
    assert!(!d.usable(0, at(start, 29)));
    assert!(d.usable(0, at(start, 30)));
}

#[test]
fn failures_while_ejected_do_not_extend_it() {
    let start = Instant::now();
    let d = Detector::new(Settings::default(), 2, start);
    fail(&d, 0, 5, start);
    // Requests already in flight when it was ejected fail too: no second ejection.
    assert!(fail(&d, 0, 20, at(start, 1)).is_empty());
    assert_eq!(d.times_ejected(0), 1);
    assert!(d.usable(0, at(start, 10)));
}

#[test]
fn never_more_than_max_ejected_percent() {
    let start = Instant::now();
    let d = Detector::new(Settings::default(), 4, start);
    assert_eq!(fail(&d, 0, 5, start).len(), 1);
    assert_eq!(fail(&d, 1, 5, start).len(), 1);
    assert_eq!(fail(&d, 2, 5, start), [Event::EjectionRefused]);
    assert!(d.usable(2, start));
    assert_eq!(d.ejected(start), 2);
    // Once the first two are back, the third may go.
    assert!(matches!(
        fail(&d, 2, 1, at(start, 10)).as_slice(),
        [Event::Ejected { .. }]
    ));
}

#[test]
fn a_single_server_is_never_ejected() {
    let start = Instant::now();
    let d = Detector::new(Settings::default(), 1, start);
    assert_eq!(fail(&d, 0, 5, start), [Event::EjectionRefused]);
    assert!(d.usable(0, start));
}

#[test]
fn long_health_forgives_past_ejections() {
    let start = Instant::now();
    let d = Detector::new(Settings::default(), 2, start);
    fail(&d, 0, 5, start);
    fail(&d, 0, 5, at(start, 10)); // out until 30 s, times = 2
    d.report(0, Outcome::Success, at(start, 100));
    assert_eq!(
        d.times_ejected(0),
        2,
        "not yet max_ejection past the last ejection"
    );
    d.report(0, Outcome::Success, at(start, 330));
    assert_eq!(d.times_ejected(0), 0);
    assert_eq!(
        fail(&d, 0, 5, at(start, 331)),
        [Event::Ejected {
            for_: Duration::from_secs(10),
            times: 1
        }]
    );
}

#[test]
fn unknown_server_is_ignored() {
    let d = Detector::new(Settings::default(), 1, Instant::now());
    assert_eq!(d.report(7, Outcome::Failure, Instant::now()), None);
    assert!(d.usable(7, Instant::now()));
}
