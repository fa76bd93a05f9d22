//! HTTP/2 frames by hand, for the tests that speak to the gateway (or play an upstream)
//! below any HTTP/2 library: one frame writer, one frame splitter, the client preface and a
//! plain GET's header block.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One HTTP/2 frame: (type, flags, stream id, payload).
pub type Frame = (u8, u8, u32, Vec<u8>);

/// A frame of `kind` with `flags` on `stream`, carrying `payload` (under 16 MiB).
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&[len[1], len[2], len[3], kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits `bytes` into whole frames; returns them and how many bytes they took.
pub fn frames(bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 9 {
        let h = &bytes[at..at + 9];
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        if bytes.len() < at + 9 + len {
            break;
        }
        let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        out.push((h[3], h[4], id, bytes[at + 9..at + 9 + len].to_vec()));
        at += 9 + len;
    }
    (out, at)
}

/// A GET of `/` with `:authority: gw.test`, as an HPACK block of static-table indexes and
/// one literal (no dynamic table).
pub fn get_headers() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 7];
    block.extend_from_slice(b"gw.test");
    block
}
