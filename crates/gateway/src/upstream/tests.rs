use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::*;

fn group(policy: Policy, n: usize) -> Arc<Group> {
    let servers = (0..n)
        .map(|i| {
            (
                Upstream::parse(&format!("http://127.0.0.1:{}", 3001 + i)).expect("url"),
                1,
            )
        })
        .collect();
    let settings = Settings {
        policy,
        hash_on: Some(HashOn::ClientIp),
        retry: retry::Policy::default(),
        budget: budget::Settings::default(),
        outlier: outlier::Settings::default(),
        health: None,
    };
    Arc::new(Group::new("users", servers, settings, Instant::now()))
}

fn input(headers: &HeaderMap) -> RequestKeyInput<'_> {
    RequestKeyInput {
        headers,
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

#[test]
fn in_flight_follows_handles() {
    let g = group(Policy::RoundRobin, 3);
    let h = HeaderMap::new();
    let now = Instant::now();
    let a = g.pick(&input(&h), &[], now).expect("pick");
    let b = g.pick(&input(&h), &[], now).expect("pick");
    assert_ne!(a.index(), b.index());
    assert_eq!(g.servers().iter().map(Server::in_flight).sum::<usize>(), 2);
    drop(a);
    assert_eq!(g.servers().iter().map(Server::in_flight).sum::<usize>(), 1);
    drop(b);
    assert_eq!(g.servers().iter().map(Server::requests).sum::<u64>(), 2);
    assert_eq!(g.servers().iter().map(Server::in_flight).sum::<usize>(), 0);
}

#[test]
fn retries_go_to_servers_not_yet_tried() {
    let g = group(Policy::LeastRequests, 3);
    let h = HeaderMap::new();
    let now = Instant::now();
    let mut tried = Vec::new();
    for _ in 0..3 {
        let s = g.pick(&input(&h), &tried, now).expect("pick");
        assert!(!tried.contains(&s.index()));
        tried.push(s.index());
    }
    assert_eq!(g.untried(&tried, now), 0);
    assert!(g.pick(&input(&h), &tried, now).is_none());
}

#[test]
fn ejected_servers_get_nothing_until_all_are_out() {
    let g = group(Policy::RoundRobin, 3);
    let h = HeaderMap::new();
    let now = Instant::now();
    let first = g.pick(&input(&h), &[], now).expect("pick");
    let ejected = first.index();
    for _ in 0..5 {
        g.report(&first, outlier::Outcome::Failure, now);
    }
    drop(first);
    for _ in 0..30 {
        let s = g.pick(&input(&h), &[], now).expect("pick");
        assert_ne!(s.index(), ejected);
        assert!(!s.panic);
    }
    assert_eq!(g.servers().get(ejected).map(Server::failures), Some(5));
    // Active checks take the other two out: nothing is usable, so panic mode uses all.
    for s in 0..3 {
        if s != ejected {
            g.set_checked(s, false);
        }
    }
    assert_eq!(g.untried(&[], now), 3);
    let s = g.pick(&input(&h), &[], now).expect("panic pick");
    assert!(s.panic);
    assert_eq!(g.panics(), 1);
    drop(s);
    // One comes back: panic mode ends, and it gets everything.
    let back = (ejected + 1) % 3;
    g.set_checked(back, true);
    for _ in 0..10 {
        let s = g.pick(&input(&h), &[], now).expect("pick");
        assert_eq!((s.index(), s.panic), (back, false));
    }
    // After the ejection, the ejected server is back too.
    let later = now + Duration::from_secs(11);
    assert!(g.usable(ejected, later));
}

#[test]
fn hash_group_sticks_to_a_client() {
    let g = group(Policy::Hash, 5);
    let h = HeaderMap::new();
    let now = Instant::now();
    let first = g.pick(&input(&h), &[], now).expect("pick").index();
    for _ in 0..20 {
        assert_eq!(g.pick(&input(&h), &[], now).expect("pick").index(), first);
    }
    // A retry still moves on.
    let retry = g.pick(&input(&h), &[first], now).expect("pick").index();
    assert_ne!(retry, first);
}
