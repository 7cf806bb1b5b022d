//! PEM input, from a file or from memory, parsed with rustls-pki-types'
//! `PemObject`.

use crate::error::{go_os_error_text, Error};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::PathBuf;

/// Where PEM text comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    /// PEM text handed over in memory (test PKIs, secrets from a store).
    Inline(Vec<u8>),
}

impl fmt::Debug for Pem {
    // Inline PEM may hold a private key: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(p) => write!(f, "Pem::File({})", p.display()),
            Pem::Inline(b) => write!(f, "Pem::Inline({} bytes)", b.len()),
        }
    }
}

impl fmt::Display for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(p) => write!(f, "{:?}", p.display().to_string()),
            Pem::Inline(_) => f.write_str("PEM in memory"),
        }
    }
}

impl Pem {
    pub fn file(path: impl Into<PathBuf>) -> Pem {
        Pem::File(path.into())
    }

    pub fn inline(pem: impl Into<Vec<u8>>) -> Pem {
        Pem::Inline(pem.into())
    }

    /// The PEM text.
    pub fn read(&self) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
        match self {
            Pem::File(p) => std::fs::read(p).map(Into::into).map_err(|e| Error::Read {
                path: p.display().to_string(),
                reason: go_os_error_text(&e),
            }),
            Pem::Inline(b) => Ok(b.as_slice().into()),
        }
    }
}

/// Every certificate in `pem`; at least one.
pub fn certificates(pem: &Pem) -> Result<Vec<CertificateDer<'static>>, Error> {
    let text = pem.read()?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem(format!("failed to read certificate(s) at {pem}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Pem(format!("no valid certificates read from {pem}")));
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, Error> {
    let text = pem.read()?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            Error::Pem(format!("no private key in {pem}"))
        }
        e => Error::Pem(format!("failed to read private key at {pem}: {e}")),
    })
}
