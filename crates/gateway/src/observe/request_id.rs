//! Request ids: a sane incoming one is kept (when trusted), otherwise one is made — 128
//! random bits as 32 lowercase hex digits.
//!
//! The bits come from a per-thread SplitMix64 generator seeded once per thread from the
//! standard library's per-process random hash keys: no syscall and no lock per id. Ids are
//! unique and unpredictable enough to correlate logs; they are not secrets.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use http::{HeaderMap, HeaderName, HeaderValue};

/// Longest incoming id kept.
pub const MAX_LEN: usize = 128;

/// How ids are taken and made (`[request_id]`).
#[derive(Debug, Clone)]
pub struct RequestIdPolicy {
    /// The header read from the client, sent upstream and returned. Default `x-request-id`.
    pub header: HeaderName,
    /// Keep a sane incoming id; `false` = always make one. Default true.
    pub trust_incoming: bool,
}

impl Default for RequestIdPolicy {
    fn default() -> Self {
        RequestIdPolicy {
            header: HeaderName::from_static("x-request-id"),
            trust_incoming: true,
        }
    }
}

impl RequestIdPolicy {
    /// The id for a request with these headers: the incoming one when trusted and sane,
    /// else a new one. The value is visible ASCII, so `to_str()` on it always succeeds.
    pub fn choose(&self, headers: &HeaderMap) -> HeaderValue {
        if self.trust_incoming {
            // Exactly one value: two ids in one request is not an id we can trust.
            let mut values = headers.get_all(&self.header).iter();
            if let (Some(value), None) = (values.next(), values.next()) {
                if is_sane(value.as_bytes()) {
                    return value.clone();
                }
            }
        }
        generate()
    }
}

/// 1 to 128 bytes of visible ASCII (`!` to `~`): safe in a header, a log line and a URL.
pub fn is_sane(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= MAX_LEN && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A new id: 128 random bits, 32 lowercase hex digits.
pub fn generate() -> HeaderValue {
    let mut text = [0u8; 32];
    hex_into(&random_u64().to_be_bytes(), &mut text[..16]);
    hex_into(&random_u64().to_be_bytes(), &mut text[16..]);
    // 32 hex digits are always a valid header value.
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Lowercase hex of `bytes` into `out` (twice as long).
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed: std's `RandomState` keys are random per process (from the OS, once)
/// and differ per `RandomState` made; mixing in the thread id keeps threads apart.
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(format!("{:?}", std::thread::current().id()).as_bytes());
    hasher.finish()
}

/// The next 64 random bits of this thread's SplitMix64 sequence. SplitMix64 is a bijection
/// of its counter, so a thread never repeats a value within 2^64 calls.
pub(crate) fn random_u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests;
