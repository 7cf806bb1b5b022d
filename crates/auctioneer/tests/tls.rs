//! The auctioneer's API under mutual TLS, as Diego's serves it
//! (`cmd/auctioneer/main.go`: `WithClientAuthenticationFromFile`): a
//! client with a certificate from the CA is answered; no certificate, one
//! another CA signed, an expired one and plain HTTP are all refused.
//! (The BBS reaching it with `auctioneer_require_tls` is testkit's
//! `tls_plane_runs_work`: LRPs get placed through it.)

use testkit::control_plane::ControlPlane;
use testkit::tls::{Identity, TestCa};

/// A reqwest client trusting the plane's CA, presenting `id` if any.
fn client(ca: &TestCa, id: Option<&Identity>) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap());
    let b = match id {
        Some(id) => b.identity(
            reqwest::Identity::from_pem(format!("{}{}", id.cert_pem, id.key_pem).as_bytes())
                .unwrap(),
        ),
        None => b,
    };
    b.build().unwrap()
}

async fn post_tasks(c: &reqwest::Client, url: &str) -> Result<u16, reqwest::Error> {
    Ok(c.post(format!("{url}/v1/tasks"))
        .header("Content-Type", "application/json")
        .body("[]")
        .send()
        .await?
        .status()
        .as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auctioneer_serves_mutual_tls_only() {
    let cp = ControlPlane::builder()
        .tls(true)
        .auctioneer(true)
        .start()
        .await;
    let pki = cp.pki().unwrap();
    let addr = cp.auctioneer().addr;
    let https = format!("https://localhost:{}", addr.port());

    let good = pki.ca.issue("bbs", &["bbs"]);
    assert_eq!(
        post_tasks(&client(&pki.ca, Some(&good)), &https)
            .await
            .unwrap(),
        202
    );

    let refused = |what: &'static str, r: Result<u16, reqwest::Error>| {
        assert!(r.is_err(), "{what}: answered {r:?}");
    };
    refused(
        "no certificate",
        post_tasks(&client(&pki.ca, None), &https).await,
    );
    let rogue = TestCa::new("rogue-ca").issue("bbs", &["bbs"]);
    refused(
        "another CA's certificate",
        post_tasks(&client(&pki.ca, Some(&rogue)), &https).await,
    );
    let expired = pki.ca.issue_expired("bbs", &["bbs"]);
    refused(
        "an expired certificate",
        post_tasks(&client(&pki.ca, Some(&expired)), &https).await,
    );
    refused(
        "plain HTTP",
        post_tasks(&reqwest::Client::new(), &format!("http://{addr}")).await,
    );
    // Still serving after all that.
    assert_eq!(
        post_tasks(&client(&pki.ca, Some(&good)), &https)
            .await
            .unwrap(),
        202
    );
    cp.shutdown().await;
}
