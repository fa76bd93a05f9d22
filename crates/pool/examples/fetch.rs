//! Sends N requests through one pool and reports what the pool did.
//!
//! ```text
//! cargo run --release -p gangway-pool --example fetch -- \
//!     [--ca FILE] [--concurrency N] [--requests N] [--method M] [--http1|--http2] URL
//! ```
//!
//! Progress and errors go to stderr; the last line on stdout is one JSON object:
//! `{"requests":…,"ok":…,"errors":…,"connections_opened":…,"reused":…,"protocol":"HTTP/2.0",…}`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

struct Args {
    url: String,
    ca: Option<String>,
    concurrency: u64,
    requests: u64,
    method: http::Method,
    version: gangway_pool::HttpVersionPolicy,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut out = Args {
        url: String::new(),
        ca: None,
        concurrency: 1,
        requests: 1,
        method: http::Method::GET,
        version: gangway_pool::HttpVersionPolicy::Auto,
    };
    let number = |v: Option<String>, flag: &str| -> Result<u64, String> {
        v.ok_or(format!("{flag} needs a value"))?
            .parse::<u64>()
            .map_err(|e| format!("{flag}: {e}"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => out.ca = Some(args.next().ok_or("--ca needs a file")?),
            "--concurrency" | "-c" => {
                out.concurrency = number(args.next(), "--concurrency")?.max(1)
            }
            "--requests" | "-n" => out.requests = number(args.next(), "--requests")?,
            "--method" | "-X" => {
                let m = args.next().ok_or("--method needs a value")?;
                out.method = m.parse().map_err(|e| format!("--method: {e}"))?;
            }
            "--http1" => out.version = gangway_pool::HttpVersionPolicy::Http1Only,
            "--http2" => out.version = gangway_pool::HttpVersionPolicy::Http2Only,
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown flag {other}")),
            other => out.url = other.to_string(),
        }
    }
    if out.url.is_empty() {
        return Err("missing URL".into());
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fetch: {e}");
            }
            eprintln!("usage: fetch [--ca FILE] [--concurrency N] [--requests N] [--method M] [--http1|--http2] URL");
            return ExitCode::from(2);
        }
    };
    let mut builder = gangway_pool::Client::builder();
    builder.version_policy(args.version);
    if let Some(ca) = &args.ca {
        builder.add_root_certificates_pem(ca);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fetch: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = args.url.parse::<http::Uri>() {
        eprintln!("fetch: invalid URL {}: {e}", args.url);
        return ExitCode::from(2);
    }
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let protocols = Arc::new(parking_lot::Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.min(args.requests.max(1)) {
        let (client, next, ok, errors, protocols) = (
            client.clone(),
            next.clone(),
            ok.clone(),
            errors.clone(),
            protocols.clone(),
        );
        let (url, method, total) = (args.url.clone(), args.method.clone(), args.requests);
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let req = http::Request::builder()
                    .method(method.clone())
                    .uri(&url)
                    .body(Empty::<Bytes>::new());
                let Ok(req) = req else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match client.request(req).await {
                    Ok(resp) => {
                        let version = format!("{:?}", resp.version());
                        let status = resp.status();
                        match resp.into_body().collect().await {
                            Ok(_) if !status.is_server_error() => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {
                                eprintln!("fetch: status {status}");
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                eprintln!("fetch: body: {e}");
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        *protocols.lock().entry(version).or_default() += 1;
                    }
                    Err(e) => {
                        eprintln!("fetch: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in workers {
        if w.await.is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let elapsed = started.elapsed();
    let stats = client.stats().total;
    let protocols = protocols.lock();
    let protocol = protocols.keys().cloned().collect::<Vec<_>>().join(",");
    let ok = ok.load(Ordering::Relaxed);
    let errors = errors.load(Ordering::Relaxed);
    println!(
        "{{\"requests\":{},\"ok\":{},\"errors\":{},\"connections_opened\":{},\"reused\":{},\"retries\":{},\"protocol\":\"{}\",\"elapsed_ms\":{},\"req_per_sec\":{:.0}}}",
        args.requests,
        ok,
        errors,
        stats.connections_opened,
        stats.reused,
        stats.retries.total(),
        protocol,
        elapsed.as_millis(),
        args.requests as f64 / elapsed.as_secs_f64().max(1e-9),
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
