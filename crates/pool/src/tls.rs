//! TLS to upstreams: rustls with the ring provider, webpki roots plus optional extra roots,
//! SNI from the URI's host, and ALPN offering what the version policy allows.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::HttpVersionPolicy;
use crate::error::{Error, Kind};

/// A ready-to-use connector and the ALPN protocols it offers.
#[derive(Clone)]
pub(crate) struct Tls {
    connector: TlsConnector,
}

impl Tls {
    pub(crate) fn new(
        custom: Option<Arc<rustls::ClientConfig>>,
        sources: &RootSources<'_>,
        policy: HttpVersionPolicy,
    ) -> Result<Self, Error> {
        let mut config = match custom {
            Some(cfg) => (*cfg).clone(),
            None => {
                let roots = root_store(sources)?;
                // Explicit provider: if some other crate turns on rustls' aws-lc feature too,
                // the implicit `builder()` would panic at run time.
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::new(Kind::Config).with(e))?
                .with_root_certificates(roots)
                .with_no_client_auth()
            }
        };
        config.alpn_protocols = match policy {
            HttpVersionPolicy::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            HttpVersionPolicy::Http1Only => vec![b"http/1.1".to_vec()],
            HttpVersionPolicy::Http2Only => vec![b"h2".to_vec()],
        };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Runs the handshake; returns the stream and whether ALPN chose `h2`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<(TlsStream<TcpStream>, bool), Error> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| Error::new(Kind::Tls).with(format!("invalid server name: {e}")))?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| Error::new(Kind::Tls).with(e))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((tls, h2))
    }
}

/// Where the default configuration's trust anchors come from (see the `Builder` methods
/// `webpki_roots`, `native_roots`, `add_root_certificates_pem`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RootSources<'a> {
    pub(crate) webpki: bool,
    pub(crate) native: bool,
    pub(crate) pem_files: &'a [std::path::PathBuf],
}

pub(crate) fn root_store(sources: &RootSources<'_>) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    if sources.webpki {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if sources.native {
        add_native_roots(&mut roots)?;
    }
    for path in sources.pem_files {
        add_pem_roots(&mut roots, path)?;
    }
    if roots.is_empty() {
        // Every https:// request would fail verification; say so at build time instead.
        return Err(Error::new(Kind::Config).with("no TLS root certificates configured"));
    }
    Ok(roots)
}

#[cfg(feature = "native-roots")]
fn add_native_roots(roots: &mut rustls::RootCertStore) -> Result<(), Error> {
    let found = rustls_native_certs::load_native_certs();
    for err in &found.errors {
        // A broken file in a CA directory should not stop the client; the rest still count.
        tracing::debug!(error = %err, "skipping part of the system certificate store");
    }
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let detail = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(Error::new(Kind::Config).with(format!(
            "the system certificate store has no usable certificate{detail}"
        )));
    }
    Ok(())
}

#[cfg(not(feature = "native-roots"))]
fn add_native_roots(_roots: &mut rustls::RootCertStore) -> Result<(), Error> {
    // Unreachable: `Builder::native_roots` only exists with the feature.
    Err(Error::new(Kind::Config).with("native roots need the `native-roots` feature"))
}

fn add_pem_roots(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), Error> {
    let config_err = |what: String| Error::new(Kind::Config).with(what);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_err(format!("reading {}: {e}", path.display())))?;
    let mut added = 0;
    for cert in certs {
        let cert = cert.map_err(|e| config_err(format!("parsing {}: {e}", path.display())))?;
        roots
            .add(cert)
            .map_err(|e| config_err(format!("adding root from {}: {e}", path.display())))?;
        added += 1;
    }
    if added == 0 {
        return Err(config_err(format!(
            "no certificate found in {}",
            path.display()
        )));
    }
    Ok(())
}
