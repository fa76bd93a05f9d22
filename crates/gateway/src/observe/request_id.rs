//! Request ids: a sane incoming one is kept (when trusted), otherwise one is made — 128
//! random bits as 32 lowercase hex digits.
//!
//! The bits come from a per-thread SplitMix64 generator seeded once per thread from the
//! standard library's per-process random hash keys: no syscall and no lock per id. Ids are
//! unique and unpredictable enough to correlate logs; they are not secrets.

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, Hasher};

use bytes::{Bytes, BytesMut};
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
        self.choose_marked(headers).0
    }

    /// [`choose`](Self::choose), and whether the id was made here (then it is 32 hex
    /// digits, which a log line writes without looking for bytes to quote or escape).
    pub fn choose_marked(&self, headers: &HeaderMap) -> (HeaderValue, bool) {
        if self.trust_incoming {
            // Exactly one value: two ids in one request is not an id we can trust.
            let mut values = headers.get_all(&self.header).iter();
            if let (Some(value), None) = (values.next(), values.next()) {
                if is_sane(value.as_bytes()) {
                    return (value.clone(), false);
                }
            }
        }
        (generate(), true)
    }
}

/// 1 to 128 bytes of visible ASCII (`!` to `~`): safe in a header, a log line and a URL.
pub fn is_sane(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= MAX_LEN && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A new id: 128 random bits, 32 lowercase hex digits.
///
/// Ids are cut from a per-thread chunk of `CHUNK_IDS` (64) ids made at once: one allocation
/// and one hex pass per chunk, and each id a slice of the shared chunk, so making one and
/// cloning it (upstream, response) costs reference-count updates instead of an allocation
/// each (a fresh `Bytes` allocates again on its first clone). A chunk lives as long as the
/// last id cut from it: 2 KiB.
pub fn generate() -> HeaderValue {
    let id = CHUNK.with(|cell| {
        let mut chunk = cell.borrow_mut();
        if chunk.next == CHUNK_IDS {
            *chunk = Chunk::fresh();
        }
        let start = chunk.next * ID_LEN;
        chunk.next += 1;
        chunk.text.slice(start..start + ID_LEN)
    });
    // Hex digits are always a valid header value; the check is http's own (no way around
    // it without `unsafe`), a byte loop over 32 bytes.
    HeaderValue::from_maybe_shared(id).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Length of a generated id.
const ID_LEN: usize = 32;

/// Ids made per chunk.
const CHUNK_IDS: usize = 64;

/// A thread's ids made in advance; `next` is the first not handed out.
struct Chunk {
    text: Bytes,
    next: usize,
}

impl Chunk {
    /// An exhausted chunk: the first [`generate`] on a thread fills it.
    const fn empty() -> Chunk {
        Chunk {
            text: Bytes::new(),
            next: CHUNK_IDS,
        }
    }

    fn fresh() -> Chunk {
        let mut text = vec![0u8; CHUNK_IDS * ID_LEN];
        for id in text.chunks_exact_mut(ID_LEN) {
            let (high, low) = id.split_at_mut(ID_LEN / 2);
            hex_into(&random_u64().to_be_bytes(), high);
            hex_into(&random_u64().to_be_bytes(), low);
        }
        Chunk {
            text: Bytes::from(text),
            next: 0,
        }
    }
}

/// `text` copied into this thread's arena and handed out as a shared `Bytes`: the arena is
/// one allocation for many small header values (a `traceparent` per upstream attempt),
/// each a reference-counted view, instead of an allocation per value.
pub(crate) fn shared_copy(text: &[u8]) -> Bytes {
    const ARENA_SIZE: usize = 4096;
    ARENA.with(|cell| {
        let mut arena = cell.borrow_mut();
        if arena.capacity() - arena.len() < text.len() {
            // Views handed out keep the old arena alive until they are dropped.
            *arena = BytesMut::with_capacity(ARENA_SIZE.max(text.len()));
        }
        arena.extend_from_slice(text);
        arena.split().freeze()
    })
}

/// Lowercase hex of `bytes` into `out` (twice as long), a byte's two digits at a time.
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*b)]);
    }
}

/// The two lowercase hex digits of every byte.
static HEX_PAIRS: [[u8; 2]; 256] = hex_pairs();

const fn hex_pairs() -> [[u8; 2]; 256] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
    static CHUNK: RefCell<Chunk> = const { RefCell::new(Chunk::empty()) };
    static ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
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
