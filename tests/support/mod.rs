//! Test harness for gangway's integration tests: real sockets on 127.0.0.1, real hyper
//! servers, real TLS. No mocks.
//!
//! | module | what it gives |
//! | --- | --- |
//! | [`upstream`] | in-process hyper servers (h1, h2c, TLS with ALPN, auto) with an echo handler and request stats |
//! | [`fault`] | raw-socket HTTP/1.1 servers that misbehave on purpose (stale close, RST, truncation, garbage, stall...) |
//! | [`ledger`] | a scripted raw-socket upstream for "nothing lost" ledger tests (ids, body hashes, per-request faults) |
//! | [`tls`] | a throw-away CA + `localhost` leaf, rustls configs (ring), a TLS connect helper |
//! | [`raw`] | a hand-rolled HTTP/1.1 client, and hyper `client::conn` helpers |
//! | [`wire`] | the hand-rolled HTTP/1.1 framing shared by [`fault`] and [`raw`] |
//! | [`h2wire`] | HTTP/2 frames by hand: a writer, a splitter, the preface, a GET's header block |
//! | [`body`] | the boxed body type, `full`/`empty`, the deterministic byte pattern |
//! | [`tmpdir`] | a unique scratch directory removed on drop |
//!
//! Plus [`init_tracing`], [`within`] and [`wait_until`] below.

pub mod access;
pub mod body;
pub mod fault;
pub mod h2fault;
pub mod h2wire;
pub mod ledger;
pub mod raw;
pub mod tls;
pub mod tmpdir;
pub mod upstream;
pub mod wire;

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

/// Installs a `tracing` subscriber writing through the test harness (so output is shown
/// only for failing tests), filtered by `RUST_LOG` (default: off). Safe to call from every
/// test: only the first call does anything.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
        // Another crate's subscriber may already be installed; that one wins.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// The bound [`within`] puts on a future.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Awaits `fut`, panicking with `what` if it takes longer than [`TEST_TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(TEST_TIMEOUT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {TEST_TIMEOUT:?}: {what}"),
    }
}

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
pub mod gateway;
