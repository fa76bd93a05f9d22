//! Observability wired into the request path (#14): the access log never blocks a worker
//! (stdout a pipe nobody reads), `SIGUSR1` reopens the access log file, and request ids
//! are kept or made, sent upstream, returned and logged.
//!
//! The stalled-stdout test runs the gateway in a child process (this test binary again,
//! entering [`child_entry`]) whose stdout is a pipe the parent never reads.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gangway_tests::access::{json_field, AccessFile};
use gangway_tests::gateway::{closed_addr, get, get_with, route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::wait_until;

const CHILD: &str = "GANGWAY_OBSERVE_CHILD";

/// A long `User-Agent` makes each access line over 1 KiB, so 3 000 of them overflow the
/// writer's 1 MiB buffer plus the pipe's.
fn long_agent() -> String {
    format!("user-agent: {}\r\n", "a".repeat(1200))
}

async fn bounded<F: std::future::Future>(what: &str, secs: u64, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}

/// The child: the config in `CHILD`, the error log through the non-blocking writer (as
/// the binary sets it up), served until killed.
#[test]
fn child_entry() {
    let Ok(toml) = std::env::var(CHILD) else {
        return;
    };
    let config = gangway::config::parse(&toml, "child.toml").expect("child config");
    let (writer, _guard) = gangway::observe::sink::install_error_log().expect("error log");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _ = rt.block_on(gangway::run(&config, None, std::future::pending::<()>()));
}

fn spawn_child(toml: &str) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    Command::new(exe)
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, toml)
        // Never read: the pipe fills after 64 KiB and stays full.
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

async fn metrics(admin: SocketAddr) -> String {
    let mut c = RawConn::connect(admin).await.expect("admin connect");
    let r = c.request(&get("/metrics")).await.expect("metrics");
    r.body_str()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn stalled_stdout_drops_lines_and_never_blocks() {
    let up = Upstream::http1().run().await;
    let (listen, admin) = (closed_addr(), closed_addr());
    let toml = format!(
        "[[listener]]\naddress = \"{listen}\"\n\n{}\
         [admin]\naddress = \"{admin}\"\n\n[log]\naccess_log = true\nformat = \"json\"\n",
        route("/", &up.url(""))
    );
    let mut child = spawn_child(&toml);
    let ready = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(listen).is_ok()
    })
    .await;
    assert!(ready, "child gateway did not start");
    let agent = long_agent();
    let served = bounded("3 000 requests", 120, async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let request = get_with("/bytes/10", &agent);
            tasks.push(tokio::spawn(async move {
                let mut c = RawConn::connect(listen).await.expect("connect");
                let mut ok = 0;
                for _ in 0..750 {
                    let r = c.request(&request).await.expect("request");
                    ok += usize::from(r.status == 200);
                }
                ok
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("client task");
        }
        total
    })
    .await;
    let text = bounded("metrics", 10, metrics(admin)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(served, 3000, "every request served");
    let dropped = metric(&text, "gangway_log_lines_dropped_total");
    assert!(
        dropped.is_some_and(|d| d > 0.0),
        "dropped lines counted: {dropped:?}\n{text}"
    );
}

#[tokio::test]
async fn sigusr1_reopens_the_access_log() {
    let up = Upstream::http1().run().await;
    let log = AccessFile::new("reopen");
    let gw = start_gateway(&format!("{}{}", route("/", &up.url("")), log.log_section())).await;
    let addr = gw.addrs[0];
    let mut c = RawConn::connect(addr).await.expect("connect");
    assert_eq!(c.request(&get("/before")).await.expect("req").status, 200);
    assert!(wait_until(Duration::from_secs(3), || log.lines().len() == 1).await);
    let rotated = log.path().with_extension("log.1");
    std::fs::rename(log.path(), &rotated).expect("rotate");
    let status = Command::new("kill")
        .args(["-USR1", &std::process::id().to_string()])
        .status()
        .expect("kill -USR1");
    assert!(status.success());
    // The reopen happens on the writer thread; wait for the new file to appear.
    assert!(wait_until(Duration::from_secs(3), || log.path().exists()).await);
    assert_eq!(c.request(&get("/after")).await.expect("req").status, 200);
    assert!(wait_until(Duration::from_secs(3), || log.lines().len() == 1).await);
    let new = log.lines();
    assert!(new[0].contains("\"path\":\"/after\""), "{new:?}");
    let old = std::fs::read_to_string(&rotated).unwrap_or_default();
    assert!(
        old.contains("\"path\":\"/before\"") && !old.contains("/after"),
        "{old}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn request_ids_kept_or_generated_unique() {
    let up = Upstream::http1().run().await;
    let log = AccessFile::new("reqid");
    let gw = start_gateway(&format!("{}{}", route("/", &up.url("")), log.log_section())).await;
    let addr = gw.addrs[0];
    let mut c = RawConn::connect(addr).await.expect("connect");
    let r = c
        .request(&get_with("/kept", "x-request-id: client-id-42\r\n"))
        .await
        .expect("req");
    assert_eq!(r.header("x-request-id"), Some("client-id-42"));
    let seen = up.requests();
    let upstream_id = seen
        .last()
        .and_then(|s| s.headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok());
    assert_eq!(upstream_id, Some("client-id-42"));
    assert!(wait_until(Duration::from_secs(3), || !log.lines().is_empty()).await);
    let line = log.lines().remove(0);
    assert_eq!(
        json_field(&line, "request_id"),
        Some("client-id-42"),
        "{line}"
    );

    // Not sane (a space): replaced.
    let r = c
        .request(&get_with("/bad", "x-request-id: two words\r\n"))
        .await
        .expect("req");
    assert_ne!(r.header("x-request-id"), Some("two words"));

    let ids = bounded("10 000 requests", 120, async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            tasks.push(tokio::spawn(async move {
                let mut c = RawConn::connect(addr).await.expect("connect");
                let mut ids = Vec::with_capacity(2500);
                for _ in 0..2500 {
                    let r = c.request(&get("/gen")).await.expect("request");
                    ids.push(r.header("x-request-id").unwrap_or_default().to_owned());
                }
                ids
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client task"));
        }
        all
    })
    .await;
    assert_eq!(ids.len(), 10_000);
    assert!(ids
        .iter()
        .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 10_000, "generated ids are unique");
    gw.shutdown().await;
}

#[tokio::test]
async fn metrics_parse_and_every_family_has_help_and_type() {
    let up = Upstream::http1().run().await;
    let admin = closed_addr();
    let gw = start_gateway(&format!(
        "{}[admin]\naddress = \"{admin}\"\n",
        route("/", &up.url(""))
    ))
    .await;
    let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
    assert_eq!(c.request(&get("/bytes/5")).await.expect("req").status, 200);
    let text = bounded("metrics", 10, metrics(admin)).await;
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    assert!(!scrape.samples.is_empty(), "{text}");
    for sample in &scrape.samples {
        // A histogram's `_sum` and `_count` series belong to its family.
        let name = &sample.metric;
        let name = ["_sum", "_count", "_bucket"]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                text.contains(&format!("# TYPE {base} histogram"))
                    .then_some(base)
            })
            .unwrap_or(name);
        assert!(scrape.docs.contains_key(name), "no HELP for {name}\n{text}");
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}\n{text}"
        );
    }
    for family in [
        "gangway_build_info",
        "gangway_requests_in_flight",
        "gangway_log_lines_dropped_total",
        "process_start_time_seconds",
        "gangway_pool_connections_closed_total",
        "gangway_listener_connections_accepted_total",
        "gangway_listener_connections_open",
        "gangway_request_head_duration_seconds_count",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == family),
            "{family} missing\n{text}"
        );
    }
    // Per listener (its bound address) and per route (the route's name).
    let listener = gw.addrs[0].to_string();
    let accepted = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "gangway_listener_connections_accepted_total"
                && s.labels.get("listener") == Some(listener.as_str())
        })
        .unwrap_or_else(|| panic!("no series for listener {listener}\n{text}"));
    assert!(matches!(accepted.value, prometheus_parse::Value::Counter(n) if n >= 1.0));
    let heads = scrape
        .samples
        .iter()
        .find(|s| s.metric == "gangway_request_head_duration_seconds_count")
        .unwrap_or_else(|| panic!("no time-to-head series\n{text}"));
    assert!(heads.labels.get("route").is_some(), "{text}");
    gw.shutdown().await;
}
