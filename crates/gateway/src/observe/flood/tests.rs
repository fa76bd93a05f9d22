use std::time::{Duration, Instant};

use super::*;

const W: Duration = Duration::from_secs(10);

fn secs(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

#[test]
fn first_logged_repeats_summarised_per_pair() {
    let t0 = Instant::now();
    let mut state = FloodState::new(W, t0);
    assert!(state.note("a:80", "connect", t0).log);
    for _ in 0..1_000 {
        assert!(!state.note("a:80", "connect", secs(t0, 1)).log);
    }
    // Another reason or upstream is a first occurrence of its own.
    assert!(state.note("a:80", "timeout", secs(t0, 2)).log);
    assert!(state.note("b:80", "connect", secs(t0, 2)).log);
    assert!(!state.note("b:80", "connect", secs(t0, 3)).log);
    assert!(state.flush(secs(t0, 9)).is_empty(), "not due yet");

    let summaries = state.flush(secs(t0, 10));
    assert_eq!(
        summaries,
        vec![
            Summary {
                upstream: "a:80".into(),
                reason: "connect",
                count: 1_000
            },
            Summary {
                upstream: "b:80".into(),
                reason: "connect",
                count: 1
            },
        ]
    );
    // a:80/timeout had no repeats: forgotten, so its next failure is logged again;
    // a:80/connect is still flooding: counted.
    assert!(state.note("a:80", "timeout", secs(t0, 11)).log);
    assert!(!state.note("a:80", "connect", secs(t0, 11)).log);
}

#[test]
fn summaries_come_with_the_next_failure_after_the_window() {
    let t0 = Instant::now();
    let mut state = FloodState::new(W, t0);
    state.note("a:80", "reset", t0);
    state.note("a:80", "reset", secs(t0, 5));
    let d = state.note("a:80", "reset", secs(t0, 12));
    assert!(!d.log);
    assert_eq!(d.summaries.len(), 1);
    assert_eq!(d.summaries[0].count, 1);
    // The new window counts from the flush.
    let d = state.note("a:80", "reset", secs(t0, 21));
    assert!(d.summaries.is_empty());
    assert_eq!(state.flush(secs(t0, 22))[0].count, 2);
    // A quiet window: nothing to say, and the pair is forgotten.
    assert!(state.flush(secs(t0, 40)).is_empty());
    assert!(state.note("a:80", "reset", secs(t0, 41)).log);
}

#[test]
fn pairs_are_bounded() {
    let t0 = Instant::now();
    let mut state = FloodState::new(W, t0);
    let logged = (0..MAX_PAIRS + 50)
        .filter(|i| state.note(&format!("h{i}:80"), "connect", t0).log)
        .count();
    assert_eq!(logged, MAX_PAIRS);
    let summaries = state.flush(secs(t0, 10));
    assert_eq!(
        summaries,
        vec![Summary {
            upstream: "*".into(),
            reason: "connect",
            count: 50
        }]
    );
}

#[test]
fn shared_wrapper_does_not_panic() {
    let flood = Flood::new(Duration::ZERO);
    flood.upstream_failure("a:80", "connect", &"refused");
    flood.upstream_failure("a:80", "connect", &"refused");
    flood.flush();
}
