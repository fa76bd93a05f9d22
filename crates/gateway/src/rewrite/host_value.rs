//! Header values the rewrite makes from the same few inputs over and over, made once per
//! thread and input instead of once per request: building a `HeaderValue` from text
//! allocates (and the request's drop frees it), while a clone of a made one is a
//! reference-count increment.
//! - the upstream's `Host` ([`host_value`]): a route has one server, a group a few;
//! - the client's address as the `X-Forwarded-For` hop ([`client_ip_value`]): a gateway
//!   behind a load balancer or CDN sees a handful of peer addresses, and a client's
//!   keep-alive connection sends many requests from one. A miss costs a compare per slot.

use std::cell::RefCell;
use std::net::IpAddr;

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
    static IPS: RefCell<IpMemo> = RefCell::new(IpMemo::default());
}

#[derive(Default)]
struct IpMemo {
    slots: [Option<(IpAddr, HeaderValue)>; SLOTS],
    next: usize,
}

/// `ip` as header text (`X-Forwarded-For`'s hop): `make` writes it into a buffer and
/// returns its length; it runs only on a miss. `None` if the text is not a valid value.
pub fn client_ip_value(
    ip: IpAddr,
    make: impl FnOnce(&mut [u8; 64]) -> usize,
) -> Option<HeaderValue> {
    IPS.with(|memo| {
        let mut memo = memo.borrow_mut();
        for (known, value) in memo.slots.iter().flatten() {
            if *known == ip {
                return Some(value.clone());
            }
        }
        let mut buf = [0u8; 64];
        let len = make(&mut buf);
        let value = HeaderValue::from_bytes(buf.get(..len)?).ok()?;
        let slot = memo.next;
        memo.next = (slot + 1) % SLOTS;
        if let Some(entry) = memo.slots.get_mut(slot) {
            *entry = Some((ip, value.clone()));
        }
        Some(value)
    })
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

    #[test]
    fn the_ip_value_is_the_ip_for_any_rotation_of_clients() {
        let ips: Vec<IpAddr> = (0..6)
            .map(|i| format!("10.0.{i}.1").parse().expect("ip"))
            .chain(["::1".parse().expect("ip"), "fe80::2".parse().expect("ip")])
            .collect();
        for round in 0..3 {
            for ip in &ips {
                let v = client_ip_value(*ip, |buf| {
                    let text = ip.to_string();
                    buf[..text.len()].copy_from_slice(text.as_bytes());
                    text.len()
                })
                .expect("value");
                assert_eq!(v.to_str().expect("ascii"), ip.to_string(), "round {round}");
            }
        }
    }
}
