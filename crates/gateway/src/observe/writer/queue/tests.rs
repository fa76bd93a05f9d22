use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;

#[test]
fn push_reports_the_first_line_and_the_early_write_size() {
    let queue = Queue::new();
    let open = AtomicBool::new(false);
    let cases: [(&[u8], Pushed); 4] = [
        (
            b"abc\n",
            Pushed::Queued {
                first: true,
                crossed: false,
            },
        ),
        (
            b"defg\n",
            Pushed::Queued {
                first: false,
                crossed: true,
            },
        ),
        (
            b"h\n",
            Pushed::Queued {
                first: false,
                crossed: false,
            },
        ),
        // 11 bytes queued, capacity 12: two more do not fit.
        (b"ij\n", Pushed::Dropped),
    ];
    for (line, expected) in cases {
        assert_eq!(queue.push(line, 12, 8, &open), expected, "{line:?}");
    }
    assert!(queue.queued.load(Ordering::SeqCst));
    let mut batch = Vec::new();
    assert_eq!(queue.take(&mut batch), 3);
    assert_eq!(batch, b"abc\ndefg\nh\n");
    assert!(!queue.queued.load(Ordering::SeqCst));
    // Empty again: the next line is a batch's first.
    assert_eq!(
        queue.push(b"k\n", 12, 8, &open),
        Pushed::Queued {
            first: true,
            crossed: false
        }
    );
}

#[test]
fn a_closed_queue_refuses_lines() {
    let queue = Queue::new();
    let closed = AtomicBool::new(true);
    assert_eq!(queue.push(b"x\n", 1024, 512, &closed), Pushed::Dropped);
    assert_eq!(queue.take(&mut Vec::new()), 0);
}

#[test]
fn each_thread_keeps_its_queue_and_threads_get_their_own_numbers() {
    let queues = Arc::new(Queues::with_count(64));
    let mine = queues.mine() as *const Queue as usize;
    assert_eq!(
        queues.mine() as *const Queue as usize,
        mine,
        "same thread, same queue"
    );
    let mut numbers: Vec<usize> = (0..3)
        .map(|_| std::thread::spawn(thread_number).join().expect("thread"))
        .collect();
    numbers.push(thread_number());
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 4, "{numbers:?}");
}

#[test]
fn any_queued_follows_the_queues() {
    let queues = Queues::with_count(4);
    assert!(!queues.any_queued());
    let open = AtomicBool::new(false);
    queues.mine().push(b"x\n", 64, 32, &open);
    assert!(queues.any_queued());
    for queue in queues.iter() {
        queue.take(&mut Vec::new());
    }
    assert!(!queues.any_queued());
}
