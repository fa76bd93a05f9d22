//! What the binary-level tests (sigterm.rs, reload.rs, log_lines.rs) share: the `gangway`
//! child process with its output collected, and a bounded poll.
//!
//! Each test file includes this with `mod common;` and uses a part of it, hence the
//! `dead_code` allowance. A test file adds its own constructors in its own `impl Gateway`
//! block (for example reload.rs's `spawn` and `activated`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The child process, killed if the test panics before it exits; its stdout and stderr
/// collected line by line.
pub struct Gateway {
    pub child: Child,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Gateway {
    /// Spawns `cmd` with piped output and starts collecting it.
    pub fn start(mut cmd: Command) -> Gateway {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the gangway binary");
        let log = Arc::new(Mutex::new(String::new()));
        let outs = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        let mut readers = Vec::new();
        for out in outs.into_iter().flatten() {
            let log = Arc::clone(&log);
            readers.push(thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            }));
        }
        Gateway {
            child,
            log,
            readers,
        }
    }

    /// Everything the child wrote so far, stdout and stderr interleaved by line.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The same, one entry per line.
    pub fn lines(&self) -> Vec<String> {
        self.log().lines().map(str::to_owned).collect()
    }

    /// Waits until the child's output is read to its end, so that `log()` then holds all of
    /// it. Call it after the child exited (else it waits for the exit).
    pub fn drain(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// Sends signal `name` (`TERM`, `HUP`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Whether the child has not exited yet.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; its last answer.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}
