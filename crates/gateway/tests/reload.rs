//! The real binary reloading its config: SIGHUP under load (a route added, then a broken
//! file), `--watch` with a rename-replace, pooled upstream connections kept across a reload,
//! readiness during `[shutdown] delay`, and a socket-activated handover between two processes.
//!
//! Plain std like `sigterm.rs` (threads, blocking sockets); `kill -HUP` sends the signal.
#![cfg(unix)]

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};

use common::{wait_for, Gateway};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const START: Duration = Duration::from_secs(20);

/// A keep-alive upstream answering `200 ok` to everything; counts accepted connections.
fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("upstream addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || serve_upstream(stream));
        }
    });
    (addr, accepted)
}

fn serve_upstream(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// One HTTP/1.1 keep-alive connection to the gateway.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Client> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        Ok(Client {
            reader: BufReader::new(tcp),
        })
    }

    /// GET `path`; (status, body). Needs a Content-Length on the response.
    fn get(&mut self, path: &str) -> io::Result<(u16, Vec<u8>)> {
        write!(
            self.reader.get_mut(),
            "GET {path} HTTP/1.1\r\nhost: gateway.test\r\n\r\n"
        )?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.clone()))?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
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
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// GET on a fresh connection.
fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
    Client::connect(addr)?.get(path)
}

fn free_port() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("probe a free port");
    probe.local_addr().expect("probe addr")
}

/// A scratch directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("gangway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(
    listen: SocketAddr,
    admin: SocketAddr,
    routes: &[(&str, SocketAddr)],
    extra: &str,
) -> String {
    let mut text = format!(
        "[[listener]]\naddress = \"{listen}\"\n\n[admin]\naddress = \"{admin}\"\n\n\
         [log]\nlevel = \"info\"\n\n{extra}\n"
    );
    for (prefix, up) in routes {
        text.push_str(&format!(
            "[[route]]\nprefix = \"{prefix}\"\nupstream = \"http://{up}\"\n\n"
        ));
    }
    text
}

impl Gateway {
    fn spawn(file: &Path, watch: bool) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gangway"));
        cmd.arg("--config").arg(file).arg("--workers").arg("2");
        if watch {
            cmd.arg("--watch");
        }
        Gateway::start(cmd)
    }

    /// Started as systemd starts a socket-activated service: `socket` at fd 3, `LISTEN_FDS=1`
    /// and `LISTEN_PID` = the child's own pid (`sh` execs the binary, keeping its pid).
    fn activated(file: &Path, socket: &TcpListener) -> Gateway {
        let fd = OwnedFd::from(socket.try_clone().expect("dup the listening socket"));
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_gangway"))
            .arg("--config")
            .arg(file)
            .arg("--workers")
            .arg("2")
            .env("LISTEN_FDS", "1")
            .env_remove("NOTIFY_SOCKET");
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: fd,
            child_fd: 3,
        }])
        .expect("fd mapping");
        Gateway::start(cmd)
    }
}

fn answers(addr: SocketAddr, path: &str) -> bool {
    matches!(get(addr, path), Ok((200, _)))
}

/// Writes `text` to `file` as an editor does: a new file renamed over the old one.
fn replace(file: &Path, text: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the new config");
    std::fs::rename(&tmp, file).expect("rename over the config");
}

#[test]
fn sighup_under_load_adds_a_route_and_a_broken_file_keeps_the_old_config() {
    let (up, _) = upstream();
    let (listen, admin) = (free_port(), free_port());
    let dir = Dir::new("reload-hup");
    let file = dir.0.join("gangway.toml");
    std::fs::write(&file, config(listen, admin, &[("/a", up)], "")).expect("write config");
    let mut gw = Gateway::spawn(&file, false);
    assert!(
        wait_for(START, || answers(listen, "/a")),
        "not serving:\n{}",
        gw.log()
    );

    // 8 keep-alive clients, each on one connection, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (stop, served, failed) =
                (Arc::clone(&stop), Arc::clone(&served), Arc::clone(&failed));
            thread::spawn(move || {
                let mut client = match Client::connect(listen) {
                    Ok(c) => c,
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
                while !stop.load(Ordering::SeqCst) {
                    match client.get("/a") {
                        Ok((200, body)) if body == b"ok" => served.fetch_add(1, Ordering::SeqCst),
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    assert!(wait_for(START, || served.load(Ordering::SeqCst) > 100));

    std::fs::write(&file, config(listen, admin, &[("/a", up), ("/b", up)], "")).expect("write");
    gw.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(5), || answers(listen, "/b")),
        "the new route does not answer:\n{}",
        gw.log()
    );

    std::fs::write(&file, "[[listener]\naddress = 1\n").expect("write a broken config");
    gw.signal("HUP");
    let logged = wait_for(Duration::from_secs(5), || {
        gw.log().contains("config reload failed")
    });
    assert!(logged, "no error line:\n{}", gw.log());
    let before = served.load(Ordering::SeqCst);
    assert!(wait_for(Duration::from_secs(5), || served
        .load(Ordering::SeqCst)
        > before + 100));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client thread");
    }

    let log = gw.log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains(&file.display().to_string()), "{log}");
    assert!(gw.alive(), "{log}");
    assert_eq!(failed.load(Ordering::SeqCst), 0, "{log}");
    // Old and reloaded routes still served.
    assert!(answers(listen, "/a") && answers(listen, "/b"));
    let (status, metrics) = get(admin, "/metrics").expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("gangway_config_reloads_total{result=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gangway_config_reloads_total{result=\"error\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("gangway_config_last_reload_success_timestamp_seconds "));

    gw.signal("TERM");
    assert!(wait_for(Duration::from_secs(10), || !gw.alive()));
    assert_eq!(
        gw.child.wait().expect("status").code(),
        Some(0),
        "{}",
        gw.log()
    );
}

#[test]
fn watch_reloads_a_file_replaced_by_rename_and_keeps_upstream_connections() {
    let (up, accepted) = upstream();
    let (listen, admin) = (free_port(), free_port());
    let dir = Dir::new("reload-watch");
    let file = dir.0.join("gangway.toml");
    std::fs::write(&file, config(listen, admin, &[("/a", up)], "")).expect("write config");
    let gw = Gateway::spawn(&file, true);
    assert!(
        wait_for(START, || answers(listen, "/a")),
        "not serving:\n{}",
        gw.log()
    );
    // Sequential requests on one client connection: one pooled upstream connection.
    let mut client = Client::connect(listen).expect("connect");
    for _ in 0..5 {
        assert_eq!(client.get("/a").expect("get").0, 200);
    }
    let before = accepted.load(Ordering::SeqCst);

    replace(&file, &config(listen, admin, &[("/a", up), ("/b", up)], ""));
    assert!(
        wait_for(Duration::from_secs(5), || matches!(
            client.get("/b"),
            Ok((200, _))
        )),
        "the new route does not answer:\n{}",
        gw.log()
    );
    for _ in 0..5 {
        assert_eq!(client.get("/a").expect("get").0, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), before, "{}", gw.log());
}

#[test]
fn readiness_fails_during_shutdown_delay_while_requests_are_served() {
    let (up, _) = upstream();
    let (listen, admin) = (free_port(), free_port());
    let dir = Dir::new("reload-ready");
    let file = dir.0.join("gangway.toml");
    let text = config(listen, admin, &[("/a", up)], "[shutdown]\ndelay = \"3s\"\n");
    std::fs::write(&file, text).expect("write config");
    let mut gw = Gateway::spawn(&file, false);
    assert!(
        wait_for(START, || answers(listen, "/a")),
        "not serving:\n{}",
        gw.log()
    );
    assert_eq!(get(listen, "/ready").expect("ready").0, 200);

    gw.signal("TERM");
    let failing = wait_for(Duration::from_secs(2), || {
        matches!(get(listen, "/ready"), Ok((503, _)))
    });
    assert!(failing, "readiness still 200 after SIGTERM:\n{}", gw.log());
    // Still serving, on a new connection, during the delay.
    assert_eq!(get(listen, "/a").expect("served during the delay").0, 200);
    assert_eq!(get(listen, "/healthcheck").expect("liveness").0, 200);
    assert!(
        wait_for(Duration::from_secs(15), || !gw.alive()),
        "{}",
        gw.log()
    );
    assert_eq!(
        gw.child.wait().expect("status").code(),
        Some(0),
        "{}",
        gw.log()
    );
}

#[test]
fn socket_activation_hands_over_without_refusing_or_failing() {
    let (up, _) = upstream();
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind the shared socket");
    let listen = socket.local_addr().expect("addr");
    let dir = Dir::new("reload-activation");
    let file = dir.0.join("gangway.toml");
    let admin = free_port();
    std::fs::write(&file, config(listen, admin, &[("/a", up)], "")).expect("write config");
    let mut first = Gateway::activated(&file, &socket);
    assert!(
        wait_for(START, || answers(listen, "/a")),
        "not serving:\n{}",
        first.log()
    );

    // 16 clients, one `Connection: close` request per connection, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (stop, served, failed) =
                (Arc::clone(&stop), Arc::clone(&served), Arc::clone(&failed));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let result = TcpStream::connect(listen).and_then(|tcp| {
                        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
                        let mut client = Client {
                            reader: BufReader::new(tcp),
                        };
                        write!(
                            client.reader.get_mut(),
                            "GET /a HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
                        )?;
                        let mut all = Vec::new();
                        client.reader.read_to_end(&mut all)?;
                        Ok(all)
                    });
                    match result {
                        Ok(all) if all.starts_with(b"HTTP/1.1 200") && all.ends_with(b"ok") => {
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        other => {
                            if let Ok(mut f) = failed.lock() {
                                f.push(format!("{other:?}"));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    assert!(wait_for(START, || served.load(Ordering::SeqCst) > 100));

    // The second process takes the same socket; then the first is told to stop.
    // Same listener, its own admin port (only the listener's socket is handed over here).
    let file2 = dir.0.join("second.toml");
    std::fs::write(&file2, config(listen, free_port(), &[("/a", up)], "")).expect("write");
    let second = Gateway::activated(&file2, &socket);
    drop(socket);
    assert!(
        wait_for(START, || second.log().contains("listening")),
        "second did not start:\n{}",
        second.log()
    );
    first.signal("TERM");
    assert!(
        wait_for(Duration::from_secs(15), || !first.alive()),
        "{}",
        first.log()
    );
    let before = served.load(Ordering::SeqCst);
    assert!(wait_for(START, || served.load(Ordering::SeqCst) > before + 100));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client thread");
    }
    let failed = failed.lock().map(|f| f.clone()).unwrap_or_default();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}\n{}",
        failed.len(),
        &failed[..failed.len().min(5)],
        first.log()
    );
    assert_eq!(
        first.child.wait().expect("status").code(),
        Some(0),
        "{}",
        first.log()
    );
}

/// The line of `log` with `needle` in it, if any.
fn line_with(log: &str, needle: &str) -> Option<String> {
    log.lines().find(|l| l.contains(needle)).map(str::to_owned)
}

#[test]
fn sighup_changes_the_log_format_of_access_and_error_lines() {
    let (up, _) = upstream();
    let (listen, admin) = (free_port(), free_port());
    let dir = Dir::new("reload-format");
    let file = dir.0.join("gangway.toml");
    let routes = [("/a", up)];
    std::fs::write(&file, config(listen, admin, &routes, "format = \"text\"")).expect("write");
    let mut gw = Gateway::spawn(&file, false);
    assert!(
        wait_for(START, || answers(listen, "/a?before")),
        "not serving:\n{}",
        gw.log()
    );
    // Lines are written by the writer threads: wait for them to show.
    assert!(wait_for(Duration::from_secs(5), || gw
        .log()
        .contains("/a?before")));
    let before = line_with(&gw.log(), "/a?before").unwrap_or_default();
    assert!(
        before.contains(" path=/a?before"),
        "not text:\n{}",
        gw.log()
    );

    std::fs::write(&file, config(listen, admin, &routes, "format = \"json\"")).expect("write");
    gw.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(5), || gw
            .log()
            .contains("configuration reloaded")),
        "no reload line:\n{}",
        gw.log()
    );
    assert!(answers(listen, "/a?after"), "{}", gw.log());
    assert!(
        wait_for(Duration::from_secs(5), || gw.log().contains("/a?after")),
        "no access line:\n{}",
        gw.log()
    );
    // The error log switches with it: the next error line (a broken file) is JSON. (The
    // "configuration reloaded" line itself is still written in the old format.)
    std::fs::write(&file, "[[listener]\naddress = 1\n").expect("write a broken config");
    gw.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(5), || gw
            .log()
            .contains("config reload failed")),
        "no error line:\n{}",
        gw.log()
    );
    let log = gw.log();
    let json = |needle: &str| -> serde_json::Value {
        let line = line_with(&log, needle).unwrap_or_default();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{log}"))
    };
    let access = json("/a?after");
    assert_eq!(access["path"], "/a?after", "{log}");
    assert_eq!(access["status"], 200, "{log}");
    assert_eq!(json("config reload failed")["level"], "ERROR", "{log}");
    assert!(gw.alive(), "{log}");
    gw.signal("TERM");
    assert!(wait_for(Duration::from_secs(10), || !gw.alive()));
    assert_eq!(gw.child.wait().expect("status").code(), Some(0), "{log}");
}
