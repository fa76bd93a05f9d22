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
mod tests;
