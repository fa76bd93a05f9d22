use std::net::{SocketAddr, TcpListener};

use super::*;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

/// (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, the names read or `None` = not for us)
type EnvCase = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<Vec<Option<String>>>,
);

/// (configured, inherited, the assignment)
type AssignCase = (
    Vec<SocketAddr>,
    Vec<SocketAddr>,
    Result<Vec<Option<usize>>, usize>,
);

#[test]
fn listen_env_is_read_as_sd_listen_fds_does() {
    let me = 4242;
    let names = |n: &[Option<&str>]| n.iter().map(|n| n.map(str::to_owned)).collect::<Vec<_>>();
    // (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) → names, or None = not for us
    let cases: [EnvCase; 9] = [
        (None, None, None, None),
        (Some("4242"), None, None, None),
        (None, Some("1"), None, None),
        (Some("1"), Some("1"), None, None),
        (Some("x"), Some("1"), None, None),
        (Some("4242"), Some("0"), None, Some(vec![])),
        (Some("4242"), Some("2"), None, Some(names(&[None, None]))),
        (
            Some(" 4242\n"),
            Some("1"),
            Some("web"),
            Some(names(&[Some("web")])),
        ),
        (
            Some("4242"),
            Some("3"),
            Some("a::c"),
            Some(names(&[Some("a"), None, Some("c")])),
        ),
    ];
    for (pid, fds, fdnames, wanted) in cases {
        let got = ListenEnv::parse(pid, fds, fdnames, me).expect("valid");
        assert_eq!(got.map(|e| e.names), wanted, "{pid:?} {fds:?} {fdnames:?}");
    }
}

#[test]
fn malformed_listen_env_is_an_error() {
    for (fds, fdnames) in [
        ("two", None),
        ("-1", None),
        ("99999", None),
        ("2", Some("web")),
        ("1", Some("a:b")),
    ] {
        let error = ListenEnv::parse(Some("7"), Some(fds), fdnames, 7).expect_err(fds);
        assert!(error.is_environment(), "{error}");
        assert!(
            error.to_string().starts_with("socket activation: "),
            "{error}"
        );
    }
}

#[test]
fn assignment_matches_on_the_exact_address() {
    let a = addr("127.0.0.1:8080");
    let b = addr("[::1]:8443");
    let any4 = addr("0.0.0.0:8080");
    let any6 = addr("[::]:8080");
    let port0 = addr("127.0.0.1:0");
    // (configured, inherited, result)
    let cases: Vec<AssignCase> = vec![
        (vec![a], vec![], Ok(vec![None])),
        (vec![a], vec![a], Ok(vec![Some(0)])),
        (vec![a, b], vec![b, a], Ok(vec![Some(1), Some(0)])),
        (vec![a, b], vec![b], Ok(vec![None, Some(0)])),
        // An inherited socket nobody takes is an error, never left accepting unserved.
        (vec![a], vec![b], Err(0)),
        (vec![], vec![a], Err(0)),
        (vec![a], vec![a, b], Err(1)),
        // Wildcards are different addresses: ListenStream=8080 is [::]:8080.
        (vec![any4], vec![any6], Err(0)),
        (vec![any6], vec![any6], Ok(vec![Some(0)])),
        // Port 0 means "any free port": it cannot be a particular inherited socket.
        (vec![port0], vec![addr("127.0.0.1:1")], Err(0)),
        // Two inherited sockets on one address: the second is refused.
        (vec![a], vec![a, a], Err(1)),
    ];
    for (configured, inherited, wanted) in cases {
        assert_eq!(
            assignment(&configured, &inherited),
            wanted,
            "{configured:?} {inherited:?}"
        );
    }
}

fn inherited(fd: i32, name: Option<&str>) -> Inherited {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    Inherited {
        fd,
        name: name.map(str::to_owned),
        address: listener.local_addr().expect("addr"),
        listener,
    }
}

#[test]
fn match_listeners_hands_each_listener_its_socket() {
    let first = inherited(3, Some("web"));
    let second = inherited(4, None);
    let (a, b) = (first.address, second.address);
    let other = addr("127.0.0.1:1");
    let got = match_listeners(&[b, other, a], vec![first, second]).expect("matches");
    let got: Vec<Option<SocketAddr>> = got
        .iter()
        .map(|l| l.as_ref().map(|l| l.local_addr().expect("addr")))
        .collect();
    assert_eq!(got, vec![Some(b), None, Some(a)]);
}

#[test]
fn an_unmatched_socket_is_named_in_the_error() {
    let socket = inherited(5, Some("admin"));
    let address = socket.address;
    let error = match_listeners(&[addr("127.0.0.1:1")], vec![socket]).expect_err("unmatched");
    assert!(error.is_unmatched() && !error.is_socket(), "{error}");
    let text = error.to_string();
    for part in [
        "fd 5",
        "\"admin\"",
        &address.to_string(),
        "127.0.0.1:1",
        "ListenStream",
    ] {
        assert!(text.contains(part), "{part} missing: {text}");
    }
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn no_inherited_sockets_means_bind_everything() {
    let got = match_listeners(&[addr("127.0.0.1:1"), addr("[::1]:2")], Vec::new()).expect("ok");
    assert!(got.iter().all(Option::is_none) && got.len() == 2);
}

#[test]
fn notify_messages() {
    assert_eq!(message(State::Ready, 5), "READY=1\n");
    assert_eq!(message(State::Stopping, 5), "STOPPING=1\n");
    assert_eq!(
        message(State::Reloading, 1_234_567),
        "RELOADING=1\nMONOTONIC_USEC=1234567\n"
    );
}

#[test]
fn notify_addresses() {
    for good in ["/run/systemd/notify", "@/org/freedesktop/systemd1/notify/1"] {
        assert!(Notifier::new(good).is_ok(), "{good}");
    }
    for bad in ["", "@", "relative/path", "vsock:2:1234"] {
        assert!(Notifier::new(bad).is_err(), "{bad:?}");
    }
}

#[cfg(unix)]
mod unix {
    use std::os::unix::net::UnixDatagram;

    use super::super::{Notifier, State};

    fn receive(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 256];
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let n = socket.recv(&mut buf).expect("a datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn check_sequence(notifier: &Notifier, socket: &UnixDatagram) {
        notifier.notify(State::Ready).expect("send");
        assert_eq!(receive(socket), "READY=1\n");
        notifier.notify(State::Reloading).expect("send");
        let reloading = receive(socket);
        let usec = reloading
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|rest| rest.strip_suffix('\n'))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(usec.is_some_and(|n| n > 0), "{reloading:?}");
        notifier.notify(State::Ready).expect("send");
        assert_eq!(receive(socket), "READY=1\n");
        notifier.notify(State::Stopping).expect("send");
        assert_eq!(receive(socket), "STOPPING=1\n");
    }

    #[test]
    fn notify_reaches_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("gangway-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("bind");
        let notifier = Notifier::new(path.to_str().expect("utf-8 path")).expect("notifier");
        check_sequence(&notifier, &socket);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn notify_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("gangway-notify-test-{}", std::process::id());
        let address =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
        let socket = UnixDatagram::bind_addr(&address).expect("bind");
        let notifier = Notifier::new(&format!("@{name}")).expect("notifier");
        check_sequence(&notifier, &socket);
    }

    #[test]
    fn notify_without_a_listener_is_an_error_not_a_hang() {
        let notifier = Notifier::new("/nonexistent/gangway/notify.sock").expect("notifier");
        assert!(notifier.notify(State::Ready).is_err());
    }
}
