use super::*;

#[test]
fn plan_table() {
    let cases = [
        (10, 10, Resize::Keep),
        (10, 15, Resize::Grow(5)),
        (10, 4, Resize::Shrink(6)),
        (0, 1, Resize::Keep),
        (3, 0, Resize::Shrink(2)),
    ];
    for (old, new, want) in cases {
        assert_eq!(plan(old, new), want, "{old} → {new}");
    }
}

#[tokio::test]
async fn shrinking_waits_for_held_permits() {
    let permits = Arc::new(Semaphore::new(4));
    let held = Arc::clone(&permits)
        .acquire_many_owned(3)
        .await
        .expect("open semaphore");
    resize(&permits, 4, 2);
    // One was free and is gone; one more goes when the held ones come back.
    assert_eq!(permits.available_permits(), 0);
    drop(held);
    for _ in 0..100 {
        if permits.available_permits() == 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(permits.available_permits(), 2);
    resize(&permits, 2, 5);
    assert_eq!(permits.available_permits(), 5);
}
