use super::*;

fn run(settings: &Settings, start: State, probes: &str) -> (State, Vec<Change>) {
    let mut state = start;
    let mut changes = Vec::new();
    for p in probes.chars() {
        let (next, change) = state.after(p == '+', settings);
        state = next;
        changes.extend(change);
    }
    (state, changes)
}

#[test]
fn state_machine_table() {
    let s = Settings::default();
    let healthy = State::Healthy { failures: 0 };
    let unhealthy = State::Unhealthy { passes: 0 };
    use Change::{Down, Up};
    for (start, probes, end, changes) in [
        (State::Unknown, "", State::Unknown, vec![]),
        (State::Unknown, "+", healthy, vec![]),
        (State::Unknown, "-", unhealthy, vec![Down]),
        (healthy, "--", State::Healthy { failures: 2 }, vec![]),
        (healthy, "---", unhealthy, vec![Down]),
        (healthy, "--+--", State::Healthy { failures: 2 }, vec![]),
        (healthy, "------", unhealthy, vec![Down]),
        (unhealthy, "+", State::Unhealthy { passes: 1 }, vec![]),
        (unhealthy, "++", healthy, vec![Up]),
        (unhealthy, "+-+", State::Unhealthy { passes: 1 }, vec![]),
        (
            State::Unknown,
            "-++---++",
            healthy,
            vec![Down, Up, Down, Up],
        ),
    ] {
        assert_eq!(
            run(&s, start, probes),
            (end, changes),
            "{start:?} then {probes}"
        );
    }
    assert!(State::Unknown.usable() && healthy.usable() && !unhealthy.usable());
    assert!(!State::Unhealthy { passes: 1 }.usable());
}

#[test]
fn thresholds_of_one() {
    let s = Settings {
        healthy_after: 1,
        unhealthy_after: 1,
        ..Settings::default()
    };
    let (state, changes) = run(&s, State::Healthy { failures: 0 }, "-+");
    assert_eq!(
        (state, changes),
        (
            State::Healthy { failures: 0 },
            vec![Change::Down, Change::Up]
        )
    );
}

#[test]
fn statuses() {
    for (text, want) in [
        ("2xx", Ok(StatusMatch::Class(2))),
        ("5XX", Ok(StatusMatch::Class(5))),
        ("204", Ok(StatusMatch::Exact(204))),
        ("599", Ok(StatusMatch::Exact(599))),
    ] {
        assert_eq!(StatusMatch::parse(text), want, "{text}");
    }
    for bad in ["", "6xx", "0xx", "22xx", "99", "600", "2x", "x"] {
        assert!(StatusMatch::parse(bad).is_err(), "{bad}");
    }
    let s = Settings::default();
    assert!(s.expected(200) && s.expected(299) && !s.expected(301) && !s.expected(500));
    let s = Settings {
        expected_status: vec![StatusMatch::Class(2), StatusMatch::Exact(301)],
        ..Settings::default()
    };
    assert!(s.expected(301) && !s.expected(302));
}

#[test]
fn jitter_stays_in_band() {
    let interval = Duration::from_secs(2);
    for r in [0, 1, 12345, u64::MAX, 399_999_999, 400_000_000] {
        let d = next_delay(interval, r);
        assert!(
            d >= Duration::from_millis(1800) && d < Duration::from_millis(2200),
            "{d:?}"
        );
        assert!(first_delay(interval, r) < interval);
    }
    assert_ne!(next_delay(interval, 1), next_delay(interval, 2));
    assert_eq!(next_delay(Duration::ZERO, 5), Duration::ZERO);
    assert_eq!(first_delay(Duration::ZERO, 5), Duration::ZERO);
}

#[test]
fn which_probe_results_end_a_passive_ejection() {
    let healthy = State::Healthy { failures: 0 };
    let unhealthy = State::Unhealthy { passes: 1 };
    for (before, passed, change, releases) in [
        // The first verdict is a pass: the server is up now, whatever traffic saw before.
        (State::Unknown, true, None, true),
        (State::Unknown, false, Some(Change::Down), false),
        // Back in rotation.
        (unhealthy, true, Some(Change::Up), true),
        // Half-way back, or a pass while healthy: the ejection (from live traffic's
        // failures, which the probe does not see) stands.
        (State::Unhealthy { passes: 0 }, true, None, false),
        (healthy, true, None, false),
        (healthy, false, None, false),
    ] {
        assert_eq!(
            releases_ejection(before, passed, change),
            releases,
            "{before:?} {passed} {change:?}"
        );
    }
}
