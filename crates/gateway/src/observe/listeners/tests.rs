use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

#[test]
fn connections_are_counted_per_listener() {
    let l = Listeners::new(&[
        addr("127.0.0.1:8080"),
        addr("0.0.0.0:9090"),
        addr("[::1]:7070"),
    ]);
    l.opened(addr("127.0.0.1:8080"));
    l.opened(addr("127.0.0.1:8080"));
    l.closed(addr("127.0.0.1:8080"));
    // The wildcard listener: the connection's local address is the interface's.
    l.opened(addr("10.1.2.3:9090"));
    // Not a listener of ours: not counted.
    l.opened(addr("127.0.0.1:1"));
    let mut out = String::new();
    l.render(&mut out);
    for line in [
        "gangway_listener_connections_accepted_total{listener=\"127.0.0.1:8080\"} 2",
        "gangway_listener_connections_open{listener=\"127.0.0.1:8080\"} 1",
        "gangway_listener_connections_accepted_total{listener=\"0.0.0.0:9090\"} 1",
        "gangway_listener_connections_open{listener=\"0.0.0.0:9090\"} 1",
    ] {
        assert!(out.lines().any(|x| x == line), "missing {line}\n{out}");
    }
    assert!(
        !out.contains("7070"),
        "unused listeners are left out\n{out}"
    );
    assert!(out.contains("# HELP gangway_listener_connections_open "));
}
