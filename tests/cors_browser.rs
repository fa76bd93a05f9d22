//! CORS-proxy mode in a real browser (issue #4): headless Chromium loads a page from one
//! origin (a tiny in-process page server), and the page calls the gateway, on another
//! origin, with `fetch`:
//!
//! 1. a simple GET through the gateway returns the target's body (and an exposed header);
//! 2. a preflighted PUT with a custom header and a JSON body succeeds through the gateway
//!    (the gateway answers the preflight; the target sees only the PUT);
//! 3. the same requests straight to the target, which sends no CORS headers, are blocked
//!    by the browser (the PUT's preflight fails, so the PUT itself is never sent);
//! 4. a cloud-metadata target gets a 403 whose status and text the page can read, both
//!    from a gateway with the default policy (refused as link-local) and from the
//!    allowlisted one (refused as not listed).
//!
//! The page writes its results as JSON into `<pre id=out>`; Chromium runs with
//! `--dump-dom` and the test parses the dumped DOM. No WebDriver, no npm.
//!
//! Needs Chromium: `apt-get install -y chromium` (Debian), or set `CHROMIUM` to the
//! binary. Without it the test FAILS (it never passes silently).

#[path = "cors_common.rs"]
mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{config_text, Gateway};
use gangway_tests::body::full;
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::{echo, Upstream};
use http::Response;
use http_body_util::BodyExt;

/// Upper bound on one Chromium run (start-up on a busy 2-core machine included).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The Chromium binary: `$CHROMIUM`, else the usual names on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// The page: four fetches, results as JSON in `<pre id=out>`, `document.title` = `done`.
fn page(gateway: &str, open_gateway: &str, target: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>running</title></head>
<body><pre id="out">pending</pre>
<script>
const GW = "{gateway}/?url=";
const OPEN_GW = "{open_gateway}/?url=";
const T = "{target}";
const via = (url) => GW + encodeURIComponent(url);
async function attempt(name, url, init) {{
  try {{
    const r = await fetch(url, init);
    return {{
      ok: true,
      status: r.status,
      body: await r.text(),
      xPath: r.headers.get("x-path"),
      xMethod: r.headers.get("x-method"),
      xSeenCustom: r.headers.get("x-seen-custom"),
      contentType: r.headers.get("content-type"),
    }};
  }} catch (e) {{
    return {{ ok: false, error: String(e) }};
  }}
}}
const put = {{
  method: "PUT",
  headers: {{ "X-Custom": "from-the-page", "Content-Type": "application/json" }},
  body: JSON.stringify({{ id: 7, name: "widget" }}),
}};
(async () => {{
  const out = {{ origin: location.origin }};
  out.simpleGet = await attempt("get", via(T + "/hello?x=1&y=a%20b"));
  out.preflightedPut = await attempt("put", via(T + "/items/7"), put);
  out.directGet = await attempt("direct-get", T + "/direct-get");
  out.directPut = await attempt("direct-put", T + "/direct-put", put);
  const metadata = "http://169.254.169.254/latest/meta-data/";
  out.metadata = await attempt("metadata", OPEN_GW + encodeURIComponent(metadata));
  out.metadataAllowlisted = await attempt("metadata-allowlisted", via(metadata));
  document.getElementById("out").textContent = JSON.stringify(out);
  document.title = "done";
}})();
</script></body></html>
"#
    )
}

/// The JSON the page wrote, from Chromium's dumped DOM.
fn results_from_dom(dom: &str) -> Option<String> {
    let start = dom.find("<pre id=\"out\">")? + "<pre id=\"out\">".len();
    let len = dom.get(start..)?.find("</pre>")?;
    let text = dom.get(start..start + len)?;
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

/// Runs Chromium on `url` with `--dump-dom`, bounded by [`BROWSER_TIMEOUT`]; returns
/// (stdout, stderr). Chromium runs in its own process group, which is killed afterwards
/// whatever happened, so no renderer outlives the test.
async fn dump_dom(chromium: &PathBuf, url: &str) -> (String, String) {
    let profile = TestDir::new("chromium-profile");
    let mut cmd = tokio::process::Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(["--virtual-time-budget=10000", "--dump-dom", url])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Chromium at {}: {e}", chromium.display()));
    let pgid = child.id();
    let outcome = tokio::time::timeout(BROWSER_TIMEOUT, child.wait_with_output()).await;
    if let Some(pgid) = pgid {
        // The group of the process we started, by its id; harmless if already gone.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    }
    let output = match outcome {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("waiting for Chromium failed: {e}"),
        Err(_) => panic!("Chromium did not finish within {BROWSER_TIMEOUT:?} (killed)"),
    };
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A JSON value: enough of JSON to read the page's results (no JSON crate in the test
/// dependencies).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Option<Json> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }

    /// `self[key]`, `Null` when absent.
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&Json::Null, |(_, v)| v),
            _ => &Json::Null,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn num(&self) -> Option<&str> {
        match self {
            Json::Num(n) => Some(n),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        let ok = self
            .s
            .get(self.i..)
            .is_some_and(|r| r.starts_with(lit.as_bytes()));
        if ok {
            self.i += lit.len();
        }
        ok
    }

    fn value(&mut self) -> Option<Json> {
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Some(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(":").then_some(())?;
                    fields.push((k, self.value()?));
                    self.ws();
                    if self.eat("}") {
                        return Some(Json::Obj(fields));
                    }
                    self.eat(",").then_some(())?;
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Some(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat("]") {
                        return Some(Json::Arr(items));
                    }
                    self.eat(",").then_some(())?;
                }
            }
            b'"' => self.string().map(Json::Str),
            b't' => self.eat("true").then_some(Json::Bool(true)),
            b'f' => self.eat("false").then_some(Json::Bool(false)),
            b'n' => self.eat("null").then_some(Json::Null),
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    self.i += 1;
                }
                let n = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
                (!n.is_empty()).then(|| Json::Num(n.to_owned()))
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        self.eat("\"").then_some(())?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?).unwrap_or('?')
                        }
                        other => char::from(other),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(b),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_page_on_another_origin_uses_the_gateway() {
    let Some(chromium) = find_chromium() else {
        panic!(
            "Chromium not found: this test needs a real browser. Install it with \
             `apt-get update && apt-get install -y chromium` (Debian/Ubuntu), or set \
             CHROMIUM=/path/to/chromium. Refusing to pass without running the browser."
        );
    };

    // The target: an API that knows nothing about CORS.
    let target = Upstream::http1()
        .handler(|req, ctx| async move {
            match (req.method().as_str(), req.uri().path()) {
                ("GET", "/hello") => Response::builder()
                    .header("content-type", "text/plain")
                    .header("x-path", req.uri().to_string())
                    .body(full("hello from the target"))
                    .expect("valid response"),
                ("PUT", "/items/7") => {
                    let custom = req.headers().get("x-custom").cloned();
                    let ctype = req.headers().get("content-type").cloned();
                    let body = req.into_body().collect().await.map(|b| b.to_bytes());
                    let mut resp = Response::builder()
                        .header("x-method", "PUT")
                        .header("content-type", "application/json");
                    if let Some(v) = custom {
                        resp = resp.header("x-seen-custom", v);
                    }
                    if let Some(v) = ctype {
                        resp = resp.header("x-seen-content-type", v);
                    }
                    resp.body(full(body.unwrap_or_default()))
                        .expect("valid response")
                }
                _ => echo(req, ctx).await,
            }
        })
        .run()
        .await;

    // The page server, on a third port: its origin is not the gateway's.
    let gateway_origins: Arc<OnceLock<(String, String)>> = Arc::new(OnceLock::new());
    let page_gateways = Arc::clone(&gateway_origins);
    let target_origin = format!("http://{}", target.addr());
    let page_target = target_origin.clone();
    let pages = Upstream::http1()
        .handler(move |req, _| {
            let (gw, open) = page_gateways.get().cloned().unwrap_or_default();
            let html = page(&gw, &open, &page_target);
            async move {
                match req.uri().path() {
                    "/" => Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .header("cache-control", "no-store")
                        .body(full(html))
                        .expect("valid response"),
                    _ => Response::builder()
                        .status(404)
                        .body(full("not found"))
                        .expect("valid response"),
                }
            }
        })
        .run()
        .await;
    let page_origin = format!("http://{}", pages.addr());

    // The gateway under test: the target allowlisted, the page's origin allowed.
    let gw = Gateway::start_text(&config_text(
        "127.0.0.1:0",
        &format!(
            "[cors]\nallow_targets = [\"{}\"]\nallow_origins = [\"{page_origin}\"]\n",
            target.addr()
        ),
    ))
    .await;
    // And one with the default policy, for the metadata address.
    let open = Gateway::start("").await;
    gateway_origins
        .set((
            format!("http://{}", gw.addr),
            format!("http://{}", open.addr),
        ))
        .expect("set once");

    let (dom, stderr) = dump_dom(&chromium, &format!("{page_origin}/")).await;
    let Some(json) = results_from_dom(&dom) else {
        panic!("no <pre id=out> in the dumped DOM.\nDOM:\n{dom}\nChromium stderr:\n{stderr}");
    };
    println!("Chromium results: {json}");
    assert!(
        dom.contains("<title>done</title>"),
        "the page did not finish its fetches: {json}\nChromium stderr:\n{stderr}"
    );
    let Some(results) = Json::parse(&json) else {
        panic!("the page's results are not JSON: {json}");
    };
    let r = |section: &str, key: &str| results.get(section).get(key).clone();
    let text = |section: &str, key: &str| r(section, key).str().map(str::to_owned);
    let ok = |section: &str| r(section, "ok") == Json::Bool(true);
    let status = |section: &str| r(section, "status").num().map(str::to_owned);
    assert_eq!(
        results.get("origin").str(),
        Some(page_origin.as_str()),
        "{json}"
    );

    // 1. Simple GET through the gateway: the target's body, readable, and the exposed
    //    header with the target's path and query exactly.
    assert!(ok("simpleGet"), "{json}");
    assert_eq!(status("simpleGet").as_deref(), Some("200"), "{json}");
    assert_eq!(
        text("simpleGet", "body").as_deref(),
        Some("hello from the target"),
        "{json}"
    );
    assert_eq!(
        text("simpleGet", "xPath").as_deref(),
        Some("/hello?x=1&y=a%20b"),
        "{json}"
    );

    // 2. Preflighted PUT with a custom header and a JSON body, through the gateway.
    assert!(ok("preflightedPut"), "{json}");
    assert_eq!(status("preflightedPut").as_deref(), Some("200"), "{json}");
    assert_eq!(
        text("preflightedPut", "body").as_deref(),
        Some(r#"{"id":7,"name":"widget"}"#),
        "{json}"
    );
    assert_eq!(
        text("preflightedPut", "xMethod").as_deref(),
        Some("PUT"),
        "{json}"
    );
    assert_eq!(
        text("preflightedPut", "xSeenCustom").as_deref(),
        Some("from-the-page"),
        "{json}"
    );

    // 3. Straight to the target: blocked by the browser (a TypeError, no status).
    for section in ["directGet", "directPut"] {
        assert!(!ok(section), "{section} must be blocked: {json}");
        assert!(
            text(section, "error").is_some_and(|e| e.starts_with("TypeError")),
            "{section}: {json}"
        );
        assert_eq!(status(section), None, "{section}: {json}");
    }

    // 4. The metadata address: a 403 the page can read, status and text.
    for (section, reason) in [
        (
            "metadata",
            "address 169.254.169.254:80 is not allowed (link-local (cloud metadata))",
        ),
        ("metadataAllowlisted", "target not in allowlist"),
    ] {
        assert!(ok(section), "{section}: {json}");
        assert_eq!(status(section).as_deref(), Some("403"), "{section}: {json}");
        let body = text(section, "body").unwrap_or_default();
        assert!(
            body.starts_with("Refusing to proxy to 169.254.169.254:80") && body.contains(reason),
            "{section}: {json}"
        );
    }

    // What reached the target: the proxied GET and PUT (never the gateway's preflight),
    // the direct GET (sent, then its response hidden from the page) and the direct
    // PUT's preflight, which failed, so the direct PUT itself never left the browser.
    let seen: Vec<String> = target
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    println!("target saw: {seen:?}");
    assert!(
        seen.contains(&"GET /hello?x=1&y=a%20b".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"PUT /items/7".to_owned()), "{seen:?}");
    assert!(!seen.iter().any(|r| r == "OPTIONS /items/7"), "{seen:?}");
    assert!(seen.contains(&"GET /direct-get".to_owned()), "{seen:?}");
    assert!(seen.contains(&"OPTIONS /direct-put".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"PUT /direct-put".to_owned()), "{seen:?}");
    let put = target
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("the PUT");
    let header = |n: &str| {
        put.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("x-custom").as_deref(), Some("from-the-page"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("origin").as_deref(), Some(page_origin.as_str()));
    gw.stop().await;
    open.stop().await;
}
