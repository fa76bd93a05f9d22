//! Group failover with the request the pool gives back (`Error::take_request`): a retry
//! re-targets the already rewritten request instead of rewriting a spare copy, so a
//! streamed body whose first server refused the connection is still sent (exactly once),
//! and a retried request carries the forwarding headers once, with the `Host` of the
//! server that finally takes it.
//!
//! The groups use `round_robin`, so most requests start on a refusing or closing server,
//! and a generous retry budget, so that every failover here is allowed.

use gangway_tests::fault::{Fault, FaultServer, RawRequest};
use gangway_tests::gateway::{closed_addr, get, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::{init_tracing, within};

fn group_config(servers: &[String]) -> String {
    let list = servers
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[upstream]]\nname = \"g\"\nservers = [{list}]\nbalance = \"round_robin\"\n\
         [upstream.retry_budget]\npercent = 100\nmin_per_second = 100\n\n\
         [[route]]\nprefix = \"/g\"\nupstream = \"g\"\n\n"
    )
}

/// A server that answers every request `200 ok` (one per connection) and records it.
async fn live() -> FaultServer {
    Fault::ConnectionClose.run().await
}

/// How many header lines named `name` the request carried, and their values.
fn header_lines(r: &RawRequest, name: &str) -> Vec<String> {
    String::from_utf8_lossy(&r.head)
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// Chunked POSTs (streamed, never held for replay) to a group whose two other servers
/// refuse connections: every one is served, its body reaching the live server once.
#[tokio::test]
async fn a_streamed_post_refused_by_its_first_server_is_sent_elsewhere_once() {
    init_tracing();
    within("streamed post failover", async {
        let ok = live().await;
        let dead = |_| format!("http://{}", closed_addr());
        let servers = [dead(0), dead(1), ok.url("")];
        let gw = start_gateway(&group_config(&servers)).await;
        let n = 9;
        for i in 0..n {
            let body = format!("chunked-body-{i}");
            let req = format!(
                "POST /g/up HTTP/1.1\r\nhost: gateway.test\r\ntransfer-encoding: chunked\r\n\r\n\
                 {:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            );
            let mut conn = RawConn::connect(gw.addrs[0]).await.expect("connect");
            let r = conn.request(req.as_bytes()).await.expect("response");
            assert_eq!(r.status, 200, "POST {i}: {}", r.body_str());
        }
        let bodies: Vec<String> = ok
            .requests()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        assert_eq!(bodies.len(), n, "{bodies:?}");
        for i in 0..n {
            let want = format!("chunked-body-{i}");
            let seen = bodies.iter().filter(|b| **b == want).count();
            assert_eq!(seen, 1, "{want} received {seen} times");
        }
    })
    .await;
}

/// GETs whose first server refuses or reads and closes: the server that answers sees one
/// `X-Forwarded-For` value, one request id and its own `Host`.
#[tokio::test]
async fn a_retried_get_carries_one_forwarding_header() {
    init_tracing();
    within("retried get headers", async {
        let closing = Fault::StaleRace {
            close_after: 0,
            rst: false,
        }
        .run()
        .await;
        let ok = live().await;
        let servers = [
            format!("http://{}", closed_addr()),
            closing.url(""),
            ok.url(""),
        ];
        let gw = start_gateway(&group_config(&servers)).await;
        let n = 9;
        for i in 0..n {
            let mut conn = RawConn::connect(gw.addrs[0]).await.expect("connect");
            let r = conn
                .request(&get(&format!("/g/{i}")))
                .await
                .expect("response");
            assert_eq!(r.status, 200, "GET {i}: {}", r.body_str());
        }
        let seen = ok.requests();
        assert_eq!(seen.len(), n);
        assert!(
            !closing.requests().is_empty(),
            "some GET was first written to the closing server"
        );
        for r in seen.iter().chain(closing.requests().iter()) {
            let xff = header_lines(r, "x-forwarded-for");
            assert_eq!(xff, vec!["127.0.0.1".to_owned()], "{}", r.target());
            assert_eq!(header_lines(r, "x-request-id").len(), 1, "{}", r.target());
        }
        let host = ok.addr().to_string();
        for r in &seen {
            assert_eq!(
                header_lines(r, "host"),
                vec![host.clone()],
                "{}",
                r.target()
            );
        }
    })
    .await;
}
