//! The real binary under SIGTERM: `gangway --listen … --route /=…` serves, and on SIGTERM
//! stops accepting, lets the in-flight requests finish, and exits with status 0.
//!
//! Lives in the gangway package because only its own integration tests get
//! `CARGO_BIN_EXE_gangway`. Plain std (threads, blocking sockets) so it needs no
//! dev-dependencies; `kill -TERM` sends the signal (no libc). Unix only.
#![cfg(unix)]

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{wait_for, Gateway};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A keep-alive HTTP/1.1 upstream on std threads: `GET /sleep/MS` waits MS ms, every
/// request is answered `200` with body `ok`. Counts requests whose head arrived.
fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("upstream addr");
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let counter = Arc::clone(&counter);
            thread::spawn(move || serve_upstream(stream, &counter));
        }
    });
    (addr, seen)
}

fn serve_upstream(stream: TcpStream, seen: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // The gateway sends no request bodies in this test; skip the headers.
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        seen.fetch_add(1, Ordering::SeqCst);
        let path = request_line.split(' ').nth(1).unwrap_or("/");
        if let Some(ms) = path.strip_prefix("/sleep/").and_then(|ms| ms.parse().ok()) {
            thread::sleep(Duration::from_millis(ms));
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// Sends one GET on a fresh connection, returns (status, body). The response must carry
/// a Content-Length (our upstream's always does).
fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(tcp, "GET {path} HTTP/1.1\r\nhost: gateway.test\r\n\r\n")?;
    let mut reader = BufReader::new(tcp);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.clone()))?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((status, body))
}

fn spawn_gateway(listen: SocketAddr, upstream: SocketAddr) -> Gateway {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gangway"));
    cmd.arg("--listen")
        .arg(listen.to_string())
        .arg("--route")
        .arg(format!("/=http://{upstream}"))
        .arg("--log-level")
        .arg("info")
        // More workers than the test machine's cores: every worker accepts on its own
        // SO_REUSEPORT socket, and shutdown must stop them all.
        .arg("--workers")
        .arg("3");
    Gateway::start(cmd)
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_0() {
    let (up, seen) = upstream();
    let listen = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("probe a free port");
        probe.local_addr().expect("probe addr")
    };
    let mut gw = spawn_gateway(listen, up);
    let ready = wait_for(Duration::from_secs(20), || {
        TcpStream::connect(listen).is_ok()
    });
    assert!(
        ready,
        "gangway did not start listening on {listen}:\n{}",
        gw.log()
    );
    let (status, body) = get(listen, "/ping").expect("warm-up request");
    assert_eq!(status, 200, "{}", gw.log());
    assert_eq!(body, b"ok");

    const IN_FLIGHT: usize = 8;
    let before = seen.load(Ordering::SeqCst);
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| thread::spawn(move || get(listen, "/sleep/800")))
        .collect();
    let all_in = wait_for(Duration::from_secs(5), || {
        seen.load(Ordering::SeqCst) == before + IN_FLIGHT
    });
    assert!(all_in, "requests did not reach the upstream:\n{}", gw.log());

    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(gw.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(kill.success());

    // New connections are refused while the in-flight requests are still running.
    let refused = wait_for(
        Duration::from_secs(2),
        || matches!(TcpStream::connect(listen), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
    );
    assert!(refused, "still accepting after SIGTERM:\n{}", gw.log());

    for client in clients {
        let (status, body) = client
            .join()
            .expect("client thread")
            .unwrap_or_else(|e| panic!("in-flight request failed: {e}\n{}", gw.log()));
        assert_eq!(status, 200);
        assert_eq!(body, b"ok");
    }
    let exited = wait_for(Duration::from_secs(10), || {
        matches!(gw.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "gangway did not exit after SIGTERM:\n{}", gw.log());
    let status = gw.child.wait().expect("exit status");
    assert_eq!(status.code(), Some(0), "{}", gw.log());
}

/// Workers bind with SO_REUSEPORT; a port somebody already listens on must still be
/// refused ("address in use"), not silently shared with a second gangway.
#[test]
fn a_port_in_use_is_refused_even_with_reuseport_workers() {
    let (up, _) = upstream();
    let taken = TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let addr = taken.local_addr().expect("held addr");
    let mut first = spawn_gateway(addr, up);
    let exited = wait_for(Duration::from_secs(20), || {
        matches!(first.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "gangway started on a port in use:\n{}", first.log());
    let status = first.child.wait().expect("exit status");
    assert!(!status.success());
    assert!(
        first.log().contains("cannot listen on"),
        "no clear error:\n{}",
        first.log()
    );
    drop(taken);

    // A running gangway's port: a second one must not join its SO_REUSEPORT group.
    let mut running = spawn_gateway(addr, up);
    let ready = wait_for(Duration::from_secs(20), || TcpStream::connect(addr).is_ok());
    assert!(ready, "gangway did not start:\n{}", running.log());
    let mut second = spawn_gateway(addr, up);
    let exited = wait_for(Duration::from_secs(20), || {
        matches!(second.child.try_wait(), Ok(Some(_)))
    });
    assert!(
        exited,
        "a second gangway shares the port:\n{}",
        second.log()
    );
    assert!(
        second.log().contains("cannot listen on"),
        "{}",
        second.log()
    );
    let (status, body) = get(addr, "/ping").expect("the first still serves");
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    let _ = running.child.kill();
}
