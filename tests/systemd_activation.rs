//! Socket activation on real inherited descriptors: the test binary re-executes itself with
//! listening sockets at fd 3 and 4 and `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` set as
//! systemd sets them, and the child calls `gangway::systemd::take_listeners`.
//!
//! `LISTEN_PID` must be the child's own pid, which is unknown before it starts: the child is
//! started through `sh -c 'LISTEN_PID=$$ exec …'` (exec keeps the pid). command-fds places the
//! sockets at fd 3 and 4 (a `pre_exec` dup2, which needs `unsafe` we keep out of this crate).
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};

/// Set in the child: the configured listener addresses, comma-separated.
const CHILD: &str = "GANGWAY_ACTIVATION_CHILD";
const WAIT: Duration = Duration::from_secs(20);

/// The child's side. In a normal run (variable unset) it does nothing.
#[test]
fn child_entry() {
    let Ok(configured) = std::env::var(CHILD) else {
        return;
    };
    let configured: Vec<SocketAddr> = configured
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().expect("address from the parent"))
        .collect();
    let result = gangway::systemd::take_listeners(&configured);
    let cleared = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        .iter()
        .all(|v| std::env::var_os(v).is_none());
    println!("CHILD cleared {cleared}");
    let listeners = match result {
        Ok(listeners) => listeners,
        Err(e) => {
            println!("CHILD error unmatched={} {e}", e.is_unmatched());
            return;
        }
    };
    let matched: Vec<String> = listeners
        .iter()
        .map(|l| match l {
            Some(l) => l.local_addr().expect("addr").to_string(),
            None => "none".to_owned(),
        })
        .collect();
    println!("CHILD matched {}", matched.join(","));
    // Serve one connection on each inherited socket: proof that it is the live socket.
    for listener in listeners.into_iter().flatten() {
        let (mut conn, _) = listener.accept().expect("accept");
        let local = conn.local_addr().expect("addr");
        writeln!(conn, "served by {} on {local}", std::process::id()).expect("write");
    }
}

fn bind() -> (SocketAddr, OwnedFd) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    (
        listener.local_addr().expect("addr"),
        OwnedFd::from(listener),
    )
}

/// Starts the child with `sockets` at fd 3, 4, …; `pid` = `None` sets `LISTEN_PID` to the
/// child's own pid, `Some(p)` to `p`.
fn spawn(configured: &[SocketAddr], sockets: Vec<OwnedFd>, names: &str, pid: Option<u32>) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new("/bin/sh");
    let script = match pid {
        None => "LISTEN_PID=$$ exec \"$0\" \"$@\"".to_owned(),
        Some(p) => format!("LISTEN_PID={p} exec \"$0\" \"$@\""),
    };
    cmd.arg("-c")
        .arg(script)
        .arg(exe)
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("LISTEN_FDS", sockets.len().to_string())
        .env("LISTEN_FDNAMES", names)
        .env_remove("NOTIFY_SOCKET")
        .env(
            CHILD,
            configured
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mappings = sockets
        .into_iter()
        .zip(3..)
        .map(|(parent_fd, child_fd)| FdMapping {
            parent_fd,
            child_fd,
        })
        .collect();
    cmd.fd_mappings(mappings).expect("distinct fds");
    // The Command owns the parent's copies; they close when it is dropped here, so only the
    // child holds the sockets afterwards.
    cmd.spawn().expect("spawn child")
}

/// Waits (bounded) for the child and returns its `CHILD …` lines.
fn finish(mut child: Child) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .expect("child stdout");
    // libtest may print "test child_entry ... " on the same line before the first of ours.
    out.lines()
        .filter_map(|l| l.split_once("CHILD ").map(|(_, ours)| ours.to_owned()))
        .collect()
}

fn fetch(addr: SocketAddr) -> String {
    let conn = TcpStream::connect(addr).expect("connect to the inherited socket");
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).expect("read");
    line
}

#[test]
fn each_listener_gets_the_inherited_socket_with_its_address() {
    let (web, web_fd) = bind();
    let (api, api_fd) = bind();
    // Config order differs from fd order; one listener has no inherited socket.
    let unrelated: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let child = spawn(
        &[api, unrelated, web],
        vec![web_fd, api_fd],
        "web:api",
        None,
    );
    let pid = child.id();
    for addr in [api, web] {
        let line = fetch(addr);
        assert_eq!(line, format!("served by {pid} on {addr}\n"));
    }
    let lines = finish(child);
    assert_eq!(
        lines,
        vec![
            "cleared true".to_owned(),
            format!("matched {api},none,{web}")
        ]
    );
}

#[test]
fn an_inherited_socket_matching_no_listener_is_a_startup_error() {
    let (web, web_fd) = bind();
    let configured: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let lines = finish(spawn(&[configured], vec![web_fd], "web", None));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "cleared true");
    let error = &lines[1];
    for part in [
        "error unmatched=true socket activation:",
        "fd 3 (\"web\")",
        &web.to_string(),
        "matches no [[listener]]",
        "configured: 127.0.0.1:1",
    ] {
        assert!(error.contains(part), "{part:?} missing: {error}");
    }
}

#[test]
fn sockets_meant_for_another_pid_are_ignored() {
    let (web, web_fd) = bind();
    // LISTEN_PID names another process (pid 1): the variables are cleared, nothing is
    // taken, and every listener binds as usual.
    let lines = finish(spawn(&[web], vec![web_fd], "web", Some(1)));
    assert_eq!(
        lines,
        vec!["cleared true".to_owned(), "matched none".to_owned()]
    );
}
