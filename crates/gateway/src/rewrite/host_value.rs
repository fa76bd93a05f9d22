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

/// Values remembered per thread and kind: a group of a few servers, picked in turn, fits.
const SLOTS: usize = 4;

/// The last few `(input, value)` pairs made on this thread; a miss replaces the oldest.
struct Memo<K> {
    slots: [Option<(K, HeaderValue)>; SLOTS],
    /// The slot the next miss replaces.
    next: usize,
}

impl<K> Memo<K> {
    const fn new() -> Self {
        Memo {
            slots: [const { None }; SLOTS],
            next: 0,
        }
    }

    /// The value remembered for the input `is` recognises, else `make`'s (remembered).
    fn get_or_make(
        &mut self,
        is: impl Fn(&K) -> bool,
        make: impl FnOnce() -> Option<(K, HeaderValue)>,
    ) -> Option<HeaderValue> {
        for (known, value) in self.slots.iter().flatten() {
            if is(known) {
                return Some(value.clone());
            }
        }
        let (key, value) = make()?;
        let slot = self.next;
        self.next = (slot + 1) % SLOTS;
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some((key, value.clone()));
        }
        Some(value)
    }
}

thread_local! {
    static HOSTS: RefCell<Memo<Authority>> = const { RefCell::new(Memo::new()) };
    static IPS: RefCell<Memo<IpAddr>> = const { RefCell::new(Memo::new()) };
}

/// `ip` as header text (`X-Forwarded-For`'s hop): `make` writes it into a buffer and
/// returns its length; it runs only on a miss. `None` if the text is not a valid value.
pub fn client_ip_value(
    ip: IpAddr,
    make: impl FnOnce(&mut [u8; 64]) -> usize,
) -> Option<HeaderValue> {
    IPS.with(|memo| {
        memo.borrow_mut().get_or_make(
            |known| *known == ip,
            || {
                let mut buf = [0u8; 64];
                let len = make(&mut buf);
                Some((ip, HeaderValue::from_bytes(buf.get(..len)?).ok()?))
            },
        )
    })
}

/// `authority` as a `Host` value; `None` if it is not a valid header value (it always is:
/// an `Authority` holds only characters a header value may carry).
pub fn host_value(authority: &Authority) -> Option<HeaderValue> {
    HOSTS.with(|memo| {
        memo.borrow_mut().get_or_make(
            // Compared as text (`Authority`'s own `==` ignores case): one upstream always
            // has the same authority text.
            |known| known.as_str() == authority.as_str(),
            || {
                let value = HeaderValue::from_str(authority.as_str()).ok()?;
                Some((authority.clone(), value))
            },
        )
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
