//! Idle keep-alive connections: open `--conns` connections, send one request on each and
//! read its response, then leave them all open and idle and read `--pid`'s RSS. The RSS
//! before the first connection is subtracted to get the cost of one idle connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::{read_mem, Args};

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let addr = args.str("addr")?.to_owned();
    let path = args.opt("path", "/".to_owned())?;
    let conns: usize = args.opt("conns", 10_000)?;
    let pid: u32 = args.opt("pid", 0)?;
    let hold = Duration::from_secs_f64(args.opt("hold", 1.0)?);
    let before = read_mem(pid);
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let gate = Arc::new(Semaphore::new(128));
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (addr, path, failed, first_error, gate) = (
            addr.clone(),
            path.clone(),
            Arc::clone(&failed),
            Arc::clone(&first_error),
            Arc::clone(&gate),
        );
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok();
            let result = one(&addr, &path).await;
            drop(permit);
            match result {
                Ok(stream) => Some(stream),
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first_error.lock() {
                        f.get_or_insert(e);
                    }
                    None
                }
            }
        }));
    }
    let mut open = Vec::with_capacity(conns);
    for t in tasks {
        if let Ok(Some(s)) = t.await {
            open.push(s);
        }
    }
    // Let the server settle (buffers released after the response, tasks parked).
    tokio::time::sleep(hold).await;
    let after = read_mem(pid);
    // Are they still open? A closed one reads EOF at once.
    let mut still_open = 0usize;
    for s in &open {
        let mut b = [0u8; 1];
        if let Err(e) = s.try_read(&mut b) {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                still_open += 1;
            }
        }
    }
    if let Ok(f) = first_error.lock() {
        if let Some(e) = f.as_ref() {
            eprintln!("first error: {e}");
        }
    }
    let before_kib = before.map_or(0, |m| m.rss_kib);
    let after_kib = after.map_or(0, |m| m.rss_kib);
    let per_conn = if still_open > 0 {
        (after_kib.saturating_sub(before_kib) * 1024) as f64 / still_open as f64
    } else {
        0.0
    };
    println!(
        "{{\"requested\":{conns},\"open\":{still_open},\"failed\":{},\"rss_before_kib\":{before_kib},\"rss_after_kib\":{after_kib},\"bytes_per_conn\":{per_conn:.0}}}",
        failed.load(Ordering::Relaxed)
    );
    drop(open);
    Ok(())
}

async fn one(addr: &str, path: &str) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the response ended".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            return Err(format!("status line {:?}", head.lines().next()));
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or("no content-length")?;
        if buf.len() >= end + 4 + length {
            return Ok(s);
        }
    }
}
