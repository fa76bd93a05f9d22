//! Address handling: literals, the filter, connect errors, the Happy Eyeballs order.

use super::*;

#[tokio::test]
async fn literal_skips_resolver_and_filter_sees_all() {
    let filter = |host: &str, port: u16, addrs: &[SocketAddr]| {
        if addrs.iter().any(|a| a.ip().is_loopback()) {
            Err(format!("{host}:{port} is loopback"))
        } else {
            Ok(())
        }
    };
    let err = addresses("127.0.0.1", 80, None, None, Some(&filter))
        .await
        .expect_err("loopback refused");
    assert!(err.is_address_refused());
    assert!(err.to_string().contains("127.0.0.1:80 is loopback"));
    let ok = addresses("192.0.2.1", 80, None, None, Some(&filter))
        .await
        .expect("accepted");
    assert_eq!(ok, vec!["192.0.2.1:80".parse().expect("addr")]);
}

#[tokio::test]
async fn refused_connect_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = tcp(&[addr], None, None).await.expect_err("nothing listens");
    assert!(err.is_connect());
}

#[test]
fn families_interleave_from_the_first_answer() {
    let a = |s: &str| s.parse::<SocketAddr>().expect("addr");
    let table: &[(&[&str], &[&str])] = &[
        (&[], &[]),
        (&["[::1]:1"], &["[::1]:1"]),
        (
            &["[::1]:1", "[::2]:1", "10.0.0.1:1", "10.0.0.2:1"],
            &["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1"],
        ),
        (
            &["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "[::1]:1"],
            &["10.0.0.1:1", "[::1]:1", "10.0.0.2:1", "10.0.0.3:1"],
        ),
    ];
    for (input, want) in table {
        let input: Vec<_> = input.iter().map(|s| a(s)).collect();
        let want: Vec<_> = want.iter().map(|s| a(s)).collect();
        assert_eq!(interleave(&input), want, "{input:?}");
    }
}
