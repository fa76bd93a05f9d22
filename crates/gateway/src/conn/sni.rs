//! Several certificates on one TLS listener, chosen by SNI, and the 421 rule.
//!
//! A [`CertSet`] holds a listener's certificates in config order (the first is the
//! default) with the DNS names each one's subjectAltName lists, and a rustls server config
//! whose resolver picks one per handshake from the client's SNI. A set is built whole when
//! the config is loaded (at start and on every reload) and lives in the `App`: a reload
//! that swaps the `App` swaps the certificates for new handshakes, while established
//! connections keep the set they were accepted with.
//!
//! With several certificates a client may reuse a connection for another host (HTTP/2
//! connection coalescing does, when one certificate's names cover both); a request whose
//! host is not covered by the certificate the handshake chose but is by another one of the
//! listener's gets 421 Misdirected Request (RFC 9110 §15.5.20), so that the client opens a
//! connection with the right SNI instead of being answered under the wrong certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsFiles;

/// A listener's certificates, their names, and the rustls config that serves them.
#[derive(Debug)]
pub struct CertSet {
    names: Arc<Names>,
    config: Arc<rustls::ServerConfig>,
}

impl CertSet {
    /// Loads every certificate and key of a listener (`files[0]` is the default). The error
    /// names the file and what is wrong with it.
    pub fn load(files: &[TlsFiles]) -> Result<CertSet, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut keys = Vec::with_capacity(files.len());
        let mut names = Vec::with_capacity(files.len());
        for f in files {
            let certs = read_certs(&f.cert)?;
            let leaf_names = dns_names(&certs, &f.cert)?;
            let key = PrivateKeyDer::from_pem_file(&f.key)
                .map_err(|e| format!("{}: {e}", f.key.display()))?;
            let key = CertifiedKey::from_der(certs, key, &provider)
                .map_err(|e| format!("{} with {}: {e}", f.cert.display(), f.key.display()))?;
            keys.push(Arc::new(key));
            names.push(leaf_names);
        }
        if keys.is_empty() {
            return Err("no certificate configured".to_owned());
        }
        let names = Arc::new(Names { certs: names });
        let resolver = Resolver {
            keys,
            names: Arc::clone(&names),
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(CertSet {
            names,
            config: Arc::new(config),
        })
    }

    /// The rustls config new handshakes use.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }

    /// The certificates' names, to tell which one a handshake chose.
    pub fn names(&self) -> &Arc<Names> {
        &self.names
    }
}

/// Reads a PEM chain, leaf first.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// The leaf's subjectAltName DNS names (exact and `*.` wildcards), lower-cased.
fn dns_names(certs: &[CertificateDer<'_>], path: &Path) -> Result<Vec<String>, String> {
    let leaf = certs
        .first()
        .ok_or_else(|| format!("{}: no certificate found", path.display()))?;
    let cert = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| format!("{}: not a usable certificate: {e}", path.display()))?;
    Ok(cert
        .valid_dns_names()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect())
}

/// Which certificate serves which names: `certs[i]` are certificate `i`'s names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Per certificate, in config order, its lower-cased DNS names.
    pub certs: Vec<Vec<String>>,
}

impl Names {
    /// The certificate a name selects: an exact name first (in any certificate), then a
    /// wildcard covering it, each time the first certificate in config order. `name` is
    /// lower-case, without port or trailing dot.
    pub fn serving(&self, name: &str) -> Option<usize> {
        self.certs
            .iter()
            .position(|names| names.iter().any(|n| n == name))
            .or_else(|| {
                self.certs
                    .iter()
                    .position(|names| names.iter().any(|n| wildcard_covers(n, name)))
            })
    }

    /// The certificate a handshake with this SNI uses: the one serving it, else the first.
    pub fn chosen(&self, sni: Option<&str>) -> usize {
        sni.and_then(|s| self.serving(&s.trim_end_matches('.').to_ascii_lowercase()))
            .unwrap_or(0)
    }

    /// Whether a request for `host` (normalised) arriving on a connection whose handshake
    /// chose certificate `used` belongs on another connection: `used` does not cover it
    /// and another certificate of the listener does. A host no certificate names (an IP
    /// address, an unknown name) is served as before.
    pub fn misdirected(&self, used: usize, host: &str) -> bool {
        let covers =
            |names: &Vec<String>| names.iter().any(|n| n == host || wildcard_covers(n, host));
        let used_covers = self.certs.get(used).is_some_and(covers);
        !used_covers
            && self
                .certs
                .iter()
                .enumerate()
                .any(|(i, names)| i != used && covers(names))
    }
}

/// `*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`
/// (RFC 6125 §6.4.3: the wildcard is one whole left-most label).
fn wildcard_covers(pattern: &str, name: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    match name.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest == suffix,
        None => false,
    }
}

/// What a TLS connection's handshake chose: the listener's names and the certificate used.
#[derive(Debug, Clone)]
pub struct Chosen {
    names: Arc<Names>,
    used: usize,
}

impl Chosen {
    /// The choice the resolver made for this SNI; `None` with a single certificate (no
    /// request can belong to another one of the listener's certificates).
    pub fn new(names: Arc<Names>, sni: Option<&str>) -> Option<Chosen> {
        if names.certs.len() < 2 {
            return None;
        }
        let used = names.chosen(sni);
        Some(Chosen { names, used })
    }

    /// Whether a request for `authority` (`Host` or `:authority`, any case, with a port
    /// or a trailing dot) should have come on a connection with another certificate.
    pub fn misdirected(&self, authority: Option<&str>) -> bool {
        crate::route::host::HostKey::new(authority)
            .is_some_and(|host| self.names.misdirected(self.used, host.as_str()))
    }
}

/// Marks a request [`Chosen::misdirected`] found on the wrong connection; the request
/// path answers it 421.
#[derive(Debug, Clone, Copy)]
pub struct Misdirected;

/// The rustls resolver: the certificate [`Names::chosen`] picks for the client's SNI.
#[derive(Debug)]
struct Resolver {
    keys: Vec<Arc<CertifiedKey>>,
    names: Arc<Names>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let i = self.names.chosen(hello.server_name());
        self.keys.get(i).or(self.keys.first()).cloned()
    }
}

/// Marks a request whose host another certificate of this TLS listener serves (answered
/// 421 by the request path).
pub(super) fn mark_misdirected(
    sni: Option<&Chosen>,
    req: &mut http::Request<hyper::body::Incoming>,
) {
    if sni.is_some_and(|c| c.misdirected(crate::route::request_host(req))) {
        req.extensions_mut().insert(Misdirected);
    }
}

#[cfg(test)]
mod tests;
