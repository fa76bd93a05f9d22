use std::time::Duration;

use tokio::time::Instant;

use super::{deadline, horizon, Activity, Budget, Due, Phase};

const BUDGET: Budget = Budget {
    header_read: Duration::from_secs(3),
    client_idle: Duration::from_secs(75),
    park_after: None,
};

#[test]
fn deadline_per_phase() {
    let t = Instant::now();
    let s = Duration::from_secs;
    let park = Budget {
        park_after: Some(s(1)),
        ..BUDGET
    };
    let late = Budget {
        park_after: Some(s(80)),
        ..BUDGET
    };
    let close = |phase, secs| Some((t + s(secs), Due::Close(phase)));
    // (phase, budget, a response still being written, what is due and when)
    let table = [
        (Phase::Head, BUDGET, false, close(Phase::Head, 3)),
        (Phase::Busy, BUDGET, false, None),
        (Phase::Idle, BUDGET, false, close(Phase::Idle, 75)),
        (Phase::Head, park, false, close(Phase::Head, 3)),
        (Phase::Busy, park, false, None),
        (Phase::Idle, park, false, Some((t + s(1), Due::Park))),
        // hyper would drop the response's last bytes with its buffers.
        (Phase::Idle, park, true, close(Phase::Idle, 75)),
        // Closed before it would be parked.
        (Phase::Idle, late, false, close(Phase::Idle, 75)),
    ];
    for (phase, budget, writing, want) in table {
        assert_eq!(
            deadline(phase, t, budget, writing),
            want,
            "{phase:?} {budget:?} {writing}"
        );
    }
}

#[tokio::test]
async fn phases_follow_requests_and_bytes() {
    let accepted = Instant::now();
    let a = Activity::new(accepted);
    // The first head's clock starts at the accept, whatever came before the head.
    assert_eq!(a.phase(), (Phase::Head, accepted));
    a.read();
    assert_eq!(a.phase(), (Phase::Head, accepted));
    let first = a.begin();
    let second = a.begin();
    assert_eq!(a.phase().0, Phase::Busy);
    // Body bytes of a request in flight do not start a head.
    a.read();
    assert_eq!(a.phase().0, Phase::Busy);
    drop(first);
    assert_eq!(a.phase().0, Phase::Busy);
    drop(second);
    assert_eq!(a.phase().0, Phase::Idle);
    a.read();
    assert_eq!(a.phase().0, Phase::Head);
    let busy = a.begin();
    // An HTTP/2 connection "waits" only when nothing is in flight.
    a.waiting();
    assert_eq!(a.phase().0, Phase::Busy);
    drop(busy);
    a.waiting();
    assert_eq!(a.phase().0, Phase::Idle);
}

#[tokio::test]
async fn expired_fires_only_without_activity() {
    let budget = Budget {
        header_read: Duration::from_millis(20),
        client_idle: Duration::from_millis(30),
        park_after: None,
    };
    let a = Activity::new(Instant::now());
    // A busy connection is not expired; it becomes idle and then fires in that phase.
    let busy = a.begin();
    let waiter = {
        let a = std::sync::Arc::clone(&a);
        tokio::spawn(async move { a.expired(budget).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    drop(busy);
    let fired = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("bounded")
        .expect("joined");
    assert_eq!(fired, Due::Close(Phase::Idle));
}

#[tokio::test]
async fn parking_is_clean_only_without_a_request_since() {
    let budget = Budget {
        header_read: Duration::from_millis(20),
        client_idle: Duration::from_secs(60),
        park_after: Some(Duration::from_millis(10)),
    };
    let a = Activity::new(Instant::now());
    drop(a.begin());
    assert_eq!(a.expired(budget).await, Due::Park);
    assert!(a.parked(), "nothing began while parking");
    // Idle again from the same moment: parking is due again at once.
    assert_eq!(a.expired(budget).await, Due::Park);
    // A request slipped in between the decision and hyper's end: its response said
    // `Connection: close`, so the connection must not be kept.
    drop(a.begin());
    assert!(!a.parked());
}

#[test]
fn the_watchdog_never_sleeps_for_nothing() {
    let ms = Duration::from_millis;
    let park = |d| Budget {
        park_after: Some(d),
        ..BUDGET
    };
    // (budget, how long the watchdog may sleep between looks)
    let table = [
        (BUDGET, Duration::from_secs(3)),
        (park(Duration::from_secs(1)), Duration::from_secs(1)),
        (park(ms(50)), ms(50)),
        // `client_park = "0s"`: not a busy loop.
        (park(Duration::ZERO), ms(10)),
        (park(ms(1)), ms(10)),
    ];
    for (budget, want) in table {
        assert_eq!(horizon(budget), want, "{budget:?}");
    }
}
