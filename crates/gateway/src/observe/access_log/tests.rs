use super::*;

fn log(format: LogFormat, path: Option<&str>, on: bool) -> Log {
    Log {
        format,
        access_log: on,
        access_log_path: path.map(PathBuf::from),
        ..Log::default()
    }
}

/// A reload keeps the writer only for the same destination, and takes the new format.
#[test]
fn carried_keeps_the_writer_for_the_same_destination_only() {
    let dir = std::env::temp_dir().join(format!("gangway-access-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("access.log");
    let path = path.to_str().expect("utf-8 path");
    let other = dir.join("other.log");
    let other = other.to_str().expect("utf-8 path");
    let running = AccessLog::start(&log(LogFormat::Text, Some(path), true))
        .expect("start")
        .expect("on");
    for (new, kept) in [
        (
            log(LogFormat::Json, Some(path), true),
            Some(AccessFormat::Json),
        ),
        (
            log(LogFormat::Combined, Some(path), true),
            Some(AccessFormat::Combined),
        ),
        (
            log(LogFormat::Text, Some(path), true),
            Some(AccessFormat::Text),
        ),
        (log(LogFormat::Json, Some(other), true), None),
        (log(LogFormat::Json, None, true), None),
        (log(LogFormat::Json, Some(path), false), None),
    ] {
        let carried = running.carried(&new);
        assert_eq!(carried.as_ref().map(AccessLog::format), kept, "{new:?}");
        if let Some(c) = carried {
            assert!(Arc::ptr_eq(&c._guard, &running._guard), "{new:?}");
        }
    }
    assert_eq!(running.format(), AccessFormat::Text);
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}
