use super::plan::plan;
use super::watch::{should_reload, stamp};
use super::*;
use crate::config::parse;

fn config(extra_route: &str, pool: &str, listen: &str) -> crate::config::Config {
    let text = format!(
        "[[listener]]\naddress = \"{listen}\"\n\n[pool]\n{pool}\n\n\
         [[route]]\nprefix = \"/a\"\nupstream = \"http://127.0.0.1:9001\"\n\n{extra_route}"
    );
    match parse(&text, "test.toml") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

const ROUTE_B: &str = "[[route]]\nprefix = \"/b\"\nupstream = \"http://127.0.0.1:9002\"\n";

#[test]
fn plan_table() {
    let base = config(ROUTE_B, "", "127.0.0.1:8080");
    // (new config, keep_pool, removed, refused)
    let cases = [
        (config(ROUTE_B, "", "127.0.0.1:8080"), true, vec![], false),
        (
            config("", "", "127.0.0.1:8080"),
            true,
            vec!["http://127.0.0.1:9002".to_owned()],
            false,
        ),
        (
            config(ROUTE_B, "max_idle_per_host = 3", "127.0.0.1:8080"),
            false,
            vec![],
            false,
        ),
        (config(ROUTE_B, "", "127.0.0.1:8081"), false, vec![], true),
    ];
    for (new, keep_pool, removed, refused) in cases {
        match plan(&base, &new) {
            Ok(p) => {
                assert!(!refused, "{p:?}");
                assert_eq!(p.keep_pool, keep_pool);
                assert_eq!(p.removed, removed);
            }
            Err(e) => assert!(refused && e.contains("listener"), "{e}"),
        }
    }
}

#[test]
fn debounce_waits_for_a_settled_change() {
    let dir = std::env::temp_dir().join(format!("gangway-watch-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("a.toml");
    let _ = std::fs::write(&path, "one");
    let first = stamp(&path);
    let _ = std::fs::write(dir.join("b.toml"), "two, longer");
    let _ = std::fs::rename(dir.join("b.toml"), &path);
    let second = stamp(&path);
    assert!(first.is_some() && second.is_some() && first != second);
    // (loaded, previous, now) → reload?
    let cases = [
        (&first, &first, &first, false),  // unchanged
        (&first, &first, &second, false), // changed just now: wait one interval
        (&first, &second, &second, true), // settled
        (&second, &second, &second, false),
        (&first, &None, &None, false), // missing mid-swap
    ];
    for (loaded, previous, now, want) in cases {
        assert_eq!(should_reload(loaded, previous, now), want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_series_are_rendered() {
    let text = reload_metrics(2, 1, 1_700_000_000);
    assert!(text.contains("gangway_config_reloads_total{result=\"ok\"} 2\n"));
    assert!(text.contains("gangway_config_reloads_total{result=\"error\"} 1\n"));
    assert!(text.contains("gangway_config_last_reload_success_timestamp_seconds 1700000000\n"));
}

#[test]
fn readiness_fails_once_draining() {
    let r = Readiness::default();
    assert!(r.is_ready());
    r.set_draining();
    assert!(!r.is_ready());
}
