//! The future [`super::Client::request`] returns: the `send` future itself for the common
//! request, a boxed one when it carries timeouts, or an error found before sending.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;

pin_project_lite::pin_project! {
    /// One of the three ways a request goes; polled as the one it is.
    #[project = EitherProj]
    pub(super) enum Either<P, T> {
        /// No timeout asked: the `send` future, unboxed.
        Plain { #[pin] future: P },
        /// With timeouts: boxed, so the plain case is not sized by the timer.
        Timed { future: Pin<Box<T>> },
        /// The request could not be planned (no pool key for its URI).
        Failed { error: Option<Error> },
    }
}

impl<P, T, R> Future for Either<P, T>
where
    P: Future<Output = Result<R, Error>>,
    T: Future<Output = Result<R, Error>>,
{
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            EitherProj::Plain { future } => future.poll(cx),
            EitherProj::Timed { future } => future.as_mut().poll(cx),
            // Polled again after it returned the error: a caller's bug, answered the same.
            EitherProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::new(crate::error::Kind::PoolClosed)))),
        }
    }
}
