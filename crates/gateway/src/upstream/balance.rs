//! Choosing a server: the four policies, as pure functions of the group's shape, a view of
//! each server's live state (usable? requests in flight?) and a random number source.
//!
//! Nothing here takes a lock. The only shared state a pick touches is the round-robin
//! cursor (one `AtomicUsize`) and whatever the [`View`] reads (atomics in `Group`).
//! Randomness comes from a per-thread xorshift generator ([`thread_rng`]): two candidates
//! for power of two choices cost two multiplications, not a syscall or a shared RNG.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::header::{HeaderMap, HeaderName, COOKIE};

/// `balance = "…"`: how a group chooses a server for each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// Power of two choices: two servers drawn at random (by weight), the one with fewer
    /// requests in flight per unit of weight wins. The default: it steers away from a slow
    /// server without any global state.
    #[default]
    LeastRequests,
    /// nginx's smooth weighted round robin: a weight-3 server gets every third turn spread
    /// out (`a a b a` → `a b a a`), not in bursts.
    RoundRobin,
    /// Random, proportional to weight.
    Random,
    /// Consistent hashing of a request key ([`HashOn`]) on a Ketama-style ring.
    Hash,
}

/// `hash_on = "…"`: which part of a request is the key for `balance = "hash"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// `header:NAME`: the value of a request header (all values, in order).
    Header(HeaderName),
    /// `cookie:NAME`: the value of one cookie.
    Cookie(String),
    /// `client_ip`: the downstream peer's address.
    ClientIp,
}

impl HashOn {
    /// Parses `header:x-user-id`, `cookie:session` or `client_ip`.
    pub fn parse(text: &str) -> Result<HashOn, String> {
        let bad = |why: &str| format!("invalid hash_on \"{text}\": {why}");
        if text == "client_ip" {
            return Ok(HashOn::ClientIp);
        }
        if let Some(name) = text.strip_prefix("header:") {
            return HeaderName::from_bytes(name.as_bytes())
                .map(HashOn::Header)
                .map_err(|_| bad("not a valid header name"));
        }
        if let Some(name) = text.strip_prefix("cookie:") {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            return if token {
                Ok(HashOn::Cookie(name.to_owned()))
            } else {
                Err(bad("not a valid cookie name"))
            };
        }
        Err(bad(
            "expected \"header:NAME\", \"cookie:NAME\" or \"client_ip\"",
        ))
    }

    /// The request's key, hashed; `None` when the header or cookie is absent (the group
    /// then picks at random: a request without a key has no server to stick to).
    pub fn key(&self, headers: &HeaderMap, client_ip: IpAddr) -> Option<u64> {
        let mut h = Fnv::default();
        match self {
            HashOn::ClientIp => match client_ip {
                IpAddr::V4(v4) => h.write(&v4.octets()),
                // A v4-mapped v6 peer (a dual-stack listener) is the same client as its v4 form.
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => h.write(&v4.octets()),
                    None => h.write(&v6.octets()),
                },
            },
            HashOn::Header(name) => {
                let mut values = headers.get_all(name).iter().peekable();
                values.peek()?;
                for (i, value) in values.enumerate() {
                    if i > 0 {
                        h.write(b",");
                    }
                    h.write(value.as_bytes());
                }
            }
            HashOn::Cookie(name) => h.write(cookie(headers, name)?),
        }
        Some(mix(h.finish()))
    }
}

/// The value of cookie `name` in the request's `Cookie` header(s).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|b| *b == b'=')?;
            let (k, v) = pair.split_at(eq);
            (k.trim_ascii() == name.as_bytes()).then(|| v.get(1..).unwrap_or_default().trim_ascii())
        })
}

/// What a pick needs to know about each server, read live (atomics in the group).
pub trait View {
    /// May receive new requests (not ejected, not failing active checks, address not gone).
    fn usable(&self, server: usize) -> bool;
    /// Requests in flight on this server.
    fn in_flight(&self, server: usize) -> usize;
}

/// Virtual nodes per unit of weight on the hash ring: Ketama's 160 keeps the spread within
/// a few percent of the weights for small groups.
const POINTS_PER_WEIGHT: u32 = 160;
/// The ring holds at most this many points, whatever the weights (memory bound).
const MAX_POINTS: usize = 1 << 20;
/// Round robin's precomputed order is at most this long; weights are scaled down beyond it.
const MAX_ORDER: usize = 1 << 16;

/// A group's balancing structure, built once from the servers' identities and weights.
#[derive(Debug)]
pub struct Balancer {
    policy: Policy,
    weights: Vec<u32>,
    /// Running sum of weights, for weighted random draws.
    cumulative: Vec<u64>,
    /// nginx's smooth weighted order, computed once: a pick is one atomic increment.
    order: Vec<usize>,
    cursor: AtomicUsize,
    /// `(point, server)` sorted by point.
    ring: Vec<(u64, usize)>,
}

impl Balancer {
    /// `ids` name the servers stably (e.g. `http://10.0.0.7:8080`): the ring is a function of
    /// the ids, so removing one server leaves every other server's points where they were.
    /// Weights of 0 are treated as 1 (the config refuses them).
    pub fn new(policy: Policy, servers: &[(&str, u32)]) -> Balancer {
        let weights: Vec<u32> = servers.iter().map(|(_, w)| (*w).max(1)).collect();
        let mut total = 0u64;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += u64::from(*w);
                total
            })
            .collect();
        let order = match policy {
            Policy::RoundRobin => smooth_order(&weights),
            _ => Vec::new(),
        };
        let ring = match policy {
            Policy::Hash => ring(servers, &weights),
            _ => Vec::new(),
        };
        Balancer {
            policy,
            weights,
            cumulative,
            order,
            cursor: AtomicUsize::new(0),
            ring,
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Chooses a usable server, or `None` when none is usable (the caller decides what
    /// panic mode means). `key` is the hashed request key for [`Policy::Hash`].
    pub fn pick(
        &self,
        view: &impl View,
        key: Option<u64>,
        rng: &mut impl FnMut() -> u64,
    ) -> Option<usize> {
        if self.weights.is_empty() {
            return None;
        }
        match (self.policy, key) {
            (Policy::RoundRobin, _) => self.round_robin(view),
            (Policy::Hash, Some(key)) => self.hash(view, key),
            (Policy::LeastRequests, _) => self.least_requests(view, rng),
            (Policy::Random | Policy::Hash, _) => self.random(view, rng),
        }
    }

    fn round_robin(&self, view: &impl View) -> Option<usize> {
        // Each look takes a turn of its own: a skipped server's turn goes to whoever comes
        // next in the order, not always to its neighbour (which would get double shares).
        let len = self.order.len();
        (0..len)
            .filter_map(|_| {
                let turn = self.cursor.fetch_add(1, Ordering::Relaxed);
                self.order.get(turn % len).copied()
            })
            .find(|s| view.usable(*s))
    }

    fn random(&self, view: &impl View, rng: &mut impl FnMut() -> u64) -> Option<usize> {
        // A few weighted draws find a usable server unless most are down; then a scan from
        // a random start keeps the pick fair among the rest.
        for _ in 0..4 {
            let s = self.draw(rng());
            if view.usable(s) {
                return Some(s);
            }
        }
        let n = self.weights.len();
        let start = (rng() % n as u64) as usize;
        (0..n).map(|i| (start + i) % n).find(|s| view.usable(*s))
    }

    fn least_requests(&self, view: &impl View, rng: &mut impl FnMut() -> u64) -> Option<usize> {
        // The common case in one random draw: its two halves pick two distinct usable
        // servers (a 32-bit half covers the weights when they sum below 2^32).
        if self
            .cumulative
            .last()
            .is_some_and(|t| *t <= u64::from(u32::MAX))
        {
            let r = rng();
            let a = self.draw(r & u64::from(u32::MAX));
            let mut b = self.draw(r >> 32);
            if b == a && self.weights.len() > 1 {
                // The same server twice (a third of the time with three equal servers):
                // up to two more draws for `b`, from one more random number, as the path
                // below would make, without drawing `a` again nor going through it.
                let r = rng();
                b = self.draw(r & u64::from(u32::MAX));
                if b == a {
                    b = self.draw(r >> 32);
                }
            }
            if view.usable(a) && view.usable(b) {
                return Some(self.lighter(view, a, b));
            }
        }
        let a = self.random(view, rng)?;
        let mut b = self.random(view, rng)?;
        if b == a && self.weights.len() > 1 {
            // Drawing the same server twice would make this a plain random pick; one more
            // draw is enough to make that rare without looping.
            b = self.random(view, rng)?;
        }
        Some(self.lighter(view, a, b))
    }

    /// Of `a` and `b`, the one with fewer in flight per unit of weight (`a` on a tie).
    fn lighter(&self, view: &impl View, a: usize, b: usize) -> usize {
        // (in_a + 1) / w_a < (in_b + 1) / w_b, cross-multiplied to stay in integers.
        let load =
            |s: usize, other: usize| (view.in_flight(s) as u64 + 1) * u64::from(self.weight(other));
        if load(b, a) < load(a, b) {
            b
        } else {
            a
        }
    }

    fn hash(&self, view: &impl View, key: u64) -> Option<usize> {
        let start = self.ring.partition_point(|(point, _)| *point < key);
        let len = self.ring.len();
        // Walking on past unusable servers keeps consistency: only the keys of a server that
        // left move, and they move to its ring neighbours.
        (0..len)
            .filter_map(|i| self.ring.get((start + i) % len))
            .map(|(_, s)| *s)
            .find(|s| view.usable(*s))
    }

    fn weight(&self, server: usize) -> u32 {
        self.weights.get(server).copied().unwrap_or(1)
    }

    /// The server a uniform 64-bit draw lands on, proportional to weight.
    fn draw(&self, r: u64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let target = r % total;
        self.cumulative
            .partition_point(|c| *c <= target)
            .min(self.weights.len().saturating_sub(1))
    }
}

/// nginx's smooth weighted round robin (ngx_http_upstream_get_peer), run for one full cycle:
/// each turn every server's `current` grows by its weight, the largest wins and pays back
/// the total. Computed once, the order is replayed with an atomic cursor.
pub fn smooth_order(weights: &[u32]) -> Vec<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    // Scale very large weights down so the cycle stays short; the proportions survive.
    let scale = total.div_ceil(MAX_ORDER as u64).max(1);
    let weights: Vec<i64> = weights
        .iter()
        .map(|w| (u64::from(*w) / scale).max(1) as i64)
        .collect();
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(&weights) {
            *c += w;
        }
        let mut best = 0;
        for (i, c) in current.iter().enumerate() {
            if current.get(best).is_some_and(|b| c > b) {
                best = i;
            }
        }
        if let Some(c) = current.get_mut(best) {
            *c -= total;
        }
        order.push(best);
    }
    order
}

fn ring(servers: &[(&str, u32)], weights: &[u32]) -> Vec<(u64, usize)> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum::<u64>().max(1);
    let budget = (MAX_POINTS as u64 / total).clamp(1, u64::from(POINTS_PER_WEIGHT));
    let mut ring = Vec::new();
    for (s, ((id, _), w)) in servers.iter().zip(weights).enumerate() {
        for i in 0..u64::from(*w) * budget {
            let mut h = Fnv::default();
            h.write(id.as_bytes());
            h.write(b"#");
            h.write(&i.to_le_bytes());
            ring.push((mix(h.finish()), s));
        }
    }
    ring.sort_unstable();
    ring
}

/// FNV-1a, 64-bit: stable across builds and Rust versions (std's hasher is not promised to
/// be), so every gateway instance sends a key to the same server.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// splitmix64's finaliser: FNV's low-entropy high bits spread over the whole ring.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded from the OS once per process and advanced per instance: a
    // different stream per thread without a dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish() | 1
}

/// A fast per-thread random number (xorshift64*): balancing needs spread, not secrecy.
pub fn thread_rng() -> u64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        cell.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests;
