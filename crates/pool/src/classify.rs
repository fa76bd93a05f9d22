//! Reads a hyper error for what the retry rules need to know: did the connection close
//! under the request, or did HTTP/2 refuse the stream?

use std::error::Error as StdError;
use std::io;

use crate::retry::Failure;

/// Classifies a send error whose request hyper did not hand back (so it was written, at
/// least in part). No response head had arrived: hyper returns the response as soon as it
/// has one.
pub(crate) fn failure(err: &hyper::Error) -> Failure {
    if let Some(h2) = find::<h2::Error>(err) {
        return match h2.reason() {
            // RFC 9113 §8.7: REFUSED_STREAM guarantees the stream was not processed, as
            // does a graceful GOAWAY (NO_ERROR) that surfaces on a stream before a response:
            // streams at or below the GOAWAY's last id complete normally.
            Some(h2::Reason::REFUSED_STREAM) => Failure::Refused,
            Some(h2::Reason::NO_ERROR) if h2.is_go_away() => Failure::Refused,
            _ => Failure::Other,
        };
    }
    if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        return Failure::ClosedBeforeResponse;
    }
    if let Some(io) = find::<io::Error>(err) {
        return match io.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Failure::ClosedBeforeResponse,
            _ => Failure::Other,
        };
    }
    Failure::Other
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cur = e.source();
    }
    None
}
