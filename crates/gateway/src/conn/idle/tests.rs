use std::time::Duration;

use tokio::time::Instant;

use super::{deadline, Activity, Budget, Phase};

const BUDGET: Budget = Budget {
    header_read: Duration::from_secs(3),
    client_idle: Duration::from_secs(75),
};

#[test]
fn deadline_per_phase() {
    let t = Instant::now();
    let table = [
        (Phase::Head, Some(t + Duration::from_secs(3))),
        (Phase::Busy, None),
        (Phase::Idle, Some(t + Duration::from_secs(75))),
    ];
    for (phase, want) in table {
        assert_eq!(deadline(phase, t, BUDGET), want, "{phase:?}");
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
    assert_eq!(fired, Phase::Idle);
}
