//! The real binary's operations around a reload: TLS certificates replaced by SIGHUP (new
//! handshakes get the new certificate, an established connection keeps going, a bad
//! certificate file is refused whole), a changed listener address refused with one line,
//! the `sd_notify` messages at start, reload and stop seen on a real datagram socket, and
//! the admin listener served on a socket inherited by socket activation.
//!
//! Plain std like `reload.rs`: threads, blocking sockets, `kill` for signals; TLS with a
//! blocking rustls client and certificates made here with rcgen.
#![cfg(unix)]

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use common::{wait_for, Gateway};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const START: Duration = Duration::from_secs(20);

/// An upstream answering `200 ok` on each connection's requests.
fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().expect("upstream addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if writer.write_all(ok).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    addr
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

impl Gateway {
    fn spawn(file: &Path, notify: Option<&Path>) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gangway"));
        cmd.arg("--config").arg(file).arg("--workers").arg("1");
        match notify {
            Some(path) => cmd.env("NOTIFY_SOCKET", path),
            None => cmd.env_remove("NOTIFY_SOCKET"),
        };
        cmd.env_remove("LISTEN_FDS");
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
            .arg("1")
            .env("LISTEN_FDS", "1")
            .env_remove("NOTIFY_SOCKET");
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: fd,
            child_fd: 3,
        }])
        .expect("fd mapping");
        Gateway::start(cmd)
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Lines of the log containing `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }
}

/// GET `/a` on a fresh plain connection; the status.
fn plain_get(addr: SocketAddr) -> io::Result<u16> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.write_all(b"GET /a HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")?;
    let mut all = Vec::new();
    tcp.read_to_end(&mut all)?;
    let head = String::from_utf8_lossy(all.get(9..12).unwrap_or_default()).into_owned();
    head.parse()
        .map_err(|_| io::Error::other(format!("bad response: {all:?}")))
}

/// A CA, and leaves for `localhost` it signs.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("CA key");
        Pki {
            ca: CertifiedIssuer::self_signed(params, key).expect("CA"),
        }
    }

    /// (cert PEM, key PEM, cert DER) of a new `localhost` leaf.
    fn leaf(&self) -> (String, String, CertificateDer<'static>) {
        let params = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("sign leaf");
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }

    fn client(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).expect("CA as a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `localhost` at `addr`, and the certificate it was given.
fn tls_connect(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> io::Result<(Tls, CertificateDer<'static>)> {
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = rustls::ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    let cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| io::Error::other("no server certificate"))?;
    Ok((tls, cert))
}

/// One keep-alive GET `/a` on `tls`; the status (the upstream's body is 2 bytes).
fn tls_get(tls: &mut Tls) -> io::Result<u16> {
    tls.write_all(b"GET /a HTTP/1.1\r\nhost: localhost\r\n\r\n")?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut byte)?;
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tls.read_exact(&mut body)?;
    head.get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(head.clone()))
}

fn tls_config(listen: SocketAddr, dir: &Path, up: SocketAddr) -> String {
    format!(
        "[[listener]]\naddress = \"{listen}\"\ntls = {{ cert = \"{0}/cert.pem\", key = \"{0}/key.pem\" }}\n\n\
         [log]\nlevel = \"info\"\n\n[[route]]\nprefix = \"/a\"\nupstream = \"http://{up}\"\n",
        dir.display()
    )
}

#[test]
fn sighup_reloads_certificates_and_refuses_a_bad_one_whole() {
    let up = upstream();
    let pki = Pki::new();
    let client = pki.client();
    let dir = Dir::new("reload-tls");
    let (cert, key, first_der) = pki.leaf();
    std::fs::write(dir.0.join("cert.pem"), cert).expect("cert");
    std::fs::write(dir.0.join("key.pem"), key).expect("key");
    let file = dir.0.join("gangway.toml");
    let listen = free_port();
    std::fs::write(&file, tls_config(listen, &dir.0, up)).expect("config");
    let gw = Gateway::spawn(&file, None);
    let mut kept = None;
    assert!(
        wait_for(START, || {
            kept = tls_connect(&client, listen).ok();
            kept.is_some()
        }),
        "not serving TLS:\n{}",
        gw.log()
    );
    let (mut kept, seen) = kept.expect("connected");
    assert_eq!(seen, first_der);
    assert_eq!(tls_get(&mut kept).expect("first request"), 200);

    // New certificate and key, same paths: new handshakes get it after SIGHUP.
    let (cert, key, second_der) = pki.leaf();
    std::fs::write(dir.0.join("cert.pem"), cert).expect("cert");
    std::fs::write(dir.0.join("key.pem"), key).expect("key");
    gw.signal("HUP");
    assert!(
        wait_for(START, || gw.count("configuration reloaded") == 1),
        "{}",
        gw.log()
    );
    let (mut fresh, seen) = tls_connect(&client, listen).expect("connect after reload");
    assert_eq!(seen, second_der);
    assert_eq!(tls_get(&mut fresh).expect("new connection"), 200);
    // The connection made before the reload keeps going on its handshake.
    assert_eq!(tls_get(&mut kept).expect("kept connection"), 200);

    // A key that does not match the certificate: refused whole, one error line.
    let (_, other_key, _) = pki.leaf();
    std::fs::write(dir.0.join("key.pem"), other_key).expect("key");
    gw.signal("HUP");
    assert!(
        wait_for(START, || gw.count("config reload failed") == 1),
        "{}",
        gw.log()
    );
    let line = gw
        .log()
        .lines()
        .find(|l| l.contains("config reload failed"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(line.contains("cert.pem"), "{line}");
    let (mut again, seen) = tls_connect(&client, listen).expect("connect after refusal");
    assert_eq!(seen, second_der);
    assert_eq!(tls_get(&mut again).expect("still served"), 200);
    assert_eq!(tls_get(&mut kept).expect("kept connection"), 200);
}

#[test]
fn sighup_with_a_changed_listener_address_is_refused_and_the_old_one_serves() {
    let up = upstream();
    let dir = Dir::new("reload-listener");
    let file = dir.0.join("gangway.toml");
    let (listen, moved) = (free_port(), free_port());
    let text = |addr: SocketAddr| {
        format!(
            "[[listener]]\naddress = \"{addr}\"\n\n[log]\nlevel = \"info\"\n\n\
             [[route]]\nprefix = \"/a\"\nupstream = \"http://{up}\"\n"
        )
    };
    std::fs::write(&file, text(listen)).expect("config");
    let gw = Gateway::spawn(&file, None);
    assert!(
        wait_for(START, || matches!(plain_get(listen), Ok(200))),
        "{}",
        gw.log()
    );
    std::fs::write(&file, text(moved)).expect("config");
    gw.signal("HUP");
    assert!(
        wait_for(START, || gw.count("config reload failed") == 1),
        "{}",
        gw.log()
    );
    let log = gw.log();
    let line = log
        .lines()
        .find(|l| l.contains("config reload failed"))
        .unwrap_or_default();
    assert!(
        line.contains("[[listener]] changed") && line.contains("restart"),
        "{line}"
    );
    assert_eq!(gw.count("ERROR"), 1, "{log}");
    assert_eq!(plain_get(listen).expect("old listener"), 200);
    assert!(
        plain_get(moved).is_err(),
        "the new address must not be bound"
    );
}

#[test]
fn sd_notify_ready_reloading_ready_stopping() {
    let up = upstream();
    let dir = Dir::new("notify");
    let socket_path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket.set_read_timeout(Some(START)).expect("read timeout");
    let file = dir.0.join("gangway.toml");
    let listen = free_port();
    std::fs::write(
        &file,
        format!(
            "[[listener]]\naddress = \"{listen}\"\n\n[[route]]\nprefix = \"/a\"\nupstream = \"http://{up}\"\n"
        ),
    )
    .expect("config");
    let mut gw = Gateway::spawn(&file, Some(&socket_path));
    let next = || {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notify message");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "READY=1\n", "{}", gw.log());
    assert_eq!(plain_get(listen).expect("serving"), 200);

    gw.signal("HUP");
    let reloading = next();
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|rest| rest.trim_end().parse::<u64>().ok());
    assert!(usec.is_some_and(|u| u > 0), "{reloading:?}");
    assert_eq!(next(), "READY=1\n");

    gw.signal("TERM");
    assert_eq!(next(), "STOPPING=1\n");
    assert_eq!(gw.wait_exit(), Some(0), "{}", gw.log());
}

/// GET `/a` with `extra` header fields on a fresh connection; the status.
fn get_with_headers(addr: SocketAddr, extra: usize) -> io::Result<u16> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut req = String::from("GET /a HTTP/1.1\r\nhost: t\r\nconnection: close\r\n");
    for i in 0..extra {
        req.push_str(&format!("x-field-{i}: v\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes())?;
    let mut all = Vec::new();
    // The gateway may close before reading every byte of a refused head.
    let _ = tcp.read_to_end(&mut all);
    String::from_utf8_lossy(all.get(9..12).unwrap_or_default())
        .parse()
        .map_err(|_| io::Error::other(format!("bad response: {all:?}")))
}

#[test]
fn sighup_applies_connection_limits_to_new_connections() {
    let up = upstream();
    let dir = Dir::new("reload-limits");
    let file = dir.0.join("gangway.toml");
    let listen = free_port();
    let text = |max_headers: usize, max_connections: usize| {
        format!(
            "[[listener]]\naddress = \"{listen}\"\n\n[log]\nlevel = \"info\"\n\n\
             [limits]\nmax_headers = {max_headers}\nmax_connections = {max_connections}\n\n\
             [[route]]\nprefix = \"/a\"\nupstream = \"http://{up}\"\n"
        )
    };
    std::fs::write(&file, text(100, 100)).expect("config");
    let gw = Gateway::spawn(&file, None);
    assert!(
        wait_for(START, || matches!(plain_get(listen), Ok(200))),
        "{}",
        gw.log()
    );
    assert_eq!(get_with_headers(listen, 20).expect("20 fields"), 200);

    std::fs::write(&file, text(10, 50)).expect("config");
    gw.signal("HUP");
    assert!(
        wait_for(START, || gw.count("configuration reloaded") == 1),
        "{}",
        gw.log()
    );
    // New connections: more fields than the new limit are refused.
    assert_eq!(get_with_headers(listen, 20).expect("refused"), 431);
    assert_eq!(get_with_headers(listen, 2).expect("few fields"), 200);
    assert!(gw.log().contains("max_connections changed"), "{}", gw.log());
}

#[test]
fn admin_listener_is_served_on_an_inherited_socket() {
    let up = upstream();
    // Held open by the test: binding the address again would fail, so an answer on it
    // means the gateway serves the inherited socket.
    let admin = TcpListener::bind("127.0.0.1:0").expect("bind the admin socket");
    let admin_addr = admin.local_addr().expect("admin addr");
    let dir = Dir::new("activation-admin");
    let file = dir.0.join("gangway.toml");
    let listen = free_port();
    std::fs::write(
        &file,
        format!(
            "[[listener]]\naddress = \"{listen}\"\n\n[admin]\naddress = \"{admin_addr}\"\n\n\
             [[route]]\nprefix = \"/a\"\nupstream = \"http://{up}\"\n"
        ),
    )
    .expect("config");
    let gw = Gateway::activated(&file, &admin);
    assert!(
        wait_for(START, || matches!(plain_get(listen), Ok(200))),
        "{}",
        gw.log()
    );
    let metrics = |addr: SocketAddr| -> io::Result<String> {
        let mut tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")?;
        let mut all = String::new();
        tcp.read_to_string(&mut all)?;
        Ok(all)
    };
    let text = metrics(admin_addr).expect("admin answers");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("gangway_config_reloads_total"), "{text}");
}
