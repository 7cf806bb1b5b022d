//! mTLS as Diego's bbs: a client without a certificate is refused, one
//! with a certificate from the configured CA is served.

mod api_support;

use api_support::*;
use bbs::server::Overrides;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

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

fn client(ca_pem: &str, identity: Option<&(String, String)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn ping(c: &reqwest::Client, url: &str) -> Result<models::PingResponse, reqwest::Error> {
    let resp = c
        .post(format!("{url}/v1/ping"))
        .header("Content-Type", "application/x-protobuf")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await?;
    Ok(models::PingResponse::decode(body.as_ref()).unwrap())
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
    let good = client(&pki.ca_pem, Some(&pki.client));
    assert!(ping(&good, &url).await.unwrap().available);

    // Without a client certificate: the handshake is refused.
    let anonymous = client(&pki.ca_pem, None);
    assert!(ping(&anonymous, &url).await.is_err());

    // With a certificate from another CA: refused.
    let rogue = client(&pki.ca_pem, Some(&pki.rogue_client));
    assert!(ping(&rogue, &url).await.is_err());

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
    assert!(ping(&good, &url).await.unwrap().available);
}
