//! Issue #3 acceptance, streaming: a 1 GiB download and a 256 MiB upload pass through the
//! gateway with the process's peak RSS under 64 MiB, every byte checked.
//!
//! The gateway runs in this process, so the peak measured (`VmHWM`, reset through
//! `/proc/self/clear_refs` first) covers the test's client and upstream too: both stream
//! (the upstream's `/bytes/N` and the client's `PatternBody` never hold more than one 64 KiB
//! frame, and the receiving sides compare each frame to the pattern and drop it). The two
//! tests take turns (a lock) so one's buffers don't count in the other's peak; they are
//! alone in this test binary for the same reason. Linux only (`/proc`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use gangway_tests::body::{full, pattern_chunk, PatternBody, CHUNK};
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::init_tracing;
use gangway_tests::raw;
use gangway_tests::upstream::{echo, Upstream};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;

const MIB: u64 = 1024 * 1024;
const DOWNLOAD: u64 = 1024 * MIB;
const UPLOAD: u64 = 256 * MIB;
const PEAK_LIMIT_KIB: u64 = 64 * 1024;
/// Generous bounds for debug builds on a shared machine; they catch a hang, they do not
/// measure speed.
const DOWNLOAD_BOUND: Duration = Duration::from_secs(300);
const UPLOAD_BOUND: Duration = Duration::from_secs(120);

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets the peak RSS (`VmHWM`) to the current RSS.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("write /proc/self/clear_refs");
}

/// Proves the measurement works before relying on it: touching 96 MiB shows in `VmHWM`,
/// and after freeing it a reset brings the peak back down.
fn check_peak_tracking() {
    let big = vec![0x5au8; 96 * MIB as usize];
    assert!(big.iter().step_by(4096).all(|b| *b == 0x5a));
    assert!(
        status_kib("VmHWM") >= 96 * 1024,
        "VmHWM does not see a 96 MiB buffer"
    );
    drop(big);
    reset_peak();
    let after = status_kib("VmHWM");
    assert!(
        after < 96 * 1024,
        "clear_refs did not reset VmHWM ({after} KiB)"
    );
}

/// Checks one received frame against the pattern at `offset`, without allocating:
/// `memcmp` against slices of the static pattern table.
fn check_pattern(frame: &[u8], offset: u64) -> bool {
    let mut at = 0;
    while at < frame.len() {
        let n = (frame.len() - at).min(CHUNK);
        if frame[at..at + n] != pattern_chunk(offset + at as u64, n)[..] {
            return false;
        }
        at += n;
    }
    true
}

/// Reads a body frame by frame, checking the pattern; returns the byte count, or the
/// offset of the first wrong byte's frame.
async fn count_pattern(mut body: Incoming) -> Result<u64, String> {
    let mut seen = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body failed after {seen} bytes: {e}"))?;
        if let Some(data) = frame.data_ref() {
            if !check_pattern(data, seen) {
                return Err(format!("wrong bytes in the frame at offset {seen}"));
            }
            seen += data.len() as u64;
        }
    }
    Ok(seen)
}

fn report(what: &str, bytes: u64, took: Duration, before_kib: u64, peak_kib: u64) {
    eprintln!(
        "{what}: {} MiB in {:.1} s ({:.0} MiB/s); RSS before {} KiB, peak {} KiB (limit {} KiB)",
        bytes / MIB,
        took.as_secs_f64(),
        bytes as f64 / MIB as f64 / took.as_secs_f64(),
        before_kib,
        peak_kib,
        PEAK_LIMIT_KIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_download_streams_in_bounded_memory() {
    init_tracing();
    let _turn = TURN.lock().await;
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");

    check_peak_tracking();
    reset_peak();
    let before = status_kib("VmRSS");
    let started = Instant::now();
    let req = Request::get(format!("/bytes/{DOWNLOAD}"))
        .header("host", "gateway.test")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let run = async {
        let resp = c.send_request(req).await.expect("response head");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get("content-length").map(|v| v.as_bytes()),
            Some(DOWNLOAD.to_string().as_bytes())
        );
        count_pattern(resp.into_body()).await
    };
    let received = tokio::time::timeout(DOWNLOAD_BOUND, run)
        .await
        .expect("download did not finish in time");
    let took = started.elapsed();
    let peak = status_kib("VmHWM");
    report("download", DOWNLOAD, took, before, peak);
    assert_eq!(received, Ok(DOWNLOAD));
    assert!(
        peak < PEAK_LIMIT_KIB,
        "peak RSS {peak} KiB during a 1 GiB download"
    );
    assert_eq!(up.connections_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarter_gib_upload_streams_in_bounded_memory() {
    init_tracing();
    let _turn = TURN.lock().await;
    // `/sink` reads the body frame by frame, checks it, and answers the byte count.
    let up = Upstream::http1()
        .handler(|req, ctx| async move {
            if req.uri().path() != "/sink" {
                return echo(req, ctx).await;
            }
            let (status, text) = match count_pattern(req.into_body()).await {
                Ok(n) => (StatusCode::OK, n.to_string()),
                Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e),
            };
            Response::builder()
                .status(status)
                .body(full(text))
                .expect("response")
        })
        .run()
        .await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");

    reset_peak();
    let before = status_kib("VmRSS");
    let started = Instant::now();
    let req = Request::post("/sink")
        .header("host", "gateway.test")
        .body(PatternBody::new(UPLOAD, true))
        .expect("request");
    let run = async {
        let resp = c.send_request(req).await.expect("response head");
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, text) = tokio::time::timeout(UPLOAD_BOUND, run)
        .await
        .expect("upload did not finish in time");
    let took = started.elapsed();
    let peak = status_kib("VmHWM");
    report("upload", UPLOAD, took, before, peak);
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, UPLOAD.to_string(), "bytes the upstream received");
    assert!(
        peak < PEAK_LIMIT_KIB,
        "peak RSS {peak} KiB during a 256 MiB upload"
    );
    let seen = &up.requests()[0];
    assert_eq!(seen.headers["content-length"], UPLOAD.to_string().as_str());
}
