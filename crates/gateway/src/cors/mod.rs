//! CORS-proxy mode: `GET /?url=https://api.example.com/x` fetches the target
//! on the browser's behalf and returns it with CORS headers.
//!
//! Why a module of its own: this mode turns the gateway into a relay whose
//! destination the client picks, so it is an SSRF and open-proxy risk
//! (docs/cors.md, "The SSRF guard"). Every decision is a pure function here,
//! tested by tables; the IO glue (resolve once, connect to exactly the
//! checked address, stream back) lives elsewhere and calls these in order:
//!
//! 1. [`RateLimiter::check`] on the client IP → 429 with `Retry-After`.
//! 2. [`is_preflight`] → [`CorsPolicy::preflight_response`] (never forwarded).
//! 3. [`CorsPolicy::check_origin`] → 403 (`Origin` allowlist, required header).
//! 4. [`target_from_query`] → 400.
//! 5. [`parse_host_literal`] (no DNS for literals) or, for a name,
//!    [`TargetPolicy::check_allowlist`] then one DNS lookup; then
//!    [`TargetPolicy::check`] on the resulting addresses → 403.
//! 6. [`CorsPolicy::strip_request_headers`], forward, then
//!    [`CorsPolicy::add_response_headers`] on the response.
//!
//! # Layout
//!
//! * `target.rs`: the `url` parameter → [`TargetUrl`].
//! * `address.rs`: [`classify`] an IP, [`parse_host_literal`] (glibc forms).
//! * `ssrf.rs`: [`TargetPolicy`] (allowlist, own addresses, every address).
//! * `origin.rs`: [`CorsPolicy`] (origins, preflight, response headers).
//! * `ratelimit.rs`: [`RateLimiter`], per-client token buckets.

mod address;
mod origin;
mod ratelimit;
mod ssrf;
mod target;

pub use address::{classify, parse_host_literal, AddressClass};
pub use origin::{is_preflight, CorsPolicy, OriginError, OriginPattern, OriginPatternError};
pub use ratelimit::{retry_after_secs, RateLimiter};
pub use ssrf::{PatternError, Refusal, TargetPattern, TargetPolicy};
pub use target::{target_from_query, TargetError, TargetUrl};

pub(crate) use target::host_to_ascii;
