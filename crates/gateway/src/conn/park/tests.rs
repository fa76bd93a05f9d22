use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ReadReady, Replay};

/// A pipe that never says it is ready: readiness here comes from the replay alone.
struct Pipe(tokio::io::DuplexStream);

impl ReadReady for Pipe {
    const PARKS: bool = true;
    fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Pending
    }
}

impl tokio::io::AsyncRead for Pipe {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

#[tokio::test]
async fn replayed_bytes_come_first_and_make_the_io_ready() {
    let (a, mut b) = tokio::io::duplex(64);
    let mut io = Replay::new(Pipe(a));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(io.poll_read_ready(&mut cx).is_pending(), "nothing to read");
    io.replay(Bytes::new());
    assert!(
        io.poll_read_ready(&mut cx).is_pending(),
        "an empty replay is nothing"
    );
    io.replay(Bytes::from_static(b"GET / HT"));
    assert!(
        io.poll_read_ready(&mut cx).is_ready(),
        "replayed bytes are ready"
    );
    b.write_all(b"TP/1.1\r\n").await.expect("write");
    drop(b);
    // Read in small pieces: a short read buffer takes the replay in parts.
    let mut got = Vec::new();
    let mut buf = [0u8; 5];
    loop {
        let n = io.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"GET / HTTP/1.1\r\n");
}
