//! Getting a connection for one request: take what the pool has, or open a new one, or
//! wait in line (first in, first out) for the per-host limit to let us through.

use std::sync::Arc;

use crate::error::{Error, Kind};
use crate::handshake;
use crate::key::Key;
use crate::lease::{Grant, Lease};
use crate::pool::{Ready, Shared};

/// Returns a lease on a connection to `key`. With `fresh_only`, only a newly opened
/// connection will do (the retry after a stale connection).
pub(crate) async fn lease(
    shared: &Arc<Shared>,
    key: &Key,
    fresh_only: bool,
) -> Result<Lease, Error> {
    let grant = match shared.checkout(key, fresh_only) {
        Ready::Grant(grant) => grant,
        Ready::Closed => return Err(shut_down(key)),
        Ready::Wait(mut rx) => {
            let timeout = shared.config.checkout_timeout;
            match tokio::time::timeout(timeout, &mut rx).await {
                Ok(Ok(grant)) => grant,
                Ok(Err(_)) if shared.is_closed() => return Err(shut_down(key)),
                Ok(Err(_)) => return Err(Error::new(Kind::PoolClosed).for_host(key)),
                Err(_) => {
                    // A grant may have been sent just as the timer fired: use it rather
                    // than let it drop.
                    rx.close();
                    match rx.try_recv() {
                        Ok(grant) => grant,
                        Err(_) => {
                            shared.count_checkout_timeout(key);
                            return Err(Error::new(Kind::PoolExhausted).for_host(key).with(
                                format!(
                                "no connection free within {:?} (max_connections_per_host reached)",
                                timeout
                            ),
                            ));
                        }
                    }
                }
            }
        }
    };
    match grant {
        Grant::Lease(lease) => Ok(lease),
        Grant::Connect(permit) => {
            let id = shared.next_id();
            let weak = Arc::downgrade(shared);
            let close_key = key.clone();
            let on_close = move || {
                if let Some(shared) = weak.upgrade() {
                    shared.untrack(id);
                    shared.conn_closed(&close_key, id);
                }
            };
            // Boxed: opening a connection (DNS, TCP, TLS, handshake) is the rare path, and
            // its state (kilobytes with TLS) would otherwise be part of every request's
            // future, copied with it and allocated with every server connection that may
            // run one.
            let connecting = Box::pin(handshake::establish(
                &shared.config,
                shared.tls.as_ref(),
                key,
                on_close,
            ));
            let established =
                match tokio::time::timeout(shared.config.connect_timeout, connecting).await {
                    Ok(Ok((established, task))) => {
                        shared.track(id, task);
                        established
                    }
                    Ok(Err(e)) => return Err(e.for_host(key)),
                    Err(_) => {
                        return Err(Error::new(Kind::ConnectTimeout)
                            .for_host(key)
                            .with(format!("after {:?}", shared.config.connect_timeout)))
                    }
                };
            // (On the error paths above the permit drops and counts the failure.)
            Ok(shared.register(permit, id, established))
        }
    }
}

fn shut_down(key: &Key) -> Error {
    Error::new(Kind::PoolClosed)
        .for_host(key)
        .with("the client is shut down and takes no new requests")
}
