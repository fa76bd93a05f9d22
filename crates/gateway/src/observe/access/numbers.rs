//! Numbers and addresses for the access line, written without the formatter machinery:
//! digits two at a time from a table, assembled on the stack and copied once.

use std::cell::RefCell;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

/// `00` to `99`, for two digits at a time.
static PAIRS: [u8; 200] = pairs();

const fn pairs() -> [u8; 200] {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
}

/// `n` in decimal. The one- to three-digit numbers most of a line's are (status, attempts,
/// small byte counts, milliseconds) are written inline at the caller, with fixed-size copies.
#[inline(always)]
pub(super) fn push_u64(n: u64, out: &mut Vec<u8>) {
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < 100 {
        let pair = n as usize * 2;
        out.extend_from_slice(&[PAIRS[pair], PAIRS[pair + 1]]);
    } else if n < 1000 {
        // Every status code.
        let pair = n as usize % 100 * 2;
        out.extend_from_slice(&[b'0' + (n / 100) as u8, PAIRS[pair], PAIRS[pair + 1]]);
    } else {
        push_large(n, out);
    }
}

/// [`push_u64`] from 1000 up: four and five digits (ports, body sizes) as fixed-size copies,
/// longer numbers two digits per division.
#[inline(never)]
fn push_large(mut n: u64, out: &mut Vec<u8>) {
    if n < 100_000 {
        let low = (n % 10_000) as usize;
        let (a, b) = (low / 100 * 2, low % 100 * 2);
        let four = [PAIRS[a], PAIRS[a + 1], PAIRS[b], PAIRS[b + 1]];
        if n >= 10_000 {
            out.push(b'0' + (n / 10_000) as u8);
        }
        out.extend_from_slice(&four);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[i..]);
}

/// Milliseconds with three decimals (microsecond resolution): `12.345`.
pub(super) fn push_ms(d: Duration, out: &mut Vec<u8>) {
    // Whole milliseconds and the microseconds past them from the parts `Duration` keeps,
    // in u64 (saturating: 584 000 years), not `as_micros`'s u128 arithmetic.
    let nanos = d.subsec_nanos();
    let ms = d
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(nanos / 1_000_000));
    push_u64(ms, out);
    let frac = (nanos / 1000 % 1000) as usize;
    let pair = frac % 100 * 2;
    // The fraction in one copy rather than four pushes.
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        PAIRS[pair],
        PAIRS[pair + 1],
    ]);
}

/// `ip:port`; IPv4 by hand (the common case, and `Display` goes through the formatter
/// machinery once per octet), IPv6 through `Display`.
///
/// An IPv4 client's text is kept per thread in a small table indexed by its port: a
/// keep-alive connection's requests reuse it (one comparison and one copy instead of
/// formatting five numbers), and a new connection overwrites its slot.
pub(super) fn push_addr(addr: SocketAddr, out: &mut Vec<u8>) {
    let SocketAddr::V4(v4) = addr else {
        push_ip(addr, true, out);
        out.push(b':');
        push_u64(u64::from(addr.port()), out);
        return;
    };
    let copied = ADDRS.try_with(|cell| {
        let Ok(mut table) = cell.try_borrow_mut() else {
            return false;
        };
        let slot = &mut table[usize::from(v4.port()) % ADDR_SLOTS];
        if slot.addr != Some(v4) {
            *slot = AddrText::of(v4);
        }
        out.extend_from_slice(&slot.text[..usize::from(slot.len)]);
        true
    });
    if copied != Ok(true) {
        let text = AddrText::of(v4);
        out.extend_from_slice(&text.text[..usize::from(text.len)]);
    }
}

/// Slots in the per-thread table of client address texts (about 2 KiB).
const ADDR_SLOTS: usize = 64;

/// `a.b.c.d:port`, at most 21 bytes.
#[derive(Clone, Copy)]
struct AddrText {
    addr: Option<SocketAddrV4>,
    len: u8,
    text: [u8; 21],
}

thread_local! {
    static ADDRS: RefCell<[AddrText; ADDR_SLOTS]> = const { RefCell::new([AddrText::EMPTY; ADDR_SLOTS]) };
}

impl AddrText {
    const EMPTY: AddrText = AddrText {
        addr: None,
        len: 0,
        text: [0; 21],
    };

    /// Formatted on the stack: a new connection's first line allocates nothing either.
    fn of(v4: SocketAddrV4) -> AddrText {
        let mut text = [0u8; 21];
        let mut len = ipv4_dotted(*v4.ip(), &mut text);
        // The last octet's `.` becomes the `:` before the port.
        text[len - 1] = b':';
        let mut port = v4.port();
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (port % 10) as u8;
            port /= 10;
            if port == 0 {
                break;
            }
        }
        let n = digits.len() - i;
        text[len..len + n].copy_from_slice(&digits[i..]);
        len += n;
        AddrText {
            addr: Some(v4),
            len: len as u8,
            text,
        }
    }
}

/// Writes `ip` as `a.b.c.d.` (each octet followed by a dot) at the start of `text`, which
/// holds at least 16 bytes; returns the length written, the last dot included.
fn ipv4_dotted(ip: std::net::Ipv4Addr, text: &mut [u8]) -> usize {
    let mut len = 0;
    for octet in ip.octets() {
        let n = usize::from(octet);
        if n >= 100 {
            text[len] = b'0' + (n / 100) as u8;
            len += 1;
        }
        if n >= 10 {
            let pair = n % 100 * 2;
            text[len..len + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
            len += 2;
        } else {
            text[len] = b'0' + n as u8;
            len += 1;
        }
        text[len] = b'.';
        len += 1;
    }
    len
}

/// The address's IP; IPv6 in brackets when a port follows.
pub(super) fn push_ip(addr: SocketAddr, brackets: bool, out: &mut Vec<u8>) {
    match addr {
        SocketAddr::V4(v4) => {
            // Up to 15 bytes assembled on the stack, then one copy.
            let mut text = [0u8; 16];
            let len = ipv4_dotted(*v4.ip(), &mut text);
            out.extend_from_slice(&text[..len - 1]);
        }
        SocketAddr::V6(v6) => {
            use std::io::Write as _;
            if brackets {
                let _ = write!(out, "[{}]", v6.ip());
            } else {
                let _ = write!(out, "{}", v6.ip());
            }
        }
    }
}
