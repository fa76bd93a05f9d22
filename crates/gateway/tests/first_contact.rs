//! Issue #18, first contact with the real binary: the listen-address forms Caddy and
//! Traefik users write serve; `--check-config` works from flags alone; `--print-config`
//! prints TOML that parses back to the same configuration; a failed start says so in
//! exactly one line.
//!
//! Lives in the gangway package for `CARGO_BIN_EXE_gangway`; plain std, like sigterm.rs.
#![cfg(unix)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn gangway(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gangway"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Runs to completion, killed after 30 s so a hang fails the test instead of the run.
fn run(args: &[&str]) -> Output {
    let mut child = gangway(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gangway");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait_with_output().expect("gangway output")
}

/// A port free a moment ago on 127.0.0.1 (and, in practice, on 0.0.0.0).
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("probe a free port");
    probe.local_addr().expect("probe addr").port()
}

/// `GET /healthcheck` on a fresh connection; the status code.
fn health(addr: SocketAddr) -> io::Result<u16> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(
        tcp,
        "GET /healthcheck HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )?;
    let mut status_line = String::new();
    BufReader::new(tcp).read_line(&mut status_line)?;
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line))
}

/// The serving child, killed when the test ends (or panics).
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn listen_colon_port_and_localhost_port_serve() {
    for form in [":{}", "localhost:{}"] {
        let port = free_port();
        let listen = form.replace("{}", &port.to_string());
        let child = gangway(&["--listen", &listen, "--log-level", "warn", "--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gangway");
        let _serving = Serving(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = health(addr);
        while status.is_err() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            status = health(addr);
        }
        assert_eq!(status.ok(), Some(200), "--listen {listen}");
    }
}

#[test]
fn check_config_from_flags_alone_exits_0() {
    let out = run(&[
        "--check-config",
        "--listen",
        ":2000",
        "--route",
        "/users=http://127.0.0.1:3000",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    let none = run(&["--check-config"]);
    assert_eq!(none.status.code(), Some(2), "no listener: {none:?}");
}

#[test]
fn print_config_parses_back_to_the_same_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../gangway.example.toml");
    let out = run(&[
        "--config",
        example,
        "--admin",
        "localhost:9901",
        "--route",
        "/orders=http://127.0.0.1:5000",
        "--print-config",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("UTF-8 TOML");
    let printed = gangway::config::parse(&text, "printed").expect("printed TOML parses");
    assert_eq!(
        printed.to_toml(),
        text,
        "printing the parsed output changes nothing"
    );
    assert_eq!(
        printed.admin.address.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9901")
    );
    let mut prefixes: Vec<&str> = printed
        .router
        .routes()
        .iter()
        .map(|r| r.prefix.as_str())
        .collect();
    prefixes.sort_unstable();
    assert_eq!(prefixes, ["/orders", "/profiles", "/users"]);
    for key in [
        "idle_timeout = \"1m30s\"",
        "max_connections = 10000",
        "shutdown_grace = \"30s\"",
    ] {
        assert!(text.contains(key), "defaults are printed: {key}\n{text}");
    }
}

#[test]
fn a_startup_failure_is_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = run(&["--listen", &addr]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    let about: Vec<&str> = all.lines().filter(|l| l.contains(&addr)).collect();
    assert_eq!(about.len(), 1, "one line about the failure:\n{all}");
    // The OS's wording of "address in use" differs; the line names the address.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("gangway: cannot listen on {addr}: ")),
        "{stderr}"
    );
}

/// The host-routing example is a valid config; a `*` inside a prefix is refused with a
/// message that says what is supported (#13).
#[test]
fn hosts_example_checks_and_a_mid_prefix_star_is_refused() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hosts.toml");
    let out = run(&["--check-config", example]);
    assert!(out.status.success(), "{out:?}");
    let bad = run(&[
        "--check-config",
        "--listen",
        ":2000",
        "--route",
        "/a/*/b=http://127.0.0.1:3000",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(
            "a * is only supported at the end, as /users/* (the same as the prefix /users)"
        ),
        "{stderr}"
    );
}
