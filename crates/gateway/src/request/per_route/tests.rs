use std::time::Duration;

use super::*;
use crate::route::limits::RateRule;

fn route(prefix: &str, protocol: Option<Protocol>, connect: Option<Duration>) -> Route {
    let mut r = Route::new(prefix, "http://127.0.0.1:1").expect("route");
    r.protocol = protocol;
    r.connect_timeout = connect;
    r
}

#[tokio::test]
async fn one_pool_per_distinct_setting_and_the_default_shared() {
    let ten = Duration::from_secs(10);
    let mut limited = route("/d", None, None);
    limited.rate_limit = Some(RateRule {
        per_second: 1.0,
        burst: 2,
    });
    let routes = [
        route("/a", None, None),
        route("/b", Some(Protocol::Http2), None),
        route("/c", Some(Protocol::Http2), Some(ten)),
        limited,
        route("/e", None, Some(Duration::from_secs(2))),
        route("/f", None, Some(ten)),
    ];
    let per = PerRoute::build(&PoolSection::default(), ten, &routes).expect("builds");
    let labels: Vec<&str> = per.pools().map(|(l, _)| l).collect();
    assert_eq!(labels, ["routes-http2", "routes-connect-2000ms"]);
    assert_eq!(per.pool_of, [None, Some(0), Some(0), None, Some(1), None]);
    assert!(per.limiter(3).is_some());
    assert!(per.limiter(0).is_none() && per.limiter(99).is_none());
    let default = PoolSection::default().builder().build().expect("pool");
    assert!(std::ptr::eq(per.client(0, &default), &default));
    assert!(!std::ptr::eq(per.client(1, &default), &default));
    assert!(std::ptr::eq(per.client(99, &default), &default));
}
