//! Reading the rest of a response body the caller dropped, so the HTTP/1.1 connection can
//! be reused instead of closed (an unread body is the classic reason connections are not
//! reused: reqwest #1103, hyper-util's pool silently closes them).

use std::time::Duration;

use http_body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::key::Key;
use crate::pool::H1Conn;
use crate::pool::SharedRef;
use crate::stats::CloseReason;

/// A drain that takes longer than this is not worth the connection.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Drains `body` in the background when at most `drain_limit` bytes can remain; closes the
/// connection otherwise.
pub(crate) fn spawn(shared: SharedRef, key: Key, conn: H1Conn, body: Incoming) {
    let limit = shared.config.drain_limit;
    let known_too_big = body.size_hint().lower() > limit;
    let runtime = tokio::runtime::Handle::try_current();
    let (false, Ok(runtime)) = (known_too_big, runtime) else {
        drop(body);
        shared.discard_h1(&key, conn, CloseReason::UnreadBody);
        return;
    };
    runtime.spawn(async move {
        match tokio::time::timeout(DRAIN_TIME, read_at_most(body, limit)).await {
            Ok(true) => {
                shared.count_drained(&key);
                let mut conn = conn;
                match tokio::time::timeout(DRAIN_TIME, conn.tx_mut().ready()).await {
                    Ok(Ok(())) => shared.put_idle(&key, conn),
                    _ => shared.discard_h1(&key, conn, CloseReason::ServerClose),
                }
            }
            _ => shared.discard_h1(&key, conn, CloseReason::UnreadBody),
        }
    });
}

/// Reads frames until the end; false when more than `limit` bytes came or the body failed.
async fn read_at_most(mut body: Incoming, limit: u64) -> bool {
    let mut seen = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                    if seen > limit {
                        return false;
                    }
                }
            }
            Err(_) => return false,
        }
    }
    true
}
