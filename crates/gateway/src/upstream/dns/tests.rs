use std::time::Instant;

use super::*;
use crate::config::ServerSpec;

fn group_config(urls: &[&str]) -> UpstreamGroup {
    let servers = urls
        .iter()
        .map(|u| ServerSpec {
            upstream: Upstream::parse(u).expect("url"),
            weight: 2,
        })
        .collect();
    UpstreamGroup::anonymous("g".to_owned(), servers)
}

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], port))
}

#[test]
fn names_and_literals() {
    for (url, name) in [
        ("http://api.internal:8080", Some(("api.internal", 8080))),
        ("http://localhost", Some(("localhost", 80))),
        ("http://127.0.0.1:3000", None),
        ("https://[::1]:8443", None),
    ] {
        let u = Upstream::parse(url).expect("url");
        assert_eq!(host_name(&u), name, "{url}");
    }
}

#[test]
fn each_address_is_a_server_and_keeps_its_counters() {
    let config = group_config(&["http://svc.test:80", "http://127.0.0.1:9000"]);
    let start = Group::from_specs(
        "g",
        server_set(
            &config,
            &[None, None],
            &Group::from_specs("g", Vec::new(), config.settings.clone(), Instant::now()),
        ),
        config.settings.clone(),
        Instant::now(),
    );
    assert_eq!(start.servers().len(), 2);
    assert_eq!(start.servers()[0].connect_to, None);

    // Two addresses (given out of order and with a duplicate): two servers, sorted.
    let two = server_set(
        &config,
        &[Some(vec![addr(2, 2), addr(1, 1), addr(2, 2)]), None],
        &start,
    );
    let got: Vec<_> = two.iter().map(|s| (s.connect_to, s.weight)).collect();
    assert_eq!(
        got,
        [(Some(addr(1, 1)), 2), (Some(addr(2, 2)), 2), (None, 2)]
    );
    assert!(changed(&start, &two));
    let two = Group::from_specs("g", two, config.settings.clone(), Instant::now());
    assert!(!changed(
        &two,
        &server_set(&config, &[Some(vec![addr(1, 1), addr(2, 2)]), None], &two)
    ));

    // A third address: the first two keep their counters, the new one starts at zero.
    let before = Arc::clone(two.servers()[0].stats());
    let three = server_set(
        &config,
        &[Some(vec![addr(1, 1), addr(2, 2), addr(3, 3)]), None],
        &two,
    );
    assert!(three[0]
        .stats
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, &before)));
    assert!(three[2].stats.is_none());
    // The literal server keeps its counters too.
    assert!(three[3]
        .stats
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, two.servers()[2].stats())));
}

#[test]
fn a_name_without_answer_keeps_its_last_addresses() {
    let config = group_config(&["http://svc.test:80"]);
    let empty = Group::from_specs("g", Vec::new(), config.settings.clone(), Instant::now());
    let set = server_set(&config, &[Some(vec![addr(1, 1)])], &empty);
    let g = Group::from_specs("g", set, config.settings.clone(), Instant::now());
    let upstream = &config.servers[0].upstream;
    assert_eq!(last_addresses(&g, upstream), Some(vec![addr(1, 1)]));
    assert_eq!(last_addresses(&empty, upstream), None);
}
