//! mTLS as Diego's bbs: a client without a certificate is refused, one
//! with a certificate from the configured CA is served.

mod api_support;

use api_support::*;
use bbs::server::Overrides;
use bbs_client::{ClientConfig, Error, HttpBbsClient};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tlsconfig::Pem;

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
    rogue_client: (String, String),
}

fn leaf(
    name: &str,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
    sans: Vec<String>,
) -> (String, String) {
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (p.self_signed(&key).unwrap(), key)
}

fn pki() -> Pki {
    let (ca_cert, ca_key) = ca("diego-ca");
    let (rogue_ca, rogue_key) = ca("rogue-ca");
    Pki {
        ca_pem: ca_cert.pem(),
        server: leaf(
            "bbs",
            &ca_cert,
            &ca_key,
            vec!["127.0.0.1".into(), "localhost".into()],
        ),
        client: leaf("cfdot", &ca_cert, &ca_key, vec!["client".into()]),
        rogue_client: leaf("rogue", &rogue_ca, &rogue_key, vec!["client".into()]),
    }
}

/// The shared client with TLS material from memory; one attempt per call.
fn client(ca_pem: &str, identity: Option<&(String, String)>, url: &str) -> HttpBbsClient {
    let tls = tlsconfig::ClientTls {
        ca: Some(Pem::inline(ca_pem)),
        identity: identity
            .map(|(cert, key)| (Pem::inline(cert.as_str()), Pem::inline(key.as_str()))),
        skip_verify: false,
    };
    HttpBbsClient::new(&ClientConfig::new(url).with_tls(Some(tls)).with_retries(1)).unwrap()
}

async fn ping(c: &HttpBbsClient) -> Result<models::PingResponse, bbs_client::Error> {
    c.request::<(), models::PingResponse>(&models::bbs_routes::PING, None)
        .await
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    let ca_file = write("ca.crt", &pki.ca_pem);
    let cert_file = write("bbs.crt", &pki.server.0);
    let key_file = write("bbs.key", &pki.server.1);
    let bbs = TestBbs::start_with(
        |c| {
            c.require_ssl = true;
            c.ca_file = ca_file;
            c.cert_file = cert_file;
            c.key_file = key_file;
        },
        Overrides::default(),
    )
    .await;
    let url = format!("https://127.0.0.1:{}", bbs.running.addr.port());

    // With a certificate from the CA: served.
    let good = client(&pki.ca_pem, Some(&pki.client), &url);
    assert!(ping(&good).await.unwrap().available);

    // Without a client certificate: the handshake is refused.
    let anonymous = client(&pki.ca_pem, None, &url);
    assert!(matches!(ping(&anonymous).await, Err(Error::Transport(_))));

    // With a certificate from another CA: refused.
    let rogue = client(&pki.ca_pem, Some(&pki.rogue_client), &url);
    assert!(matches!(ping(&rogue).await, Err(Error::Transport(_))));

    // Plain HTTP to the TLS port: no answer.
    assert!(reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/ping",
            bbs.running.addr.port()
        ))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true));

    // Still serving the good client afterwards.
    assert!(ping(&good).await.unwrap().available);
}
