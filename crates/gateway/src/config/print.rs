//! `--print-config`: the effective configuration (file + flags + defaults) written back as
//! TOML, like `nginx -T`. Every key is present; an unset optional key is a comment saying
//! what unset means (TOML has no null). The output parses back to an equal [`Config`]
//! (tested), so it can be saved and used as the config file.
//!
//! Written by hand rather than through `Serialize`: the file's durations (`"30s"`) and
//! sizes (`"64KiB"`) are strings with units, routes are built types, and the comments for
//! unset keys are half of what makes the output useful. Values go through `toml::Value`'s
//! `Display`, so strings are escaped by the TOML library.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

mod route;

use toml::Value;

use super::cors::Parsed;
use super::schema::{Config, ListenerMode, LogFormat};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

impl Config {
    /// The configuration as TOML, every key present (see the module docs).
    pub fn to_toml(&self) -> String {
        let mut w = Writer::default();
        w.comment("gangway: effective configuration (file + command line + defaults)");
        for l in &self.listeners {
            w.section("[[listener]]");
            w.kv("address", l.address.to_string());
            w.kv(
                "mode",
                match l.mode {
                    ListenerMode::Routes => "routes",
                    ListenerMode::Cors => "cors",
                },
            );
            match &l.tls {
                Some(tls) => w.raw(
                    "tls",
                    format!(
                        "{{ cert = {}, key = {} }}",
                        Value::from(path(&tls.cert)),
                        Value::from(path(&tls.key))
                    ),
                ),
                None => w.unset("tls", "plain HTTP"),
            }
            if l.certificates.is_empty() {
                w.unset("certificates", "only the `tls` certificate");
            } else {
                let list: Vec<String> = l
                    .certificates
                    .iter()
                    .map(|c| {
                        format!(
                            "{{ cert = {}, key = {} }}",
                            Value::from(path(&c.cert)),
                            Value::from(path(&c.key))
                        )
                    })
                    .collect();
                w.raw("certificates", format!("[{}]", list.join(", ")));
            }
        }
        for r in self.router.routes() {
            w.section("[[route]]");
            w.opt("host", r.host.clone().map(Into::into), "any host");
            w.kv("prefix", r.prefix.as_str());
            // A group's route names the group (its `upstream` is the first server).
            if r.upstream.is_none() {
                w.unset("upstream", "answered by the route");
            } else {
                w.kv(
                    "upstream",
                    r.group.clone().unwrap_or_else(|| r.upstream.to_string()),
                );
            }
            w.kv("strip_prefix", r.strip_prefix);
            w.kv("preserve_host", r.preserve_host);
            match r.response_timeout {
                Some(t) => w.kv("response_timeout", duration(t)),
                None => w.unset("response_timeout", "timeouts.upstream_response"),
            }
            w.kv("name", r.name.as_str());
            route_rules(&mut w, r);
            route::extras(&mut w, r);
        }
        upstreams(&mut w, &self.upstreams);

        let p = &self.pool;
        w.section("[pool]");
        w.kv("idle_timeout", duration(p.idle_timeout));
        w.kv("max_idle_per_host", count(p.max_idle_per_host as u64));
        w.opt(
            "max_connections_per_host",
            p.max_connections_per_host.map(|n| count(n as u64)),
            "unlimited",
        );
        w.kv("checkout_timeout", duration(p.checkout_timeout));
        w.opt(
            "max_requests_per_connection",
            p.max_requests_per_connection.map(count),
            "no limit",
        );
        w.opt(
            "max_connection_lifetime",
            p.max_connection_lifetime.map(duration),
            "no limit",
        );
        w.kv("http1_only", p.http1_only);
        w.kv("http2_only", p.http2_only);
        w.kv(
            "http2_initial_max_streams",
            count(p.http2_initial_max_streams as u64),
        );
        w.opt(
            "http2_keep_alive_interval",
            p.http2_keep_alive_interval.map(duration),
            "off",
        );
        w.kv("retry_body_limit", size(p.retry_body_limit as u64));
        w.kv("drain_limit", size(p.drain_limit));
        w.kv("keep_alive_margin", duration(p.keep_alive_margin));
        w.opt(
            "ca_file",
            p.ca_file.as_deref().map(|f| Value::from(path(f))),
            "webpki roots only",
        );
        w.opt(
            "local_address",
            p.local_address.map(|a| Value::from(a.to_string())),
            "the OS's choice",
        );
        w.comment("the connect timeout is timeouts.upstream_connect");

        let l = &self.limits;
        w.section("[limits]");
        w.kv("max_connections", count(l.max_connections as u64));
        w.kv("max_header_bytes", size(l.max_header_bytes as u64));
        w.kv("max_headers", count(l.max_headers as u64));
        w.kv("max_uri_bytes", size(l.max_uri_bytes as u64));
        w.opt("max_body_bytes", l.max_body_bytes.map(size), "unlimited");
        w.kv("escaped_slashes", l.escaped_slashes.as_str());
        w.kv(
            "max_streams_per_connection",
            count(u64::from(l.max_streams_per_connection)),
        );

        let t = &self.timeouts;
        w.section("[timeouts]");
        w.kv("header_read", duration(t.header_read));
        w.kv("client_idle", duration(t.client_idle));
        w.kv("client_park", duration(t.client_park));
        w.kv("client_body_idle", duration(t.client_body_idle));
        w.kv("upstream_connect", duration(t.upstream_connect));
        w.kv("upstream_response", duration(t.upstream_response));
        w.kv("upstream_body_idle", duration(t.upstream_body_idle));
        w.kv("shutdown_grace", duration(t.shutdown_grace));
        w.kv("tunnel_idle", duration(t.tunnel_idle));

        w.section("[runtime]");
        w.kv("workers", count(self.runtime.workers as u64));

        w.section("[health]");
        w.kv("path", self.health.path.as_str());
        w.kv("ready_path", self.health.ready_path.as_str());
        w.kv("ready_requires_servers", self.health.ready_requires_servers);

        w.section("[shutdown]");
        w.kv("delay", duration(self.shutdown.delay));

        w.section("[admin]");
        w.opt(
            "address",
            self.admin.address.map(|a| Value::from(a.to_string())),
            "no admin listener",
        );
        w.kv("metrics_path", self.admin.metrics_path.as_str());

        w.section("[log]");
        w.kv("level", self.log.level.as_str());
        w.kv("access_log", self.log.access_log);
        w.kv(
            "format",
            match self.log.format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
                LogFormat::Combined => "combined",
            },
        );
        w.opt(
            "access_log_path",
            self.log
                .access_log_path
                .as_deref()
                .map(|p| Value::from(path(p))),
            "stdout",
        );

        w.section("[tracing]");
        w.opt(
            "otlp_endpoint",
            self.tracing.otlp_endpoint.clone().map(Value::from),
            "no export",
        );
        w.kv("sample_ratio", self.tracing.sample_ratio);
        w.kv("service_name", self.tracing.service_name.as_str());

        w.section("[request_id]");
        w.kv("header", self.request_id.header.as_str());
        w.kv("trust_incoming", self.request_id.trust_incoming);

        let f = &self.forwarding;
        w.section("[forwarding]");
        w.kv(
            "trusted_proxies",
            f.trusted_proxies
                .blocks()
                .iter()
                .map(|c| Value::from(c.to_string()))
                .collect::<Vec<_>>(),
        );
        w.kv("emit_forwarded", f.emit_forwarded);

        let c = &self.cors;
        w.section("[cors]");
        w.kv("allow_targets", texts(&c.allow_targets));
        w.kv("allow_origins", texts(&c.allow_origins));
        w.kv("allow_credentials", c.allow_credentials);
        w.kv("max_age", duration(c.max_age));
        w.kv("require_header", c.require_header);
        w.kv("forward_cookies", c.forward_cookies);
        w.kv("forward_authorization", c.forward_authorization);
        w.kv("pass_set_cookie", c.pass_set_cookie);
        match c.rate_limit {
            Some(r) => w.raw(
                "rate_limit",
                format!(
                    "{{ per_second = {}, burst = {} }}",
                    Value::from(r.per_second),
                    Value::from(i64::from(r.burst))
                ),
            ),
            None => w.unset("rate_limit", "no limit"),
        }
        w.kv("max_response_bytes", size(c.max_response_bytes));
        w.kv("total_timeout", duration(c.total_timeout));
        w.out
    }
}

/// `[[upstream]]` groups, every key present, each followed by its sub-tables.
fn upstreams(w: &mut Writer, groups: &[super::UpstreamGroup]) {
    use crate::upstream::{health::StatusMatch, HashOn, Policy};
    for g in groups {
        w.section("[[upstream]]");
        w.kv("name", g.name.as_str());
        let servers: Vec<String> = g
            .servers
            .iter()
            .map(|s| {
                let url = Value::from(s.upstream.to_string());
                format!("{{ url = {url}, weight = {} }}", s.weight)
            })
            .collect();
        w.raw("servers", format!("[{}]", servers.join(", ")));
        let st = &g.settings;
        let balance = match st.policy {
            Policy::LeastRequests => "least_requests",
            Policy::RoundRobin => "round_robin",
            Policy::Random => "random",
            Policy::Hash => "hash",
        };
        w.kv("balance", balance);
        let hash_on = st.hash_on.as_ref().map(|h| match h {
            HashOn::Header(name) => Value::from(format!("header:{name}")),
            HashOn::Cookie(name) => Value::from(format!("cookie:{name}")),
            HashOn::ClientIp => Value::from("client_ip"),
        });
        w.opt("hash_on", hash_on, "only for balance = \"hash\"");
        w.kv("retries", i64::from(st.retry.retries));
        w.raw(
            "retry_on",
            if st.retry.on_5xx { "[\"5xx\"]" } else { "[]" }.to_owned(),
        );
        w.kv("resolve_interval", duration(g.resolve_interval));
        w.opt(
            "protocol",
            g.protocol.map(|p| p.as_str().into()),
            "as [pool] says",
        );
        if let Some(h) = &st.health {
            w.section("[upstream.health]");
            w.kv("path", h.path.as_str());
            w.kv("interval", duration(h.interval));
            w.kv("timeout", duration(h.timeout));
            w.kv("healthy_after", i64::from(h.healthy_after));
            w.kv("unhealthy_after", i64::from(h.unhealthy_after));
            let expected: Vec<String> = h
                .expected_status
                .iter()
                .map(|m| match m {
                    StatusMatch::Exact(code) => code.to_string(),
                    StatusMatch::Class(c) => format!("\"{c}xx\""),
                })
                .collect();
            w.raw("expected_status", format!("[{}]", expected.join(", ")));
        } else {
            w.comment("[upstream.health]: absent (no active checks)");
        }
        let o = &st.outlier;
        w.section("[upstream.outlier]");
        w.kv("consecutive_failures", i64::from(o.consecutive_failures));
        w.kv("base_ejection", duration(o.base_ejection));
        w.kv("max_ejection", duration(o.max_ejection));
        w.kv("max_ejected_percent", i64::from(o.max_ejected_percent));
        let b = &st.budget;
        w.section("[upstream.retry_budget]");
        w.kv("percent", (b.ratio * 100.0).round() as i64);
        w.kv("min_per_second", i64::from(b.min_per_second));
        w.kv("window", duration(b.window));
    }
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.out, "# {text}");
    }

    fn section(&mut self, header: &str) {
        let _ = writeln!(self.out, "\n{header}");
    }

    fn raw(&mut self, key: &str, value: String) {
        let _ = writeln!(self.out, "{key} = {value}");
    }

    fn kv(&mut self, key: &str, value: impl Into<Value>) {
        self.raw(key, value.into().to_string());
    }

    fn opt(&mut self, key: &str, value: Option<Value>, unset: &str) {
        match value {
            Some(v) => self.kv(key, v),
            None => self.unset(key, unset),
        }
    }

    fn unset(&mut self, key: &str, meaning: &str) {
        let _ = writeln!(self.out, "# {key}: unset ({meaning})");
    }
}

/// A count as a TOML integer; beyond `i64` (only reachable from a flag) as digits, which
/// the parser then refuses with a message rather than this printing a wrong number.
fn count(n: u64) -> Value {
    i64::try_from(n).map_or_else(|_| Value::from(n.to_string()), Value::from)
}

/// A size in the largest 1024-based unit that divides it exactly, else in bytes.
pub(crate) fn size(n: u64) -> Value {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if n != 0 && n % unit == 0 {
            return Value::from(format!("{}{name}", n / unit));
        }
    }
    count(n)
}

/// A duration as the config writes it: `"90s"`, `"10m"`, `"1m30s"`, `"250ms"`. The parser
/// keeps milliseconds, so this is exact for every parsed value.
pub(crate) fn duration(d: Duration) -> Value {
    let mut ms = d.as_millis();
    if ms == 0 {
        return Value::from("0s");
    }
    let mut text = String::new();
    for (unit, name) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ] {
        if ms >= unit {
            let _ = write!(text, "{}{name}", ms / unit);
            ms %= unit;
        }
    }
    Value::from(text)
}

/// A pattern list as its texts (the form it was written in).
fn texts<T>(list: &[Parsed<T>]) -> Vec<String> {
    list.iter().map(|p| p.text().to_owned()).collect()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `methods`, `respond`/`redirect`, `rewrite_prefix` of one route (#13).
fn route_rules(w: &mut Writer, r: &crate::route::Route) {
    use crate::route::action::Action;
    let methods = r
        .methods
        .as_ref()
        .map(|m| Value::Array(m.iter().map(|m| Value::from(m.as_str())).collect()));
    w.opt("methods", methods, "all methods");
    let table = |pairs: [(&str, Value); 2]| {
        Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    match &r.action {
        Some(Action::Respond { status, body }) => w.kv(
            "respond",
            table([
                ("status", Value::from(i64::from(status.as_u16()))),
                (
                    "body",
                    Value::from(String::from_utf8_lossy(body).into_owned()),
                ),
            ]),
        ),
        Some(Action::Redirect { to, status }) => w.kv(
            "redirect",
            table([
                ("to", Value::from(to.as_str())),
                ("status", Value::from(i64::from(status.as_u16()))),
            ]),
        ),
        None => w.unset("respond", "forwarded upstream"),
    }
    w.opt(
        "rewrite_prefix",
        r.rewrite_prefix.as_deref().map(Value::from),
        "prefix kept",
    );
}
