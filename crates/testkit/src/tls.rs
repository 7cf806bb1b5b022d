//! A throwaway certificate authority for TLS tests: a CA and leaf
//! certificates it signs, written as PEM files into a temporary directory.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::PathBuf;

pub struct TestCa {
    pub dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    key: KeyPair,
    /// The CA certificate's file.
    pub ca_file: String,
}

/// A signed leaf: its certificate and key files.
pub struct Leaf {
    pub cert_file: String,
    pub key_file: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "diego-test-ca");
        let key = KeyPair::generate().expect("key");
        let ca = p.self_signed(&key).expect("self-signed");
        let ca_file = write(dir.path().join("ca.crt"), &ca.pem());
        TestCa {
            dir,
            ca,
            key,
            ca_file,
        }
    }

    /// A certificate for `name` (also its subject alternative names:
    /// `127.0.0.1`, `localhost`, ...) signed by the CA.
    pub fn leaf(&self, name: &str, sans: &[&str]) -> Leaf {
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.ca, &self.key).expect("signed");
        Leaf {
            cert_file: write(self.dir.path().join(format!("{name}.crt")), &cert.pem()),
            key_file: write(
                self.dir.path().join(format!("{name}.key")),
                &key.serialize_pem(),
            ),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

fn write(path: PathBuf, content: &str) -> String {
    std::fs::write(&path, content).expect("write PEM");
    path.display().to_string()
}
