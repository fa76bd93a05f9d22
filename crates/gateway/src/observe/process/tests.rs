use super::*;

#[test]
fn parsers() {
    assert_eq!(
        parse_vm_rss("Name:\tx\nVmRSS:\t   2048 kB\n"),
        Some(2048 * 1024)
    );
    assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    // A command name with spaces and parentheses.
    let stat = "1234 (gang way) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                250 50 0 0 20 0 3 0 98765 1000000 500 18446744073709551615";
    assert_eq!(
        parse_stat(stat),
        Some(StatTimes {
            utime: 250,
            stime: 50,
            starttime: 98765
        })
    );
    assert_eq!(parse_stat("1234 (x) S 1 2"), None);
    assert_eq!(
        parse_btime("cpu 1 2 3\nbtime 1795900000\nprocesses 9\n"),
        Some(1_795_900_000)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn reads_this_process_and_renders_parseable_text() {
    let stats = ProcessStats::read();
    assert!(stats.resident_memory_bytes.is_some_and(|v| v > 0));
    assert!(stats.open_fds.is_some_and(|v| v >= 3));
    assert!(stats.cpu_seconds.is_some());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let start = stats.start_time_seconds.unwrap_or(0.0);
    assert!(start > 1.0e9 && start <= now + 1.0, "{start} vs {now}");

    let mut text = PromText::new();
    render(&stats, &mut text);
    let text = text.into_string();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse");
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "gangway_build_info",
    ] {
        assert!(scrape.docs.contains_key(name), "HELP for {name}");
        assert!(text.contains(&format!("# TYPE {name} ")), "TYPE for {name}");
        assert!(scrape.samples.iter().any(|s| s.metric == name), "{name}");
    }
    let info = scrape
        .samples
        .iter()
        .find(|s| s.metric == "gangway_build_info")
        .expect("build info");
    assert_eq!(info.labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
}
