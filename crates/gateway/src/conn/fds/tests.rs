use std::io;

use super::{is_out_of_fds, Need, RESERVE};

/// (limits, open-file limit, `Ok` or the parts the refusal must name).
type Case = (Need, u64, Result<(), &'static [&'static str]>);

#[test]
fn check_fits_or_names_the_numbers() {
    let table: &[Case] = &[
        (
            Need {
                clients: 10_000,
                per_host: Some(1024),
                upstream_hosts: 2,
            },
            1_048_576,
            Ok(()),
        ),
        // Exactly at the limit fits.
        (
            Need {
                clients: 100,
                per_host: Some(10),
                upstream_hosts: 3,
            },
            100 + 30 + RESERVE,
            Ok(()),
        ),
        (
            Need {
                clients: 100,
                per_host: Some(10),
                upstream_hosts: 3,
            },
            100 + 30 + RESERVE - 1,
            Err(&[
                "need 258",
                "max_connections (100)",
                "(10) × 3 upstream",
                "is 257",
            ]),
        ),
        (
            Need {
                clients: 10_000,
                per_host: Some(1024),
                upstream_hosts: 1,
            },
            1024,
            Err(&["need 11152", "is 1024"]),
        ),
        // Unlimited per host: only the clients are counted.
        (
            Need {
                clients: 500,
                per_host: None,
                upstream_hosts: 9,
            },
            1024,
            Ok(()),
        ),
        (
            Need {
                clients: u64::MAX,
                per_host: Some(u64::MAX),
                upstream_hosts: 2,
            },
            u64::MAX - 1,
            Err(&["need 18446744073709551615"]),
        ),
    ];
    for (need, limit, want) in table {
        match (need.check(*limit), want) {
            (Ok(()), Ok(())) => {}
            (Err(msg), Err(parts)) => {
                for part in *parts {
                    assert!(msg.contains(part), "{msg:?} lacks {part:?}");
                }
            }
            (got, _) => panic!("{need:?} at {limit}: {got:?}"),
        }
    }
}

#[derive(Debug)]
struct Wrapper(io::Error);

impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connect failed")
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn out_of_fds_is_found_in_the_chain() {
    let table = [
        (io::Error::from_raw_os_error(24), true),
        (io::Error::from_raw_os_error(23), true),
        (io::Error::from_raw_os_error(111), false),
        (io::Error::other("x"), false),
    ];
    for (e, want) in table {
        let code = e.raw_os_error();
        assert_eq!(is_out_of_fds(&Wrapper(e)), want, "{code:?}");
    }
}

#[test]
fn a_lasting_accept_failure_is_logged_once_per_period() {
    use super::{AcceptFailures, ACCEPT_LOG_EVERY};
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let every = u64::try_from(ACCEPT_LOG_EVERY.as_millis()).unwrap_or(u64::MAX);
    let mut f = AcceptFailures::default();
    // (time in ms, what `note` says)
    let table = [
        (0, Some(0)),
        (100, None),
        (200, None),
        (every - 1, None),
        (every, Some(3)),
        (every + 100, None),
        // A clock that goes backwards (another thread's reading) stays quiet, not a panic.
        (0, None),
        (3 * every, Some(2)),
    ];
    for (ms, want) in table {
        assert_eq!(f.note(at(ms)), want, "at {ms} ms");
    }
}
