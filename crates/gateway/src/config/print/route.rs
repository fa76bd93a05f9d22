//! `--print-config` for a route's header rules, limits and protocol (#13 items 5, 8, 9).

use toml::Value;

use super::{duration, size, Writer};
use crate::route::headers::{HeaderRules, Template};
use crate::route::Route;

/// Writes `request_headers`, `response_headers`, `rate_limit`, `max_body_bytes`,
/// `timeouts` (only `upstream_connect`: the response timeout is `response_timeout`) and
/// `protocol` of one route.
pub(super) fn extras(w: &mut Writer, r: &Route) {
    header_rules(w, "request_headers", &r.request_headers);
    header_rules(w, "response_headers", &r.response_headers);
    match r.rate_limit {
        Some(rule) => w.kv(
            "rate_limit",
            table([
                ("per_second", Value::from(rule.per_second)),
                ("burst", Value::from(i64::from(rule.burst))),
            ]),
        ),
        None => w.unset("rate_limit", "no limit"),
    }
    w.opt(
        "max_body_bytes",
        r.max_body_bytes.map(size),
        "limits.max_body_bytes",
    );
    match r.connect_timeout {
        Some(t) => w.kv("timeouts", table([("upstream_connect", duration(t))])),
        None => w.unset("timeouts", "[timeouts]"),
    }
    // A group's route takes the group's protocol, printed with the group.
    w.opt(
        "protocol",
        r.protocol
            .filter(|_| r.group.is_none())
            .map(|p| p.as_str().into()),
        "as [pool] says, or the group's",
    );
}

fn header_rules(w: &mut Writer, key: &str, rules: &HeaderRules) {
    if rules.is_empty() {
        w.unset(key, "none");
        return;
    }
    let pairs = |list: &[(http::HeaderName, Template)]| {
        Value::Table(
            list.iter()
                .map(|(n, t)| (n.as_str().to_owned(), Value::from(t.source())))
                .collect(),
        )
    };
    let remove = rules
        .remove
        .iter()
        .map(|n| Value::from(n.as_str()))
        .collect();
    w.kv(
        key,
        table([
            ("set", pairs(&rules.set)),
            ("add", pairs(&rules.add)),
            ("remove", Value::Array(remove)),
        ]),
    );
}

fn table<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}
