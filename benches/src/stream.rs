//! Streaming: one GET over raw HTTP/1.1 with the leanest client there is (a 1 MiB read
//! buffer, bytes counted and dropped), so the number measures the server side. Prints the
//! throughput and, with `--pid`, that process's peak RSS (VmHWM) after the transfer.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{read_mem, Args};

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    let addr = args.str("addr")?;
    let path = args.str("path")?;
    let pid: Option<u32> = args.opt("pid", 0).map(|p| (p != 0).then_some(p))?;
    let before = pid.and_then(read_mem);
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut body: u64;
    // Read the head.
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the response head".into());
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            body = (head.len() - end - 4) as u64;
            head.truncate(end);
            break;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status_ok = head.starts_with("HTTP/1.1 200");
    let length: Option<u64> = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    });
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    loop {
        if length.is_some_and(|l| body >= l) {
            break;
        }
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        body += n as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    let after = pid.and_then(read_mem);
    let complete =
        status_ok && (length.is_some_and(|l| body == l) || (length.is_none() && chunked));
    println!(
        "{{\"bytes\":{body},\"seconds\":{secs:.3},\"mib_per_s\":{:.1},\"complete\":{complete},\"rss_before_kib\":{},\"peak_rss_kib\":{}}}",
        body as f64 / secs / 1048576.0,
        before.map_or(0, |m| m.rss_kib),
        after.map_or(0, |m| m.hwm_kib),
    );
    Ok(())
}
