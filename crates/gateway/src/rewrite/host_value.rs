//! The upstream's `Host` value, made once per thread and upstream instead of once per
//! request: building a `HeaderValue` from the authority's text allocates (and the request's
//! drop frees it), while a clone of a made one is a reference-count increment.

use std::cell::RefCell;

use http::uri::Authority;
use http::HeaderValue;

/// Upstreams remembered per thread: a group of a few servers, picked in turn, fits.
const SLOTS: usize = 4;

#[derive(Default)]
struct Memo {
    slots: [Option<(Authority, HeaderValue)>; SLOTS],
    /// The slot the next miss replaces.
    next: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// `authority` as a `Host` value; `None` if it is not a valid header value (it always is:
/// an `Authority` holds only characters a header value may carry).
pub fn host_value(authority: &Authority) -> Option<HeaderValue> {
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        for (known, value) in memo.slots.iter().flatten() {
            // Compared as text: one upstream always has the same authority text.
            if known.as_str() == authority.as_str() {
                return Some(value.clone());
            }
        }
        let value = HeaderValue::from_str(authority.as_str()).ok()?;
        let slot = memo.next;
        memo.next = (slot + 1) % SLOTS;
        if let Some(entry) = memo.slots.get_mut(slot) {
            *entry = Some((authority.clone(), value.clone()));
        }
        Some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_authority_for_any_rotation_of_upstreams() {
        let names: Vec<Authority> = (0..6)
            .map(|i| Authority::try_from(format!("10.0.0.{i}:80")).expect("authority"))
            .collect();
        for round in 0..3 {
            for a in &names {
                let v = host_value(a).expect("value");
                assert_eq!(v.to_str().expect("ascii"), a.as_str(), "round {round}");
            }
        }
    }
}
