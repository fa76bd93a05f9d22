//! `gwbench`: the benchmark program that `benches/run.sh` drives, one subcommand per role.
//!
//! ```text
//! gwbench hyperutil-proxy --listen ADDR --upstream http://HOST:PORT
//!     a reverse proxy on hyper-util's legacy Client (the comparison row "hyper-util")
//! gwbench floor-proxy --listen ADDR --upstream http://IP:PORT [--mode conn|pool] [--threads N]
//!     the least a proxy on hyper's connection types does (current-thread runtimes):
//!     `benches/profile.sh` measures it as the floor under gangway's instructions
//! gwbench client --system gangway-pool|hyper-util|reqwest --url URL [--h2]
//!               --concurrency N --duration SECS [--warmup SECS]
//!     the pool as a client library: N tasks sending GETs for SECS; one JSON line
//! gwbench stream --addr ADDR --path PATH [--pid PID]
//!     download one (large) body over raw HTTP/1.1; throughput, and PID's peak RSS
//! gwbench idle --addr ADDR --conns N [--pid PID] [--hold SECS]
//!     open N keep-alive connections, one request each, keep them idle; PID's RSS
//! ```
//!
//! Every subcommand that measures prints exactly one JSON object on its last line of
//! standard output; `benches/report.py` reads those. Nothing here asserts a time: the
//! numbers are reported, and compared only with others from the same run.

mod client;
mod floor;
mod idle;
mod proxy;
mod stream;

use std::collections::HashMap;
use std::process::ExitCode;

/// `--key value` pairs and bare `--flag`s after the subcommand.
pub(crate) struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = args.iter().peekable();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            match it.peek() {
                Some(v) if !v.starts_with("--") => {
                    values.insert(name.to_owned(), (*v).clone());
                    it.next();
                }
                _ => flags.push(name.to_owned()),
            }
        }
        Ok(Self { values, flags })
    }

    pub(crate) fn str(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required"))
    }

    pub(crate) fn opt<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

/// The next accepted connection, with `TCP_NODELAY` set; a failed accept (out of file
/// descriptors, say) is reported and retried after 50 ms rather than ending the proxy.
pub(crate) async fn accept(listener: &tokio::net::TcpListener) -> tokio::net::TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A process's memory figures from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mem {
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
}

pub(crate) fn read_mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Latency percentiles (µs) of an unsorted sample.
pub(crate) fn percentiles(samples: &mut [u32]) -> (u32, u32) {
    if samples.is_empty() {
        return (0, 0);
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or(0)
    };
    (at(0.50), at(0.99))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; accept and ignore it.
    let argv: Vec<String> = argv.into_iter().filter(|a| a != "--bench").collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("usage: gwbench hyperutil-proxy|floor-proxy|client|stream|idle --help (see src/main.rs)");
        return ExitCode::from(2);
    };
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gwbench {cmd}: {e}");
            return ExitCode::from(2);
        }
    };
    // The floor proxy runs like gangway's workers: current-thread runtimes, one per thread.
    let mut builder = if cmd == "floor-proxy" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gwbench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cmd.as_str() {
            "hyperutil-proxy" => proxy::run(&args).await,
            "floor-proxy" => floor::run(&args).await,
            "client" => client::run(&args).await,
            "stream" => stream::run(&args).await,
            "idle" => idle::run(&args).await,
            other => Err(format!("unknown subcommand {other:?}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gwbench {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
