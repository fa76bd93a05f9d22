//! The pool against a real nginx (`/usr/sbin/nginx`) over TLS with a generated test CA:
//! - HTTP/2 (ALPN h2, 256 streams per connection): 2000 requests at concurrency 200 through
//!   one `Client` go over exactly one connection;
//! - HTTP/2 with nginx's default 128 streams: the same load needs exactly two connections;
//! - HTTP/1.1 only (no h2 on that listener): concurrency 16 opens at most 16 connections.
//!
//! nginx runs in the foreground (`daemon off`) with every path under a temp dir, and is
//! stopped by a guard's `Drop`, so a failing test does not leave it running.

#[path = "pool_common.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fetch, get, Counts};
use gangway_pool::Client;
use gangway_tests::init_tracing;
use gangway_tests::tls::TestPki;
use gangway_tests::tmpdir::TestDir;
use http::Version;

const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx; stopped (TERM, then KILL) and reaped on drop.
struct Nginx {
    child: Child,
    error_log: std::path::PathBuf,
    // Dropped after the process is gone.
    _dir: TestDir,
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // TERM lets the master stop its worker; `Child::kill` would be SIGKILL, which
        // leaves the worker running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free right now on 127.0.0.1 (bound, then released for nginx to take).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// (major, minor) of the installed nginx, from `nginx -v` (printed on stderr).
fn nginx_version() -> (u32, u32) {
    let out = Command::new(NGINX)
        .arg("-v")
        .output()
        .expect("run nginx -v");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = text
        .split("nginx/")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected `nginx -v` output: {text}"));
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The ports nginx listens on.
struct Ports {
    /// TLS, h2 + http/1.1 by ALPN, 256 concurrent streams per connection.
    h2: u16,
    /// TLS, h2 + http/1.1 by ALPN, nginx's default 128 concurrent streams.
    h2_default: u16,
    /// TLS, http/1.1 only.
    h1: u16,
}

fn start_nginx(pki: &TestPki) -> (Nginx, Ports) {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing: this test needs a real nginx. Run the tests with the README's \
         test command, `./scripts/test.sh` (as root), which installs nginx first; CI runs \
         the same via .ci/run."
    );
    let dir = TestDir::new("pool-nginx");
    let d = dir.path().display().to_string();
    let (cert, key) = pki.write_cert_and_key(dir.path());
    let ports = Ports {
        h2: free_port(),
        h2_default: free_port(),
        h1: free_port(),
    };
    // nginx 1.25.1 introduced `http2 on;`; older ones (Debian bookworm has 1.22) take
    // `http2` as a `listen` parameter.
    let (h2_listen, h2_directive) = if nginx_version() >= (1, 25) {
        ("", "http2 on;")
    } else {
        (" http2", "")
    };
    let user = if running_as_root() {
        "user root root;"
    } else {
        ""
    };
    let server = |port: u16, h2: bool, extra: &str| {
        format!(
            "    server {{\n\
             \x20       listen 127.0.0.1:{port} ssl{listen};\n\
             \x20       {directive}\n\
             \x20       server_name localhost;\n\
             \x20       ssl_certificate {cert};\n\
             \x20       ssl_certificate_key {key};\n\
             \x20       {extra}\n\
             \x20       location / {{ return 200 \"ok\\n\"; }}\n\
             \x20   }}\n",
            listen = if h2 { h2_listen } else { "" },
            directive = if h2 { h2_directive } else { "" },
            cert = cert.display(),
            key = key.display(),
        )
    };
    let conf = format!(
        "{user}\n\
         daemon off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {d}/client_body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   keepalive_requests 100000;\n\
         \x20   keepalive_timeout 60s;\n\
         {s1}{s2}{s3}\
         }}\n",
        // 200 concurrent requests fit one connection only if nginx allows 200 streams on
        // it; its default is 128 (the next server block shows that case).
        s1 = server(ports.h2, true, "http2_max_concurrent_streams 256;"),
        s2 = server(ports.h2_default, true, ""),
        s3 = server(ports.h1, false, ""),
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, &conf).expect("write nginx.conf");
    let error_log = dir.path().join("error.log");
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(&error_log)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {NGINX}: {e}"));
    let mut nginx = Nginx {
        child,
        error_log,
        _dir: dir,
    };
    // Ready when all three ports accept.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            panic!(
                "nginx exited ({status}) at start-up; config:\n{conf}\nerror log:\n{}",
                nginx.error_log()
            );
        }
        let up = [ports.h2, ports.h2_default, ports.h1]
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nginx did not listen within 5 s; error log:\n{}",
            nginx.error_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (nginx, ports)
}

/// Sends `total` GETs to `url` from `concurrency` workers, all starting cold; returns
/// how many answered `ok\n` with `version`. Panics on the first error.
async fn load(
    client: &Client,
    url: &str,
    total: usize,
    concurrency: usize,
    version: Version,
) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, ok, url) =
                (client.clone(), next.clone(), ok.clone(), url.to_owned());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let done = fetch(&client, get(&url))
                        .await
                        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                    assert_eq!(done.status, 200);
                    assert_eq!(done.version, version);
                    assert_eq!(&done.body[..], b"ok\n");
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    ok.load(Ordering::Relaxed)
}

fn client_for(pki: &TestPki, dir: &TestDir) -> Client {
    Client::builder()
        .add_root_certificates_pem(pki.write_ca_pem(dir.path()))
        .build()
        .expect("client")
}

async fn bounded<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after 30 s: {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_h2_and_h1_connection_counts() {
    init_tracing();
    let pki = TestPki::new();
    let (nginx, ports) = start_nginx(&pki);
    let ca_dir = TestDir::new("pool-nginx-ca");

    // HTTP/2, 256 streams allowed: one connection carries all 200 concurrent requests.
    let client = client_for(&pki, &ca_dir);
    let url = format!("https://localhost:{}/", ports.h2);
    let ok = bounded("h2 load", load(&client, &url, 2000, 200, Version::HTTP_2)).await;
    assert_eq!(ok, 2000);
    let c = Counts::total(&client);
    eprintln!("nginx h2 (256 streams), 2000 req @ 200: {c:?}");
    assert_eq!(c.opened, 1, "{c:?}");
    assert_eq!(
        c,
        Counts {
            opened: 1,
            requests: 2000,
            reused: 1999,
            ..Counts::default()
        }
    );

    // HTTP/2 with nginx's default 128 streams: the pool opens exactly one more connection
    // for the 72 requests past the limit, instead of queueing them inside hyper.
    let client = client_for(&pki, &ca_dir);
    let url = format!("https://localhost:{}/", ports.h2_default);
    let ok = bounded(
        "h2 default load",
        load(&client, &url, 2000, 200, Version::HTTP_2),
    )
    .await;
    assert_eq!(ok, 2000);
    let c = Counts::total(&client);
    eprintln!("nginx h2 (default 128 streams), 2000 req @ 200: {c:?}");
    assert_eq!(
        c,
        Counts {
            opened: 2,
            requests: 2000,
            reused: 1998,
            ..Counts::default()
        }
    );

    // HTTP/1.1 only: concurrency 16 never needs more than 16 connections.
    let client = client_for(&pki, &ca_dir);
    let url = format!("https://localhost:{}/", ports.h1);
    let ok = bounded("h1 load", load(&client, &url, 2000, 16, Version::HTTP_11)).await;
    assert_eq!(ok, 2000);
    let c = Counts::total(&client);
    eprintln!("nginx http/1.1, 2000 req @ 16: {c:?}");
    assert!((1..=16).contains(&c.opened), "{c:?}");
    assert_eq!(
        c,
        Counts {
            opened: c.opened,
            requests: 2000,
            reused: 2000 - c.opened,
            ..Counts::default()
        }
    );

    let log = nginx.error_log();
    assert!(
        !log.contains("[alert]") && !log.contains("[crit]"),
        "nginx error log:\n{log}"
    );
    drop(nginx);
}
