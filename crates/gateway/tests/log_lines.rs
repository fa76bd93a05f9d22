//! Issue #18 item 5, what an operator reads: the real binary's startup, access and shutdown
//! lines carry no Rust Debug forms (`Some(127.0.0.1:9901)`, `mode=Routes`, `grace=10s`),
//! and durations are milliseconds with at most three decimals. One event, one line.
//!
//! Lives in the gangway package for `CARGO_BIN_EXE_gangway`; plain std, like sigterm.rs.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{wait_for, Gateway};

/// A port free a moment ago on 127.0.0.1.
fn free_addr() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("probe a free port");
    probe.local_addr().expect("probe addr")
}

/// `GET path` on a fresh connection; the status line.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect to gangway");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut status = String::new();
    BufReader::new(tcp)
        .read_line(&mut status)
        .expect("status line");
    status
}

#[test]
fn startup_access_and_shutdown_lines_have_no_debug_forms() {
    let listen = free_addr();
    let admin = free_addr();
    // Nothing listens here: the routed request ends in a 502 and an access line.
    let upstream = free_addr();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gangway"));
    cmd.args(["--listen", &listen.to_string()])
        .args(["--admin", &admin.to_string()])
        .args(["--route", &format!("/=http://{upstream}")])
        .args(["--log-level", "info", "--workers", "1"])
        .env_remove("RUST_LOG");
    let mut gw = Gateway::start(cmd);
    let started = wait_for(Duration::from_secs(20), || {
        gw.lines().iter().any(|l| l.contains("admin listening"))
    });
    assert!(started, "no startup lines:\n{}", gw.lines().join("\n"));
    assert!(get(listen, "/x").contains(" 502 "));
    let logged = wait_for(Duration::from_secs(10), || {
        gw.lines().iter().any(|l| l.contains("duration_ms="))
    });
    assert!(logged, "no access line:\n{}", gw.lines().join("\n"));

    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(gw.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(kill.success());
    let exited = wait_for(Duration::from_secs(20), || {
        matches!(gw.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "gangway did not exit:\n{}", gw.lines().join("\n"));
    gw.drain();
    let lines = gw.lines();
    let all = lines.join("\n");

    let listening = lines
        .iter()
        .find(|l| l.contains(" listening") && !l.contains("admin"))
        .unwrap_or_else(|| panic!("no listening line:\n{all}"));
    assert!(listening.contains("mode=routes"), "{listening}");
    let admin_line = lines
        .iter()
        .find(|l| l.contains("admin listening"))
        .unwrap_or_else(|| panic!("no admin line:\n{all}"));
    assert!(
        admin_line.contains(&format!("address={admin}")),
        "{admin_line}"
    );
    assert!(all.contains("shutting down"), "{all}");
    assert!(all.contains("upstream pools closed"), "{all}");
    for line in &lines {
        for debug in ["Some(", "None", "Routes", "Cors", "grace=", "{ ", "\\n"] {
            assert!(!line.contains(debug), "Debug form {debug:?} in: {line}");
        }
        // Every `*_ms=` value is a number with at most three decimals.
        for field in line.split_whitespace().filter(|f| f.contains("_ms=")) {
            let value = field.split_once('=').map(|(_, v)| v).unwrap_or_default();
            if value == "-" {
                // logfmt's mark for an absent value (no upstream head, for example).
                continue;
            }
            assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
            let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{decimals} decimals in: {line}");
        }
    }
}
