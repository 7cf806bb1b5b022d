//! Throwaway TLS material: a CA made on the spot and certificates it
//! signs, as PEM in memory or written to files for a component's config.
//! A second CA ("rogue") gives certificates a server must refuse.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::Path;
use tlsconfig::{ClientTls, Pem};

/// A self-signed CA.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The three files Diego's configs name (`ca_file`, `cert_file`,
/// `key_file` and their `*_ca_cert_file`... variants).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
}

impl TestCa {
    /// A CA with common name `name`.
    pub fn new(name: &str) -> TestCa {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `name` (its common name) valid for `sans` (DNS
    /// names or IP addresses), signed by this CA.
    pub fn issue(&self, name: &str, sans: &[&str]) -> Identity {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes this CA and `id` to `dir` as `ca.crt`, `<stem>.crt` and
    /// `<stem>.key`.
    pub fn write(&self, dir: &Path, stem: &str, id: &Identity) -> TlsFiles {
        TlsFiles {
            ca_file: write(dir, "ca.crt", &self.pem()),
            cert_file: write(dir, &format!("{stem}.crt"), &id.cert_pem),
            key_file: write(dir, &format!("{stem}.key"), &id.key_pem),
        }
    }

    /// Client TLS from memory trusting this CA, presenting `id` if any.
    pub fn client_tls(&self, id: Option<&Identity>) -> ClientTls {
        ClientTls {
            ca: Some(Pem::inline(self.pem())),
            identity: id.map(|i| {
                (
                    Pem::inline(i.cert_pem.as_str()),
                    Pem::inline(i.key_pem.as_str()),
                )
            }),
            skip_verify: false,
        }
    }
}

impl TlsFiles {
    /// Client TLS from these files.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls::from_files(&self.ca_file, &self.cert_file, &self.key_file)
    }
}

/// Writes `body` to `dir/name`; returns the path as configs take it.
pub fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}
