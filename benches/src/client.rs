//! The pool as a client library: `--concurrency` tasks, each sending `GET --url` and
//! reading the whole body, again and again for `--duration` seconds (after `--warmup`).
//! The same loop drives gangway-pool, hyper-util's legacy `Client` and reqwest, each built
//! with its defaults except for the protocol choice (`--h2`: HTTP/2 prior knowledge).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::{percentiles, Args};

type Fetch = Pin<Box<dyn Future<Output = Result<usize, String>> + Send>>;

/// One request, body read to its end; returns the body length.
trait System: Send + Sync + 'static {
    fn get(&self, url: &http::Uri) -> Fetch;
}

struct Pool(gangway_pool::Client);
struct HyperUtil(hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>);
struct Reqwest(reqwest::Client);

impl System for Pool {
    fn get(&self, url: &http::Uri) -> Fetch {
        let client = self.0.clone();
        hyper_style_get(url, move |req| async move { client.request(req).await })
    }
}

impl System for HyperUtil {
    fn get(&self, url: &http::Uri) -> Fetch {
        let client = self.0.clone();
        hyper_style_get(url, move |req| async move { client.request(req).await })
    }
}

/// A GET through a client shaped like hyper's (`request(Request) -> Response<impl Body>`),
/// the body read to its end: the same work for gangway-pool and hyper-util.
fn hyper_style_get<F, Fut, B, E>(url: &http::Uri, send: F) -> Fetch
where
    F: FnOnce(http::Request<Empty<Bytes>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<http::Response<B>, E>> + Send,
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: std::fmt::Display,
    E: std::fmt::Display,
{
    let req = http::Request::get(url.clone()).body(Empty::<Bytes>::new());
    Box::pin(async move {
        let req = req.map_err(|e| e.to_string())?;
        let resp = send(req).await.map_err(|e| e.to_string())?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(body.to_bytes().len())
    })
}

impl System for Reqwest {
    fn get(&self, url: &http::Uri) -> Fetch {
        let req = self.0.get(url.to_string());
        Box::pin(async move {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            Ok(body.len())
        })
    }
}

fn build(system: &str, h2: bool) -> Result<Arc<dyn System>, String> {
    Ok(match system {
        "gangway-pool" => {
            let mut b = gangway_pool::Client::builder();
            if h2 {
                b.http2_only();
            } else {
                b.http1_only();
            }
            Arc::new(Pool(b.build().map_err(|e| e.to_string())?))
        }
        "hyper-util" => {
            let mut connector = HttpConnector::new();
            // gangway-pool and reqwest set TCP_NODELAY; hyper-util's connector does not.
            connector.set_nodelay(true);
            let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .http2_only(h2)
                .build(connector);
            Arc::new(HyperUtil(client))
        }
        "reqwest" => {
            let b = reqwest::Client::builder();
            let b = if h2 {
                b.http2_prior_knowledge()
            } else {
                b.http1_only()
            };
            Arc::new(Reqwest(b.build().map_err(|e| e.to_string())?))
        }
        other => return Err(format!("unknown system {other:?}")),
    })
}

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let system_name = args.str("system")?.to_owned();
    let url: http::Uri = args
        .str("url")?
        .parse()
        .map_err(|e| format!("--url: {e}"))?;
    let h2 = args.flag("h2");
    let concurrency: usize = args.opt("concurrency", 1)?;
    let duration = Duration::from_secs_f64(args.opt("duration", 5.0)?);
    let warmup = Duration::from_secs_f64(args.opt("warmup", 1.0)?);
    let system = build(&system_name, h2)?;

    // Warm-up: connections opened, caches filled; not counted.
    let (_, _, _) = drive(&system, &url, concurrency, warmup).await;
    let started = Instant::now();
    let (mut latencies, errors, first_error) = drive(&system, &url, concurrency, duration).await;
    let secs = started.elapsed().as_secs_f64();
    let ok = latencies.len();
    let (p50, p99) = percentiles(&mut latencies);
    if let Some(e) = first_error {
        eprintln!("first error: {e}");
    }
    println!(
        "{{\"system\":\"{system_name}\",\"proto\":\"{}\",\"concurrency\":{concurrency},\"requests\":{ok},\"errors\":{errors},\"seconds\":{secs:.3},\"rps\":{:.1},\"p50_us\":{p50},\"p99_us\":{p99}}}",
        if h2 { "h2" } else { "h1" },
        ok as f64 / secs
    );
    Ok(())
}

/// Runs the loop on `concurrency` tasks for `duration`; returns the latencies (µs) of the
/// successful requests, the error count and the first error.
async fn drive(
    system: &Arc<dyn System>,
    url: &http::Uri,
    concurrency: usize,
    duration: Duration,
) -> (Vec<u32>, u64, Option<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (system, url, stop) = (Arc::clone(system), url.clone(), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut first = None;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match system.get(&url).await {
                    Ok(_) => lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert(e);
                        // Don't spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (lat, errors, first)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first = None;
    for t in tasks {
        if let Ok((lat, e, f)) = t.await {
            all.extend(lat);
            errors += e;
            if first.is_none() {
                first = f;
            }
        }
    }
    (all, errors, first)
}
