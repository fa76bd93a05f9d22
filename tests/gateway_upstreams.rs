//! Issue #11 acceptance, upstream groups: a route naming an `[[upstream]]` group balances
//! over its servers, fails over on a server not yet tried, never sends a written POST
//! twice, keeps a slow server's share small with `least_requests`, answers 502 when every
//! server is down, bounds retries with the budget, and keeps `hash` keys sticky.
//!
//! Servers are real loopback HTTP/1.1 servers (`Upstream`) or raw fault servers (`Fault`).
//! "Killing" a server mid-run drops its `Listening`: the accept task is aborted, which
//! closes the listener and every connection it served (the in-process stand-in for
//! SIGKILL: the port refuses from then on and open connections see their peer vanish).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gangway_tests::fault::Fault;
use gangway_tests::gateway::{closed_addr, get, get_with, post, start_gateway};
use gangway_tests::raw::{send_raw, RawConn};
use gangway_tests::upstream::{echo, Upstream};
use gangway_tests::{init_tracing, within};

/// A `[[upstream]]` group named `g` over `servers`, `extra` lines appended to its table,
/// and a route `/g` to it.
fn group_config(servers: &[String], extra: &str) -> String {
    let list = servers
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[upstream]]\nname = \"g\"\nservers = [{list}]\n{extra}\n[[route]]\nprefix = \"/g\"\nupstream = \"g\"\n\n"
    )
}

/// `n` GETs on one keep-alive connection; returns the statuses that were not 200.
async fn get_many(addr: std::net::SocketAddr, n: usize) -> Vec<u16> {
    let mut conn = RawConn::connect(addr).await.expect("connect to gateway");
    let mut bad = Vec::new();
    for i in 0..n {
        match conn.request(&get(&format!("/g/{i}"))).await {
            Ok(r) if r.status == 200 => {}
            Ok(r) => bad.push(r.status),
            Err(_) => {
                bad.push(0);
                conn = RawConn::connect(addr).await.expect("reconnect");
            }
        }
    }
    bad
}

#[tokio::test]
async fn one_refusing_server_of_three_costs_no_request() {
    init_tracing();
    within("refusing server", async {
        let a = Upstream::http1().run().await;
        let b = Upstream::http1().run().await;
        let dead = format!("http://{}", closed_addr());
        let gw = start_gateway(&group_config(&[a.url(""), dead, b.url("")], "")).await;
        let bad = get_many(gw.addrs[0], 600).await;
        assert_eq!(bad, Vec::<u16>::new(), "client errors");
        let (na, nb) = (a.requests_seen(), b.requests_seen());
        assert_eq!(na + nb, 600);
        assert!(
            na >= 210 && nb >= 210,
            "live servers got {na} and {nb} of 600"
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_killed_mid_run_costs_no_get() {
    init_tracing();
    within("killed server", async {
        let a = Upstream::http1().run().await;
        let b = Upstream::http1().run().await;
        let victim = Upstream::http1().run().await;
        let urls = [a.url(""), b.url(""), victim.url("")];
        let gw = start_gateway(&group_config(&urls, "")).await;
        let addr = gw.addrs[0];
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let done = Arc::clone(&done);
            tasks.push(tokio::spawn(async move {
                let mut bad = Vec::new();
                for _ in 0..8 {
                    bad.extend(get_many(addr, 5).await);
                    done.fetch_add(5, Ordering::SeqCst);
                }
                bad
            }));
        }
        // Kill it once a quarter of the 640 requests are done.
        assert!(
            gangway_tests::wait_until(Duration::from_secs(4), || done.load(Ordering::SeqCst)
                >= 160)
            .await
        );
        let before = victim.requests_seen();
        drop(victim);
        let mut bad = Vec::new();
        for t in tasks {
            bad.extend(t.await.expect("client task"));
        }
        assert_eq!(bad, Vec::<u16>::new(), "client errors after a kill");
        assert!(before > 0, "the victim took part before it died");
        // The victim's connection tasks may still answer a few requests between `before`
        // and the abort taking effect (at most one per client); all others went to a or b.
        let rest = a.requests_seen() + b.requests_seen();
        assert!(rest + before + 16 >= 640, "{rest} + {before} of 640");

        // Once it is ejected, nothing more is sent to it: the gateway's own count of
        // attempts on it (the dead server cannot count) stays where it was.
        let group = Arc::clone(&gw.app.groups.all()[0]);
        let ejected = |g: &gangway::upstream::Group| !g.usable(2, std::time::Instant::now());
        for _ in 0..20 {
            if ejected(&group) {
                break;
            }
            assert_eq!(get_many(addr, 5).await, Vec::<u16>::new());
        }
        assert!(ejected(&group), "the dead server is ejected");
        let sent_to_victim = group.servers()[2].requests();
        assert_eq!(get_many(addr, 100).await, Vec::<u16>::new());
        assert_eq!(
            group.servers()[2].requests(),
            sent_to_victim,
            "a request was sent to the ejected server"
        );
    })
    .await;
}

#[tokio::test]
async fn a_post_reset_after_being_read_is_never_sent_twice() {
    init_tracing();
    within("post reset", async {
        let reset = Fault::StaleRace {
            close_after: 0,
            rst: true,
        }
        .run()
        .await;
        let ok = Upstream::http1().run().await;
        let gw = start_gateway(&group_config(&[reset.url(""), ok.url("")], "")).await;
        let addr = gw.addrs[0];
        let mut posts_502 = 0;
        for i in 0..20 {
            let body = format!("post-body-{i}");
            let r = send_raw(addr, &post("/g/p", body.as_bytes()))
                .await
                .expect("post");
            assert!(r.status == 200 || r.status == 502, "status {}", r.status);
            if r.status == 502 {
                posts_502 += 1;
                assert!(r.body_str().len() < 200, "short text body");
            }
            // GETs are unaffected: a reset GET goes to the other server.
            let r = send_raw(addr, &get("/g/x")).await.expect("get");
            assert_eq!(r.status, 200, "{}", r.body_str());
        }
        assert!(posts_502 > 0, "some POST reached the resetting server");
        // Every POST reached the servers at most once in total.
        let posts_ok = ok
            .requests()
            .iter()
            .filter(|r| r.method == http::Method::POST)
            .count();
        let posts_reset = reset
            .requests()
            .iter()
            .filter(|r| r.method() == "POST")
            .count();
        assert_eq!(posts_ok + posts_reset, 20, "{posts_ok} + {posts_reset}");
        assert_eq!(posts_reset, posts_502);
    })
    .await;
}

#[tokio::test]
async fn least_requests_keeps_a_slow_server_share_small() {
    init_tracing();
    within("slow server", async {
        let a = Upstream::http1().run().await;
        let b = Upstream::http1().run().await;
        let slow = Upstream::http1()
            .handler(|req, ctx| async move {
                tokio::time::sleep(Duration::from_millis(40)).await;
                echo(req, ctx).await
            })
            .run()
            .await;
        let urls = [a.url(""), b.url(""), slow.url("")];
        let gw = start_gateway(&group_config(&urls, "balance = \"least_requests\"")).await;
        let addr = gw.addrs[0];
        let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(get_many(addr, 30))).collect();
        for t in tasks {
            assert_eq!(t.await.expect("client task"), Vec::<u16>::new());
        }
        let total = a.requests_seen() + b.requests_seen() + slow.requests_seen();
        assert_eq!(total, 480);
        let share = slow.requests_seen() as f64 / total as f64;
        assert!(share < 0.15, "slow server got {:.1} %", share * 100.0);
    })
    .await;
}

#[tokio::test]
async fn all_servers_down_is_a_short_502() {
    init_tracing();
    within("all down", async {
        let urls: Vec<String> = (0..3)
            .map(|_| format!("http://{}", closed_addr()))
            .collect();
        let gw = start_gateway(&group_config(&urls, "")).await;
        for _ in 0..10 {
            let r = send_raw(gw.addrs[0], &get("/g/x")).await.expect("response");
            assert_eq!(r.status, 502);
            assert!(r
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")));
            assert!(!r.body.is_empty() && r.body.len() < 200, "{}", r.body_str());
        }
    })
    .await;
}

#[tokio::test]
async fn the_retry_budget_bounds_retries_of_503s() {
    init_tracing();
    within("retry budget", async {
        let servers: Vec<_> = futures_util::future::join_all((0..3).map(|_| {
            Upstream::http1()
                .handler(|_req, _ctx| async {
                    http::Response::builder()
                        .status(503)
                        .body(gangway_tests::body::full("busy"))
                        .expect("response")
                })
                .run()
        }))
        .await;
        let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
        let gw = start_gateway(&group_config(&urls, "retry_on = [\"5xx\"]")).await;
        let n = 200;
        let mut conn = RawConn::connect(gw.addrs[0]).await.expect("connect");
        for _ in 0..n {
            let r = conn.request(&get("/g/x")).await.expect("response");
            assert_eq!(r.status, 503, "the last 503 is passed on as it is");
        }
        let seen: usize = servers.iter().map(|s| s.requests_seen()).sum();
        // Default budget: 20 % of requests plus 3 per second over a 10 s window.
        let bound = (n as f64 * 1.2) as usize + 3 * 10;
        assert!(
            seen <= bound,
            "servers saw {seen} for {n} requests (bound {bound})"
        );
        assert!(seen > n, "some retries were allowed");
    })
    .await;
}

#[tokio::test]
async fn hash_sends_the_same_key_to_the_same_server() {
    init_tracing();
    within("hash", async {
        let servers: Vec<_> =
            futures_util::future::join_all((0..3).map(|_| Upstream::http1().run())).await;
        let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
        let extra = "balance = \"hash\"\nhash_on = \"header:x-user-id\"";
        let gw = start_gateway(&group_config(&urls, extra)).await;
        let mut conn = RawConn::connect(gw.addrs[0]).await.expect("connect");
        for user in 0..30 {
            let mut at = None;
            for _ in 0..4 {
                let before: Vec<usize> = servers.iter().map(|s| s.requests_seen()).collect();
                let r = conn
                    .request(&get_with("/g/x", &format!("x-user-id: u{user}\r\n")))
                    .await
                    .expect("response");
                assert_eq!(r.status, 200);
                let hit = servers
                    .iter()
                    .zip(&before)
                    .position(|(s, b)| s.requests_seen() > *b)
                    .expect("some server took it");
                assert_eq!(*at.get_or_insert(hit), hit, "user u{user} moved");
            }
        }
        let used = servers.iter().filter(|s| s.requests_seen() > 0).count();
        assert!(used >= 2, "30 keys spread over more than one server");
    })
    .await;
}

/// A plain hyper HTTP/1.1 server on `addr` answering 200 `ok`; counts requests to paths
/// other than `/health`.
async fn serve_on(
    addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind the late port");
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let hits = Arc::clone(&hits);
            conns.spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        if req.uri().path() != "/health" {
                            hits.fetch_add(1, Ordering::SeqCst);
                        }
                        async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                gangway_tests::body::full("ok"),
                            ))
                        }
                    });
                let io = gangway_pool::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    })
}

const HEALTH: &str =
    "[upstream.health]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"500ms\"";

// Live traffic ejects the closed port before its first probe; the port is served again
// right after, so the checks' first verdict is a pass, which must end that ejection too
// (`health::releases_ejection`); it once did only on a change of side, and the test then
// failed about 2 runs in 3.
#[tokio::test]
async fn a_server_started_late_enters_rotation_after_its_checks_pass() {
    init_tracing();
    within("late server", async {
        let a = Upstream::http1().run().await;
        let late_addr = closed_addr();
        let urls = [a.url(""), format!("http://{late_addr}")];
        let gw = start_gateway(&group_config(&urls, HEALTH)).await;
        // Down at start: requests go to `a` (retried there when they hit the closed port).
        assert_eq!(get_many(gw.addrs[0], 20).await, Vec::<u16>::new());
        // The first probe (within one interval) takes it out of rotation.
        let group = std::sync::Arc::clone(&gw.app.groups.all()[0]);
        let out = gangway_tests::wait_until(Duration::from_secs(2), || {
            !group.usable(1, std::time::Instant::now())
        })
        .await;
        assert!(out, "the closed port is out of rotation");
        let hits = Arc::new(AtomicUsize::new(0));
        let server = serve_on(late_addr, Arc::clone(&hits)).await;
        let addr = gw.addrs[0];
        let mut conn = RawConn::connect(addr).await.expect("connect");
        let mut errors = 0;
        let entered = {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
            loop {
                match conn.request(&get("/g/x")).await {
                    Ok(r) if r.status == 200 => {}
                    _ => errors += 1,
                }
                if hits.load(Ordering::SeqCst) > 0 || tokio::time::Instant::now() > deadline {
                    break hits.load(Ordering::SeqCst) > 0;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        assert!(entered, "the late server never entered rotation");
        assert_eq!(errors, 0);
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn a_server_failing_its_checks_leaves_rotation() {
    init_tracing();
    within("failing checks", async {
        let a = Upstream::http1().run().await;
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let health_after_flip = Arc::new(AtomicUsize::new(0));
        let (f, h) = (Arc::clone(&failing), Arc::clone(&health_after_flip));
        let b = Upstream::http1()
            .handler(move |req, ctx| {
                let (f, h) = (Arc::clone(&f), Arc::clone(&h));
                async move {
                    if req.uri().path() == "/health" && f.load(Ordering::SeqCst) {
                        h.fetch_add(1, Ordering::SeqCst);
                        return http::Response::builder()
                            .status(503)
                            .body(gangway_tests::body::full("sick"))
                            .expect("response");
                    }
                    echo(req, ctx).await
                }
            })
            .run()
            .await;
        let gw = start_gateway(&group_config(&[a.url(""), b.url("")], HEALTH)).await;
        assert_eq!(get_many(gw.addrs[0], 40).await, Vec::<u16>::new());
        let routed = |s: &gangway_tests::upstream::Listening| {
            s.requests()
                .iter()
                .filter(|r| r.uri.path() != "/health")
                .count()
        };
        assert!(routed(&b) > 0, "b takes traffic while healthy");
        failing.store(true, Ordering::SeqCst);
        // unhealthy_after = 3: once a 4th failing probe arrived, the 3rd's verdict is in.
        assert!(
            gangway_tests::wait_until(Duration::from_secs(4), || {
                health_after_flip.load(Ordering::SeqCst) >= 4
            })
            .await
        );
        let before = routed(&b);
        assert_eq!(get_many(gw.addrs[0], 40).await, Vec::<u16>::new());
        assert_eq!(
            routed(&b),
            before,
            "no request reaches a server out of rotation"
        );
    })
    .await;
}

#[tokio::test]
async fn readiness_fails_while_a_group_has_no_usable_server() {
    init_tracing();
    within("ready with a sick group", async {
        // The only server answers its health checks with 503 (a server that refuses
        // connections is the case the ignored test above is still investigating).
        let sick = Upstream::http1()
            .handler(move |req, ctx| async move {
                if req.uri().path() == "/health" {
                    return http::Response::builder()
                        .status(503)
                        .body(gangway_tests::body::full("sick"))
                        .expect("response");
                }
                echo(req, ctx).await
            })
            .run()
            .await;
        let mut config = group_config(&[sick.url("")], HEALTH);
        config.push_str("[health]\nready_requires_servers = true\n");
        let gw = start_gateway(&config).await;
        // Until the first probe's verdict is in the server counts as usable: poll (bounded
        // by `within`) until readiness fails, naming the group.
        loop {
            let r = send_raw(gw.addrs[0], &get("/ready"))
                .await
                .expect("response");
            if r.status == 503 {
                assert!(r.body_str().contains("upstream g"), "{}", r.body_str());
                break;
            }
            assert_eq!(r.status, 200);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}
