//! `--watch`: reload when the config file changes.
//!
//! The file is polled (`stat`, following symlinks) rather than watched with inotify: a
//! Kubernetes ConfigMap volume updates by swapping a `..data` symlink in the file's
//! directory, an editor by renaming a new file over the old one, and both change what the
//! path resolves to (device, inode, size, mtime) — which one `stat` per interval sees
//! without following directory events, and without a dependency. A change is reported only
//! once the file has looked the same for one more interval (a debounce: a file being
//! written is not read half-way).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

/// How often the file is checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What identifies one version of the file. `None` while it does not exist (mid-swap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

/// The file's current stamp.
pub fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The debounce decision: given the stamp last reloaded from, the one seen at the previous
/// poll and the one seen now, whether to reload now. A missing file never triggers.
pub fn should_reload(
    loaded: &Option<Stamp>,
    previous: &Option<Stamp>,
    now: &Option<Stamp>,
) -> bool {
    now.is_some() && now == previous && now != loaded
}

/// Polls `path` until the receiver is dropped; sends `()` for each settled change.
pub fn spawn(path: PathBuf) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut loaded = stamp(&path);
        let mut previous = loaded.clone();
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        loop {
            tick.tick().await;
            let now = stamp(&path);
            if should_reload(&loaded, &previous, &now) {
                loaded = now.clone();
                // Full: a reload is already pending, which will read the newest file.
                if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                    return;
                }
            }
            previous = now;
        }
    });
    rx
}
