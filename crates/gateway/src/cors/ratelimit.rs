//! Per-client token buckets for the CORS proxy (429 + `Retry-After`).
//!
//! Why this exists: an open proxy is a free relay for anyone's traffic, and
//! `Origin` (what cors-anywhere rate-limits on) is forged at will by
//! non-browser clients. The client's IP address is the one key the client
//! cannot choose freely, so buckets are keyed by it. Time is an argument, so
//! the limiter is pure and tested without sleeping; memory is bounded, so
//! many source addresses cannot exhaust it.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Shards of the bucket map; one lock per shard keeps contention low.
const SHARDS: usize = 16;

/// Default for [`RateLimiter::with_max_clients`]: 65 536 buckets, a few MiB.
const DEFAULT_MAX_CLIENTS: usize = 65_536;

/// Upper bound on the retry-after hint (also used when the limiter can never
/// admit a request: zero rate or zero burst).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The refill rule shared by checking and eviction.
#[derive(Clone, Copy, Debug)]
struct Rule {
    rate: f64,
    burst: f64,
}

impl Rule {
    fn tokens_at(self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    fn take(self, bucket: &mut Bucket, now: Instant) -> Result<(), Duration> {
        bucket.tokens = self.tokens_at(bucket, now);
        // Never move `last` backwards if callers pass times out of order.
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        if self.rate <= 0.0 {
            return Err(MAX_RETRY_AFTER);
        }
        let wait = (1.0 - bucket.tokens) / self.rate;
        Err(Duration::try_from_secs_f64(wait)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER))
    }

    fn is_full(self, bucket: &Bucket, now: Instant) -> bool {
        self.tokens_at(bucket, now) >= self.burst
    }
}

/// A token bucket per client: `burst` requests at once, refilled at
/// `rate_per_sec`. IPv4-mapped IPv6 counts as the IPv4 address; other IPv6
/// clients are keyed by their /64, since one host usually controls a whole
/// /64 and could otherwise rotate addresses to get fresh buckets.
pub struct RateLimiter {
    rule: Rule,
    shards: [Mutex<HashMap<IpAddr, Bucket>>; SHARDS],
    shard_cap: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rate_per_sec", &self.rule.rate)
            .field("burst", &self.rule.burst)
            .field("max_clients", &(self.shard_cap * SHARDS))
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `burst` requests at once per client, refilled at `rate_per_sec`. A
    /// rate that is not a positive finite number means "no refill"; a burst
    /// of 0 refuses everything.
    pub fn new(rate_per_sec: f64, burst: u32) -> RateLimiter {
        let rate = if rate_per_sec.is_finite() && rate_per_sec > 0.0 {
            rate_per_sec
        } else {
            0.0
        };
        RateLimiter {
            rule: Rule {
                rate,
                burst: f64::from(burst),
            },
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            shard_cap: DEFAULT_MAX_CLIENTS / SHARDS,
            hasher: Default::default(),
        }
    }

    /// Caps the number of tracked clients (rounded up to a multiple of 16).
    /// When a shard is full, buckets that have refilled completely are
    /// dropped first (forgetting them changes nothing); if that frees too
    /// little, the least recently seen half goes, which briefly gives those
    /// clients a fresh burst. Default 65 536.
    pub fn with_max_clients(mut self, max_clients: usize) -> RateLimiter {
        self.shard_cap = max_clients.div_ceil(SHARDS).max(1);
        self
    }

    /// Takes one token for `ip` at time `now`. `Err` carries how long until
    /// a token is available (at most one hour): answer 429 with
    /// `Retry-After: retry_after_secs(wait)`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rule.burst < 1.0 {
            return Err(MAX_RETRY_AFTER);
        }
        let key = client_key(ip);
        // RandomState: a client cannot aim all its addresses at one shard.
        let shard = self.hasher.hash_one(key) as usize % SHARDS;
        let mut map = self.shards[shard].lock();
        if let Some(bucket) = map.get_mut(&key) {
            return self.rule.take(bucket, now);
        }
        if map.len() >= self.shard_cap {
            evict(&mut map, self.rule, now, self.shard_cap);
        }
        let mut bucket = Bucket {
            tokens: self.rule.burst,
            last: now,
        };
        let verdict = self.rule.take(&mut bucket, now);
        map.insert(key, bucket);
        verdict
    }

    /// Number of clients currently tracked.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// `true` when no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The bucket key: IPv4 (also when IPv4-mapped), or the IPv6 /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// Makes room in a full shard: drop refilled buckets; if the shard is still
/// over three quarters full, drop the least recently seen half so the next
/// `cap / 4` new clients insert without another scan (amortised O(1)).
fn evict(map: &mut HashMap<IpAddr, Bucket>, rule: Rule, now: Instant, cap: usize) {
    map.retain(|_, b| !rule.is_full(b, now));
    if map.len() * 4 <= cap * 3 {
        return;
    }
    let mut seen: Vec<Instant> = map.values().map(|b| b.last).collect();
    // Drop the median and everything seen before it: at least half.
    let mid = seen.len().saturating_sub(1) / 2;
    let (_, &mut cutoff, _) = seen.select_nth_unstable(mid);
    map.retain(|_, b| b.last > cutoff);
}

#[cfg(test)]
mod tests {
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
}
