//! `config`: arbitrary text → `gangway::config::parse`.
//!
//! Invariants:
//! * it returns `Ok` or a clean `Err`, never panics (nor overflows the stack);
//! * an error's `Display` starts with the origin, names `origin:line:column` whenever the
//!   error has a position, the position lies inside the text (line ≤ lines + 1, column ≥ 1),
//!   the message is not empty, and the whole text stays on one line with no control
//!   character (no CR/LF/ESC: it goes to a terminal or a log line);
//! * an accepted config has a listener, and its route table is sane: prefixes are normalised
//!   (`/` or no trailing `/`), building the table again from its own routes succeeds, each
//!   upstream prints and re-parses to itself, and a request for a route's own prefix is routed
//!   to that route.
#![no_main]

use gangway::route::{Router, Upstream};
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match gangway::config::parse(&text, ORIGIN) {
        Ok(config) => check_config(&config),
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with(ORIGIN), "error without origin: {shown:?}");
            assert_eq!(e.origin(), ORIGIN);
            assert!(!e.message().is_empty(), "empty message: {shown:?}");
            match (e.line(), e.column()) {
                (Some(line), Some(column)) => {
                    let lines = text.split('\n').count();
                    assert!(
                        line >= 1 && line <= lines + 1,
                        "line {line} of {lines}: {shown:?}"
                    );
                    assert!(column >= 1, "column {column}");
                    let at = format!("{ORIGIN}:{line}:{column}: ");
                    assert!(shown.starts_with(&at), "position not named: {shown:?}");
                }
                (None, None) => {
                    assert!(shown.starts_with(&format!("{ORIGIN}: ")), "{shown:?}");
                }
                other => panic!("line and column must come together: {other:?}"),
            }
            assert!(
                !shown.contains(['\n', '\r']),
                "error text spans lines: {shown:?}"
            );
            assert!(
                !shown.chars().any(char::is_control),
                "control character in the error text: {shown:?}"
            );
        }
    }
});

fn check_config(config: &gangway::config::Config) {
    assert!(!config.listeners.is_empty(), "accepted without a listener");
    let routes = config.router.routes();
    for route in routes {
        let p = &route.prefix;
        assert!(p.starts_with('/'), "prefix {p:?}");
        assert!(p == "/" || !p.ends_with('/'), "prefix {p:?} not normalised");
        let shown = route.upstream.to_string();
        assert_eq!(
            Upstream::parse(&shown).as_ref(),
            Ok(&route.upstream),
            "upstream {shown:?} does not re-parse to itself"
        );
        let m = config
            .router
            .route(p)
            .unwrap_or_else(|e| panic!("a route's own prefix {p:?} is refused: {e}"));
        assert_eq!(&m.route.prefix, p, "{p:?} routed elsewhere");
    }
    let again = Router::new(routes.to_vec()).expect("the table rebuilds from its own routes");
    assert_eq!(again.routes(), routes);
}
