//! Measures what an idle pooled connection costs in memory: opens N concurrent requests
//! to URL (so N connections), lets them go idle in the pool, and reports the process's
//! resident memory before and after, per connection. Linux only (reads /proc/self/status).
//!
//! ```text
//! cargo run --release -p gangway-pool --example idle_memory -- 1000 http://127.0.0.1:18080/
//! ```

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use tokio::sync::Barrier;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18080/".into());
    let client = gangway_pool::Client::builder()
        .max_idle_per_host(n)
        .http1_only()
        .build()?;
    // Warm up everything that allocates once (runtime, TLS roots, the host's map entry).
    let warm = http::Request::get(&url).body(Empty::<Bytes>::new())?;
    client.request(warm).await?.into_body().collect().await?;
    let before = rss_kib();
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (client, url, barrier) = (client.clone(), url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(&url).body(Empty::<Bytes>::new())?;
            let resp = client.request(req).await?;
            // Hold every response until all N are in flight, so N connections exist.
            barrier.wait().await;
            resp.into_body().collect().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await?.map_err(|e| e as Box<dyn std::error::Error>)?;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = rss_kib();
    let stats = client.stats().total;
    let per = (after.saturating_sub(before) * 1024) / (stats.idle.max(1) as u64);
    println!(
        "{{\"connections_opened\":{},\"idle\":{},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"bytes_per_idle_connection\":{per}}}",
        stats.connections_opened, stats.idle
    );
    Ok(())
}
