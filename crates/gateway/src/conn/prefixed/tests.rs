use std::io::{self, IoSlice};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Prefixed, PREFIX_MAX};

async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    Ok((client?, accepted?.0))
}

#[tokio::test]
async fn reads_the_prefix_first_then_the_socket() -> io::Result<()> {
    let (mut client, server) = pair().await?;
    let mut head = [0u8; PREFIX_MAX];
    head[..4].copy_from_slice(b"GET ");
    let mut io = Prefixed::new(server, head, 4);
    client.write_all(b"/ HTTP/1.1\r\n").await?;
    let mut got = vec![0u8; 16];
    io.read_exact(&mut got).await?;
    assert_eq!(got, b"GET / HTTP/1.1\r\n");
    Ok(())
}

/// The sniffed bytes and what the socket already holds come in one read: a head split
/// across two reads doubles hyper's read buffer for the connection's life.
#[tokio::test]
async fn one_read_gives_the_prefix_and_what_already_arrived() -> io::Result<()> {
    let (mut client, mut server) = pair().await?;
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    client.write_all(request).await?;
    // As the sniffer does: the first bytes read on their own. One loopback segment, so the
    // rest is in the socket once these are.
    let mut head = [0u8; PREFIX_MAX];
    server.read_exact(&mut head[..4]).await?;
    let mut io = Prefixed::new(server, head, 4);
    let mut got = vec![0u8; 8192];
    let n = io.read(&mut got).await?;
    assert_eq!(&got[..n], request);
    Ok(())
}

/// hyper copies every body frame into its write buffer when its IO is not vectored; the
/// wrapper must keep the socket's vectored writes (a 1 GiB stream ran at half speed).
#[tokio::test]
async fn keeps_vectored_writes() -> io::Result<()> {
    let (mut client, server) = pair().await?;
    let mut io = Prefixed::new(server, [0u8; PREFIX_MAX], 0);
    assert!(io.is_write_vectored());
    let bufs = [IoSlice::new(b"head\r\n"), IoSlice::new(b"body")];
    let n = std::future::poll_fn(|cx| std::pin::Pin::new(&mut io).poll_write_vectored(cx, &bufs))
        .await?;
    assert_eq!(n, 10);
    let mut got = vec![0u8; 10];
    client.read_exact(&mut got).await?;
    assert_eq!(got, b"head\r\nbody");
    Ok(())
}
