//! Issue #11.6 and #11.7: what an upstream group shows (per-server metrics on `/metrics`,
//! `GET /upstreams` on the admin listener, the access line's `attempts`) and DNS
//! endpoints (a host name's addresses as servers, re-resolved through the resolver hook).

use std::net::SocketAddr;
use std::time::Duration;

use gangway_tests::access::{json_field, AccessFile};
use gangway_tests::gateway::{closed_addr, get, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

async fn admin_get(admin: SocketAddr, path: &str) -> (u16, String) {
    let mut c = RawConn::connect(admin).await.expect("admin connect");
    let r = c.request(&get(path)).await.expect("admin request");
    (r.status, r.body_str())
}

/// `n` GETs to `/g/…` on one connection; every one must be a 200.
async fn get_ok(addr: SocketAddr, n: usize) {
    let mut c = RawConn::connect(addr).await.expect("connect");
    for i in 0..n {
        let r = c.request(&get(&format!("/g/{i}"))).await.expect("request");
        assert_eq!(r.status, 200, "request {i}");
    }
}

fn sample<'a>(
    scrape: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a prometheus_parse::Sample> {
    scrape.samples.iter().find(|s| {
        s.metric == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
    })
}

fn value(s: Option<&prometheus_parse::Sample>) -> f64 {
    match s.map(|s| &s.value) {
        Some(prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v)) => *v,
        Some(prometheus_parse::Value::Untyped(v)) => *v,
        _ => -1.0,
    }
}

#[tokio::test]
async fn per_server_metrics_and_the_upstreams_page() {
    init_tracing();
    within("upstream metrics", async {
        let live = Upstream::http1().run().await;
        let dead = format!("http://{}", closed_addr());
        let admin = closed_addr();
        let toml = format!(
            "[[upstream]]\nname = \"g\"\nservers = [\"{}\", \"{dead}\"]\n\n\
             [[route]]\nprefix = \"/g\"\nupstream = \"g\"\n\n[admin]\naddress = \"{admin}\"\n",
            live.url("")
        );
        let gw = start_gateway(&toml).await;
        get_ok(gw.addrs[0], 20).await;

        let (status, text) = admin_get(admin, "/metrics").await;
        assert_eq!(status, 200);
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
        let live_url = live.url("");
        let l = [("upstream", "g"), ("server", live_url.as_str())];
        let d = [("upstream", "g"), ("server", dead.as_str())];
        let live_requests = value(sample(&scrape, "gangway_upstream_requests_total", &l));
        let dead_requests = value(sample(&scrape, "gangway_upstream_requests_total", &d));
        assert!(live_requests >= 20.0, "{live_requests}\n{text}");
        assert!(dead_requests >= 1.0, "{dead_requests}\n{text}");
        let connect = [
            ("upstream", "g"),
            ("server", dead.as_str()),
            ("kind", "connect"),
        ];
        assert_eq!(
            value(sample(&scrape, "gangway_upstream_failures_total", &connect)),
            dead_requests,
            "every attempt on the closed port is a connect failure"
        );
        // Every failed attempt on the dead server was retried on the live one.
        assert_eq!(
            value(sample(
                &scrape,
                "gangway_upstream_retries_total",
                &[("upstream", "g")]
            )),
            dead_requests
        );
        assert_eq!(
            value(sample(&scrape, "gangway_upstream_in_flight", &l)),
            0.0
        );
        assert_eq!(
            value(sample(&scrape, "gangway_upstream_server_usable", &l)),
            1.0
        );
        match sample(&scrape, "gangway_upstream_response_head_seconds", &l).map(|s| &s.value) {
            Some(prometheus_parse::Value::Histogram(buckets)) => {
                let all = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
                assert_eq!(all, live_requests, "one head time per answered attempt");
            }
            other => panic!("no head-time histogram for the live server: {other:?}\n{text}"),
        }
        // The pool's own stats for a group's servers carry the group as `upstream` and the
        // server as `server`, like the group's families.
        let pool_live = [
            ("pool", "routes"),
            ("upstream", "g"),
            ("server", live_url.as_str()),
        ];
        assert_eq!(
            value(sample(&scrape, "gangway_pool_requests_total", &pool_live)),
            live_requests,
            "{text}"
        );
        let pool_dead = [
            ("pool", "routes"),
            ("upstream", "g"),
            ("server", dead.as_str()),
        ];
        // (An attempt that arrives while a connect to the dead server is pending waits on
        // it instead of dialling again: at most one error per attempt, at least one.)
        let dead_connects = value(sample(
            &scrape,
            "gangway_pool_connect_errors_total",
            &pool_dead,
        ));
        assert!(
            (1.0..=dead_requests).contains(&dead_connects),
            "{dead_connects}\n{text}"
        );
        for family in [
            "gangway_upstream_ejections_total",
            "gangway_upstream_retry_budget_exhausted_total",
            "gangway_upstream_panic_total",
            "gangway_upstream_health_changes_total",
        ] {
            assert!(
                text.contains(&format!("# HELP {family} ")),
                "{family}\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {family} counter")),
                "{family}"
            );
        }

        let (status, body) = admin_get(admin, "/upstreams").await;
        assert_eq!(status, 200);
        let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let group = &page["upstreams"][0];
        assert_eq!(group["name"], "g");
        let servers = group["servers"].as_array().expect("servers");
        assert_eq!(servers.len(), 2);
        let live_row = &servers[0];
        assert_eq!(live_row["server"], live_url.as_str());
        assert_eq!(live_row["state"], "unchecked");
        assert_eq!(live_row["in_flight"], 0);
        assert!(live_row["last_failure"].is_null());
        let dead_row = &servers[1];
        assert_eq!(dead_row["last_failure"]["kind"], "connect", "{body}");
        assert!(dead_row["state"] == "unchecked" || dead_row["state"] == "ejected");
    })
    .await;
}

#[tokio::test]
async fn a_failover_shows_two_attempts_in_the_access_line() {
    init_tracing();
    within("attempts", async {
        let live = Upstream::http1().run().await;
        let dead = format!("http://{}", closed_addr());
        let log = AccessFile::new("attempts");
        // Round robin starts with the first server: the refusing one.
        let toml = format!(
            "[[upstream]]\nname = \"g\"\nservers = [\"{dead}\", \"{}\"]\nbalance = \"round_robin\"\n\n\
             [[route]]\nprefix = \"/g\"\nupstream = \"g\"\n\n{}",
            live.url(""),
            log.log_section()
        );
        let gw = start_gateway(&toml).await;
        get_ok(gw.addrs[0], 1).await;
        let lines = {
            let mut lines = Vec::new();
            let seen = gangway_tests::wait_until(Duration::from_secs(3), || {
                lines = log.lines();
                !lines.is_empty()
            })
            .await;
            assert!(seen, "no access line");
            lines
        };
        assert_eq!(json_field(&lines[0], "status"), Some("200"), "{}", lines[0]);
        assert_eq!(json_field(&lines[0], "attempts"), Some("2"), "{}", lines[0]);
        gw.shutdown().await;
    })
    .await;
}

/// The resolver hook: answers every name with the addresses the test sets.
#[derive(Clone, Default)]
struct Feed(std::sync::Arc<std::sync::Mutex<Vec<SocketAddr>>>);

impl Feed {
    fn set(&self, addrs: &[SocketAddr]) {
        *self.0.lock().expect("feed lock") = addrs.to_vec();
    }
}

impl gangway_pool::Resolve for Feed {
    fn resolve(&self, _host: &str, _port: u16) -> gangway_pool::Resolving {
        let addrs = self.0.lock().map(|a| a.clone()).unwrap_or_default();
        Box::pin(async move { Ok(addrs) })
    }
}

#[tokio::test]
async fn dns_endpoints_follow_the_resolver_two_three_two() {
    init_tracing();
    within("dns endpoints", async {
        let s = [
            Upstream::http1().run().await,
            Upstream::http1().run().await,
            Upstream::http1().run().await,
        ];
        let feed = Feed::default();
        feed.set(&[s[0].addr(), s[1].addr()]);
        let toml = "[[upstream]]\nname = \"g\"\nservers = [\"http://svc.test:8080\"]\n\
                    resolve_interval = \"50ms\"\n\n\
                    [[route]]\nprefix = \"/g\"\nupstream = \"g\"\n";
        let mut config = gangway_tests::gateway::gateway_config(toml);
        config.resolver = Some(gangway::upstream::dns::Resolver(std::sync::Arc::new(
            feed.clone(),
        )));
        let gw = gangway::start(&config).await.expect("start");
        let addr = gw.addrs[0];
        let resolved_to = |n: usize| {
            let groups = &gw.app.groups;
            move || {
                let g = &groups.all()[0];
                g.servers().len() == n && g.servers().iter().all(|s| s.connect_to.is_some())
            }
        };
        let wait = Duration::from_secs(3);

        assert!(
            gangway_tests::wait_until(wait, resolved_to(2)).await,
            "2 addresses"
        );
        get_ok(addr, 40).await;
        assert!(s[0].requests_seen() > 0 && s[1].requests_seen() > 0);
        assert_eq!(s[2].requests_seen(), 0);
        // The name is kept: the servers see it in `Host`.
        let host = s[0].requests()[0].headers["host"].clone();
        assert_eq!(host, "svc.test:8080");

        feed.set(&[s[0].addr(), s[1].addr(), s[2].addr()]);
        assert!(
            gangway_tests::wait_until(wait, resolved_to(3)).await,
            "3 addresses"
        );
        get_ok(addr, 60).await;
        assert!(s[2].requests_seen() > 0, "the new address takes requests");

        feed.set(&[s[0].addr(), s[1].addr()]);
        assert!(
            gangway_tests::wait_until(wait, resolved_to(2)).await,
            "2 again"
        );
        // Its idle connections are closed.
        assert!(
            gangway_tests::wait_until(wait, || s[2].open_connections() == 0).await,
            "the vanished address's idle connections close"
        );
        let third = s[2].requests_seen();
        get_ok(addr, 40).await;
        assert_eq!(
            s[2].requests_seen(),
            third,
            "no request to a vanished address"
        );
        gw.shutdown().await;
    })
    .await;
}
