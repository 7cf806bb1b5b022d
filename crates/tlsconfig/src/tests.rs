use super::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

/// (certificate PEM, key PEM) signed by `ca`.
fn leaf(ca: &Ca, name: &str) -> (Pem, Pem) {
    let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (Pem::inline(cert.pem()), Pem::inline(key.serialize_pem()))
}

fn ca_pem(ca: &Ca) -> Pem {
    Pem::inline(ca.cert.pem())
}

/// Runs a handshake in memory; Err carries the first side's error.
fn handshake(
    server: rustls::ServerConfig,
    client: rustls::ClientConfig,
    name: &str,
) -> Result<ServerConnection, rustls::Error> {
    let mut s = ServerConnection::new(Arc::new(server))?;
    let mut c = ClientConnection::new(
        Arc::new(client),
        ServerName::try_from(name.to_string()).unwrap(),
    )?;
    for _ in 0..20 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
        }
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() {
            return Ok(s);
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn mutual_tls_serves_a_client_the_ca_signed() {
    let ca = ca("diego-ca");
    let (cert, key) = leaf(&ca, "bbs.service.cf.internal");
    let server = server_config(Identity::load(&cert, &key).unwrap(), Some(&ca_pem(&ca))).unwrap();
    let client = ClientTls {
        ca: Some(ca_pem(&ca)),
        identity: Some(leaf(&ca, "rep")),
        skip_verify: false,
    };
    let s = handshake(
        server,
        client.client_config().unwrap(),
        "bbs.service.cf.internal",
    )
    .unwrap();
    let presented = s.peer_certificates().unwrap();
    assert_eq!(presented.len(), 1, "the client presented its certificate");
}

#[test]
fn mutual_tls_refuses_clients_without_or_with_a_foreign_certificate() {
    let ca_ = ca("diego-ca");
    let rogue = ca("rogue-ca");
    let (cert, key) = leaf(&ca_, "bbs");
    let server =
        || server_config(Identity::load(&cert, &key).unwrap(), Some(&ca_pem(&ca_))).unwrap();
    let anonymous = ClientTls {
        ca: Some(ca_pem(&ca_)),
        ..Default::default()
    };
    assert!(handshake(server(), anonymous.client_config().unwrap(), "bbs").is_err());
    let foreign = ClientTls {
        ca: Some(ca_pem(&ca_)),
        identity: Some(leaf(&rogue, "rogue")),
        skip_verify: false,
    };
    assert!(handshake(server(), foreign.client_config().unwrap(), "bbs").is_err());
}

#[test]
fn a_client_checks_the_server_unless_told_to_skip() {
    let ca_ = ca("diego-ca");
    let other = ca("other-ca");
    let (cert, key) = leaf(&other, "bbs");
    let server = || server_config(Identity::load(&cert, &key).unwrap(), None).unwrap();
    let verifying = ClientTls {
        ca: Some(ca_pem(&ca_)),
        ..Default::default()
    };
    assert!(handshake(server(), verifying.client_config().unwrap(), "bbs").is_err());
    let skipping = ClientTls {
        skip_verify: true,
        identity: Some(leaf(&ca_, "cfdot")),
        ..Default::default()
    };
    let s = handshake(server(), skipping.client_config().unwrap(), "bbs").unwrap();
    assert!(
        s.peer_certificates().is_none(),
        "server asked for no certificate"
    );
}

#[test]
fn files_and_memory_read_the_same() {
    let ca = ca("diego-ca");
    let (cert, key) = leaf(&ca, "rep");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &Pem| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem.read().unwrap()).unwrap();
        path.display().to_string()
    };
    let (ca_file, cert_file, key_file) = (
        write("ca.crt", &ca_pem(&ca)),
        write("rep.crt", &cert),
        write("rep.key", &key),
    );
    let cfg = mutual_tls_server_config(&ca_file, &cert_file, &key_file).unwrap();
    let client = ClientTls::from_files(&ca_file, &cert_file, &key_file);
    assert!(!client.is_empty());
    handshake(cfg, client.client_config().unwrap(), "rep").unwrap();
    assert_eq!(
        certificates(&Pem::file(&cert_file)).unwrap(),
        certificates(&cert).unwrap()
    );
    assert!(ClientTls::from_files("", "", "").is_empty());
}

#[test]
fn problems_read_as_diegos_tlsconfig_words_them() {
    let missing = Pem::file("/nonexistent/ca.crt");
    assert_eq!(
        certificates(&missing).unwrap_err().to_string(),
        "open /nonexistent/ca.crt: no such file or directory"
    );
    let e = Identity::load(&missing, &missing).unwrap_err().to_string();
    assert_eq!(
        e,
        "failed to load keypair: open /nonexistent/ca.crt: no such file or directory"
    );
    let junk = Pem::inline("not pem at all");
    assert_eq!(
        certificates(&junk).unwrap_err().to_string(),
        "no valid certificates read from PEM in memory"
    );
    assert_eq!(
        private_key(&junk).unwrap_err().to_string(),
        "no private key in PEM in memory"
    );
    assert_eq!(
        Identity::load(&junk, &junk).unwrap_err().to_string(),
        "failed to load keypair: tls: failed to find any PEM data in certificate input"
    );
    // A key's PEM is not a certificate, and the Debug form hides it.
    let ca = ca("diego-ca");
    let (_, key) = leaf(&ca, "x");
    assert!(certificates(&key).is_err());
    assert!(!format!("{key:?}").contains("PRIVATE"));
}

#[test]
fn tls12_offers_only_diegos_two_suites() {
    let p = provider();
    let tls12: Vec<_> = p
        .cipher_suites
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS12)
        .map(|s| s.suite())
        .collect();
    assert_eq!(
        tls12,
        vec![
            rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        ]
    );
}
