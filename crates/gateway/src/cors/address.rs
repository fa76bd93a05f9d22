//! Which IP addresses the CORS proxy may connect to, and how a host string
//! that *is* an address is read.
//!
//! Why this exists: an open CORS proxy is an SSRF gadget. Checking the URL
//! *string* is not enough: `127.1`, `0x7f.1`, `2130706433` and
//! `[::ffff:7f00:1]` all reach the loopback interface through glibc, and a
//! hostname can resolve to anything. So the gateway classifies the address it
//! is about to `connect()` to ([`classify`]) and refuses literal hosts before
//! any DNS lookup ([`parse_host_literal`]). See docs/cors.md, "The SSRF guard",
//! and the `cors_ssrf` integration tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The verdict of [`classify`] on one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// Globally routable: the proxy may connect to it.
    Public,
    /// Not globally routable (or not a unicast destination); the text names
    /// the range, e.g. `"loopback"` or `"IPv4-mapped private"`.
    Refused(&'static str),
}

impl AddressClass {
    /// `true` for [`AddressClass::Public`].
    pub fn is_public(self) -> bool {
        self == AddressClass::Public
    }
}

/// Classifies an address the proxy is about to connect to.
///
/// IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the embedded IPv4 address,
/// because that is where the packets end up. IPv6 outside `2000::/3` (all of
/// today's global unicast) is refused as reserved.
pub fn classify(ip: IpAddr) -> AddressClass {
    match refusal(ip) {
        None => AddressClass::Public,
        Some(r) => AddressClass::Refused(r.text),
    }
}

/// Why an address is refused, and whether an operator may still allow it by
/// naming it in the target allowlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) text: &'static str,
    /// `false` for addresses that are never a sensible TCP destination
    /// (unspecified, multicast, broadcast): no allowlist entry unlocks them.
    pub(crate) unlockable: bool,
}

pub(crate) fn refusal(ip: IpAddr) -> Option<Refused> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4).map(|r| Refused {
            text: r.text(),
            unlockable: r.unlockable(),
        }),
        IpAddr::V6(v6) => v6_refusal(v6),
    }
}

/// Where an IPv4 address sits inside an IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Embedding {
    Mapped,
    Nat64,
    SixToFour,
}

// One list of IPv4 ranges, expanded into the plain reason and the reason
// prefixed by each IPv6 embedding, so every reason stays a `&'static str`.
macro_rules! v4_ranges {
    ($($id:ident => $text:literal, unlockable: $unlock:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum V4Range { $($id,)* }

        impl V4Range {
            fn text(self) -> &'static str {
                match self { $(V4Range::$id => $text,)* }
            }

            fn unlockable(self) -> bool {
                match self { $(V4Range::$id => $unlock,)* }
            }

            fn text_in(self, embedding: Embedding) -> &'static str {
                match (embedding, self) {
                    $(
                        (Embedding::Mapped, V4Range::$id) => concat!("IPv4-mapped ", $text),
                        (Embedding::Nat64, V4Range::$id) => concat!("NAT64-embedded ", $text),
                        (Embedding::SixToFour, V4Range::$id) => concat!("6to4-embedded ", $text),
                    )*
                }
            }
        }
    };
}

v4_ranges! {
    Unspecified => "unspecified", unlockable: false;
    ThisNetwork => "this-network (0/8)", unlockable: false;
    Private => "private", unlockable: true;
    Cgnat => "CGNAT", unlockable: true;
    Loopback => "loopback", unlockable: true;
    LinkLocal => "link-local (cloud metadata)", unlockable: true;
    Documentation => "documentation", unlockable: true;
    Benchmarking => "benchmarking", unlockable: true;
    Reserved => "reserved", unlockable: true;
    Multicast => "multicast", unlockable: false;
    Broadcast => "broadcast", unlockable: false;
}

/// `true` when `ip` lies in `net/len`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_range(ip: Ipv4Addr) -> Option<V4Range> {
    use V4Range::*;
    // Most specific first: 255.255.255.255 sits inside 240/4, 0.0.0.0 in 0/8.
    const TABLE: &[([u8; 4], u32, V4Range)] = &[
        ([0, 0, 0, 0], 32, Unspecified),
        ([255, 255, 255, 255], 32, Broadcast),
        ([0, 0, 0, 0], 8, ThisNetwork),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, Cgnat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved), // IETF protocol assignments
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved), // deprecated 6to4 relay anycast
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    TABLE
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, range)| *range)
}

fn embedded(ip: Ipv6Addr, embedding: Embedding) -> Option<Refused> {
    let o = ip.octets();
    let v4 = match embedding {
        Embedding::Mapped | Embedding::Nat64 => Ipv4Addr::new(o[12], o[13], o[14], o[15]),
        // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16..48.
        Embedding::SixToFour => Ipv4Addr::new(o[2], o[3], o[4], o[5]),
    };
    v4_range(v4).map(|r| Refused {
        text: r.text_in(embedding),
        unlockable: r.unlockable(),
    })
}

fn v6_refusal(ip: Ipv6Addr) -> Option<Refused> {
    let s = ip.segments();
    let refused = |text| {
        Some(Refused {
            text,
            unlockable: true,
        })
    };
    let never = |text| {
        Some(Refused {
            text,
            unlockable: false,
        })
    };
    if ip.is_unspecified() {
        return never("unspecified");
    }
    if ip.is_loopback() {
        return refused("loopback");
    }
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => return embedded(ip, Embedding::Mapped),
        // ::/96 minus :: and ::1, handled above: deprecated IPv4-compatible.
        [0, 0, 0, 0, 0, 0, _, _] => return refused("IPv4-compatible (deprecated)"),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => return embedded(ip, Embedding::Nat64),
        [0x64, 0xff9b, 1, ..] => return refused("NAT64 local-use"),
        [0x100, 0, 0, 0, ..] => return refused("discard"),
        [0x2001, 0, ..] => return refused("Teredo"),
        [0x2001, 2, 0, ..] => return refused("benchmarking"),
        [0x2001, 0xdb8, ..] => return refused("documentation"),
        [0x2002, ..] => return embedded(ip, Embedding::SixToFour),
        _ => {}
    }
    if s[0] == 0x2001 && matches!(s[1] & 0xfff0, 0x10 | 0x20) {
        return refused("reserved (ORCHID)");
    }
    if s[0] == 0x3fff && s[1] & 0xf000 == 0 {
        return refused("documentation");
    }
    if s[0] & 0xfe00 == 0xfc00 {
        return refused("IPv6 unique-local");
    }
    if s[0] & 0xffc0 == 0xfe80 {
        return refused("IPv6 link-local");
    }
    if s[0] & 0xffc0 == 0xfec0 {
        return refused("IPv6 site-local (deprecated)");
    }
    if s[0] & 0xff00 == 0xff00 {
        return never("multicast");
    }
    // Every global unicast allocation is inside 2000::/3; anything else
    // (including the unassigned rest of ::/8) is not a public destination.
    if s[0] & 0xe000 != 0x2000 {
        return refused("reserved");
    }
    None
}

/// Reads `host` as an IP address literal the way the system resolver would,
/// so the gateway can refuse it before any DNS lookup. `None` means "a
/// hostname": resolve it and check the resolved addresses.
///
/// IPv4 follows glibc's `inet_aton` (what `getaddrinfo` uses for numeric
/// hosts): one to four parts separated by `.`; each part is decimal, octal
/// with a leading `0`, or hex with `0x`/`0X`; the last part fills the
/// remaining bytes (`127.1`, `2130706433`, `0x7f.0.1`). Like glibc's
/// exact variant (used by `getaddrinfo` since 2.32) trailing characters are
/// rejected, except that one trailing `.` is accepted as WHATWG's URL parser
/// does: reading more strings as addresses only makes refusal earlier.
///
/// IPv6 is accepted with or without brackets, with an optional zone id
/// (`fe80::1%25lo`, `fe80::1%lo`) that is dropped.
pub fn parse_host_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[') {
        return parse_v6(inner.strip_suffix(']')?).map(IpAddr::V6);
    }
    if host.contains(':') {
        return parse_v6(host).map(IpAddr::V6);
    }
    parse_v4_aton(host).map(IpAddr::V4)
}

fn parse_v6(s: &str) -> Option<Ipv6Addr> {
    let addr = match s.split_once('%') {
        Some((addr, zone)) if !zone.is_empty() => addr,
        Some(_) => return None,
        None => s,
    };
    addr.parse().ok()
}

/// One `inet_aton` part: `strtoul(part, _, 0)` that must consume the whole
/// part and must start with a digit.
fn parse_aton_part(part: &str) -> Option<u32> {
    let bytes = part.as_bytes();
    let (digits, radix) = match bytes {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        [b'0', rest @ ..] if !rest.is_empty() => (rest, 8),
        [b'0'..=b'9', ..] => (bytes, 10),
        _ => return None,
    };
    // `0x` with no digit after it: strtoul stops before the `x`, which then
    // counts as a trailing character, so glibc rejects it.
    if digits.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &b in digits {
        let d = char::from(b).to_digit(radix)?;
        value = value.checked_mul(radix)?.checked_add(d)?;
    }
    Some(value)
}

fn parse_v4_aton(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut parts = [0u32; 4];
    let mut n = 0;
    for part in host.split('.') {
        *parts.get_mut(n)? = parse_aton_part(part)?;
        n += 1;
    }
    let (leading, last) = (&parts[..n - 1], parts[n - 1]);
    if leading.iter().any(|&p| p > 0xff) {
        return None;
    }
    // The last part fills the bytes the leading parts left: 32, 24, 16 or 8 bits.
    let last_bits = 32 - 8 * (n as u32 - 1);
    if last_bits < 32 && last >> last_bits != 0 {
        return None;
    }
    let mut value = last;
    for (i, &p) in leading.iter().enumerate() {
        value |= p << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(value))
}

#[cfg(test)]
mod tests;
