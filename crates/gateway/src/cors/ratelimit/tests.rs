use super::*;

/// (last octet, tokens, last seen in ms after t0)
type Buckets = &'static [(u8, f64, u64)];

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn bucket_sequence() {
    let t0 = Instant::now();
    let rl = RateLimiter::new(2.0, 3);
    let a = ip("192.0.2.1");
    // (offset from t0, expected)
    let steps: &[(u64, Result<(), Duration>)] = &[
        (0, Ok(())),
        (0, Ok(())),
        (0, Ok(())),
        (0, Err(ms(500))),
        (250, Err(ms(250))),
        (500, Ok(())),
        (500, Err(ms(500))),
        (2000, Ok(())), // refilled to 3 (capped), took one
        (2000, Ok(())),
        (2000, Ok(())),
        (2000, Err(ms(500))),
        (1000, Err(ms(500))), // time going backwards never adds tokens
    ];
    for (i, (offset, want)) in steps.iter().enumerate() {
        let got = rl.check(a, t0 + ms(*offset));
        let close = match (got, want) {
            (Ok(()), Ok(())) => true,
            (Err(g), Err(w)) => g.abs_diff(*w) < ms(1),
            _ => false,
        };
        assert!(close, "step {i}: got {got:?}, want {want:?}");
    }
}

#[test]
fn clients_are_independent_and_keyed_sensibly() {
    let t0 = Instant::now();
    // (first client, second client, share a bucket)
    let cases = [
        ("192.0.2.1", "192.0.2.2", false),
        ("192.0.2.1", "::ffff:192.0.2.1", true),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", false),
        ("::1", "::2", true),
    ];
    for (first, second, shared) in cases {
        let rl = RateLimiter::new(1.0, 1);
        assert_eq!(rl.check(ip(first), t0), Ok(()), "{first}");
        let got = rl.check(ip(second), t0);
        assert_eq!(got.is_err(), shared, "{first} then {second}");
    }
}

#[test]
fn degenerate_configurations() {
    let t0 = Instant::now();
    let cases = [(0.0, 0), (1.0, 0), (f64::NAN, 0)];
    for (rate, burst) in cases {
        let rl = RateLimiter::new(rate, burst);
        assert_eq!(
            rl.check(ip("192.0.2.1"), t0),
            Err(MAX_RETRY_AFTER),
            "{rate} {burst}"
        );
        assert!(rl.is_empty());
    }
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let rl = RateLimiter::new(rate, 1);
        assert_eq!(rl.check(ip("192.0.2.1"), t0), Ok(()), "{rate}");
        assert_eq!(
            rl.check(ip("192.0.2.1"), t0 + ms(10_000)),
            Err(MAX_RETRY_AFTER),
            "{rate}"
        );
    }
    let slow = RateLimiter::new(1e-9, 1);
    assert_eq!(slow.check(ip("192.0.2.1"), t0), Ok(()));
    assert_eq!(slow.check(ip("192.0.2.1"), t0), Err(MAX_RETRY_AFTER));
}

#[test]
fn memory_is_bounded() {
    let t0 = Instant::now();
    let rl = RateLimiter::new(1.0, 5).with_max_clients(64);
    for i in 0..10_000u32 {
        let addr = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        assert_eq!(rl.check(addr, t0 + ms(u64::from(i % 7))), Ok(()));
        assert!(rl.len() <= 64, "after {i} clients: {}", rl.len());
    }
    for i in 0..10_000u32 {
        let addr = Ipv6Addr::from(u128::from(i) << 64);
        assert_eq!(rl.check(IpAddr::V6(addr), t0), Ok(()));
    }
    assert!(rl.len() <= 64);
}

#[test]
fn eviction_drops_refilled_buckets_before_active_ones() {
    let t0 = Instant::now();
    let rule = Rule {
        rate: 1.0,
        burst: 5.0,
    };
    let bucket = |tokens, at| Bucket {
        tokens,
        last: t0 + ms(at),
    };
    // (buckets as (last octet, tokens, last seen ms), evict at ms, survivors)
    let cases: &[(Buckets, u64, &[u8])] = &[
        // Refilled buckets go; the drained one stays.
        (
            &[(1, 0.0, 0), (2, 4.0, 0), (3, 5.0, 0), (4, 4.5, 0)],
            1000,
            &[1],
        ),
        // Nobody refilled: the least recently seen half goes.
        (
            &[(1, 0.0, 400), (2, 0.0, 100), (3, 0.0, 300), (4, 0.0, 200)],
            500,
            &[1, 3],
        ),
        (
            &[
                (1, 0.0, 400),
                (2, 0.0, 100),
                (3, 0.0, 300),
                (4, 0.0, 200),
                (5, 0.0, 500),
                (6, 0.0, 600),
                (7, 0.0, 700),
                (8, 0.0, 800),
            ],
            900,
            &[5, 6, 7, 8],
        ),
    ];
    for (buckets, at, survivors) in cases {
        let mut map: HashMap<IpAddr, Bucket> = buckets
            .iter()
            .map(|&(o, tokens, last)| (IpAddr::from([192, 0, 2, o]), bucket(tokens, last)))
            .collect();
        evict(&mut map, rule, t0 + ms(*at), buckets.len());
        let mut left: Vec<u8> = map
            .keys()
            .filter_map(|k| match k {
                IpAddr::V4(v4) => Some(v4.octets()[3]),
                IpAddr::V6(_) => None,
            })
            .collect();
        left.sort_unstable();
        assert_eq!(left, *survivors, "{buckets:?}");
    }
}

#[test]
fn retry_after_rounds_up() {
    let cases = [
        (ms(0), 1),
        (ms(1), 1),
        (ms(1000), 1),
        (ms(1001), 2),
        (ms(2500), 3),
        (MAX_RETRY_AFTER, 3600),
    ];
    for (wait, secs) in cases {
        assert_eq!(retry_after_secs(wait), secs, "{wait:?}");
    }
}
