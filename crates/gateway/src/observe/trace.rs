//! W3C Trace Context (`traceparent`, `tracestate`): parse, then continue the client's trace
//! or start one, with parent-based sampling. Pure: the random ids are arguments.
//!
//! `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase; all-zero
//! ids and version `ff` are invalid; a later version is read by its first four fields (and
//! must be followed by `-` or end there).

use http::HeaderValue;

use super::request_id::{hex_into, random_u64, shared_copy};

/// The `sampled` bit of trace flags.
pub const SAMPLED: u8 = 0x01;

/// A valid incoming `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (never all zero).
    pub trace_id: [u8; 16],
    /// The caller's span id (never all zero).
    pub parent_id: [u8; 8],
    /// Trace flags; bit 0 = sampled.
    pub flags: u8,
}

/// Parses a `traceparent` value; `None` when it is not valid (then a new trace starts).
pub fn parse_traceparent(value: &[u8]) -> Option<TraceParent> {
    if value.len() < 55 {
        return None;
    }
    let version = hex_byte(&value[0..2])?;
    if version == 0xff || (version == 0 && value.len() != 55) {
        return None;
    }
    if value.len() > 55 && value[55] != b'-' {
        return None;
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let mut trace_id = [0u8; 16];
    for (i, byte) in trace_id.iter_mut().enumerate() {
        *byte = hex_byte(&value[3 + 2 * i..5 + 2 * i])?;
    }
    let mut parent_id = [0u8; 8];
    for (i, byte) in parent_id.iter_mut().enumerate() {
        *byte = hex_byte(&value[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&value[53..55])?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        trace_id,
        parent_id,
        flags,
    })
}

/// Two lowercase hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

/// The trace a request belongs to, as the gateway continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id: the client's, or a new one.
    pub trace_id: [u8; 16],
    /// The gateway's server span for this request.
    pub span_id: [u8; 8],
    /// The client's span, when the trace was continued.
    pub parent_id: Option<[u8; 8]>,
    /// Whether this request's spans are recorded and exported.
    pub sampled: bool,
    /// The incoming `tracestate`, passed on unchanged.
    pub tracestate: Option<HeaderValue>,
}

/// Fresh random values for [`decide`]: a trace id (used only when starting a trace) and the
/// server span's id.
#[derive(Debug, Clone, Copy)]
pub struct FreshIds {
    /// A non-zero trace id.
    pub trace_id: [u8; 16],
    /// A non-zero span id.
    pub span_id: [u8; 8],
}

impl FreshIds {
    /// From the per-thread generator (no syscall).
    pub fn random() -> FreshIds {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&nonzero_u64().to_be_bytes());
        trace_id[8..].copy_from_slice(&nonzero_u64().to_be_bytes());
        FreshIds {
            trace_id,
            span_id: new_span_id(),
        }
    }
}

/// A new non-zero span id (for each upstream attempt's span).
pub fn new_span_id() -> [u8; 8] {
    nonzero_u64().to_be_bytes()
}

fn nonzero_u64() -> u64 {
    random_u64().max(1)
}

/// Continue or start: a valid `traceparent` is continued (its trace id, its sampled flag —
/// parent-based sampling); otherwise a trace starts, sampled when the trace id falls under
/// `sample_ratio` (the id's last 8 bytes as a fraction of 2^64, as OpenTelemetry's
/// `TraceIdRatioBased` does, so every hop that samples by ratio agrees).
pub fn decide(
    traceparent: Option<&[u8]>,
    tracestate: Option<&HeaderValue>,
    sample_ratio: f64,
    fresh: FreshIds,
) -> TraceContext {
    match traceparent.and_then(parse_traceparent) {
        Some(parent) => TraceContext {
            trace_id: parent.trace_id,
            span_id: fresh.span_id,
            parent_id: Some(parent.parent_id),
            sampled: parent.flags & SAMPLED != 0,
            tracestate: tracestate.cloned(),
        },
        None => TraceContext {
            trace_id: fresh.trace_id,
            span_id: fresh.span_id,
            parent_id: None,
            sampled: ratio_sampled(&fresh.trace_id, sample_ratio),
            // A tracestate without a valid traceparent belongs to no trace: dropped.
            tracestate: None,
        },
    }
}

/// Whether a new trace with this id is sampled at `ratio` (0 = never, 1 = always).
pub fn ratio_sampled(trace_id: &[u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    (u64::from_be_bytes(low) >> 1) < bound
}

impl TraceContext {
    /// The `traceparent` to send upstream for the attempt whose span is `span_id` (the
    /// gateway's span is the upstream's parent): `00-<trace>-<span>-<flags>`.
    pub fn traceparent_for(&self, span_id: &[u8; 8]) -> HeaderValue {
        let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex_into(&self.trace_id, &mut text[3..35]);
        hex_into(span_id, &mut text[36..52]);
        text[54] = if self.sampled { b'1' } else { b'0' };
        // 55 visible ASCII bytes are always a valid header value. Copied into the thread's
        // arena: no allocation per attempt.
        let mut value = HeaderValue::from_maybe_shared(shared_copy(&text))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        // Never repeats: not worth an HPACK table entry (see `Exchange`'s request id).
        value.set_sensitive(true);
        value
    }
}

#[cfg(test)]
mod tests;
