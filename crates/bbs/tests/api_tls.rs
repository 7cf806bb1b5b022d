//! mTLS as Diego's bbs: a client without a certificate is refused, one
//! with a certificate from the configured CA is served.

mod api_support;

use api_support::*;
use bbs_client::{ClientConfig, Error, HttpBbsClient};
use testkit::control_plane::ControlPlane;
use testkit::tls::TestCa;
use tlsconfig::ClientTls;

/// The shared client with `tls`; one attempt per call.
fn client(tls: ClientTls, url: &str) -> HttpBbsClient {
    HttpBbsClient::new(&ClientConfig::new(url).with_tls(Some(tls)).with_retries(1)).unwrap()
}

async fn ping(c: &HttpBbsClient) -> Result<models::PingResponse, bbs_client::Error> {
    c.request::<(), models::PingResponse>(&models::bbs_routes::PING, None)
        .await
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let bbs = TestBbs::from(ControlPlane::builder().tls(true)).await;
    let pki = bbs.control.pki().unwrap();
    let url = format!("https://127.0.0.1:{}", bbs.running().addr.port());
    assert_eq!(url, bbs.base);

    // With a certificate from the CA: served.
    let good = client(pki.client.client_tls(), &url);
    assert!(ping(&good).await.unwrap().available);

    // Without a client certificate: the handshake is refused.
    let anonymous = client(pki.ca.client_tls(None), &url);
    assert!(matches!(ping(&anonymous).await, Err(Error::Transport(_))));

    // With a certificate from another CA: refused.
    let rogue = TestCa::new("rogue-ca").issue("rogue", &["client"]);
    let rogue = client(pki.ca.client_tls(Some(&rogue)), &url);
    assert!(matches!(ping(&rogue).await, Err(Error::Transport(_))));

    // Plain HTTP to the TLS port: no answer.
    assert!(reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/ping",
            bbs.running().addr.port()
        ))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true));

    // Still serving the good client afterwards.
    assert!(ping(&good).await.unwrap().available);
}
