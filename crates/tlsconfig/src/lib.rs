//! TLS material for every component, as Diego's `tlsconfig` package builds
//! it: PEM certificates and keys, read from files or handed over in memory
//! ([`Pem`]), into rustls configurations with Diego's internal-service
//! defaults ([`provider`]): TLS 1.2 and 1.3, and on TLS 1.2 only the two
//! ECDHE-RSA AES-GCM suites.
//!
//! [`server_config`] is what the bbs and rep listeners present (mutual TLS
//! when a client CA is given); [`ClientTls`] what their clients present.

mod error;
mod pem;
mod verify;

pub use error::{go_os_error_text, Error};
pub use pem::{certificates, private_key, Pem};

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::sync::Arc;

/// ring with the suites of Diego's `WithInternalServiceDefaults`: every
/// TLS 1.3 suite (Go does not let them be chosen) and, on TLS 1.2, only
/// ECDHE-RSA with AES-256-GCM-SHA384 or AES-128-GCM-SHA256.
pub fn provider() -> Arc<CryptoProvider> {
    use ring::cipher_suite as cs;
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        ..ring::default_provider()
    })
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS12, &rustls::version::TLS13];

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Identity {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// Reads a keypair; problems read as Go's `tls.LoadX509KeyPair`
    /// reports them, after `failed to load keypair: `.
    pub fn load(cert: &Pem, key: &Pem) -> Result<Identity, Error> {
        let keypair = |e: Error, input: &str| {
            Error::Keypair(match e {
                Error::Pem(_) => format!("tls: failed to find any PEM data in {input} input"),
                e => e.to_string(),
            })
        };
        Ok(Identity {
            certs: certificates(cert).map_err(|e| keypair(e, "certificate"))?,
            key: private_key(key).map_err(|e| keypair(e, "key"))?,
        })
    }
}

/// Trust anchors from a PEM bundle.
pub fn root_store(ca: &Pem) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates(ca)? {
        roots
            .add(c)
            .map_err(|e| Error::Certificate(format!("failed to add certificate in {ca}: {e}")))?;
    }
    Ok(roots)
}

/// A server presenting `identity`; with `client_ca`, only clients whose
/// certificate it signed are served (Diego's `WithClientAuthentication`).
/// ALPN offers HTTP/2 and HTTP/1.1, which hyper's auto builder both serves.
pub fn server_config(
    identity: Identity,
    client_ca: Option<&Pem>,
) -> Result<rustls::ServerConfig, Error> {
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(tls)?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(ca)?), provider)
                    .build()
                    .map_err(|e| Error::Tls(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(identity.certs, identity.key)
        .map_err(|e| Error::Keypair(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Mutual TLS from files: `ca_file` signs the clients, `cert_file` and
/// `key_file` are the server's identity (how the bbs and rep listen).
pub fn mutual_tls_server_config(
    ca_file: &str,
    cert_file: &str,
    key_file: &str,
) -> Result<rustls::ServerConfig, Error> {
    let identity = Identity::load(&Pem::file(cert_file), &Pem::file(key_file))?;
    server_config(identity, Some(&Pem::file(ca_file)))
}

/// What a client presents and trusts.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// The CA that signed the server (None: the client trusts no server
    /// unless `skip_verify`).
    pub ca: Option<Pem>,
    /// The client's certificate and key (mutual TLS).
    pub identity: Option<(Pem, Pem)>,
    /// Accepts any server certificate (cfdot's `--skipCertVerify`); the
    /// identity is still presented.
    pub skip_verify: bool,
}

impl ClientTls {
    /// From file names as components configure them; empty names are
    /// unset.
    pub fn from_files(ca_file: &str, cert_file: &str, key_file: &str) -> ClientTls {
        let set = |f: &str| (!f.is_empty()).then(|| Pem::file(f));
        ClientTls {
            ca: set(ca_file),
            identity: set(cert_file).zip(set(key_file)),
            skip_verify: false,
        }
    }

    /// Whether there is anything to configure TLS with.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.identity.is_none() && !self.skip_verify
    }

    /// The rustls client configuration (no ALPN: the caller sets the
    /// protocols its transport speaks).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(tls)?;
        let builder = if self.skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verify::AcceptAnyServer(provider)))
        } else {
            let roots = match &self.ca {
                Some(ca) => root_store(ca)?,
                None => rustls::RootCertStore::empty(),
            };
            builder.with_root_certificates(roots)
        };
        match &self.identity {
            Some((cert, key)) => {
                let id = Identity::load(cert, key)?;
                builder
                    .with_client_auth_cert(id.certs, id.key)
                    .map_err(|e| Error::Keypair(e.to_string()))
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

fn tls(e: rustls::Error) -> Error {
    Error::Tls(e.to_string())
}

#[cfg(test)]
mod tests;
