//! `strict`: the HTTP/1 checker (`gangway::strict::Checker`) gives one verdict for one byte
//! stream, however the stream is cut into reads.
//!
//! The input (after one byte choosing the limits) is a connection's bytes. They are fed three
//! ways: in one `feed`, one byte at a time, and in reads of a length taken from the input.
//! All three must give the same verdict (the same violation for the same request, or none).
//! A whole line in one read goes through the checker's fast path (`strict/scan.rs`); a line
//! cut by a read, and every line fed a byte at a time, through the general path. So this is
//! a differential of the two paths as well as of the checker against its own chunking: a
//! smuggling payload split differently must not pass where the whole one is refused.
#![no_main]

use gangway::strict::{Checker, Limits, Verdict};
use libfuzzer_sys::fuzz_target;

fn verdict_in_reads(limits: Limits, bytes: &[u8], read: usize) -> Option<Verdict> {
    let mut checker = Checker::new(limits);
    for chunk in bytes.chunks(read.max(1)) {
        checker.feed(chunk);
    }
    checker.verdict()
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    // The gateway's defaults, or limits small enough that the fuzzer reaches them.
    let limits = if choice & 1 == 0 {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
        }
    } else {
        Limits {
            max_header_bytes: 96,
            max_headers: 4,
            max_uri_bytes: 24,
        }
    };
    let whole = verdict_in_reads(limits, bytes, bytes.len());
    let bytewise = verdict_in_reads(limits, bytes, 1);
    assert_eq!(whole, bytewise, "one read vs a byte at a time");
    let read = usize::from(choice >> 1) + 2;
    let reads = verdict_in_reads(limits, bytes, read);
    assert_eq!(whole, reads, "one read vs reads of {read} bytes");
});
